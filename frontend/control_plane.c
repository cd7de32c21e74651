/* frontend/control_plane.c — routing and operations of the control plane (see
 * control_plane.h); validation lives in control_plane_validate.c, SQL setup in store.c. */
#include "frontend/control_plane.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/sha.h>

#include "frontend/aws_error.h"
#include "frontend/control_plane_validate.h"
#include "frontend/strbuf.h"

#define MAX_VERSIONS 1000
#define MAX_ENDPOINTS 10
#define DEFAULT_PAGE 10
#define MAX_PAGE 100
#define MAX_SEGMENTS 6

struct control_plane {
    struct store *store;
    struct control_plane_config cfg;
    pthread_mutex_t lock;
    sqlite3_stmt *resolve_stmt;   /* control_plane_resolve's query, prepared once (under lock) */
};

/* A version to hand to the builder once the transaction has committed. */
struct pending_build {
    char runtime_id[256];
    int version;
    char *config;
};

/* ---------------------------------------------------------------- small helpers */

static int64_t now_ms(struct control_plane *cp)
{
    if (cp->cfg.now_ms)
        return cp->cfg.now_ms(cp->cfg.now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_object *timestamp(int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_object_new_string(buf);
}

static void set_error(struct cp_response *out, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct cp_response *out, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(out->body);
    out->error_type = type;
    out->status = aws_error_status(type);
    out->body = aws_error_body_for(type, msg);
}

static void set_json(struct cp_response *out, unsigned status, json_object *o)
{
    free(out->body);
    out->error_type = NULL;
    out->status = status;
    out->body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void random_suffix(char out[11])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[10];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        abort();
    for (int i = 0; i < 10; i++)
        out[i] = abc[r[i] % 62];
    out[10] = '\0';
}

static void runtime_arn(struct control_plane *cp, const char *id, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:runtime/%s", cp->cfg.region,
             cp->cfg.account_id, id);
}

static void endpoint_arn(struct control_plane *cp, const char *id, const char *name, char *out,
                         size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:runtime/%s/runtime-endpoint/%s",
             cp->cfg.region, cp->cfg.account_id, id, name);
}

static json_object *workload_identity(struct control_plane *cp, const char *name)
{
    char arn[512];
    snprintf(arn, sizeof arn,
             "arn:aws:bedrock-agentcore:%s:%s:workload-identity-directory/default/workload-identity/%s",
             cp->cfg.region, cp->cfg.account_id, name);
    json_object *w = json_object_new_object();
    json_object_object_add(w, "workloadIdentityArn", json_object_new_string(arn));
    return w;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : NULL;
}

/* Percent-decodes one path segment; false on a broken escape, NUL, or '/'. */
static bool decode_segment(const char *s, size_t len, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end || v == 0)
                return false;
            c = (char)v;
            i += 2;
        }
        if (o + 1 >= out_len)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* Splits "/a/b/c/" into decoded segments; *trailing tells whether it ended with '/'. */
static int split_path(const char *path, char seg[MAX_SEGMENTS][256], bool *trailing)
{
    if (!path || path[0] != '/')
        return -1;
    int n = 0;
    const char *p = path + 1;
    *trailing = false;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return -1;
        if (n == MAX_SEGMENTS || !decode_segment(p, len, seg[n], sizeof seg[n]))
            return -1;
        n++;
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            *trailing = true;
    }
    return n;
}

/* Value of a query parameter (decoded), or NULL when absent. */
static bool query_param(const char *query, const char *name, char *out, size_t out_len)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=')
            return decode_segment(p + nlen + 1, len - nlen - 1, out, out_len);
        if (len == nlen && strncmp(p, name, nlen) == 0) {
            out[0] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* ---------------------------------------------------------------- paging */

struct page {
    int limit;
    int64_t offset;
};

static bool parse_paging(const char *query, struct page *pg, struct cp_response *out)
{
    char v[300];
    pg->limit = DEFAULT_PAGE;
    pg->offset = 0;
    if (query_param(query, "maxResults", v, sizeof v)) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || end == v || n < 1 || n > MAX_PAGE) {
            set_error(out, AWS_VALIDATION, "maxResults must be between 1 and %d", MAX_PAGE);
            return false;
        }
        pg->limit = (int)n;
    }
    if (query_param(query, "nextToken", v, sizeof v)) {
        char *end;
        long long off = strncmp(v, "silo1-", 6) == 0 ? strtoll(v + 6, &end, 10) : -1;
        if (off < 0 || *end) {
            set_error(out, AWS_VALIDATION, "nextToken is not valid");
            return false;
        }
        pg->offset = off;
    }
    return true;
}

static void add_next_token(json_object *o, const struct page *pg, int returned, bool more)
{
    if (!more)
        return;
    char tok[40];
    snprintf(tok, sizeof tok, "silo1-%lld", (long long)(pg->offset + returned));
    json_object_object_add(o, "nextToken", json_object_new_string(tok));
}

/* ---------------------------------------------------------------- idempotency */

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

/* Returns true when the answer was replayed (or a mismatch reported) into out. */
static bool idempotent_replay(struct control_plane *cp, const char *op, const char *token,
                              const char *hash, struct cp_response *out)
{
    if (!token)
        return false;
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT request_hash, status, response FROM idempotency"
                                                " WHERE operation = ? AND client_token = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_TRANSIENT);
    bool found = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = true;
        if (strcmp(col_text(st, 0), hash) != 0) {
            set_error(out, AWS_CONFLICT, "clientToken was already used with different parameters");
        } else {
            free(out->body);
            out->error_type = NULL;
            out->status = (unsigned)sqlite3_column_int(st, 1);
            out->body = strdup(col_text(st, 2));
        }
    }
    sqlite3_finalize(st);
    return found;
}

