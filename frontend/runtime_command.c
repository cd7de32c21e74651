/* frontend/runtime_command.c — InvokeAgentRuntimeCommand: POST /runtimes/{arn-or-id}/commands
 * with a JSON body {command, timeout}. The request is authenticated like an invocation (SigV4,
 * or the runtime's JWT authorizer), resolves the runtime and binds to (or starts) the session
 * exactly as InvokeAgentRuntime does (invoke_proxy.c), is refused when commands are not allowed
 * (silod's `commands_enabled`, the runtime's SILO_COMMANDS=disabled), and runs the command in
 * the session's microVM through agentd's EXEC (control_proto.h). The answer is an AWS event
 * stream (event_stream.h): chunk{contentStart}, chunk{contentDelta{stdout|stderr}}…,
 * chunk{contentStop{exitCode, status}}, or a runtimeClientError event when the guest's stream
 * breaks. Output that is not valid UTF-8 is passed with U+FFFD for each bad byte (a character
 * split across two reads is joined first). */
#include "frontend/http_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fd_io.h"
#include "base/mono_time.h"
#include "frontend/aws_error.h"
#include "frontend/control_plane.h"
#include "frontend/control_plane_validate.h"
#include "frontend/event_stream.h"
#include "guest/agentd/control_proto.h"

#define COMMAND_MAX_CHARS 65536          /* the API's bound on `command` (characters) */
#define COMMAND_DEFAULT_TIMEOUT_S 300
#define COMMAND_MAX_TIMEOUT_S 3600
#define COMMAND_STREAM_GRACE_MS 30000    /* past the timeout, how long silod waits for EXIT */
#define COMMAND_START_MS 10000           /* agentd must answer EXEC within this */
#define COMMANDS_ENV "SILO_COMMANDS"     /* the runtime's opt-out: environmentVariables */

#define CARRY_ROOM 4

struct utf8_carry {
    unsigned char b[4];
    size_t n;
};

struct command_stream {
    int refs;
    int fd;                          /* the EXEC connection to agentd; closing it ends the command */
    int client_fd;                   /* the caller's connection, watched for its going away */
    bool aborted;                    /* the caller left: the answer ends with an error */
    int64_t deadline;                /* no EXIT by then: the stream ends with an error event */
    bool started, ended;
    struct strbuf out;               /* encoded messages not yet handed to the client */
    size_t out_off;
    struct utf8_carry carry[2];      /* stdout, stderr */
    char chunk[CARRY_ROOM + CP_EXEC_MAX_CHUNK];  /* read at chunk + CARRY_ROOM */
    uint64_t bytes_out;
    char request_id[37];
};

uint64_t command_bytes_out(const struct command_stream *cs)
{
    return cs ? __atomic_load_n(&cs->bytes_out, __ATOMIC_RELAXED) : 0;
}

