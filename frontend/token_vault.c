/* frontend/token_vault.c — the token vault: master key from a key file or a key command,
 * AES-256-GCM sealing bound to a row, the vault_secrets table, rotation (see token_vault.h). */
#include "base/url.h"
#include "frontend/token_vault.h"
#include "frontend/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


#define NONCE_BYTES 12
#define TAG_BYTES 16
#define HEADER_BYTES (1 + VAULT_KEY_ID_BYTES)
static const char AD_PREFIX[] = "silo-vault-v1";   /* with its NUL */

struct vault_key {
    uint8_t master[VAULT_KEY_BYTES];
    uint8_t aes[32];
    uint8_t id[VAULT_KEY_ID_BYTES];
};

struct vault {
    struct vault_key keys[VAULT_MAX_KEYS];  /* [0] is current */
    int count;
};

const char *vault_status_text(enum vault_status st)
{
    switch (st) {
    case VAULT_OK: return "ok";
    case VAULT_NOT_FOUND: return "no such secret";
    case VAULT_MALFORMED: return "malformed ciphertext";
    case VAULT_UNKNOWN_KEY: return "sealed under a key this vault does not hold";
    case VAULT_AUTH_FAILED: return "ciphertext failed authentication (tampered, moved or wrong key)";
    case VAULT_ERROR: return "vault error";
    }
    return "?";
}

static int64_t mono_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

static void derive(const uint8_t master[VAULT_KEY_BYTES], const char *label, uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), master, VAULT_KEY_BYTES, (const unsigned char *)label, strlen(label), out, &len);
}

static void key_init(struct vault_key *k, const uint8_t master[VAULT_KEY_BYTES])
{
    uint8_t id[32];
    memcpy(k->master, master, VAULT_KEY_BYTES);
    derive(master, "silo vault v1 aes-256-gcm", k->aes);
    derive(master, "silo vault v1 key id", id);
    memcpy(k->id, id, VAULT_KEY_ID_BYTES);
    OPENSSL_cleanse(id, sizeof id);
}

/* --- master key ---------------------------------------------------------------------- */

static bool fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return false;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

static bool create_key_file(const char *path, uint8_t key[VAULT_KEY_BYTES], char *err, size_t err_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create key file %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = RAND_priv_bytes(key, VAULT_KEY_BYTES) == 1;
    if (ok && fchmod(fd, 0600) != 0)   /* whatever the umask */
        ok = false;
    size_t off = 0;
    while (ok && off < VAULT_KEY_BYTES) {
        ssize_t n = write(fd, key + off, VAULT_KEY_BYTES - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            ok = false;
        else
            off += (size_t)n;
    }
    if (ok && fsync(fd) != 0)
        ok = false;
    close(fd);
    if (ok)
        ok = fsync_dir_of(path);
    if (!ok) {
        snprintf(err, err_len, "cannot write key file %s: %s", path, strerror(errno ? errno : EIO));
        unlink(path);
        OPENSSL_cleanse(key, VAULT_KEY_BYTES);
    }
    return ok;
}

bool vault_key_file_load(const char *path, bool create, uint8_t key[VAULT_KEY_BYTES], char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create)
        return create_key_file(path, key, err, err_len);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open key file %s: %s", path,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return false;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = "cannot stat it";
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_uid != geteuid())
        why = "owned by another user";
    else if (st.st_mode & 077)
        why = "readable or writable by group or others (must be mode 0600)";
    else if (st.st_size != VAULT_KEY_BYTES)
        why = "not exactly 32 bytes";
    size_t off = 0;
    while (!why && off < VAULT_KEY_BYTES) {
        ssize_t n = read(fd, key + off, VAULT_KEY_BYTES - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            why = "short read";
        else
            off += (size_t)n;
    }
    close(fd);
    if (why) {
        OPENSSL_cleanse(key, VAULT_KEY_BYTES);
        snprintf(err, err_len, "refusing key file %s: %s", path, why);
        return false;
    }
    return true;
}

