/* tools/cli/silo_api.c — `silo runtime|endpoint|invoke|stop-session|image push|deploy`: the CLI as a thin,
 * SigV4-signing client of silod's AgentCore API (tools/silo execs this program, silo-api).
 * This file owns the command table, option parsing, help texts, the connection settings
 * (--endpoint-url/SILO_ENDPOINT, AWS_* credentials, --region/AWS_REGION) and the helpers the
 * command files share (API calls with error lines, paths, UUIDs, paging through lists).
 * The commands themselves: commands_runtime.c, commands_endpoint.c, commands_invoke.c,
 * commands_image.c (image push), commands_deploy.c (deploy);
 * --wait: wait.c; HTTP and signing: api_client.c, sigv4_sign.c; output: output.c.
 * Exit status: 0 done, 1 an API error / failed wait / connection failure, 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tools/cli/cli.h"
#include "tools/cli/output.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:8080"
#define DEFAULT_REGION "us-east-1"
#define DEFAULT_WAIT_TIMEOUT 600
#define MAX_PAGES 10000

struct option_info {
    enum cli_option id;
    const char *name;
    const char *arg;        /* NULL: a flag */
    const char *help;
};

static const struct option_info option_infos[] = {
    { OPT_IMAGE, "image", "URI", "the agent's container image (containerUri)" },
    { OPT_PROTOCOL, "protocol", "P", "HTTP (default) or MCP" },
    { OPT_ENV, "env", "K=V", "an environment variable for the agent (repeatable)" },
    { OPT_CLEAR_ENV, "clear-env", NULL, "drop the current environment variables first" },
    { OPT_IDLE_TIMEOUT, "idle-timeout", "S", "end a session idle for S seconds (60-28800, default 900)" },
    { OPT_MAX_LIFETIME, "max-lifetime", "S", "end any session after S seconds (60-28800, default 28800)" },
    { OPT_DESCRIPTION, "description", "TEXT", "a description" },
    { OPT_ROLE_ARN, "role-arn", "ARN", "the roleArn the API requires (default arn:aws:iam::000000000000:role/silo-agent)" },
    { OPT_NETWORK_MODE, "network-mode", "M", "PUBLIC (default) or VPC" },
    { OPT_VERSION, "version", "N", "the agent runtime version" },
    { OPT_WAIT, "wait", NULL, "wait until READY (or failed, or deleted)" },
    { OPT_WAIT_TIMEOUT, "wait-timeout", "S", "give up waiting after S seconds (default 600)" },
    { OPT_QUALIFIER, "qualifier", "NAME", "the endpoint to use (default DEFAULT)" },
    { OPT_SESSION, "session", "ID", "the runtime session (33-256 characters; default: a new one)" },
    { OPT_USER_ID, "user-id", "U", "X-Amzn-Bedrock-AgentCore-Runtime-User-Id for the agent" },
    { OPT_CONTENT_TYPE, "content-type", "T", "the payload's type (default application/json for DATA,"
                                              " application/octet-stream for a file)" },
    { OPT_ACCEPT, "accept", "T", "the Accept header for the agent" },
    { OPT_FILE, "file", "F", "send the contents of F ('-': standard input)" },
    { OPT_PAGE_SIZE, "page-size", "N", "items per request, 1-100 (default 100; every page is fetched)" },
    { OPT_NAME, "name", "NAME", "the runtime to create, or to update when it exists" },
    { OPT_JSON, "json", NULL, "print the API's JSON answer" },
    { OPT_ENDPOINT_URL, "endpoint-url", "URL", "silod's address (default $SILO_ENDPOINT, else " DEFAULT_ENDPOINT ")" },
    { OPT_REGION, "region", "R", "the signing region (default $AWS_REGION, else " DEFAULT_REGION ")" },
    { OPT_CA_FILE, "ca-file", "PEM", "for an https:// endpoint: trust the CA certificates in PEM (default $SILO_CA_FILE,"
                                      " else the system's)" },
    { OPT_HELP, "help", NULL, "this help" },
};

static const struct option_info *option_info(enum cli_option id)
{
    for (size_t i = 0; i < sizeof option_infos / sizeof option_infos[0]; i++)
        if (option_infos[i].id == id)
            return &option_infos[i];
    abort();        /* every option in a command's list is described above */
}

