/* frontend/egress_rules.c — the egress network policy (see egress_rules.h). */
#include "frontend/egress_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct special_range {
    const char *cidr;
    const char *rule;         /* the token; "private" etc. get ":<cidr>" appended */
    bool with_cidr;
};

static const struct special_range v4_special[] = {
    { "0.0.0.0/8", "unspecified", false },
    { "10.0.0.0/8", "private", true },
    { "100.64.0.0/10", "cgnat", true },
    { "127.0.0.0/8", "loopback", false },
    { "169.254.0.0/16", "link-local", false },
    { "172.16.0.0/12", "private", true },
    { "192.0.0.0/24", "reserved", true },
    { "192.0.2.0/24", "reserved", true },
    { "192.88.99.0/24", "reserved", true },
    { "192.168.0.0/16", "private", true },
    { "198.18.0.0/15", "reserved", true },
    { "198.51.100.0/24", "reserved", true },
    { "203.0.113.0/24", "reserved", true },
    { "224.0.0.0/4", "multicast", false },
    { "240.0.0.0/4", "reserved", true },
};

static const struct special_range v6_special[] = {
    { "::1/128", "loopback", false },
    { "::/128", "unspecified", false },
    { "64:ff9b:1::/48", "reserved", true },
    { "100::/64", "reserved", true },
    { "2001::/32", "reserved", true },          /* Teredo: an obfuscated IPv4 inside */
    { "2001:db8::/32", "reserved", true },
    { "fc00::/7", "private", true },
    { "fe80::/10", "link-local", false },
    { "fec0::/10", "reserved", true },
    { "ff00::/8", "multicast", false },
};

bool egress_parse_cidr(const char *text, struct egress_cidr *out)
{
    char buf[64];
    if (!text || strlen(text) >= sizeof buf)
        return false;
    memset(out, 0, sizeof *out);
    snprintf(buf, sizeof buf, "%s", text);
    snprintf(out->text, sizeof out->text, "%s", text);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = 0;
        char *end;
        if (!slash[1] || !isdigit((unsigned char)slash[1]))
            return false;
        prefix = strtol(slash + 1, &end, 10);
        if (*end)
            return false;
    }
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        if (prefix < 0)
            prefix = 32;
        if (prefix > 32)
            return false;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        if (prefix < 0)
            prefix = 128;
        if (prefix > 128)
            return false;
    } else {
        return false;
    }
    out->prefix = (unsigned)prefix;
    return true;
}

char *egress_parse_domain(const char *text)
{
    if (!text)
        return NULL;
    if (*text == '.')
        text++;
    size_t len = strlen(text), label = 0;
    if (len == 0 || len > 253)
        return NULL;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i <= len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '.' || ch == 0) {
            if (label == 0 || label > 63) {
                free(out);
                return NULL;
            }
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            label++;
        } else {
            free(out);
            return NULL;
        }
        out[i] = (char)tolower(ch);
    }
    return out;
}

/* The address as bytes; an IPv4-mapped IPv6 address becomes its IPv4 address. */
static int address_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(a, mapped, 12) == 0) {
        memcpy(out, a + 12, 4);
        return AF_INET;
    }
    memcpy(out, a, 16);
    return AF_INET6;
}

