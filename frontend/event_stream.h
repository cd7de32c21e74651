/* frontend/event_stream.h — the AWS event stream encoder (application/vnd.amazon.eventstream),
 * the framing of InvokeAgentRuntimeCommand's answer. One message:
 *
 *   total length (4, big-endian) | headers length (4) | prelude CRC32 (4, of the first 8 bytes)
 *   headers: name length (1) | name | type 7 = string | value length (2) | value   (repeated)
 *   payload | message CRC32 (4, of everything before it)
 *
 * CRC32 is zlib's (IEEE 802.3). Only string headers are written (all smithy event streams
 * need). Pure functions over a strbuf. */
#ifndef SILO_FRONTEND_EVENT_STREAM_H
#define SILO_FRONTEND_EVENT_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "frontend/strbuf.h"

#define EVENT_STREAM_CONTENT_TYPE "application/vnd.amazon.eventstream"
#define EVENT_STREAM_MAX_MESSAGE (16u * 1024 * 1024)   /* the format's limit on one message */

struct event_stream_header {
    const char *name;      /* 1..255 bytes */
    const char *value;     /* 0..32767 bytes */
};

/* Appends one message to out; false (out unchanged) when a header or the message is out of
 * the format's bounds. */
bool event_stream_message(struct strbuf *out, const struct event_stream_header *headers, size_t count,
                          const void *payload, size_t payload_len);

/* A smithy event: `:event-type` event_type, `:content-type` application/json,
 * `:message-type` event, the JSON payload. */
bool event_stream_event(struct strbuf *out, const char *event_type, const char *json);

/* A modeled error inside the stream: `:exception-type` type (the union member's name, e.g.
 * "validationException"), `:content-type` application/json, `:message-type` exception. */
bool event_stream_exception(struct strbuf *out, const char *type, const char *json);

#endif
