/* guest/agentd/credentials_server.c — the container-credentials endpoint and its cache (see
 * credentials_server.h). One mutex guards the cache and is held while the host is asked, so a
 * burst of requests costs one fetch. */
#include "guest/agentd/credentials_server.h"
#include "guest/agentd/guest_ports.h"
#include "guest/agentd/host_channel.h"
#include "base/mono_time.h"
#include "guest/agentd/http_head.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD 8192

static char token[CREDENTIALS_TOKEN_HEX + 1];

static struct {
    pthread_mutex_t lock;
    char body[CREDENTIALS_MAX_JSON];
    size_t len;                   /* 0: nothing cached */
    time_t refresh_at;            /* wall clock: fetch again from then on */
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

bool credentials_make_token(char *out, size_t cap)
{
    unsigned char raw[CREDENTIALS_TOKEN_HEX / 2];
    if (cap <= CREDENTIALS_TOKEN_HEX || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return false;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

void credentials_set_token(const char *t) { snprintf(token, sizeof token, "%s", t); }

bool credentials_parse_expiration(const char *text, time_t *out)
{
    struct tm tm = { 0 };
    int used = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &used) != 6 || used != 19)
        return false;
    const char *rest = text + used;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++) {}
    if (strcmp(rest, "Z") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return true;
}

static bool has_string(json_object *obj, const char *key, const char **value)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    *value = json_object_get_string(v);
    return true;
}

bool credentials_json_valid(const char *json, size_t len, time_t *expiration)
{
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return false;
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    bool whole = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    const char *key, *secret, *expires;
    bool ok = whole && root != NULL && json_object_is_type(root, json_type_object) &&
              has_string(root, "AccessKeyId", &key) && has_string(root, "SecretAccessKey", &secret) &&
              has_string(root, "Expiration", &expires) && credentials_parse_expiration(expires, expiration);
    json_object_put(root);
    return ok;
}

/* An error answer with a JSON {"message": …} body. */
static void answer_error(int fd, int status, const char *message)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "message", json_object_new_string(message));
    const char *body = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    char out[1024];
    int n = http_format_response(out, sizeof out, status, "application/json", NULL, body, strlen(body));
    if (n > 0)
        host_channel_write_all(fd, out, (size_t)n);
    json_object_put(obj);
}

/* Asks the host; on success fills the cache (lock held). Returns 0, or the status to answer
 * with and the message in msg. */
static int fetch_locked(char *msg, size_t cap)
{
    char line[EGRESS_MAX_VERDICT_LINE + 1];
    int fd = host_channel_connect(HOST_PORT_CREDENTIALS);
    if (fd < 0) {
        snprintf(msg, cap, "the credentials channel to the host is unavailable");
        return 502;
    }
    int64_t deadline = mono_ms() + CREDENTIALS_FETCH_TIMEOUT_MS;
    int status = 502;
    snprintf(msg, cap, "the credentials channel answered something unexpected");
    unsigned long n = 0;
    char extra;
    int got = host_channel_write_all(fd, "CREDENTIALS\n", 12) < 0 ? -1
              : host_channel_read_line(fd, line, sizeof line, deadline);
    if (got == -2) {
        status = 504;
        snprintf(msg, cap, "the host sent no credentials in time");
    } else if (got >= 0 && sscanf(line, "OK %lu%c", &n, &extra) == 1 && n > 0 && n <= CREDENTIALS_MAX_JSON &&
               strncmp(line, "OK ", 3) == 0 && line[3] >= '0' && line[3] <= '9') {
        time_t expiration;
        if (host_channel_read_exact(fd, cache.body, n, deadline) == 0 &&
            credentials_json_valid(cache.body, n, &expiration)) {
            cache.len = n;
            cache.refresh_at = expiration - CREDENTIALS_REFRESH_BEFORE_S;
            status = 0;
        } else {
            cache.len = 0;
        }
    } else if (got >= 0 && strncmp(line, "ERR ", 4) == 0) {
        int code = atoi(line + 4);
        const char *text = strchr(line + 4, ' ');
        status = code >= 400 && code <= 599 ? code : 502;
        snprintf(msg, cap, "%s", text ? text + 1 : "refused");
    }
    close(fd);
    return status;
}

static void answer_credentials(int fd)
{
    char msg[EGRESS_MAX_VERDICT_LINE + 1], *out = malloc(CREDENTIALS_MAX_JSON + 256);
    pthread_mutex_lock(&cache.lock);
    int status = 0;
    if (cache.len == 0 || time(NULL) >= cache.refresh_at)
        status = fetch_locked(msg, sizeof msg);
    int n = status == 0 && out ? http_format_response(out, CREDENTIALS_MAX_JSON + 256, 200, "application/json",
                                                      NULL, cache.body, cache.len) : -1;
    pthread_mutex_unlock(&cache.lock);
    if (status != 0)
        answer_error(fd, status, msg);
    else if (n > 0)
        host_channel_write_all(fd, out, (size_t)n);
    else
        answer_error(fd, 500, "out of memory");
    free(out);
}

static bool token_matches(const char *value, size_t len)
{
    size_t want = strlen(token);
    unsigned char diff = len != want || want == 0;
    for (size_t i = 0; i < want && i < len; i++)
        diff |= (unsigned char)(value[i] ^ token[i]);
    return diff == 0;
}

void credentials_serve(int client_fd)
{
    char head[MAX_HEAD];
    size_t used = 0, head_len = 0;
    int64_t deadline = mono_ms() + CREDENTIALS_HEAD_TIMEOUT_MS;
    while (head_len == 0 && used < sizeof head && host_channel_wait_readable(client_fd, deadline) == 1) {
        ssize_t n = recv(client_fd, head + used, sizeof head - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        head_len = http_head_end(head, used);
    }
    const char *auth;
    size_t auth_len;
    if (head_len == 0)
        answer_error(client_fd, 400, "incomplete or oversized request head");
    else if (strncmp(head, "GET ", 4) != 0)
        answer_error(client_fd, 405, "only GET is served here");
    else if (!http_header_value(head, head_len, "Authorization", &auth, &auth_len) || !token_matches(auth, auth_len))
        answer_error(client_fd, 403, "missing or wrong Authorization token");
    else
        answer_credentials(client_fd);
    close(client_fd);
}
