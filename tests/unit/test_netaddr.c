/* Address classes and the webhook URL check (src/core/netaddr.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "core/netaddr.h"

static enum core_addr_class text_class(const char *s)
{
    return core_addr_classify_text(s, strlen(s));
}

struct case_ {
    const char *addr;
    enum core_addr_class want;
};

static void check_all(const struct case_ *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(text_class(cases[i].addr), cases[i].want, "%s: %s, not %s", cases[i].addr,
                     core_addr_class_name(text_class(cases[i].addr)),
                     core_addr_class_name(cases[i].want));
}

#define CHECK_ALL(cases) check_all(cases, sizeof cases / sizeof cases[0])

Test(netaddr, ipv4_ranges_and_their_edges)
{
    static const struct case_ cases[] = {
        {"0.0.0.0", CORE_ADDR_UNSPECIFIED},
        {"0.1.2.3", CORE_ADDR_UNSPECIFIED},
        {"1.1.1.1", CORE_ADDR_PUBLIC},
        {"8.8.8.8", CORE_ADDR_PUBLIC},
        {"9.255.255.255", CORE_ADDR_PUBLIC},
        {"10.0.0.0", CORE_ADDR_PRIVATE},
        {"10.255.255.255", CORE_ADDR_PRIVATE},
        {"11.0.0.0", CORE_ADDR_PUBLIC},
        {"100.63.255.255", CORE_ADDR_PUBLIC},
        {"100.64.0.0", CORE_ADDR_CGNAT},
        {"100.127.255.255", CORE_ADDR_CGNAT},
        {"100.128.0.0", CORE_ADDR_PUBLIC},
        {"126.255.255.255", CORE_ADDR_PUBLIC},
        {"127.0.0.1", CORE_ADDR_LOOPBACK},
        {"127.255.255.254", CORE_ADDR_LOOPBACK},
        {"128.0.0.0", CORE_ADDR_PUBLIC},
        {"169.253.255.255", CORE_ADDR_PUBLIC},
        {"169.254.0.0", CORE_ADDR_LINK_LOCAL},
        {"169.254.169.254", CORE_ADDR_LINK_LOCAL}, /* cloud metadata */
        {"169.255.0.0", CORE_ADDR_PUBLIC},
        {"172.15.255.255", CORE_ADDR_PUBLIC},
        {"172.16.0.0", CORE_ADDR_PRIVATE},
        {"172.31.255.255", CORE_ADDR_PRIVATE},
        {"172.32.0.0", CORE_ADDR_PUBLIC},
        {"192.0.0.1", CORE_ADDR_RESERVED},
        {"192.0.1.1", CORE_ADDR_PUBLIC},
        {"192.0.2.1", CORE_ADDR_RESERVED},
        {"192.88.99.1", CORE_ADDR_RESERVED},
        {"192.167.255.255", CORE_ADDR_PUBLIC},
        {"192.168.0.0", CORE_ADDR_PRIVATE},
        {"192.168.255.255", CORE_ADDR_PRIVATE},
        {"192.169.0.0", CORE_ADDR_PUBLIC},
        {"198.17.255.255", CORE_ADDR_PUBLIC},
        {"198.18.0.0", CORE_ADDR_RESERVED},
        {"198.19.255.255", CORE_ADDR_RESERVED},
        {"198.20.0.0", CORE_ADDR_PUBLIC},
        {"198.51.100.7", CORE_ADDR_RESERVED},
        {"203.0.113.9", CORE_ADDR_RESERVED},
        {"203.0.114.9", CORE_ADDR_PUBLIC},
        {"223.255.255.255", CORE_ADDR_PUBLIC},
        {"224.0.0.1", CORE_ADDR_MULTICAST},
        {"239.255.255.255", CORE_ADDR_MULTICAST},
        {"240.0.0.1", CORE_ADDR_RESERVED},
        {"255.255.255.255", CORE_ADDR_RESERVED},
    };
    CHECK_ALL(cases);
}

