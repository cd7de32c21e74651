/* guest/agentd/control_proto.c — encoder and decoder of the agentd control protocol (see
 * control_proto.h and guest/agentd/README.md). Pure functions over caller buffers; the decoder
 * treats every byte as hostile. */
#include "guest/agentd/control_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verb_names[] = {
    [CP_READY] = "READY", [CP_HEALTH] = "HEALTH", [CP_USAGE] = "USAGE",
    [CP_STATUS] = "STATUS", [CP_WAIT] = "WAIT", [CP_SHUTDOWN] = "SHUTDOWN", [CP_RESTORED] = "RESTORED",
    [CP_EXEC] = "EXEC",
};
static const char *const health_names[] = {
    [CP_HEALTH_HEALTHY] = "Healthy", [CP_HEALTH_BUSY] = "HealthyBusy",
    [CP_HEALTH_UNHEALTHY] = "Unhealthy", [CP_HEALTH_UNREACHABLE] = "Unreachable",
};
static const char *const state_names[] = {
    [CP_AGENT_STARTING] = "starting", [CP_AGENT_RUNNING] = "running",
    [CP_AGENT_EXITED] = "exited", [CP_AGENT_KILLED] = "killed", [CP_AGENT_FAILED] = "failed",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t count, int value)
{
    if (value <= 0 || (size_t)value >= count)
        return NULL;
    return names[value];
}

const char *cp_verb_name(enum cp_verb verb) { return name_of(verb_names, COUNT(verb_names), (int)verb); }
const char *cp_health_name(enum cp_health h) { return name_of(health_names, COUNT(health_names), (int)h); }
const char *cp_agent_state_name(enum cp_agent_state s) { return name_of(state_names, COUNT(state_names), (int)s); }

static int value_of(const char *const *names, size_t count, const char *word)
{
    for (size_t i = 1; i < count; i++)
        if (names[i] != NULL && strcmp(names[i], word) == 0)
            return (int)i;
    return -1;
}

static bool error_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
}

void cp_set_error(struct cp_response *resp, enum cp_verb verb, const char *reason)
{
    size_t i = 0;
    memset(resp, 0, sizeof *resp);
    resp->verb = verb;
    resp->ok = false;
    for (; reason != NULL && reason[i] != '\0' && i + 1 < sizeof resp->error; i++)
        resp->error[i] = error_char_ok(reason[i]) ? reason[i] : '_';
    if (i == 0)
        resp->error[i++] = '?';
    resp->error[i] = '\0';
}

/* --- encoding ---------------------------------------------------------------------------- */

static int finish(char *buf, size_t cap, int n)
{
    if (n < 0 || (size_t)n >= cap || (size_t)n > CP_MAX_LINE)
        return -1;
    (void)buf;
    return n;
}

__attribute__((format(printf, 3, 4)))
static int put(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return finish(buf, cap, n);
}

int cp_encode_request(enum cp_verb verb, char *buf, size_t cap)
{
    const char *name = cp_verb_name(verb);
    if (name == NULL || buf == NULL || verb == CP_RESTORED || verb == CP_EXEC)
        return -1;
    return put(buf, cap, "%s\n", name);
}