#define RUNTIME_SETTINGS OPT_PROTOCOL, OPT_ENV, OPT_IDLE_TIMEOUT, OPT_MAX_LIFETIME, OPT_DESCRIPTION, \
                         OPT_ROLE_ARN, OPT_NETWORK_MODE, OPT_WAIT, OPT_WAIT_TIMEOUT

static const enum cli_option opts_rt_create[] = { OPT_IMAGE, RUNTIME_SETTINGS, OPT_NONE };
static const enum cli_option opts_rt_update[] = { OPT_IMAGE, RUNTIME_SETTINGS, OPT_CLEAR_ENV, OPT_NONE };
static const enum cli_option opts_rt_get[] = { OPT_VERSION, OPT_NONE };
static const enum cli_option opts_none[] = { OPT_NONE };
static const enum cli_option opts_list[] = { OPT_PAGE_SIZE, OPT_NONE };
static const enum cli_option opts_rt_delete[] = { OPT_VERSION, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_NONE };
static const enum cli_option opts_ep_create[] = { OPT_VERSION, OPT_DESCRIPTION, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_NONE };
static const enum cli_option opts_ep_delete[] = { OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_NONE };
static const enum cli_option opts_invoke[] = { OPT_QUALIFIER, OPT_SESSION, OPT_USER_ID, OPT_CONTENT_TYPE,
                                               OPT_ACCEPT, OPT_FILE, OPT_NONE };
static const enum cli_option opts_stop[] = { OPT_QUALIFIER, OPT_NONE };
static const enum cli_option opts_deploy[] = { OPT_NAME, RUNTIME_SETTINGS, OPT_NONE };

static const struct cli_command commands[] = {
    { "runtime", "create", "NAME --image URI", "create an agent runtime (its version 1)",
      opts_rt_create, 1, 1, true, cmd_runtime_create },
    { "runtime", "update", "ID", "make a new version; settings not given are kept from the latest",
      opts_rt_update, 1, 1, true, cmd_runtime_update },
    { "runtime", "get", "ID", "show an agent runtime (its latest version, or --version N)",
      opts_rt_get, 1, 1, true, cmd_runtime_get },
    { "runtime", "list", "", "list the agent runtimes", opts_list, 0, 0, true, cmd_runtime_list },
    { "runtime", "versions", "ID", "list an agent runtime's versions", opts_list, 1, 1, true, cmd_runtime_versions },
    { "runtime", "delete", "ID", "delete an agent runtime (or one unused version with --version N)",
      opts_rt_delete, 1, 1, true, cmd_runtime_delete },
    { "endpoint", "create", "RUNTIME_ID NAME", "create an endpoint (pinned to --version N, default the latest)",
      opts_ep_create, 2, 2, true, cmd_endpoint_create },
    { "endpoint", "update", "RUNTIME_ID NAME --version N", "point an endpoint at another version",
      opts_ep_create, 2, 2, true, cmd_endpoint_update },
    { "endpoint", "get", "RUNTIME_ID NAME", "show an endpoint", opts_none, 2, 2, true, cmd_endpoint_get },
    { "endpoint", "list", "RUNTIME_ID", "list a runtime's endpoints", opts_list, 1, 1, true, cmd_endpoint_list },
    { "endpoint", "delete", "RUNTIME_ID NAME", "delete an endpoint", opts_ep_delete, 2, 2, true, cmd_endpoint_delete },
    { NULL, "invoke", "RUNTIME_ID_OR_ARN (DATA | --file F | -)",
      "send a payload to the agent; its answer streams to stdout, the session id to stderr",
      opts_invoke, 1, 2, false, cmd_invoke },
    { NULL, "stop-session", "RUNTIME_ID_OR_ARN SESSION_ID", "stop a runtime session (its microVM)",
      opts_stop, 2, 2, true, cmd_stop_session },
    { "image", "push", "ARCHIVE", "upload an image archive (.tar/.tar.gz) into silod's image store; prints its containerUri",
      opts_none, 1, 1, true, cmd_image_push },
    { NULL, "deploy", "ARCHIVE|CONTAINER_URI --name NAME",
      "upload the archive, create the runtime NAME or update it (a new version), wait until READY, "
      "print how to invoke it", opts_deploy, 1, 1, false, cmd_deploy },
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

/* ---------------------------------------------------------------- help */

static void print_synopsis(FILE *f, const struct cli_command *c)
{
    fprintf(f, "  silo %s%s%s%s%s [options]\n", c->group ? c->group : "", c->group ? " " : "", c->name,
            *c->args ? " " : "", c->args);
}

static void print_option(FILE *f, enum cli_option id)
{
    const struct option_info *o = option_info(id);
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "    %-22s %s\n", left, o->help);
}

