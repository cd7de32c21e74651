/* tests/fuzz/fuzz_oauth2_callback.c — the 3LO callback's query parser (oauth2_callback.c) on
 * hostile input: any browser can reach silod's callback. Checks the parser's promises on
 * success: a state, exactly one of code and error, every value printable and within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/oauth2_callback.h"

static void printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct oauth2_callback cb;
    enum oauth2_cb_status st = oauth2_callback_parse((const char *)data, size, &cb);
    if (st != OAUTH2_CB_OK)
        return 0;
    if (!cb.state[0] || (!cb.code[0]) == (!cb.error[0]))
        abort();
    printable(cb.state, sizeof cb.state);
    printable(cb.code, sizeof cb.code);
    printable(cb.error, sizeof cb.error);
    printable(cb.error_description, sizeof cb.error_description);
    printable(cb.error_uri, sizeof cb.error_uri);
    printable(cb.iss, sizeof cb.iss);
    if (strchr(cb.error, '"') || strchr(cb.error, '\\'))
        abort();
    return 0;
}
