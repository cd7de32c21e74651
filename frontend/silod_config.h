/* frontend/silod_config.h — silod's config file (`silod --config FILE`, JSON; frontend/README.md,
 * "Configuration"), read through ONE strict table in silod_config.c: every key is one row with
 * its type, bounds and default, nested objects (vmm, egress, role_credentials, credentials[],
 * registries[], registry, jail) included. An unknown key, a value of the wrong type or out of bounds, or a missing required
 * key is refused with one line naming the key ("vmm.cpus must be an integer 1..64, not 0"), so
 * silod refuses to start rather than run with a default the operator did not choose. `null`
 * stands for "not set" where a key is an optional string (e.g. "initrd": null).
 *
 * The VM shape (vmm.guest_mib, vmm.cpus) is read here and nowhere else; its defaults and bounds
 * are frontend/microvm.h's. */
#ifndef SILO_FRONTEND_SILOD_CONFIG_H
#define SILO_FRONTEND_SILOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "frontend/egress_relay.h"
#include "frontend/microvm.h"

struct silod_strings {
    const char **items;
    size_t count;
};

struct silod_credential {
    const char *access_key_id, *secret_access_key;
    const char *session_token;          /* NULL: none required */
    const char *principal;              /* NULL: the access key id stands in */
};

/* One OCI registry silod's image builder may pull from (builder/registry_pull.h). */
struct silod_registry {
    const char *host;                   /* the endpoint, HOST[:PORT] */
    const char *username, *password;    /* NULL: anonymous (or a Bearer token without login) */
    bool insecure_http;                 /* plain http allowed (loopback hosts always are) */
    struct silod_strings match;         /* other host names it serves ("*.dkr.ecr.*.amazonaws.com") */
};

/* Bounds and cache of registry pulls (the `registry` object). */
struct silod_registry_limits {
    const char *cache;                  /* NULL: image_cache's (or rootfs_dir/.cache's) "registry" */
    unsigned max_manifest_kib, max_layer_mib, max_image_mib, timeout_s;
};

struct silod_vmm_settings {
    const char *path, *kernel, *initrd, *rootfs_dir, *socket_dir, *cmdline;
    struct microvm_shape shape;         /* vmm.guest_mib, vmm.cpus */
    unsigned ready_timeout_ms;
    bool verify_wipe;
    bool snapshots;                     /* vmm.snapshots (default true): templates and restores */
    bool wipe_keeper;                   /* vmm.wipe_keeper (default true): sessions' VMMs get
                                           --wipe-keeper */
};

/* The egress object as the table reads it (lists still text); egress_config below is made of it. */
struct silod_egress_settings {
    bool enabled;
    struct silod_strings allow_cidrs, vpc_cidrs, allow_domains, vpc_domains;
    unsigned max_connections_per_session, connect_timeout_ms, idle_timeout_s;
};

/* AgentCore Identity (identity.h): where the vault's master key comes from, silod's OAuth2
 * callback, which provider URLs may be plain http, and the workload access tokens' lifetime. */
struct silod_identity_settings {
    const char *key_file;                /* NULL: the database path + ".vault-key" */
    struct silod_strings key_command;    /* argv (no shell), instead of key_file */
    struct silod_strings previous_key_command;   /* the key being rotated away (key_command only) */
    const char *callback_url;            /* NULL: http://<listen address>:<port>/identities/oauth2/callback */
    struct silod_strings http_allowed_hosts;
    unsigned token_ttl_s;
};

/* The VMM jail (`jail`; frontend/vmm_jail.h). mode: the `jail` object absent is JAIL_AUTO (silod
 * jails every VMM when it can: root, /dev/kvm, silo-jail next to vmm.path; else it says why
 * not), present JAIL_ON (required: silod refuses to start without it), present with
 * "enabled": false JAIL_OFF. */
enum silod_jail_mode { JAIL_AUTO, JAIL_ON, JAIL_OFF };
struct silod_jail_settings {
    enum silod_jail_mode mode;
    bool enabled;                       /* jail.enabled (default true) */
    const char *program;                /* silo-jail; NULL: next to vmm.path */
    const char *dir;                    /* per-session jail roots and run directories */
    unsigned uid_first, uid_count;      /* the uid of each live session, from this range */
    unsigned gid;                       /* the one group of every jailed VMM (reads the images) */
    const char *cgroup_parent;          /* NULL: silod picks one (vmm_jail_default_cgroup_parent);
                                           "none": no cgroup per session */
    unsigned vmm_overhead_mib;          /* memory.max = guest share + this */
    unsigned guest_memory_percent;      /* the guest RAM share counted in memory.max (100: all) */
    unsigned address_space_extra_mib;   /* RLIMIT_AS = guest RAM + this */
    unsigned pids_max, nofile;
};

struct silod_config {
    const char *listen_address;
    unsigned listen_port;
    const char *tls_cert_file, *tls_key_file;   /* both (HTTPS) or neither (plain HTTP) */
    bool allow_plain_http;              /* plain HTTP on a non-loopback listen_address */
    const char *region, *account_id, *database;
    struct silod_credential *credentials;
    size_t credential_count;
    const char *image_builder, *image_store, *image_cache;
    const char *image_paths;            /* ':'-joined (array or one ':'-separated string), or NULL */
    unsigned image_build_timeout_s, max_concurrent_builds;
    struct silod_registry *registries;  /* `registries`, pulled from by the image builder */
    size_t registry_count;
    struct silod_registry_limits registry;
    unsigned image_upload_max_mib;      /* POST /silo/images into image_store (0: off) */
    unsigned max_sessions, max_guest_mib;
    bool metrics_public;
    bool commands_enabled;              /* InvokeAgentRuntimeCommand (default true) */
    unsigned ping_interval_s, drain_timeout_s;
    const char *spool_dir;
    unsigned spool_max_unauthenticated_mib, max_connections, max_connections_per_client;
    unsigned head_timeout_s, keepalive_timeout_s, body_timeout_s, idle_timeout_s;
    struct silod_strings jwt_http_allowed_hosts;
    struct silod_egress_settings egress_settings;
    const char *role_credentials_json;  /* the role_credentials object as text (role_creds_new), or NULL */
    struct silod_vmm_settings vmm;
    struct silod_jail_settings jail;
    struct silod_identity_settings identity;

    struct egress_config egress;        /* made from egress_settings (rules.silod_port = listen_port;
                                           the host's own addresses are silod's to load) */
    /* private: what the strings above point into */
    struct json_object *root;
    void **allocs;
    size_t alloc_count;
};

/* Reads and checks the JSON text (text_len bytes); true with *out filled, else false with one
 * line in err ("listen_port must be an integer 0..65535, not a string"). Free with
 * silod_config_free either way. */
bool silod_config_parse(const char *text, size_t text_len, struct silod_config *out, char *err, size_t err_len);
/* The same from a file (err also says when the file cannot be read or is not JSON). */
bool silod_config_load(const char *path, struct silod_config *out, char *err, size_t err_len);
void silod_config_free(struct silod_config *cfg);

/* Every key the table knows, as "name type bounds default" lines (for `silod --help-config`
 * and the README's test that the table and the documentation agree); nested keys dotted. */
void silod_config_describe(void (*line)(void *ctx, const char *text), void *ctx);

#endif