Test(netaddr, ipv6_ranges_and_embedded_ipv4)
{
    static const struct case_ cases[] = {
        {"::", CORE_ADDR_UNSPECIFIED},
        {"::1", CORE_ADDR_LOOPBACK},
        {"[::1]", CORE_ADDR_LOOPBACK},
        {"::2", CORE_ADDR_RESERVED},
        {"::8.8.8.8", CORE_ADDR_RESERVED}, /* IPv4-compatible, deprecated */
        {"::ffff:127.0.0.1", CORE_ADDR_LOOPBACK},
        {"::ffff:7f00:1", CORE_ADDR_LOOPBACK},
        {"::ffff:10.1.2.3", CORE_ADDR_PRIVATE},
        {"::ffff:169.254.169.254", CORE_ADDR_LINK_LOCAL},
        {"::ffff:100.64.0.1", CORE_ADDR_CGNAT},
        {"::ffff:0.0.0.0", CORE_ADDR_UNSPECIFIED},
        {"::ffff:8.8.8.8", CORE_ADDR_PUBLIC},
        {"::ffff:0:8.8.8.8", CORE_ADDR_RESERVED},
        {"64:ff9b::a00:1", CORE_ADDR_PRIVATE},
        {"64:ff9b::7f00:1", CORE_ADDR_LOOPBACK},
        {"64:ff9b::808:808", CORE_ADDR_PUBLIC},
        {"64:ff9b:1::1", CORE_ADDR_RESERVED},
        {"100::1", CORE_ADDR_RESERVED},
        {"2002:c0a8:101::1", CORE_ADDR_PRIVATE},
        {"2002:7f00:1::", CORE_ADDR_LOOPBACK},
        {"2002:808:808::1", CORE_ADDR_PUBLIC},
        {"2001::1", CORE_ADDR_RESERVED}, /* Teredo */
        {"2001:1ff:ffff::1", CORE_ADDR_RESERVED},
        {"2001:200::1", CORE_ADDR_PUBLIC},
        {"2001:db8::1", CORE_ADDR_RESERVED},
        {"2001:db9::1", CORE_ADDR_PUBLIC},
        {"2606:4700:4700::1111", CORE_ADDR_PUBLIC},
        {"2a00:1450:4001:81b::200e", CORE_ADDR_PUBLIC},
        {"3fff::1", CORE_ADDR_RESERVED},
        {"3fff:fff:ffff::1", CORE_ADDR_RESERVED},
        {"3fff:1000::1", CORE_ADDR_PUBLIC},
        {"1fff::1", CORE_ADDR_RESERVED},
        {"4000::1", CORE_ADDR_RESERVED},
        {"fbff::1", CORE_ADDR_RESERVED},
        {"fc00::1", CORE_ADDR_UNIQUE_LOCAL},
        {"fd12:3456:789a::1", CORE_ADDR_UNIQUE_LOCAL},
        {"fdff:ffff::1", CORE_ADDR_UNIQUE_LOCAL},
        {"fe80::1", CORE_ADDR_LINK_LOCAL},
        {"febf:ffff::1", CORE_ADDR_LINK_LOCAL},
        {"fec0::1", CORE_ADDR_PRIVATE},
        {"feff::1", CORE_ADDR_PRIVATE},
        {"ff02::1", CORE_ADDR_MULTICAST},
        {"ff0e::101", CORE_ADDR_MULTICAST},
    };
    CHECK_ALL(cases);
}

Test(netaddr, text_that_is_not_one_address_is_invalid)
{
    static const struct case_ cases[] = {
        {"", CORE_ADDR_INVALID},
        {"localhost", CORE_ADDR_INVALID},
        {"example.com", CORE_ADDR_INVALID},
        {"127.1", CORE_ADDR_INVALID},
        {"0x7f000001", CORE_ADDR_INVALID},
        {"2130706433", CORE_ADDR_INVALID},
        {"01.2.3.4", CORE_ADDR_INVALID},
        {"1.2.3.4.5", CORE_ADDR_INVALID},
        {"256.1.1.1", CORE_ADDR_INVALID},
        {" 1.2.3.4", CORE_ADDR_INVALID},
        {"1.2.3.4:80", CORE_ADDR_INVALID},
        {"fe80::1%eth0", CORE_ADDR_INVALID},
        {"[::1", CORE_ADDR_INVALID},
        {"::1]", CORE_ADDR_INVALID},
        {"[]", CORE_ADDR_INVALID},
        {"[1.2.3.4]", CORE_ADDR_PUBLIC}, /* brackets are taken off, whatever is inside */
        {"1:2:3:4:5:6:7:8:9", CORE_ADDR_INVALID},
        {"1111:2222:3333:4444:5555:6666:255.255.255.255:1", CORE_ADDR_INVALID},
    };
    CHECK_ALL(cases);
    /* The length bounds the read; a NUL inside it is not part of an address. */
    cr_assert_eq(core_addr_classify_text("127.0.0.1", 9), CORE_ADDR_LOOPBACK);
    cr_assert_eq(core_addr_classify_text("127.0.0.1x", 9), CORE_ADDR_LOOPBACK);
    cr_assert_eq(core_addr_classify_text("127.0.0.1\0", 10), CORE_ADDR_INVALID);
    cr_assert_eq(core_addr_classify_text(NULL, 3), CORE_ADDR_INVALID);
    char big[200];
    memset(big, '1', sizeof big);
    cr_assert_eq(core_addr_classify_text(big, sizeof big), CORE_ADDR_INVALID);
}

