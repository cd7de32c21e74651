/* frontend/workload_token.h — workload access tokens (AgentCore Identity, issue 14 item 3):
 * minted by silod for (workload identity, user), handed to the agent in the
 * `WorkloadAccessToken` header, and required back by the resource-token operations
 * (GetResourceOauth2Token, GetResourceApiKey), which act only for the workload and user the
 * token names.
 *
 * A token is opaque to the agent: it is AES-256-GCM SEALED (not just signed) under a key
 * derived from the vault's master key (vault_derive_key(v, WAT_KEY_LABEL, key)), so the agent
 * can neither read nor forge the binding inside. Text form:
 *
 *     "swat1." base64url( nonce(12) | ciphertext | tag(16) )      (at most WAT_MAX_TOKEN chars)
 *
 * plaintext: 0x01 | user kind (1) | issued_at (8, BE, s) | expires_at (8, BE, s) |
 *            workload length (1) | workload | user id length (2, BE) | user id
 * associated data: "silo-wat-v1". The GCM tag check is OpenSSL's (constant time); the
 * binding checks compare with CRYPTO_memcmp after a length check.
 *
 * The user is (kind, id): WAT_USER_JWT with id "iss|sub" (inbound JWT), WAT_USER_ID with the
 * SigV4 caller's X-Amzn-Bedrock-AgentCore-Runtime-User-Id value, or WAT_USER_NONE (no user:
 * GetWorkloadAccessToken). The kind is part of the binding, so a SigV4 caller sending a
 * User-Id equal to some JWT user's "iss|sub" gets a token that never opens that JWT user's
 * tokens: every lookup of user-bound secrets must key on (kind, id), never id alone.
 *
 * Verification refuses with distinct reasons: malformed (prefix, alphabet, length), bad seal
 * (tampered, truncated, another key), expired, issued in the future, wrong workload, wrong
 * user. Rotating the master key invalidates outstanding tokens (they are short-lived; the
 * agent gets a new one on its next invocation).
 */
#ifndef SILO_FRONTEND_WORKLOAD_TOKEN_H
#define SILO_FRONTEND_WORKLOAD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAT_KEY_LABEL "silo workload access token v1"
#define WAT_KEY_BYTES 32
#define WAT_MAX_WORKLOAD 255
#define WAT_MAX_USER_ID 1024
#define WAT_MAX_TOKEN 2048
#define WAT_DEFAULT_TTL_S 900      /* 15 minutes */
#define WAT_MAX_TTL_S 3600
#define WAT_CLOCK_SKEW_S 60        /* issued_at may be this far ahead of now */

enum wat_user_kind {
    WAT_USER_NONE = 0,
    WAT_USER_JWT = 1,   /* id = "iss|sub" of a verified inbound JWT */
    WAT_USER_ID = 2,    /* id = the SigV4 caller's User-Id header */
};

enum wat_status {
    WAT_OK = 0,
    WAT_MALFORMED,        /* not a token of ours at all: prefix, alphabet, length */
    WAT_BAD_SEAL,         /* tampered, truncated, or sealed under another key */
    WAT_EXPIRED,
    WAT_NOT_YET_VALID,    /* issued in the future (beyond WAT_CLOCK_SKEW_S) */
    WAT_WRONG_WORKLOAD,
    WAT_WRONG_USER,       /* user kind or id differs */
    WAT_INVALID_ARGUMENT, /* minting: empty/too long workload, bad user, bad ttl */
};
const char *wat_status_text(enum wat_status st);

struct wat_claims {
    enum wat_user_kind user_kind;
    char workload[WAT_MAX_WORKLOAD + 1];
    char user_id[WAT_MAX_USER_ID + 1];   /* "" for WAT_USER_NONE */
    int64_t issued_at, expires_at;       /* seconds since the epoch */
};

/* Mints a token for workload (1..255 bytes, no NUL) and user (kind NONE: user_id NULL or "";
 * otherwise 1..1024 bytes), valid for ttl_s (1..WAT_MAX_TTL_S) from now_s. Writes the
 * NUL-terminated token into out (cap >= WAT_MAX_TOKEN + 1 always fits). */
enum wat_status wat_mint(const uint8_t key[WAT_KEY_BYTES], const char *workload, enum wat_user_kind kind,
                         const char *user_id, int64_t now_s, int ttl_s, char *out, size_t cap);

/* Opens and checks the token's seal and lifetime; fills *claims (may be NULL) on WAT_OK. */
enum wat_status wat_verify(const uint8_t key[WAT_KEY_BYTES], const char *token, int64_t now_s,
                           struct wat_claims *claims);

/* wat_verify, then the binding: the token must be for exactly this workload and user.
 * WAT_WRONG_WORKLOAD / WAT_WRONG_USER otherwise. */
enum wat_status wat_verify_for(const uint8_t key[WAT_KEY_BYTES], const char *token, int64_t now_s,
                               const char *workload, enum wat_user_kind kind, const char *user_id);

#endif
