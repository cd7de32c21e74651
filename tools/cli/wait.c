/* tools/cli/wait.c — `--wait`: polls a Get operation until the resource is READY, has
 * failed (*_FAILED: its failureReason is printed) or is gone (deletes), within --wait-timeout.
 * Polls every 0.2 s at first, backing off to 2 s. A line on stderr says what is awaited when
 * stderr is a terminal; scripts see only the outcome. Also the shape every change command
 * shares: send the change, then show its answer or, with --wait, its settled state. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "tools/cli/cli.h"
#include "tools/cli/output.h"

static void pause_ms(long *delay_ms)
{
    struct timespec ts = { *delay_ms / 1000, (*delay_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    *delay_ms = *delay_ms * 3 / 2 > 2000 ? 2000 : *delay_ms * 3 / 2;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_wait_ready(struct cli *cli, const char *path, const char *query, const char *what, json_object **final)
{
    int64_t deadline = mono_ms() + (int64_t)cli->wait_timeout * 1000;
    long delay = 200;
    *final = NULL;
    if (isatty(2)) {
        fputs("silo: waiting for ", stderr);
        out_sanitized(stderr, what);
        fputs(" to be READY\n", stderr);
    }
    for (;;) {
        json_object *o;
        if (cli_call(cli, "GET", path, query, NULL, &o) != API_OK)
            return EXIT_FAIL;
        const char *status = out_get_string(o, "status");
        if (strcmp(status, "READY") == 0) {
            *final = o;
            return EXIT_OK;
        }
        if (ends_with(status, "_FAILED")) {
            fputs("silo: ", stderr);
            out_sanitized(stderr, what);
            fputs(" is ", stderr);
            out_sanitized(stderr, status);
            fputs(": ", stderr);
            out_sanitized(stderr, *out_get_string(o, "failureReason") ? out_get_string(o, "failureReason")
                                                                       : "(no failureReason)");
            fputc('\n', stderr);
            *final = o;
            return EXIT_FAIL;
        }
        if (mono_ms() >= deadline) {
            fputs("silo: ", stderr);
            out_sanitized(stderr, what);
            fprintf(stderr, " is still %s after %ld s (--wait-timeout)\n", *status ? status : "(no status)",
                    cli->wait_timeout);
            *final = o;
            return EXIT_FAIL;
        }
        json_object_put(o);
        pause_ms(&delay);
    }
}

int cli_wait_gone(struct cli *cli, const char *path, const char *query, const char *what)
{
    int64_t deadline = mono_ms() + (int64_t)cli->wait_timeout * 1000;
    long delay = 200;
    if (isatty(2)) {
        fputs("silo: waiting for ", stderr);
        out_sanitized(stderr, what);
        fputs(" to be deleted\n", stderr);
    }
    for (;;) {
        json_object *o = NULL;
        struct api_error err;
        enum api_result r = api_json(&cli->conn, "GET", path, query, NULL, &o, &err);
        if (r == API_ERROR && strcmp(err.type, "ResourceNotFoundException") == 0)
            return EXIT_OK;
        if (r != API_OK) {
            api_print_error(&err);
            return EXIT_FAIL;
        }
        json_object_put(o);
        if (mono_ms() >= deadline) {
            fputs("silo: ", stderr);
            out_sanitized(stderr, what);
            fprintf(stderr, " still exists after %ld s (--wait-timeout)\n", cli->wait_timeout);
            return EXIT_FAIL;
        }
        pause_ms(&delay);
    }
}

int cli_show_change(struct cli *cli, json_object *answer, const char *path, const char *query, const char *what,
                    const char *const *keys)
{
    int rc = EXIT_OK;
    json_object *shown = answer, *final = NULL;
    if (cli->wait) {
        if (!path)
            return EXIT_FAIL;
        rc = cli_wait_ready(cli, path, query, what, &final);
        if (final)
            shown = final;
        else if (rc != EXIT_OK)
            return rc;
    }
    if (cli->json)
        out_json(shown);
    else
        out_key_values(shown, keys, false);
    json_object_put(final);
    return rc;
}

int cli_send_change(struct cli *cli, const char *method, const char *path, json_object *req,
                    int (*finish)(struct cli *cli, json_object *answer))
{
    json_object *answer;
    enum api_result r = cli_call(cli, method, path, NULL, req, &answer);
    json_object_put(req);
    if (r != API_OK)
        return EXIT_FAIL;
    int rc = finish(cli, answer);
    json_object_put(answer);
    return rc;
}

int cli_show_delete(struct cli *cli, json_object *answer, int rc)
{
    if (cli->json) {
        out_json(answer);
    } else {
        out_key_values(answer, NULL, true);
        if (cli->wait && rc == EXIT_OK)
            printf("deleted: true\n");
    }
    json_object_put(answer);
    return rc;
}
