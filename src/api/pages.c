/*
 * The web pages (docs/web.md): the booking page, a patient's manage page,
 * the dashboard, and the files they load from /static/. The pages are the
 * files of web/ with the server's config spliced in at one marker; their
 * headers (Content-Security-Policy, framing) are set here.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "app.h"
#include "core/sha256.h"
#include "core/validate.h"
#include "db/orgs.h"
#include "db/query.h"
#include "http/assets.h"
#include "http/auth.h"
#include "http/reply.h"
#include "http/router.h"

#define CSP_BASE                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; form-action 'none'; base-uri 'none'; "
/* The booking and manage pages may sit in an iframe on a clinic's site. */
#define CSP_FRAMEABLE CSP_BASE "frame-ancestors *"
/* The dashboard (and every asset opened on its own) may not be framed. */
#define CSP_UNFRAMED CSP_BASE "frame-ancestors 'none'"

#define CONFIG_MARKER "<!--bookd-config-->"
#define CONFIG_OPEN "<script type=\"application/json\" id=\"bookd-config\">"
#define CONFIG_CLOSE "</script>"

/*
 * The JSON of `config` as it may stand inside a <script> element: '<',
 * '>' and '&' (only ever inside strings, where JSON allows the escape) are
 * written \u003c, \u003e, \u0026, so no text of an organization's name can
 * close the element or open a comment. Appended to `out`.
 */
static void append_config(struct core_json_buf *out, json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);

    if (!text) {
        out->failed = true;
        return;
    }
    for (const char *p = text; *p; p++) {
        const char *esc = *p == '<'   ? "\\u003c"
                          : *p == '>' ? "\\u003e"
                          : *p == '&' ? "\\u0026"
                                      : NULL;
        core_json_buf_raw(out, esc ? esc : p, esc ? 6 : 1);
    }
    free(text);
}

/* Sets the headers every page and asset carries besides the type. */
static void page_headers(struct http_response *resp, bool frameable)
{
    resp->csp = frameable ? CSP_FRAMEABLE : CSP_UNFRAMED;
    resp->deny_framing = !frameable;
}

/*
 * Replies with the page `file` of web/, `config` (stolen; NULL for none)
 * spliced in at its marker, with `status`. A page without the marker is
 * served as it is.
 */
static void reply_page(struct http_request *req, struct http_response *resp, unsigned status,
                       const char *file, json_t *config, bool frameable)
{
    struct http_asset page;
    struct core_json_buf out = {0};
    char *owned = NULL, *text;
    const char *marker;
    size_t head, len = 0;

    if (http_asset_get(req->app->cfg.web_dir, file, &page, &owned) != 0) {
        json_decref(config);
        http_reply_error(resp, 500, "internal", NULL, "The page %s is missing.", file);
        return;
    }
    marker = strstr((const char *)page.data, CONFIG_MARKER);
    head = marker ? (size_t)(marker - (const char *)page.data) : page.len;
    core_json_buf_raw(&out, (const char *)page.data, head);
    if (marker && config) {
        CORE_JSON_BUF_LITERAL(&out, CONFIG_OPEN);
        append_config(&out, config);
        CORE_JSON_BUF_LITERAL(&out, CONFIG_CLOSE);
    }
    if (marker) {
        size_t tail = head + strlen(CONFIG_MARKER);
        core_json_buf_raw(&out, (const char *)page.data + tail, page.len - tail);
    }
    json_decref(config);
    free(owned);
    if (!(text = core_json_buf_take(&out, &len))) {
        http_reply_error(resp, 500, "internal", NULL, "Out of memory.");
        return;
    }
    http_reply_text(resp, status, http_asset_type(file), text, len);
    free(text);
    page_headers(resp, frameable);
}

/*
 * The config of the booking page for `org_id`, or of the manage page for
 * the manage token hash `token_hash`, with the organization's page key
 * (made on the first visit from a fresh candidate). Returns the config,
 * or NULL with *failed when the database could not be asked (NULL without
 * it: no such organization, or a token that does not work).
 */