Test(netaddr, socket_addresses_are_classified_as_connect_would_use_them)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
    struct sockaddr_un un;

    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons(443);
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in, sizeof in), CORE_ADDR_LOOPBACK);
    inet_pton(AF_INET, "93.184.216.34", &in.sin_addr);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in, sizeof in), CORE_ADDR_PUBLIC);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in, sizeof in - 1), CORE_ADDR_INVALID);

    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:192.168.1.1", &in6.sin6_addr);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in6, sizeof in6), CORE_ADDR_PRIVATE);
    inet_pton(AF_INET6, "2606:4700:4700::1111", &in6.sin6_addr);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in6, sizeof in6), CORE_ADDR_PUBLIC);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in6, sizeof in), CORE_ADDR_INVALID);

    /* In a sockaddr_storage, as getaddrinfo and libcurl hand them over. */
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, &in6, sizeof in6);
    inet_pton(AF_INET6, "fe80::1", &((struct sockaddr_in6 *)&ss)->sin6_addr);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&ss, sizeof ss), CORE_ADDR_LINK_LOCAL);

    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    cr_assert_eq(core_addr_classify((struct sockaddr *)&un, sizeof un), CORE_ADDR_INVALID);
    cr_assert_eq(core_addr_classify(NULL, sizeof in), CORE_ADDR_INVALID);
    cr_assert_eq(core_addr_classify((struct sockaddr *)&in, 1), CORE_ADDR_INVALID);
}

Test(netaddr, only_public_addresses_are_allowed_unless_the_operator_says_so)
{
    for (int c = CORE_ADDR_PUBLIC; c <= CORE_ADDR_RESERVED; c++) {
        enum core_addr_class k = (enum core_addr_class)c;
        cr_assert_eq(core_addr_allowed(k, false), k == CORE_ADDR_PUBLIC, "%s",
                     core_addr_class_name(k));
        cr_assert_eq(core_addr_allowed(k, true), k != CORE_ADDR_INVALID, "%s",
                     core_addr_class_name(k));
        cr_assert_str_neq(core_addr_class_name(k), "");
    }
    cr_assert_str_eq(core_addr_class_name(CORE_ADDR_LOOPBACK), "loopback");
    cr_assert_str_eq(core_addr_class_name((enum core_addr_class)99), "invalid");
}

static int url_check(const char *url, bool allow_private, struct core_url_info *info, char *why)
{
    return core_webhook_url_check(url, strlen(url), allow_private, info, why, 160);
}

Test(netaddr, webhook_urls_to_public_hosts_are_accepted)
{
    struct core_url_info info;
    char why[160] = "";

    cr_assert_eq(url_check("https://example.com/hooks/bookd", false, &info, why), 0, "%s", why);
    cr_assert(info.https);
    cr_assert_str_eq(info.host, "example.com");
    cr_assert_not(info.host_is_ip);
    cr_assert_eq(info.host_class, CORE_ADDR_PUBLIC);
    cr_assert_eq(info.port, 443);

    cr_assert_eq(url_check("http://Hooks.Example.COM.:8080/x?y=1&z=%20#frag", false, &info, why), 0,
                 "%s", why);
    cr_assert_not(info.https);
    cr_assert_str_eq(info.host, "hooks.example.com");
    cr_assert_eq(info.port, 8080);

    cr_assert_eq(url_check("HTTPS://93.184.216.34/", false, &info, why), 0, "%s", why);
    cr_assert(info.https);
    cr_assert(info.host_is_ip);
    cr_assert_eq(info.host_class, CORE_ADDR_PUBLIC);

    cr_assert_eq(url_check("https://[2606:4700:4700::1111]:8443/", false, &info, why), 0, "%s",
                 why);
    cr_assert_str_eq(info.host, "2606:4700:4700::1111");
    cr_assert(info.host_is_ip);
    cr_assert_eq(info.port, 8443);

    /* Names that merely contain "localhost" are names like any other. */
    cr_assert_eq(url_check("https://localhost.example.com/", false, &info, why), 0, "%s", why);
    cr_assert_eq(url_check("https://notlocalhost/", false, &info, why), 0, "%s", why);
    cr_assert_eq(url_check("https://example.com:65535", false, NULL, why), 0, "%s", why);
}