bool vault_key_command_run(const char *const argv[], int timeout_ms, uint8_t key[VAULT_KEY_BYTES], char *err,
                           size_t err_len)
{
    if (!argv || !argv[0] || argv[0][0] != '/') {
        snprintf(err, err_len, "key command: argv[0] must be an absolute path");
        return false;
    }
    if (timeout_ms <= 0)
        timeout_ms = VAULT_COMMAND_TIMEOUT_MS;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, err_len, "key command: pipe: %s", strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        snprintf(err, err_len, "key command %s: cannot run it: %s", argv[0], strerror(rc));
        return false;
    }
    char buf[VAULT_COMMAND_MAX_OUTPUT + 1];
    size_t len = 0;
    int64_t deadline = mono_now_ms() + timeout_ms;
    const char *why = NULL;
    for (;;) {
        int64_t left = deadline - mono_now_ms();
        struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            if (left > 0 && errno == EINTR)
                continue;
            why = "did not finish in time";
            break;
        }
        ssize_t n = read(pipefd[0], buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0) {
            why = "read failed";
            break;
        }
        len += (size_t)n;
        if (len >= sizeof buf - 1) {
            why = "wrote too much";
            break;
        }
    }
    close(pipefd[0]);
    int status = 0;
    for (;;) {
        pid_t w = why ? 0 : waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        if (why || mono_now_ms() >= deadline) {
            if (!why)
                why = "did not finish in time";
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        usleep(5000);
    }
    if (!why && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        why = "exited with failure";
    if (!why) {
        size_t n = len;
        if (n && buf[n - 1] == '\n')
            n--;
        if (n != 2 * VAULT_KEY_BYTES)
            why = "did not print 64 hex digits";
        for (size_t i = 0; !why && i < VAULT_KEY_BYTES; i++) {
            int hi = url_hex_value(buf[2 * i]), lo = url_hex_value(buf[2 * i + 1]);
            if (hi < 0 || lo < 0)
                why = "did not print 64 hex digits";
            else
                key[i] = (uint8_t)(hi << 4 | lo);
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (why) {
        OPENSSL_cleanse(key, VAULT_KEY_BYTES);
        snprintf(err, err_len, "key command %s %s", argv[0], why);
        return false;
    }
    return true;
}

/* --- keyring --------------------------------------------------------------------------- */

struct vault *vault_new(const uint8_t master[VAULT_KEY_BYTES])
{
    struct vault *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    key_init(&v->keys[0], master);
    v->count = 1;
    return v;
}

bool vault_add_retired_key(struct vault *v, const uint8_t master[VAULT_KEY_BYTES])
{
    if (v->count >= VAULT_MAX_KEYS)
        return false;
    key_init(&v->keys[v->count++], master);
    return true;
}

void vault_free(struct vault *v)
{
    if (!v)
        return;
    OPENSSL_cleanse(v, sizeof *v);
    free(v);
}

void vault_key_id_hex(const struct vault *v, char out[VAULT_KEY_ID_HEX])
{
    hex(v->keys[0].id, VAULT_KEY_ID_BYTES, out);
}

void vault_derive_key(const struct vault *v, const char *label, uint8_t out[32])
{
    derive(v->keys[0].master, label, out);
}

static const struct vault_key *find_key(const struct vault *v, const uint8_t *id)
{
    for (int i = 0; i < v->count; i++)
        if (memcmp(v->keys[i].id, id, VAULT_KEY_ID_BYTES) == 0)
            return &v->keys[i];
    return NULL;
}

/* AD = "silo-vault-v1\0" header kind "\0" name */
static uint8_t *make_ad(const uint8_t header[HEADER_BYTES], const char *kind, const char *name, size_t *len)
{
    size_t kl = strlen(kind), nl = strlen(name);
    *len = sizeof AD_PREFIX + HEADER_BYTES + kl + 1 + nl;
    uint8_t *ad = malloc(*len);
    if (!ad)
        return NULL;
    uint8_t *p = ad;
    memcpy(p, AD_PREFIX, sizeof AD_PREFIX);
    p += sizeof AD_PREFIX;
    memcpy(p, header, HEADER_BYTES);
    p += HEADER_BYTES;
    memcpy(p, kind, kl + 1);
    p += kl + 1;
    memcpy(p, name, nl);
    return ad;
}

static enum vault_status seal_with(const struct vault_key *k, const char *kind, const char *name, const uint8_t *pt,
                                   size_t n, uint8_t **out, size_t *out_len)
{
    if (n > VAULT_MAX_SECRET || !kind || !name)
        return VAULT_ERROR;
    size_t total = VAULT_OVERHEAD + n;
    uint8_t *blob = malloc(total);
    size_t ad_len;
    uint8_t header[HEADER_BYTES];
    header[0] = VAULT_FORMAT_VERSION;
    memcpy(header + 1, k->id, VAULT_KEY_ID_BYTES);
    uint8_t *ad = make_ad(header, kind, name, &ad_len);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    enum vault_status st = VAULT_ERROR;
    int outl = 0, fin = 0;
    if (!blob || !ad || !c)
        goto done;
    memcpy(blob, header, HEADER_BYTES);
    uint8_t *nonce = blob + HEADER_BYTES, *ct = nonce + NONCE_BYTES;
    if (RAND_bytes(nonce, NONCE_BYTES) != 1)
        goto done;
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, k->aes, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &outl, ad, (int)ad_len) != 1 ||
        (n && EVP_EncryptUpdate(c, ct, &outl, pt, (int)n) != 1) ||
        EVP_EncryptFinal_ex(c, ct + (n ? outl : 0), &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, ct + n) != 1)
        goto done;
    *out = blob;
    *out_len = total;
    blob = NULL;
    st = VAULT_OK;
done:
    EVP_CIPHER_CTX_free(c);
    free(ad);
    free(blob);
    return st;
}

enum vault_status vault_seal(const struct vault *v, const char *kind, const char *name, const uint8_t *pt, size_t n,
                             uint8_t **out, size_t *out_len)
{
    return seal_with(&v->keys[0], kind, name, pt, n, out, out_len);
}

enum vault_status vault_unseal(const struct vault *v, const char *kind, const char *name, const uint8_t *blob,
                               size_t blob_len, char **pt_out, size_t *pt_len)
{
    *pt_out = NULL;
    *pt_len = 0;
    if (blob_len < VAULT_OVERHEAD || blob[0] != VAULT_FORMAT_VERSION)
        return VAULT_MALFORMED;
    if (blob_len - VAULT_OVERHEAD > VAULT_MAX_SECRET)
        return VAULT_MALFORMED;
    const struct vault_key *k = find_key(v, blob + 1);
    if (!k)
        return VAULT_UNKNOWN_KEY;
    size_t n = blob_len - VAULT_OVERHEAD, ad_len;
    const uint8_t *nonce = blob + HEADER_BYTES, *ct = nonce + NONCE_BYTES;
    uint8_t tag[TAG_BYTES];
    memcpy(tag, ct + n, TAG_BYTES);
    uint8_t *ad = make_ad(blob, kind, name, &ad_len);
    char *pt = malloc(n + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    enum vault_status st = VAULT_ERROR;
    int outl = 0, fin = 0;
    if (!ad || !pt || !c)
        goto done;
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, k->aes, nonce) != 1 ||
        EVP_DecryptUpdate(c, NULL, &outl, ad, (int)ad_len) != 1 ||
        (n && EVP_DecryptUpdate(c, (uint8_t *)pt, &outl, ct, (int)n) != 1) ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) != 1)
        goto done;
    if (EVP_DecryptFinal_ex(c, (uint8_t *)pt + (n ? outl : 0), &fin) != 1) {
        st = VAULT_AUTH_FAILED;
        goto done;
    }
    pt[n] = 0;
    *pt_out = pt;
    *pt_len = n;
    pt = NULL;
    st = VAULT_OK;
