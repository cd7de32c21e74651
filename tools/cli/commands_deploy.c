/* tools/cli/commands_deploy.c — `silo deploy` (its C half; tools/deploy/silo-deploy turns a
 * directory into an archive first): takes an image archive (uploaded with `silo image push`'s
 * call, commands_image.c) or a containerUri silod can already resolve, creates the runtime
 * --name, or when a runtime of that name exists updates it (UpdateAgentRuntime: a new version
 * with the new containerUri, other settings kept), waits until that version is READY, and
 * prints the exact `silo invoke` and curl commands for it. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/cli/cli.h"
#include "tools/cli/output.h"

/* The id of the runtime named name into id (""), or false after an error line. */
static bool find_runtime(struct cli *cli, const char *name, char *id, size_t id_len)
{
    id[0] = '\0';
    json_object *all = cli_list_all(cli, "/runtimes/", "agentRuntimes"), *items;
    if (!all)
        return false;
    if (json_object_object_get_ex(all, "agentRuntimes", &items))
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *rt = json_object_array_get_idx(items, i);
            const char *n = out_get_string(rt, "agentRuntimeName"), *rid = out_get_string(rt, "agentRuntimeId");
            if (n && rid && strcmp(n, name) == 0)
                snprintf(id, id_len, "%s", rid);
        }
    json_object_put(all);
    return true;
}

/* a word for a shell command line: as it is when safe, else in single quotes */
static void shell_word(const char *s)
{
    if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == strlen(s)) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (; *s; s++)
        fputs(*s == '\'' ? "'\\''" : (char[2]){ *s, 0 }, stdout);
    putchar('\'');
}

static void print_how_to_invoke(struct cli *cli, const char *id)
{
    const char *ca = cli->conn.ca_file;
    printf("\nInvoke it (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: a key of silod's config):\n\n  tools/silo invoke ");
    shell_word(id);
    printf(" '{\"prompt\": \"hello\"}' --endpoint-url ");
    shell_word(cli->conn.endpoint);
    if (ca) {
        printf(" --ca-file ");
        shell_word(ca);
    }
    printf("\n\nor with curl:\n\n  curl -sS --aws-sigv4 aws:amz:%s:bedrock-agentcore --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" \\\n",
           cli->conn.region);
    if (ca) {
        printf("       --cacert ");
        shell_word(ca);
        printf(" \\\n");
    }
    printf("       -H 'Content-Type: application/json' -d '{\"prompt\": \"hello\"}' ");
    char url[2048];
    snprintf(url, sizeof url, "%s/runtimes/%s/invocations?qualifier=DEFAULT", cli->conn.endpoint, id);
    shell_word(url);
    printf("\n");
}

int cmd_deploy(struct cli *cli)
{
    const char *source = cli->pos[0], *name = cli->name;
    if (!name)
        return cli_usage_error(cli, "--name NAME is required");
    char uri[256];
    struct stat sb;
    if (stat(source, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_usage_error(cli, "%s is a directory: `tools/silo deploy` packs directories first", source);
    if (stat(source, &sb) == 0) {
        bool already = false;
        int rc = cli_image_push(cli, source, uri, sizeof uri, &already);
        if (rc != EXIT_OK)
            return rc;
        fprintf(stderr, "silo: image %s %s\n", uri, already ? "was in silod's image store already" : "uploaded into silod's image store");
    } else {
        snprintf(uri, sizeof uri, "%s", source);    /* a containerUri silod resolves (its image store, image_paths) */
    }
    char id[128];
    if (!find_runtime(cli, name, id, sizeof id))
        return EXIT_FAIL;
    cli->image = uri;
    cli->wait = true;
    cli->npos = 1;
    cli->pos[0] = id[0] ? id : name;
    fprintf(stderr, "silo: %s runtime %s with %s; waiting until it is READY\n", id[0] ? "updating" : "creating",
            name, uri);
    int rc = id[0] ? cmd_runtime_update(cli) : cmd_runtime_create(cli);
    if (rc != EXIT_OK)
        return rc;
    if (!id[0] && (!find_runtime(cli, name, id, sizeof id) || !id[0])) {
        fprintf(stderr, "silo: the runtime %s was created but is not listed\n", name);
        return EXIT_FAIL;
    }
    print_how_to_invoke(cli, id);
    return EXIT_OK;
}