static bool prefix_matches(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static bool bytes_in_cidr(int family, const uint8_t *a, const struct egress_cidr *c)
{
    return family == c->family && prefix_matches(a, c->addr, c->prefix);
}

bool egress_cidr_contains(const struct egress_cidr *c, const struct sockaddr *sa)
{
    uint8_t a[16];
    int family = address_bytes(sa, a);
    return family && bytes_in_cidr(family, a, c);
}

bool egress_domain_matches(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (n == 0 || s == 0 || n < s)
        return false;
    if (strcasecmp(name + (n - s), suffix) != 0)
        return false;
    return n == s || name[n - s - 1] == '.';
}

static bool special_in_table(int family, const uint8_t *a, const struct special_range *table, size_t count,
                             char *out, size_t out_len)
{
    for (size_t i = 0; i < count; i++) {
        struct egress_cidr c;
        if (!egress_parse_cidr(table[i].cidr, &c) || !bytes_in_cidr(family, a, &c))
            continue;
        if (table[i].with_cidr)
            snprintf(out, out_len, "%s:%s", table[i].rule, table[i].cidr);
        else
            snprintf(out, out_len, "%s", table[i].rule);
        return true;
    }
    return false;
}

static bool special_v4(const uint8_t a[4], char *out, size_t out_len)
{
    return special_in_table(AF_INET, a, v4_special, sizeof v4_special / sizeof v4_special[0], out, out_len);
}

/* IPv6 forms that carry an IPv4 address: ::a.b.c.d (compatible), 64:ff9b::/96 (NAT64),
 * 2002:AABB:CCDD::/48 (6to4). Writes it to v4 and returns true. */
static bool embedded_v4(const uint8_t a[16], uint8_t v4[4])
{
    static const uint8_t zero12[12] = { 0 };
    static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    if (memcmp(a, zero12, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        memcpy(v4, a + 12, 4);
        return true;
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        return true;
    }
    return false;
}

bool egress_special_class(const struct sockaddr *sa, char *out, size_t out_len)
{
    uint8_t a[16];
    int family = address_bytes(sa, a);
    if (family == AF_INET)
        return special_v4(a, out, out_len);
    if (family != AF_INET6) {
        snprintf(out, out_len, "reserved");
        return true;
    }
    if (special_in_table(AF_INET6, a, v6_special, sizeof v6_special / sizeof v6_special[0], out, out_len))
        return true;
    uint8_t v4[4];
    if (embedded_v4(a, v4)) {
        /* judged by the address inside; an embedded global address is still refused for the
         * compatible form (deprecated, never routed) */
        if (special_v4(v4, out, out_len))
            return true;
        if (a[0] == 0 && a[1] == 0) {
            snprintf(out, out_len, "reserved:::/96");
            return true;
        }
        return false;
    }
    if ((a[0] & 0xe0) != 0x20) {      /* outside 2000::/3, the global unicast space */
        snprintf(out, out_len, "reserved");
        return true;
    }
    return false;
}

bool egress_rules_load_host_addrs(struct egress_rules *r)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (struct ifaddrs *i = ifs; i && r->host_addr_count < EGRESS_MAX_HOST_ADDRS; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        struct egress_cidr *c = &r->host_addrs[r->host_addr_count];
        memset(c, 0, sizeof *c);
        c->family = address_bytes(i->ifa_addr, c->addr);
        c->prefix = c->family == AF_INET ? 32 : 128;
        inet_ntop(c->family, c->addr, c->text, sizeof c->text);
        r->host_addr_count++;
    }
    freeifaddrs(ifs);
    return true;
}

static bool is_host_address(const struct egress_rules *r, const struct sockaddr *sa)
{
    uint8_t a[16];
    int family = address_bytes(sa, a);
    for (size_t i = 0; i < r->host_addr_count; i++)
        if (bytes_in_cidr(family, a, &r->host_addrs[i]))
            return true;
    return false;
}

static const struct egress_cidr *cidr_match(const struct egress_cidr *list, size_t n, const struct sockaddr *sa)
{
    for (size_t i = 0; i < n; i++)
        if (egress_cidr_contains(&list[i], sa))
            return &list[i];
    return NULL;
}

static const char *domain_match(char *const *list, size_t n, const char *host)
{
    for (size_t i = 0; i < n; i++)
        if (egress_domain_matches(host, list[i]))
            return list[i];
    return NULL;
}

bool egress_decide(const struct egress_rules *r, enum egress_mode mode, const char *host,
                   const struct sockaddr *sa, unsigned port, char *rule, size_t rule_len,
                   char *reason, size_t reason_len)
{
    char cls[64] = "";
    bool special = egress_special_class(sa, cls, sizeof cls);
    bool own = is_host_address(r, sa) || strcmp(cls, "loopback") == 0 || strcmp(cls, "unspecified") == 0;
    if (r->silod_port && port == r->silod_port && own) {
        snprintf(rule, rule_len, "silod-port");
        snprintf(reason, reason_len, "silod's own API port is never reachable through egress (agents reach silod "
                                     "through AWS_ENDPOINT_URL_BEDROCK_AGENTCORE)");
        return false;
    }
    const struct egress_cidr *c;
    const char *d;
    if (mode == EGRESS_VPC) {
        if ((c = cidr_match(r->vpc_cidrs, r->vpc_cidr_count, sa))) {
            snprintf(rule, rule_len, "vpc:%s", c->text);
            return true;
        }
        if ((d = domain_match(r->vpc_domains, r->vpc_domain_count, host)) && strcmp(cls, "link-local") != 0) {
            snprintf(rule, rule_len, "vpc-domain:%s", d);
            return true;
        }
        snprintf(rule, rule_len, "vpc");
        snprintf(reason, reason_len, "a VPC runtime reaches only the networks silod's config names for VPC");
        return false;
    }
    if ((c = cidr_match(r->allow_cidrs, r->allow_cidr_count, sa))) {
        snprintf(rule, rule_len, "allow:%s", c->text);
        return true;
    }
    /* a domain allow-list entry never opens the link-local (metadata) range: that needs a CIDR */
    if ((d = domain_match(r->allow_domains, r->allow_domain_count, host)) && strcmp(cls, "link-local") != 0) {
        snprintf(rule, rule_len, "allow-domain:%s", d);
        return true;
    }
    if (special) {
        snprintf(rule, rule_len, "%s", cls);
        snprintf(reason, reason_len, "the address is %s, which a PUBLIC runtime does not reach unless silod's "
                 "config allows it", cls);
        return false;
    }
    if (own) {
        snprintf(rule, rule_len, "host-address");
        snprintf(reason, reason_len, "the address is one of this host's own");
        return false;
    }
    snprintf(rule, rule_len, "public");
    return true;
}

void egress_rules_free(struct egress_rules *r)
{
    for (size_t i = 0; i < r->allow_domain_count; i++)
        free(r->allow_domains[i]);
    for (size_t i = 0; i < r->vpc_domain_count; i++)
        free(r->vpc_domains[i]);
    r->allow_domain_count = r->vpc_domain_count = 0;
}
