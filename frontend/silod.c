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
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "frontend/control_plane.h"
#include "frontend/egress_relay.h"
#include "frontend/guest_channels.h"
#include "frontend/http_api.h"
#include "frontend/image_builder.h"
#include "frontend/jwt.h"
#include "frontend/role_creds.h"
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

/* The front door's limits (frontend/README.md, "Limits"); 0 or absent means the default. */
static void http_api_limits_from_config(struct http_api_config *hc, json_object *cfg)
{
    hc->spool_dir = cfg_str(cfg, "spool_dir", NULL);
    hc->spool_max_unauthenticated_mib = (unsigned)cfg_int(cfg, "spool_max_unauthenticated_mib", 0);
    hc->max_connections = (unsigned)cfg_int(cfg, "max_connections", 0);
    hc->max_connections_per_client = (unsigned)cfg_int(cfg, "max_connections_per_client", 0);
    hc->head_timeout_s = (unsigned)cfg_int(cfg, "head_timeout_s", 0);
    hc->body_timeout_s = (unsigned)cfg_int(cfg, "body_timeout_s", 0);
    hc->keepalive_timeout_s = (unsigned)cfg_int(cfg, "keepalive_timeout_s", 0);
    hc->idle_timeout_s = (unsigned)cfg_int(cfg, "idle_timeout_s", 0);
}

/* One descriptor per client connection (and more per session): the soft limit goes up to the
 * hard limit, so max_connections is what limits connections, not a default of 1024. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "silod: cannot raise the descriptor limit: %s\n", strerror(errno));
    }
}

static void usage(void)
{
    fputs("usage: silod --config FILE\n"
          "  Serves the AgentCore-compatible data and control plane. See frontend/README.md.\n",
          stderr);
}

/* `egress` (frontend/README.md): allow lists, VPC networks, limits. false with a reason. */
static bool egress_from_config(json_object *cfg, struct egress_config *e, unsigned listen_port, char *err, size_t len)
{
    *e = (struct egress_config){ .enabled = true, .max_connections_per_session = 256, .connect_timeout_ms = 10000,
                                 .idle_timeout_s = 900 };
    e->rules.silod_port = listen_port;
    if (!egress_rules_load_host_addrs(&e->rules))
        fprintf(stderr, "silod: egress: cannot list this host's addresses; only loopback is known as the host's own\n");
    json_object *o = NULL;
    if (!json_object_object_get_ex(cfg, "egress", &o))
        return true;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, len, "egress must be an object");
        return false;
    }
    json_object_object_foreach(o, key, val) {
        struct egress_cidr *cidrs = NULL;
        char **domains = NULL;
        size_t *count = NULL;
        unsigned *number = NULL;
        int64_t lo = 0, hi = 0;
        if (!strcmp(key, "enabled") && json_object_is_type(val, json_type_boolean)) {
            e->enabled = json_object_get_boolean(val);
            continue;
        }
        if (!strcmp(key, "allow_cidrs")) cidrs = e->rules.allow_cidrs, count = &e->rules.allow_cidr_count;
        else if (!strcmp(key, "vpc_cidrs")) cidrs = e->rules.vpc_cidrs, count = &e->rules.vpc_cidr_count;
        else if (!strcmp(key, "allow_domains")) domains = e->rules.allow_domains, count = &e->rules.allow_domain_count;
        else if (!strcmp(key, "vpc_domains")) domains = e->rules.vpc_domains, count = &e->rules.vpc_domain_count;
        else if (!strcmp(key, "max_connections_per_session")) number = &e->max_connections_per_session, lo = 1, hi = 4096;
        else if (!strcmp(key, "connect_timeout_ms")) number = &e->connect_timeout_ms, lo = 100, hi = 120000;
        else if (!strcmp(key, "idle_timeout_s")) number = &e->idle_timeout_s, lo = 1, hi = 28800;
        else {
            snprintf(err, len, "egress: unknown key \"%.80s\" (or a wrong type)", key);
            return false;
        }
        if (number) {
            int64_t v = json_object_get_int64(val);
            if (!json_object_is_type(val, json_type_int) || v < lo || v > hi) {
                snprintf(err, len, "egress.%s must be an integer %lld..%lld", key, (long long)lo, (long long)hi);
                return false;
            }
            *number = (unsigned)v;
            continue;
        }
        size_t n = json_object_is_type(val, json_type_array) ? json_object_array_length(val) : 0;
        if (!json_object_is_type(val, json_type_array) || n > EGRESS_MAX_RULES) {
            snprintf(err, len, "egress.%s must be an array of at most %d strings", key, EGRESS_MAX_RULES);
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(val, i));
            if (cidrs ? !egress_parse_cidr(s, &cidrs[i]) : !(domains[i] = egress_parse_domain(s))) {
                snprintf(err, len, "egress.%s[%zu] \"%.80s\" is not a %s", key, i, s ? s : "",
                         cidrs ? "CIDR (10.0.0.0/8, fd00::/8, 192.0.2.7)" : "domain suffix");
                return false;
            }
            *count = i + 1;
        }
    }
    return true;
}