int cp_encode_restored(const struct cp_restored *a, char *buf, size_t cap)
{
    if (buf == NULL || a->sec < 0 || a->nsec < 0 || a->nsec > 999999999)
        return -1;
    char hex[2 * CP_SEED_BYTES + 1];
    for (int i = 0; i < CP_SEED_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", a->seed[i]);
    return put(buf, cap, "RESTORED seed=%s time=%" PRId64 ".%09" PRId32 "\n", hex, a->sec, a->nsec);
}

int cp_encode_response(const struct cp_response *r, char *buf, size_t cap)
{
    const char *verb = cp_verb_name(r->verb);
    if (verb == NULL || buf == NULL)
        return -1;
    if (!r->ok) {
        size_t len = strnlen(r->error, sizeof r->error);
        if (len == 0 || len == sizeof r->error)
            return -1;
        for (size_t i = 0; i < len; i++)
            if (!error_char_ok(r->error[i]))
                return -1;
        return put(buf, cap, "ERR %s %s\n", verb, r->error);
    }
    switch (r->verb) {
    case CP_READY:
        if (r->u.ready.ports & ~(CP_PORT_HTTP | CP_PORT_MCP | CP_PORT_A2A))
            return -1;
        return put(buf, cap, "OK READY http=%d mcp=%d a2a=%d\n", !!(r->u.ready.ports & CP_PORT_HTTP),
                   !!(r->u.ready.ports & CP_PORT_MCP), !!(r->u.ready.ports & CP_PORT_A2A));
    case CP_HEALTH: {
        const char *status = cp_health_name(r->u.health.status);
        if (status == NULL || r->u.health.time_of_last_update < -1 || r->u.health.http_status < 0 ||
            r->u.health.http_status > 999)
            return -1;
        return put(buf, cap, "OK HEALTH status=%s time_of_last_update=%" PRId64 " http=%d\n", status,
                   r->u.health.time_of_last_update, r->u.health.http_status);
    }
    case CP_USAGE:
        return put(buf, cap, "OK USAGE cpu_ms=%" PRIu64 " mem_total_kib=%" PRIu64 " mem_used_kib=%" PRIu64
                   " uptime_ms=%" PRIu64 "\n", r->u.usage.cpu_ms, r->u.usage.mem_total_kib,
                   r->u.usage.mem_used_kib, r->u.usage.uptime_ms);
    case CP_STATUS:
    case CP_WAIT: {
        const char *state = cp_agent_state_name(r->u.agent.state);
        if (state == NULL || r->u.agent.pid < 0 || r->u.agent.signal < 0)
            return -1;
        return put(buf, cap, "OK %s state=%s pid=%" PRId32 " code=%" PRId32 " signal=%" PRId32 "\n", verb,
                   state, r->u.agent.pid, r->u.agent.code, r->u.agent.signal);
    }
    case CP_SHUTDOWN:
        if (r->u.shutdown.grace_ms < 0)
            return -1;
        return put(buf, cap, "OK SHUTDOWN grace_ms=%" PRId64 "\n", r->u.shutdown.grace_ms);
    case CP_RESTORED:
        return put(buf, cap, "OK RESTORED\n");
    case CP_EXEC:
        if (r->u.exec.pid <= 0)
            return -1;
        return put(buf, cap, "OK EXEC pid=%" PRId32 "\n", r->u.exec.pid);
    }
    return -1;
}

int cp_encode_exec(const struct cp_exec_request *q, char *buf, size_t cap)
{
    if (buf == NULL || q->bytes < 1 || q->bytes > CP_EXEC_MAX_COMMAND || q->timeout_ms < 1 ||
        q->timeout_ms > CP_EXEC_MAX_TIMEOUT_MS)
        return -1;
    return put(buf, cap, "EXEC bytes=%" PRIu32 " timeout_ms=%" PRId64 "\n", q->bytes, q->timeout_ms);
}

int cp_encode_exec_frame(const struct cp_exec_frame *f, char *buf, size_t cap)
{
    if (buf == NULL)
        return -1;
    switch (f->kind) {
    case CP_EXEC_STDOUT:
    case CP_EXEC_STDERR:
        if (f->bytes < 1 || f->bytes > CP_EXEC_MAX_CHUNK)
            return -1;
        return put(buf, cap, "%s bytes=%" PRIu32 "\n", f->kind == CP_EXEC_STDOUT ? "STDOUT" : "STDERR", f->bytes);
    case CP_EXEC_EXIT:
        if (f->code < 0 || f->code > 255 || f->signal < 0 || f->signal > 127)
            return -1;
        return put(buf, cap, "EXIT code=%" PRId32 " signal=%" PRId32 " timed_out=%d\n", f->code, f->signal,
                   f->timed_out ? 1 : 0);
    }
    return -1;
}

/* --- decoding ---------------------------------------------------------------------------- */

#define MAX_WORDS 8

struct words {
    char storage[CP_MAX_LINE + 1];
    char *word[MAX_WORDS];
    int count;
};

/* Splits one line into words separated by single spaces; -1 on anything not printable ASCII,
 * empty words (double spaces, leading/trailing space), too many words or an overlong line. */
static int split_line(const char *line, size_t len, struct words *w)
{
    if (line == NULL)
        return -1;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0 || len + 1 > CP_MAX_LINE || memchr(line, '\0', len) != NULL)
        return -1;
    memcpy(w->storage, line, len);
    w->storage[len] = '\0';
    w->count = 0;
    char *p = w->storage;
    for (;;) {
        if (w->count == MAX_WORDS || *p == ' ' || *p == '\0')
            return -1;
        w->word[w->count++] = p;
        while (*p != ' ' && *p != '\0') {
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                return -1;
            p++;
        }
        if (*p == '\0')
            return 0;
        *p++ = '\0';
    }
}

