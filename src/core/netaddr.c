#include "core/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

enum core_addr_class core_addr_classify_v4(const unsigned char a[4])
{
    if (a[0] == 0)
        return CORE_ADDR_UNSPECIFIED;
    if (a[0] == 10)
        return CORE_ADDR_PRIVATE;
    if (a[0] == 100 && (a[1] & 0xc0) == 64)
        return CORE_ADDR_CGNAT;
    if (a[0] == 127)
        return CORE_ADDR_LOOPBACK;
    if (a[0] == 169 && a[1] == 254)
        return CORE_ADDR_LINK_LOCAL;
    if (a[0] == 172 && (a[1] & 0xf0) == 16)
        return CORE_ADDR_PRIVATE;
    if (a[0] == 192 && a[1] == 168)
        return CORE_ADDR_PRIVATE;
    /* IETF protocol assignments, TEST-NET-1, the old 6to4 relay anycast. */
    if (a[0] == 192 && ((a[1] == 0 && (a[2] == 0 || a[2] == 2)) || (a[1] == 88 && a[2] == 99)))
        return CORE_ADDR_RESERVED;
    /* Benchmarking (198.18/15), TEST-NET-2, TEST-NET-3. */
    if ((a[0] == 198 && ((a[1] & 0xfe) == 18 || (a[1] == 51 && a[2] == 100))) ||
        (a[0] == 203 && a[1] == 0 && a[2] == 113))
        return CORE_ADDR_RESERVED;
    if (a[0] >= 224 && a[0] < 240)
        return CORE_ADDR_MULTICAST;
    if (a[0] >= 240)
        return CORE_ADDR_RESERVED; /* including 255.255.255.255 */
    return CORE_ADDR_PUBLIC;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

enum core_addr_class core_addr_classify_v6(const unsigned char a[16])
{
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};

    if (all_zero(a, 16))
        return CORE_ADDR_UNSPECIFIED;
    if (all_zero(a, 15) && a[15] == 1)
        return CORE_ADDR_LOOPBACK;
    /* Addresses that embed an IPv4 address are judged by it. */
    if (all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
        return core_addr_classify_v4(a + 12); /* ::ffff:a.b.c.d */
    if (memcmp(a, nat64, sizeof nat64) == 0)
        return core_addr_classify_v4(a + 12); /* 64:ff9b::a.b.c.d */
    if (a[0] == 0x20 && a[1] == 0x02)
        return core_addr_classify_v4(a + 2); /* 6to4, 2002:aabb:ccdd:: */
    if (a[0] == 0xff)
        return CORE_ADDR_MULTICAST;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return CORE_ADDR_LINK_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return CORE_ADDR_PRIVATE; /* site-local, deprecated but still routed in places */
    if ((a[0] & 0xfe) == 0xfc)
        return CORE_ADDR_UNIQUE_LOCAL;
    /* 2001::/23 (IETF protocol assignments, Teredo among them), 2001:db8::/32
     * and 3fff::/20 (documentation). */
    if (a[0] == 0x20 && a[1] == 0x01 && ((a[2] & 0xfe) == 0 || (a[2] == 0x0d && a[3] == 0xb8)))
        return CORE_ADDR_RESERVED;
    if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0)
        return CORE_ADDR_RESERVED;
    /* Global unicast is 2000::/3; the rest (::/96, 64:ff9b:1::/48,
     * 100::/64, ...) is not for us to reach. */
    if ((a[0] & 0xe0) != 0x20)
        return CORE_ADDR_RESERVED;
    return CORE_ADDR_PUBLIC;
}

enum core_addr_class core_addr_classify(const struct sockaddr *sa, socklen_t len)
{
    if (!sa || len < (socklen_t)sizeof sa->sa_family)
        return CORE_ADDR_INVALID;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return core_addr_classify_v4((const unsigned char *)&in.sin_addr.s_addr);
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return core_addr_classify_v6(in6.sin6_addr.s6_addr);
    }
    return CORE_ADDR_INVALID;
}

enum core_addr_class core_addr_classify_text(const char *text, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];

    if (!text)
        return CORE_ADDR_INVALID;
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf || memchr(text, '\0', len))
        return CORE_ADDR_INVALID;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1)
        return core_addr_classify_v4(addr);
    if (inet_pton(AF_INET6, buf, addr) == 1)
        return core_addr_classify_v6(addr);
    return CORE_ADDR_INVALID;
}

const char *core_addr_class_name(enum core_addr_class c)
{
    switch (c) {
    case CORE_ADDR_PUBLIC:
        return "public";
    case CORE_ADDR_INVALID:
        return "invalid";
    case CORE_ADDR_UNSPECIFIED:
        return "unspecified";
    case CORE_ADDR_LOOPBACK:
        return "loopback";
    case CORE_ADDR_PRIVATE:
        return "private";
    case CORE_ADDR_CGNAT:
        return "shared (carrier-grade NAT)";
    case CORE_ADDR_LINK_LOCAL:
        return "link-local";
    case CORE_ADDR_UNIQUE_LOCAL:
        return "unique local";
    case CORE_ADDR_MULTICAST:
        return "multicast";
    case CORE_ADDR_RESERVED:
        return "reserved";
    }
    return "invalid";
}

