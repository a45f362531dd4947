/*
 * The files of web/ (docs/web.md): the pages and what they load. They are
 * compiled into the binary (scripts/embed_web.sh), so a running bookd
 * serves the pages of its own release and needs nothing on disk. For work
 * on the pages, BOOKD_WEB_DIR names a directory to read them from instead,
 * at every request.
 */
#ifndef BOOKD_HTTP_ASSETS_H
#define BOOKD_HTTP_ASSETS_H

#include <stddef.h>

struct http_asset {
    const char *name;          /* "book.html": a flat name, [a-z0-9][a-z0-9._-]* */
    const unsigned char *data; /* NUL-terminated */
    size_t len;
    const char *etag; /* quoted; "" for a file read from disk */
};

/* The table scripts/embed_web.sh generates. */
extern const struct http_asset http_assets_embedded[];
extern const int http_assets_embedded_count;

/* The largest file read from BOOKD_WEB_DIR. */
#define HTTP_ASSET_MAX (4u << 20)

/*
 * The file `name` into *out: the binary's copy, or with `dir` (not NULL)
 * the file of that directory, read into *owned (the caller frees it; NULL
 * for an embedded file). 0, or -1 when there is no such file.
 */
int http_asset_get(const char *dir, const char *name, struct http_asset *out, char **owned);

/* The Content-Type for a file name, by its extension. */
const char *http_asset_type(const char *name);

#endif