static void print_common_options(FILE *f, bool json)
{
    fprintf(f, "  common options:\n");
    if (json)
        print_option(f, OPT_JSON);
    print_option(f, OPT_ENDPOINT_URL);
    print_option(f, OPT_REGION);
    print_option(f, OPT_CA_FILE);
    print_option(f, OPT_HELP);
    fprintf(f, "  credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) - a key in\n"
               "  silod's config; requests are SigV4-signed for the service bedrock-agentcore\n");
}

static void print_command_help(FILE *f, const struct cli_command *c)
{
    fprintf(f, "usage:\n");
    print_synopsis(f, c);
    fprintf(f, "  %s\n", c->summary);
    if (c->options[0] != OPT_NONE) {
        fprintf(f, "  options:\n");
        for (const enum cli_option *o = c->options; *o != OPT_NONE; o++)
            print_option(f, *o);
    }
    print_common_options(f, c->takes_json);
}

static void print_group_help(FILE *f, const char *group)
{
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (group ? !commands[i].group || strcmp(commands[i].group, group) != 0 : false)
            continue;
        print_synopsis(f, &commands[i]);
        fprintf(f, "      %s\n", commands[i].summary);
    }
    fprintf(f, "  'silo %s%sCOMMAND --help' shows a command's options; '--json' prints the API's answers.\n",
            group ? group : "", group ? " " : "");
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("silo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (cli && cli->cmd) {
        fputs("usage:\n", stderr);
        print_synopsis(stderr, cli->cmd);
        fprintf(stderr, "  ('silo %s%s%s --help' for the options)\n", cli->cmd->group ? cli->cmd->group : "",
                cli->cmd->group ? " " : "", cli->cmd->name);
    }
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------- option parsing */

static bool parse_seconds(const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1000000)
        return false;
    *out = v;
    return true;
}

static int set_option(struct cli *cli, int id, const char *arg, const char **endpoint, const char **region,
                      const char **ca_file)
{
    const struct option_info *o = option_info((enum cli_option)id);
    switch (id) {
    case OPT_JSON: cli->json = true; break;
    case OPT_ENDPOINT_URL: *endpoint = arg; break;
    case OPT_REGION: *region = arg; break;
    case OPT_CA_FILE: *ca_file = arg; break;
    case OPT_IMAGE: cli->image = arg; break;
    case OPT_PROTOCOL: cli->protocol = arg; break;
    case OPT_ENV:
        if (!strchr(arg, '=') || arg[0] == '=' || strchr(arg, '=') - arg > 255)
            return cli_usage_error(cli, "--env wants NAME=VALUE (a name of 1-255 characters), not '%.300s'", arg);
        if (cli->env_count == CLI_MAX_ENV)
            return cli_usage_error(cli, "at most %d --env options", CLI_MAX_ENV);
        cli->env[cli->env_count++] = arg;
        break;
    case OPT_CLEAR_ENV: cli->clear_env = true; break;
    case OPT_IDLE_TIMEOUT:
    case OPT_MAX_LIFETIME:
    case OPT_WAIT_TIMEOUT: {
        long v;
        if (!parse_seconds(arg, &v))
            return cli_usage_error(cli, "--%s wants a number of seconds, not '%s'", o->name, arg);
        *(id == OPT_IDLE_TIMEOUT ? &cli->idle_timeout : id == OPT_MAX_LIFETIME ? &cli->max_lifetime
                                                                               : &cli->wait_timeout) = v;
        break;
    }
    case OPT_DESCRIPTION: cli->description = arg; break;
    case OPT_ROLE_ARN: cli->role_arn = arg; break;
    case OPT_NETWORK_MODE: cli->network_mode = arg; break;
    case OPT_VERSION: {
        char *end;
        long v = strtol(arg, &end, 10);
        if (end == arg || *end || v < 1 || v > 99999 || arg[0] == '0')
            return cli_usage_error(cli, "--version wants a version number (1-99999), not '%s'", arg);
        cli->version = arg;
        break;
    }
    case OPT_WAIT: cli->wait = true; break;
    case OPT_QUALIFIER: cli->qualifier = arg; break;
    case OPT_SESSION: cli->session = arg; break;
    case OPT_USER_ID: cli->user_id = arg; break;
    case OPT_CONTENT_TYPE: cli->content_type = arg; break;
    case OPT_ACCEPT: cli->accept = arg; break;
    case OPT_FILE: cli->file = arg; break;
    case OPT_NAME: cli->name = arg; break;
    case OPT_PAGE_SIZE: {
        char *end;
        long v = strtol(arg, &end, 10);
        if (end == arg || *end || v < 1 || v > 100)
            return cli_usage_error(cli, "--page-size wants a number from 1 to 100, not '%s'", arg);
        cli->page_size = v;
        break;
    }
    default: return cli_usage_error(cli, "unexpected option");
    }
    return EXIT_OK;
}

