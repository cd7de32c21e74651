/* frontend/silod.c — silod's main: reads the JSON config file (format in frontend/README.md),
 * opens the store, wires the control plane, the session table, the VMM launcher and the
 * image-builder command, serves HTTP, reaps idle sessions once a second, polls agents' /ping
 * (ping_poller.c), writes usage records (usage.c), and on SIGTERM/SIGINT drains: refuses new
 * sessions, waits for in-flight requests (drain_timeout_s), then ends every session (each VMM
 * wipes its guest memory) and exits 0. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "frontend/control_plane.h"
#include "frontend/http_api.h"
#include "frontend/image_builder.h"
#include "frontend/jwt.h"
#include "frontend/ping_poller.h"
#include "frontend/sessions.h"
#include "frontend/store.h"
#include "frontend/usage.h"
#include "frontend/vmm_launcher.h"

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = stopping < 2 ? stopping + 1 : 2; }  /* 2nd: no more waiting */

/* SIGTERM: refuse new sessions, let in-flight requests finish (up to drain_timeout_s, or until
 * a second signal), then end every session (reason shutdown: each VMM wipes, a usage record
 * each). The HTTP server keeps answering meanwhile, so requests to existing sessions go on. */
static void drain(struct sessions *sessions, struct ping_poller *poller, int drain_timeout_s)
{
    sessions_begin_drain(sessions);
    unsigned n = sessions_in_flight(sessions);
    fprintf(stderr, "silod: draining %u in-flight requests (deadline %d s)\n", n, drain_timeout_s);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int ticks = 1; n > 0 && stopping < 2; ticks++) {
        usleep(100000);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= drain_timeout_s)
            break;
        if (ticks % 10 == 0)
            sessions_reap(sessions);
        n = sessions_in_flight(sessions);
    }
    if (n)
        fprintf(stderr, "silod: drain deadline passed with %u requests in flight; ending them\n", n);
    ping_poller_stop(poller);
    unsigned ended = sessions_end_all(sessions, SESSION_END_SHUTDOWN);
    fprintf(stderr, "silod: ended %u sessions\n", ended);
}

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

static bool cfg_bool(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

static void end_runtime_sessions(void *ctx, const char *runtime_id)
{
    sessions_stop_runtime(ctx, runtime_id);
}

static bool reserve_guest_mib(void *ctx, unsigned mib) { return sessions_reserve_guest_mib(ctx, mib); }
static void release_guest_mib(void *ctx, unsigned mib) { sessions_release_guest_mib(ctx, mib); }

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
    struct usage_log *records = usage_log_open(cfg_str(cfg, "database", "silod.db"), err, sizeof err);
    if (!records) {
        fprintf(stderr, "silod: usage records: %s\n", err);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct vmm_launcher_config lc = {
        cfg_str(vmm, "path", "silo-vmm"), cfg_str(vmm, "kernel", "Image"), cfg_str(vmm, "initrd", NULL),
        cfg_str(vmm, "rootfs_dir", "images"), cfg_str(vmm, "socket_dir", "/tmp"),
        (unsigned)cfg_int(vmm, "cpus", 2), cfg_int(vmm, "ready_timeout_ms", 30000),
        cfg_str(vmm, "cmdline", NULL), cfg_bool(vmm, "verify_wipe"),
    };
    struct sessions_config sc = { (unsigned)cfg_int(cfg, "max_sessions", 100),
                                  (unsigned)cfg_int(cfg, "max_guest_mib", 16384), NULL, NULL, vmm_launcher(&lc),
                                  usage_log_record, records };
    unsigned stale = vmm_clean_socket_dir(lc.socket_dir);    /* restart begins clean */
    if (stale)
        fprintf(stderr, "silod: removed %u stale session sockets from %s\n", stale, lc.socket_dir);
    struct sessions *sessions = sessions_new(&sc);
    struct image_builder *builder = image_builder_from_config(cfg, &lc);   /* lives as long as silod */
    struct control_plane_config cc = { region, account, image_builder_interface(builder), end_runtime_sessions,
                                       sessions, NULL, NULL };
    struct control_plane *cp = control_plane_new(&store, &cc);
    image_builder_attach(builder, cp);
    struct image_builder_capacity boot_checks = { reserve_guest_mib, release_guest_mib, sessions };
    image_builder_attach_capacity(builder, &boot_checks);   /* boot checks count against max_guest_mib */
    unsigned resumed = control_plane_resume_builds(cp);   /* builds a previous silod left unfinished */
    if (resumed)
        fprintf(stderr, "silod: resuming %u image builds interrupted by the last stop\n", resumed);
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
    int ping_interval_s = cfg_int(cfg, "ping_interval_s", 5);
    struct ping_poller *poller = ping_interval_s > 0 ? ping_poller_start(sessions, ping_interval_s, 5000) : NULL;
    fprintf(stderr, "silod: listening on %s:%u (region %s)\n", cfg_str(cfg, "listen_address", "127.0.0.1"),
            http_api_port(api), region);
    while (!stopping) {
        sleep(1);
        sessions_reap(sessions);
    }
    fprintf(stderr, "silod: stopping\n");
    drain(sessions, poller, cfg_int(cfg, "drain_timeout_s", 30));
    http_api_stop(api);
    sessions_free(sessions);
    usage_log_close(records);
    control_plane_free(cp);
    jwt_keystore_free(jwt_keys);
    store_close(&store);
    free(keys);
    json_object_put(cfg);
    curl_global_cleanup();
    fprintf(stderr, "silod: stopped\n");
    return 0;
}
