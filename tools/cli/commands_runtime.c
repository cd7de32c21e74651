/* tools/cli/commands_runtime.c — `silo runtime create|update|get|list|versions|delete`:
 * CreateAgentRuntime (PUT /runtimes/), UpdateAgentRuntime (PUT /runtimes/{id}/, starting from
 * the latest version's settings so that options not given are kept), GetAgentRuntime,
 * ListAgentRuntimes, ListAgentRuntimeVersions (paged through nextToken) and
 * DeleteAgentRuntime, with --wait. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cli.h"
#include "tools/cli/output.h"

#define DEFAULT_ROLE_ARN "arn:aws:iam::000000000000:role/silo-agent"

/* what create/update print in readable form (the whole answer with --json) */
static const char *const summary_keys[] = {
    "agentRuntimeId", "agentRuntimeName", "agentRuntimeArn", "agentRuntimeVersion", "status", "failureReason",
    NULL,
};

/* the members of a Get answer that are settings (UpdateAgentRuntime takes them back) */
static const char *const setting_keys[] = {
    "agentRuntimeArtifact", "roleArn", "networkConfiguration", "description", "protocolConfiguration",
    "authorizerConfiguration", "requestHeaderConfiguration", "environmentVariables",
    "lifecycleConfiguration", "metadataConfiguration", "filesystemConfigurations", "platformVersion",
};

static json_object *object_member(json_object *o, const char *name)
{
    json_object *v;
    if (json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_object))
        return v;
    v = json_object_new_object();
    json_object_object_add(o, name, v);
    return v;
}

static void set_string(json_object *o, const char *name, const char *value)
{
    json_object_object_add(o, name, json_object_new_string(value));
}

static void upper_case(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

/* Applies the command line's runtime settings to a request body. */
static void apply_settings(struct cli *cli, json_object *req)
{
    if (cli->image) {
        json_object *art = json_object_new_object(), *cc = json_object_new_object();
        set_string(cc, "containerUri", cli->image);
        json_object_object_add(art, "containerConfiguration", cc);
        json_object_object_add(req, "agentRuntimeArtifact", art);
    }
    if (cli->protocol) {
        char p[32];
        snprintf(p, sizeof p, "%s", cli->protocol);
        upper_case(p);
        set_string(object_member(req, "protocolConfiguration"), "serverProtocol", p);
    }
    if (cli->network_mode) {
        char m[32];
        snprintf(m, sizeof m, "%s", cli->network_mode);
        upper_case(m);
        set_string(object_member(req, "networkConfiguration"), "networkMode", m);
    }
    if (cli->role_arn)
        set_string(req, "roleArn", cli->role_arn);
    if (cli->description)
        set_string(req, "description", cli->description);
    if (cli->idle_timeout >= 0)
        json_object_object_add(object_member(req, "lifecycleConfiguration"), "idleRuntimeSessionTimeout",
                               json_object_new_int64(cli->idle_timeout));
    if (cli->max_lifetime >= 0)
        json_object_object_add(object_member(req, "lifecycleConfiguration"), "maxLifetime",
                               json_object_new_int64(cli->max_lifetime));
    if (cli->clear_env)
        json_object_object_del(req, "environmentVariables");
    if (cli->env_count) {
        json_object *env = object_member(req, "environmentVariables");
        for (size_t i = 0; i < cli->env_count; i++) {
            const char *eq = strchr(cli->env[i], '=');
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(eq - cli->env[i]), cli->env[i]);
            set_string(env, name, eq + 1);
        }
    }
    char token[37];
    cli_uuid(token);
    set_string(req, "clientToken", token);
}

static bool runtime_path(char *out, size_t len, const char *id)
{
    const char *seg[] = { "runtimes", id };
    return cli_path(out, len, true, seg, 2);
}

/* The answer of create/update, or after --wait the version's final Get answer. */
static int finish_change(struct cli *cli, json_object *answer)
{
    char path[1024], query[64] = "", what[600];
    const char *id = out_get_string(answer, "agentRuntimeId"), *v = out_get_string(answer, "agentRuntimeVersion");
    bool named = runtime_path(path, sizeof path, id) && api_query_add(query, sizeof query, "version", v);
    if (cli->wait && !named)
        fprintf(stderr, "silo: the answer names no usable runtime id and version\n");
    snprintf(what, sizeof what, "runtime %s version %s", id ? id : "?", v ? v : "?");
    return cli_show_change(cli, answer, named ? path : NULL, query, what, summary_keys);
}

