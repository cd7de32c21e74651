/* tests/unit/test_token_vault.c — the token vault (token_vault.c): sealing bound to its row
 * (row swap, kind swap), tampering of every byte, wrong and unknown keys, the vault_secrets
 * table on a real database file (nothing in clear in the file, reopening), key files (created
 * 0600, refused when too open, the wrong size, a symlink, a directory), key commands (hex
 * output, failure, time-out, too much output, no shell), rotation under a key file including
 * both crash points, and a wrong key refused at open. */
#include "frontend/token_vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"

static char dir[64];

static void setup_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/silo-vault-XXXXXX");
    if (!mkdtemp(dir))
        abort();
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        abort();
    char err[256];
    if (!vault_schema(db, err, sizeof err))
        abort();
    return db;
}

static const uint8_t K1[32] = { 0x11, 0x22, 0x33 };
static const uint8_t K2[32] = { 0x44, 0x55, 0x66 };

static void test_seal_binding(void)
{
    struct vault *v = vault_new(K1);
    uint8_t *blob;
    size_t n;
    CHECK_EQ(vault_seal(v, "oauth2-client-secret", "github", (const uint8_t *)"s3cret", 6, &blob, &n), VAULT_OK);
    CHECK_EQ(n, VAULT_OVERHEAD + 6);
    CHECK_EQ(blob[0], VAULT_FORMAT_VERSION);
    CHECK(memmem(blob, n, "s3cret", 6) == NULL);
    char *pt;
    size_t pl;
    CHECK_EQ(vault_unseal(v, "oauth2-client-secret", "github", blob, n, &pt, &pl), VAULT_OK);
    CHECK(pt && pl == 6 && strcmp(pt, "s3cret") == 0);
    vault_secret_free(pt, pl);
    /* another row: name, kind, or the boundary between them moved */
    CHECK_EQ(vault_unseal(v, "oauth2-client-secret", "google", blob, n, &pt, &pl), VAULT_AUTH_FAILED);
    CHECK(pt == NULL);
    CHECK_EQ(vault_unseal(v, "api-key", "github", blob, n, &pt, &pl), VAULT_AUTH_FAILED);
    CHECK_EQ(vault_unseal(v, "oauth2-client-secretg", "ithub", blob, n, &pt, &pl), VAULT_AUTH_FAILED);
    /* every byte flipped */
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        blob[i] ^= 0x01;
        enum vault_status s = vault_unseal(v, "oauth2-client-secret", "github", blob, n, &pt, &pl);
        failed += s != VAULT_OK;
        if (i == 0)
            CHECK_EQ(s, VAULT_MALFORMED);
        else if (i <= VAULT_KEY_ID_BYTES)
            CHECK_EQ(s, VAULT_UNKNOWN_KEY);
        else
            CHECK_EQ(s, VAULT_AUTH_FAILED);
        blob[i] ^= 0x01;
    }
    CHECK_EQ(failed, (int)n);
    /* truncated */
    for (size_t cut = 0; cut < n; cut++) {
        enum vault_status s = vault_unseal(v, "oauth2-client-secret", "github", blob, cut, &pt, &pl);
        CHECK(s == VAULT_MALFORMED || s == VAULT_AUTH_FAILED);
    }
    /* wrong key: its id is not ours */
    struct vault *w = vault_new(K2);
    CHECK_EQ(vault_unseal(w, "oauth2-client-secret", "github", blob, n, &pt, &pl), VAULT_UNKNOWN_KEY);
    /* a forged header naming w's key id still fails (GCM under w's key) */
    uint8_t *wblob;
    size_t wn;
    CHECK_EQ(vault_seal(w, "x", "y", (const uint8_t *)"", 0, &wblob, &wn), VAULT_OK);
    memcpy(blob + 1, wblob + 1, VAULT_KEY_ID_BYTES);
    CHECK_EQ(vault_unseal(w, "oauth2-client-secret", "github", blob, n, &pt, &pl), VAULT_AUTH_FAILED);
    /* empty secret round trip */
    CHECK_EQ(vault_unseal(w, "x", "y", wblob, wn, &pt, &pl), VAULT_OK);
    CHECK(pl == 0 && pt && pt[0] == 0);
    vault_secret_free(pt, pl);
    /* two seals of one value differ (random nonce) */
    uint8_t *b2;
    size_t n2;
    CHECK_EQ(vault_seal(v, "k", "n", (const uint8_t *)"same", 4, &b2, &n2), VAULT_OK);
    uint8_t *b3;
    size_t n3;
    CHECK_EQ(vault_seal(v, "k", "n", (const uint8_t *)"same", 4, &b3, &n3), VAULT_OK);
    CHECK(n2 == n3 && memcmp(b2, b3, n2) != 0);
    /* key ids and derived keys */
    char id1[VAULT_KEY_ID_HEX], id2[VAULT_KEY_ID_HEX];
    vault_key_id_hex(v, id1);
    vault_key_id_hex(w, id2);
    CHECK_EQ(strlen(id1), 16);
    CHECK(strcmp(id1, id2) != 0);
    uint8_t d1[32], d2[32], d3[32];
    vault_derive_key(v, "a", d1);
    vault_derive_key(v, "b", d2);
    vault_derive_key(w, "a", d3);
    CHECK(memcmp(d1, d2, 32) != 0 && memcmp(d1, d3, 32) != 0);
    CHECK(memcmp(d1, K1, 32) != 0);
    /* too big */
    static uint8_t big[VAULT_MAX_SECRET + 1];
    uint8_t *none = NULL;
    size_t none_len = 0;
    CHECK_EQ(vault_seal(v, "k", "n", big, sizeof big, &none, &none_len), VAULT_ERROR);
    CHECK(none == NULL);
    free(wblob);
    free(b2);
    free(b3);
    free(blob);
    vault_free(v);
    vault_free(w);
    for (int s = VAULT_OK; s <= VAULT_ERROR; s++)
        CHECK(strcmp(vault_status_text((enum vault_status)s), "?") != 0);
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