void command_stream_put(struct command_stream *cs)
{
    if (cs && __atomic_sub_fetch(&cs->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        if (cs->fd >= 0)
            close(cs->fd);
        strbuf_free(&cs->out);
        free(cs);
    }
}

/* ---------------------------------------------------------------- the request */

/* Characters of valid UTF-8 text (the tokenizer has validated it). */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

/* The body {command*, timeout}: false (r failed, ValidationException) when it is not that. */
static bool parse_body(struct request *r, json_object **body, const char **command, size_t *command_len,
                       int *timeout_s)
{
    *body = NULL;
    json_tokener *tok = json_tokener_new_ex(16);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    if (r->body.len > 0 && r->body.len < INT32_MAX)
        *body = json_tokener_parse_ex(tok, r->body.data, (int)r->body.len);
    bool bad = json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(*body, json_type_object) ||
               !cp_json_utf8_valid(*body) || cp_json_text_has_nul(r->body.data, r->body.len);
    json_tokener_free(tok);
    if (bad) {
        http_fail(r, AWS_VALIDATION, "the request body must be a JSON object {\"command\": string, \"timeout\": "
                                     "integer} of valid UTF-8 without NUL characters");
        return false;
    }
    json_object *c = NULL, *t = NULL;
    if (!json_object_object_get_ex(*body, "command", &c) || !json_object_is_type(c, json_type_string)) {
        http_fail(r, AWS_VALIDATION, "command is required and must be a string");
        return false;
    }
    *command = json_object_get_string(c);
    *command_len = (size_t)json_object_get_string_len(c);
    size_t chars = utf8_chars(*command, *command_len);
    if (chars < 1 || chars > COMMAND_MAX_CHARS || *command_len > CP_EXEC_MAX_COMMAND) {
        http_fail(r, AWS_VALIDATION, "command must be 1 to 65536 characters");
        return false;
    }
    *timeout_s = COMMAND_DEFAULT_TIMEOUT_S;
    if (json_object_object_get_ex(*body, "timeout", &t) && !json_object_is_type(t, json_type_null)) {
        int64_t v = json_object_get_int64(t);
        if (!json_object_is_type(t, json_type_int) || v < 1 || v > COMMAND_MAX_TIMEOUT_S) {
            http_fail(r, AWS_VALIDATION, "timeout must be an integer number of seconds from 1 to 3600");
            return false;
        }
        *timeout_s = (int)v;
    }
    return true;
}

/* Commands are allowed unless silod's config turns them off or the runtime opts out. */
static bool commands_allowed(struct http_api *api, struct request *r, json_object *cfg)
{
    char msg[400];
    if (!api->cfg.commands_enabled) {
        http_fail(r, AWS_ACCESS_DENIED, "InvokeAgentRuntimeCommand is disabled on this server "
                                        "(silod config commands_enabled is false)");
        return false;
    }
    json_object *env = NULL, *v = NULL;
    if (json_object_object_get_ex(cfg, "environmentVariables", &env) &&
        json_object_object_get_ex(env, COMMANDS_ENV, &v) && json_object_is_type(v, json_type_string) &&
        strcmp(json_object_get_string(v), "disabled") == 0) {
        snprintf(msg, sizeof msg, "InvokeAgentRuntimeCommand is disabled for agent runtime %s (its environment "
                                  "variable " COMMANDS_ENV " is \"disabled\")", r->runtime_id);
        http_fail(r, AWS_ACCESS_DENIED, msg);
        return false;
    }
    return true;
}

/* Waits until fd is readable: 1, or 0 at the deadline, -1 on an error, -2 when the client
 * (client_fd, -1 for none) has gone away meanwhile (a command without output would otherwise
 * keep running until its timeout for nobody). */
static int wait_readable(int fd, int client_fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = client_fd, .events = POLLRDHUP } };
        int k = poll(p, 2, left > 1000 ? 1000 : (int)left);
        if (k < 0 && errno != EINTR)
            return -1;
        if (k > 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return -2;
        if (k > 0 && p[0].revents)
            return 1;
    }
}

/* One byte at a time up to "\n" (frame heads are short; nothing past the head is read): the
 * line's length, or -1 (EOF, error, deadline), -2 (the client left). */
static int read_line_until(int fd, int client_fd, char *buf, size_t cap, int64_t deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        int w = wait_readable(fd, client_fd, deadline);
        if (w <= 0)
            return w == -2 ? -2 : -1;
        ssize_t got = read(fd, buf + n, 1);
        if (got <= 0)
            return -1;
        if (buf[n++] == '\n') {
            buf[n] = '\0';
            return (int)n;
        }
    }
    return -1;
}

/* n bytes: 0, or -1 (EOF, error, deadline), -2 (the client left). */
static int read_exact_until(int fd, int client_fd, char *buf, size_t n, int64_t deadline)
{
    while (n > 0) {
        int w = wait_readable(fd, client_fd, deadline);
        if (w <= 0)
            return w == -2 ? -2 : -1;
        ssize_t got = read(fd, buf, n);
        if (got <= 0)
            return -1;
        buf += got;
        n -= (size_t)got;
    }
    return 0;
}

/* EXEC to agentd on r->upstream and its answer; false with r failed. */
static bool start_in_guest(struct http_api *api, struct request *r, const char *command, size_t len, int timeout_s)
{
    char line[CP_MAX_LINE + 1];
    struct cp_exec_request q = { (uint32_t)len, (int64_t)timeout_s * 1000 };
    int n = cp_encode_exec(&q, line, sizeof line);
    if (n < 0 || !fd_write_all(r->upstream, line, (size_t)n) || !fd_write_all(r->upstream, command, len)) {
        invoke_agent_failed(api, r, "the guest's agentd is not reachable");
        return false;
    }
    struct cp_response a;
    n = read_line_until(r->upstream, -1, line, sizeof line, mono_ms() + COMMAND_START_MS);
    if (n < 0 || cp_decode_response(line, (size_t)n, &a) < 0 || a.verb != CP_EXEC) {
        invoke_agent_failed(api, r, "the guest's agentd did not answer the command");
        return false;
    }
    if (!a.ok) {
        char msg[160];
        if (strcmp(a.error, "too-many-commands") == 0) {
            http_fail(r, AWS_THROTTLING, "too many commands are running in this runtime session; retry later");
            return false;
        }
        snprintf(msg, sizeof msg, "the guest could not run the command (%s)", a.error);
        http_fail(r, AWS_RUNTIME_CLIENT_ERROR, msg);
        return false;
    }
    fprintf(stderr, "silod: command id=%s session=%s: started in the guest, pid %d, timeout %d s\n", r->request_id,
            r->session_id, (int)a.u.exec.pid, timeout_s);
    return true;
}

