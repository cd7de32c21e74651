/* frontend/token_vault.h — the token vault (AgentCore Identity, issue 14 item 4): every secret
 * silod keeps for agents (OAuth2 client secrets, API keys, users' access and refresh tokens,
 * PKCE verifiers of pending 3LO flows) encrypted at rest with AES-256-GCM under a master key
 * that never enters the database.
 *
 * The master key (32 bytes) comes from
 *   - a key file: created on first use (O_CREAT|O_EXCL, mode 0600, 32 random bytes, fsynced);
 *     an existing file is used only if it is a regular file owned by silod's user, not
 *     readable or writable by group or others, and exactly 32 bytes; or
 *   - a key command: argv run without a shell (stdin /dev/null), which must print 64 hex
 *     digits (an optional trailing newline) and exit 0 within VAULT_COMMAND_TIMEOUT_MS;
 *     more than VAULT_COMMAND_MAX_OUTPUT bytes is refused (e.g. `openssl rand -hex 32` once,
 *     stored in a secrets manager the command reads).
 * From it are derived (HMAC-SHA256 with a fixed label each) the AES key, a public 8-byte key
 * id, and any other subkey silod needs (vault_derive_key: e.g. the workload-token key), so the
 * master key itself is never used directly and every use has its own key.
 *
 * Ciphertext (one BLOB, format version 1):
 *     0x01 | key id (8) | nonce (12, random per seal) | AES-256-GCM ciphertext | tag (16)
 * The associated data is "silo-vault-v1\0" || the 9 header bytes || kind || "\0" || name, so a
 * ciphertext copied to another row (another kind or name) or with its header edited fails to
 * open (VAULT_AUTH_FAILED), and the key id says which key of the keyring opens it.
 *
 * Storage: the table vault_secrets (kind, name, key_id, ciphertext, updated_at) in silod's
 * database, created by vault_schema() (CREATE TABLE IF NOT EXISTS). vault_put / vault_delete
 * join the caller's transaction when one is open (SAVEPOINT), else run in their own.
 *
 * Rotation: vault_reencrypt_all() re-encrypts, in ONE SQLite transaction, every row not sealed
 * under the current key with it; a crash leaves either all old or all new ciphertexts, and
 * since every blob names its key id both states open with a keyring holding both keys.
 *   - key file: vault_open_key_file() / vault_rotate_key_file(): the new key is written to
 *     PATH.next (0600, fsynced) first, rows re-encrypted, then PATH.next renamed over PATH
 *     (the old key retired). A crash at any point is finished by the next vault_open_key_file
 *     (which sees PATH.next and completes the rotation).
 *   - key command: configure the new command as current and the old one as previous;
 *     vault_add_retired_key(old) then vault_reencrypt_all() at start; then drop the old one.
 * vault_check() refuses a database holding rows under a key id the keyring does not have
 * (the wrong key configured) with a message naming both key ids (key ids are not secret).
 *
 * Secrets are never logged: error texts name kinds, names and key ids, never values. Key
 * material is wiped (OPENSSL_cleanse) in vault_free; plaintexts handed out must be released
 * with vault_secret_free (which wipes them).
 */
#ifndef SILO_FRONTEND_TOKEN_VAULT_H
#define SILO_FRONTEND_TOKEN_VAULT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_KEY_BYTES 32
#define VAULT_KEY_ID_BYTES 8
#define VAULT_KEY_ID_HEX (2 * VAULT_KEY_ID_BYTES + 1)
#define VAULT_MAX_KEYS 4                    /* current + retired keys still able to open */
#define VAULT_MAX_SECRET (64 * 1024)        /* bytes of one plaintext */
#define VAULT_COMMAND_TIMEOUT_MS 10000
#define VAULT_COMMAND_MAX_OUTPUT 4096
#define VAULT_FORMAT_VERSION 1
#define VAULT_OVERHEAD (1 + VAULT_KEY_ID_BYTES + 12 + 16)

enum vault_status {
    VAULT_OK = 0,
    VAULT_NOT_FOUND,    /* no such row */
    VAULT_MALFORMED,    /* too short, unknown format version */
    VAULT_UNKNOWN_KEY,  /* sealed under a key id the keyring does not hold */
    VAULT_AUTH_FAILED,  /* tag mismatch: tampered, moved to another row, or another key */
    VAULT_ERROR,        /* database, allocation, size limit */
};
const char *vault_status_text(enum vault_status st);

struct vault;

/* --- the master key ------------------------------------------------------------------- */

/* Reads the key file at path into key. With create, a missing file is created (0600, 32
 * random bytes from the OS via RAND_priv_bytes, fsynced, its directory fsynced). Refuses
 * symlinks, non-regular files, files owned by another user, modes with any group/other bit,
 * and sizes other than 32. Returns false with a one-line reason in err. */
