/* frontend/silod_config.c — silod's config file through one strict table (see silod_config.h).
 *
 * Each table below is one JSON object: one row per key, with the key's type, bounds, default and
 * where its value goes (an offset into the struct the table fills). Objects nest (vmm, egress,
 * role_credentials); credentials is a list of objects; role_credentials.static a map of role ARN
 * to an object. The walk refuses anything the tables do not name. */
#include "frontend/silod_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/small_file.h"
#include "frontend/image_builder.h"

enum cfg_type {
    CFG_STRING,         /* const char *; bounds: length; null: the default */
    CFG_UINT,           /* unsigned; bounds: value */
    CFG_BOOL,           /* bool */
    CFG_STRINGS,        /* struct silod_strings; bounds: count */
    CFG_PATHS,          /* const char * joined with ':' from an array of strings or one string */
    CFG_OBJECT,         /* the sub-table fills the struct at offset */
    CFG_OBJECT_LIST,    /* an array of objects, each filled by the sub-table (see list_of) */
    CFG_OBJECT_MAP,     /* an object of objects (any key names), each checked by the sub-table */
    CFG_RAW_OBJECT,     /* like CFG_OBJECT, and the object's JSON text stored at text_offset */
};

struct cfg_table;

struct cfg_row {
    const char *key;
    enum cfg_type type;
    int64_t min, max;           /* see the types */
    int64_t def;                /* CFG_UINT, CFG_BOOL */
    const char *def_str;        /* CFG_STRING */
    size_t offset;              /* into the table's struct */
    const struct cfg_table *sub;
    bool required;
    size_t text_offset;         /* CFG_RAW_OBJECT: where its JSON text goes (the parent struct) */
};

struct cfg_table {
    const struct cfg_row *rows;
    size_t count;
    size_t size;                /* of the struct one object fills (CFG_OBJECT_LIST items) */
};

#define ROWS(r) (r), sizeof(r) / sizeof((r)[0])
#define AT(type, field) offsetof(type, field)
#define NO_LIMIT 0, 0

/* ---- the tables --------------------------------------------------------------------------- */

static const struct cfg_row credential_rows[] = {
    { "access_key_id", CFG_STRING, 1, 128, 0, NULL, AT(struct silod_credential, access_key_id), NULL, true, 0 },
    { "secret_access_key", CFG_STRING, 1, 128, 0, NULL, AT(struct silod_credential, secret_access_key), NULL, true, 0 },
    { "session_token", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_credential, session_token), NULL, false, 0 },
    { "principal", CFG_STRING, 1, 256, 0, NULL, AT(struct silod_credential, principal), NULL, false, 0 },
};
static const struct cfg_table credential_table = { ROWS(credential_rows), sizeof(struct silod_credential) };

static const struct cfg_row registry_rows[] = {
    { "host", CFG_STRING, 1, 255, 0, NULL, AT(struct silod_registry, host), NULL, true, 0 },
    { "username", CFG_STRING, 1, 255, 0, NULL, AT(struct silod_registry, username), NULL, false, 0 },
    { "password", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_registry, password), NULL, false, 0 },
    { "insecure_http", CFG_BOOL, NO_LIMIT, 0, NULL, AT(struct silod_registry, insecure_http), NULL, false, 0 },
    { "match", CFG_STRINGS, 0, 16, 0, NULL, AT(struct silod_registry, match), NULL, false, 0 },
};
static const struct cfg_table registry_table = { ROWS(registry_rows), sizeof(struct silod_registry) };

static const struct cfg_row registry_limit_rows[] = {
    { "cache", CFG_STRING, 1, 4000, 0, NULL, AT(struct silod_registry_limits, cache), NULL, false, 0 },
    { "max_manifest_kib", CFG_UINT, 1, 1u << 20, 4096, NULL, AT(struct silod_registry_limits, max_manifest_kib), NULL, false, 0 },
    { "max_layer_mib", CFG_UINT, 1, 1u << 24, 4096, NULL, AT(struct silod_registry_limits, max_layer_mib), NULL, false, 0 },
    { "max_image_mib", CFG_UINT, 1, 1u << 24, 8192, NULL, AT(struct silod_registry_limits, max_image_mib), NULL, false, 0 },
    { "timeout_s", CFG_UINT, 1, 86400, 600, NULL, AT(struct silod_registry_limits, timeout_s), NULL, false, 0 },
};
static const struct cfg_table registry_limit_table = { ROWS(registry_limit_rows), sizeof(struct silod_registry_limits) };