int cmd_runtime_create(struct cli *cli)
{
    if (!cli->image)
        return cli_usage_error(cli, "--image URI is required");
    json_object *req = json_object_new_object();
    set_string(req, "agentRuntimeName", cli->pos[0]);
    set_string(req, "roleArn", DEFAULT_ROLE_ARN);
    set_string(object_member(req, "networkConfiguration"), "networkMode", "PUBLIC");
    apply_settings(cli, req);
    return cli_send_change(cli, "PUT", "/runtimes/", req, finish_change);
}

int cmd_runtime_update(struct cli *cli)
{
    char path[1024];
    json_object *current;
    if (!runtime_path(path, sizeof path, cli->pos[0]))
        return cli_usage_error(cli, "the runtime id is too long");
    if (cli_call(cli, "GET", path, NULL, NULL, &current) != API_OK)
        return EXIT_FAIL;
    json_object *req = json_object_new_object();
    for (size_t i = 0; i < sizeof setting_keys / sizeof setting_keys[0]; i++) {
        json_object *v;
        if (json_object_object_get_ex(current, setting_keys[i], &v))
            json_object_object_add(req, setting_keys[i], json_object_get(v));
    }
    json_object_put(current);
    apply_settings(cli, req);
    return cli_send_change(cli, "PUT", path, req, finish_change);
}

int cmd_runtime_get(struct cli *cli)
{
    char path[1024], query[64] = "";
    json_object *answer;
    if (!runtime_path(path, sizeof path, cli->pos[0]))
        return cli_usage_error(cli, "the runtime id is too long");
    if (cli->version)
        api_query_add(query, sizeof query, "version", cli->version);
    if (cli_call(cli, "GET", path, query, NULL, &answer) != API_OK)
        return EXIT_FAIL;
    if (cli->json)
        out_json(answer);
    else
        out_key_values(answer, summary_keys, true);
    json_object_put(answer);
    return EXIT_OK;
}

static int show_list(struct cli *cli, const char *path, bool versions)
{
    static const char *const rt_titles[] = { "ID", "NAME", "VERSION", "STATUS", "UPDATED", "DESCRIPTION" };
    static const char *const rt_paths[] = { "agentRuntimeId", "agentRuntimeName", "agentRuntimeVersion", "status",
                                            "lastUpdatedAt", "description" };
    static const char *const v_titles[] = { "VERSION", "STATUS", "UPDATED", "DESCRIPTION" };
    static const char *const v_paths[] = { "agentRuntimeVersion", "status", "lastUpdatedAt", "description" };
    json_object *all = cli_list_all(cli, path, "agentRuntimes");
    if (!all)
        return EXIT_FAIL;
    if (cli->json)
        out_json(all);
    else if (versions)
        out_table(out_get_path(all, "agentRuntimes"), v_titles, v_paths, 4);
    else
        out_table(out_get_path(all, "agentRuntimes"), rt_titles, rt_paths, 6);
    json_object_put(all);
    return EXIT_OK;
}

int cmd_runtime_list(struct cli *cli)
{
    return show_list(cli, "/runtimes/", false);
}

int cmd_runtime_versions(struct cli *cli)
{
    char path[1024];
    const char *seg[] = { "runtimes", cli->pos[0], "versions" };
    if (!cli_path(path, sizeof path, true, seg, 3))
        return cli_usage_error(cli, "the runtime id is too long");
    return show_list(cli, path, true);
}

int cmd_runtime_delete(struct cli *cli)
{
    char path[1024], query[128] = "", token[37], what[600];
    json_object *answer;
    if (!runtime_path(path, sizeof path, cli->pos[0]))
        return cli_usage_error(cli, "the runtime id is too long");
    cli_uuid(token);
    api_query_add(query, sizeof query, "clientToken", token);
    if (cli->version)
        api_query_add(query, sizeof query, "version", cli->version);
    if (cli_call(cli, "DELETE", path, query, NULL, &answer) != API_OK)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    if (cli->wait) {
        char vq[64] = "";
        if (cli->version)
            api_query_add(vq, sizeof vq, "version", cli->version);
        snprintf(what, sizeof what, "runtime %s%s%s", cli->pos[0], cli->version ? " version " : "",
                 cli->version ? cli->version : "");
        rc = cli_wait_gone(cli, path, vq, what);
    }
    return cli_show_delete(cli, answer, rc);
}
