/* tools/cli/commands_endpoint.c — `silo endpoint create|update|get|list|delete`: the
 * AgentRuntimeEndpoint operations under /runtimes/{id}/runtime-endpoints/, with --wait. */
#include <stdio.h>
#include <string.h>

#include "tools/cli/cli.h"
#include "tools/cli/output.h"

static const char *const summary_keys[] = {
    "agentRuntimeId", "endpointName", "name", "agentRuntimeEndpointArn", "targetVersion", "liveVersion",
    "status", "failureReason", NULL,
};

/* /runtimes/{id}/runtime-endpoints/ or /runtimes/{id}/runtime-endpoints/{name}/ */
static bool endpoint_path(char *out, size_t len, const char *runtime_id, const char *name)
{
    const char *seg[] = { "runtimes", runtime_id, "runtime-endpoints", name };
    return cli_path(out, len, true, seg, name ? 4 : 3);
}

static void add_change_fields(struct cli *cli, json_object *req)
{
    char token[37];
    if (cli->version)
        json_object_object_add(req, "agentRuntimeVersion", json_object_new_string(cli->version));
    if (cli->description)
        json_object_object_add(req, "description", json_object_new_string(cli->description));
    cli_uuid(token);
    json_object_object_add(req, "clientToken", json_object_new_string(token));
}

static int finish_change(struct cli *cli, json_object *answer)
{
    char path[1024], what[600];
    bool named = endpoint_path(path, sizeof path, cli->pos[0], cli->pos[1]);
    snprintf(what, sizeof what, "endpoint %s of runtime %s", cli->pos[1], cli->pos[0]);
    return cli_show_change(cli, answer, named ? path : NULL, NULL, what, summary_keys);
}

int cmd_endpoint_create(struct cli *cli)
{
    char path[1024];
    if (!endpoint_path(path, sizeof path, cli->pos[0], NULL))
        return cli_usage_error(cli, "the runtime id is too long");
    json_object *req = json_object_new_object();
    json_object_object_add(req, "name", json_object_new_string(cli->pos[1]));
    add_change_fields(cli, req);
    return cli_send_change(cli, "PUT", path, req, finish_change);
}

int cmd_endpoint_update(struct cli *cli)
{
    char path[1024];
    if (!cli->version)
        return cli_usage_error(cli, "--version N is required");
    if (!endpoint_path(path, sizeof path, cli->pos[0], cli->pos[1]))
        return cli_usage_error(cli, "the runtime id or endpoint name is too long");
    json_object *req = json_object_new_object();
    add_change_fields(cli, req);
    return cli_send_change(cli, "PUT", path, req, finish_change);
}

int cmd_endpoint_get(struct cli *cli)
{
    char path[1024];
    json_object *answer;
    if (!endpoint_path(path, sizeof path, cli->pos[0], cli->pos[1]))
        return cli_usage_error(cli, "the runtime id or endpoint name is too long");
    if (cli_call(cli, "GET", path, NULL, NULL, &answer) != API_OK)
        return EXIT_FAIL;
    if (cli->json)
        out_json(answer);
    else
        out_key_values(answer, summary_keys, true);
    json_object_put(answer);
    return EXIT_OK;
}

int cmd_endpoint_list(struct cli *cli)
{
    static const char *const titles[] = { "NAME", "LIVE", "TARGET", "STATUS", "UPDATED", "DESCRIPTION" };
    static const char *const paths[] = { "name", "liveVersion", "targetVersion", "status", "lastUpdatedAt",
                                         "description" };
    char path[1024];
    if (!endpoint_path(path, sizeof path, cli->pos[0], NULL))
        return cli_usage_error(cli, "the runtime id is too long");
    json_object *all = cli_list_all(cli, path, "runtimeEndpoints");
    if (!all)
        return EXIT_FAIL;
    if (cli->json)
        out_json(all);
    else
        out_table(out_get_path(all, "runtimeEndpoints"), titles, paths, 6);
    json_object_put(all);
    return EXIT_OK;
}

int cmd_endpoint_delete(struct cli *cli)
{
    char path[1024], query[128] = "", token[37], what[600];
    json_object *answer;
    if (!endpoint_path(path, sizeof path, cli->pos[0], cli->pos[1]))
        return cli_usage_error(cli, "the runtime id or endpoint name is too long");
    cli_uuid(token);
    api_query_add(query, sizeof query, "clientToken", token);
    if (cli_call(cli, "DELETE", path, query, NULL, &answer) != API_OK)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    if (cli->wait) {
        snprintf(what, sizeof what, "endpoint %s of runtime %s", cli->pos[1], cli->pos[0]);
        rc = cli_wait_gone(cli, path, NULL, what);
    }
    return cli_show_delete(cli, answer, rc);
}
