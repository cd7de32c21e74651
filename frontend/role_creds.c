/* frontend/role_creds.c — the execution role's credentials (see role_creds.h). */
#include "frontend/role_creds.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"

#define MAX_VENDED 256
#define PROCESS_TIMEOUT_MS 10000
#define PROCESS_MAX_OUTPUT (64 * 1024)
#define REFRESH_MARGIN_S 300


struct vended {
    char access_key_id[129];
    char secret_access_key[129];
    char session_token[4097];
    char principal[2100];
    char role_arn[2049];
    time_t expires;           /* unix seconds; 0: never (static keys) */
    bool used;
    struct sigv4_key key;     /* points into the arrays above */
};

struct role_creds {
    pthread_mutex_t lock;
    json_object *statics;     /* the "static" object, or NULL */
    char *process;
    unsigned duration_s;
    struct vended *table;     /* MAX_VENDED entries */
};

bool role_creds_is_role_principal(const char *principal)
{
    return principal && strncmp(principal, "role:", 5) == 0;
}

static bool short_string(json_object *o, size_t max)
{
    return o && json_object_is_type(o, json_type_string) && json_object_get_string_len(o) > 0 &&
           (size_t)json_object_get_string_len(o) <= max &&
           strlen(json_object_get_string(o)) == (size_t)json_object_get_string_len(o);
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

struct role_creds *role_creds_new(const char *config_json, char *err, size_t err_len)
{
    struct role_creds *rc = calloc(1, sizeof *rc);
    if (!rc || !(rc->table = calloc(MAX_VENDED, sizeof *rc->table))) {
        free(rc);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&rc->lock, NULL);
    rc->duration_s = 3600;
    if (!config_json)
        return rc;
    json_object *cfg = json_tokener_parse(config_json);
    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        snprintf(err, err_len, "role_credentials must be an object");
        goto fail;
    }
    json_object_object_foreach(cfg, key, val) {
        if (strcmp(key, "static") == 0) {
            if (!json_object_is_type(val, json_type_object)) {
                snprintf(err, err_len, "role_credentials.static must be an object of roleArn → keys");
                goto fail;
            }
            json_object_object_foreach(val, role, keys) {
                json_object *tok = member(keys, "session_token");
                if (!json_object_is_type(keys, json_type_object) || !short_string(member(keys, "access_key_id"), 128) ||
                    !short_string(member(keys, "secret_access_key"), 128) ||
                    (tok && !json_object_is_type(tok, json_type_null) && !short_string(tok, 4096)) ||
                    strlen(role) > 2048) {
                    snprintf(err, err_len, "role_credentials.static[\"%.200s\"] wants access_key_id and "
                             "secret_access_key (≤128 chars) and an optional session_token", role);
                    goto fail;
                }
            }
            rc->statics = json_object_get(val);
        } else if (strcmp(key, "process") == 0) {
            if (!short_string(val, 4096) || json_object_get_string(val)[0] != '/') {
                snprintf(err, err_len, "role_credentials.process must be an absolute path");
                goto fail;
            }
            rc->process = strdup(json_object_get_string(val));
        } else if (strcmp(key, "duration_s") == 0) {
            int64_t d = json_object_get_int64(val);
            if (!json_object_is_type(val, json_type_int) || d < 900 || d > 43200) {
                snprintf(err, err_len, "role_credentials.duration_s must be an integer 900..43200");
                goto fail;
            }
            rc->duration_s = (unsigned)d;
        } else {
            snprintf(err, err_len, "role_credentials: unknown key \"%.100s\"", key);
            goto fail;
        }
    }
    json_object_put(cfg);
    return rc;
fail:
    json_object_put(cfg);
    role_creds_free(rc);
    return NULL;
}

void role_creds_free(struct role_creds *rc)
{
    if (!rc)
        return;
    if (rc->table)
        explicit_bzero(rc->table, MAX_VENDED * sizeof *rc->table);
    free(rc->table);
    json_object_put(rc->statics);
    free(rc->process);
    pthread_mutex_destroy(&rc->lock);
    free(rc);
}

/* A free slot: unused, or expired for over an hour (no request can still be verifying with it). */
static struct vended *free_slot(struct role_creds *rc, time_t now)
{
    for (size_t i = 0; i < MAX_VENDED; i++)
        if (!rc->table[i].used || (rc->table[i].expires && rc->table[i].expires + 3600 < now))
            return &rc->table[i];
    return NULL;
}