/* The per-VM guest → host sockets, for vmm_launcher's hooks */
static void *channels_open(void *ctx, const struct session_spec *spec, const char *vsock_path, char *err, size_t len)
{
    return guest_channels_open(ctx, vsock_path, spec->session_id, spec->runtime_id, spec->config_json, err, len);
}
static void channels_close(void *ctx, void *data)
{
    (void)ctx;
    guest_channels_close(data);
}
static void channels_counters(void *ctx, void *data, struct vm_usage *out)
{
    (void)ctx;
    guest_channels_counters(data, &out->egress_out, &out->egress_in);
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
    raise_nofile_limit();
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
    /* the agent's way out: egress policy, role credentials, silod's API from inside the guest */
    static struct egress_config egress;
    if (!egress_from_config(cfg, &egress, (unsigned)cfg_int(cfg, "listen_port", 8080), err, sizeof err)) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    json_object *rcj = NULL;
    json_object_object_get_ex(cfg, "role_credentials", &rcj);
    struct role_creds *role_creds = role_creds_new(rcj ? json_object_to_json_string(rcj) : NULL, err, sizeof err);
    if (!role_creds) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    struct guest_channels_config gcc = { &egress, role_creds, http_api_add_guest_connection, NULL };
    /* agentd learns the region from the guest command line (guest/agentd/guest_ports.h) */
    char cmdline[4096];
    snprintf(cmdline, sizeof cmdline, "%s silo.region=%s", cfg_str(vmm, "cmdline", VMM_AGENT_CMDLINE), region);
    struct vmm_launcher_config lc = {
        cfg_str(vmm, "path", "silo-vmm"), cfg_str(vmm, "kernel", "Image"), cfg_str(vmm, "initrd", NULL),
        cfg_str(vmm, "rootfs_dir", "images"), cfg_str(vmm, "socket_dir", "/tmp"),
        (unsigned)cfg_int(vmm, "cpus", 2), cfg_int(vmm, "ready_timeout_ms", 30000),
        cmdline, cfg_bool(vmm, "verify_wipe"),
        channels_open, channels_close, channels_counters, &gcc,
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
    /* discoveryUrl/jwks_uri: https, or plain http to the hosts of jwt_http_allowed_hosts only */
    json_object *jh = NULL;
    json_object_object_get_ex(cfg, "jwt_http_allowed_hosts", &jh);
    size_t jh_count = jh && json_object_is_type(jh, json_type_array) ? json_object_array_length(jh) : 0;
    const char **jh_hosts = calloc(jh_count + 1, sizeof *jh_hosts);
    for (size_t i = 0; i < jh_count; i++)
        jh_hosts[i] = json_object_get_string(json_object_array_get_idx(jh, i));
    struct jwt_fetch_policy jwt_fetch = { jh_hosts, jh_count };
    struct jwt_keystore *jwt_keys = jwt_keystore_new(jwt_curl_fetch, &jwt_fetch);
    json_object *mp = NULL;
    bool metrics_public = json_object_object_get_ex(cfg, "metrics_public", &mp) && json_object_get_boolean(mp);
    struct http_api_config hc = { .region = region, .keys = keys, .key_count = key_count, .cp = cp,
                                  .sessions = sessions, .guest_mib = (unsigned)cfg_int(vmm, "guest_mib", 512),
                                  .jwt_keys = jwt_keys, .metrics_public = metrics_public,
                                  .role_creds = role_creds };
    http_api_limits_from_config(&hc, cfg);
    struct http_api *api = http_api_start(&hc, cfg_str(cfg, "listen_address", "127.0.0.1"),
                                          (unsigned)cfg_int(cfg, "listen_port", 8080), err, sizeof err);
    if (!api) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    gcc.api_ctx = api;       /* sessions start only once requests arrive, after this */
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
    free(jh_hosts);
    store_close(&store);
    free(keys);
    role_creds_free(role_creds);
    egress_rules_free(&egress.rules);
    json_object_put(cfg);
    curl_global_cleanup();
    fprintf(stderr, "silod: stopped\n");
    return 0;
}