/* Parses argv (argv[0] names the command) into cli; returns -1 to go on, else an exit code. */
static int parse_command_line(struct cli *cli, int argc, char **argv, const char **endpoint, const char **region,
                              const char **ca_file)
{
    const struct cli_command *c = cli->cmd;
    struct option longopts[64];
    size_t n = 0;
    for (const enum cli_option *o = c->options; *o != OPT_NONE; o++) {
        const struct option_info *oi = option_info(*o);
        longopts[n++] = (struct option){ oi->name, oi->arg ? required_argument : no_argument, NULL, (int)*o };
    }
    static const enum cli_option common[] = { OPT_JSON, OPT_ENDPOINT_URL, OPT_REGION, OPT_CA_FILE, OPT_HELP };
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        if (common[i] == OPT_JSON && !c->takes_json)
            continue;
        const struct option_info *oi = option_info(common[i]);
        longopts[n++] = (struct option){ oi->name, oi->arg ? required_argument : no_argument, NULL, (int)common[i] };
    }
    longopts[n] = (struct option){ 0 };
    opterr = 0;
    optind = 0;      /* GNU: start afresh; options and operands may be mixed */
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ch == 'h' || ch == OPT_HELP) {
            print_command_help(stdout, c);
            return EXIT_OK;
        }
        if (ch == '?')
            return cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
        if (ch == ':')
            return cli_usage_error(cli, "option '%s' needs a value", argv[optind - 1]);
        int r = set_option(cli, ch, optarg, endpoint, region, ca_file);
        if (r != EXIT_OK)
            return r;
    }
    for (int i = optind; i < argc; i++) {
        if (cli->npos == CLI_MAX_POSITIONAL || cli->npos >= c->max_pos)
            return cli_usage_error(cli, "unexpected argument '%s'", argv[i]);
        cli->pos[cli->npos++] = argv[i];
    }
    if (cli->npos < c->min_pos)
        return cli_usage_error(cli, "missing %s", c->args);
    for (size_t i = 0; i < cli->npos; i++)
        if (!cli->pos[i][0])
            return cli_usage_error(cli, "an empty argument");
    return -1;
}

/* ---------------------------------------------------------------- shared helpers */

enum api_result cli_call(struct cli *cli, const char *method, const char *path, const char *query,
                         json_object *body, json_object **answer)
{
    struct api_error err;
    enum api_result r = api_json(&cli->conn, method, path, query, body, answer, &err);
    if (r != API_OK)
        api_print_error(&err);
    return r;
}

bool cli_path(char *out, size_t len, bool trailing_slash, const char *const *segments, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (used + 2 > len)
            return false;
        out[used++] = '/';
        if (!api_encode_segment(segments[i], out + used, len - used))
            return false;
        used += strlen(out + used);
    }
    if (trailing_slash) {
        if (used + 2 > len)
            return false;
        out[used++] = '/';
        out[used] = '\0';
    }
    return true;
}

void cli_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        fprintf(stderr, "silo: no randomness (getrandom failed)\n");
        exit(EXIT_FAIL);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