static const struct cfg_row vmm_rows[] = {
    { "path", CFG_STRING, 1, 4096, 0, "silo-vmm", AT(struct silod_vmm_settings, path), NULL, false, 0 },
    { "kernel", CFG_STRING, 1, 4096, 0, "Image", AT(struct silod_vmm_settings, kernel), NULL, false, 0 },
    { "initrd", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_vmm_settings, initrd), NULL, false, 0 },
    { "rootfs_dir", CFG_STRING, 1, 3000, 0, "images", AT(struct silod_vmm_settings, rootfs_dir), NULL, false, 0 },
    { "socket_dir", CFG_STRING, 1, 100, 0, "/tmp", AT(struct silod_vmm_settings, socket_dir), NULL, false, 0 },
    { "cmdline", CFG_STRING, 1, 3500, 0, MICROVM_AGENT_CMDLINE, AT(struct silod_vmm_settings, cmdline), NULL, false, 0 },
    { "cpus", CFG_UINT, 1, MICROVM_MAX_CPUS, MICROVM_DEFAULT_CPUS, NULL, AT(struct silod_vmm_settings, shape.cpus), NULL, false, 0 },
    { "guest_mib", CFG_UINT, MICROVM_MIN_GUEST_MIB, MICROVM_MAX_GUEST_MIB, MICROVM_DEFAULT_GUEST_MIB, NULL,
      AT(struct silod_vmm_settings, shape.guest_mib), NULL, false, 0 },
    { "ready_timeout_ms", CFG_UINT, 1000, 3600000, MICROVM_DEFAULT_READY_TIMEOUT_MS, NULL,
      AT(struct silod_vmm_settings, ready_timeout_ms), NULL, false, 0 },
    { "verify_wipe", CFG_BOOL, NO_LIMIT, 0, NULL, AT(struct silod_vmm_settings, verify_wipe), NULL, false, 0 },
    { "snapshots", CFG_BOOL, NO_LIMIT, 1, NULL, AT(struct silod_vmm_settings, snapshots), NULL, false, 0 },
    { "wipe_keeper", CFG_BOOL, NO_LIMIT, 1, NULL, AT(struct silod_vmm_settings, wipe_keeper), NULL, false, 0 },
};
static const struct cfg_table vmm_table = { ROWS(vmm_rows), sizeof(struct silod_vmm_settings) };

/* jail: uid 0 never (uid_first >= 1), and the range stays below 2^31 (first + count checked in
 * check_jail) */
static const struct cfg_row jail_rows[] = {
    { "enabled", CFG_BOOL, NO_LIMIT, 1, NULL, AT(struct silod_jail_settings, enabled), NULL, false, 0 },
    { "program", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_jail_settings, program), NULL, false, 0 },
    { "dir", CFG_STRING, 1, 80, 0, "/run/silo/jail", AT(struct silod_jail_settings, dir), NULL, false, 0 },
    { "uid_first", CFG_UINT, 1, 2147483646, 200000, NULL, AT(struct silod_jail_settings, uid_first), NULL, false, 0 },
    { "uid_count", CFG_UINT, 1, 65536, 1000, NULL, AT(struct silod_jail_settings, uid_count), NULL, false, 0 },
    { "gid", CFG_UINT, 1, 2147483646, 199999, NULL, AT(struct silod_jail_settings, gid), NULL, false, 0 },
    { "cgroup_parent", CFG_STRING, 4, 200, 0, NULL, AT(struct silod_jail_settings, cgroup_parent), NULL, false, 0 },
    { "vmm_overhead_mib", CFG_UINT, 0, 1u << 20, 64, NULL, AT(struct silod_jail_settings, vmm_overhead_mib), NULL, false, 0 },
    { "guest_memory_percent", CFG_UINT, 1, 100, 100, NULL, AT(struct silod_jail_settings, guest_memory_percent), NULL, false, 0 },
    { "address_space_extra_mib", CFG_UINT, 256, 1u << 24, 16384, NULL,
      AT(struct silod_jail_settings, address_space_extra_mib), NULL, false, 0 },
    { "pids_max", CFG_UINT, 8, 1u << 20, 256, NULL, AT(struct silod_jail_settings, pids_max), NULL, false, 0 },
    { "nofile", CFG_UINT, 64, 1u << 20, 4096, NULL, AT(struct silod_jail_settings, nofile), NULL, false, 0 },
};
static const struct cfg_table jail_table = { ROWS(jail_rows), sizeof(struct silod_jail_settings) };

