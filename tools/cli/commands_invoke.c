/* tools/cli/commands_invoke.c — `silo invoke` (InvokeAgentRuntime: POST
 * /runtimes/{arn-or-id}/invocations) and `silo stop-session` (StopRuntimeSession).
 *
 * invoke sends DATA, a file (--file F) or standard input (-); a regular file goes with its
 * Content-Length and signed SHA-256 (read twice from disk, never held in memory), a pipe
 * goes chunked as UNSIGNED-PAYLOAD. The answer streams to stdout as it arrives (flushed per
 * piece, so SSE events appear one by one); the session id goes to stderr as
 * `session: ID` as soon as the answer's head arrives, so the next call can pass --session.
 * An ARN is percent-encoded into one path segment (signed by sigv4_sign.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/cli/cli.h"
#include "tools/cli/output.h"

#define MAX_HEADERS 6

static bool runtime_action_path(char *out, size_t len, const char *arn_or_id, const char *action)
{
    const char *seg[] = { "runtimes", arn_or_id, action };
    return cli_path(out, len, false, seg, 3);
}

struct invoke_state {
    const char *session_sent;
    bool session_printed;
    bool wrote_any;
};

static void print_session(struct invoke_state *st, const char *answered)
{
    if (st->session_printed)
        return;
    st->session_printed = true;
    fputs("session: ", stderr);
    out_sanitized(stderr, answered && *answered ? answered : st->session_sent);
    fputc('\n', stderr);
    fflush(stderr);
}

/* the session id is worth printing when the call reached the agent (2xx, or its own error) */
static bool session_worth_printing(const struct api_answer_head *head)
{
    return head->status < 400 || !head->error_type[0] || strcmp(head->error_type, "RuntimeClientError") == 0;
}

static void on_head(void *ctx, const struct api_answer_head *head)
{
    if (session_worth_printing(head))
        print_session(ctx, head->session_id);
}

static bool on_data(void *ctx, const char *data, size_t len)
{
    struct invoke_state *st = ctx;
    st->wrote_any = true;
    return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0;
}

/* Opens the body: DATA, --file F or '-'. Returns EXIT_OK or an exit code. */
static int open_body(struct cli *cli, struct api_body *body, FILE **opened, const char **default_type)
{
    const char *data = cli->npos == 2 ? cli->pos[1] : NULL;
    if ((data != NULL) + (cli->file != NULL) != 1)
        return cli_usage_error(cli, "give the payload once: DATA, --file F or - (standard input)");
    const char *file = cli->file ? cli->file : strcmp(data, "-") == 0 ? "-" : NULL;
    if (!file) {
        *body = (struct api_body){ .kind = API_BODY_MEMORY, .data = data, .len = strlen(data) };
        *default_type = "application/json";
        return EXIT_OK;
    }
    *default_type = "application/octet-stream";
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "silo: cannot open %s: %s\n", file, strerror(errno));
        return EXIT_FAIL;
    }
    if (f != stdin)
        *opened = f;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        long long at = f == stdin ? ftello(f) : 0;
        if (at < 0)
            at = 0;
        *body = (struct api_body){ .kind = API_BODY_FILE, .file = f,
                                   .size = (long long)sb.st_size > at ? (long long)sb.st_size - at : 0 };
    } else if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "silo: %s is a directory\n", file);
        return EXIT_FAIL;
    } else {
        *body = (struct api_body){ .kind = API_BODY_PIPE, .file = f };
    }
    return EXIT_OK;
}

int cmd_invoke(struct cli *cli)
{
    char path[2048], query[512] = "", session[37];
    if (!runtime_action_path(path, sizeof path, cli->pos[0], "invocations"))
        return cli_usage_error(cli, "the runtime id or ARN is too long");
    if (cli->qualifier && !api_query_add(query, sizeof query, "qualifier", cli->qualifier))
        return cli_usage_error(cli, "the qualifier is too long");
    struct api_body body;
    FILE *opened = NULL;
    const char *default_type = "application/octet-stream";
    int rc = open_body(cli, &body, &opened, &default_type);
    if (rc != EXIT_OK) {
        if (opened)
            fclose(opened);
        return rc;
    }
    cli_uuid(session);
    struct invoke_state st = { .session_sent = cli->session ? cli->session : session };
    struct api_header headers[MAX_HEADERS];
    size_t n = 0;
    headers[n++] = (struct api_header){ "Content-Type", cli->content_type ? cli->content_type : default_type };
    headers[n++] = (struct api_header){ "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", st.session_sent };
    if (cli->accept)
        headers[n++] = (struct api_header){ "Accept", cli->accept };
    if (cli->user_id)
        headers[n++] = (struct api_header){ "X-Amzn-Bedrock-AgentCore-Runtime-User-Id", cli->user_id };
    struct api_stream_request rq = {
        .method = "POST", .path = path, .query = query, .headers = headers, .header_count = n,
        .body = body, .on_head = on_head, .on_data = on_data, .ctx = &st,
    };
    struct api_answer_head head;
    struct api_error err;
    enum api_result r = api_stream(&cli->conn, &rq, &head, &err);
    if (opened)
        fclose(opened);
    if (r == API_OK)
        return EXIT_OK;
    api_print_error(&err);
    return EXIT_FAIL;
}

int cmd_stop_session(struct cli *cli)
{
    char path[2048], query[512] = "", token[37];
    if (!runtime_action_path(path, sizeof path, cli->pos[0], "stopruntimesession"))
        return cli_usage_error(cli, "the runtime id or ARN is too long");
    if (cli->qualifier && !api_query_add(query, sizeof query, "qualifier", cli->qualifier))
        return cli_usage_error(cli, "the qualifier is too long");
    struct api_header h[1] = { { "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", cli->pos[1] } };
    json_object *req = json_object_new_object(), *answer;
    cli_uuid(token);
    json_object_object_add(req, "clientToken", json_object_new_string(token));
    struct api_error err;
    enum api_result r = api_json_headers(&cli->conn, "POST", path, query, h, 1, req, &answer, &err);
    json_object_put(req);
    if (r != API_OK) {
        api_print_error(&err);
        return EXIT_FAIL;
    }
    if (cli->json) {
        out_json(answer);
    } else if (json_object_object_length(answer)) {
        out_key_values(answer, NULL, true);
    } else {
        fputs("runtimeSessionId: ", stdout);
        out_sanitized(stdout, cli->pos[1]);
        putchar('\n');
    }
    json_object_put(answer);
    return EXIT_OK;
}