static bool idempotent_record(struct control_plane *cp, const char *op, const char *token,
                              const char *hash, const struct cp_response *out)
{
    if (!token)
        return true;
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
    sqlite3_bind_int64(st, 6, now_ms(cp));
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

/* Reads and checks clientToken from the body (or query for deletes). */
static bool client_token(json_object *req, const char *query, char *out, size_t len,
                         bool *present, struct cp_response *resp)
{
    *present = false;
    json_object *v = NULL;
    if (req && json_object_object_get_ex(req, "clientToken", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) >= len) {
            set_error(resp, AWS_VALIDATION, "clientToken must be a string of 33 to 256 characters");
            return false;
        }
        snprintf(out, len, "%s", json_object_get_string(v));
        *present = true;
    } else if (query && query_param(query, "clientToken", out, len)) {
        *present = true;
    }
    if (*present && !cp_valid_client_token(out)) {
        set_error(resp, AWS_VALIDATION, "clientToken must be 33 to 256 characters matching "
                                        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}$");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- row access */

struct runtime_row {
    char id[160];
    char name[64];
    char arn[400];
    int latest_version;
    char status[32];
    char failure_reason[512];
    int64_t created_at, last_updated_at;
};

static bool load_runtime(struct control_plane *cp, const char *id, struct runtime_row *r)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "SELECT id, name, arn, latest_version, status, failure_reason, created_at, last_updated_at"
        " FROM runtimes WHERE id = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(r->id, sizeof r->id, "%s", col_text(st, 0));
        snprintf(r->name, sizeof r->name, "%s", col_text(st, 1));
        snprintf(r->arn, sizeof r->arn, "%s", col_text(st, 2));
        r->latest_version = sqlite3_column_int(st, 3);
        snprintf(r->status, sizeof r->status, "%s", col_text(st, 4));
        snprintf(r->failure_reason, sizeof r->failure_reason, "%s",
                 col_text(st, 5) ? col_text(st, 5) : "");
        r->created_at = sqlite3_column_int64(st, 6);
        r->last_updated_at = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    return found;
}

struct version_row {
    int version;
    char status[32];
    char failure_reason[512];
    char *config;
    int64_t created_at, last_updated_at;
};

static bool load_version(struct control_plane *cp, const char *id, int version, struct version_row *v)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "SELECT version, status, failure_reason, config, created_at, last_updated_at FROM versions"
        " WHERE runtime_id = ? AND version = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, version);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        v->version = sqlite3_column_int(st, 0);
        snprintf(v->status, sizeof v->status, "%s", col_text(st, 1));
        snprintf(v->failure_reason, sizeof v->failure_reason, "%s", col_text(st, 2) ? col_text(st, 2) : "");
        v->config = strdup(col_text(st, 3));
        v->created_at = sqlite3_column_int64(st, 4);
        v->last_updated_at = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    return found;
}

static bool insert_version(struct control_plane *cp, const char *id, int version, const char *config,
                           const char *status, int64_t now)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "INSERT INTO versions (runtime_id, version, config, status, created_at, last_updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, version);
    sqlite3_bind_text(st, 3, config, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, now);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

