/* tests/fuzz/fuzz_agentd_proto.c — libFuzzer target for what agentd and silod parse from the
 * other side or from the agent: control-protocol requests and responses (control_proto.c; a
 * decoded response must re-encode to a line that decodes to the same thing; EXEC's request line
 * and stream frame heads likewise) and the agent's
 * /ping answers (probe.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/agentd/control_proto.h"
#include "guest/agentd/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    enum cp_verb verb;
    struct cp_response r, again;
    char buf[CP_MAX_LINE + 1];

    if (cp_decode_request(line, size, &verb) == 0 && cp_encode_request(verb, buf, sizeof buf) < 0)
        abort();
    if (cp_decode_response(line, size, &r) == 0) {
        int n = cp_encode_response(&r, buf, sizeof buf);
        if (n < 0 || cp_decode_response(buf, (size_t)n, &again) != 0 || memcmp(&r, &again, sizeof r) != 0)
            abort();
    }
    struct cp_exec_request q, q2;
    if (cp_decode_exec(line, size, &q) == 0) {
        int n = cp_encode_exec(&q, buf, sizeof buf);
        if (n < 0 || cp_decode_exec(buf, (size_t)n, &q2) != 0 || memcmp(&q, &q2, sizeof q) != 0)
            abort();
    }
    struct cp_exec_frame f, f2;
    if (cp_decode_exec_frame(line, size, &f) == 0) {
        int n = cp_encode_exec_frame(&f, buf, sizeof buf);
        if (n < 0 || cp_decode_exec_frame(buf, (size_t)n, &f2) != 0 || memcmp(&f, &f2, sizeof f) != 0)
            abort();
    }
    ping_parse_response(line, size, &r);
    if (r.u.health.status < CP_HEALTH_HEALTHY || r.u.health.status > CP_HEALTH_UNREACHABLE)
        abort();
    return 0;
}