static const struct cfg_row egress_rows[] = {
    { "enabled", CFG_BOOL, NO_LIMIT, 1, NULL, AT(struct silod_egress_settings, enabled), NULL, false, 0 },
    { "allow_cidrs", CFG_STRINGS, 0, EGRESS_MAX_RULES, 0, NULL, AT(struct silod_egress_settings, allow_cidrs), NULL, false, 0 },
    { "vpc_cidrs", CFG_STRINGS, 0, EGRESS_MAX_RULES, 0, NULL, AT(struct silod_egress_settings, vpc_cidrs), NULL, false, 0 },
    { "allow_domains", CFG_STRINGS, 0, EGRESS_MAX_RULES, 0, NULL, AT(struct silod_egress_settings, allow_domains), NULL, false, 0 },
    { "vpc_domains", CFG_STRINGS, 0, EGRESS_MAX_RULES, 0, NULL, AT(struct silod_egress_settings, vpc_domains), NULL, false, 0 },
    { "max_connections_per_session", CFG_UINT, 1, 4096, 256, NULL,
      AT(struct silod_egress_settings, max_connections_per_session), NULL, false, 0 },
    { "connect_timeout_ms", CFG_UINT, 100, 120000, 10000, NULL, AT(struct silod_egress_settings, connect_timeout_ms), NULL, false, 0 },
    { "idle_timeout_s", CFG_UINT, 1, 28800, 900, NULL, AT(struct silod_egress_settings, idle_timeout_s), NULL, false, 0 },
};
static const struct cfg_table egress_table = { ROWS(egress_rows), sizeof(struct silod_egress_settings) };

/* role_credentials is checked here and read by role_creds_new (role_creds.c) from its text.
 * These rows store nothing (offset 0 into a scratch struct). */
struct scratch {
    const char *s;
    unsigned u;
};
static const struct cfg_row static_key_rows[] = {
    { "access_key_id", CFG_STRING, 1, 128, 0, NULL, 0, NULL, true, 0 },
    { "secret_access_key", CFG_STRING, 1, 128, 0, NULL, 0, NULL, true, 0 },
    { "session_token", CFG_STRING, 1, 4096, 0, NULL, 0, NULL, false, 0 },
};
static const struct cfg_table static_key_table = { ROWS(static_key_rows), sizeof(struct scratch) };
static const struct cfg_row role_rows[] = {
    { "static", CFG_OBJECT_MAP, 0, 4096, 0, NULL, 0, &static_key_table, false, 0 },
    { "process", CFG_STRING, 2, 4096, 0, NULL, AT(struct scratch, s), NULL, false, 0 },
    { "duration_s", CFG_UINT, 900, 43200, 3600, NULL, AT(struct scratch, u), NULL, false, 0 },
};
static const struct cfg_table role_table = { ROWS(role_rows), sizeof(struct scratch) };

static const struct cfg_row identity_rows[] = {
    { "key_file", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_identity_settings, key_file), NULL, false, 0 },
    { "key_command", CFG_STRINGS, 1, 64, 0, NULL, AT(struct silod_identity_settings, key_command), NULL, false, 0 },
    { "previous_key_command", CFG_STRINGS, 1, 64, 0, NULL, AT(struct silod_identity_settings, previous_key_command), NULL, false, 0 },
    { "callback_url", CFG_STRING, 8, 2048, 0, NULL, AT(struct silod_identity_settings, callback_url), NULL, false, 0 },
    { "http_allowed_hosts", CFG_STRINGS, 0, 64, 0, NULL, AT(struct silod_identity_settings, http_allowed_hosts), NULL, false, 0 },
    { "token_ttl_s", CFG_UINT, 1, 3600, 900, NULL, AT(struct silod_identity_settings, token_ttl_s), NULL, false, 0 },
};
static const struct cfg_table identity_table = { ROWS(identity_rows), sizeof(struct silod_identity_settings) };