static bool exec_bound(struct control_plane *cp, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = store_prepare(cp->store, sql);
    if (!st)
        return false;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's') {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i + 1);
        } else if (fmt[i] == 'i') {
            sqlite3_bind_int(st, i + 1, va_arg(ap, int));
        } else {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

/* ---------------------------------------------------------------- tags
 * TagResource (POST /tags/{arn}, {"tags":{k:v}}), UntagResource (DELETE /tags/{arn}?tagKeys=k&…),
 * ListTagsForResource (GET /tags/{arn}) and `tags` on CreateAgentRuntime, for agent runtime
 * ARNs. Kept in the table resource_tags (created on first use). */

static bool tags_valid(json_object *tags, char *msg, size_t len)
{
    if (!json_object_is_type(tags, json_type_object) || json_object_object_length(tags) > 50) {
        snprintf(msg, len, "tags must be a map of at most 50 tags");
        return false;
    }
    json_object_object_foreach(tags, k, v) {
        size_t kl = strlen(k);
        if (kl < 1 || kl > 128 || strncmp(k, "aws:", 4) == 0 || !json_object_is_type(v, json_type_string) ||
            strlen(json_object_get_string(v)) > 256) {
            snprintf(msg, len, "tag keys must be 1 to 128 characters (not aws:), values strings of at most 256");
            return false;
        }
    }
    return true;
}

static bool tags_table(struct control_plane *cp)
{
    return sqlite3_exec(cp->store->db, "CREATE TABLE IF NOT EXISTS resource_tags (arn TEXT NOT NULL, "
                        "key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (arn, key))", NULL, NULL, NULL) == SQLITE_OK;
}

static bool tags_store(struct control_plane *cp, const char *arn, json_object *tags)
{
    bool ok = tags_table(cp);
    json_object_object_foreach(tags, k, v) {
        ok = ok && exec_bound(cp, "INSERT OR REPLACE INTO resource_tags (arn, key, value) VALUES (?, ?, ?)",
                              "sss", arn, k, json_object_get_string(v));
    }
    return ok;
}

static void handle_tags(struct control_plane *cp, const char *method, const char *arn, const char *query,
                        json_object *req, struct cp_response *out)
{
    char msg[256];
    sqlite3_stmt *q = store_prepare(cp->store, "SELECT 1 FROM runtimes WHERE arn = ?");
    bool exists = false;
    if (q) {
        sqlite3_bind_text(q, 1, arn, -1, SQLITE_TRANSIENT);
        exists = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
    }
    if (!exists) {
        set_error(out, AWS_NOT_FOUND, "resource %s not found", arn);
        return;
    }
    if (!tags_table(cp)) {
        set_error(out, AWS_INTERNAL, "could not read the tags");
        return;
    }
    if (strcmp(method, "POST") == 0) {
        json_object *tags = req ? json_object_object_get(req, "tags") : NULL;
        if (!tags || !tags_valid(tags, msg, sizeof msg)) {
            set_error(out, AWS_VALIDATION, "%s", tags ? msg : "tags is required");
            return;
        }
        if (!tags_store(cp, arn, tags)) {
            set_error(out, AWS_INTERNAL, "could not store the tags");
            return;
        }
        set_json(out, 200, json_object_new_object());
    } else if (strcmp(method, "DELETE") == 0) {
        bool ok = true, any = false;
        for (const char *p = query; p && *p;) {
            const char *end = strchr(p, '&');
            size_t l = end ? (size_t)(end - p) : strlen(p);
            char key[256];
            if (l > 8 && strncmp(p, "tagKeys=", 8) == 0 && decode_segment(p + 8, l - 8, key, sizeof key)) {
                any = true;
                ok = ok && exec_bound(cp, "DELETE FROM resource_tags WHERE arn = ? AND key = ?", "ss", arn, key);
            }
            p = end ? end + 1 : NULL;
        }
        if (!any) {
            set_error(out, AWS_VALIDATION, "tagKeys is required");
            return;
        }
        if (!ok) {
            set_error(out, AWS_INTERNAL, "could not remove the tags");
            return;
        }
        set_json(out, 200, json_object_new_object());
    } else {
        json_object *tags = json_object_new_object();
        sqlite3_stmt *l = store_prepare(cp->store, "SELECT key, value FROM resource_tags WHERE arn = ? ORDER BY key");
        if (l) {
            sqlite3_bind_text(l, 1, arn, -1, SQLITE_TRANSIENT);
            while (sqlite3_step(l) == SQLITE_ROW)
                json_object_object_add(tags, (const char *)sqlite3_column_text(l, 0),
                                       json_object_new_string((const char *)sqlite3_column_text(l, 1)));
            sqlite3_finalize(l);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "tags", tags);
        set_json(out, 200, o);
    }
}

/* ---------------------------------------------------------------- runtimes */

static void handle_create_runtime(struct control_plane *cp, json_object *req, struct cp_response *out,
                                  struct pending_build *pb)
{
    char msg[512], token[300];
    bool has_token;
    if (!client_token(req, NULL, token, sizeof token, &has_token, out))
        return;
    json_object *cfg = cp_validate_runtime_request(req, false, msg, sizeof msg);
    if (!cfg) {
        set_error(out, AWS_VALIDATION, "%s", msg);
        return;
    }
    json_object *tags = json_object_object_get(req, "tags");
    if (tags && !tags_valid(tags, msg, sizeof msg)) {
        json_object_put(cfg);
        set_error(out, AWS_VALIDATION, "%s", msg);
        return;
    }
    char hash[65];
    request_hash(req, hash);
    const char *name = json_object_get_string(json_object_object_get(req, "agentRuntimeName"));
    if (!store_begin(cp->store)) {
        json_object_put(cfg);
        set_error(out, AWS_INTERNAL, "database busy");
        return;
    }
    if (idempotent_replay(cp, "CreateAgentRuntime", has_token ? token : NULL, hash, out)) {
        store_commit(cp->store);
        json_object_put(cfg);
        return;
    }
    char suffix[11], id[160], arn[400], ep_id[160];
    random_suffix(suffix);
    snprintf(id, sizeof id, "%s-%s", name, suffix);
    random_suffix(suffix);
    snprintf(ep_id, sizeof ep_id, "DEFAULT-%s", suffix);
    runtime_arn(cp, id, arn, sizeof arn);
    int64_t now = now_ms(cp);
    const char *config = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN);

    sqlite3_stmt *dup = store_prepare(cp->store, "SELECT 1 FROM runtimes WHERE name = ?");
    bool exists = false;
    if (dup) {
        sqlite3_bind_text(dup, 1, name, -1, SQLITE_TRANSIENT);
        exists = sqlite3_step(dup) == SQLITE_ROW;
        sqlite3_finalize(dup);
    }
    if (exists) {
        store_rollback(cp->store);
        json_object_put(cfg);
        set_error(out, AWS_CONFLICT, "an agent runtime named %s already exists", name);
        return;
    }
    bool ok = exec_bound(cp, "INSERT INTO runtimes (id, name, arn, latest_version, status, created_at,"
                             " last_updated_at) VALUES (?, ?, ?, 1, 'CREATING', ?, ?)",
                         "sssII", id, name, arn, now, now) &&
              insert_version(cp, id, 1, config, "CREATING", now) &&
              exec_bound(cp, "INSERT INTO endpoints (runtime_id, name, id, target_version, status,"
                             " created_at, last_updated_at) VALUES (?, 'DEFAULT', ?, 1, 'CREATING', ?, ?)",
                         "ssII", id, ep_id, now, now);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(arn));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "agentRuntimeVersion", json_object_new_string("1"));
    json_object_object_add(o, "createdAt", timestamp(now));
    json_object_object_add(o, "status", json_object_new_string("CREATING"));
    json_object_object_add(o, "workloadIdentityDetails", workload_identity(cp, id));
    set_json(out, 202, o);
    ok = ok && idempotent_record(cp, "CreateAgentRuntime", has_token ? token : NULL, hash, out);
    ok = ok && (!tags || tags_store(cp, arn, tags));
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        json_object_put(cfg);
        set_error(out, AWS_INTERNAL, "could not store the agent runtime");
        return;
    }
    snprintf(pb->runtime_id, sizeof pb->runtime_id, "%s", id);
    pb->version = 1;
    pb->config = strdup(config);
    json_object_put(cfg);
}

static void handle_update_runtime(struct control_plane *cp, const char *id, json_object *req,
                                  struct cp_response *out, struct pending_build *pb)
{
    char msg[512], token[300], op[640];
    bool has_token;
    if (!client_token(req, NULL, token, sizeof token, &has_token, out))
        return;
    json_object *cfg = cp_validate_runtime_request(req, true, msg, sizeof msg);
    if (!cfg) {
        set_error(out, AWS_VALIDATION, "%s", msg);
        return;
    }
    char hash[65];
    request_hash(req, hash);
    snprintf(op, sizeof op, "UpdateAgentRuntime/%s", id);
    if (!store_begin(cp->store)) {
        json_object_put(cfg);
        set_error(out, AWS_INTERNAL, "database busy");
        return;
    }
    struct runtime_row r;
    if (idempotent_replay(cp, op, has_token ? token : NULL, hash, out)) {
        store_commit(cp->store);
        json_object_put(cfg);
        return;
    }
    if (!load_runtime(cp, id, &r)) {
        store_rollback(cp->store);
        json_object_put(cfg);
        set_error(out, AWS_NOT_FOUND, "agent runtime %s not found", id);
        return;
    }
    if (r.latest_version >= MAX_VERSIONS) {
        store_rollback(cp->store);
        json_object_put(cfg);
        set_error(out, AWS_QUOTA, "agent runtime %s has reached %d versions", id, MAX_VERSIONS);
        return;
    }
    int v = r.latest_version + 1;
    int64_t now = now_ms(cp);
    const char *config = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN);
    /* DEFAULT follows the latest version: it targets v and is UPDATING until v is READY */
    bool ok = insert_version(cp, id, v, config, "UPDATING", now) &&
              exec_bound(cp, "UPDATE runtimes SET latest_version = ?, status = 'UPDATING',"
                             " failure_reason = NULL, last_updated_at = ? WHERE id = ?",
                         "iIs", v, now, id) &&
              exec_bound(cp, "UPDATE endpoints SET target_version = ?, status = 'UPDATING',"
                             " failure_reason = NULL, last_updated_at = ? WHERE runtime_id = ? AND name = 'DEFAULT'",
                         "iIs", v, now, id);
    char vs[16];
    snprintf(vs, sizeof vs, "%d", v);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(r.arn));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "agentRuntimeVersion", json_object_new_string(vs));
    json_object_object_add(o, "createdAt", timestamp(r.created_at));
    json_object_object_add(o, "lastUpdatedAt", timestamp(now));
    json_object_object_add(o, "status", json_object_new_string("UPDATING"));
    json_object_object_add(o, "workloadIdentityDetails", workload_identity(cp, id));
    set_json(out, 202, o);
    ok = ok && idempotent_record(cp, op, has_token ? token : NULL, hash, out);
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        json_object_put(cfg);
        set_error(out, AWS_INTERNAL, "could not store the new version");
        return;
    }
    snprintf(pb->runtime_id, sizeof pb->runtime_id, "%s", id);
    pb->version = v;
    pb->config = strdup(config);
    json_object_put(cfg);
}

