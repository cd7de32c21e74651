/* frontend/jwt.c — JWT verification, OIDC discovery and the JWKS cache (see jwt.h). */
#include "frontend/jwt.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "frontend/b64url.h"

#define JWT_MAX_DOCUMENT_BYTES (1024 * 1024)
#define JWT_MAX_KEYS 64

const char *jwt_result_name(enum jwt_result r)
{
    switch (r) {
    case JWT_OK: return "ok";
    case JWT_MALFORMED: return "malformed token";
    case JWT_BAD_ALGORITHM: return "algorithm not allowed";
    case JWT_DISCOVERY_FAILED: return "identity provider unavailable";
    case JWT_UNKNOWN_KEY: return "unknown signing key";
    case JWT_BAD_SIGNATURE: return "bad signature";
    case JWT_EXPIRED: return "token expired";
    case JWT_NOT_YET_VALID: return "token not yet valid";
    case JWT_BAD_ISSUER: return "wrong issuer";
    case JWT_BAD_AUDIENCE: return "audience not allowed";
    case JWT_BAD_CLIENT: return "client not allowed";
    case JWT_BAD_SCOPE: return "scope not allowed";
    case JWT_BAD_CLAIM: return "custom claim not allowed";
    }
    return "?";
}

/* ---------------------------------------------------------------- base64url */

/* Strict unpadded base64url through the one decoder (b64url.h), appended to out. */
bool jwt_base64url_decode(const char *in, size_t len, struct strbuf *out)
{
    size_t cap = len / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return false;
    ssize_t n = b64url_decode(in, len, buf, cap);
    if (n > 0)
        strbuf_append(out, buf, (size_t)n);
    free(buf);
    return n >= 0;
}

/* ---------------------------------------------------------------- keys */

enum jwt_alg { ALG_RS256, ALG_PS256, ALG_ES256, ALG_OTHER };

static enum jwt_alg alg_from_name(const char *s)
{
    if (!s) return ALG_OTHER;
    if (strcmp(s, "RS256") == 0) return ALG_RS256;
    if (strcmp(s, "PS256") == 0) return ALG_PS256;
    if (strcmp(s, "ES256") == 0) return ALG_ES256;
    return ALG_OTHER;
}

struct jwk {
    char *kid;            /* may be NULL */
    bool is_rsa;          /* else EC P-256 */
    char *alg;            /* may be NULL */
    EVP_PKEY *pkey;
};

struct provider {
    char *discovery_url;
    char *issuer;
    char *jwks_uri;
    struct jwk keys[JWT_MAX_KEYS];
    size_t key_count;
    time_t fetched_at;     /* 0: never fetched successfully */
    time_t last_attempt;
    /* per provider, so one slow or dead identity provider never holds up another's tokens */
    pthread_mutex_t lock;
    pthread_cond_t refreshed;
    bool refreshing;       /* a fetch runs (without the lock); others use the cached keys */
    unsigned failures;     /* fetches failed in a row */
    time_t retry_at;       /* back-off: no fetch before this */
    struct provider *next;
};

struct jwt_keystore {
    jwt_fetch_fn fetch;
    void *fetch_ctx;
    pthread_mutex_t lock;
    struct provider *providers;
};

static bool decode_member(json_object *o, const char *name, struct strbuf *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    return jwt_base64url_decode(s, strlen(s), out) && out->len > 0;
}

/* The text of a JSON string, or NULL for any other type and for a string with an embedded
 * NUL ("a\u0000b" must never compare equal to "a"). */
