/* tests/fuzz/fuzz_dns_stub.c — libFuzzer target for the DNS stub (guest/agentd/dns_stub.c),
 * which answers any UDP datagram the agent sends to 127.0.0.1:53. Checks: the answer fits its
 * buffer, keeps the query's id, and an A answer's address is synthetic or 127.0.0.1. The name
 * table is reset now and then so it never fills up during a run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/agentd/dns_stub.h"
#include "guest/agentd/guest_ports.h"
#include "guest/agentd/synth_names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    static uint8_t answer[DNS_STUB_MAX_ANSWER];
    if (++runs % 4096 == 0)
        synth_names_reset();
    if (size > DNS_STUB_MAX_QUERY)
        size = DNS_STUB_MAX_QUERY;
    uint8_t *query = malloc(size ? size : 1);
    if (query == NULL)
        return 0;
    memcpy(query, data, size);
    size_t n = dns_stub_answer(query, size, answer, sizeof answer);
    if (n > sizeof answer || (n > 0 && (n < 12 || answer[0] != query[0] || answer[1] != query[1])))
        abort();
    if (n > 12 && answer[7] == 1) {
        uint32_t a = (uint32_t)answer[n - 4] << 24 | (uint32_t)answer[n - 3] << 16 | (uint32_t)answer[n - 2] << 8 |
                     answer[n - 1];
        if (a != 0x7f000001u && (a & GUEST_SYNTH_MASK) != GUEST_SYNTH_NET)
            abort();
    }
    free(query);
    return 0;
}
