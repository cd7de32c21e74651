/* frontend/control_plane_common.c — the small pieces every control-plane operation uses: its
 * answer (JSON or a restJson1 error), ARNs and ids, timestamps, query values and paging (see
 * control_plane_internal.h). */
#include "frontend/control_plane_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "frontend/aws_error.h"
#include "base/url.h"
#include "frontend/identity_store.h"

#define DEFAULT_PAGE 10
#define MAX_PAGE 100

int64_t cpl_now_ms(struct control_plane *cp)
{
    if (cp->cfg.now_ms)
        return cp->cfg.now_ms(cp->cfg.now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_object *cpl_timestamp(int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_object_new_string(buf);
}

void control_plane_answer_error(struct control_plane_response *out, const char *type, const char *message)
{
    free(out->body);
    out->error_type = type;
    out->status = aws_error_status(type);
    out->body = aws_error_body_for(type, message);
}

void control_plane_answer_json(struct control_plane_response *out, unsigned status, json_object *o)
{
    free(out->body);
    out->error_type = NULL;
    out->status = status;
    out->body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

void cpl_set_error(struct control_plane_response *out, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    control_plane_answer_error(out, type, msg);
}

void cpl_random_suffix(char out[11])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[10];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        abort();
    for (int i = 0; i < 10; i++)
        out[i] = abc[r[i] % 62];
    out[10] = '\0';
}

/* Every ARN silod makes: partition aws, service bedrock-agentcore, its own region and account
 * (control_plane_resolve checks an ARN it is given against the same prefix). */
void cpl_runtime_arn(struct control_plane *cp, const char *id, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:runtime/%s", cp->cfg.region,
             cp->cfg.account_id, id);
}

void cpl_endpoint_arn(struct control_plane *cp, const char *id, const char *name, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:runtime/%s/runtime-endpoint/%s",
             cp->cfg.region, cp->cfg.account_id, id, name);
}

json_object *cpl_workload_identity(struct control_plane *cp, const char *name)
{
    char arn[512];
    snprintf(arn, sizeof arn,
             "arn:aws:bedrock-agentcore:%s:%s:workload-identity-directory/default/workload-identity/%s",
             cp->cfg.region, cp->cfg.account_id, name);
    json_object *w = json_object_new_object();
    json_object_object_add(w, "workloadIdentityArn", json_object_new_string(arn));
    return w;
}

/* A runtime's workload identity (AgentCore makes one per runtime, named after it): its row in
 * identity_store's tables, written in the control plane's transaction. */
bool cpl_workload_identity_create(struct control_plane *cp, const char *runtime_id, int64_t now_ms)
{
    char arn[512], err[256];
    json_object *w = cpl_workload_identity(cp, runtime_id);
    json_object *a;
    json_object_object_get_ex(w, "workloadIdentityArn", &a);
    snprintf(arn, sizeof arn, "%s", json_object_get_string(a));
    json_object_put(w);
    enum idstore_rc rc = idstore_workload_create(cp->store->db, runtime_id, arn, NULL, now_ms, err, sizeof err);
    if (rc != ID_OK)
        fprintf(stderr, "silod: workload identity %s not created: %s\n", runtime_id, idstore_rc_text(rc));
    return rc == ID_OK;
}

bool cpl_workload_identity_delete(struct control_plane *cp, const char *runtime_id)
{
    enum idstore_rc rc = idstore_workload_delete(cp->store->db, runtime_id);
    return rc == ID_OK || rc == ID_NOT_FOUND;   /* runtimes made before identities had none */
}

bool cpl_query_param(const char *query, const char *name, char *out, size_t len)
{
    return url_query_param(query, name, out, len) == 1;
}

bool cpl_parse_version(const char *s, int *version)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (!*s || *end || n < 1 || n > 99999 || s[0] < '1' || s[0] > '9')
        return false;
    *version = (int)n;
    return true;
}

bool cpl_parse_paging(const char *query, struct cpl_page *pg, struct control_plane_response *out)
{
    char v[300];
    pg->limit = DEFAULT_PAGE;
    pg->offset = 0;
    if (cpl_query_param(query, "maxResults", v, sizeof v)) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || end == v || n < 1 || n > MAX_PAGE) {
            cpl_set_error(out, AWS_VALIDATION, "maxResults must be between 1 and %d", MAX_PAGE);
            return false;
        }
        pg->limit = (int)n;
    }
    if (cpl_query_param(query, "nextToken", v, sizeof v)) {
        char *end;
        long long off = strncmp(v, "silo1-", 6) == 0 ? strtoll(v + 6, &end, 10) : -1;
        if (off < 0 || *end) {
            cpl_set_error(out, AWS_VALIDATION, "nextToken is not valid");
            return false;
        }
        pg->offset = off;
    }
    return true;
}

void cpl_add_next_token(json_object *o, const struct cpl_page *pg, int returned, bool more)
{
    if (!more)
        return;
    char tok[40];
    snprintf(tok, sizeof tok, "silo1-%lld", (long long)(pg->offset + returned));
    json_object_object_add(o, "nextToken", json_object_new_string(tok));
}