static const struct cfg_row silod_rows[] = {
    { "listen_address", CFG_STRING, 1, 255, 0, "127.0.0.1", AT(struct silod_config, listen_address), NULL, false, 0 },
    { "listen_port", CFG_UINT, 0, 65535, 8080, NULL, AT(struct silod_config, listen_port), NULL, false, 0 },
    { "tls_cert_file", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_config, tls_cert_file), NULL, false, 0 },
    { "tls_key_file", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_config, tls_key_file), NULL, false, 0 },
    { "allow_plain_http", CFG_BOOL, NO_LIMIT, 0, NULL, AT(struct silod_config, allow_plain_http), NULL, false, 0 },
    { "region", CFG_STRING, 1, 64, 0, "us-east-1", AT(struct silod_config, region), NULL, false, 0 },
    { "account_id", CFG_STRING, 12, 12, 0, "000000000000", AT(struct silod_config, account_id), NULL, false, 0 },
    { "database", CFG_STRING, 1, 4096, 0, "silod.db", AT(struct silod_config, database), NULL, false, 0 },
    { "credentials", CFG_OBJECT_LIST, 1, 10000, 0, NULL, AT(struct silod_config, credentials), &credential_table, true, 0 },
    { "image_builder", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_config, image_builder), NULL, false, 0 },
    { "image_store", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_config, image_store), NULL, false, 0 },
    { "image_paths", CFG_PATHS, 0, 4000, 0, NULL, AT(struct silod_config, image_paths), NULL, false, 0 },
    { "image_upload_max_mib", CFG_UINT, 0, 1u << 20, 2048, NULL, AT(struct silod_config, image_upload_max_mib), NULL, false, 0 },
    { "image_cache", CFG_STRING, 1, 4096, 0, NULL, AT(struct silod_config, image_cache), NULL, false, 0 },
    { "image_build_timeout_s", CFG_UINT, 1, 86400, IMAGE_BUILD_TIMEOUT_S, NULL, AT(struct silod_config, image_build_timeout_s), NULL, false, 0 },
    { "max_concurrent_builds", CFG_UINT, 1, 1000, IMAGE_BUILDS_CONCURRENT, NULL, AT(struct silod_config, max_concurrent_builds), NULL, false, 0 },
    { "registries", CFG_OBJECT_LIST, 0, 64, 0, NULL, AT(struct silod_config, registries), &registry_table, false, 0 },
    { "registry", CFG_OBJECT, NO_LIMIT, 0, NULL, AT(struct silod_config, registry), &registry_limit_table, false, 0 },
    { "max_sessions", CFG_UINT, 1, 1000000, 100, NULL, AT(struct silod_config, max_sessions), NULL, false, 0 },
    { "max_guest_mib", CFG_UINT, MICROVM_MIN_GUEST_MIB, 1u << 30, 16384, NULL, AT(struct silod_config, max_guest_mib), NULL, false, 0 },
    { "metrics_public", CFG_BOOL, NO_LIMIT, 0, NULL, AT(struct silod_config, metrics_public), NULL, false, 0 },
    { "commands_enabled", CFG_BOOL, NO_LIMIT, 1, NULL, AT(struct silod_config, commands_enabled), NULL, false, 0 },
    { "ping_interval_s", CFG_UINT, 0, 86400, 5, NULL, AT(struct silod_config, ping_interval_s), NULL, false, 0 },
    { "drain_timeout_s", CFG_UINT, 0, 86400, 30, NULL, AT(struct silod_config, drain_timeout_s), NULL, false, 0 },
    { "spool_dir", CFG_STRING, 1, 4000, 0, NULL, AT(struct silod_config, spool_dir), NULL, false, 0 },
    { "spool_max_unauthenticated_mib", CFG_UINT, 1, 1u << 20, 512, NULL, AT(struct silod_config, spool_max_unauthenticated_mib), NULL, false, 0 },
    { "max_connections", CFG_UINT, 1, 1u << 20, 1024, NULL, AT(struct silod_config, max_connections), NULL, false, 0 },
    { "max_connections_per_client", CFG_UINT, 1, 1u << 20, 64, NULL, AT(struct silod_config, max_connections_per_client), NULL, false, 0 },
    { "head_timeout_s", CFG_UINT, 1, 86400, 30, NULL, AT(struct silod_config, head_timeout_s), NULL, false, 0 },
    { "keepalive_timeout_s", CFG_UINT, 1, 86400, 120, NULL, AT(struct silod_config, keepalive_timeout_s), NULL, false, 0 },
    { "body_timeout_s", CFG_UINT, 1, 86400, 60, NULL, AT(struct silod_config, body_timeout_s), NULL, false, 0 },
    { "idle_timeout_s", CFG_UINT, 1, 86400, 900, NULL, AT(struct silod_config, idle_timeout_s), NULL, false, 0 },
    { "jwt_http_allowed_hosts", CFG_STRINGS, 0, 64, 0, NULL, AT(struct silod_config, jwt_http_allowed_hosts), NULL, false, 0 },
    { "egress", CFG_OBJECT, NO_LIMIT, 0, NULL, AT(struct silod_config, egress_settings), &egress_table, false, 0 },
    { "role_credentials", CFG_RAW_OBJECT, NO_LIMIT, 0, NULL, 0, &role_table, false, AT(struct silod_config, role_credentials_json) },
    { "vmm", CFG_OBJECT, NO_LIMIT, 0, NULL, AT(struct silod_config, vmm), &vmm_table, false, 0 },
    { "jail", CFG_OBJECT, NO_LIMIT, 0, NULL, AT(struct silod_config, jail), &jail_table, false, 0 },
    { "identity", CFG_OBJECT, NO_LIMIT, 0, NULL, AT(struct silod_config, identity), &identity_table, false, 0 },
};
static const struct cfg_table silod_table = { ROWS(silod_rows), sizeof(struct silod_config) };
/* CFG_OBJECT_LIST stores its items' pointer and, right after it, their count */
_Static_assert(offsetof(struct silod_config, credential_count) ==
                   offsetof(struct silod_config, credentials) + sizeof(void *), "credentials, then their count");
