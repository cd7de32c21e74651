/* frontend/control_plane.c — the control plane's front: its lifecycle, one request from body
 * to answer (parse, route through the table in control_plane_routes.c, run the handler under
 * the lock, then hand new versions to the builder and deleted runtimes to silod outside it),
 * and what the data plane asks of it: resolving an invoke target to a live version. The
 * operations live one file per resource (control_plane_internal.h lists them); validation in
 * control_plane_validate.c; SQL setup in store.c. */
#include "frontend/control_plane_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"
#include "frontend/control_plane_validate.h"
#include "frontend/identity_store.h"
#include "base/url.h"

/* AgentCore's agentRuntimeId pattern: [a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10} */
static bool runtime_id_well_formed(const char *id)
{
    size_t len = strlen(id);
    if (len < 12 || len > 111 || !isalpha((unsigned char)id[0]) || id[len - 11] != '-')
        return false;
    for (size_t i = 1; i < len - 11; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '_')
            return false;
    for (size_t i = len - 10; i < len; i++)
        if (!isalnum((unsigned char)id[i]))
            return false;
    return true;
}

/* The body as a JSON object (NULL when there is none); false when it is not one, or holds a
 * string (or key) that is not valid UTF-8: nothing undecodable is stored or echoed. */
static bool parse_body(const char *body, size_t body_len, json_object **req)
{
    *req = NULL;
    if (!body_len)
        return true;
    if (body_len > INT32_MAX)
        return false;
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    *req = json_tokener_parse_ex(tok, body, (int)body_len);
    bool bad = json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(*req, json_type_object) ||
               !cp_json_utf8_valid(*req) || cp_json_text_has_nul(body, body_len);
    json_tokener_free(tok);
    if (bad) {
        json_object_put(*req);
        *req = NULL;
    }
    return !bad;
}

void control_plane_handle(struct control_plane *cp, const char *method, const char *raw_path,
                          const char *query, const char *body, size_t body_len,
                          struct control_plane_response *out)
{
    memset(out, 0, sizeof *out);
    json_object *req;
    if (!parse_body(body, body_len, &req)) {
        cpl_set_error(out, AWS_VALIDATION, "request body is not a JSON object of valid UTF-8 without NUL characters");
        return;
    }
    cpl_handler *handler = NULL;
    struct cpl_route_params params = { .has_id = false };
    enum cpl_route_match m = cpl_route_find(method, raw_path, &handler, &params);
    struct cpl_call call = {
        .cp = cp, .method = method, .query = query, .req = req, .out = out,
        .id = params.has_id ? params.id : NULL, .name = params.has_name ? params.name : NULL,
        .arn = params.has_arn ? params.arn : NULL,
    };

    pthread_mutex_lock(&cp->lock);
    if (m == CPL_ROUTE_NONE)
        cpl_set_error(out, AWS_UNKNOWN_OPERATION, "no such operation");
    else if (call.id && !runtime_id_well_formed(call.id))
        /* AgentCore checks the id's pattern before looking it up: 400, not 404 */
        cpl_set_error(out, AWS_VALIDATION, "agentRuntimeId must match %s", "[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}");
    else if (m == CPL_ROUTE_OTHER_METHOD)
        cpl_set_error(out, AWS_UNKNOWN_OPERATION, "no such operation");
    else if (!url_query_valid(query))
        cpl_set_error(out, AWS_VALIDATION, "the query string is not valid percent-encoding");
    else
        handler(&call);
    pthread_mutex_unlock(&cp->lock);
    json_object_put(req);

    /* outside the lock: the builder may report back synchronously */
    struct pending_build *pb = &call.build;
    if (pb->version && cp->cfg.builder.submit)
        cp->cfg.builder.submit(cp->cfg.builder.ctx, pb->runtime_id, pb->version, pb->config);
    else if (pb->version)
        control_plane_version_built(cp, pb->runtime_id, pb->version, false, "no image builder configured");
    free(pb->config);
    if (call.runtime_deleted && cp->cfg.runtime_deleted)
        cp->cfg.runtime_deleted(cp->cfg.runtime_deleted_ctx, call.id);
}