json_object *cli_list_all(struct cli *cli, const char *path, const char *items_key)
{
    json_object *all = json_object_new_array();
    char token[1024] = "";
    for (int page = 0; page < MAX_PAGES; page++) {
        char query[2048] = "", page_size[16];
        snprintf(page_size, sizeof page_size, "%ld", cli->page_size);
        if (!api_query_add(query, sizeof query, "maxResults", page_size) ||
            (token[0] && !api_query_add(query, sizeof query, "nextToken", token))) {
            fprintf(stderr, "silo: the server's nextToken is too long\n");
            break;
        }
        json_object *answer, *items, *next;
        if (cli_call(cli, "POST", path, query, NULL, &answer) != API_OK)
            break;
        if (!json_object_object_get_ex(answer, items_key, &items) || !json_object_is_type(items, json_type_array)) {
            fprintf(stderr, "silo: the answer has no '%s' list\n", items_key);
            json_object_put(answer);
            break;
        }
        for (size_t i = 0; i < json_object_array_length(items); i++)
            json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
        bool more = json_object_object_get_ex(answer, "nextToken", &next) &&
                    json_object_is_type(next, json_type_string) && json_object_get_string_len(next) > 0;
        if (more && (json_object_get_string_len(next) >= (int)sizeof token ||
                     strcmp(token, json_object_get_string(next)) == 0)) {
            fprintf(stderr, "silo: the server's nextToken does not advance\n");
            json_object_put(answer);
            break;
        }
        if (more)
            snprintf(token, sizeof token, "%s", json_object_get_string(next));
        json_object_put(answer);
        if (!more) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, items_key, all);
            return o;
        }
    }
    json_object_put(all);
    return NULL;
}

/* ---------------------------------------------------------------- main */

static const struct cli_command *find_command(const char *group, const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const struct cli_command *c = &commands[i];
        if (((!group && !c->group) || (group && c->group && strcmp(group, c->group) == 0)) &&
            strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static bool is_help(const char *s)
{
    return strcmp(s, "help") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        print_group_help(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *group = NULL;
    int first = 1;                      /* argv[first] names the command */
    if (strcmp(argv[1], "runtime") == 0 || strcmp(argv[1], "endpoint") == 0 || strcmp(argv[1], "image") == 0) {
        group = argv[1];
        if (argc < 3 || is_help(argv[2])) {
            print_group_help(argc < 3 ? stderr : stdout, group);
            return argc < 3 ? EXIT_USAGE : EXIT_OK;
        }
        first = 2;
    }
    struct cli cli = { .idle_timeout = -1, .max_lifetime = -1, .wait_timeout = DEFAULT_WAIT_TIMEOUT,
                       .page_size = 100 };
    cli.cmd = find_command(group, argv[first]);
    if (!cli.cmd) {
        fprintf(stderr, "silo: unknown command '%s%s%s'\n", group ? group : "", group ? " " : "", argv[first]);
        print_group_help(stderr, group);
        return EXIT_USAGE;
    }
    const char *endpoint = env_or("SILO_ENDPOINT", DEFAULT_ENDPOINT);
    const char *region = env_or("AWS_REGION", DEFAULT_REGION);
    const char *ca_file = env_or("SILO_CA_FILE", NULL);
    int r = parse_command_line(&cli, argc - first, argv + first, &endpoint, &region, &ca_file);
    if (r >= 0)
        return r;
    if (ca_file && access(ca_file, R_OK) != 0) {
        fprintf(stderr, "silo: --ca-file %s: %s\n", ca_file, strerror(errno));
        return EXIT_USAGE;
    }

    cli.conn.region = region;
    const char *akid = env_or("AWS_ACCESS_KEY_ID", NULL), *secret = env_or("AWS_SECRET_ACCESS_KEY", NULL);
    if (!akid || !secret) {
        fprintf(stderr, "silo: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                        "(a key from silod's config)\n");
        return EXIT_USAGE;
    }
    char why[512];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "silo: libcurl could not be initialised\n");
        return EXIT_FAIL;
    }
    if (!api_conn_init(&cli.conn, endpoint, why, sizeof why)) {
        fprintf(stderr, "silo: %s\n", why);
        curl_global_cleanup();
        return EXIT_USAGE;
    }
    cli.conn.region = region;
    cli.conn.access_key = akid;
    cli.conn.secret_key = secret;
    cli.conn.session_token = env_or("AWS_SESSION_TOKEN", NULL);
    cli.conn.ca_file = ca_file;
    cli.conn.own_signer_always = strcmp(env_or("SILO_CLI_OWN_SIGV4", "0"), "1") == 0;
    r = cli.cmd->run(&cli);
    fflush(stdout);
    api_conn_free(&cli.conn);
    curl_global_cleanup();
    return r;
}