bool vault_key_file_load(const char *path, bool create, uint8_t key[VAULT_KEY_BYTES], char *err, size_t err_len);

/* Runs argv (argv[0] a path, no shell, stdin /dev/null, stderr inherited) and parses its
 * stdout as 64 hex digits + optional "\n". Bounded by VAULT_COMMAND_TIMEOUT_MS (timeout_ms
 * when > 0) and VAULT_COMMAND_MAX_OUTPUT; killed past the deadline. The output buffer is
 * wiped. Returns false with a reason in err. */
bool vault_key_command_run(const char *const argv[], int timeout_ms, uint8_t key[VAULT_KEY_BYTES], char *err,
                           size_t err_len);

/* --- the keyring ------------------------------------------------------------------------ */

/* A vault whose current key is master (copied; the caller should wipe its copy). NULL only
 * on allocation failure. */
struct vault *vault_new(const uint8_t master[VAULT_KEY_BYTES]);
/* Adds a retired key: it opens blobs sealed under it, never seals. False when full. */
bool vault_add_retired_key(struct vault *v, const uint8_t master[VAULT_KEY_BYTES]);
/* Wipes every key and frees. NULL is fine. */
void vault_free(struct vault *v);
/* The current key's id as 16 hex digits. */
void vault_key_id_hex(const struct vault *v, char out[VAULT_KEY_ID_HEX]);
/* A 32-byte subkey of the current master key for purpose label (e.g. "silo workload access
 * token v1"); distinct labels give independent keys. */
void vault_derive_key(const struct vault *v, const char *label, uint8_t out[32]);

/* --- sealing without storage (the row binding is kind + name) ------------------------ */

/* Seals pt[0..n) (n <= VAULT_MAX_SECRET) for row (kind, name). *out is malloc'd (free()
 * it; it is ciphertext). */
enum vault_status vault_seal(const struct vault *v, const char *kind, const char *name, const uint8_t *pt, size_t n,
                             uint8_t **out, size_t *out_len);
/* Opens a blob sealed for (kind, name). *pt is NUL-terminated (not counted in *pt_len) and
 * must be released with vault_secret_free. */
enum vault_status vault_unseal(const struct vault *v, const char *kind, const char *name, const uint8_t *blob,
                               size_t blob_len, char **pt, size_t *pt_len);
/* Wipes and frees a plaintext from vault_unseal / vault_get. NULL is fine. */
void vault_secret_free(char *pt, size_t len);

/* --- the vault_secrets table ------------------------------------------------------------- */

/* Creates the vault_secrets table if missing. */
bool vault_schema(sqlite3 *db, char *err, size_t err_len);
/* Fails (with both key ids in err) when any row is sealed under a key the keyring lacks. */
bool vault_check(const struct vault *v, sqlite3 *db, char *err, size_t err_len);
/* Inserts or replaces the secret of (kind, name). now_ms is stored as updated_at. */
enum vault_status vault_put(const struct vault *v, sqlite3 *db, const char *kind, const char *name, const char *secret,
                            size_t len, int64_t now_ms);
/* Reads and opens the secret of (kind, name): *out NUL-terminated, vault_secret_free it. */
enum vault_status vault_get(const struct vault *v, sqlite3 *db, const char *kind, const char *name, char **out,
                            size_t *out_len);
/* Deletes (kind, name); VAULT_NOT_FOUND when there was none. */
enum vault_status vault_delete(sqlite3 *db, const char *kind, const char *name);
/* Deletes every row of kind whose name starts with prefix. Returns rows deleted, or -1. */
int vault_delete_prefix(sqlite3 *db, const char *kind, const char *prefix);
/* Re-encrypts every row not under the current key, in one transaction (a SAVEPOINT inside
 * the caller's). Returns the number of rows re-encrypted, or -1 (nothing changed) with a
 * reason naming the failing row's kind and name. */
int vault_reencrypt_all(const struct vault *v, sqlite3 *db, char *err, size_t err_len);

/* --- key file life cycle ------------------------------------------------------------------ */

/* Loads (creating on first use) the key file, finishes an interrupted rotation (PATH.next
 * present), creates the table, and checks every row opens with the keyring. *out is the vault
 * (current key only). */
bool vault_open_key_file(const char *path, sqlite3 *db, struct vault **out, char *err, size_t err_len);
/* Rotates: new random key in PATH.next, every row re-encrypted under it (one transaction),
 * PATH.next renamed over PATH. On success *v is replaced by a vault of the new key (the old
 * one freed). On failure *v is unchanged and still valid. */
bool vault_rotate_key_file(const char *path, sqlite3 *db, struct vault **v, char *err, size_t err_len);

#endif