_Static_assert(offsetof(struct silod_config, registry_count) ==
                   offsetof(struct silod_config, registries) + sizeof(void *), "registries, then their count");

/* ---- the walk ----------------------------------------------------------------------------- */

struct walk {
    struct silod_config *cfg;   /* for allocations */
    char *err;
    size_t err_len;
};

__attribute__((format(printf, 3, 4)))
static bool refuse(struct walk *w, const char *path, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(w->err, w->err_len, "%s %s", path, why);
    return false;
}

static void *remember(struct walk *w, void *p)
{
    if (!p)
        abort();
    void **a = realloc(w->cfg->allocs, (w->cfg->alloc_count + 1) * sizeof *a);
    if (!a)
        abort();
    a[w->cfg->alloc_count++] = p;
    w->cfg->allocs = a;
    return p;
}

static const char *type_word(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a fraction";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "?";
}

static const char *want_word(const struct cfg_row *r, char *buf, size_t len)
{
    switch (r->type) {
    case CFG_STRING:
        if (r->min == r->max)
            snprintf(buf, len, "a string of %" PRId64 " characters", r->min);
        else
            snprintf(buf, len, "a string of %" PRId64 "..%" PRId64 " characters", r->min, r->max);
        return buf;
    case CFG_UINT:
        snprintf(buf, len, "an integer %" PRId64 "..%" PRId64, r->min, r->max);
        return buf;
    case CFG_BOOL: return "true or false";
    case CFG_STRINGS:
        snprintf(buf, len, "an array of at most %" PRId64 " strings", r->max);
        return buf;
    case CFG_PATHS: return "an array of directories or one ':'-separated string";
    case CFG_OBJECT:
    case CFG_RAW_OBJECT:
    case CFG_OBJECT_MAP: return "an object";
    case CFG_OBJECT_LIST:
        snprintf(buf, len, "an array of %" PRId64 "..%" PRId64 " objects", r->min, r->max);
        return buf;
    }
    return "?";
}

static bool walk_object(struct walk *w, const struct cfg_table *t, json_object *o, void *base, const char *path);