done:
    EVP_CIPHER_CTX_free(c);
    free(ad);
    if (pt) {
        OPENSSL_cleanse(pt, n + 1);
        free(pt);
    }
    return st;
}

void vault_secret_free(char *pt, size_t len)
{
    if (!pt)
        return;
    OPENSSL_cleanse(pt, len + 1);
    free(pt);
}

/* --- storage --------------------------------------------------------------------------- */

/* A unit of work: its own BEGIN IMMEDIATE outside a transaction, a SAVEPOINT inside one. */
static bool tx_begin(sqlite3 *db, bool *own)
{
    *own = sqlite3_get_autocommit(db) != 0;
    return store_exec_sql(db, *own ? "BEGIN IMMEDIATE" : "SAVEPOINT vault_tx", NULL, 0);
}
static bool tx_end(sqlite3 *db, bool own, bool commit)
{
    if (commit)
        return store_exec_sql(db, own ? "COMMIT" : "RELEASE vault_tx", NULL, 0) ||
               (store_exec_sql(db, own ? "ROLLBACK" : "ROLLBACK TO vault_tx", NULL, 0), false);
    if (own)
        store_exec_sql(db, "ROLLBACK", NULL, 0);
    else
        store_exec_sql(db, "ROLLBACK TO vault_tx; RELEASE vault_tx", NULL, 0);
    return false;
}

