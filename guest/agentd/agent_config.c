/* guest/agentd/agent_config.c — reads the agent's start command from the OCI image config
 * (see agent_config.h). Every field is validated: wrong JSON types, NUL bytes, oversize
 * documents and commands, relative working directories are refused with a one-line reason. */
#include "guest/agentd/agent_config.h"
#include "base/error_message.h"
#include "base/small_file.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_checked(const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL)   /* embedded NUL: refuse rather than truncate */
        return NULL;
    char *d = malloc(len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* Appends the strings of a JSON array (or nothing, for null/absent) to list[*n]. */
static int append_strings(json_object *arr, const char *what, char **list, size_t *n, size_t max,
                          char *err, size_t errlen)
{
    if (arr == NULL || json_object_is_type(arr, json_type_null))
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return error_message(err, errlen, "image config: %s is not an array of strings", what);
    size_t count = json_object_array_length(arr);
    for (size_t i = 0; i < count; i++) {
        json_object *item = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(item, json_type_string))
            return error_message(err, errlen, "image config: %s[%zu] is not a string", what, i);
        if (*n >= max)
            return error_message(err, errlen, "image config: %s has more than %zu entries", what, max);
        char *s = dup_checked(json_object_get_string(item), (size_t)json_object_get_string_len(item));
        if (s == NULL)
            return error_message(err, errlen, "image config: %s[%zu] contains a NUL byte", what, i);
        list[(*n)++] = s;
    }
    return 0;
}

static int get_string(json_object *obj, const char *key, char **out, char *err, size_t errlen)
{
    json_object *v = NULL;
    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        *out = strdup("");
    } else if (!json_object_is_type(v, json_type_string)) {
        return error_message(err, errlen, "image config: %s is not a string", key);
    } else {
        *out = dup_checked(json_object_get_string(v), (size_t)json_object_get_string_len(v));
        if (*out == NULL)
            return error_message(err, errlen, "image config: %s contains a NUL byte", key);
    }
    return *out == NULL ? error_message(err, errlen, "image config: out of memory") : 0;
}

static bool env_has(char **envp, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return true;
    return false;
}

static int parse_object(json_object *root, struct agent_config *cfg, char *err, size_t errlen)
{
    json_object *config = NULL, *v = NULL;
    size_t argc = 0, envc = 0;

    if (!json_object_is_type(root, json_type_object))
        return error_message(err, errlen, "image config: not a JSON object");
    if (get_string(root, "architecture", &cfg->architecture, err, errlen) < 0 ||
        get_string(root, "os", &cfg->os, err, errlen) < 0)
        return -1;
    if (json_object_object_get_ex(root, "config", &config) && !json_object_is_type(config, json_type_null) &&
        !json_object_is_type(config, json_type_object))
        return error_message(err, errlen, "image config: \"config\" is not an object");
    if (config != NULL && json_object_is_type(config, json_type_null))
        config = NULL;

    cfg->argv = calloc(AGENT_CONFIG_MAX_ARGS + 1, sizeof(char *));
    cfg->envp = calloc(AGENT_CONFIG_MAX_ENV + 3, sizeof(char *));
    if (cfg->argv == NULL || cfg->envp == NULL)
        return error_message(err, errlen, "image config: out of memory");
    if (config != NULL) {
        json_object_object_get_ex(config, "Entrypoint", &v);
        if (append_strings(v, "Entrypoint", cfg->argv, &argc, AGENT_CONFIG_MAX_ARGS, err, errlen) < 0)
            return -1;
        v = NULL;
        json_object_object_get_ex(config, "Cmd", &v);
        if (append_strings(v, "Cmd", cfg->argv, &argc, AGENT_CONFIG_MAX_ARGS, err, errlen) < 0)
            return -1;
        v = NULL;
        json_object_object_get_ex(config, "Env", &v);
        if (append_strings(v, "Env", cfg->envp, &envc, AGENT_CONFIG_MAX_ENV, err, errlen) < 0)
            return -1;
    }
    if (argc == 0 || cfg->argv[0][0] == '\0')
        return error_message(err, errlen, "image config: no command (Entrypoint and Cmd are both empty)");
    for (size_t i = 0; i < envc; i++) {
        const char *eq = strchr(cfg->envp[i], '=');
        if (eq == NULL || eq == cfg->envp[i])
            return error_message(err, errlen, "image config: Env[%zu] is not NAME=value", i);
    }
    if (!env_has(cfg->envp, envc, "PATH"))
        cfg->envp[envc++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (!env_has(cfg->envp, envc, "HOME"))
        cfg->envp[envc++] = strdup("HOME=/root");
    for (size_t i = 0; i < envc; i++)
        if (cfg->envp[i] == NULL)
            return error_message(err, errlen, "image config: out of memory");

    if (get_string(config, "WorkingDir", &cfg->workdir, err, errlen) < 0 ||
        get_string(config, "User", &cfg->user, err, errlen) < 0)
        return -1;
    if (cfg->workdir[0] == '\0') {
        free(cfg->workdir);
        cfg->workdir = strdup("/");
        if (cfg->workdir == NULL)
            return error_message(err, errlen, "image config: out of memory");
    } else if (cfg->workdir[0] != '/') {
        return error_message(err, errlen, "image config: WorkingDir \"%.100s\" is not absolute", cfg->workdir);
    }
    return 0;
}

int agent_config_parse(const char *json, size_t len, struct agent_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (len > AGENT_CONFIG_MAX_BYTES)
        return error_message(err, errlen, "image config: %zu bytes, more than the %u allowed", len, AGENT_CONFIG_MAX_BYTES);
    if (len == 0 || memchr(json, '\0', len) != NULL)
        return error_message(err, errlen, "image config: empty or contains NUL bytes");
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return error_message(err, errlen, "image config: out of memory");
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (root == NULL || jerr != json_tokener_success) {
        json_object_put(root);
        return error_message(err, errlen, "image config: invalid JSON (%s)", json_tokener_error_desc(jerr));
    }
    for (; used < len; used++) {
        if (json[used] != ' ' && json[used] != '\n' && json[used] != '\r' && json[used] != '\t') {
            json_object_put(root);
            return error_message(err, errlen, "image config: trailing data after the JSON document");
        }
    }
    int rc = parse_object(root, cfg, err, errlen);
    json_object_put(root);
    if (rc < 0)
        agent_config_free(cfg);
    return rc;
}

int agent_config_load(const char *path, struct agent_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    char why[512];
    size_t got;
    char *buf = small_file_load(path, AGENT_CONFIG_MAX_BYTES, &got, why, sizeof why);
    if (buf == NULL)
        return error_message(err, errlen, "image config %s", why);
    int rc = agent_config_parse(buf, got, cfg, err, errlen);
    free(buf);
    return rc;
}

static void free_list(char **list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        free(list[i]);
    free(list);
}

void agent_config_free(struct agent_config *cfg)
{
    free_list(cfg->argv);
    free_list(cfg->envp);
    free(cfg->workdir);
    free(cfg->user);
    free(cfg->architecture);
    free(cfg->os);
    memset(cfg, 0, sizeof *cfg);
}

/* --- User -------------------------------------------------------------------------------- */

static bool parse_id(const char *s, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 0x7fffffffUL)
        return false;
    *out = v;
    return true;
}

