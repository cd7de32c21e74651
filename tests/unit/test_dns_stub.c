/* tests/unit/test_dns_stub.c — the DNS stub's answers (guest/agentd/dns_stub.c) and the
 * synthetic name table behind them (synth_names.c): stable addresses per name, localhost,
 * AAAA/other types empty, malformed queries and compression pointers refused, a full table. */
#include <stdio.h>
#include <string.h>

#include "guest/agentd/dns_stub.h"
#include "guest/agentd/guest_ports.h"
#include "guest/agentd/synth_names.h"
#include "tests/unit/check.h"

/* Builds a query for a dotted name; returns its length. */
static size_t make_query(uint8_t *q, const char *name, uint16_t qtype, uint16_t qclass)
{
    static const uint8_t header[12] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
    memcpy(q, header, 12);
    size_t off = 12;
    while (*name) {
        size_t n = strcspn(name, ".");
        q[off++] = (uint8_t)n;
        memcpy(q + off, name, n);
        off += n;
        name += n + (name[n] == '.');
    }
    q[off++] = 0;
    q[off++] = (uint8_t)(qtype >> 8);
    q[off++] = (uint8_t)qtype;
    q[off++] = (uint8_t)(qclass >> 8);
    q[off++] = (uint8_t)qclass;
    return off;
}

static int rcode_of(const uint8_t *a) { return a[3] & 0x0f; }
static int answers_of(const uint8_t *a) { return a[6] << 8 | a[7]; }

/* The A address in a one-answer response of length n. */
static uint32_t address_of(const uint8_t *a, size_t n)
{
    return (uint32_t)a[n - 4] << 24 | (uint32_t)a[n - 3] << 16 | (uint32_t)a[n - 2] << 8 | a[n - 1];
}

static uint32_t resolve_a(const char *name)
{
    uint8_t q[512], a[DNS_STUB_MAX_ANSWER];
    size_t n = dns_stub_answer(q, make_query(q, name, 1, 1), a, sizeof a);
    if (n == 0 || rcode_of(a) != DNS_NOERROR || answers_of(a) != 1)
        return 0;
    return address_of(a, n);
}

static void test_a_records(void)
{
    synth_names_reset();
    uint8_t q[512], a[DNS_STUB_MAX_ANSWER];
    size_t qn = make_query(q, "Example.COM", 1, 1);
    size_t n = dns_stub_answer(q, qn, a, sizeof a);
    CHECK_EQ(n, qn + 16);
    CHECK(a[0] == 0x12 && a[1] == 0x34);             /* id */
    CHECK(a[2] & 0x80);                              /* QR */
    CHECK(a[2] & 0x01);                              /* RD copied */
    CHECK_EQ(rcode_of(a), DNS_NOERROR);
    CHECK_EQ(answers_of(a), 1);
    CHECK(memcmp(a + 12, q + 12, qn - 12) == 0);     /* the question echoed */
    CHECK_EQ(a[qn + 9], DNS_STUB_TTL);
    uint32_t first = address_of(a, n);
    CHECK_EQ(first & GUEST_SYNTH_MASK, GUEST_SYNTH_NET);
    CHECK_EQ(resolve_a("example.com"), first);       /* case-insensitive and stable */
    uint32_t other = resolve_a("api.openai.com");
    CHECK(other != 0 && other != first);
    char name[256];
    CHECK(synth_names_lookup(first, name, sizeof name) && strcmp(name, "example.com") == 0);
    CHECK(synth_names_lookup(other, name, sizeof name) && strcmp(name, "api.openai.com") == 0);
    CHECK(!synth_names_lookup(0x7f000001u, name, sizeof name));
    CHECK(!synth_names_lookup(GUEST_SYNTH_NET + 999, name, sizeof name));
    CHECK(!synth_names_lookup(GUEST_SYNTH_NET, name, sizeof name));
    CHECK_EQ(resolve_a("_srv._tcp.example.com") & GUEST_SYNTH_MASK, GUEST_SYNTH_NET);
}