bool vault_schema(sqlite3 *db, char *err, size_t err_len)
{
    return store_exec_sql(db,
                    "CREATE TABLE IF NOT EXISTS vault_secrets ("
                    "  kind TEXT NOT NULL,"
                    "  name TEXT NOT NULL,"
                    "  key_id TEXT NOT NULL,"          /* hex; also inside the blob */
                    "  ciphertext BLOB NOT NULL,"
                    "  updated_at INTEGER NOT NULL,"   /* milliseconds since the epoch */
                    "  PRIMARY KEY (kind, name)"
                    ");",
                    err, err_len);
}

bool vault_check(const struct vault *v, sqlite3 *db, char *err, size_t err_len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT key_id FROM vault_secrets", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "sqlite: %s", sqlite3_errmsg(db));
        return false;
    }
    bool ok = true;
    int rc;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        bool known = false;
        for (int i = 0; id && i < v->count; i++) {
            char h[VAULT_KEY_ID_HEX];
            hex(v->keys[i].id, VAULT_KEY_ID_BYTES, h);
            known |= strcmp(h, id) == 0;
        }
        if (!known) {
            char cur[VAULT_KEY_ID_HEX];
            vault_key_id_hex(v, cur);
            snprintf(err, err_len,
                     "the database holds secrets sealed under key id %s, but the configured master key is %s "
                     "(wrong key file or key command?)",
                     id ? id : "?", cur);
            ok = false;
        }
    }
    sqlite3_finalize(st);
    return ok;
}

static enum vault_status put_with(const struct vault_key *k, sqlite3 *db, const char *kind, const char *name,
                                  const uint8_t *pt, size_t len, int64_t now_ms)
{
    uint8_t *blob;
    size_t blob_len;
    enum vault_status s = seal_with(k, kind, name, pt, len, &blob, &blob_len);
    if (s != VAULT_OK)
        return s;
    char id[VAULT_KEY_ID_HEX];
    hex(k->id, VAULT_KEY_ID_BYTES, id);
    sqlite3_stmt *st;
    s = VAULT_ERROR;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO vault_secrets (kind, name, key_id, ciphertext, updated_at) VALUES (?,?,?,?,?) "
                           "ON CONFLICT (kind, name) DO UPDATE SET key_id = excluded.key_id, "
                           "ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, blob, (int)blob_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now_ms);
        if (sqlite3_step(st) == SQLITE_DONE)
            s = VAULT_OK;
        sqlite3_finalize(st);
    }
    free(blob);
    return s;
}

