/* frontend/workload_token.c — sealed workload access tokens (see workload_token.h). */
#include "frontend/workload_token.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "frontend/b64url.h"

#define PREFIX "swat1."
#define PREFIX_LEN (sizeof PREFIX - 1)
#define NONCE 12
#define TAG 16
#define FIXED (1 + 1 + 8 + 8 + 1 + 2)                    /* plaintext without the strings */
#define MAX_PT (FIXED + WAT_MAX_WORKLOAD + WAT_MAX_USER_ID)
#define MAX_RAW (NONCE + MAX_PT + TAG)
static const char AD[] = "silo-wat-v1";

const char *wat_status_text(enum wat_status st)
{
    switch (st) {
    case WAT_OK: return "ok";
    case WAT_MALFORMED: return "malformed workload access token";
    case WAT_BAD_SEAL: return "workload access token failed verification (tampered, truncated or foreign)";
    case WAT_EXPIRED: return "workload access token expired";
    case WAT_NOT_YET_VALID: return "workload access token issued in the future";
    case WAT_WRONG_WORKLOAD: return "workload access token is for another workload";
    case WAT_WRONG_USER: return "workload access token is for another user";
    case WAT_INVALID_ARGUMENT: return "invalid workload token request";
    }
    return "?";
}

static void put64(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        p[i] = (uint8_t)((uint64_t)v & 0xff);
}
static int64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

enum wat_status wat_mint(const uint8_t key[WAT_KEY_BYTES], const char *workload, enum wat_user_kind kind,
                         const char *user_id, int64_t now_s, int ttl_s, char *out, size_t cap)
{
    if (!user_id)
        user_id = "";
    size_t wl = workload ? strlen(workload) : 0, ul = strlen(user_id);
    if (wl == 0 || wl > WAT_MAX_WORKLOAD || ul > WAT_MAX_USER_ID || ttl_s <= 0 || ttl_s > WAT_MAX_TTL_S)
        return WAT_INVALID_ARGUMENT;
    if (kind == WAT_USER_NONE ? ul != 0 : (kind != WAT_USER_JWT && kind != WAT_USER_ID) || ul == 0)
        return WAT_INVALID_ARGUMENT;
    uint8_t pt[MAX_PT], raw[MAX_RAW];
    size_t n = 0;
    pt[n++] = 1;
    pt[n++] = (uint8_t)kind;
    put64(pt + n, now_s);
    n += 8;
    put64(pt + n, now_s + ttl_s);
    n += 8;
    pt[n++] = (uint8_t)wl;
    memcpy(pt + n, workload, wl);
    n += wl;
    pt[n++] = (uint8_t)(ul >> 8);
    pt[n++] = (uint8_t)ul;
    memcpy(pt + n, user_id, ul);
    n += ul;

    enum wat_status st = WAT_INVALID_ARGUMENT;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, fin = 0;
    if (!c || RAND_bytes(raw, NONCE) != 1 || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, key, raw) != 1 ||
        EVP_EncryptUpdate(c, NULL, &outl, (const uint8_t *)AD, (int)sizeof AD - 1) != 1 ||
        EVP_EncryptUpdate(c, raw + NONCE, &outl, pt, (int)n) != 1 ||
        EVP_EncryptFinal_ex(c, raw + NONCE + outl, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, raw + NONCE + n) != 1)
        goto done;
    if (cap < PREFIX_LEN + 1)
        goto done;
    memcpy(out, PREFIX, PREFIX_LEN);
    if (b64url_encode(raw, NONCE + n + TAG, out + PREFIX_LEN, cap - PREFIX_LEN) < 0)
        goto done;
    st = WAT_OK;
done:
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(pt, sizeof pt);
    return st;
}

enum wat_status wat_verify(const uint8_t key[WAT_KEY_BYTES], const char *token, int64_t now_s,
                           struct wat_claims *claims)
{
    if (!token)
        return WAT_MALFORMED;
    size_t len = strnlen(token, WAT_MAX_TOKEN + 1);
    if (len > WAT_MAX_TOKEN || len <= PREFIX_LEN || memcmp(token, PREFIX, PREFIX_LEN) != 0)
        return WAT_MALFORMED;
    uint8_t raw[MAX_RAW], pt[MAX_PT];
    ssize_t rn = b64url_decode(token + PREFIX_LEN, len - PREFIX_LEN, raw, sizeof raw);
    if (rn < 0)
        return WAT_MALFORMED;
    if ((size_t)rn < NONCE + TAG + 1)
        return WAT_BAD_SEAL;   /* cut short: cannot carry a tag */
    size_t n = (size_t)rn - NONCE - TAG;
    enum wat_status st = WAT_BAD_SEAL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, fin = 0;
    if (!c || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, key, raw) != 1 ||
        EVP_DecryptUpdate(c, NULL, &outl, (const uint8_t *)AD, (int)sizeof AD - 1) != 1 ||
        EVP_DecryptUpdate(c, pt, &outl, raw + NONCE, (int)n) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, raw + NONCE + n) != 1 ||
        EVP_DecryptFinal_ex(c, pt + outl, &fin) != 1)
        goto done;
    /* authentic: parse strictly anyway (a bug of ours must not become a confusion) */
    st = WAT_MALFORMED;
    if (n < FIXED || pt[0] != 1 || pt[1] > WAT_USER_ID)
        goto done;
    size_t wl = pt[18];
    if (wl == 0 || n < FIXED + wl)
        goto done;
    size_t ul = (size_t)pt[19 + wl] << 8 | pt[20 + wl];
    if (ul > WAT_MAX_USER_ID || n != FIXED + wl + ul)
        goto done;
    int64_t iat = get64(pt + 2), exp = get64(pt + 10);
    if (now_s >= exp) {
        st = WAT_EXPIRED;
        goto done;
    }
    if (iat > now_s + WAT_CLOCK_SKEW_S) {
        st = WAT_NOT_YET_VALID;
        goto done;
    }
    if (claims) {
        claims->user_kind = (enum wat_user_kind)pt[1];
        memcpy(claims->workload, pt + 19, wl);
        claims->workload[wl] = 0;
        memcpy(claims->user_id, pt + 21 + wl, ul);
        claims->user_id[ul] = 0;
        claims->issued_at = iat;
        claims->expires_at = exp;
    }
    st = WAT_OK;
done:
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(pt, sizeof pt);
    return st;
}

static bool same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

enum wat_status wat_verify_for(const uint8_t key[WAT_KEY_BYTES], const char *token, int64_t now_s,
                               const char *workload, enum wat_user_kind kind, const char *user_id)
{
    struct wat_claims c;
    enum wat_status st = wat_verify(key, token, now_s, &c);
    if (st != WAT_OK)
        return st;
    if (!workload || !same(c.workload, workload))
        return WAT_WRONG_WORKLOAD;
    if (c.user_kind != kind || !same(c.user_id, user_id ? user_id : ""))
        return WAT_WRONG_USER;
    return WAT_OK;
}
