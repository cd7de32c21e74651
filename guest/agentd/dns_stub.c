/* guest/agentd/dns_stub.c — parses one DNS query and builds the stub's answer (see dns_stub.h). */
#include "guest/agentd/dns_stub.h"
#include "guest/agentd/host_name.h"
#include "guest/agentd/synth_names.h"

#include <stdbool.h>
#include <string.h>

#define HEADER_LEN 12
#define TYPE_A 1
#define CLASS_IN 1

struct question {
    char name[HOST_NAME_MAX_LEN + 2];
    size_t name_len;
    bool name_ok;              /* every label is made of host-name characters */
    size_t end;                /* offset just after QTYPE/QCLASS */
    uint16_t qtype, qclass;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Reads the question's labels; -1 when malformed (truncated, pointer, over-long name). */
static int parse_question(const uint8_t *q, size_t len, struct question *out)
{
    size_t off = HEADER_LEN;
    out->name_len = 0;
    out->name_ok = true;
    for (;;) {
        if (off >= len)
            return -1;
        uint8_t label = q[off++];
        if (label == 0)
            break;
        if (label & 0xc0)          /* compression pointer or extended label: not in a query */
            return -1;
        if (off + label > len || out->name_len + label + 1 > HOST_NAME_MAX_LEN + 1)
            return -1;
        if (out->name_len > 0)
            out->name[out->name_len++] = '.';
        for (size_t i = 0; i < label; i++) {
            char c = (char)q[off + i];
            if (c == '.' || c == '\0')
                out->name_ok = false;
            out->name[out->name_len++] = c;
        }
        off += label;
    }
    out->name[out->name_len] = '\0';
    if (off + 4 > len)
        return -1;
    out->qtype = get16(q + off);
    out->qclass = get16(q + off + 2);
    out->end = off + 4;
    host_name_lower(out->name, out->name_len);
    return 0;
}

static bool is_localhost(const char *name, size_t len)
{
    static const char suffix[] = ".localhost";
    size_t k = sizeof suffix - 1;
    return strcmp(name, "localhost") == 0 || (len > k && strcmp(name + len - k, suffix) == 0);
}

/* Header of the answer: the query's id and RD, QR/AA/RA set, the rcode and the counts. */
static void write_header(const uint8_t *query, uint8_t *out, int rcode, uint16_t questions, uint16_t answers)
{
    memset(out, 0, HEADER_LEN);
    out[0] = query[0];
    out[1] = query[1];
    out[2] = (uint8_t)(0x80 | 0x04 | (query[2] & 0x01));
    out[3] = (uint8_t)(0x80 | rcode);
    put16(out + 4, questions);
    put16(out + 6, answers);
}

static size_t append_a_record(uint8_t *out, size_t off, uint32_t address)
{
    put16(out + off, 0xc000 | HEADER_LEN);   /* the name: a pointer to the question */
    put16(out + off + 2, TYPE_A);
    put16(out + off + 4, CLASS_IN);
    put16(out + off + 6, 0);
    put16(out + off + 8, DNS_STUB_TTL);
    put16(out + off + 10, 4);
    for (int i = 0; i < 4; i++)
        out[off + 12 + i] = (uint8_t)(address >> (24 - 8 * i));
    return off + 16;
}

/* The rcode and the A address (0: no answer) for a well-formed question. */
static int resolve(const struct question *qn, uint32_t *address)
{
    *address = 0;
    if (qn->qclass != CLASS_IN)
        return DNS_NOTIMP;
    if (qn->name_len == 0)
        return DNS_NOERROR;
    if (!qn->name_ok || !host_name_valid(qn->name, qn->name_len))
        return DNS_NXDOMAIN;
    if (qn->qtype != TYPE_A)
        return DNS_NOERROR;
    if (is_localhost(qn->name, qn->name_len)) {
        *address = 0x7f000001u;
        return DNS_NOERROR;
    }
    *address = synth_names_address(qn->name);
    return *address != 0 ? DNS_NOERROR : DNS_SERVFAIL;
}

size_t dns_stub_answer(const uint8_t *query, size_t len, uint8_t *out, size_t cap)
{
    if (len < HEADER_LEN || cap < DNS_STUB_MAX_ANSWER || (query[2] & 0x80))
        return 0;
    if (((query[2] >> 3) & 0x0f) != 0) {
        write_header(query, out, DNS_NOTIMP, 0, 0);
        return HEADER_LEN;
    }
    struct question qn;
    if (get16(query + 4) != 1 || get16(query + 6) != 0 || get16(query + 8) != 0 ||
        parse_question(query, len, &qn) < 0) {
        write_header(query, out, DNS_FORMERR, 0, 0);
        return HEADER_LEN;
    }
    uint32_t address;
    int rcode = resolve(&qn, &address);
    write_header(query, out, rcode, 1, address != 0);
    memcpy(out + HEADER_LEN, query + HEADER_LEN, qn.end - HEADER_LEN);   /* ≤ 259 bytes */
    return address != 0 ? append_a_record(out, qn.end, address) : qn.end;
}