/* "parent.key" or "key" into buf */
static const char *join(char *buf, size_t len, const char *parent, const char *key)
{
    if (parent[0])
        snprintf(buf, len, "%s.%s", parent, key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

static bool set_default(const struct cfg_row *r, void *base)
{
    char *field = (char *)base + r->offset;
    switch (r->type) {
    case CFG_STRING:
    case CFG_PATHS:
        *(const char **)field = r->def_str;
        break;
    case CFG_UINT:
        *(unsigned *)field = (unsigned)r->def;
        break;
    case CFG_BOOL:
        *(bool *)field = r->def != 0;
        break;
    default:
        break;           /* lists empty, objects: their own defaults (below) */
    }
    return true;
}

static bool read_string(struct walk *w, const struct cfg_row *r, json_object *v, const char *path, const char **out)
{
    char want[96];
    if (!json_object_is_type(v, json_type_string))
        return refuse(w, path, "must be %s, not %s", want_word(r, want, sizeof want), type_word(v));
    const char *s = json_object_get_string(v);
    size_t n = strlen(s);
    if ((int64_t)n < r->min || (int64_t)n > r->max || n != (size_t)json_object_get_string_len(v))
        return refuse(w, path, "must be %s, not %zu characters", want_word(r, want, sizeof want), n);
    *out = s;
    return true;
}

static bool read_value(struct walk *w, const struct cfg_row *r, json_object *v, void *base, const char *path)
{
    char *field = (char *)base + r->offset, want[96];
    if (json_object_is_type(v, json_type_null) && !r->required &&
        (r->type == CFG_STRING || r->type == CFG_PATHS))
        return set_default(r, base);
    switch (r->type) {
    case CFG_STRING:
        return read_string(w, r, v, path, (const char **)field);
    case CFG_UINT: {
        if (!json_object_is_type(v, json_type_int))
            return refuse(w, path, "must be %s, not %s", want_word(r, want, sizeof want), type_word(v));
        errno = 0;
        int64_t n = json_object_get_int64(v);
        if (errno != 0 || n < r->min || n > r->max)
            return refuse(w, path, "must be %s, not %s", want_word(r, want, sizeof want), json_object_to_json_string(v));
        *(unsigned *)field = (unsigned)n;
        return true;
    }
    case CFG_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return refuse(w, path, "must be true or false, not %s", type_word(v));
        *(bool *)field = json_object_get_boolean(v);
        return true;
    case CFG_STRINGS: {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        if (!json_object_is_type(v, json_type_array) || (int64_t)n > r->max)
            return refuse(w, path, "must be %s", want_word(r, want, sizeof want));
        struct silod_strings *s = (struct silod_strings *)field;
        s->items = remember(w, calloc(n + 1, sizeof *s->items));
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            char item[400];
            snprintf(item, sizeof item, "%s[%zu]", path, i);
            struct cfg_row er = { .type = CFG_STRING, .min = 1, .max = 4096 };
            if (!read_string(w, &er, e, item, &s->items[i]))
                return false;
        }
        s->count = n;
        return true;
    }
    case CFG_PATHS: {
        if (json_object_is_type(v, json_type_string)) {
            const char *s;
            if (!read_string(w, &(struct cfg_row){ .type = CFG_STRING, .min = 0, .max = r->max }, v, path, &s))
                return false;
            *(const char **)field = s[0] ? s : NULL;
            return true;
        }
        if (!json_object_is_type(v, json_type_array))
            return refuse(w, path, "must be %s, not %s", want_word(r, want, sizeof want), type_word(v));
        size_t n = json_object_array_length(v), used = 0;
        char *joined = remember(w, calloc(1, (size_t)r->max + 1));
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            char item[400];
            const char *s;
            snprintf(item, sizeof item, "%s[%zu]", path, i);
            if (!read_string(w, &(struct cfg_row){ .type = CFG_STRING, .min = 1, .max = r->max }, e, item, &s))
                return false;
            if (strchr(s, ':'))
                return refuse(w, item, "must not contain ':'");
            int k = snprintf(joined + used, (size_t)r->max + 1 - used, "%s%s", used ? ":" : "", s);
            if (k < 0 || (size_t)k >= (size_t)r->max + 1 - used)
                return refuse(w, path, "is longer than %" PRId64 " characters in all", r->max);
            used += (size_t)k;
        }
        *(const char **)field = used ? joined : NULL;
        return true;
    }
    case CFG_OBJECT:
    case CFG_RAW_OBJECT:
        if (!json_object_is_type(v, json_type_object))
            return refuse(w, path, "must be an object, not %s", type_word(v));
        if (r->type == CFG_RAW_OBJECT) {
            struct scratch scratch;
            *(const char **)((char *)base + r->text_offset) = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
            return walk_object(w, r->sub, v, &scratch, path);
        }
        return walk_object(w, r->sub, v, field, path);
    case CFG_OBJECT_MAP: {
        if (!json_object_is_type(v, json_type_object))
            return refuse(w, path, "must be an object, not %s", type_word(v));
        if ((int64_t)json_object_object_length(v) > r->max)
            return refuse(w, path, "has more than %" PRId64 " entries", r->max);
        json_object_object_foreach(v, name, entry) {
            char item[600];
            snprintf(item, sizeof item, "%s[\"%.200s\"]", path, name);
            if (!json_object_is_type(entry, json_type_object))
                return refuse(w, item, "must be an object, not %s", type_word(entry));
            struct scratch scratch;
            if (!walk_object(w, r->sub, entry, &scratch, item))
                return false;
        }
        return true;
    }
    case CFG_OBJECT_LIST: {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        if (!json_object_is_type(v, json_type_array) || (int64_t)n < r->min || (int64_t)n > r->max)
            return refuse(w, path, "must be %s", want_word(r, want, sizeof want));
        char *items = remember(w, calloc(n, r->sub->size));
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            char item[400];
            snprintf(item, sizeof item, "%s[%zu]", path, i);
            if (!json_object_is_type(e, json_type_object))
                return refuse(w, item, "must be an object, not %s", type_word(e));
            if (!walk_object(w, r->sub, e, items + i * r->sub->size, item))
                return false;
        }
        /* the list and its count: a pointer, then a size_t right after it in the struct */
        *(void **)field = items;
        *(size_t *)(field + sizeof(void *)) = n;
        return true;
    }
    }
    return false;
}

/* Every key of o must be a row of t; every row gets its value or its default. */
static bool walk_object(struct walk *w, const struct cfg_table *t, json_object *o, void *base, const char *path)
{
    char key_path[300];
    json_object_object_foreach(o, key, val) {
        (void)val;
        bool known = false;
        for (size_t i = 0; i < t->count && !known; i++)
            known = strcmp(t->rows[i].key, key) == 0;
        if (!known)
            return refuse(w, join(key_path, sizeof key_path, path, key), "is not a config key (frontend/README.md lists them)");
    }
    for (size_t i = 0; i < t->count; i++) {
        const struct cfg_row *r = &t->rows[i];
        json_object *v;
        join(key_path, sizeof key_path, path, r->key);
        if (!json_object_object_get_ex(o, r->key, &v)) {
            if (r->required)
                return refuse(w, key_path, "is required");
            set_default(r, base);
            if (r->type == CFG_OBJECT) {                 /* an absent object: its defaults */
                json_object *empty = json_object_new_object();
                bool ok = walk_object(w, r->sub, empty, (char *)base + r->offset, key_path);
                json_object_put(empty);
                if (!ok)
                    return false;
            }
            continue;
        }
        if (!read_value(w, r, v, base, key_path))
            return false;
    }
    return true;
}

