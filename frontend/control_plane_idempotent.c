/* frontend/control_plane_idempotent.c — the one envelope every control-plane write goes
 * through: clientToken read and checked, one transaction, the first answer replayed for a
 * repeat, ConflictException for the same token with other parameters, the answer recorded in
 * the idempotency table beside the write (see control_plane_internal.h). */
#include "frontend/control_plane_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "frontend/aws_error.h"
#include "frontend/control_plane_validate.h"

/* What a request means, as a hash: its JSON without clientToken. */
static void request_hash(json_object *req, char out[65])
{
    json_object *copy = NULL;
    json_object_deep_copy(req, &copy, NULL);
    if (copy && json_object_is_type(copy, json_type_object))
        json_object_object_del(copy, "clientToken");
    const char *s = copy ? json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN) : "";
    unsigned char d[32];
    SHA256((const unsigned char *)s, strlen(s), d);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    json_object_put(copy);
}

/* True when the answer was replayed (or a mismatch reported) into out. */
static bool replay(struct control_plane *cp, const char *op, const char *token, const char *hash,
                   struct control_plane_response *out)
{
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT request_hash, status, response FROM idempotency"
                                                " WHERE operation = ? AND client_token = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_TRANSIENT);
    bool found = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = true;
        if (strcmp(cpl_col_text(st, 0), hash) != 0) {
            cpl_set_error(out, AWS_CONFLICT, "clientToken was already used with different parameters");
        } else {
            free(out->body);
            out->error_type = NULL;
            out->status = (unsigned)sqlite3_column_int(st, 1);
            out->body = strdup(cpl_col_text(st, 2));
        }
    }
    sqlite3_finalize(st);
    return found;
}

static bool record(struct control_plane *cp, const char *op, const char *token, const char *hash,
                   const struct control_plane_response *out)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "INSERT INTO idempotency (operation, client_token, request_hash, status, response, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, (int)out->status);
    sqlite3_bind_text(st, 5, out->body, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, cpl_now_ms(cp));
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

bool cpl_client_token(struct cpl_call *call, bool from_query, struct cpl_token *t)
{
    t->present = false;
    t->value[0] = '\0';
    json_object *v = NULL;
    if (!from_query && call->req && json_object_object_get_ex(call->req, "clientToken", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) >= sizeof t->value) {
            cpl_set_error(call->out, AWS_VALIDATION, "clientToken must be a string of 33 to 256 characters");
            return false;
        }
        snprintf(t->value, sizeof t->value, "%s", json_object_get_string(v));
        t->present = true;
    } else if (from_query && cpl_query_param(call->query, "clientToken", t->value, sizeof t->value)) {
        t->present = true;
    }
    if (t->present && !cp_valid_client_token(t->value)) {
        cpl_set_error(call->out, AWS_VALIDATION, "clientToken must be 33 to 256 characters matching "
                                                "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}$");
        return false;
    }
    return true;
}

enum cpl_write_result cpl_idempotent_write(struct cpl_call *call, const char *op, const struct cpl_token *token,
                                         json_object *meaning,
                                         enum cpl_apply_result (*apply)(struct cpl_call *call, void *ctx),
                                         void *ctx, const char *fail_msg)
{
    struct control_plane *cp = call->cp;
    char hash[65];
    request_hash(meaning, hash);
    if (!store_begin(cp->store)) {
        cpl_set_error(call->out, AWS_INTERNAL, "database busy");
        return CPL_WRITE_FAILED;
    }
    if (token->present && replay(cp, op, token->value, hash, call->out)) {
        store_commit(cp->store);
        return CPL_WRITE_REPLAYED;
    }
    enum cpl_apply_result res = apply(call, ctx);
    if (res == CPL_REFUSED) {
        store_rollback(cp->store);
        return CPL_WRITE_FAILED;
    }
    bool ok = res == CPL_APPLIED && (!token->present || record(cp, op, token->value, hash, call->out));
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        cpl_set_error(call->out, AWS_INTERNAL, "%s", fail_msg);
        return CPL_WRITE_FAILED;
    }
    return CPL_WRITE_DONE;
}