static void handle_get_runtime(struct control_plane *cp, const char *id, const char *query,
                               struct cp_response *out)
{
    struct runtime_row r;
    if (!load_runtime(cp, id, &r)) {
        set_error(out, AWS_NOT_FOUND, "agent runtime %s not found", id);
        return;
    }
    int version = r.latest_version;
    char vq[32];
    if (query_param(query, "version", vq, sizeof vq)) {
        char *end;
        long n = strtol(vq, &end, 10);
        if (*end || end == vq || n < 1 || n > 99999 || vq[0] == '0') {
            set_error(out, AWS_VALIDATION, "version must match ^([1-9][0-9]{0,4})$");
            return;
        }
        version = (int)n;
    }
    struct version_row v;
    if (!load_version(cp, id, version, &v)) {
        set_error(out, AWS_NOT_FOUND, "version %d of agent runtime %s not found", version, id);
        return;
    }
    json_object *o = json_tokener_parse(v.config);
    if (!o)
        o = json_object_new_object();
    char vs[16];
    snprintf(vs, sizeof vs, "%d", version);
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(r.arn));
    json_object_object_add(o, "agentRuntimeName", json_object_new_string(r.name));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "agentRuntimeVersion", json_object_new_string(vs));
    json_object_object_add(o, "createdAt", timestamp(v.created_at));
    json_object_object_add(o, "lastUpdatedAt", timestamp(v.last_updated_at));
    json_object_object_add(o, "status", json_object_new_string(v.status));
    if (v.failure_reason[0])
        json_object_object_add(o, "failureReason", json_object_new_string(v.failure_reason));
    json_object_object_add(o, "workloadIdentityDetails", workload_identity(cp, id));
    free(v.config);
    set_json(out, 200, o);
}

static void handle_delete_runtime(struct control_plane *cp, const char *id, const char *query,
                                  struct cp_response *out, bool *deleted)
{
    char token[300], vq[32], op[640];
    bool has_token;
    if (!client_token(NULL, query, token, sizeof token, &has_token, out))
        return;
    bool one_version = query_param(query, "version", vq, sizeof vq);
    int version = 0;
    if (one_version) {
        char *end;
        long n = strtol(vq, &end, 10);
        if (*end || end == vq || n < 1 || n > 99999 || vq[0] == '0') {
            set_error(out, AWS_VALIDATION, "version must match ^([1-9][0-9]{0,4})$");
            return;
        }
        version = (int)n;
    }
    char hash[65];
    json_object *h = json_object_new_string(one_version ? vq : "");
    request_hash(h, hash);
    json_object_put(h);
    snprintf(op, sizeof op, "DeleteAgentRuntime/%s", id);
    if (!store_begin(cp->store)) {
        set_error(out, AWS_INTERNAL, "database busy");
        return;
    }
    if (idempotent_replay(cp, op, has_token ? token : NULL, hash, out)) {
        store_commit(cp->store);
        return;
    }
    struct runtime_row r;
    if (!load_runtime(cp, id, &r)) {
        store_rollback(cp->store);
        set_error(out, AWS_NOT_FOUND, "agent runtime %s not found", id);
        return;
    }
    bool ok;
    if (one_version) {
        sqlite3_stmt *st = store_prepare(cp->store,
            "SELECT (SELECT COUNT(*) FROM versions WHERE runtime_id = ?1 AND version = ?2),"
            " (SELECT COUNT(*) FROM endpoints WHERE runtime_id = ?1 AND (live_version = ?2 OR target_version = ?2))");
        int exists = 0, used = 1;
        if (st) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 2, version);
            if (sqlite3_step(st) == SQLITE_ROW) {
                exists = sqlite3_column_int(st, 0);
                used = sqlite3_column_int(st, 1);
            }
            sqlite3_finalize(st);
        }
        if (!exists) {
            store_rollback(cp->store);
            set_error(out, AWS_NOT_FOUND, "version %d of agent runtime %s not found", version, id);
            return;
        }
        if (used || version == r.latest_version) {
            store_rollback(cp->store);
            set_error(out, AWS_CONFLICT, "version %d is the latest or is used by an endpoint", version);
            return;
        }
        ok = exec_bound(cp, "DELETE FROM versions WHERE runtime_id = ? AND version = ?", "si", id, version);
    } else {
        ok = exec_bound(cp, "DELETE FROM endpoints WHERE runtime_id = ?", "s", id) &&
             exec_bound(cp, "DELETE FROM versions WHERE runtime_id = ?", "s", id) &&
             exec_bound(cp, "DELETE FROM runtimes WHERE id = ?", "s", id);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("DELETING"));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    if (one_version)
        json_object_object_add(o, "agentRuntimeVersion", json_object_new_string(vq));
    set_json(out, 202, o);
    ok = ok && idempotent_record(cp, op, has_token ? token : NULL, hash, out);
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        set_error(out, AWS_INTERNAL, "could not delete the agent runtime");
        return;
    }
    *deleted = !one_version;
}