enum vault_status vault_put(const struct vault *v, sqlite3 *db, const char *kind, const char *name, const char *secret,
                            size_t len, int64_t now_ms)
{
    return put_with(&v->keys[0], db, kind, name, (const uint8_t *)secret, len, now_ms);
}

enum vault_status vault_get(const struct vault *v, sqlite3 *db, const char *kind, const char *name, char **out,
                            size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT ciphertext FROM vault_secrets WHERE kind = ? AND name = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return VAULT_ERROR;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    enum vault_status s;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const uint8_t *blob = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        s = blob ? vault_unseal(v, kind, name, blob, (size_t)n, out, out_len) : VAULT_MALFORMED;
    } else {
        s = rc == SQLITE_DONE ? VAULT_NOT_FOUND : VAULT_ERROR;
    }
    sqlite3_finalize(st);
    return s;
}

enum vault_status vault_delete(sqlite3 *db, const char *kind, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM vault_secrets WHERE kind = ? AND name = ?", -1, &st, NULL) != SQLITE_OK)
        return VAULT_ERROR;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    enum vault_status s = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db) ? VAULT_OK : VAULT_NOT_FOUND)
                                                           : VAULT_ERROR;
    sqlite3_finalize(st);
    return s;
}

int vault_delete_prefix(sqlite3 *db, const char *kind, const char *prefix)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM vault_secrets WHERE kind = ? AND substr(name, 1, length(?2)) = ?2", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    int n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db) : -1;
    sqlite3_finalize(st);
    return n;
}

int vault_reencrypt_all(const struct vault *v, sqlite3 *db, char *err, size_t err_len)
{
    char cur[VAULT_KEY_ID_HEX];
    vault_key_id_hex(v, cur);
    bool own;
    if (!tx_begin(db, &own)) {
        snprintf(err, err_len, "cannot begin a transaction: %s", sqlite3_errmsg(db));
        return -1;
    }
    /* one row at a time, each read afresh: never update a table under a running SELECT */
    int count = 0;
    bool ok = true;
    for (;;) {
        sqlite3_stmt *sel;
        if (sqlite3_prepare_v2(db, "SELECT kind, name, ciphertext FROM vault_secrets WHERE key_id <> ? LIMIT 1", -1,
                               &sel, NULL) != SQLITE_OK) {
            snprintf(err, err_len, "sqlite: %s", sqlite3_errmsg(db));
            ok = false;
            break;
        }
        sqlite3_bind_text(sel, 1, cur, -1, SQLITE_STATIC);
        int rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
            if (rc != SQLITE_DONE) {
                snprintf(err, err_len, "sqlite: %s", sqlite3_errmsg(db));
                ok = false;
            }
            sqlite3_finalize(sel);
            break;
        }
        char *kind = strdup((const char *)sqlite3_column_text(sel, 0));
        char *name = strdup((const char *)sqlite3_column_text(sel, 1));
        const uint8_t *blob = sqlite3_column_blob(sel, 2);
        size_t n = (size_t)sqlite3_column_bytes(sel, 2);
        char *pt = NULL;
        size_t pt_len = 0;
        enum vault_status s = !kind || !name ? VAULT_ERROR
                              : blob         ? vault_unseal(v, kind, name, blob, n, &pt, &pt_len)
                                             : VAULT_MALFORMED;
        sqlite3_finalize(sel);
        if (s == VAULT_OK)
            s = put_with(&v->keys[0], db, kind, name, (const uint8_t *)pt, pt_len, (int64_t)time(NULL) * 1000);
        vault_secret_free(pt, pt_len);
        if (s != VAULT_OK) {
            snprintf(err, err_len, "cannot re-encrypt secret %s/%s: %s", kind ? kind : "?", name ? name : "?",
                     vault_status_text(s));
            ok = false;
        } else {
            count++;
        }
        free(kind);
        free(name);
        if (!ok)
            break;
    }
    if (!ok) {
        tx_end(db, own, false);
        return -1;
    }
    if (!tx_end(db, own, true)) {
        snprintf(err, err_len, "cannot commit the re-encryption: %s", sqlite3_errmsg(db));
        return -1;
    }
    return count;
}

