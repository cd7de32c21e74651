/* frontend/silod.c — silod's main: reads the JSON config file (silod_config.h: one strict
 * table; format in frontend/README.md),
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
#include <openssl/crypto.h>

#include "base/mono_time.h"
#include "frontend/control_plane.h"
#include "frontend/egress_relay.h"
#include "frontend/guest_channels.h"
#include "frontend/http_api.h"
#include "frontend/identity.h"
#include "frontend/image_builder.h"
#include "frontend/jwt.h"
#include "frontend/role_creds.h"
#include "frontend/ping_poller.h"
#include "frontend/sessions.h"
#include "frontend/silod_config.h"
#include "frontend/silod_privileges.h"
#include "frontend/store.h"
#include "frontend/tls_files.h"
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
    int64_t t0 = mono_ms();
    for (int ticks = 1; n > 0 && stopping < 2; ticks++) {
        usleep(100000);
        if (mono_ms() - t0 >= (int64_t)drain_timeout_s * 1000)
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

static void end_runtime_sessions(void *ctx, const char *runtime_id)
{
    sessions_stop_runtime(ctx, runtime_id);
}

static bool reserve_guest_mib(void *ctx, unsigned mib) { return sessions_reserve_guest_mib(ctx, mib); }
static void release_guest_mib(void *ctx, unsigned mib) { sessions_release_guest_mib(ctx, mib); }

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
          "  Serves the AgentCore-compatible data and control plane. See frontend/README.md.\n"
          "       silod --config FILE --rotate-vault-key\n"
          "  Rotates the token vault's key file (identity.key_file): a new key, every secret\n"
          "  re-encrypted in one transaction, the old key retired. Run it with silod stopped.\n"
          "       silod --help-config\n"
          "  Lists every config key with its type, bounds and default.\n",
          stderr);
}

/* identity.key_command (and previous_key_command) as a NULL-terminated argv */
static bool run_key_command(const struct silod_strings *cmd, uint8_t key[VAULT_KEY_BYTES], char *err, size_t len)
{
    const char *argv[65];
    size_t n = cmd->count < 64 ? cmd->count : 64;
    for (size_t i = 0; i < n; i++)
        argv[i] = cmd->items[i];
    argv[n] = NULL;
    return vault_key_command_run(argv, 0, key, err, len);
}

/* The token vault: its master key from identity.key_command (rotation: previous_key_command
 * opens what the old key sealed, and every row is re-encrypted under the new one) or from the
 * key file (created 0600 on first start; an interrupted rotation is finished here). */
