/* frontend/event_stream.c — AWS event stream messages (see event_stream.h): prelude, string
 * headers, payload and both CRC32s (zlib). */
#include "frontend/event_stream.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t crc(uint32_t seed, const void *p, size_t n)
{
    return (uint32_t)crc32_z(seed, p, n);
}

bool event_stream_message(struct strbuf *out, const struct event_stream_header *headers, size_t count,
                          const void *payload, size_t payload_len)
{
    size_t headers_len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t nl = strlen(headers[i].name), vl = strlen(headers[i].value);
        if (nl == 0 || nl > 255 || vl > 32767)
            return false;
        headers_len += 1 + nl + 1 + 2 + vl;
    }
    if (headers_len + payload_len > EVENT_STREAM_MAX_MESSAGE)
        return false;
    uint32_t total = (uint32_t)(12 + headers_len + payload_len + 4);
    size_t start = out->len;
    uint8_t prelude[12];
    put_u32(prelude, total);
    put_u32(prelude + 4, (uint32_t)headers_len);
    put_u32(prelude + 8, crc(0, prelude, 8));
    strbuf_append(out, prelude, sizeof prelude);
    for (size_t i = 0; i < count; i++) {
        size_t nl = strlen(headers[i].name), vl = strlen(headers[i].value);
        uint8_t b[3] = { (uint8_t)nl };
        strbuf_append(out, b, 1);
        strbuf_append(out, headers[i].name, nl);
        b[0] = 7;                                  /* string */
        b[1] = (uint8_t)(vl >> 8);
        b[2] = (uint8_t)vl;
        strbuf_append(out, b, 3);
        strbuf_append(out, headers[i].value, vl);
    }
    strbuf_append(out, payload, payload_len);
    uint8_t tail[4];
    put_u32(tail, crc(0, out->data + start, out->len - start));
    strbuf_append(out, tail, sizeof tail);
    return true;
}

bool event_stream_event(struct strbuf *out, const char *event_type, const char *json)
{
    const struct event_stream_header h[] = { { ":event-type", event_type },
                                              { ":content-type", "application/json" },
                                              { ":message-type", "event" } };
    return event_stream_message(out, h, 3, json, strlen(json));
}

bool event_stream_exception(struct strbuf *out, const char *type, const char *json)
{
    const struct event_stream_header h[] = { { ":exception-type", type },
                                             { ":content-type", "application/json" },
                                             { ":message-type", "exception" } };
    return event_stream_message(out, h, 3, json, strlen(json));
}