/* A still-good vending of role (≥ REFRESH_MARGIN_S left), or NULL. */
static struct vended *cached(struct role_creds *rc, const char *role, time_t now)
{
    for (size_t i = 0; i < MAX_VENDED; i++) {
        struct vended *v = &rc->table[i];
        if (v->used && strcmp(v->role_arn, role) == 0 && (!v->expires || v->expires - REFRESH_MARGIN_S > now))
            return v;
    }
    return NULL;
}

static struct vended *store(struct role_creds *rc, const char *role, const char *akid, const char *secret,
                            const char *token, time_t expires, time_t now)
{
    struct vended *v = free_slot(rc, now);
    if (!v || strlen(akid) >= sizeof v->access_key_id || strlen(secret) >= sizeof v->secret_access_key ||
        (token && strlen(token) >= sizeof v->session_token) || strlen(role) >= sizeof v->role_arn)
        return NULL;
    /* a key id already in the table (static keys of another role, an earlier vending): reuse */
    for (size_t i = 0; i < MAX_VENDED; i++)
        if (rc->table[i].used && strcmp(rc->table[i].access_key_id, akid) == 0)
            v = &rc->table[i];
    snprintf(v->access_key_id, sizeof v->access_key_id, "%s", akid);
    snprintf(v->secret_access_key, sizeof v->secret_access_key, "%s", secret);
    snprintf(v->session_token, sizeof v->session_token, "%s", token ? token : "");
    snprintf(v->role_arn, sizeof v->role_arn, "%s", role);
    snprintf(v->principal, sizeof v->principal, "role:%s", role);
    v->expires = expires;
    v->key = (struct sigv4_key){ v->access_key_id, v->secret_access_key, token && *token ? v->session_token : NULL,
                                 v->principal };
    v->used = true;
    return v;
}

/* "2026-12-04T20:00:00Z" (fractional seconds and "+00:00" accepted) → unix seconds, or -1 */
static time_t parse_expiration(const char *s)
{
    struct tm tm = { 0 };
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    if (*end == '.')
        while (*++end >= '0' && *end <= '9')
            ;
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1;
    return timegm(&tm);
}

