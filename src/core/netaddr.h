/*
 * Where may bookd send a webhook? Classifies IP addresses, and checks a
 * webhook URL, so that an organization cannot make bookd call hosts on
 * its own network (server-side request forgery).
 *
 * Two checks use this: when an endpoint is created, on the URL's host if it
 * is an IP literal (core_webhook_url_check), and when the worker connects,
 * on the address the name resolved to (core_addr_classify on the sockaddr
 * libcurl is about to connect to), which also defeats DNS rebinding. Both
 * let private addresses through when the operator sets
 * BOOKD_WEBHOOK_ALLOW_PRIVATE=true (the tests' receivers are on 127.0.0.1).
 *
 * Pure functions: no resolving, no I/O, nothing allocated that the caller
 * must free.
 */
#ifndef BOOKD_CORE_NETADDR_H
#define BOOKD_CORE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum core_addr_class {
    CORE_ADDR_PUBLIC = 0,   /* globally routable unicast */
    CORE_ADDR_INVALID,      /* not an IPv4 or IPv6 address */
    CORE_ADDR_UNSPECIFIED,  /* 0.0.0.0/8, :: */
    CORE_ADDR_LOOPBACK,     /* 127.0.0.0/8, ::1 */
    CORE_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, fec0::/10 (site-local) */
    CORE_ADDR_CGNAT,        /* 100.64.0.0/10, carrier-grade NAT */
    CORE_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
    CORE_ADDR_UNIQUE_LOCAL, /* fc00::/7 */
    CORE_ADDR_MULTICAST,    /* 224.0.0.0/4, ff00::/8 */
    CORE_ADDR_RESERVED,     /* everything else not routable: 192.0.0/24, documentation
                               and benchmarking ranges, 240/4 and broadcast, 64:ff9b:1::/48,
                               100::/64, 2001::/23, 2001:db8::/32, 3fff::/20, the rest of
                               ::/96, anything outside 2000::/3 */
};

/*
 * IPv6 addresses that carry an IPv4 address are judged by it: IPv4-mapped
 * (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16). So
 * ::ffff:127.0.0.1 is loopback and 2002:c0a8:0101:: is private.
 */
enum core_addr_class core_addr_classify_v4(const unsigned char addr[4]);
enum core_addr_class core_addr_classify_v6(const unsigned char addr[16]);

/* An AF_INET or AF_INET6 socket address of `len` bytes; anything else is
 * CORE_ADDR_INVALID. */
enum core_addr_class core_addr_classify(const struct sockaddr *sa, socklen_t len);

/*
 * An address in text: dotted-quad IPv4 (exactly four decimal parts, as
 * inet_pton reads them) or IPv6, optionally in brackets. No zone id, no
 * port. Anything else, a host name included, is CORE_ADDR_INVALID.
 */
enum core_addr_class core_addr_classify_text(const char *text, size_t len);

/* "public", "loopback", "private", ...; static. */
const char *core_addr_class_name(enum core_addr_class c);

/* May a webhook go to an address of this class? Public always; any other
 * real address only when `allow_private`; an invalid one never. */
bool core_addr_allowed(enum core_addr_class c, bool allow_private);

#define CORE_URL_MAX 2048
#define CORE_URL_HOST_MAX 256

struct core_url_info {
    bool https;                      /* else http */
    char host[CORE_URL_HOST_MAX];    /* lower-case, without brackets or a trailing dot */
    bool host_is_ip;                 /* an address literal (any IPv4 form libcurl reads) */
    enum core_addr_class host_class; /* when host_is_ip; else CORE_ADDR_PUBLIC for a name
                                        not yet resolved, or CORE_ADDR_LOOPBACK for
                                        "localhost" and names under .localhost */
    int port;                        /* given or the scheme's default */
};

/*
 * A webhook endpoint's URL, checked at creation: at most CORE_URL_MAX
 * bytes, no control characters, spaces or backslashes; "http://" or
 * "https://" (scheme in either case) and a host; no user name or password;
 * no IPv6 zone id; a port from 1 to 65535. The URL is parsed with libcurl's
 * URL API, so it is read as the worker will send it (127.1, 0x7f000001 and
 * 2130706433 are all 127.0.0.1). A host that is an address, or localhost,
 * must pass core_addr_allowed(class, allow_private). A host name is not
 * resolved here: the worker checks the address it connects to.
 *
 * Returns 0 with `out` filled (it may be NULL), or -1 with a sentence for
 * the client in `why` (may be NULL).
 */
int core_webhook_url_check(const char *url, size_t len, bool allow_private,
                           struct core_url_info *out, char *why, size_t why_size);

#endif
