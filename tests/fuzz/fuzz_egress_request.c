/* tests/fuzz/fuzz_egress_request.c — silod's egress handshake parser (egress_relay.c) and the
 * policy's CIDR/domain parsers on hostile input: the request line comes from the guest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/egress_relay.h"
#include "frontend/egress_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[512], host[256];
    if (size >= sizeof line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    unsigned port;
    if (egress_parse_request(line, host, sizeof host, &port) && (port == 0 || port > 65535 || !host[0]))
        abort();
    struct egress_cidr c;
    if (egress_parse_cidr(line, &c) && c.prefix > 128)
        abort();
    free(egress_parse_domain(line));
    return 0;
}