Test(netaddr, webhook_urls_to_private_hosts_are_refused_in_every_spelling)
{
    static const char *const urls[] = {
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/hook",
        "http://127.1/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://017700000001/",
        "http://%31%32%37.0.0.1/",
        "http://127.0.0.1./",
        "http://0/",
        "http://0.0.0.0:80/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost:3000/",
    };
    struct core_url_info info;
    char why[160];

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        why[0] = '\0';
        cr_assert_eq(url_check(urls[i], false, &info, why), -1, "%s accepted", urls[i]);
        cr_assert(strstr(why, "which webhooks may not reach"), "%s: %s", urls[i], why);
        /* The operator may allow them (bookd's own tests do). */
        cr_assert_eq(url_check(urls[i], true, &info, why), 0, "%s: %s", urls[i], why);
        cr_assert_neq(info.host_class, CORE_ADDR_PUBLIC, "%s", urls[i]);
    }
    cr_assert_eq(url_check("http://127.1:9000/x", true, &info, why), 0);
    cr_assert_str_eq(info.host, "127.0.0.1");
    cr_assert(info.host_is_ip);
    cr_assert_eq(info.host_class, CORE_ADDR_LOOPBACK);
    cr_assert_eq(url_check("http://localhost:3000/", true, &info, why), 0);
    cr_assert_not(info.host_is_ip);
    cr_assert_eq(info.host_class, CORE_ADDR_LOOPBACK);
    url_check("http://192.168.1.1/", false, &info, why);
    cr_assert_str_eq(why, "url's host is a private address, which webhooks may not reach");
}

Test(netaddr, malformed_webhook_urls_are_refused_with_a_reason)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"", "url is required"},
        {"ftp://example.com/", "url must start with http:// or https://"},
        {"example.com/hook", "url must start with http:// or https://"},
        {"//example.com/hook", "url must start with http:// or https://"},
        {"http:/example.com", "url must start with http:// or https://"},
        {"http:example.com", "url must start with http:// or https://"},
        {"javascript:alert(1)", "url must start with http:// or https://"},
        {"http://", "url must start with http:// or https://"},
        {"http:///example.com", "url has no host"},
        {"https://user@example.com/", "url must not contain a user name or password"},
        {"https://user:pw@example.com/", "url must not contain a user name or password"},
        {"https://:pw@example.com/", "url must not contain a user name or password"},
        {"https://@example.com/", "url must not contain a user name or password"},
        {"http://[fe80::1%25eth0]/", "url must not contain an IPv6 zone id"},
        {"http://example.com:0/", "url's port must be from 1 to 65535"},
        {"http://example.com:99999/", "url is not a valid URL"},
        {"http://exa%2Fmple.com/", "url is not a valid URL"},
        {"http://[::1/", "url is not a valid URL"},
    };
    static const char *const unprintable[] = {
        "http://exa mple.com/",       "http://example.com/\n",
        "http://example.com/\t",      "http://example.com\\@evil.example/",
        "http://ex\xc3\xa4mple.com/", "http://example.com/\x7f",
    };
    char why[160];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        cr_assert_eq(url_check(bad[i].url, true, NULL, why), -1, "%s accepted", bad[i].url);
        cr_assert_str_eq(why, bad[i].why, "%s", bad[i].url);
    }
    for (size_t i = 0; i < sizeof unprintable / sizeof unprintable[0]; i++) {
        cr_assert_eq(url_check(unprintable[i], true, NULL, why), -1, "%s accepted", unprintable[i]);
        cr_assert(strstr(why, "must be ASCII"), "%s", why);
    }
    cr_assert_eq(core_webhook_url_check("https://example.com/\0x", 21, true, NULL, why, sizeof why),
                 -1);
    cr_assert_eq(core_webhook_url_check(NULL, 5, true, NULL, why, sizeof why), -1);
    cr_assert_eq(core_webhook_url_check("http://x", 8, true, NULL, NULL, 0), 0);
}

Test(netaddr, webhook_urls_are_capped_at_2048_bytes)
{
    static char url[2100];
    struct core_url_info info;
    char why[160];
    size_t base = strlen("https://example.com/");

    memcpy(url, "https://example.com/", base);
    memset(url + base, 'a', 2048 - base);
    url[2048] = '\0';
    cr_assert_eq(url_check(url, false, &info, why), 0, "%s", why);
    url[2048] = 'a';
    url[2049] = '\0';
    cr_assert_eq(url_check(url, false, &info, why), -1);
    cr_assert_str_eq(why, "url is longer than 2048 bytes");

    /* A host over 255 bytes. */
    memcpy(url, "https://", 8);
    memset(url + 8, 'a', 300);
    memcpy(url + 308, ".com/", 6);
    cr_assert_eq(url_check(url, false, &info, why), -1);
}