static const char *plain_string(json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static const char *string_member(json_object *o, const char *name)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v))
        return NULL;
    return plain_string(v);
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(json_object *k)
{
    struct strbuf n = { 0 }, e = { 0 };
    EVP_PKEY *pkey = NULL;
    if (decode_member(k, "n", &n) && decode_member(k, "e", &e) && n.len >= 256 && n.len <= 1024 &&
        e.len <= 8) {
        BIGNUM *bn_n = BN_bin2bn((const unsigned char *)n.data, (int)n.len, NULL);
        BIGNUM *bn_e = BN_bin2bn((const unsigned char *)e.data, (int)e.len, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
            pkey = pkey_from_params("RSA", bld);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn_n);
        BN_free(bn_e);
    }
    strbuf_free(&n);
    strbuf_free(&e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(json_object *k)
{
    const char *crv = string_member(k, "crv");
    if (!crv || strcmp(crv, "P-256") != 0)
        return NULL;
    struct strbuf x = { 0 }, y = { 0 };
    EVP_PKEY *pkey = NULL;
    if (decode_member(k, "x", &x) && decode_member(k, "y", &y) && x.len == 32 && y.len == 32) {
        unsigned char point[65];
        point[0] = 4;
        memcpy(point + 1, x.data, 32);
        memcpy(point + 33, y.data, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
            pkey = pkey_from_params("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    strbuf_free(&x);
    strbuf_free(&y);
    return pkey;
}

static void clear_keys(struct provider *p)
{
    for (size_t i = 0; i < p->key_count; i++) {
        free(p->keys[i].kid);
        free(p->keys[i].alg);
        EVP_PKEY_free(p->keys[i].pkey);
    }
    p->key_count = 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Parses a JWKS document; keys of other types or curves are skipped. */
static bool load_jwks(struct provider *p, const char *doc)
{
    json_object *root = json_tokener_parse(doc);
    json_object *keys;
    if (!root || !json_object_object_get_ex(root, "keys", &keys) ||
        !json_object_is_type(keys, json_type_array)) {
        json_object_put(root);
        return false;
    }
    clear_keys(p);
    size_t n = json_object_array_length(keys);
    for (size_t i = 0; i < n && p->key_count < JWT_MAX_KEYS; i++) {
        json_object *k = json_object_array_get_idx(keys, i);
        const char *kty = string_member(k, "kty"), *use = string_member(k, "use");
        if (!kty || (use && strcmp(use, "sig") != 0))
            continue;
        EVP_PKEY *pkey = NULL;
        bool rsa = strcmp(kty, "RSA") == 0;
        if (rsa)
            pkey = rsa_from_jwk(k);
        else if (strcmp(kty, "EC") == 0)
            pkey = ec_from_jwk(k);
        if (!pkey)
            continue;
        struct jwk *j = &p->keys[p->key_count++];
        j->kid = dup_or_null(string_member(k, "kid"));
        j->alg = dup_or_null(string_member(k, "alg"));
        j->is_rsa = rsa;
        j->pkey = pkey;
    }
    json_object_put(root);
    return true;
}

/* Fetches discovery (first time) and the JWKS. Called with the keystore lock held. */
static bool refresh_provider(struct jwt_keystore *ks, struct provider *p, time_t now)
{
    p->last_attempt = now;
    struct strbuf doc = { 0 };
    if (!p->issuer) {
        if (ks->fetch(ks->fetch_ctx, p->discovery_url, &doc) != 0) {
            strbuf_free(&doc);
            return false;
        }
        json_object *d = json_tokener_parse(strbuf_str(&doc));
        const char *iss = d ? string_member(d, "issuer") : NULL;
        const char *jwks = d ? string_member(d, "jwks_uri") : NULL;
        if (iss && jwks && *iss && *jwks) {
            p->issuer = strdup(iss);
            p->jwks_uri = strdup(jwks);
        }
        json_object_put(d);
        strbuf_free(&doc);
        if (!p->issuer)
            return false;
    }
    bool ok = ks->fetch(ks->fetch_ctx, p->jwks_uri, &doc) == 0 && load_jwks(p, strbuf_str(&doc));
    strbuf_free(&doc);
    if (ok)
        p->fetched_at = now;
    return ok;
}

/* Brings p's keys up to date, called with p->lock held (returned held). The fetch runs WITHOUT
 * the lock, on a private copy, so tokens of this provider are verified meanwhile with the keys
 * it had (stale-while-revalidate); the new keys replace them only when the fetch succeeded.
 * Failures back off (5 s, doubling, at most JWT_BACKOFF_MAX_SECONDS); a provider with no keys
 * yet waits for a fetch already under way instead of starting another. */
static void refresh_locked(struct jwt_keystore *ks, struct provider *p, time_t now)
{
    if (p->refreshing) {
        while (p->refreshing && !p->fetched_at)
            pthread_cond_wait(&p->refreshed, &p->lock);
        return;
    }
    if (now < p->retry_at)
        return;
    p->refreshing = true;
    p->last_attempt = now;
    struct provider fresh = { .discovery_url = p->discovery_url, .issuer = dup_or_null(p->issuer),
                              .jwks_uri = dup_or_null(p->jwks_uri) };
    pthread_mutex_unlock(&p->lock);
    bool ok = refresh_provider(ks, &fresh, now);
    pthread_mutex_lock(&p->lock);
    if (ok) {
        clear_keys(p);
        memcpy(p->keys, fresh.keys, sizeof fresh.keys);
        p->key_count = fresh.key_count;
        fresh.key_count = 0;
        if (!p->issuer) {
            p->issuer = fresh.issuer;
            p->jwks_uri = fresh.jwks_uri;
            fresh.issuer = fresh.jwks_uri = NULL;
        }
        p->fetched_at = now;
        p->failures = 0;
        p->retry_at = 0;
    } else {
        p->failures++;
        unsigned shift = p->failures - 1 < 6 ? p->failures - 1 : 6;
        time_t backoff = (time_t)JWT_BACKOFF_MIN_SECONDS << shift;
        p->retry_at = now + (backoff < JWT_BACKOFF_MAX_SECONDS ? backoff : JWT_BACKOFF_MAX_SECONDS);
    }
    clear_keys(&fresh);
    free(fresh.issuer);
    free(fresh.jwks_uri);
    p->refreshing = false;
    pthread_cond_broadcast(&p->refreshed);
}

struct jwt_keystore *jwt_keystore_new(jwt_fetch_fn fetch, void *fetch_ctx)
{
    struct jwt_keystore *ks = calloc(1, sizeof *ks);
    if (!ks)
        abort();
    ks->fetch = fetch;
    ks->fetch_ctx = fetch_ctx;
    pthread_mutex_init(&ks->lock, NULL);
    return ks;
}

void jwt_keystore_free(struct jwt_keystore *ks)
{
    if (!ks)
        return;
    struct provider *p = ks->providers;
    while (p) {
        struct provider *next = p->next;
        clear_keys(p);
        free(p->discovery_url);
        free(p->issuer);
        free(p->jwks_uri);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->refreshed);
        free(p);
        p = next;
    }
    pthread_mutex_destroy(&ks->lock);
    free(ks);
}

static struct provider *find_provider(struct jwt_keystore *ks, const char *url)
{
    for (struct provider *p = ks->providers; p; p = p->next)
        if (strcmp(p->discovery_url, url) == 0)
            return p;
    struct provider *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->discovery_url = strdup(url);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->refreshed, NULL);
    p->next = ks->providers;
    ks->providers = p;
    return p;
}

static struct jwk *find_key(struct provider *p, const char *kid, enum jwt_alg alg)
{
    struct jwk *only = NULL;
    size_t candidates = 0;
    for (size_t i = 0; i < p->key_count; i++) {
        struct jwk *k = &p->keys[i];
        if (k->is_rsa != (alg != ALG_ES256))
            continue;
        if (kid) {
            if (k->kid && strcmp(k->kid, kid) == 0)
                return k;
        } else {
            only = k;
            candidates++;
        }
    }
    return candidates == 1 ? only : NULL;   /* no kid: only an unambiguous key */
}

/* ---------------------------------------------------------------- signature check */

static bool verify_signature(EVP_PKEY *pkey, enum jwt_alg alg, const char *signing_input,
                             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    if (alg == ALG_ES256) {
        /* JWS carries r||s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value */
        if (sig_len != 64)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        int n = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (n <= 0)
            return false;
        der_len = (size_t)n;
        sig = der;
        sig_len = der_len;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) > 0;
    if (ok && alg == ALG_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
    else if (ok && alg == ALG_RS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    ok = ok && EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)signing_input,
                                input_len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

/* ---------------------------------------------------------------- claims */

static bool string_in(const char *s, const char *const *list, size_t n)
{
    if (!s)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool audience_ok(json_object *claims, const struct jwt_policy *pol)
{
    if (!pol->allowed_audience_count)
        return true;
    json_object *aud;
    if (!json_object_object_get_ex(claims, "aud", &aud))
        return false;
    if (json_object_is_type(aud, json_type_string))
        return string_in(plain_string(aud), pol->allowed_audience, pol->allowed_audience_count);
    if (!json_object_is_type(aud, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(aud); i++)
        if (string_in(plain_string(json_object_array_get_idx(aud, i)), pol->allowed_audience,
                      pol->allowed_audience_count))
            return true;
    return false;
}

/* One scope claim (`scope` or `scp`): a space-separated string (RFC 8693 / RFC 9068, Azure's
 * `scp`) or an array of strings (Okta's `scp`, some `scope`s). */
static bool scope_claim_ok(json_object *v, const struct jwt_policy *pol)
{
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (string_in(plain_string(json_object_array_get_idx(v, i)), pol->allowed_scopes,
                          pol->allowed_scopes_count))
                return true;
        return false;
    }
    const char *s = plain_string(v);
    while (s && *s) {
        while (*s == ' ')
            s++;
        size_t len = strcspn(s, " ");
        for (size_t i = 0; len && i < pol->allowed_scopes_count; i++)
            if (strlen(pol->allowed_scopes[i]) == len && memcmp(pol->allowed_scopes[i], s, len) == 0)
                return true;
        s += len;
    }
    return false;
}

static bool scope_ok(json_object *claims, const struct jwt_policy *pol)
{
    if (!pol->allowed_scopes_count)
        return true;
    json_object *v;
    return (json_object_object_get_ex(claims, "scope", &v) && scope_claim_ok(v, pol)) ||
           (json_object_object_get_ex(claims, "scp", &v) && scope_claim_ok(v, pol));
}

/* customClaims (see jwt_policy.custom_claims). The claim's JSON type is checked before any
 * value is looked at; anything but the three documented rule shapes is a refusal. */
static json_object *object_member(json_object *o, const char *name)
{
    json_object *v;
    return o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_object) ? v : NULL;
}

static bool all_strings(json_object *arr)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (!plain_string(json_object_array_get_idx(arr, i)))
            return false;
    return true;
}

static bool array_has(json_object *arr, const char *want)
{
    for (size_t i = 0; want && i < json_object_array_length(arr); i++) {
        const char *got = plain_string(json_object_array_get_idx(arr, i));
        if (got && strcmp(got, want) == 0)
            return true;
    }
    return false;
}

static bool custom_claim_ok(json_object *claims, json_object *rule)
{
    const char *name = json_object_is_type(rule, json_type_object)
                           ? string_member(rule, "inboundTokenClaimName") : NULL;
    const char *type = name ? string_member(rule, "inboundTokenClaimValueType") : NULL;
    json_object *match = object_member(rule, "authorizingClaimMatchValue");
    const char *op = match ? string_member(match, "claimMatchOperator") : NULL;
    json_object *value = object_member(match, "claimMatchValue"), *list = NULL, *claim;
    if (!name || !type || !op || !value || !json_object_object_get_ex(claims, name, &claim))
        return false;
    const char *one = string_member(value, "matchValueString");
    bool has_list = json_object_object_get_ex(value, "matchValueStringList", &list);
    if (json_object_object_length(value) != 1)
        return false;     /* a union: exactly one member */
    if (strcmp(type, "STRING") == 0 && strcmp(op, "EQUALS") == 0 && one) {
        const char *got = plain_string(claim);
        return got && strcmp(got, one) == 0;
    }
    if (strcmp(type, "STRING_ARRAY") != 0 || !json_object_is_type(claim, json_type_array) ||
        !all_strings(claim))
        return false;
    if (strcmp(op, "CONTAINS") == 0 && one)
        return array_has(claim, one);
    if (strcmp(op, "CONTAINS_ANY") == 0 && has_list && json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++)
            if (array_has(claim, plain_string(json_object_array_get_idx(list, i))))
                return true;
    }
    return false;
}

static bool custom_claims_ok(json_object *claims, const struct jwt_policy *pol)
{
    json_object *rules = pol->custom_claims;
    if (!rules)
        return true;
    if (!json_object_is_type(rules, json_type_array) || json_object_array_length(rules) == 0)
        return false;     /* not what the control plane stores: refuse rather than ignore */
    for (size_t i = 0; i < json_object_array_length(rules); i++)
        if (!custom_claim_ok(claims, json_object_array_get_idx(rules, i)))
            return false;
    return true;
}

static bool numeric_claim(json_object *claims, const char *name, long long *out, bool *present)
{
    json_object *v;
    *present = json_object_object_get_ex(claims, name, &v);
    if (!*present)
        return true;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);    /* json-c saturates at INT64_MIN/MAX */
        return true;
    }
    if (!json_object_is_type(v, json_type_double))
        return false;
    double d = json_object_get_double(v);
    if (!isfinite(d))
        return false;           /* json-c parses NaN and Infinity */
    /* clamp before converting: an out-of-range double → integer conversion is undefined */
    *out = d > 1e15 ? (long long)1e15 : d < -1e15 ? (long long)-1e15 : (long long)d;
    return true;
}

static enum jwt_result check_claims(json_object *claims, const struct jwt_policy *pol,
                                    const char *issuer, time_t now)
{
    const char *iss = string_member(claims, "iss");
    if (!iss || strcmp(iss, issuer) != 0)
        return JWT_BAD_ISSUER;
    long long exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    if (!numeric_claim(claims, "exp", &exp, &has_exp) || !numeric_claim(claims, "nbf", &nbf, &has_nbf) ||
        !numeric_claim(claims, "iat", &iat, &has_iat))
        return JWT_MALFORMED;
    /* compared on the side of `now` so that exp = INT64_MAX cannot overflow */
    if (!has_exp || (long long)now - pol->leeway_seconds > exp)
        return JWT_EXPIRED;
    if ((has_nbf && (long long)now + pol->leeway_seconds < nbf) ||
        (has_iat && (long long)now + pol->leeway_seconds < iat))
        return JWT_NOT_YET_VALID;     /* an iat in the future: a skewed or forged issuer */
    if (!audience_ok(claims, pol))
        return JWT_BAD_AUDIENCE;
    if (pol->allowed_clients_count) {
        const char *client = string_member(claims, "client_id");
        if (!client)
            client = string_member(claims, "azp");
        if (!client || !string_in(client, pol->allowed_clients, pol->allowed_clients_count))
            return JWT_BAD_CLIENT;
    }
    if (!scope_ok(claims, pol))
        return JWT_BAD_SCOPE;
    if (!custom_claims_ok(claims, pol))
        return JWT_BAD_CLAIM;
    return JWT_OK;
}

/* ---------------------------------------------------------------- verify */

void jwt_identity_free(struct jwt_identity *id)
{
    free(id->issuer);
    free(id->subject);
    free(id->client_id);
    memset(id, 0, sizeof *id);
}

static json_object *decode_json_segment(const char *s, size_t len)
{
    struct strbuf raw = { 0 };
    json_object *o = NULL;
    if (jwt_base64url_decode(s, len, &raw) && raw.len && memchr(raw.data, 0, raw.len) == NULL) {
        json_tokener *tok = json_tokener_new();
        o = json_tokener_parse_ex(tok, raw.data, (int)raw.len);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    strbuf_free(&raw);
    return o;
}

enum jwt_result jwt_verify(struct jwt_keystore *ks, const struct jwt_policy *pol,
                           const char *token, time_t now, struct jwt_identity *out)
{
    memset(out, 0, sizeof *out);
    size_t len = token ? strlen(token) : 0;
    if (len == 0 || len > JWT_MAX_TOKEN_BYTES)
        return JWT_MALFORMED;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot1 == token || dot2 == dot1 + 1)
        return JWT_MALFORMED;

    json_object *header = decode_json_segment(token, (size_t)(dot1 - token));
    json_object *claims = decode_json_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    struct strbuf sig = { 0 };
    enum jwt_result r = JWT_MALFORMED;
    if (!header || !claims || !jwt_base64url_decode(dot2 + 1, strlen(dot2 + 1), &sig))
        goto done;
    json_object *crit;
    enum jwt_alg alg = alg_from_name(string_member(header, "alg"));
    r = JWT_BAD_ALGORITHM;     /* decided before any key or signature is looked at */
    if (alg == ALG_OTHER || json_object_object_get_ex(header, "crit", &crit))
        goto done;
    r = JWT_MALFORMED;
    if (!sig.len)
        goto done;
    const char *kid = string_member(header, "kid");

    pthread_mutex_lock(&ks->lock);             /* only to find (or add) the provider */
    struct provider *p = find_provider(ks, pol->discovery_url);
    pthread_mutex_unlock(&ks->lock);
    pthread_mutex_lock(&p->lock);
    if (!p->fetched_at || now - p->fetched_at > JWT_KEYS_TTL_SECONDS)
        refresh_locked(ks, p, now);            /* on failure the old keys stay in use */
    struct jwk *key = p->fetched_at ? find_key(p, kid, alg) : NULL;
    if (!key && p->fetched_at && now - p->last_attempt >= JWT_REFETCH_MIN_SECONDS) {
        refresh_locked(ks, p, now);            /* a rotated key: look again once */
        key = find_key(p, kid, alg);
    }
    if (!p->fetched_at) {
        r = JWT_DISCOVERY_FAILED;
    } else if (!key || (key->alg && alg_from_name(key->alg) != alg)) {
        r = JWT_UNKNOWN_KEY;
    } else if (!verify_signature(key->pkey, alg, token, (size_t)(dot2 - token),
                                 (const unsigned char *)sig.data, sig.len)) {
        r = JWT_BAD_SIGNATURE;
    } else {
        r = check_claims(claims, pol, p->issuer, now);
    }
    if (r == JWT_OK) {
        out->issuer = strdup(p->issuer);
        out->subject = dup_or_null(string_member(claims, "sub"));
        const char *client = string_member(claims, "client_id");
        out->client_id = dup_or_null(client ? client : string_member(claims, "azp"));
    }
    pthread_mutex_unlock(&p->lock);

done:
    json_object_put(header);
    json_object_put(claims);
    strbuf_free(&sig);
    return r;
}

/* ---------------------------------------------------------------- libcurl fetcher */

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct strbuf *out = ctx;
    size_t n = size * nmemb;
    if (out->len + n > JWT_MAX_DOCUMENT_BYTES)
        return 0;   /* aborts the transfer */
    strbuf_append(out, data, n);
    return n;
}

/* https always; plain http only to a host the config names (jwt_http_allowed_hosts), so the
 * control plane cannot aim silod's requests at any local port by way of discoveryUrl. */
bool jwt_url_allowed(const struct jwt_fetch_policy *pol, const char *url)
{
    if (strncmp(url, "https://", 8) == 0)
        return true;
    if (strncmp(url, "http://", 7) != 0 || !pol)
        return false;
    const char *host = url + 7;
    size_t hl = strcspn(host, ":/?#");
    if (host[0] == '[')
        hl = strcspn(host, "]") + 1;
    if (host[hl] != '\0' && host[hl] != ':' && host[hl] != '/')
        return false;
    for (size_t i = 0; i < pol->http_host_count; i++)
        if (strlen(pol->http_hosts[i]) == hl && strncasecmp(pol->http_hosts[i], host, hl) == 0)
            return true;
    return false;
}

int jwt_curl_fetch(void *ctx, const char *url, struct strbuf *out)
{
    if (!jwt_url_allowed(ctx, url))
        return -1;
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)JWT_FETCH_TIMEOUT_SECONDS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 3L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}