/* Finds `name` in a passwd/group style file; returns fields 3 and 4 (id, and gid for passwd). */
static int lookup_name(const char *root, const char *file, const char *name, unsigned long *id,
                       unsigned long *gid)
{
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s%s", strcmp(root, "/") == 0 ? "" : root, file);
    FILE *f = fopen(path, "re");
    int rc = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        char *fields[4] = { 0 }, *p = line;
        line[strcspn(line, "\n")] = '\0';
        for (int i = 0; i < 4; i++) {
            fields[i] = p;
            p = strchr(p, ':');
            if (p == NULL) {
                if (i < 2)
                    fields[0] = NULL;
                break;
            }
            *p++ = '\0';
        }
        if (fields[0] == NULL || fields[2] == NULL || strcmp(fields[0], name) != 0)
            continue;
        if (!parse_id(fields[2], id))
            break;
        if (gid != NULL && (fields[3] == NULL || !parse_id(fields[3], gid)))
            break;
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* The primary gid of the passwd entry with this uid; 0 when there is none. */
static unsigned long lookup_uid_gid(const char *root, unsigned long uid)
{
    char path[4096], line[1024];
    unsigned long gid = 0;
    snprintf(path, sizeof path, "%s/etc/passwd", strcmp(root, "/") == 0 ? "" : root);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long id, g;
        char *f2 = strchr(line, ':'), *f3, *f4;
        if (f2 == NULL || (f3 = strchr(f2 + 1, ':')) == NULL || (f4 = strchr(f3 + 1, ':')) == NULL)
            continue;
        *f4 = '\0';
        char *f5 = strchr(f4 + 1, ':');
        if (f5 != NULL)
            *f5 = '\0';
        if (parse_id(f3 + 1, &id) && id == uid && parse_id(f4 + 1, &g)) {
            gid = g;
            break;
        }
    }
    fclose(f);
    return gid;
}

int agent_user_resolve(const char *user, const char *root, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    char u[256];
    unsigned long uv = 0, gv = 0, pgid = 0;
    if (user == NULL || user[0] == '\0') {
        *uid = 0;
        *gid = 0;
        return 0;
    }
    if (strlen(user) >= sizeof u)
        return error_message(err, errlen, "image config: User is too long");
    strcpy(u, user);
    char *group = strchr(u, ':');
    if (group != NULL)
        *group++ = '\0';
    if (u[0] == '\0' || (group != NULL && group[0] == '\0'))
        return error_message(err, errlen, "image config: User \"%s\" is malformed", user);
    if (parse_id(u, &uv)) {
        /* numeric: the primary group comes from a passwd entry with that uid, else 0 (docker) */
        pgid = lookup_uid_gid(root, uv);
    } else if (lookup_name(root, "/etc/passwd", u, &uv, &pgid) < 0) {
        return error_message(err, errlen, "image config: User \"%s\" is not in /etc/passwd", u);
    }
    if (group == NULL) {
        gv = pgid;
    } else if (!parse_id(group, &gv) && lookup_name(root, "/etc/group", group, &gv, NULL) < 0) {
        return error_message(err, errlen, "image config: group \"%s\" is not in /etc/group", group);
    }
    *uid = (uid_t)uv;
    *gid = (gid_t)gv;
    return 0;
}
