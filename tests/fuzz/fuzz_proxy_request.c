/* tests/fuzz/fuzz_proxy_request.c — libFuzzer target for the forward proxy's request-head
 * parser and rewriter (guest/agentd/proxy_request.c), which read whatever the agent sends to
 * 127.0.0.1:3128. Checks: an accepted head lies inside the input, its host is a valid name or
 * [IPv6], and the rewrite always fits head_len + PROXY_REWRITE_SLACK. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/agentd/proxy_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[PROXY_MAX_HEAD + PROXY_REWRITE_SLACK];
    char *buf = malloc(size + 1);             /* exact size: ASan sees any overread */
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    struct proxy_request req;
    int rc = proxy_request_parse(buf, size, &req);
    if (rc == 1) {
        if (req.head_len == 0 || req.head_len > size || req.head_len > PROXY_MAX_HEAD || req.port == 0 ||
            req.host[0] == '\0' || strlen(req.host) > 255)
            abort();
        if (req.kind == PROXY_ABSOLUTE &&
            proxy_request_rewrite(buf, &req, out, req.head_len + PROXY_REWRITE_SLACK) < 0)
            abort();
    } else if (rc == -1 && (req.status < 400 || req.error == NULL)) {
        abort();
    } else if (rc == 0 && size >= PROXY_MAX_HEAD) {
        abort();
    }
    free(buf);
    return 0;
}