int cp_decode_request(const char *line, size_t len, enum cp_verb *verb)
{
    struct words w;
    if (split_line(line, len, &w) < 0 || w.count != 1)
        return -1;
    int v = value_of(verb_names, COUNT(verb_names), w.word[0]);
    if (v < 0 || v == CP_RESTORED || v == CP_EXEC) /* with arguments: cp_decode_restored, cp_decode_exec */
        return -1;
    *verb = (enum cp_verb)v;
    return 0;
}

static const char *value_for(const char *word, const char *key);

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int cp_decode_restored(const char *line, size_t len, struct cp_restored *a)
{
    struct words w;
    memset(a, 0, sizeof *a);
    if (split_line(line, len, &w) < 0 || w.count != 3 || strcmp(w.word[0], "RESTORED") != 0)
        return -1;
    const char *seed = value_for(w.word[1], "seed"), *time = value_for(w.word[2], "time");
    if (seed == NULL || time == NULL || strlen(seed) != 2 * CP_SEED_BYTES)
        return -1;
    for (int i = 0; i < CP_SEED_BYTES; i++) {
        int hi = hex_digit(seed[2 * i]), lo = hex_digit(seed[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        a->seed[i] = (uint8_t)(hi << 4 | lo);
    }
    const char *dot = strchr(time, '.');
    if (dot == NULL || dot == time || strlen(dot + 1) != 9)
        return -1;
    int64_t sec = 0, nsec = 0;
    for (const char *p = time; p < dot; p++) {
        if (*p < '0' || *p > '9' || sec > (INT64_MAX - 9) / 10)
            return -1;
        sec = sec * 10 + (*p - '0');
    }
    for (const char *p = dot + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        nsec = nsec * 10 + (*p - '0');
    }
    a->sec = sec;
    a->nsec = (int32_t)nsec;
    return 0;
}

/* "key=value" with the expected key: returns value, or NULL. */
static const char *value_for(const char *word, const char *key)
{
    size_t klen = strlen(key);
    if (strncmp(word, key, klen) != 0 || word[klen] != '=' || word[klen + 1] == '\0')
        return NULL;
    return word + klen + 1;
}

static int parse_i64(const char *word, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *v = value_for(word, key);
    char *end;
    if (v == NULL || !((*v >= '0' && *v <= '9') || (*v == '-' && v[1] >= '0' && v[1] <= '9')))
        return -1;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static int parse_u64(const char *word, const char *key, uint64_t *out)
{
    const char *v = value_for(word, key);
    char *end;
    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = n;
    return 0;
}

static int parse_flag(const char *word, const char *key, unsigned bit, unsigned *ports)
{
    const char *v = value_for(word, key);
    if (v == NULL || (strcmp(v, "0") != 0 && strcmp(v, "1") != 0))
        return -1;
    if (v[0] == '1')
        *ports |= bit;
    return 0;
}

static int decode_ok(struct words *w, struct cp_response *r)
{
    char **a = w->word + 2;        /* the key=value words */
    int n = w->count - 2;
    int64_t x;

    switch (r->verb) {
    case CP_READY:
        if (n != 3 || parse_flag(a[0], "http", CP_PORT_HTTP, &r->u.ready.ports) < 0 ||
            parse_flag(a[1], "mcp", CP_PORT_MCP, &r->u.ready.ports) < 0 ||
            parse_flag(a[2], "a2a", CP_PORT_A2A, &r->u.ready.ports) < 0)
            return -1;
        return 0;
    case CP_HEALTH: {
        const char *status = n == 3 ? value_for(a[0], "status") : NULL;
        int h = status ? value_of(health_names, COUNT(health_names), status) : -1;
        if (h < 0 || parse_i64(a[1], "time_of_last_update", -1, INT64_MAX, &r->u.health.time_of_last_update) < 0 ||
            parse_i64(a[2], "http", 0, 999, &x) < 0)
            return -1;
        r->u.health.status = (enum cp_health)h;
        r->u.health.http_status = (int)x;
        return 0;
    }
    case CP_USAGE:
        if (n != 4 || parse_u64(a[0], "cpu_ms", &r->u.usage.cpu_ms) < 0 ||
            parse_u64(a[1], "mem_total_kib", &r->u.usage.mem_total_kib) < 0 ||
            parse_u64(a[2], "mem_used_kib", &r->u.usage.mem_used_kib) < 0 ||
            parse_u64(a[3], "uptime_ms", &r->u.usage.uptime_ms) < 0)
            return -1;
        return 0;
    case CP_STATUS:
    case CP_WAIT: {
        const char *state = n == 4 ? value_for(a[0], "state") : NULL;
        int s = state ? value_of(state_names, COUNT(state_names), state) : -1;
        int64_t pid, code, sig;
        if (s < 0 || parse_i64(a[1], "pid", 0, INT32_MAX, &pid) < 0 ||
            parse_i64(a[2], "code", INT32_MIN, INT32_MAX, &code) < 0 ||
            parse_i64(a[3], "signal", 0, INT32_MAX, &sig) < 0)
            return -1;
        r->u.agent.state = (enum cp_agent_state)s;
        r->u.agent.pid = (int32_t)pid;
        r->u.agent.code = (int32_t)code;
        r->u.agent.signal = (int32_t)sig;
        return 0;
    }
    case CP_SHUTDOWN:
        if (n != 1 || parse_i64(a[0], "grace_ms", 0, INT64_MAX, &r->u.shutdown.grace_ms) < 0)
            return -1;
        return 0;
    case CP_RESTORED:
        return n == 0 ? 0 : -1;
    case CP_EXEC:
        if (n != 1 || parse_i64(a[0], "pid", 1, INT32_MAX, &x) < 0)
            return -1;
        r->u.exec.pid = (int32_t)x;
        return 0;
    }
    return -1;
}

int cp_decode_exec(const char *line, size_t len, struct cp_exec_request *q)
{
    struct words w;
    int64_t bytes;
    memset(q, 0, sizeof *q);
    if (split_line(line, len, &w) < 0 || w.count != 3 || strcmp(w.word[0], "EXEC") != 0 ||
        parse_i64(w.word[1], "bytes", 1, CP_EXEC_MAX_COMMAND, &bytes) < 0 ||
        parse_i64(w.word[2], "timeout_ms", 1, CP_EXEC_MAX_TIMEOUT_MS, &q->timeout_ms) < 0) {
        memset(q, 0, sizeof *q);
        return -1;
    }
    q->bytes = (uint32_t)bytes;
    return 0;
}

int cp_decode_exec_frame(const char *line, size_t len, struct cp_exec_frame *f)
{
    struct words w;
    int64_t a, b, c;
    memset(f, 0, sizeof *f);
    if (split_line(line, len, &w) < 0)
        return -1;
    bool out = strcmp(w.word[0], "STDOUT") == 0, err = strcmp(w.word[0], "STDERR") == 0;
    if ((out || err) && w.count == 2 && parse_i64(w.word[1], "bytes", 1, CP_EXEC_MAX_CHUNK, &a) == 0) {
        f->kind = out ? CP_EXEC_STDOUT : CP_EXEC_STDERR;
        f->bytes = (uint32_t)a;
        return 0;
    }
    if (strcmp(w.word[0], "EXIT") == 0 && w.count == 4 && parse_i64(w.word[1], "code", 0, 255, &a) == 0 &&
        parse_i64(w.word[2], "signal", 0, 127, &b) == 0 && parse_i64(w.word[3], "timed_out", 0, 1, &c) == 0) {
        f->kind = CP_EXEC_EXIT;
        f->code = (int32_t)a;
        f->signal = (int32_t)b;
        f->timed_out = c == 1;
        return 0;
    }
    memset(f, 0, sizeof *f);
    return -1;
}

int cp_decode_response(const char *line, size_t len, struct cp_response *r)
{
    struct words w;
    memset(r, 0, sizeof *r);
    if (split_line(line, len, &w) < 0 || w.count < 2)
        return -1;
    int v = value_of(verb_names, COUNT(verb_names), w.word[1]);
    if (v < 0)
        return -1;
    r->verb = (enum cp_verb)v;
    if (strcmp(w.word[0], "ERR") == 0) {
        size_t elen = strlen(w.count == 3 ? w.word[2] : "");
        if (w.count != 3 || elen >= sizeof r->error)
            return -1;
        for (size_t i = 0; i < elen; i++)
            if (!error_char_ok(w.word[2][i]))
                return -1;
        memcpy(r->error, w.word[2], elen + 1);
        return 0;
    }
    if (strcmp(w.word[0], "OK") != 0)
        return -1;
    r->ok = true;
    if (decode_ok(&w, r) < 0) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    return 0;
}
