/* guest/agentd/dns_stub.h — the answers of agentd's DNS stub (127.0.0.1:53 UDP), computed
 * without I/O so they can be unit-tested and fuzzed.
 *
 * One question, class IN, no compression in the query:
 *   A     -> the name's synthetic address (synth_names.h), TTL DNS_STUB_TTL
 *   A for `localhost` and `*.localhost` -> 127.0.0.1
 *   AAAA and every other type -> NOERROR with no answer (clients fall back to A)
 * A name that cannot be an egress host (host_name.h) gets NXDOMAIN; a full name table SERVFAIL;
 * another class or opcode NOTIMP; a malformed query (no question, several, compression
 * pointers, truncated) FORMERR. Responses (QR set) and anything shorter than a header are
 * dropped, so two stubs cannot bounce packets at each other. */
#ifndef SILO_GUEST_AGENTD_DNS_STUB_H
#define SILO_GUEST_AGENTD_DNS_STUB_H

#include <stddef.h>
#include <stdint.h>

#define DNS_STUB_TTL 5
#define DNS_STUB_MAX_QUERY 4096       /* read buffer; a valid query is far smaller */
#define DNS_STUB_MAX_ANSWER 512

enum { DNS_NOERROR = 0, DNS_FORMERR = 1, DNS_SERVFAIL = 2, DNS_NXDOMAIN = 3, DNS_NOTIMP = 4 };

/* Writes the answer to query into out (cap ≥ DNS_STUB_MAX_ANSWER); returns its length, or 0
 * when the query is to be dropped. */
size_t dns_stub_answer(const uint8_t *query, size_t len, uint8_t *out, size_t cap);

#endif