bool command_check_head(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    char user_id[USER_ID_MAX + 2];
    struct resolved_runtime rr;
    json_object *cfg;
    bool jwt;
    if (!invoke_resolve(api, c, r, &rr, &cfg, user_id, sizeof user_id, &jwt))
        return false;
    json_object_put(cfg);
    return true;
}

void command_start(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    r->dispatched = true;
    json_object *body, *cfg = NULL;
    const char *command;
    size_t len;
    int timeout_s;
    if (!parse_body(r, &body, &command, &len, &timeout_s))
        goto out;
    char user_id[USER_ID_MAX + 2] = "";
    struct resolved_runtime rr;
    bool jwt;
    if (!invoke_resolve(api, c, r, &rr, &cfg, user_id, sizeof user_id, &jwt))
        goto out;
    r->mcp = false;                      /* the session id comes from the runtime session header */
    if (!commands_allowed(api, r, cfg) || !invoke_claim_session(api, c, r, &rr, user_id, jwt) ||
        !invoke_open_session(api, r, &rr, cfg, CP_PORT) || !start_in_guest(api, r, command, len, timeout_s))
        goto out;
    struct command_stream *cs = calloc(1, sizeof *cs);
    if (!cs)
        abort();
    cs->refs = 1;
    cs->fd = r->upstream;
    cs->client_fd = -1;
    r->upstream = -1;
    cs->deadline = mono_ms() + (int64_t)timeout_s * 1000 + COMMAND_STREAM_GRACE_MS;
    snprintf(cs->request_id, sizeof cs->request_id, "%s", r->request_id);
    r->command = cs;
out:
    json_object_put(cfg);
    json_object_put(body);
}

/* ---------------------------------------------------------------- the answer */

/* Length of the valid UTF-8 sequence at s (n bytes available): >0 valid, 0 incomplete but
 * valid so far, -1 invalid. */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;         /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;         /* ≤ U+10FFFF */
    } else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return 0;
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
            return -1;
    }
    return len;
}

/* The valid UTF-8 of in into text, each invalid byte as U+FFFD; an incomplete sequence at the
 * very end goes to carry (at most 3 bytes) to be joined with the next read. */
static void utf8_clean(const char *in, size_t n, struct utf8_carry *carry, struct strbuf *text)
{
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq((const unsigned char *)in + i, n - i);
        if (k > 0) {
            strbuf_append(text, in + i, (size_t)k);
            i += (size_t)k;
        } else if (k == 0) {
            carry->n = n - i;
            memcpy(carry->b, in + i, carry->n);
            return;
        } else {
            strbuf_puts(text, "\xEF\xBF\xBD");
            i++;
        }
    }
}

static void put_json_event(struct command_stream *cs, json_object *chunk)
{
    if (!event_stream_event(&cs->out, "chunk", json_object_to_json_string_ext(chunk, JSON_C_TO_STRING_PLAIN |
                                                                                  JSON_C_TO_STRING_NOSLASHESCAPE)))
        abort();          /* a frame is at most 6 × CP_EXEC_MAX_CHUNK bytes: far inside the bounds */
    json_object_put(chunk);
}

static json_object *wrap(const char *member, json_object *inner)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, member, inner);
    return o;
}

/* Output of one stream (0 stdout, 1 stderr) as a contentDelta event. `in` has at least 4 bytes
 * of room before it, where the bytes carried from the last read are put back. final: nothing
 * more comes, so carried bytes are invalid (U+FFFD each). */
static void put_delta(struct command_stream *cs, int which, char *in, size_t n, bool final)
{
    struct strbuf text = { 0 };
    struct utf8_carry *carry = &cs->carry[which];
    if (final) {
        for (size_t j = 0; j < carry->n; j++)
            strbuf_puts(&text, "\xEF\xBF\xBD");
        carry->n = 0;
    } else {
        in -= carry->n;
        memcpy(in, carry->b, carry->n);
        n += carry->n;
        carry->n = 0;
        utf8_clean(in, n, carry, &text);
    }
    if (text.len > 0) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, which == 0 ? "stdout" : "stderr", json_object_new_string_len(text.data, (int)text.len));
        put_json_event(cs, wrap("contentDelta", d));
    }
    strbuf_free(&text);
}