bool core_addr_allowed(enum core_addr_class c, bool allow_private)
{
    if (c == CORE_ADDR_PUBLIC)
        return true;
    return allow_private && c != CORE_ADDR_INVALID;
}

static void say(char *why, size_t why_size, const char *text)
{
    if (why && why_size > 0)
        snprintf(why, why_size, "%s", text);
}

/* "localhost" and names under it resolve to loopback by rule (RFC 6761). */
static bool is_localhost(const char *host)
{
    size_t n = strlen(host);

    return strcmp(host, "localhost") == 0 || (n > 10 && strcmp(host + n - 10, ".localhost") == 0);
}

/* The part of `u` or NULL; the caller frees it with curl_free. */
static char *part(CURLU *u, CURLUPart what, unsigned int flags)
{
    char *v = NULL;

    if (curl_url_get(u, what, &v, flags) != CURLUE_OK)
        return NULL;
    return v;
}

/*
 * The host as libcurl read it, made comparable: brackets and one trailing
 * dot removed, lower case. -1 when empty or too long.
 */
static int clean_host(const char *raw, char *out, size_t out_size)
{
    size_t n = strlen(raw);

    if (n >= 2 && raw[0] == '[' && raw[n - 1] == ']') {
        raw++;
        n -= 2;
    }
    if (n > 0 && raw[n - 1] == '.')
        n--;
    if (n == 0 || n >= out_size)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[n] = '\0';
    return 0;
}

int core_webhook_url_check(const char *url, size_t len, bool allow_private,
                           struct core_url_info *out, char *why, size_t why_size)
{
    struct core_url_info info;
    char text[CORE_URL_MAX + 1];
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL, *zone = NULL;
    CURLU *u = NULL;
    size_t skip;
    long port_no = 0;
    int rc = -1;

    memset(&info, 0, sizeof info);
    if (out)
        memset(out, 0, sizeof *out);
    if (!url || len == 0) {
        say(why, why_size, "url is required");
        return -1;
    }
    if (len > CORE_URL_MAX) {
        say(why, why_size, "url is longer than 2048 bytes");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= ' ' || c >= 0x7f || c == '\\') {
            say(why, why_size,
                "url must be ASCII without spaces, control characters or backslashes "
                "(percent-encode the rest)");
            return -1;
        }
    }
    /* libcurl reads "http:/host" and "http:///host" as "http://host"; a
     * client who wrote either made a mistake, so it is refused. */
    if (len > 7 && strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else {
        say(why, why_size, "url must start with http:// or https://");
        return -1;
    }
    if (url[skip] == '/') {
        say(why, why_size, "url has no host");
        return -1;
    }
    memcpy(text, url, len);
    text[len] = '\0';

    if (!(u = curl_url()) || curl_url_set(u, CURLUPART_URL, text, 0) != CURLUE_OK) {
        say(why, why_size, "url is not a valid URL");
        goto out;
    }
    user = part(u, CURLUPART_USER, 0);
    password = part(u, CURLUPART_PASSWORD, 0);
    if (user || password) {
        say(why, why_size, "url must not contain a user name or password");
        goto out;
    }
    if ((zone = part(u, CURLUPART_ZONEID, 0))) {
        say(why, why_size, "url must not contain an IPv6 zone id");
        goto out;
    }
    scheme = part(u, CURLUPART_SCHEME, 0);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        say(why, why_size, "url must start with http:// or https://");
        goto out;
    }
    info.https = strcmp(scheme, "https") == 0;
    host = part(u, CURLUPART_HOST, 0);
    if (!host || clean_host(host, info.host, sizeof info.host) != 0) {
        say(why, why_size, "url has no host, or one longer than 255 bytes");
        goto out;
    }
    port = part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    for (const char *p = port; p && *p >= '0' && *p <= '9' && port_no <= 65535; p++)
        port_no = port_no * 10 + (*p - '0');
    if (port_no < 1 || port_no > 65535) {
        say(why, why_size, "url's port must be from 1 to 65535");
        goto out;
    }
    info.port = (int)port_no;

    info.host_class = core_addr_classify_text(info.host, strlen(info.host));
    info.host_is_ip = info.host_class != CORE_ADDR_INVALID;
    if (!info.host_is_ip)
        info.host_class = is_localhost(info.host) ? CORE_ADDR_LOOPBACK : CORE_ADDR_PUBLIC;
    if (!core_addr_allowed(info.host_class, allow_private)) {
        if (why && why_size > 0)
            snprintf(why, why_size, "url's host is a %s address, which webhooks may not reach",
                     core_addr_class_name(info.host_class));
        goto out;
    }
    if (out)
        *out = info;
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(password);
    curl_free(zone);
    curl_url_cleanup(u);
    return rc;
}