/* Runs the credential_process command; its stdout (NUL-terminated, malloc) or NULL with why. */
static char *run_process(const char *cmd, const char *role, const char *session_id, char *why, size_t why_len)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *const argv[] = { (char *)cmd, (char *)role, (char *)session_id, NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, cmd, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        snprintf(why, why_len, "cannot run the credential process: %s", strerror(rc));
        return NULL;
    }
    char *buf = malloc(PROCESS_MAX_OUTPUT + 1);
    size_t len = 0;
    int64_t deadline = mono_ms() + PROCESS_TIMEOUT_MS;
    bool ok = buf != NULL;
    while (ok) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            snprintf(why, why_len, "the credential process did not finish within %d s", PROCESS_TIMEOUT_MS / 1000);
            ok = false;
            break;
        }
        ssize_t n = read(pipefd[0], buf + len, PROCESS_MAX_OUTPUT - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0 || (len += (size_t)n) >= PROCESS_MAX_OUTPUT) {
            snprintf(why, why_len, "the credential process wrote more than %d bytes", PROCESS_MAX_OUTPUT);
            ok = false;
        }
    }
    close(pipefd[0]);
    /* stdout closed is not the end: the command must also exit within the same deadline */
    int status = 0;
    for (;;) {
        pid_t w = ok ? waitpid(pid, &status, WNOHANG) : 0;
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        if (!ok || mono_ms() >= deadline) {
            if (ok)
                snprintf(why, why_len, "the credential process did not finish within %d s", PROCESS_TIMEOUT_MS / 1000);
            ok = false;
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        usleep(10000);
    }
    if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(why, why_len, "the credential process failed (status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        ok = false;
    }
    if (!ok) {
        if (buf)
            explicit_bzero(buf, len);
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

/* Runs the command without the lock (lookups never wait for it), then stores its answer. */
static struct vended *from_process(struct role_creds *rc, const char *role, const char *session_id, time_t now,
                                   char *why, size_t why_len)
{
    pthread_mutex_unlock(&rc->lock);
    char *text = run_process(rc->process, role, session_id, why, why_len);
    pthread_mutex_lock(&rc->lock);
    if (!text)
        return NULL;
    json_object *j = json_tokener_parse(text);
    explicit_bzero(text, strlen(text));
    free(text);
    struct vended *v = NULL;
    json_object *ver = member(j, "Version"), *exp = member(j, "Expiration"), *tok = member(j, "SessionToken");
    time_t expires = now + rc->duration_s;
    if (!j || !json_object_is_type(j, json_type_object) || !ver || json_object_get_int(ver) != 1 ||
        !short_string(member(j, "AccessKeyId"), 128) || !short_string(member(j, "SecretAccessKey"), 128) ||
        (tok && !short_string(tok, 4096)) || (exp && (!short_string(exp, 64) ||
                                                      (expires = parse_expiration(json_object_get_string(exp))) < 0))) {
        snprintf(why, why_len, "the credential process's output is not credential_process JSON (Version 1, "
                                "AccessKeyId, SecretAccessKey, optional SessionToken and Expiration)");
    } else if (expires <= now) {
        snprintf(why, why_len, "the credential process answered credentials that have already expired");
    } else if (!(v = store(rc, role, json_object_get_string(member(j, "AccessKeyId")),
                           json_object_get_string(member(j, "SecretAccessKey")),
                           tok ? json_object_get_string(tok) : NULL, expires, now))) {
        snprintf(why, why_len, "no room for more vended credentials");
    }
    json_object_put(j);
    return v;
}

/* Static keys are stored under their config key: the role, or "*" for the keys every other role
 * shares (their principal is then "role:*", never one role's name). */
static struct vended *from_static(struct role_creds *rc, const char *role, time_t now)
{
    json_object *keys = member(rc->statics, role);
    if (!keys) {
        keys = member(rc->statics, "*");
        role = "*";
    }
    if (!keys)
        return NULL;
    json_object *tok = member(keys, "session_token");
    return store(rc, role, json_object_get_string(member(keys, "access_key_id")),
                 json_object_get_string(member(keys, "secret_access_key")),
                 tok && json_object_is_type(tok, json_type_string) ? json_object_get_string(tok) : NULL,
                 now + rc->duration_s, now);
}

int role_creds_vend(struct role_creds *rc, const char *role_arn, const char *session_id, char *out, size_t out_len)
{
    time_t now = time(NULL);
    char why[256] = "";
    int status = 200;
    if (!role_arn || !*role_arn) {
        snprintf(out, out_len, "the runtime has no roleArn");
        return 404;
    }
    pthread_mutex_lock(&rc->lock);
    struct vended *v = cached(rc, role_arn, now);
    if (!v && rc->statics)
        v = from_static(rc, role_arn, now);
    if (!v && rc->process)
        v = from_process(rc, role_arn, session_id, now, why, sizeof why);
    if (!v) {
        status = why[0] ? 500 : 404;
        snprintf(out, out_len, "%s", why[0] ? why : "silod has no credentials for this runtime's role");
    } else {
        struct tm tm;
        char expiration[32];
        gmtime_r(&v->expires, &tm);
        strftime(expiration, sizeof expiration, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object *j = json_object_new_object();
        json_object_object_add(j, "AccessKeyId", json_object_new_string(v->access_key_id));
        json_object_object_add(j, "SecretAccessKey", json_object_new_string(v->secret_access_key));
        json_object_object_add(j, "Token", json_object_new_string(v->session_token));
        json_object_object_add(j, "Expiration", json_object_new_string(expiration));
        json_object_object_add(j, "RoleArn", json_object_new_string(role_arn));
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (strlen(text) >= out_len) {
            status = 500;
            snprintf(out, out_len, "the credentials do not fit the answer");
        } else {
            snprintf(out, out_len, "%s", text);
        }
        explicit_bzero((char *)text, strlen(text));
        json_object_put(j);
    }
    pthread_mutex_unlock(&rc->lock);
    return status;
}

const struct sigv4_key *role_creds_lookup(struct role_creds *rc, const char *access_key_id)
{
    if (!rc)
        return NULL;
    time_t now = time(NULL);
    const struct sigv4_key *k = NULL;
    pthread_mutex_lock(&rc->lock);
    for (size_t i = 0; i < MAX_VENDED && !k; i++) {
        struct vended *v = &rc->table[i];
        if (v->used && (!v->expires || v->expires > now) && strcmp(v->access_key_id, access_key_id) == 0)
            k = &v->key;
    }
    pthread_mutex_unlock(&rc->lock);
    return k;
}
