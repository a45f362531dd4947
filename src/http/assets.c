#include "http/assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only flat names of the generator's alphabet: no path can leave `dir`. */
static int valid_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 63 || name[0] == '.' || name[0] == '-' || name[0] == '_')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int read_file(const char *dir, const char *name, struct http_asset *out, char **owned)
{
    char path[4096];
    FILE *f;
    char *buf = NULL;
    size_t len = 0;
    long size;

    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        !(f = fopen(path, "rb")))
        return -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && (size_t)size <= HTTP_ASSET_MAX &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
        len = fread(buf, 1, (size_t)size, f);
        buf[len] = '\0';
    }
    fclose(f);
    if (!buf)
        return -1;
    *owned = buf;
    out->name = name;
    out->data = (const unsigned char *)buf;
    out->len = len;
    out->etag = "";
    return 0;
}

int http_asset_get(const char *dir, const char *name, struct http_asset *out, char **owned)
{
    memset(out, 0, sizeof *out);
    *owned = NULL;
    if (!valid_name(name))
        return -1;
    if (dir && *dir)
        return read_file(dir, name, out, owned);
    for (int i = 0; i < http_assets_embedded_count; i++)
        if (strcmp(http_assets_embedded[i].name, name) == 0) {
            *out = http_assets_embedded[i];
            return 0;
        }
    return -1;
}

const char *http_asset_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}