/* registries[]: a bare HOST[:PORT] (no scheme, path or credentials in it), and a username only
 * with a password (the builder checks the rest again, registry_pull.c) */
static bool check_registries(struct walk *w, const struct silod_config *c)
{
    for (size_t i = 0; i < c->registry_count; i++) {
        const struct silod_registry *r = &c->registries[i];
        char item[64];
        snprintf(item, sizeof item, "registries[%zu].host", i);
        for (const char *p = r->host; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-:[]", *p)))
                return refuse(w, item, "must be HOST[:PORT] (no scheme, path or user), not \"%.100s\"", r->host);
        if ((r->username == NULL) != (r->password == NULL)) {
            snprintf(item, sizeof item, "registries[%zu]", i);
            return refuse(w, item, "needs both username and password, or neither");
        }
    }
    return true;
}

/* egress_settings → egress (CIDRs and domains parsed, each refusal naming its key) */
static bool make_egress(struct walk *w, struct silod_config *c)
{
    const struct silod_egress_settings *s = &c->egress_settings;
    struct egress_config *e = &c->egress;
    e->enabled = s->enabled;
    e->max_connections_per_session = s->max_connections_per_session;
    e->connect_timeout_ms = s->connect_timeout_ms;
    e->idle_timeout_s = s->idle_timeout_s;
    e->rules.silod_port = c->listen_port;
    const struct {
        const char *name;
        const struct silod_strings *list;
        struct egress_cidr *cidrs;
        char **domains;
        size_t *count;
    } lists[] = {
        { "allow_cidrs", &s->allow_cidrs, e->rules.allow_cidrs, NULL, &e->rules.allow_cidr_count },
        { "vpc_cidrs", &s->vpc_cidrs, e->rules.vpc_cidrs, NULL, &e->rules.vpc_cidr_count },
        { "allow_domains", &s->allow_domains, NULL, e->rules.allow_domains, &e->rules.allow_domain_count },
        { "vpc_domains", &s->vpc_domains, NULL, e->rules.vpc_domains, &e->rules.vpc_domain_count },
    };
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t i = 0; i < lists[l].list->count; i++) {
            const char *text = lists[l].list->items[i];
            bool ok = lists[l].cidrs ? egress_parse_cidr(text, &lists[l].cidrs[i])
                                     : (lists[l].domains[i] = egress_parse_domain(text)) != NULL;
            if (!ok) {
                char item[64];
                snprintf(item, sizeof item, "egress.%s[%zu]", lists[l].name, i);
                return refuse(w, item, "\"%.80s\" is not a %s", text,
                              lists[l].cidrs ? "CIDR (10.0.0.0/8, fd00::/8, 192.0.2.7)" : "domain suffix");
            }
            *lists[l].count = i + 1;
        }
    return true;
}