static void list_summaries(struct control_plane *cp, sqlite3_stmt *st, const struct page *pg,
                           struct cp_response *out)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    int n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg->limit) {
            more = true;
            break;
        }
        json_object *cfg = json_tokener_parse(col_text(st, 4));
        json_object *d = NULL;
        const char *desc = cfg && json_object_object_get_ex(cfg, "description", &d) ? json_object_get_string(d) : "";
        char vs[16];
        snprintf(vs, sizeof vs, "%d", sqlite3_column_int(st, 3));
        json_object *it = json_object_new_object();
        json_object_object_add(it, "agentRuntimeArn", json_object_new_string(col_text(st, 2)));
        json_object_object_add(it, "agentRuntimeId", json_object_new_string(col_text(st, 0)));
        json_object_object_add(it, "agentRuntimeVersion", json_object_new_string(vs));
        json_object_object_add(it, "agentRuntimeName", json_object_new_string(col_text(st, 1)));
        json_object_object_add(it, "description", json_object_new_string(desc));
        json_object_object_add(it, "lastUpdatedAt", timestamp(sqlite3_column_int64(st, 6)));
        json_object_object_add(it, "status", json_object_new_string(col_text(st, 5)));
        json_object_array_add(arr, it);
        json_object_put(cfg);
        n++;
    }
    (void)cp;
    json_object_object_add(o, "agentRuntimes", arr);
    add_next_token(o, pg, n, more);
    set_json(out, 200, o);
}

static void handle_list_runtimes(struct control_plane *cp, const char *query, struct cp_response *out)
{
    struct page pg;
    if (!parse_paging(query, &pg, out))
        return;
    sqlite3_stmt *st = store_prepare(cp->store,
        "SELECT r.id, r.name, r.arn, r.latest_version, v.config, r.status, r.last_updated_at"
        " FROM runtimes r JOIN versions v ON v.runtime_id = r.id AND v.version = r.latest_version"
        " ORDER BY r.created_at, r.id LIMIT ? OFFSET ?");
    if (!st) {
        set_error(out, AWS_INTERNAL, "database error");
        return;
    }
    sqlite3_bind_int(st, 1, pg.limit + 1);
    sqlite3_bind_int64(st, 2, pg.offset);
    list_summaries(cp, st, &pg, out);
    sqlite3_finalize(st);
}

static void handle_list_versions(struct control_plane *cp, const char *id, const char *query,
                                 struct cp_response *out)
{
    struct page pg;
    struct runtime_row r;
    if (!parse_paging(query, &pg, out))
        return;
    if (!load_runtime(cp, id, &r)) {
        set_error(out, AWS_NOT_FOUND, "agent runtime %s not found", id);
        return;
    }
    sqlite3_stmt *st = store_prepare(cp->store,
        "SELECT r.id, r.name, r.arn, v.version, v.config, v.status, v.last_updated_at"
        " FROM versions v JOIN runtimes r ON r.id = v.runtime_id WHERE r.id = ?"
        " ORDER BY v.version DESC LIMIT ? OFFSET ?");
    if (!st) {
        set_error(out, AWS_INTERNAL, "database error");
        return;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, pg.limit + 1);
    sqlite3_bind_int64(st, 3, pg.offset);
    list_summaries(cp, st, &pg, out);
    sqlite3_finalize(st);
}

/* ---------------------------------------------------------------- endpoints */

static json_object *endpoint_json(struct control_plane *cp, sqlite3_stmt *st, const char *runtime_arn)
{
    /* columns: runtime_id, name, id, live_version, target_version, description, status,
     * failure_reason, created_at, last_updated_at */
    char arn[600], vs[16];
    endpoint_arn(cp, col_text(st, 0), col_text(st, 1), arn, sizeof arn);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(col_text(st, 1)));
    json_object_object_add(o, "id", json_object_new_string(col_text(st, 2)));
    json_object_object_add(o, "agentRuntimeEndpointArn", json_object_new_string(arn));
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(runtime_arn));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
        snprintf(vs, sizeof vs, "%d", sqlite3_column_int(st, 3));
        json_object_object_add(o, "liveVersion", json_object_new_string(vs));
    }
    snprintf(vs, sizeof vs, "%d", sqlite3_column_int(st, 4));
    json_object_object_add(o, "targetVersion", json_object_new_string(vs));
    if (col_text(st, 5))
        json_object_object_add(o, "description", json_object_new_string(col_text(st, 5)));
    json_object_object_add(o, "status", json_object_new_string(col_text(st, 6)));
    if (col_text(st, 7))
        json_object_object_add(o, "failureReason", json_object_new_string(col_text(st, 7)));
    json_object_object_add(o, "createdAt", timestamp(sqlite3_column_int64(st, 8)));
    json_object_object_add(o, "lastUpdatedAt", timestamp(sqlite3_column_int64(st, 9)));
    return o;
}

#define ENDPOINT_COLUMNS "runtime_id, name, id, live_version, target_version, description, status," \
                         " failure_reason, created_at, last_updated_at"

static json_object *load_endpoint_json(struct control_plane *cp, const struct runtime_row *r,
                                       const char *name)
{
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT " ENDPOINT_COLUMNS
                                                " FROM endpoints WHERE runtime_id = ? AND name = ?");
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    json_object *o = sqlite3_step(st) == SQLITE_ROW ? endpoint_json(cp, st, r->arn) : NULL;
    sqlite3_finalize(st);
    return o;
}

/* Reads agentRuntimeVersion from the body (default: latest) and checks it can be served. */
static bool endpoint_target(struct control_plane *cp, const struct runtime_row *r, json_object *req,
                            int *version, char status_if_pending[32], bool creating, bool *ready,
                            struct cp_response *out)
{
    json_object *v;
    *version = r->latest_version;
    if (json_object_object_get_ex(req, "agentRuntimeVersion", &v)) {
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        char *end;
        long n = strtol(s, &end, 10);
        if (!*s || *end || n < 1 || n > 99999 || s[0] == '0') {
            set_error(out, AWS_VALIDATION, "agentRuntimeVersion must match ^([1-9][0-9]{0,4})$");
            return false;
        }
        *version = (int)n;
    }
    struct version_row vr;
    if (!load_version(cp, r->id, *version, &vr)) {
        set_error(out, AWS_NOT_FOUND, "version %d of agent runtime %s not found", *version, r->id);
        return false;
    }
    free(vr.config);
    if (strstr(vr.status, "FAILED")) {
        set_error(out, AWS_VALIDATION, "version %d failed to build and cannot be served", *version);
        return false;
    }
    *ready = strcmp(vr.status, "READY") == 0;
    snprintf(status_if_pending, 32, "%s", *ready ? "READY" : creating ? "CREATING" : "UPDATING");
    return true;
}

