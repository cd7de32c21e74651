/* tests/agents/c-echo/http_fetch_main.c — silo-http-fetch [--proxy HOST:PORT] [--repeat N] URL:
 * the egress benchmark's direct client (tools/bench/egress.sh), the same code the c-echo agent's
 * "fetch" action runs inside a microVM. Prints one line per fetch: `status=N bytes=N us=N`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/agents/c-echo/http_fetch.h"

int main(int argc, char **argv)
{
    const char *proxy = NULL;
    int repeat = 1, i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--proxy") == 0)
            proxy = argv[i + 1];
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else
            break;
    }
    if (i != argc - 1 || repeat < 1) {
        fprintf(stderr, "usage: silo-http-fetch [--proxy HOST:PORT] [--repeat N] http://HOST[:PORT]/PATH\n");
        return 2;
    }
    for (int r = 0; r < repeat; r++) {
        struct http_fetch_result res;
        if (http_fetch(argv[i], proxy, &res) != 0) {
            fprintf(stderr, "silo-http-fetch: %s\n", res.error);
            return 1;
        }
        printf("status=%d bytes=%llu us=%llu\n", res.status, (unsigned long long)res.body_bytes,
               (unsigned long long)res.elapsed_us);
    }
    return 0;
}
