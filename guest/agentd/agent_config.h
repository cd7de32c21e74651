/* guest/agentd/agent_config.h — the agent's start command, read from the image config.
 *
 * The image builder stores the image's OCI config (the JSON document an OCI image manifest
 * points to, or `docker save`'s config) at /silo/config.json in every image. From its
 * `config` object this takes Entrypoint + Cmd (the command), Env, WorkingDir and User, the way a
 * container runtime does. The image builder uses the same parser to refuse images that have no
 * command before it builds anything. Compiles on the host (unit tests) and in the guest.
 */
#ifndef SILO_GUEST_AGENTD_AGENT_CONFIG_H
#define SILO_GUEST_AGENTD_AGENT_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define AGENT_CONFIG_MAX_BYTES (1u << 20)   /* a bigger config is refused */
#define AGENT_CONFIG_MAX_ARGS 256
#define AGENT_CONFIG_MAX_ENV 512

struct agent_config {
    char **argv;            /* Entrypoint then Cmd; NULL-terminated, argv[0] non-empty */
    char **envp;            /* "NAME=value", NULL-terminated; PATH and HOME added when absent */
    char *workdir;          /* absolute; "/" when the image sets none */
    char *user;             /* as written in the image ("", "1000", "app:app", "1000:100") */
    char *architecture;     /* top-level "architecture" ("arm64"), "" when absent */
    char *os;               /* top-level "os", "" when absent */
};

/* Parses an OCI image config document. Returns 0, or -1 with a one-line reason in err. */
int agent_config_parse(const char *json, size_t len, struct agent_config *cfg, char *err, size_t errlen);
int agent_config_load(const char *path, struct agent_config *cfg, char *err, size_t errlen);
void agent_config_free(struct agent_config *cfg);

/* Resolves cfg->user against the passwd and group files under `root` ("/" in the guest):
 * "" -> 0:0; "N" or "N:M" numeric; names looked up in ROOT/etc/passwd and ROOT/etc/group.
 * Returns 0, or -1 with a reason in err. */
int agent_user_resolve(const char *user, const char *root, uid_t *uid, gid_t *gid, char *err, size_t errlen);

#endif