/* 127.0.0.0/8 (listen_address is an IPv4 address; http_api.c refuses anything else) */
static bool is_loopback(const char *addr)
{
    struct in_addr a;
    return inet_pton(AF_INET, addr, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* TLS: both files or neither; plain HTTP on a non-loopback address only when allowed */
static bool check_tls(struct walk *w, const struct silod_config *c)
{
    if (!c->tls_cert_file != !c->tls_key_file)
        return refuse(w, c->tls_cert_file ? "tls_key_file" : "tls_cert_file",
                      "is required with %s (both, or neither for plain HTTP)",
                      c->tls_cert_file ? "tls_cert_file" : "tls_key_file");
    if (!c->tls_cert_file && !c->allow_plain_http && !is_loopback(c->listen_address))
        return refuse(w, "listen_address", "%.64s is not a loopback address: plain HTTP there would carry "
                      "requests and tokens in the clear; set tls_cert_file and tls_key_file, or "
                      "\"allow_plain_http\": true (frontend/README.md, \"TLS\")", c->listen_address);
    return true;
}

/* jail: its mode (absent: auto); absolute paths; the uid range below 2^31; cgroup_parent under
 * /sys/fs/cgroup/, or "none" (absent: silod picks one, vmm_jail_default_cgroup_parent) */
static bool check_jail(struct walk *w, struct silod_config *c, json_object *root)
{
    struct silod_jail_settings *j = &c->jail;
    bool present = json_object_object_get_ex(root, "jail", NULL);
    j->mode = !present ? JAIL_AUTO : j->enabled ? JAIL_ON : JAIL_OFF;
    if (j->mode == JAIL_OFF)
        return true;
    if (j->program && j->program[0] != '/')
        return refuse(w, "jail.program", "must be an absolute path, not \"%.100s\"", j->program);
    if (j->dir[0] != '/' || strstr(j->dir, "/../") || strcmp(j->dir, "/") == 0)
        return refuse(w, "jail.dir", "must be an absolute path (not /), not \"%.100s\"", j->dir);
    if ((uint64_t)j->uid_first + j->uid_count > 2147483647u)
        return refuse(w, "jail.uid_count", "takes the range past 2147483646 (uid_first %u + uid_count %u)",
                      j->uid_first, j->uid_count);
    if (j->cgroup_parent && strcmp(j->cgroup_parent, "none") != 0 &&
        (strncmp(j->cgroup_parent, "/sys/fs/cgroup/", 15) != 0 || strlen(j->cgroup_parent) < 16 ||
         strstr(j->cgroup_parent, "..")))
        return refuse(w, "jail.cgroup_parent", "must be a directory under /sys/fs/cgroup/ (cgroup v2) or \"none\", not \"%.100s\"",
                      j->cgroup_parent);
    return true;
}

bool silod_config_parse(const char *text, size_t text_len, struct silod_config *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    json_tokener *tok = json_tokener_new();
    if (!tok)
        abort();
    json_object *root = text_len <= INT32_MAX ? json_tokener_parse_ex(tok, text, (int)text_len) : NULL;
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    /* nothing but white space may follow the object */
    while (root && used < text_len && strchr(" \t\r\n", text[used]))
        used++;
    if (!root || jerr != json_tokener_success || used != text_len) {
        json_object_put(root);
        snprintf(err, err_len, "the config is not one JSON object (%s)",
                 jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "text after it");
        return false;
    }
    out->root = root;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, err_len, "the config must be a JSON object, not %s", type_word(root));
        return false;
    }
    struct walk w = { out, err, err_len };
    return walk_object(&w, &silod_table, root, out, "") && make_egress(&w, out) && check_registries(&w, out) && check_tls(&w, out) &&
           check_jail(&w, out, root);
}

bool silod_config_load(const char *path, struct silod_config *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *text = small_file_load(path, 16u << 20, &len, err, err_len);
    if (!text)
        return false;
    bool ok = silod_config_parse(text, len, out, err, err_len);
    free(text);
    return ok;
}

void silod_config_free(struct silod_config *cfg)
{
    for (size_t i = 0; i < cfg->alloc_count; i++)
        free(cfg->allocs[i]);
    free(cfg->allocs);
    egress_rules_free(&cfg->egress.rules);
    json_object_put(cfg->root);
    memset(cfg, 0, sizeof *cfg);
}

static void describe_table(const struct cfg_table *t, const char *path, void (*line)(void *, const char *), void *ctx)
{
    for (size_t i = 0; i < t->count; i++) {
        const struct cfg_row *r = &t->rows[i];
        char key[200], want[96], text[600];
        join(key, sizeof key, path, r->key);
        if (r->type == CFG_OBJECT || r->type == CFG_RAW_OBJECT) {
            describe_table(r->sub, key, line, ctx);
            continue;
        }
        if (r->type == CFG_OBJECT_LIST || r->type == CFG_OBJECT_MAP) {
            char sub[220];
            snprintf(sub, sizeof sub, "%s%s", key, r->type == CFG_OBJECT_LIST ? "[]" : "{}");
            snprintf(text, sizeof text, "%s: %s%s", key, want_word(r, want, sizeof want), r->required ? ", required" : "");
            line(ctx, text);
            describe_table(r->sub, sub, line, ctx);
            continue;
        }
        char def[160] = "";
        if (r->type == CFG_UINT)
            snprintf(def, sizeof def, "; default %" PRId64, r->def);
        else if (r->type == CFG_BOOL)
            snprintf(def, sizeof def, "; default %s", r->def ? "true" : "false");
        else if (r->def_str)
            snprintf(def, sizeof def, "; default \"%.120s\"", r->def_str);
        snprintf(text, sizeof text, "%s: %s%s%s", key, want_word(r, want, sizeof want), r->required ? ", required" : "", def);
        line(ctx, text);
    }
}

void silod_config_describe(void (*line)(void *ctx, const char *text), void *ctx)
{
    describe_table(&silod_table, "", line, ctx);
}