static bool valid_description(json_object *req, const char **desc, struct cp_response *out)
{
    json_object *d;
    *desc = NULL;
    if (!json_object_object_get_ex(req, "description", &d))
        return true;
    if (!json_object_is_type(d, json_type_string) || json_object_get_string_len(d) > 256) {
        set_error(out, AWS_VALIDATION, "description must be a string of at most 256 characters");
        return false;
    }
    *desc = json_object_get_string(d);
    return true;
}

static void handle_create_endpoint(struct control_plane *cp, const char *id, json_object *req,
                                   struct cp_response *out)
{
    char token[300], op[640], hash[65], status[32];
    bool has_token, ready;
    const char *desc;
    if (!req || !json_object_is_type(req, json_type_object)) {
        set_error(out, AWS_VALIDATION, "request body must be a JSON object");
        return;
    }
    if (!client_token(req, NULL, token, sizeof token, &has_token, out) || !valid_description(req, &desc, out))
        return;
    json_object *nm;
    const char *name = json_object_object_get_ex(req, "name", &nm) && json_object_is_type(nm, json_type_string)
                           ? json_object_get_string(nm) : NULL;
    if (!name || !cp_valid_name(name, 47)) {
        set_error(out, AWS_VALIDATION, "name must match ^[a-zA-Z][a-zA-Z0-9_]{0,47}$");
        return;
    }
    request_hash(req, hash);
    snprintf(op, sizeof op, "CreateAgentRuntimeEndpoint/%s", id);
    if (!store_begin(cp->store)) {
        set_error(out, AWS_INTERNAL, "database busy");
        return;
    }
    if (idempotent_replay(cp, op, has_token ? token : NULL, hash, out)) {
        store_commit(cp->store);
        return;
    }
    struct runtime_row r;
    int version;
    if (!load_runtime(cp, id, &r)) {
        store_rollback(cp->store);
        set_error(out, AWS_NOT_FOUND, "agent runtime %s not found", id);
        return;
    }
    if (!endpoint_target(cp, &r, req, &version, status, true, &ready, out)) {
        store_rollback(cp->store);
        return;
    }
    json_object *existing = load_endpoint_json(cp, &r, name);
    if (existing) {
        json_object_put(existing);
        store_rollback(cp->store);
        set_error(out, AWS_CONFLICT, "endpoint %s already exists", name);
        return;
    }
    sqlite3_stmt *cnt = store_prepare(cp->store, "SELECT COUNT(*) FROM endpoints WHERE runtime_id = ?");
    int count = MAX_ENDPOINTS;
    if (cnt) {
        sqlite3_bind_text(cnt, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(cnt) == SQLITE_ROW)
            count = sqlite3_column_int(cnt, 0);
        sqlite3_finalize(cnt);
    }
    if (count >= MAX_ENDPOINTS) {
        store_rollback(cp->store);
        set_error(out, AWS_QUOTA, "agent runtime %s already has %d endpoints", id, MAX_ENDPOINTS);
        return;
    }
    char suffix[11], ep_id[160], arn[600], vs[16];
    random_suffix(suffix);
    snprintf(ep_id, sizeof ep_id, "%s-%s", name, suffix);
    int64_t now = now_ms(cp);
    bool ok = exec_bound(cp, "INSERT INTO endpoints (runtime_id, name, id, live_version, target_version,"
                             " description, status, created_at, last_updated_at)"
                             " VALUES (?, ?, ?, CASE WHEN ? = 1 THEN ? ELSE NULL END, ?, ?, ?, ?, ?)",
                         "sssiiissII", id, name, ep_id, ready ? 1 : 0, version, version, desc, status,
                         now, now);
    endpoint_arn(cp, id, name, arn, sizeof arn);
    snprintf(vs, sizeof vs, "%d", version);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "targetVersion", json_object_new_string(vs));
    json_object_object_add(o, "agentRuntimeEndpointArn", json_object_new_string(arn));
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(r.arn));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "endpointName", json_object_new_string(name));
    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "createdAt", timestamp(now));
    set_json(out, 202, o);
    ok = ok && idempotent_record(cp, op, has_token ? token : NULL, hash, out);
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        set_error(out, AWS_INTERNAL, "could not store the endpoint");
    }
}

static void handle_update_endpoint(struct control_plane *cp, const char *id, const char *name,
                                   json_object *req, struct cp_response *out)
{
    char token[300], op[640], hash[65], status[32];
    bool has_token, ready;
    const char *desc;
    if (!req || !json_object_is_type(req, json_type_object)) {
        set_error(out, AWS_VALIDATION, "request body must be a JSON object");
        return;
    }
    if (!client_token(req, NULL, token, sizeof token, &has_token, out) || !valid_description(req, &desc, out))
        return;
    if (strcmp(name, "DEFAULT") == 0) {
        set_error(out, AWS_VALIDATION, "the DEFAULT endpoint always follows the latest version");
        return;
    }
    request_hash(req, hash);
    snprintf(op, sizeof op, "UpdateAgentRuntimeEndpoint/%s/%s", id, name);
    if (!store_begin(cp->store)) {
        set_error(out, AWS_INTERNAL, "database busy");
        return;
    }
    if (idempotent_replay(cp, op, has_token ? token : NULL, hash, out)) {
        store_commit(cp->store);
        return;
    }
    struct runtime_row r;
    int version;
    json_object *existing = NULL;
    if (!load_runtime(cp, id, &r) || !(existing = load_endpoint_json(cp, &r, name))) {
        store_rollback(cp->store);
        set_error(out, AWS_NOT_FOUND, "endpoint %s of agent runtime %s not found", name, id);
        return;
    }
    json_object_put(existing);
    if (!endpoint_target(cp, &r, req, &version, status, false, &ready, out)) {
        store_rollback(cp->store);
        return;
    }
    int64_t now = now_ms(cp);
    /* zero downtime: liveVersion moves only when the target is READY */
    bool ok = exec_bound(cp, "UPDATE endpoints SET target_version = ?, status = ?, failure_reason = NULL,"
                             " description = COALESCE(?, description), last_updated_at = ? WHERE runtime_id = ? AND name = ?",
                         "issIss", version, status, desc, now, id, name) &&
              (!ready || exec_bound(cp, "UPDATE endpoints SET live_version = target_version WHERE runtime_id = ? AND name = ?",
                                    "ss", id, name));
    json_object *o = load_endpoint_json(cp, &r, name);
    if (!o) {
        ok = false;
        o = json_object_new_object();
    }
    json_object_object_del(o, "name");
    json_object_object_del(o, "id");
    json_object_object_del(o, "description");
    json_object_object_del(o, "failureReason");
    set_json(out, 202, o);
    ok = ok && idempotent_record(cp, op, has_token ? token : NULL, hash, out);
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        set_error(out, AWS_INTERNAL, "could not update the endpoint");
    }
}