bool control_plane_runtime_id_from_arn(const char *arn_or_id, char *out, size_t out_len)
{
    const char *id = arn_or_id;
    if (strncmp(arn_or_id, "arn:", 4) == 0) {
        /* arn:PARTITION:bedrock-agentcore:REGION:ACCOUNT:runtime/ID */
        const char *p = arn_or_id;
        for (int i = 0; i < 5; i++) {
            p = strchr(p, ':');
            if (!p)
                return false;
            p++;
        }
        if (strncmp(arn_or_id, "arn:aws", 7) != 0 || !strstr(arn_or_id, ":bedrock-agentcore:") ||
            strncmp(p, "runtime/", 8) != 0)
            return false;
        id = p + 8;
    }
    /* ^[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}$ */
    const char *dash = strrchr(id, '-');
    if (!dash || strlen(dash + 1) != 10 || strlen(id) >= out_len)
        return false;
    for (const char *c = dash + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return false;
    char name[128];
    size_t nlen = (size_t)(dash - id);
    if (nlen == 0 || nlen >= sizeof name)
        return false;
    memcpy(name, id, nlen);
    name[nlen] = '\0';
    if (!cp_valid_name(name, 99))
        return false;
    snprintf(out, out_len, "%s", id);
    return true;
}

const char *control_plane_resolve(struct control_plane *cp, const char *arn_or_id,
                                  const char *qualifier, struct resolved_runtime *out,
                                  char *msg, size_t msg_len)
{
    memset(out, 0, sizeof *out);
    if (!control_plane_runtime_id_from_arn(arn_or_id, out->runtime_id, sizeof out->runtime_id)) {
        snprintf(msg, msg_len, "agentRuntimeArn is not a runtime ARN or id");
        return AWS_VALIDATION;
    }
    if (strncmp(arn_or_id, "arn:", 4) == 0) {
        /* an ARN names its partition, region and account: they must be silod's own, exactly as
         * it writes them into the ARNs it makes */
        char mine[400];
        cpl_runtime_arn(cp, out->runtime_id, mine, sizeof mine);
        if (strcmp(arn_or_id, mine) != 0) {
            snprintf(msg, msg_len, "no agent runtime %s in this partition, region and account", out->runtime_id);
            return AWS_NOT_FOUND;
        }
    }
    const char *q = qualifier && *qualifier ? qualifier : "DEFAULT";
    if (!cp_valid_name(q, 47)) {
        snprintf(msg, msg_len, "qualifier is not a valid endpoint name");
        return AWS_VALIDATION;
    }
    snprintf(out->endpoint_name, sizeof out->endpoint_name, "%s", q);
    const char *err = NULL;
    pthread_mutex_lock(&cp->lock);
    /* every invocation resolves its endpoint: the statement is prepared once and reset after
     * each use, rather than parsed again per request */
    if (!cp->resolve_stmt)
        cp->resolve_stmt = store_prepare(cp->store,
            "SELECT e.live_version, v.config FROM endpoints e LEFT JOIN versions v"
            " ON v.runtime_id = e.runtime_id AND v.version = e.live_version"
            " WHERE e.runtime_id = ? AND e.name = ?");
    sqlite3_stmt *st = cp->resolve_stmt;
    if (!st) {
        err = AWS_INTERNAL;
        snprintf(msg, msg_len, "database error");
    } else {
        sqlite3_bind_text(st, 1, out->runtime_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, q, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW) {
            err = AWS_NOT_FOUND;
            snprintf(msg, msg_len, "no endpoint %s for agent runtime %s", q, out->runtime_id);
        } else if (sqlite3_column_type(st, 0) == SQLITE_NULL || !cpl_col_text(st, 1)) {
            err = AWS_NOT_FOUND;
            snprintf(msg, msg_len, "endpoint %s has no READY version yet", q);
        } else {
            out->version = sqlite3_column_int(st, 0);
            out->config_json = strdup(cpl_col_text(st, 1));
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&cp->lock);
    return err;
}

struct control_plane *control_plane_new(struct store *store, const struct control_plane_config *cfg)
{
    struct control_plane *cp = calloc(1, sizeof *cp);
    if (!cp)
        abort();
    cp->store = store;
    cp->cfg = *cfg;
    pthread_mutex_init(&cp->lock, NULL);
    char err[256];
    if (!idstore_init(store->db, err, sizeof err))   /* runtimes' workload identities live there */
        fprintf(stderr, "silod: identity tables: %s\n", err);
    return cp;
}

void control_plane_free(struct control_plane *cp)
{
    if (!cp)
        return;
    sqlite3_finalize(cp->resolve_stmt);
    pthread_mutex_destroy(&cp->lock);
    free(cp);
}