static struct vault *open_vault(const struct silod_config *cfg, struct store *store, char *err, size_t len)
{
    const struct silod_identity_settings *ids = &cfg->identity;
    struct vault *v = NULL;
    if (ids->key_command.count) {
        uint8_t key[VAULT_KEY_BYTES], old[VAULT_KEY_BYTES];
        if (!run_key_command(&ids->key_command, key, err, len))
            return NULL;
        v = vault_new(key);
        OPENSSL_cleanse(key, sizeof key);
        bool ok = vault_schema(store->db, err, len);
        if (ok && ids->previous_key_command.count) {
            ok = run_key_command(&ids->previous_key_command, old, err, len) && vault_add_retired_key(v, old);
            OPENSSL_cleanse(old, sizeof old);
            int moved = ok ? vault_reencrypt_all(v, store->db, err, len) : -1;
            ok = moved >= 0;
            if (ok)
                fprintf(stderr, "silod: token vault: %d secrets re-encrypted under the new key\n", moved);
        }
        if (!ok || !vault_check(v, store->db, err, len)) {
            vault_free(v);
            return NULL;
        }
        return v;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s", ids->key_file ? ids->key_file : "");
    if (!ids->key_file)
        snprintf(path, sizeof path, "%s.vault-key", cfg->database);
    return vault_open_key_file(path, store->db, &v, err, len) ? v : NULL;
}

static int rotate_vault_key(const struct silod_config *cfg, struct store *store)
{
    char err[512], path[4200], id_hex[VAULT_KEY_ID_HEX];
    if (cfg->identity.key_command.count) {
        fputs("silod: the vault key comes from identity.key_command: rotate by configuring the new command as\n"
              "  key_command and the old one as previous_key_command, then start silod once\n", stderr);
        return 2;
    }
    snprintf(path, sizeof path, "%s", cfg->identity.key_file ? cfg->identity.key_file : "");
    if (!cfg->identity.key_file)
        snprintf(path, sizeof path, "%s.vault-key", cfg->database);
    struct vault *v = NULL;
    if (!vault_open_key_file(path, store->db, &v, err, sizeof err) ||
        !vault_rotate_key_file(path, store->db, &v, err, sizeof err)) {
        fprintf(stderr, "silod: vault key rotation: %s\n", err);
        vault_free(v);
        return 1;
    }
    vault_key_id_hex(v, id_hex);
    fprintf(stderr, "silod: token vault rotated to key %s (%s)\n", id_hex, path);
    vault_free(v);
    return 0;
}

static void print_line(void *ctx, const char *text)
{
    fprintf(ctx, "%s\n", text);
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
    bool rotate = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--rotate-vault-key") == 0)
            rotate = true;
        else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(argv[i], "--help-config") == 0) {
            silod_config_describe(print_line, stdout);
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
    /* one strict table (silod_config.c): an unknown key or a wrong value stops silod here */
    static struct silod_config cfg;
    char err[512];
    if (!silod_config_load(config_path, &cfg, err, sizeof err)) {
        fprintf(stderr, "silod: config %s: %s\n", config_path, err);
        silod_config_free(&cfg);
        return 1;
    }
    struct sigv4_key *keys = calloc(cfg.credential_count, sizeof *keys);
    if (!keys)
        abort();
    for (size_t i = 0; i < cfg.credential_count; i++) {
        const struct silod_credential *c = &cfg.credentials[i];
        keys[i] = (struct sigv4_key){ c->access_key_id, c->secret_access_key, c->session_token, c->principal };
    }
    struct store store;
    if (!store_open(&store, cfg.database, err, sizeof err)) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    if (rotate)
        return rotate_vault_key(&cfg, &store);
    struct vault *vault = open_vault(&cfg, &store, err, sizeof err);
    if (!vault) {
        fprintf(stderr, "silod: token vault: %s\n", err);
        return 1;
    }
    struct usage_log *records = usage_log_open(cfg.database, err, sizeof err);
    if (!records) {
        fprintf(stderr, "silod: usage records: %s\n", err);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* the agent's way out: egress policy, role credentials, silod's API from inside the guest */
    struct egress_config *egress = &cfg.egress;
    if (!egress_rules_load_host_addrs(&egress->rules))
        fprintf(stderr, "silod: egress: cannot list this host's addresses; only loopback is known as the host's own\n");
    struct role_creds *role_creds = role_creds_new(cfg.role_credentials_json, err, sizeof err);
    if (!role_creds) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    struct guest_channels_config gcc = { egress, role_creds, http_api_add_guest_connection, NULL };
    /* agentd learns the region from the guest command line (guest/agentd/guest_ports.h) */
    char cmdline[4096];
    snprintf(cmdline, sizeof cmdline, "%s silo.region=%s", cfg.vmm.cmdline, cfg.region);
    struct vmm_launcher_config lc = {
        cfg.vmm.path, cfg.vmm.kernel, cfg.vmm.initrd, cfg.vmm.rootfs_dir, cfg.vmm.socket_dir,
        cfg.vmm.shape.cpus, (int)cfg.vmm.ready_timeout_ms, cmdline, cfg.vmm.verify_wipe,
        channels_open, channels_close, channels_counters, &gcc, cfg.vmm.snapshots, NULL, cfg.vmm.wipe_keeper,
    };
    if (cfg.vmm.wipe_keeper && geteuid() != 0) {
        /* the keeper's VMM locks guest RAM (never swapped): an unprivileged silod's VMMs need
         * RLIMIT_MEMLOCK of at least the guest (a jailed VMM gets it from silo-jail) */
        struct rlimit rl;
        rlim_t need = ((rlim_t)cfg.vmm.shape.guest_mib + 1) << 20;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
            rl.rlim_cur = rl.rlim_max;      /* as far as the hard limit allows */
            setrlimit(RLIMIT_MEMLOCK, &rl);
        }
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
            fprintf(stderr, "silod: vmm.wipe_keeper: RLIMIT_MEMLOCK is %llu KiB, below a %u MiB guest: its VMM could "
                    "not lock guest RAM; raise it (ulimit -l, LimitMEMLOCK=), run silod as root, or set "
                    "\"wipe_keeper\": false in vmm\n", (unsigned long long)(rl.rlim_cur >> 10), cfg.vmm.shape.guest_mib);
            return 1;
        }
    }
    static char program[4200];      /* silo-jail; the jail keeps pointing at it: lives as long as silod */
    if (cfg.jail.program)
        snprintf(program, sizeof program, "%s", cfg.jail.program);
    else {                          /* next to silo-vmm */
        const char *slash = strrchr(cfg.vmm.path, '/');
        snprintf(program, sizeof program, "%.*ssilo-jail", slash ? (int)(slash - cfg.vmm.path + 1) : 0, cfg.vmm.path);
    }
    bool jailed = cfg.jail.mode == JAIL_ON;
    const char *jail_off = NULL;    /* why not, said with the listening line (a refusal stays one line) */
    if (cfg.jail.mode == JAIL_AUTO) {   /* no `jail` in the config: on wherever it can be */
        jail_off = geteuid() != 0                       ? "silod does not run as root"
                   : access("/dev/kvm", R_OK | W_OK) != 0 ? "no usable /dev/kvm"
                   : access(program, X_OK) != 0           ? "no silo-jail next to vmm.path"
                                                          : NULL;
        jailed = jail_off == NULL;
    } else if (cfg.jail.mode == JAIL_OFF) {
        jail_off = "jail.enabled false";
    }
    if (jailed) {                   /* every session's VMM under silo-jail (vmm_jail.h) */
        static char cgroup_parent[400];   /* jail.cgroup_parent, or the one silod picks; lives as long as silod */
        char no_cgroup[480] = "";
        if (!cfg.jail.cgroup_parent &&
            !vmm_jail_default_cgroup_parent(cgroup_parent, sizeof cgroup_parent, no_cgroup, sizeof no_cgroup))
            cgroup_parent[0] = '\0';
        else if (cfg.jail.cgroup_parent)
            snprintf(cgroup_parent, sizeof cgroup_parent, "%s",
                     strcmp(cfg.jail.cgroup_parent, "none") == 0 ? "" : cfg.jail.cgroup_parent);
        if (no_cgroup[0])
            fprintf(stderr, "silod: jail: no cgroups (%s); set jail.cgroup_parent to a delegated cgroup v2 directory\n",
                    no_cgroup);
        struct vmm_jail_config jc = {
            program, cfg.jail.dir, cfg.jail.uid_first, cfg.jail.uid_count, cfg.jail.gid, cgroup_parent[0] ? cgroup_parent : NULL,
            cfg.jail.vmm_overhead_mib, cfg.jail.guest_memory_percent, cfg.jail.address_space_extra_mib,
            cfg.jail.pids_max, cfg.jail.nofile,
        };
        if (!(lc.jail = vmm_jail_new(&jc, err, sizeof err))) {
            fprintf(stderr, "silod: config %s: %s\n", config_path, err);
            return 1;
        }
        fprintf(stderr, "silod: jail: each VMM under %s, uids %u..%u, gid %u, roots in %s, %s%s\n", program, jc.uid_first,
                jc.uid_first + jc.uid_count - 1, jc.gid, jc.dir, jc.cgroup_parent ? "cgroups under " : "no cgroups",
                jc.cgroup_parent ? jc.cgroup_parent : "");
    }
    /* a root silod keeps only the capabilities it and its children need (silod_privileges.h);
     * capabilities are per thread: this comes before any thread is started */
    if (silod_narrow_capabilities(NULL, err, sizeof err) != 0) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    struct sessions_config sc = { cfg.max_sessions, cfg.max_guest_mib, NULL, NULL, vmm_launcher(&lc),
                                  usage_log_record, records };
    unsigned stale = vmm_clean_socket_dir(lc.socket_dir);    /* restart begins clean */
    if (stale)
        fprintf(stderr, "silod: removed %u stale session sockets from %s\n", stale, lc.socket_dir);
    struct sessions *sessions = sessions_new(&sc);
    struct image_builder *builder = image_builder_from_config(&cfg, &lc);   /* lives as long as silod */
    struct control_plane_config cc = { cfg.region, cfg.account_id, image_builder_interface(builder), end_runtime_sessions,
                                       sessions, NULL, NULL };
    struct control_plane *cp = control_plane_new(&store, &cc);
    image_builder_attach(builder, cp);
    struct image_builder_capacity boot_checks = { reserve_guest_mib, release_guest_mib, sessions };
    image_builder_attach_capacity(builder, &boot_checks);   /* boot checks count against max_guest_mib */
    unsigned resumed = control_plane_resume_builds(cp);   /* builds a previous silod left unfinished */
    if (resumed)
        fprintf(stderr, "silod: resuming %u image builds interrupted by the last stop\n", resumed);
    /* discoveryUrl/jwks_uri: https, or plain http to the hosts of jwt_http_allowed_hosts only */
    struct jwt_fetch_policy jwt_fetch = { cfg.jwt_http_allowed_hosts.items, cfg.jwt_http_allowed_hosts.count };
    struct jwt_keystore *jwt_keys = jwt_keystore_new(jwt_curl_fetch, &jwt_fetch);
    /* HTTPS: the certificate and key must be readable and belong together, or silod stops here */
    struct tls_files tls = { 0 };
    if (cfg.tls_cert_file && !tls_files_load(&tls, cfg.tls_cert_file, cfg.tls_key_file, err, sizeof err)) {
        fprintf(stderr, "silod: config %s: %s\n", config_path, err);
        return 1;
    }
    struct http_api_config hc = {
        .region = cfg.region, .keys = keys, .key_count = cfg.credential_count, .cp = cp, .sessions = sessions,
        .guest_mib = cfg.vmm.shape.guest_mib, .jwt_keys = jwt_keys, .metrics_public = cfg.metrics_public,
        .commands_enabled = cfg.commands_enabled,
        .role_creds = role_creds,
        .spool_dir = cfg.spool_dir, .spool_max_unauthenticated_mib = cfg.spool_max_unauthenticated_mib,
        .max_connections = cfg.max_connections, .max_connections_per_client = cfg.max_connections_per_client,
        .head_timeout_s = cfg.head_timeout_s, .body_timeout_s = cfg.body_timeout_s,
        .keepalive_timeout_s = cfg.keepalive_timeout_s, .idle_timeout_s = cfg.idle_timeout_s,
        .tls_cert_pem = tls.cert_pem, .tls_key_pem = tls.key_pem,
        .image_store = cfg.image_store, .image_upload_max_mib = cfg.image_upload_max_mib,
    };
    struct http_api *api = http_api_start(&hc, cfg.listen_address, cfg.listen_port, err, sizeof err);
    if (!api) {
        fprintf(stderr, "silod: %s\n", err);
        return 1;
    }
    gcc.api_ctx = api;       /* sessions start only once requests arrive, after this */
    /* AgentCore Identity: its callback URL names the port actually bound */
    char callback[2100];
    if (cfg.identity.callback_url)
        snprintf(callback, sizeof callback, "%s", cfg.identity.callback_url);
    else
        snprintf(callback, sizeof callback, "%s://%s:%u" IDENTITY_CALLBACK_PATH, tls.cert_pem ? "https" : "http",
                 cfg.listen_address, http_api_port(api));
    struct identity_config ic = {
        .region = cfg.region, .account_id = cfg.account_id, .callback_url = callback,
        .oauth2 = { cfg.identity.http_allowed_hosts.items, cfg.identity.http_allowed_hosts.count, 0 },
        .wat_ttl_s = (int)cfg.identity.token_ttl_s, .verify_user_jwt = http_verify_user_jwt, .jwt_ctx = api,
    };
    struct identity *identity = identity_new(cfg.database, vault, &ic, err, sizeof err);
    if (!identity) {
        fprintf(stderr, "silod: identity: %s\n", err);
        return 1;
    }
    http_api_attach_identity(api, identity);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    struct ping_poller *poller = cfg.ping_interval_s > 0 ? ping_poller_start(sessions, (int)cfg.ping_interval_s, 5000) : NULL;
    if (tls.cert_pem)
        fprintf(stderr, "silod: TLS certificate %s\n", tls.subject);
    if (jail_off)
        fprintf(stderr, "silod: jail: off (%s): each VMM runs as silod's child, under its own seccomp filters%s\n",
                jail_off, cfg.jail.mode == JAIL_AUTO ? "; a \"jail\" object in the config requires the jail" : "");
    fprintf(stderr, "silod: listening on %s:%u (region %s, %s)\n", cfg.listen_address, http_api_port(api), cfg.region,
            tls.cert_pem ? "https" : "plain http");
    for (unsigned tick = 1; !stopping; tick++) {
        sleep(1);
        sessions_reap(sessions);
        if (tick % 60 == 0)
            identity_expire_sessions(identity);   /* 3LO sessions nobody finished */
    }
    fprintf(stderr, "silod: stopping\n");
    drain(sessions, poller, (int)cfg.drain_timeout_s);
    http_api_stop(api);
    tls_files_free(&tls);
    identity_free(identity);
    sessions_free(sessions);
    usage_log_close(records);
    control_plane_free(cp);
    jwt_keystore_free(jwt_keys);
    store_close(&store);
    free(keys);
    role_creds_free(role_creds);
    silod_config_free(&cfg);
    curl_global_cleanup();
    fprintf(stderr, "silod: stopped\n");
    return 0;
}