static void test_table(void)
{
    char dbp[128];
    path_in(dbp, sizeof dbp, "table.db");
    sqlite3 *db = open_db(dbp);
    struct vault *v = vault_new(K1);
    const char *secret = "ghp_ThisIsAVerySecretToken0123456789";
    CHECK_EQ(vault_put(v, db, "api-key", "github", secret, strlen(secret), 1), VAULT_OK);
    CHECK_EQ(vault_put(v, db, "api-key", "other", "x", 1, 1), VAULT_OK);
    char *out;
    size_t n;
    CHECK_EQ(vault_get(v, db, "api-key", "github", &out, &n), VAULT_OK);
    CHECK(out && strcmp(out, secret) == 0);
    vault_secret_free(out, n);
    CHECK_EQ(vault_get(v, db, "api-key", "nope", &out, &n), VAULT_NOT_FOUND);
    /* replace */
    CHECK_EQ(vault_put(v, db, "api-key", "other", "y2", 2, 2), VAULT_OK);
    CHECK_EQ(vault_get(v, db, "api-key", "other", &out, &n), VAULT_OK);
    CHECK(out && strcmp(out, "y2") == 0);
    vault_secret_free(out, n);
    /* row swap inside the database: copy github's ciphertext onto other */
    CHECK_EQ(sqlite3_exec(db,
                          "UPDATE vault_secrets SET ciphertext = (SELECT ciphertext FROM vault_secrets "
                          "WHERE name = 'github') WHERE name = 'other'",
                          NULL, NULL, NULL),
             SQLITE_OK);
    CHECK_EQ(vault_get(v, db, "api-key", "other", &out, &n), VAULT_AUTH_FAILED);
    CHECK(out == NULL);
    /* a tampered byte in the stored blob */
    CHECK_EQ(sqlite3_exec(db,
                          "UPDATE vault_secrets SET ciphertext = substr(ciphertext, 1, 30) || x'00' || "
                          "substr(ciphertext, 32) WHERE name = 'github'",
                          NULL, NULL, NULL),
             SQLITE_OK);
    CHECK_EQ(vault_get(v, db, "api-key", "github", &out, &n), VAULT_AUTH_FAILED);
    CHECK_EQ(vault_delete(db, "api-key", "github"), VAULT_OK);
    CHECK_EQ(vault_delete(db, "api-key", "github"), VAULT_NOT_FOUND);
    CHECK_EQ(vault_put(v, db, "user-access", "t1/a", "1", 1, 1), VAULT_OK);
    CHECK_EQ(vault_put(v, db, "user-access", "t1/b", "2", 1, 1), VAULT_OK);
    CHECK_EQ(vault_put(v, db, "user-access", "t2/a", "3", 1, 1), VAULT_OK);
    CHECK_EQ(vault_delete_prefix(db, "user-access", "t1/"), 2);
    CHECK_EQ(vault_get(v, db, "user-access", "t2/a", &out, &n), VAULT_OK);
    vault_secret_free(out, n);
    /* persisted, and never in clear in the file (WAL checkpointed by close) */
    CHECK_EQ(vault_put(v, db, "api-key", "persist", secret, strlen(secret), 3), VAULT_OK);
    sqlite3_close(db);
    CHECK(!file_contains(dbp, secret));
    CHECK(!file_contains(dbp, "ghp_"));
    db = open_db(dbp);
    CHECK_EQ(vault_get(v, db, "api-key", "persist", &out, &n), VAULT_OK);
    CHECK(out && strcmp(out, secret) == 0);
    vault_secret_free(out, n);
    /* inside a caller's transaction: joins it, and a rollback undoes it */
    CHECK_EQ(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(vault_put(v, db, "api-key", "tx", "t", 1, 4), VAULT_OK);
    CHECK_EQ(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(vault_get(v, db, "api-key", "tx", &out, &n), VAULT_NOT_FOUND);
    /* the wrong key is refused as a whole at check time */
    struct vault *w = vault_new(K2);
    char err[256];
    CHECK(vault_check(v, db, err, sizeof err));
    CHECK(!vault_check(w, db, err, sizeof err));
    CHECK(strstr(err, "key id") != NULL);
    CHECK(strstr(err, secret) == NULL);
    CHECK_EQ(vault_get(w, db, "api-key", "persist", &out, &n), VAULT_UNKNOWN_KEY);
    sqlite3_close(db);
    vault_free(v);
    vault_free(w);
}

static void test_key_file(void)
{
    char p[128], err[256];
    uint8_t k[32], k2[32];
    path_in(p, sizeof p, "master.key");
    mode_t old = umask(0);   /* even with a permissive umask the file is 0600 */
    CHECK(vault_key_file_load(p, true, k, err, sizeof err));
    umask(old);
    struct stat st;
    CHECK_EQ(stat(p, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(st.st_size, 32);
    CHECK(vault_key_file_load(p, false, k2, err, sizeof err));
    CHECK(memcmp(k, k2, 32) == 0);
    CHECK(vault_key_file_load(p, true, k2, err, sizeof err));   /* existing: read, not replaced */
    CHECK(memcmp(k, k2, 32) == 0);
    /* too open */
    chmod(p, 0640);
    CHECK(!vault_key_file_load(p, false, k2, err, sizeof err));
    CHECK(strstr(err, "0600") != NULL);
    chmod(p, 0604);
    CHECK(!vault_key_file_load(p, true, k2, err, sizeof err));
    chmod(p, 0400);
    CHECK(vault_key_file_load(p, false, k2, err, sizeof err));
    chmod(p, 0600);
    /* missing, without create */
    char q[128];
    path_in(q, sizeof q, "absent.key");
    CHECK(!vault_key_file_load(q, false, k2, err, sizeof err));
    CHECK(access(q, F_OK) != 0);
    /* wrong size */
    path_in(q, sizeof q, "short.key");
    int fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(write(fd, "0123456789", 10) == 10);
    close(fd);
    CHECK(!vault_key_file_load(q, true, k2, err, sizeof err));
    CHECK(strstr(err, "32 bytes") != NULL);
    path_in(q, sizeof q, "long.key");
    fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0600);
    static const char l[33] = "0123456789012345678901234567890";
    CHECK(write(fd, l, 33) == 33);
    close(fd);
    CHECK(!vault_key_file_load(q, true, k2, err, sizeof err));
    /* a symlink to a good key, and a directory */
    path_in(q, sizeof q, "link.key");
    CHECK_EQ(symlink(p, q), 0);
    CHECK(!vault_key_file_load(q, true, k2, err, sizeof err));
    CHECK(strstr(err, "symbolic link") != NULL);
    path_in(q, sizeof q, "dir.key");
    CHECK_EQ(mkdir(q, 0700), 0);
    CHECK(!vault_key_file_load(q, true, k2, err, sizeof err));
    /* a directory that does not exist */
    CHECK(!vault_key_file_load("/nonexistent-silo-dir/master.key", true, k2, err, sizeof err));
}

static void test_key_command(void)
{
    uint8_t k[32];
    char err[256];
    const char *ok[] = { "/bin/echo", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1F", NULL };
    CHECK(vault_key_command_run(ok, 0, k, err, sizeof err));
    CHECK(k[0] == 0 && k[1] == 1 && k[15] == 15 && k[31] == 0x1f);
    const char *no_newline[] = { "/bin/printf", "%s", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", NULL };
    CHECK(vault_key_command_run(no_newline, 0, k, err, sizeof err));
    CHECK(k[0] == 0xff && k[31] == 0xff);
    const char *short_out[] = { "/bin/echo", "0011", NULL };
    CHECK(!vault_key_command_run(short_out, 0, k, err, sizeof err));
    CHECK(strstr(err, "64 hex") != NULL);
    CHECK(strstr(err, "0011") == NULL);   /* output never echoed */
    const char *not_hex[] = { "/bin/echo", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", NULL };
    CHECK(!vault_key_command_run(not_hex, 0, k, err, sizeof err));
    const char *fails[] = { "/bin/false", NULL };
    CHECK(!vault_key_command_run(fails, 0, k, err, sizeof err));
    CHECK(strstr(err, "failure") != NULL);
    const char *hangs[] = { "/bin/sleep", "10", NULL };
    CHECK(!vault_key_command_run(hangs, 200, k, err, sizeof err));
    CHECK(strstr(err, "in time") != NULL);
    const char *chatty[] = { "/usr/bin/yes", NULL };
    CHECK(!vault_key_command_run(chatty, 2000, k, err, sizeof err));
    CHECK(strstr(err, "too much") != NULL);
    const char *relative[] = { "echo", "00", NULL };
    CHECK(!vault_key_command_run(relative, 0, k, err, sizeof err));
    /* no shell: a shell metacharacter is just an argument */
    const char *meta[] = { "/bin/echo", "$(id)", NULL };
    CHECK(!vault_key_command_run(meta, 0, k, err, sizeof err));
    const char *missing[] = { "/nonexistent/keycmd", NULL };
    CHECK(!vault_key_command_run(missing, 0, k, err, sizeof err));
}

static int count_key_ids(sqlite3 *db)
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT COUNT(DISTINCT key_id) FROM vault_secrets", -1, &st, NULL);
    sqlite3_step(st);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void put_many(struct vault *v, sqlite3 *db, int n)
{
    for (int i = 0; i < n; i++) {
        char name[32], val[32];
        snprintf(name, sizeof name, "n%d", i);
        snprintf(val, sizeof val, "secret-%d", i);
        CHECK_EQ(vault_put(v, db, "api-key", name, val, strlen(val), 1), VAULT_OK);
    }
}

static int all_readable(struct vault *v, sqlite3 *db, int n)
{
    int good = 0;
    for (int i = 0; i < n; i++) {
        char name[32], val[32], *out;
        size_t len;
        snprintf(name, sizeof name, "n%d", i);
        snprintf(val, sizeof val, "secret-%d", i);
        if (vault_get(v, db, "api-key", name, &out, &len) == VAULT_OK && strcmp(out, val) == 0)
            good++;
        vault_secret_free(out, len);
    }
    return good;
}

static void test_rotation(void)
{
    char kp[128], dbp[128], next[160], err[256];
    path_in(kp, sizeof kp, "rot.key");
    path_in(dbp, sizeof dbp, "rot.db");
    snprintf(next, sizeof next, "%s.next", kp);
    sqlite3 *db = open_db(dbp);
    struct vault *v = NULL;
    CHECK(vault_open_key_file(kp, db, &v, err, sizeof err));
    if (!v)
        return;
    put_many(v, db, 20);
    char id_before[VAULT_KEY_ID_HEX], id_after[VAULT_KEY_ID_HEX];
    vault_key_id_hex(v, id_before);
    uint8_t old_key[32];
    CHECK(vault_key_file_load(kp, false, old_key, err, sizeof err));

    CHECK(vault_rotate_key_file(kp, db, &v, err, sizeof err));
    vault_key_id_hex(v, id_after);
    CHECK(strcmp(id_before, id_after) != 0);
    CHECK(access(next, F_OK) != 0);
    CHECK_EQ(count_key_ids(db), 1);
    CHECK_EQ(all_readable(v, db, 20), 20);
    /* the old key is retired: it opens nothing any more */
    struct vault *old = vault_new(old_key);
    CHECK_EQ(all_readable(old, db, 20), 0);
    CHECK(!vault_check(old, db, err, sizeof err));
    struct stat st;
    CHECK_EQ(stat(kp, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    /* reopening with the rotated file */
    struct vault *v2 = NULL;
    CHECK(vault_open_key_file(kp, db, &v2, err, sizeof err));
    CHECK(v2 && all_readable(v2, db, 20) == 20);
    vault_free(v2);

    /* crash point 1: PATH.next written, nothing re-encrypted yet */
    uint8_t cur[32], nk[32];
    CHECK(vault_key_file_load(kp, false, cur, err, sizeof err));
    CHECK(vault_key_file_load(next, true, nk, err, sizeof err));
    v2 = NULL;
    CHECK(vault_open_key_file(kp, db, &v2, err, sizeof err));
    CHECK(access(next, F_OK) != 0);
    CHECK(v2 && all_readable(v2, db, 20) == 20);
    uint8_t now_key[32];
    CHECK(vault_key_file_load(kp, false, now_key, err, sizeof err));
    CHECK(memcmp(now_key, nk, 32) == 0);
    vault_free(v2);

    /* crash point 2: rows re-encrypted and committed, the rename not done */
    CHECK(vault_key_file_load(next, true, nk, err, sizeof err));
    struct vault *mid = vault_new(nk);
    vault_add_retired_key(mid, now_key);
    CHECK_EQ(vault_reencrypt_all(mid, db, err, sizeof err), 20);
    CHECK_EQ(vault_reencrypt_all(mid, db, err, sizeof err), 0);   /* idempotent */
    vault_free(mid);
    v2 = NULL;
    CHECK(vault_open_key_file(kp, db, &v2, err, sizeof err));
    CHECK(access(next, F_OK) != 0);
    CHECK(v2 && all_readable(v2, db, 20) == 20);
    vault_free(v2);

    /* a row that cannot be opened stops the rotation: nothing changes */
    struct vault *stranger = vault_new(K2);
    CHECK_EQ(vault_put(stranger, db, "api-key", "foreign", "f", 1, 1), VAULT_OK);
    vault_free(stranger);
    char id_now[VAULT_KEY_ID_HEX];
    vault_key_id_hex(v, id_now);
    struct vault *v3 = NULL;
    CHECK(!vault_open_key_file(kp, db, &v3, err, sizeof err));   /* wrong key for that row */
    CHECK(strstr(err, "key id") != NULL);
    CHECK(v3 == NULL);
    uint8_t before_rot[32];
    CHECK(vault_key_file_load(kp, false, before_rot, err, sizeof err));
    vault_free(v);
    v = NULL;
    struct vault *vr = vault_new(before_rot);
    CHECK(!vault_rotate_key_file(kp, db, &vr, err, sizeof err));
    CHECK(vr != NULL);
    CHECK_EQ(all_readable(vr, db, 20), 20);   /* still the old key, all rows intact */
    vault_free(vr);
    vault_free(old);
    sqlite3_close(db);
}

static void test_key_command_rotation(void)
{
    /* key command mode: previous key retired, reencrypt_all at start */
    char dbp[128], err[256];
    path_in(dbp, sizeof dbp, "cmd.db");
    sqlite3 *db = open_db(dbp);
    struct vault *v = vault_new(K1);
    put_many(v, db, 5);
    vault_free(v);
    v = vault_new(K2);
    CHECK(!vault_check(v, db, err, sizeof err));
    CHECK(vault_add_retired_key(v, K1));
    CHECK(vault_check(v, db, err, sizeof err));
    CHECK_EQ(all_readable(v, db, 5), 5);
    CHECK_EQ(vault_reencrypt_all(v, db, err, sizeof err), 5);
    vault_free(v);
    v = vault_new(K2);
    CHECK(vault_check(v, db, err, sizeof err));
    CHECK_EQ(all_readable(v, db, 5), 5);
    CHECK(vault_add_retired_key(v, K1) && vault_add_retired_key(v, K1) && vault_add_retired_key(v, K1));
    CHECK(!vault_add_retired_key(v, K1));
    vault_free(v);
    sqlite3_close(db);
}

int main(void)
{
    setup_dir();
    static const struct unit_test tests[] = {
        { "a sealed secret opens only for its own row, key and unmodified bytes", test_seal_binding },
        { "vault_secrets: round trip, row swap and tampering refused, nothing in clear on disk", test_table },
        { "key file: created 0600 with O_EXCL, refused when too open, mis-sized, a link or a directory", test_key_file },
        { "key command: hex on stdout, no shell, bounded time and output", test_key_command },
        { "rotation under a key file re-encrypts everything, retires the old key, survives both crash points",
          test_rotation },
        { "key command rotation: the previous key retired, then re-encrypted at start", test_key_command_rotation },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
