/* base/url.h — reading a request URL: silod's one percent-decoder, query-parameter lookup
 * and a raw URL made safe for the log. Pure functions over caller buffers; used by the HTTP
 * glue (http_api.c), the invoke proxy (invoke_proxy.c) and the control plane's router
 * (control_plane_routes.c), so every part of silod reads a path segment or a query value the
 * same way.
 *
 * The rules (AWS's URI encoding as SigV4 defines it, applied to what arrives):
 *   - `%XY` with two hex digits (either case) is the byte 0xXY; a `%` not followed by two hex
 *     digits is an error, never passed through;
 *   - `%00` is refused: no decoded value may hold a NUL (every consumer is a C string);
 *   - `+` is a plus sign, in paths and queries alike. SigV4 canonicalises a literal `+` as
 *     `%2B` and requires a space to be sent as `%20`, so reading `+` as a space would make the
 *     value silod acts on differ from the value the caller signed;
 *   - every other byte is copied as it is; what a value may contain beyond that (printable
 *     only, a name pattern, ...) is the caller's rule. */
#ifndef SILO_FRONTEND_URL_H
#define SILO_FRONTEND_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Percent-decodes in[0..len) into out (cap bytes, NUL-terminated). Returns the decoded length,
 * or -1 on a broken escape, an escaped NUL, or when the result does not fit in cap - 1 bytes.
 * The decoded text is never longer than len, so cap = len + 1 always fits. */
/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int url_hex_value(char c);

ssize_t url_decode(const char *in, size_t len, char *out, size_t cap);

/* Whether every key and value of the raw query string (`a=1&b=%20`, "" or NULL) decodes. */
bool url_query_valid(const char *query);

/* Looks up the first parameter whose decoded key is name in the raw query string (NULL: none)
 * and writes its decoded value into out (cap bytes). A key without `=` has the value "".
 * Returns 1 when found, 0 when absent, -1 when the first such parameter's value does not
 * decode or does not fit. */
int url_query_param(const char *query, const char *name, char *out, size_t cap);

/* Copies raw (a path or any text from the request) into out (cap bytes, always terminated)
 * for a log line: control characters, DEL, bytes >= 0x80, `"` and `\` become `\xNN`, so
 * nothing a caller sends can break a line or forge another one. Truncated to fit, with
 * `...` at the end when cut. Returns out. */
const char *url_escape_for_log(const char *raw, char *out, size_t cap);

#endif
