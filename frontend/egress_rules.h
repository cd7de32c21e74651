/* frontend/egress_rules.h — who an agent's egress may reach: the network policy, as pure
 * functions (no I/O but the host's own addresses, given to it by the caller).
 *
 * A runtime's networkConfiguration.networkMode picks the mode:
 *   PUBLIC (the default): globally routable addresses only. Refused unless an allow rule names
 *     them: loopback (127/8, ::1), unspecified (0/8, ::), link-local (169.254/16 — the cloud
 *     metadata addresses included — and fe80::/10), private (10/8, 172.16/12, 192.168/16,
 *     fc00::/7), CGNAT (100.64/10), multicast, and the other special-purpose ranges (192.0.0/24,
 *     192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, 240/4, broadcast, 2001:db8::/32, ...),
 *     and the host's own addresses. IPv6 forms that embed an IPv4 address (::ffff:a.b.c.d,
 *     ::a.b.c.d, 64:ff9b::/96 NAT64, 2002::/16 6to4) are judged by the embedded address.
 *   VPC: only what the config names for VPC runtimes (vpc_cidrs, vpc_domains); nothing else.
 * Allow rules: a CIDR containing the address connected to, or a domain suffix matching the
 * requested name on a label boundary ("model.test" matches "model.test" and "api.model.test",
 * never "evilmodel.test"). silod's own API port on any of the host's addresses (or loopback) is
 * never reachable, whatever the rules say: agents reach silod through their own channel.
 *
 * The decision is made on the address actually connected to, after resolution (egress_relay.c
 * connects to exactly the sockaddr it checked), so DNS rebinding gains nothing. */
#ifndef SILO_FRONTEND_EGRESS_RULES_H
#define SILO_FRONTEND_EGRESS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EGRESS_MAX_RULES 64
#define EGRESS_MAX_HOST_ADDRS 64

struct egress_cidr {
    int family;               /* AF_INET or AF_INET6 */
    uint8_t addr[16];         /* network address (4 bytes used for AF_INET) */
    unsigned prefix;
    char text[64];            /* as configured, for log lines */
};

struct egress_rules {
    struct egress_cidr allow_cidrs[EGRESS_MAX_RULES];
    size_t allow_cidr_count;
    char *allow_domains[EGRESS_MAX_RULES];
    size_t allow_domain_count;
    struct egress_cidr vpc_cidrs[EGRESS_MAX_RULES];
    size_t vpc_cidr_count;
    char *vpc_domains[EGRESS_MAX_RULES];
    size_t vpc_domain_count;
    /* the host's own addresses (getifaddrs at start) and silod's API port */
    struct egress_cidr host_addrs[EGRESS_MAX_HOST_ADDRS];
    size_t host_addr_count;
    unsigned silod_port;
};

enum egress_mode { EGRESS_PUBLIC, EGRESS_VPC };

/* "10.0.0.0/8", "fd00::/8", "192.0.2.7" (a /32) → out; false for anything else. */
bool egress_parse_cidr(const char *text, struct egress_cidr *out);
/* a domain suffix: letters, digits, '-', '_', '.', no empty label, ≤253; a leading '.' is
 * dropped. Returns a lower-cased copy (malloc) or NULL. */
char *egress_parse_domain(const char *text);
bool egress_cidr_contains(const struct egress_cidr *c, const struct sockaddr *sa);
/* true when name equals suffix or ends with "." + suffix (case-insensitive) */
bool egress_domain_matches(const char *name, const char *suffix);

/* The special-purpose class of an address, as a rule token ("loopback", "link-local",
 * "private:10.0.0.0/8", "cgnat", "multicast", "reserved:240.0.0.0/4", ...) in out, or false when
 * the address is globally routable. */
bool egress_special_class(const struct sockaddr *sa, char *out, size_t out_len);

/* Adds the host's own addresses (getifaddrs); false when they cannot be read. */
bool egress_rules_load_host_addrs(struct egress_rules *r);

/* The decision for one connection: true = allowed (rule names the allow rule, or "public");
 * false = refused, rule is the token naming why and reason a sentence for the agent. */
bool egress_decide(const struct egress_rules *r, enum egress_mode mode, const char *host,
                   const struct sockaddr *sa, unsigned port, char *rule, size_t rule_len,
                   char *reason, size_t reason_len);

void egress_rules_free(struct egress_rules *r);

#endif
