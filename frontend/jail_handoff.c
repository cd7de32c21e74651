/* frontend/jail_handoff.c — a jail slot handed to a program silod starts (see jail_handoff.h). */
#include "frontend/jail_handoff.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

static void put_uint(json_object *o, const char *key, unsigned value)
{
    json_object_object_add(o, key, json_object_new_int64(value));
}

char *jail_handoff_encode(const struct vmm_jail_config *cfg, unsigned uid)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "program", json_object_new_string(cfg->program ? cfg->program : ""));
    json_object_object_add(o, "dir", json_object_new_string(cfg->dir ? cfg->dir : ""));
    put_uint(o, "uid_first", cfg->uid_first);
    put_uint(o, "uid_count", cfg->uid_count);
    put_uint(o, "gid", cfg->gid);
    json_object_object_add(o, "cgroup_parent", json_object_new_string(cfg->cgroup_parent ? cfg->cgroup_parent : ""));
    put_uint(o, "vmm_overhead_mib", cfg->vmm_overhead_mib);
    put_uint(o, "guest_memory_percent", cfg->guest_memory_percent);
    put_uint(o, "address_space_extra_mib", cfg->address_space_extra_mib);
    put_uint(o, "pids_max", cfg->pids_max);
    put_uint(o, "nofile", cfg->nofile);
    put_uint(o, "uid", uid);
    char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

/* o[key] as a string that fits cap (empty allowed when may_be_empty; otherwise absolute). */
static bool get_path(json_object *o, const char *key, bool may_be_empty, char *out, size_t cap)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    if ((!*s && !may_be_empty) || (*s && s[0] != '/') || strlen(s) >= cap)
        return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

static bool get_uint(json_object *o, const char *key, unsigned max, unsigned *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    int64_t n = json_object_get_int64(v);
    if (n < 0 || n > (int64_t)max)
        return false;
    *out = (unsigned)n;
    return true;
}

int jail_handoff_decode(const char *json, struct jail_handoff *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    json_object *o = json ? json_tokener_parse(json) : NULL;
    struct vmm_jail_config *c = &out->cfg;
    unsigned uid = 0;
    const char *bad = NULL;
    if (!o || !json_object_is_type(o, json_type_object))
        bad = "not a JSON object";
    else if (!get_path(o, "program", false, out->program, sizeof out->program) ||
             !get_path(o, "dir", false, out->dir, sizeof out->dir) ||
             !get_path(o, "cgroup_parent", true, out->cgroup_parent, sizeof out->cgroup_parent))
        bad = "program, dir or cgroup_parent is missing, not absolute or too long";
    else if (!get_uint(o, "uid_first", INT32_MAX, &c->uid_first) || !get_uint(o, "uid_count", INT32_MAX, &c->uid_count) ||
             !get_uint(o, "gid", INT32_MAX, &c->gid) || !get_uint(o, "vmm_overhead_mib", 1u << 20, &c->vmm_overhead_mib) ||
             !get_uint(o, "guest_memory_percent", 100, &c->guest_memory_percent) ||
             !get_uint(o, "address_space_extra_mib", 1u << 20, &c->address_space_extra_mib) ||
             !get_uint(o, "pids_max", 1u << 22, &c->pids_max) || !get_uint(o, "nofile", 1u << 20, &c->nofile) ||
             !get_uint(o, "uid", INT32_MAX, &uid))
        bad = "a number is missing or out of range";
    else if (c->uid_first == 0 || uid < c->uid_first || uid - c->uid_first >= c->uid_count)
        bad = "the uid is outside the jail's range";
    json_object_put(o);
    if (!bad) {
        c->program = out->program;
        c->dir = out->dir;
        c->cgroup_parent = out->cgroup_parent[0] ? out->cgroup_parent : NULL;
        if (!vmm_jail_slot_paths(c, uid, &out->slot))
            bad = "the slot's paths do not fit";
    }
    if (bad) {
        snprintf(err, err_len, "%s: %s", JAIL_HANDOFF_ENV, bad);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}
