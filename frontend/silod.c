/* frontend/silod.c — silod's main: reads the JSON config file (format in frontend/README.md),
 * opens the store, wires the control plane, the session table, the VMM launcher and the
 * image-builder command, serves HTTP, reaps idle sessions once a second, and on SIGTERM/SIGINT
 * stops serving and ends every session (each VMM wipes its guest memory). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "frontend/control_plane.h"
#include "frontend/http_api.h"
#include "frontend/jwt.h"
#include "frontend/sessions.h"
#include "frontend/store.h"
#include "frontend/vmm_launcher.h"

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static const char *cfg_str(json_object *o, const char *k, const char *def)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : def;
}

static int cfg_int(json_object *o, const char *k, int def)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int(v) : def;
}

/* ---------------------------------------------------------------- the image builder
 * The version builder runs the configured command as
 *     BUILDER RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE
 * in its own thread; exit status 0 means the image was built and verified bootable, anything
 * else fails the version with the command's last line of stderr-free status as reason. */
struct builder {
    const char *command;
    const char *rootfs_dir;
    struct control_plane *cp;
};

struct build_job {
    struct builder *b;
    char runtime_id[256];
    int version;
    char *uri;
};

static void *run_build(void *p)
{
    struct build_job *j = p;
    char version[16], out[4096];
    snprintf(version, sizeof version, "%d", j->version);
    snprintf(out, sizeof out, "%s/%s-v%d.ext4", j->b->rootfs_dir, j->runtime_id, j->version);
    pid_t pid = fork();
    if (pid == 0) {
        execl(j->b->command, j->b->command, j->runtime_id, version, j->uri, out, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    bool ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char reason[128];
    snprintf(reason, sizeof reason, "image build failed (%s %d)",
             pid <= 0 ? "fork" : WIFEXITED(status) ? "exit status" : "signal",
             pid <= 0 ? errno : WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    control_plane_version_built(j->b->cp, j->runtime_id, j->version, ok, ok ? NULL : reason);
    free(j->uri);
    free(j);
    return NULL;
}

static void submit_build(void *ctx, const char *runtime_id, int version, const char *config_json)
{
    struct builder *b = ctx;
    json_object *cfg = json_tokener_parse(config_json), *art, *cc, *uri;
    const char *u = cfg && json_object_object_get_ex(cfg, "agentRuntimeArtifact", &art) &&
                            json_object_object_get_ex(art, "containerConfiguration", &cc) &&
                            json_object_object_get_ex(cc, "containerUri", &uri)
                        ? json_object_get_string(uri) : NULL;
    if (!b->command || !u) {
        control_plane_version_built(b->cp, runtime_id, version, false,
                                    b->command ? "no containerUri" : "no image builder configured");
        json_object_put(cfg);
        return;
    }
    struct build_job *j = calloc(1, sizeof *j);
    j->b = b;
    snprintf(j->runtime_id, sizeof j->runtime_id, "%s", runtime_id);
    j->version = version;
    j->uri = strdup(u);
    json_object_put(cfg);
    pthread_t t;
    if (pthread_create(&t, NULL, run_build, j) != 0) {
        control_plane_version_built(b->cp, runtime_id, version, false, "cannot start the build");
        free(j->uri);
        free(j);
        return;
    }
    pthread_detach(t);
}

static void end_runtime_sessions(void *ctx, const char *runtime_id)
{
    sessions_stop_runtime(ctx, runtime_id);
}

static void usage(void)
{
    fputs("usage: silod --config FILE\n"
          "  Serves the AgentCore-compatible data and control plane. See frontend/README.md.\n",
          stderr);
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (!config_path) {
        usage();
        return 2;
    }
    json_object *cfg = json_object_from_file(config_path);
    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        fprintf(stderr, "silod: cannot read config %s: %s\n", config_path, json_util_get_last_err());
        return 1;
    }
    const char *region = cfg_str(cfg, "region", "us-east-1");
    const char *account = cfg_str(cfg, "account_id", "000000000000");
    json_object *creds = NULL, *vmm = NULL;
    json_object_object_get_ex(cfg, "credentials", &creds);
    json_object_object_get_ex(cfg, "vmm", &vmm);
    size_t key_count = creds && json_object_is_type(creds, json_type_array) ? json_object_array_length(creds) : 0;
    if (!key_count) {
        fprintf(stderr, "silod: the config has no credentials; SigV4 needs at least one key\n");
        return 1;
    }
    struct sigv4_key *keys = calloc(key_count, sizeof *keys);
    for (size_t i = 0; i < key_count; i++) {
        json_object *k = json_object_array_get_idx(creds, i);
        keys[i] = (struct sigv4_key){ cfg_str(k, "access_key_id", NULL), cfg_str(k, "secret_access_key", NULL),
                                      cfg_str(k, "session_token", NULL), cfg_str(k, "principal", NULL) };
        if (!keys[i].access_key_id || !keys[i].secret_access_key) {
            fprintf(stderr, "silod: credentials[%zu] needs access_key_id and secret_access_key\n", i);
            return 1;
        }
    }
    char err[512];
    struct store store;
    if (!store_open(&store, cfg_str(cfg, "database", "silod.db"), err, sizeof err)) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct vmm_launcher_config lc = {
        cfg_str(vmm, "path", "silo-vmm"), cfg_str(vmm, "kernel", "Image"), cfg_str(vmm, "initrd", NULL),
        cfg_str(vmm, "rootfs_dir", "images"), cfg_str(vmm, "socket_dir", "/tmp"),
        (unsigned)cfg_int(vmm, "cpus", 2), cfg_int(vmm, "ready_timeout_ms", 30000),
        cfg_str(vmm, "cmdline", NULL),
    };
    struct sessions_config sc = { (unsigned)cfg_int(cfg, "max_sessions", 100),
                                  (unsigned)cfg_int(cfg, "max_guest_mib", 16384), NULL, NULL, vmm_launcher(&lc) };
    struct sessions *sessions = sessions_new(&sc);
    struct builder builder = { cfg_str(cfg, "image_builder", NULL), lc.rootfs_dir, NULL };
    struct control_plane_config cc = { region, account, { submit_build, &builder }, end_runtime_sessions,
                                       sessions, NULL, NULL };
    struct control_plane *cp = control_plane_new(&store, &cc);
    builder.cp = cp;
    struct jwt_keystore *jwt_keys = jwt_keystore_new(jwt_curl_fetch, NULL);
    json_object *mp = NULL;
    bool metrics_public = json_object_object_get_ex(cfg, "metrics_public", &mp) && json_object_get_boolean(mp);
    struct http_api_config hc = { region, keys, key_count, cp, sessions,
                                  (unsigned)cfg_int(vmm, "guest_mib", 512), jwt_keys, metrics_public };
    struct http_api *api = http_api_start(&hc, cfg_str(cfg, "listen_address", "127.0.0.1"),
                                          (unsigned)cfg_int(cfg, "listen_port", 8080), err, sizeof err);
    if (!api) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "silod: listening on %s:%u (region %s)\n", cfg_str(cfg, "listen_address", "127.0.0.1"),
            http_api_port(api), region);
    while (!stopping) {
        sleep(1);
        sessions_reap(sessions);
    }
    fprintf(stderr, "silod: stopping\n");
    http_api_stop(api);
    sessions_free(sessions);
    control_plane_free(cp);
    jwt_keystore_free(jwt_keys);
    store_close(&store);
    free(keys);
    json_object_put(cfg);
    curl_global_cleanup();
    return 0;
}
