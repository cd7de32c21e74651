/* tools/cli/cli.h — what the `silo` CLI's command files share: the parsed command line
 * (struct cli), the command table entries, exit codes and small helpers (silo_api.c). */
#ifndef SILO_TOOLS_CLI_CLI_H
#define SILO_TOOLS_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "tools/cli/api_client.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,      /* an API error, a failed wait, a connection failure */
    EXIT_USAGE = 2,     /* a bad command line or missing credentials */
};

#define CLI_MAX_POSITIONAL 4
#define CLI_MAX_ENV 100

/* Every option any command takes; each command lists the ones it accepts. */
enum cli_option {
    OPT_NONE = 0,
    OPT_JSON = 1000, OPT_ENDPOINT_URL, OPT_REGION, OPT_CA_FILE, OPT_HELP,
    OPT_IMAGE, OPT_PROTOCOL, OPT_ENV, OPT_CLEAR_ENV, OPT_IDLE_TIMEOUT, OPT_MAX_LIFETIME,
    OPT_DESCRIPTION, OPT_ROLE_ARN, OPT_NETWORK_MODE, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_VERSION,
    OPT_QUALIFIER, OPT_SESSION, OPT_USER_ID, OPT_CONTENT_TYPE, OPT_ACCEPT, OPT_FILE, OPT_PAGE_SIZE, OPT_NAME,
};

struct cli {
    struct api_conn conn;
    bool json;
    const char *image, *protocol, *description, *role_arn, *network_mode, *version;
    const char *name;                       /* deploy --name */
    const char *env[CLI_MAX_ENV];
    size_t env_count;
    bool clear_env;
    long idle_timeout, max_lifetime;        /* -1: not given */
    bool wait;
    long wait_timeout;                      /* seconds */
    long page_size;                         /* maxResults of each list request */
    const char *qualifier, *session, *user_id, *content_type, *accept, *file;
    const char *pos[CLI_MAX_POSITIONAL];
    size_t npos;
    const struct cli_command *cmd;
};

struct cli_command {
    const char *group;          /* "runtime", "endpoint", "image", or NULL for a top-level command */
    const char *name;
    const char *args;           /* positional synopsis, e.g. "ID" */
    const char *summary;
    const enum cli_option *options;   /* besides the common ones; OPT_NONE-terminated */
    size_t min_pos, max_pos;
    bool takes_json;
    int (*run)(struct cli *cli);
};

/* Prints `silo: <message>` and the command's synopsis to stderr; returns EXIT_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Calls the API; on failure prints the error line. Returns the API result. */
enum api_result cli_call(struct cli *cli, const char *method, const char *path, const char *query,
                         json_object *body, json_object **answer);

/* Builds "/runtimes/<seg>/…" paths: each argument one encoded segment, a trailing slash
 * after every segment when trailing_slash (the control plane's exact paths). */
bool cli_path(char *out, size_t len, bool trailing_slash, const char *const *segments, size_t n);

/* A fresh random UUIDv4 (clientToken, session ids). */
void cli_uuid(char out[37]);

/* Pages through a list operation (POST path?maxResults&nextToken) and returns one object
 * holding every item under items_key, or NULL after printing an error. */
json_object *cli_list_all(struct cli *cli, const char *path, const char *items_key);

/* --wait: polls GET path?query until `status` is READY (0), *_FAILED (1, failureReason
 * printed) or the wait times out (1). *final gets the last answer (caller frees). */
int cli_wait_ready(struct cli *cli, const char *path, const char *query, const char *what, json_object **final);
/* A create/update's answer shown: with --wait, after cli_wait_ready(path, query, what) its final
 * answer (path NULL: the answer named nothing to wait on, exit status 1), else the answer
 * itself; --json prints it whole, otherwise the keys (out_key_values). The exit status. */
int cli_show_change(struct cli *cli, json_object *answer, const char *path, const char *query, const char *what,
                    const char *const *keys);
/* Sends req (consumed) with method to path and hands a successful answer to finish; the
 * exit status. */
int cli_send_change(struct cli *cli, const char *method, const char *path, json_object *req,
                    int (*finish)(struct cli *cli, json_object *answer));
/* A delete's answer shown (and freed): --json whole, else every key, and `deleted: true` when
 * --wait saw the resource gone (rc EXIT_OK). Returns rc. */
int cli_show_delete(struct cli *cli, json_object *answer, int rc);
/* --wait for a delete: polls GET path?query until ResourceNotFoundException. */
int cli_wait_gone(struct cli *cli, const char *path, const char *query, const char *what);

int cmd_runtime_create(struct cli *cli);
int cmd_runtime_update(struct cli *cli);
int cmd_runtime_get(struct cli *cli);
int cmd_runtime_list(struct cli *cli);
int cmd_runtime_versions(struct cli *cli);
int cmd_runtime_delete(struct cli *cli);
int cmd_endpoint_create(struct cli *cli);
int cmd_endpoint_update(struct cli *cli);
int cmd_endpoint_get(struct cli *cli);
int cmd_endpoint_list(struct cli *cli);
int cmd_endpoint_delete(struct cli *cli);
int cmd_invoke(struct cli *cli);
int cmd_stop_session(struct cli *cli);
int cmd_image_push(struct cli *cli);
int cmd_deploy(struct cli *cli);

/* Uploads an image archive into silod's image store (POST /silo/images); its containerUri into
 * uri, whether silod had it already into *already. The exit status (error lines printed). */
int cli_image_push(struct cli *cli, const char *file, char *uri, size_t uri_len, bool *already);

#endif