/* --- key file life cycle ---------------------------------------------------------------- */

static char *next_path(const char *path)
{
    size_t n = strlen(path) + sizeof ".next";
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s.next", path);
    return p;
}

/* Finishes a rotation whose new key is in next: re-encrypt under it, rename over path. */
static bool finish_rotation(const char *path, const char *next, const uint8_t old_key[VAULT_KEY_BYTES],
                            const uint8_t new_key[VAULT_KEY_BYTES], sqlite3 *db, struct vault **out, char *err,
                            size_t err_len)
{
    struct vault *nv = vault_new(new_key);
    if (!nv || !vault_add_retired_key(nv, old_key)) {
        vault_free(nv);
        snprintf(err, err_len, "out of memory");
        return false;
    }
    if (!vault_check(nv, db, err, err_len) || vault_reencrypt_all(nv, db, err, err_len) < 0) {
        vault_free(nv);
        return false;
    }
    if (rename(next, path) != 0 || !fsync_dir_of(path)) {
        snprintf(err, err_len, "cannot retire the old key (rename %s): %s", next, strerror(errno));
        vault_free(nv);
        return false;
    }
    /* the old key is gone from disk; keep only the new one */
    struct vault *only = vault_new(new_key);
    vault_free(nv);
    if (!only) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    *out = only;
    return true;
}

bool vault_open_key_file(const char *path, sqlite3 *db, struct vault **out, char *err, size_t err_len)
{
    *out = NULL;
    if (!vault_schema(db, err, err_len))
        return false;
    uint8_t key[VAULT_KEY_BYTES], nkey[VAULT_KEY_BYTES];
    if (!vault_key_file_load(path, true, key, err, err_len))
        return false;
    char *next = next_path(path);
    bool ok = false;
    if (!next) {
        snprintf(err, err_len, "out of memory");
    } else if (access(next, F_OK) == 0) {
        /* a rotation was interrupted: finish it */
        if (vault_key_file_load(next, false, nkey, err, err_len)) {
            ok = finish_rotation(path, next, key, nkey, db, out, err, err_len);
            OPENSSL_cleanse(nkey, sizeof nkey);
        }
    } else {
        struct vault *v = vault_new(key);
        if (!v)
            snprintf(err, err_len, "out of memory");
        else if (!vault_check(v, db, err, err_len))
            vault_free(v);
        else
            *out = v, ok = true;
    }
    OPENSSL_cleanse(key, sizeof key);
    free(next);
    return ok;
}

bool vault_rotate_key_file(const char *path, sqlite3 *db, struct vault **v, char *err, size_t err_len)
{
    uint8_t key[VAULT_KEY_BYTES], nkey[VAULT_KEY_BYTES];
    if (!vault_key_file_load(path, false, key, err, err_len))
        return false;
    char *next = next_path(path);
    bool ok = false;
    if (!next) {
        snprintf(err, err_len, "out of memory");
    } else if (vault_key_file_load(next, true, nkey, err, err_len)) {
        struct vault *nv = NULL;
        ok = finish_rotation(path, next, key, nkey, db, &nv, err, err_len);
        if (ok) {
            vault_free(*v);
            *v = nv;
        }
        OPENSSL_cleanse(nkey, sizeof nkey);
    }
    OPENSSL_cleanse(key, sizeof key);
    free(next);
    return ok;
}