static void test_localhost_and_types(void)
{
    uint8_t q[512], a[DNS_STUB_MAX_ANSWER];
    CHECK_EQ(resolve_a("localhost"), 0x7f000001u);
    CHECK_EQ(resolve_a("web.LOCALHOST"), 0x7f000001u);
    const uint16_t empty_types[] = { 28 /* AAAA */, 5 /* CNAME */, 15 /* MX */, 16 /* TXT */, 255 /* ANY */ };
    for (size_t i = 0; i < sizeof empty_types / sizeof empty_types[0]; i++) {
        size_t qn = make_query(q, "example.com", empty_types[i], 1);
        CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), qn);
        CHECK_EQ(rcode_of(a), DNS_NOERROR);
        CHECK_EQ(answers_of(a), 0);
    }
    size_t qn = make_query(q, "example.com", 1, 3);   /* class CH */
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), qn);
    CHECK_EQ(rcode_of(a), DNS_NOTIMP);
    qn = make_query(q, "bad!name.com", 1, 1);
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), qn);
    CHECK_EQ(rcode_of(a), DNS_NXDOMAIN);
    qn = make_query(q, "edns.example", 1, 1);         /* with an EDNS OPT record: answered */
    q[11] = 1;
    memcpy(q + qn, "\0\0\x29\x10\0\0\0\0\0\0\0", 11);
    size_t an = dns_stub_answer(q, qn + 11, a, sizeof a);
    CHECK_EQ(an, qn + 16);
    CHECK_EQ(rcode_of(a), DNS_NOERROR);
    CHECK_EQ(answers_of(a), 1);
    CHECK_EQ(a[11], 0);                               /* no additional records in the answer */
    qn = make_query(q, "", 1, 1);                     /* the root */
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), qn);
    CHECK_EQ(rcode_of(a), DNS_NOERROR);
    CHECK_EQ(answers_of(a), 0);
}

static void test_malformed(void)
{
    uint8_t q[600], a[DNS_STUB_MAX_ANSWER];
    size_t qn = make_query(q, "example.com", 1, 1);
    CHECK_EQ(dns_stub_answer(q, 11, a, sizeof a), 0);                 /* shorter than a header */
    for (size_t cut = 12; cut < qn; cut++) {                          /* every truncation */
        CHECK_EQ(dns_stub_answer(q, cut, a, sizeof a), 12);
        CHECK_EQ(rcode_of(a), DNS_FORMERR);
    }
    q[2] |= 0x80;                                                     /* a response: dropped */
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), 0);
    q[2] = 0x01 | (2 << 3);                                           /* opcode STATUS */
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), 12);
    CHECK_EQ(rcode_of(a), DNS_NOTIMP);
    q[2] = 0x01;
    q[5] = 2;                                                         /* two questions */
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), 12);
    CHECK_EQ(rcode_of(a), DNS_FORMERR);
    q[5] = 1;
    q[12] = 0xc0;                                                     /* a pointer to itself */
    q[13] = 12;
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), 12);
    CHECK_EQ(rcode_of(a), DNS_FORMERR);
    /* a name over 253 bytes: 5 labels of 63 */
    size_t off = 12;
    for (int i = 0; i < 5; i++) {
        q[off++] = 63;
        memset(q + off, 'a', 63);
        off += 63;
    }
    q[off++] = 0;
    memcpy(q + off, "\0\1\0\1", 4);
    CHECK_EQ(dns_stub_answer(q, off + 4, a, sizeof a), 12);
    CHECK_EQ(rcode_of(a), DNS_FORMERR);
    /* a label holding a dot is not a host name */
    qn = make_query(q, "ab", 1, 1);
    q[13] = '.';
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), qn);
    CHECK_EQ(rcode_of(a), DNS_NXDOMAIN);
}

static void test_full_table(void)
{
    synth_names_reset();
    char name[32];
    uint32_t last = 0;
    for (int i = 0; i < SYNTH_NAMES_MAX; i++) {
        snprintf(name, sizeof name, "h%d.example", i);
        last = synth_names_address(name);
        if (last == 0)
            break;
    }
    CHECK_EQ(last, GUEST_SYNTH_NET + SYNTH_NAMES_MAX);
    CHECK_EQ(synth_names_address("h0.example"), GUEST_SYNTH_NET + 1);   /* known names still answer */
    uint8_t q[512], a[DNS_STUB_MAX_ANSWER];
    size_t qn = make_query(q, "one-more.example", 1, 1);
    CHECK_EQ(dns_stub_answer(q, qn, a, sizeof a), qn);
    CHECK_EQ(rcode_of(a), DNS_SERVFAIL);
    synth_names_reset();
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "A: a stable synthetic address per lower-cased name, question echoed", test_a_records },
        { "localhost, AAAA and other types, other classes, bad names", test_localhost_and_types },
        { "truncated, multi-question, compressed and over-long queries refused", test_malformed },
        { "a full name table answers SERVFAIL for new names only", test_full_table },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
