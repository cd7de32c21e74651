/* frontend/control_plane_tags.c — tags on agent runtimes and their endpoints: TagResource
 * (POST /tags/{arn}, {"tags":{k:v}}), UntagResource (DELETE /tags/{arn}?tagKeys=k&…),
 * ListTagsForResource (GET /tags/{arn}) and `tags` on CreateAgentRuntime and
 * CreateAgentRuntimeEndpoint. Kept in the table resource_tags (created on first use); the
 * resource is named by its exact ARN, so an ARN of another partition, region or account names
 * nothing here. A resource's tags go with it when it is deleted. */
#include "frontend/control_plane_internal.h"

#include <stdio.h>
#include <string.h>

#include "frontend/aws_error.h"
#include "base/url.h"

/* No control character (NUL included) in a tag's key or value. */
static bool tag_text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

bool cpl_tags_valid(json_object *tags, char *msg, size_t len)
{
    if (!json_object_is_type(tags, json_type_object) || json_object_object_length(tags) > 50) {
        snprintf(msg, len, "tags must be a map of at most 50 tags");
        return false;
    }
    json_object_object_foreach(tags, k, v) {
        size_t kl = strlen(k);
        if (kl < 1 || kl > 128 || strncmp(k, "aws:", 4) == 0 || !json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) > 256 || !tag_text_ok(k, kl) ||
            !tag_text_ok(json_object_get_string(v), (size_t)json_object_get_string_len(v))) {
            snprintf(msg, len, "tag keys must be 1 to 128 characters (not aws:), values strings of at most "
                               "256, neither with control characters");
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

bool cpl_tags_store(struct control_plane *cp, const char *arn, json_object *tags)
{
    bool ok = tags_table(cp);
    json_object_object_foreach(tags, k, v) {
        ok = ok && cpl_exec_bound(cp, "INSERT OR REPLACE INTO resource_tags (arn, key, value) VALUES (?, ?, ?)",
                                 "sss", arn, k, json_object_get_string(v));
    }
    return ok;
}

bool cpl_tags_forget(struct control_plane *cp, const char *arn)
{
    char children[640];
    snprintf(children, sizeof children, "%s/runtime-endpoint/%%", arn);
    return tags_table(cp) &&
           cpl_exec_bound(cp, "DELETE FROM resource_tags WHERE arn = ? OR arn LIKE ?", "ss", arn, children);
}

/* Whether arn is an existing runtime's ARN, or an existing endpoint's ARN exactly as
 * cpl_endpoint_arn builds it. */
static bool resource_exists(struct control_plane *cp, const char *arn)
{
    char runtime_arn[600], id[160] = "";
    const char *sep = strstr(arn, "/runtime-endpoint/");
    size_t rl = sep ? (size_t)(sep - arn) : strlen(arn);
    if (rl >= sizeof runtime_arn)
        return false;
    memcpy(runtime_arn, arn, rl);
    runtime_arn[rl] = 0;
    sqlite3_stmt *q = store_prepare(cp->store, "SELECT id FROM runtimes WHERE arn = ?");
    if (!q)
        return false;
    sqlite3_bind_text(q, 1, runtime_arn, -1, SQLITE_TRANSIENT);
    bool exists = sqlite3_step(q) == SQLITE_ROW && snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(q, 0)) < (int)sizeof id;
    sqlite3_finalize(q);
    if (!exists || !sep)
        return exists;
    const char *name = sep + strlen("/runtime-endpoint/");
    char built[600];
    cpl_endpoint_arn(cp, id, name, built, sizeof built);
    if (strcmp(built, arn) != 0)
        return false;
    q = store_prepare(cp->store, "SELECT 1 FROM endpoints WHERE runtime_id = ? AND name = ?");
    if (!q)
        return false;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
    exists = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return exists;
}

/* The tagged resource exists and the tags table is there; else the error in call->out. */
static bool tagged_resource(struct cpl_call *call)
{
    bool exists = resource_exists(call->cp, call->arn);
    if (!exists) {
        cpl_set_error(call->out, AWS_NOT_FOUND, "resource %s not found", call->arn);
        return false;
    }
    if (!tags_table(call->cp)) {
        cpl_set_error(call->out, AWS_INTERNAL, "could not read the tags");
        return false;
    }
    return true;
}

void cpl_tag_resource(struct cpl_call *call)
{
    char msg[256];
    if (!tagged_resource(call))
        return;
    json_object *tags = call->req ? json_object_object_get(call->req, "tags") : NULL;
    if (!tags || !cpl_tags_valid(tags, msg, sizeof msg)) {
        cpl_set_error(call->out, AWS_VALIDATION, "%s", tags ? msg : "tags is required");
        return;
    }
    if (!cpl_tags_store(call->cp, call->arn, tags)) {
        cpl_set_error(call->out, AWS_INTERNAL, "could not store the tags");
        return;
    }
    control_plane_answer_json(call->out, 200, json_object_new_object());
}

void cpl_untag_resource(struct cpl_call *call)
{
    if (!tagged_resource(call))
        return;
    bool ok = true, any = false;
    for (const char *p = call->query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        char key[256];
        if (l > 8 && strncmp(p, "tagKeys=", 8) == 0 && url_decode(p + 8, l - 8, key, sizeof key) >= 0) {
            any = true;
            ok = ok && cpl_exec_bound(call->cp, "DELETE FROM resource_tags WHERE arn = ? AND key = ?", "ss",
                                     call->arn, key);
        }
        p = end ? end + 1 : NULL;
    }
    if (!any) {
        cpl_set_error(call->out, AWS_VALIDATION, "tagKeys is required");
        return;
    }
    if (!ok) {
        cpl_set_error(call->out, AWS_INTERNAL, "could not remove the tags");
        return;
    }
    control_plane_answer_json(call->out, 200, json_object_new_object());
}

void cpl_list_tags(struct cpl_call *call)
{
    if (!tagged_resource(call))
        return;
    json_object *tags = json_object_new_object();
    sqlite3_stmt *l = store_prepare(call->cp->store, "SELECT key, value FROM resource_tags WHERE arn = ? ORDER BY key");
    if (l) {
        sqlite3_bind_text(l, 1, call->arn, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(l) == SQLITE_ROW)
            json_object_object_add(tags, (const char *)sqlite3_column_text(l, 0),
                                   json_object_new_string((const char *)sqlite3_column_text(l, 1)));
        sqlite3_finalize(l);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tags", tags);
    control_plane_answer_json(call->out, 200, o);
}