static void put_error(struct command_stream *cs, const char *why)
{
    fprintf(stderr, "silod: command id=%s: %s\n", cs->request_id, why);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string(why));
    if (!event_stream_exception(&cs->out, "runtimeClientError", json_object_to_json_string(o)))
        abort();
    json_object_put(o);
    cs->ended = true;
}

/* The client went away mid-command: the connection to agentd closes, which ends the command
 * in the guest (its whole process group), and the answer ends without another byte. */
static void client_left(struct command_stream *cs)
{
    fprintf(stderr, "silod: command id=%s: the client went away; the command is ended in the guest\n",
            cs->request_id);
    close(cs->fd);
    cs->fd = -1;
    cs->ended = cs->aborted = true;
}

/* The next frame from agentd as zero or more messages in cs->out. */
static void next_frame(struct command_stream *cs)
{
    char line[CP_MAX_LINE + 1];
    struct cp_exec_frame f;
    int n = read_line_until(cs->fd, cs->client_fd, line, sizeof line, cs->deadline);
    if (n == -2) {
        client_left(cs);
        return;
    }
    if (n < 0 || cp_decode_exec_frame(line, (size_t)n, &f) < 0) {
        put_error(cs, n < 0 ? "the command's stream from the guest ended before its exit status"
                            : "the guest sent a malformed command frame");
        return;
    }
    if (f.kind == CP_EXEC_STDOUT || f.kind == CP_EXEC_STDERR) {
        int k = read_exact_until(cs->fd, cs->client_fd, cs->chunk + CARRY_ROOM, f.bytes, cs->deadline);
        if (k == -2) {
            client_left(cs);
            return;
        }
        if (k < 0) {
            put_error(cs, "the command's stream from the guest ended inside an output frame");
            return;
        }
        put_delta(cs, f.kind == CP_EXEC_STDOUT ? 0 : 1, cs->chunk + CARRY_ROOM, f.bytes, false);
        return;
    }
    put_delta(cs, 0, NULL, 0, true);         /* what was carried, as U+FFFD */
    put_delta(cs, 1, NULL, 0, true);
    json_object *stop = json_object_new_object();
    json_object_object_add(stop, "exitCode", json_object_new_int(f.signal ? 128 + f.signal : f.code));
    json_object_object_add(stop, "status", json_object_new_string(f.timed_out ? "TIMED_OUT" : "COMPLETED"));
    put_json_event(cs, wrap("contentStop", stop));
    cs->ended = true;
}

static ssize_t command_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct command_stream *cs = cls;
    while (cs->out_off == cs->out.len) {
        cs->out.len = cs->out_off = 0;
        if (cs->aborted)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (cs->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!cs->started) {
            cs->started = true;
            put_json_event(cs, wrap("contentStart", json_object_new_object()));
        } else {
            next_frame(cs);
        }
    }
    size_t n = cs->out.len - cs->out_off < max ? cs->out.len - cs->out_off : max;
    memcpy(buf, cs->out.data + cs->out_off, n);
    cs->out_off += n;
    __atomic_add_fetch(&cs->bytes_out, (uint64_t)n, __ATOMIC_RELAXED);
    return (ssize_t)n;
}

static void command_done(void *cls) { command_stream_put(cls); }

enum MHD_Result command_finish(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    (void)api;
    struct command_stream *cs = r->command;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cs->client_fd = ci ? ci->connect_fd : -1;
    __atomic_add_fetch(&cs->refs, 1, __ATOMIC_ACQ_REL);      /* the response's reference */
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, command_read, cs,
                                                                  command_done);
    MHD_add_response_header(resp, "Content-Type", EVENT_STREAM_CONTENT_TYPE);
    MHD_add_response_header(resp, SESSION_HEADER, r->session_id);
    static const char *const trace_headers[] = { "X-Amzn-Trace-Id", "traceparent", "tracestate", "baggage" };
    for (size_t i = 0; i < sizeof trace_headers / sizeof trace_headers[0]; i++) {
        const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, trace_headers[i]);
        if (hv && agent_header_value_ok(hv, 8192))
            MHD_add_response_header(resp, trace_headers[i], hv);
    }
    return http_queue(c, r, 200, resp);
}
