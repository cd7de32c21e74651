/* frontend/role_creds.h — the execution role's credentials, vended to agents.
 *
 * A runtime's `roleArn` gets credentials from silod's `role_credentials` config:
 *   "static":  { "<roleArn or *>": { "access_key_id", "secret_access_key", "session_token"? } }
 *              keys per role for a self-contained setup (vended with Expiration now+duration_s);
 *   "process": "/path/cmd"  the AWS CLI's credential_process convention, run without a shell as
 *              `cmd ROLE_ARN SESSION_ID` (10 s at most, stdout ≤ 64 KiB): JSON {"Version": 1,
 *              "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?} — an operator
 *              plugs in STS AssumeRole here. Cached per role until 5 minutes before Expiration.
 *   "duration_s": lifetime of static vendings and of process answers without Expiration [3600]
 * "static" is consulted first, then "process".
 *
 * Every credential silod vends is also a key silod's own SigV4 verifier accepts (lookup below),
 * with principal `role:<roleArn>`, until it expires: that is how an agent calls silod's API
 * (another runtime) with nothing but its SDK's default credential chain. Such principals may
 * call the data plane only (http_api.c refuses them the control plane).
 *
 * Secrets are never logged, never stored in SQLite, never written into an image or a version's
 * configuration: they live in this process's memory only. */
#ifndef SILO_FRONTEND_ROLE_CREDS_H
#define SILO_FRONTEND_ROLE_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "frontend/sigv4.h"

struct role_creds;

/* From the `role_credentials` JSON object's text (NULL: no source: every vending is 404).
 * NULL with a reason in err on a bad config. */
struct role_creds *role_creds_new(const char *config_json, char *err, size_t err_len);
void role_creds_free(struct role_creds *rc);

/* Credentials for role_arn, vended to session_id, as the container-credentials JSON
 * {"AccessKeyId","SecretAccessKey","Token","Expiration","RoleArn"} in out. Returns 200, or 404
 * (no source for this role) / 500 (the source failed) with a one-line reason in out. */
int role_creds_vend(struct role_creds *rc, const char *role_arn, const char *session_id, char *out, size_t out_len);

/* The SigV4 key for a vended access key id, or NULL (unknown or expired). The pointer stays
 * valid while silod runs (entries are never freed, only reused once long expired). */
const struct sigv4_key *role_creds_lookup(struct role_creds *rc, const char *access_key_id);

/* true for the principal of a vended credential ("role:...") */
bool role_creds_is_role_principal(const char *principal);

#endif
