/* frontend/session_bind.h — who a runtime session belongs to. A session id is bound, by the
 * first request that opens it, to the runtime and the endpoint it was opened through (so an
 * endpoint pinned to another version cannot reach it; the session keeps its version when
 * DEFAULT moves on), the auth method of that request (SigV4 or JWT) and, with
 * JWT, the user (iss|sub). A later request (invoke or StopRuntimeSession) with the same id
 * from anything else is refused, and cannot stop it. A binding whose session no longer exists
 * is stale: the next request claims the id afresh. Thread-safe; entries of ended sessions are
 * pruned as new ones are claimed. */
#ifndef SILO_FRONTEND_SESSION_BIND_H
#define SILO_FRONTEND_SESSION_BIND_H

#include <stdbool.h>

struct session_owner {
    const char *runtime_id;
    const char *endpoint;   /* the endpoint (qualifier) it was opened through */
    const char *auth;       /* "sigv4" or "jwt" */
    const char *user;       /* the JWT user id; "" or NULL for SigV4 */
};

/* Whether the session id still names a live session (so its binding counts). */
typedef bool (*session_alive_fn)(void *ctx, const char *session_id);

struct session_binds;

struct session_binds *session_binds_new(session_alive_fn alive, void *ctx);
void session_binds_free(struct session_binds *b);
/* True when o may use the session: it is unbound (or its binding is stale; then o claims it
 * now) or bound to exactly o. False when it is bound to another owner. */
bool session_bind_claim(struct session_binds *b, const char *session_id, const struct session_owner *o);

#endif
