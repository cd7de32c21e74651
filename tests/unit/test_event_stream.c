/* tests/unit/test_event_stream.c — the AWS event stream encoder (frontend/event_stream.c)
 * against vectors the AWS SDK's own codec produced (@smithy/core/event-streams
 * EventStreamCodec.encode, in tests/frontend/sdk/node_modules), and its bounds. */
#include <stdio.h>
#include <string.h>

#include "frontend/event_stream.h"
#include "tests/unit/check.h"

static void hex(const struct strbuf *b, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len && n + 3 <= cap; i++, n += 2)
        snprintf(out + n, 3, "%02x", (unsigned char)b->data[i]);
    out[n] = '\0';
}

static void check_vector(const struct strbuf *b, const char *want)
{
    char got[1024];
    hex(b, got, sizeof got);
    CHECK(strcmp(got, want) == 0);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "# got  %s\n# want %s\n", got, want);
}

static void test_sdk_vectors(void)
{
    struct strbuf b = { 0 };
    CHECK(event_stream_event(&b, "chunk", "{\"contentDelta\":{\"stdout\":\"hi\\n\"}}"));
    check_vector(&b, "0000007d0000004b856e630f0b3a6576656e742d747970650700056368756e6b0d3a636f6e74656e742d74797065"
                     "0700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e"
                     "74656e7444656c7461223a7b227374646f7574223a2268695c6e227d7d5049088b");
    strbuf_free(&b);
    CHECK(event_stream_exception(&b, "validationException", "{\"message\":\"no\"}"));
    check_vector(&b, "0000008100000061d31117850f3a657863657074696f6e2d7479706507001376616c69646174696f6e45786365"
                     "7074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167"
                     "652d74797065070009657863657074696f6e7b226d657373616765223a226e6f227d0f22556e");
    strbuf_free(&b);
    CHECK(event_stream_message(&b, NULL, 0, "", 0));
    check_vector(&b, "000000100000000005c248eb7d98c8ff");
    /* messages append: two in a row are the two vectors back to back */
    CHECK(event_stream_message(&b, NULL, 0, "", 0));
    check_vector(&b, "000000100000000005c248eb7d98c8ff000000100000000005c248eb7d98c8ff");
    strbuf_free(&b);
}

static void test_bounds(void)
{
    struct strbuf b = { 0 };
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    struct event_stream_header h = { name, "v" };
    CHECK(!event_stream_message(&b, &h, 1, "", 0));       /* a name over 255 bytes */
    CHECK(b.len == 0);
    h.name = "";
    CHECK(!event_stream_message(&b, &h, 1, "", 0));       /* an empty name */
    name[255] = '\0';
    h.name = name;
    CHECK(event_stream_message(&b, &h, 1, "", 0));        /* 255 is allowed */
    CHECK(b.len == 12 + 1 + 255 + 3 + 1 + 4);
    strbuf_free(&b);
    static char big[EVENT_STREAM_MAX_MESSAGE + 1];
    CHECK(!event_stream_message(&b, NULL, 0, big, sizeof big));
    CHECK(b.len == 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "events and exceptions match the AWS SDK codec's bytes", test_sdk_vectors },
        { "header and message bounds are refused", test_bounds },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