static void handle_get_endpoint(struct control_plane *cp, const char *id, const char *name,
                                struct cp_response *out)
{
    struct runtime_row r;
    json_object *o = NULL;
    if (!load_runtime(cp, id, &r) || !(o = load_endpoint_json(cp, &r, name))) {
        set_error(out, AWS_NOT_FOUND, "endpoint %s of agent runtime %s not found", name, id);
        return;
    }
    set_json(out, 200, o);
}

static void handle_delete_endpoint(struct control_plane *cp, const char *id, const char *name,
                                   const char *query, struct cp_response *out)
{
    char token[300], op[640], hash[65];
    bool has_token;
    if (!client_token(NULL, query, token, sizeof token, &has_token, out))
        return;
    if (strcmp(name, "DEFAULT") == 0) {
        set_error(out, AWS_VALIDATION, "the DEFAULT endpoint is deleted with its agent runtime");
        return;
    }
    json_object *h = json_object_new_string(name);
    request_hash(h, hash);
    json_object_put(h);
    snprintf(op, sizeof op, "DeleteAgentRuntimeEndpoint/%s/%s", id, name);
    if (!store_begin(cp->store)) {
        set_error(out, AWS_INTERNAL, "database busy");
        return;
    }
    if (idempotent_replay(cp, op, has_token ? token : NULL, hash, out)) {
        store_commit(cp->store);
        return;
    }
    struct runtime_row r;
    json_object *existing = NULL;
    if (!load_runtime(cp, id, &r) || !(existing = load_endpoint_json(cp, &r, name))) {
        store_rollback(cp->store);
        set_error(out, AWS_NOT_FOUND, "endpoint %s of agent runtime %s not found", name, id);
        return;
    }
    json_object_put(existing);
    bool ok = exec_bound(cp, "DELETE FROM endpoints WHERE runtime_id = ? AND name = ?", "ss", id, name);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("DELETING"));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "endpointName", json_object_new_string(name));
    set_json(out, 202, o);
    ok = ok && idempotent_record(cp, op, has_token ? token : NULL, hash, out);
    if (!ok || !store_commit(cp->store)) {
        store_rollback(cp->store);
        set_error(out, AWS_INTERNAL, "could not delete the endpoint");
    }
}

static void handle_list_endpoints(struct control_plane *cp, const char *id, const char *query,
                                  struct cp_response *out)
{
    struct page pg;
    struct runtime_row r;
    if (!parse_paging(query, &pg, out))
        return;
    if (!load_runtime(cp, id, &r)) {
        set_error(out, AWS_NOT_FOUND, "agent runtime %s not found", id);
        return;
    }
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT " ENDPOINT_COLUMNS " FROM endpoints"
                                                " WHERE runtime_id = ? ORDER BY created_at, name LIMIT ? OFFSET ?");
    if (!st) {
        set_error(out, AWS_INTERNAL, "database error");
        return;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, pg.limit + 1);
    sqlite3_bind_int64(st, 3, pg.offset);
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    int n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = true;
            break;
        }
        json_object_array_add(arr, endpoint_json(cp, st, r.arn));
        n++;
    }
    sqlite3_finalize(st);
    json_object_object_add(o, "runtimeEndpoints", arr);
    add_next_token(o, &pg, n, more);
    set_json(out, 200, o);
}

/* ---------------------------------------------------------------- routing */

bool control_plane_owns(const char *method, const char *raw_path)
{
    char seg[MAX_SEGMENTS][256];
    bool trailing;
    int n = split_path(raw_path, seg, &trailing);
    if (n == 2 && strcmp(seg[0], "tags") == 0)
        return !trailing && (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
                             strcmp(method, "DELETE") == 0);
    if (n < 1 || strcmp(seg[0], "runtimes") != 0)
        return false;
    if (n == 1)
        return true;
    if (n == 2)
        return trailing && (strcmp(method, "GET") == 0 || strcmp(method, "PUT") == 0 ||
                            strcmp(method, "DELETE") == 0);
    if (n == 3)
        return strcmp(seg[2], "versions") == 0 || strcmp(seg[2], "runtime-endpoints") == 0;
    return n == 4 && strcmp(seg[2], "runtime-endpoints") == 0;
}

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

void control_plane_handle(struct control_plane *cp, const char *method, const char *raw_path,
                          const char *query, const char *body, size_t body_len,
                          struct cp_response *out)
{
    memset(out, 0, sizeof *out);
    char seg[MAX_SEGMENTS][256];
    bool trailing;
    int n = split_path(raw_path, seg, &trailing);
    json_object *req = NULL;
    if (body_len) {
        json_tokener *tok = json_tokener_new();
        req = json_tokener_parse_ex(tok, body, (int)body_len);
        bool bad = json_tokener_get_error(tok) != json_tokener_success || body_len > INT32_MAX ||
                   !json_object_is_type(req, json_type_object);
        json_tokener_free(tok);
        if (bad) {
            json_object_put(req);
            set_error(out, AWS_VALIDATION, "request body is not a JSON object");
            return;
        }
    }
    struct pending_build pb = { .version = 0 };
    bool deleted = false;
    const char *id = n >= 2 ? seg[1] : NULL;
    bool is_get = strcmp(method, "GET") == 0, is_put = strcmp(method, "PUT") == 0;
    bool is_post = strcmp(method, "POST") == 0, is_del = strcmp(method, "DELETE") == 0;