static json_t *page_config(struct http_request *req, const char *org_id, const char *token_hash,
                           bool *failed)
{
    char key[64], hash[HTTP_MANAGE_HASH_SIZE];
    unsigned char digest[32];
    struct db_result res;
    json_t *config = NULL;

    *failed = true;
    if (http_new_secret("bk_page_", key, sizeof key) != 0)
        return NULL;
    core_sha256(key, strlen(key), digest);
    db_hash_to_bytea(digest, hash);
    if (db_page_config(req->app->pool, org_id, token_hash, key, hash, &config, &res) == 0 &&
        res.outcome == DB_OK)
        *failed = false;
    OPENSSL_cleanse(key, sizeof key);
    db_result_cleanup(&res);
    if (*failed) {
        json_decref(config);
        return NULL;
    }
    return config;
}

/* The page for a database that cannot be asked now: 503, Retry-After. */
static void reply_unavailable_page(struct http_request *req, struct http_response *resp)
{
    reply_page(req, resp, 503, "unavailable.html", NULL, true);
    resp->retry_after = 1;
}

/* GET /book/{ref}: the booking page, or a 404 page for an unknown
 * organization or a malformed id (a mistyped link a patient followed). */
void api_pages_book(struct http_request *req, struct http_response *resp)
{
    char org_id[DB_ID_SIZE];
    bool failed = false;
    json_t *config = NULL;

    if (core_uuid_normalize(req->params[0], strlen(req->params[0]), org_id) == 0)
        config = page_config(req, org_id, NULL, &failed);
    if (failed)
        reply_unavailable_page(req, resp);
    else if (!config)
        reply_page(req, resp, 404, "notfound.html", NULL, true);
    else
        reply_page(req, resp, 200, "book.html", config, true);
}

/*
 * GET /manage/{ref}: the manage page, always 200 for a well-formed
 * token: for one that no longer works the page itself says so
 * (publicKey null), so a patient never meets a bare error. Its config is
 * the booking page's plus the token and the appointment's providerId,
 * serviceId and durationMinutes, for asking free times. A malformed one
 * (a link cut short or run into the text around it) is the 404 page.
 */
void api_pages_manage(struct http_request *req, struct http_response *resp)
{
    char hash[HTTP_MANAGE_HASH_SIZE];
    bool failed;
    json_t *config;

    if (!http_is_manage_token(req->params[0])) {
        reply_page(req, resp, 404, "notfound.html", NULL, true);
        return;
    }
    http_manage_token_hash(req->params[0], hash);
    config = page_config(req, NULL, hash, &failed);
    if (failed) {
        reply_unavailable_page(req, resp);
        return;
    }
    if (!config)
        config = json_pack("{s:n}", "publicKey");
    json_object_set_new(config, "token", json_string(req->params[0]));
    reply_page(req, resp, 200, "manage.html", config, true);
}

/* GET /admin: the dashboard; the admin key is typed in there. */
void api_pages_admin(struct http_request *req, struct http_response *resp)
{
    reply_page(req, resp, 200, "admin.html", json_object(), false);
}

/*
 * Whether an If-None-Match header names `etag` (RFC 9110, 13.1.2: a list
 * of tags compared weakly, or "*").
 */
static bool etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);

    while (header && *header) {
        while (*header == ' ' || *header == '\t' || *header == ',')
            header++;
        if (*header == '*')
            return true;
        if (strncmp(header, "W/", 2) == 0)
            header += 2;
        if (strncmp(header, etag, n) == 0 &&
            (header[n] == '\0' || header[n] == ',' || header[n] == ' ' || header[n] == '\t'))
            return true;
        header = strchr(header, ',');
    }
    return false;
}

/* GET /static/{file}: a file of web/, revalidated by its ETag. */
void api_pages_static(struct http_request *req, struct http_response *resp)
{
    struct http_asset asset;
    char *owned = NULL;
    const char *match = http_header(req, "If-None-Match");

    if (http_asset_get(req->app->cfg.web_dir, req->params[0], &asset, &owned) != 0) {
        http_reply_error(resp, 404, "not_found", NULL, "No such file.");
        return;
    }
    if (asset.etag[0] && etag_matches(match, asset.etag))
        http_reply_empty(resp, 304);
    else
        http_reply_text(resp, 200, http_asset_type(asset.name), (const char *)asset.data,
                        asset.len);
    free(owned);
    resp->etag = asset.etag[0] ? asset.etag : NULL;
    page_headers(resp, false);
}
