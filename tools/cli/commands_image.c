/* tools/cli/commands_image.c — `silo image push ARCHIVE`: uploads an agent image archive (an
 * OCI layout or `docker save` tarball, .tar or .tar.gz) into silod's local image store
 * (POST /silo/images, frontend/image_upload.h) and prints the containerUri that names it
 * (`uploads/sha256-<hex>`). The file is streamed from disk with its Content-Length and its
 * signed SHA-256 (read twice, never held in memory); silod keeps it only once the whole body
 * matched that hash, and answers at once, without the body, when it has the digest already. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/cli/cli.h"
#include "tools/cli/output.h"

#define ANSWER_MAX 4096

struct answer_buf {
    char data[ANSWER_MAX];
    size_t len;
};

static bool collect(void *ctx, const char *data, size_t len)
{
    struct answer_buf *a = ctx;
    if (a->len + len >= sizeof a->data)
        return false;
    memcpy(a->data + a->len, data, len);
    a->len += len;
    a->data[a->len] = '\0';
    return true;
}

int cli_image_push(struct cli *cli, const char *file, char *uri, size_t uri_len, bool *already)
{
    FILE *f = fopen(file, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "silo: %s: %s\n", file, f ? "not a regular file" : strerror(errno));
        if (f)
            fclose(f);
        return EXIT_FAIL;
    }
    struct answer_buf a = { .len = 0 };
    /* Expect: 100-continue whatever the size: silod answers an archive it has from the head, and
     * the body is then never sent (without it, a client still sending could see the connection
     * closed before it reads that answer) */
    struct api_header h[2] = { { "Content-Type", "application/octet-stream" }, { "Expect", "100-continue" } };
    struct api_stream_request rq = {
        .method = "POST", .path = "/silo/images", .query = "", .headers = h, .header_count = 2,
        .body = { .kind = API_BODY_FILE, .file = f, .size = (long long)sb.st_size },
        .on_data = collect, .ctx = &a,
    };
    struct api_answer_head head;
    struct api_error err;
    enum api_result r = api_stream(&cli->conn, &rq, &head, &err);
    fclose(f);
    if (r != API_OK) {
        api_print_error(&err);
        return EXIT_FAIL;
    }
    json_object *o = json_tokener_parse(a.data);
    const char *u = o ? out_get_string(o, "containerUri") : NULL;
    json_object *stored;
    if (!u || strlen(u) >= uri_len) {
        fprintf(stderr, "silo: silod's answer names no containerUri\n");
        json_object_put(o);
        return EXIT_FAIL;
    }
    snprintf(uri, uri_len, "%s", u);
    *already = json_object_object_get_ex(o, "alreadyStored", &stored) && json_object_get_boolean(stored);
    if (cli->json && cli->cmd->run == cmd_image_push)
        out_json(o);
    json_object_put(o);
    return EXIT_OK;
}

int cmd_image_push(struct cli *cli)
{
    char uri[256];
    bool already = false;
    int rc = cli_image_push(cli, cli->pos[0], uri, sizeof uri, &already);
    if (rc == EXIT_OK && !cli->json)
        printf("containerUri: %s\nalreadyStored: %s\n", uri, already ? "true" : "false");
    return rc;
}
