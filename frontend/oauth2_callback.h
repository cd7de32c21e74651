/* frontend/oauth2_callback.h — the 3LO callback's query string (AgentCore Identity, issue 14):
 * what the user's browser brings back to silod's OAuth2 callback from the authorization
 * server, `?state=…&code=…` or `?state=…&error=…[&error_description=…]` (RFC 6749 §4.1.2),
 * parsed strictly before anything else looks at it. The input is fully attacker-controlled
 * (any browser can hit the callback), so:
 *   - every key and value is percent-decoded by base/url.c (silod's one decoder: `+` stays a
 *     plus, a broken escape or %00 refuses the whole query);
 *   - state, code, error, error_description, error_uri and iss may each appear at most once
 *     (a repeated one is refused: no parameter pollution); other keys are ignored;
 *   - values must be printable ASCII (RFC 6749 VSCHAR, %x20-7E; error and error_description
 *     without `"` and `\`), within the OAUTH2_CB_MAX_* bounds; the whole query at most
 *     OAUTH2_CB_MAX_QUERY bytes;
 *   - state is required; exactly one of code and error.
 * Pure function over caller memory; fuzzed by tests/fuzz/fuzz_oauth2_callback.c.
 *
 * silod must then look the state up (identity_store: idstore_session_take_state, which
 * consumes it once) — the parser only says the query is well formed. */
#ifndef SILO_FRONTEND_OAUTH2_CALLBACK_H
#define SILO_FRONTEND_OAUTH2_CALLBACK_H

#include <stddef.h>

#define OAUTH2_CB_MAX_QUERY 16384
#define OAUTH2_CB_MAX_STATE 512
#define OAUTH2_CB_MAX_CODE 4096
#define OAUTH2_CB_MAX_ERROR 128
#define OAUTH2_CB_MAX_DESCRIPTION 1024
#define OAUTH2_CB_MAX_URI 2048

enum oauth2_cb_status {
    OAUTH2_CB_OK = 0,
    OAUTH2_CB_TOO_LONG,      /* the query or one value beyond its bound */
    OAUTH2_CB_BAD_ENCODING,  /* a broken escape, %00, a non-printable character */
    OAUTH2_CB_DUPLICATE,     /* a known parameter given twice */
    OAUTH2_CB_NO_STATE,
    OAUTH2_CB_NO_RESULT,     /* neither code nor error */
    OAUTH2_CB_BOTH,          /* both code and error */
};
const char *oauth2_cb_status_text(enum oauth2_cb_status st);

struct oauth2_callback {
    char state[OAUTH2_CB_MAX_STATE + 1];
    char code[OAUTH2_CB_MAX_CODE + 1];                  /* "" when error is set */
    char error[OAUTH2_CB_MAX_ERROR + 1];                /* "" when code is set */
    char error_description[OAUTH2_CB_MAX_DESCRIPTION + 1];
    char error_uri[OAUTH2_CB_MAX_URI + 1];
    char iss[OAUTH2_CB_MAX_URI + 1];                    /* RFC 9207, when the server sends it */
};

/* Parses query[0..len) (without the leading `?`). *out is zeroed first and meaningful only on
 * OAUTH2_CB_OK. */
enum oauth2_cb_status oauth2_callback_parse(const char *query, size_t len, struct oauth2_callback *out);

#endif
