/* frontend/b64url.h — base64url without padding (RFC 4648 §5), as the identity modules use it
 * for tokens, PKCE verifiers, OAuth2 `state` and secret names. Pure functions over caller
 * buffers; the decoder is strict (no padding, no whitespace, only the url-safe alphabet, no
 * non-canonical trailing bits) so one token has exactly one spelling. */
#ifndef SILO_FRONTEND_B64URL_H
#define SILO_FRONTEND_B64URL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Characters b64url_encode writes for n bytes, not counting the NUL. */
static inline size_t b64url_encoded_len(size_t n) { return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0); }

/* Encodes in[0..n) into out (cap bytes, NUL-terminated). Returns the length, or -1 when it
 * does not fit. */
ssize_t b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* Decodes text[0..len) into out (cap bytes). Returns the decoded length, or -1 on any
 * character outside the alphabet, a length that cannot be base64 (len % 4 == 1), non-zero
 * trailing bits, or a result that does not fit. */
ssize_t b64url_decode(const char *text, size_t len, uint8_t *out, size_t cap);

#endif