    pthread_mutex_lock(&cp->lock);
    if (n == 2 && strcmp(seg[0], "tags") == 0 && !trailing) {
        handle_tags(cp, method, seg[1], query, req, out);
    } else if (n < 1 || strcmp(seg[0], "runtimes") != 0 || (n >= 1 && !trailing)) {
        set_error(out, AWS_UNKNOWN_OPERATION, "no such operation");
    } else if (id && !runtime_id_well_formed(id)) {
        /* AgentCore checks the id's pattern before looking it up: 400, not 404 */
        set_error(out, AWS_VALIDATION, "agentRuntimeId must match %s", "[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}");
    } else if (n == 1 && is_put) {
        handle_create_runtime(cp, req, out, &pb);
    } else if (n == 1 && is_post) {
        handle_list_runtimes(cp, query, out);
    } else if (n == 2 && is_get) {
        handle_get_runtime(cp, id, query, out);
    } else if (n == 2 && is_put) {
        handle_update_runtime(cp, id, req, out, &pb);
    } else if (n == 2 && is_del) {
        handle_delete_runtime(cp, id, query, out, &deleted);
    } else if (n == 3 && is_post && strcmp(seg[2], "versions") == 0) {
        handle_list_versions(cp, id, query, out);
    } else if (n == 3 && is_put && strcmp(seg[2], "runtime-endpoints") == 0) {
        handle_create_endpoint(cp, id, req, out);
    } else if (n == 3 && is_post && strcmp(seg[2], "runtime-endpoints") == 0) {
        handle_list_endpoints(cp, id, query, out);
    } else if (n == 4 && strcmp(seg[2], "runtime-endpoints") == 0 && is_get) {
        handle_get_endpoint(cp, id, seg[3], out);
    } else if (n == 4 && strcmp(seg[2], "runtime-endpoints") == 0 && is_put) {
        handle_update_endpoint(cp, id, seg[3], req, out);
    } else if (n == 4 && strcmp(seg[2], "runtime-endpoints") == 0 && is_del) {
        handle_delete_endpoint(cp, id, seg[3], query, out);
    } else {
        set_error(out, AWS_UNKNOWN_OPERATION, "no such operation");
    }
    pthread_mutex_unlock(&cp->lock);
    json_object_put(req);

    /* outside the lock: the builder may report back synchronously */
    if (pb.version && cp->cfg.builder.submit)
        cp->cfg.builder.submit(cp->cfg.builder.ctx, pb.runtime_id, pb.version, pb.config);
    else if (pb.version)
        control_plane_version_built(cp, pb.runtime_id, pb.version, false, "no image builder configured");
    free(pb.config);
    if (deleted && cp->cfg.runtime_deleted)
        cp->cfg.runtime_deleted(cp->cfg.runtime_deleted_ctx, id);
}

void control_plane_version_built(struct control_plane *cp, const char *runtime_id, int version,
                                 bool ok, const char *failure_reason)
{
    pthread_mutex_lock(&cp->lock);
    int64_t now = now_ms(cp);
    struct runtime_row r;
    if (!store_begin(cp->store)) {
        pthread_mutex_unlock(&cp->lock);
        return;
    }
    if (!load_runtime(cp, runtime_id, &r)) {      /* deleted while building */
        store_rollback(cp->store);
        pthread_mutex_unlock(&cp->lock);
        return;
    }
    const char *failed = version == 1 ? "CREATE_FAILED" : "UPDATE_FAILED";
    const char *reason = ok ? NULL : (failure_reason ? failure_reason : "image build failed");
    bool done =
        exec_bound(cp, "UPDATE versions SET status = ?, failure_reason = ?, last_updated_at = ?"
                       " WHERE runtime_id = ? AND version = ? AND status IN ('CREATING', 'UPDATING')",
                   "ssIsi", ok ? "READY" : failed, reason, now, runtime_id, version) &&
        (version != r.latest_version ||
         exec_bound(cp, "UPDATE runtimes SET status = ?, failure_reason = ?, last_updated_at = ? WHERE id = ?",
                    "ssIs", ok ? "READY" : failed, reason, now, runtime_id)) &&
        (ok ? exec_bound(cp, "UPDATE endpoints SET live_version = target_version, status = 'READY',"
                             " failure_reason = NULL, last_updated_at = ? WHERE runtime_id = ? AND target_version = ?",
                         "Isi", now, runtime_id, version)
            : exec_bound(cp, "UPDATE endpoints SET status = CASE WHEN live_version IS NULL THEN 'CREATE_FAILED'"
                             " ELSE 'UPDATE_FAILED' END, failure_reason = ?, last_updated_at = ?"
                             " WHERE runtime_id = ? AND target_version = ?",
                         "sIsi", reason, now, runtime_id, version));
    if (done)
        store_commit(cp->store);
    else
        store_rollback(cp->store);
    pthread_mutex_unlock(&cp->lock);
}

unsigned control_plane_resume_builds(struct control_plane *cp)
{
    struct pending_build *jobs = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&cp->lock);
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT runtime_id, version, config FROM versions"
                                                " WHERE status IN ('CREATING', 'UPDATING') ORDER BY created_at");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            jobs = realloc(jobs, cap * sizeof *jobs);
            if (!jobs)
                abort();
        }
        snprintf(jobs[n].runtime_id, sizeof jobs[n].runtime_id, "%s", (const char *)sqlite3_column_text(st, 0));
        jobs[n].version = sqlite3_column_int(st, 1);
        jobs[n].config = strdup((const char *)sqlite3_column_text(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cp->lock);
    for (size_t i = 0; i < n; i++) {      /* outside the lock: a builder may report at once */
        if (cp->cfg.builder.submit)
            cp->cfg.builder.submit(cp->cfg.builder.ctx, jobs[i].runtime_id, jobs[i].version, jobs[i].config);
        free(jobs[i].config);
    }
    free(jobs);
    return (unsigned)n;
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
        } else if (sqlite3_column_type(st, 0) == SQLITE_NULL || !col_text(st, 1)) {
            err = AWS_NOT_FOUND;
            snprintf(msg, msg_len, "endpoint %s has no READY version yet", q);
        } else {
            out->version = sqlite3_column_int(st, 0);
            out->config_json = strdup(col_text(st, 1));
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
