/* tests/unit/test_jwt.c — the JWT verifier with RSA and P-256 keys made here by OpenSSL:
 * good RS256/PS256/ES256 tokens; expired, early, wrong iss/aud/client/scope; bad signatures;
 * alg none and HS256; unknown kid (with JWKS refetch on rotation); malformed segments; the
 * forms of aud/scope/scp/client_id; iat/nbf/exp edge cases; customClaims (every operator,
 * match and mismatch, wrong and hostile claim types, malformed rules); and the real libcurl
 * fetcher against a loopback libmicrohttpd server. */
#include "frontend/jwt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tests/unit/check.h"

#define NOW 1800000000L
#define DISCOVERY "https://idp.test/.well-known/openid-configuration"
#define ISSUER "https://idp.test"

/* ------------------------------------------------------------------ helpers */

static void b64url(const unsigned char *in, size_t len, struct strbuf *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        char q[4] = { abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63] };
        strbuf_append(out, q, 4);
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        char q[2] = { abc[v >> 18], abc[(v >> 12) & 63] };
        strbuf_append(out, q, 2);
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        char q[3] = { abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63] };
        strbuf_append(out, q, 3);
    }
}

static void b64url_str(const char *s, struct strbuf *out) { b64url((const unsigned char *)s, strlen(s), out); }

static EVP_PKEY *rsa_key, *rsa_key2, *ec_key;

static void bn_member(struct strbuf *out, EVP_PKEY *k, const char *param)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, param, &bn);
    unsigned char buf[1024];
    int n = BN_bn2bin(bn, buf);
    b64url(buf, (size_t)n, out);
    BN_free(bn);
}

static void jwk_rsa(struct strbuf *out, EVP_PKEY *k, const char *kid, const char *alg)
{
    strbuf_printf(out, "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\"", kid);
    if (alg)
        strbuf_printf(out, ",\"alg\":\"%s\"", alg);
    strbuf_puts(out, ",\"n\":\"");
    bn_member(out, k, OSSL_PKEY_PARAM_RSA_N);
    strbuf_puts(out, "\",\"e\":\"");
    bn_member(out, k, OSSL_PKEY_PARAM_RSA_E);
    strbuf_puts(out, "\"}");
}

static void jwk_ec(struct strbuf *out, EVP_PKEY *k, const char *kid)
{
    unsigned char pt[65];
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n);
    CHECK_EQ(n, 65);
    strbuf_printf(out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"", kid);
    b64url(pt + 1, 32, out);
    strbuf_puts(out, "\",\"y\":\"");
    b64url(pt + 33, 32, out);
    strbuf_puts(out, "\"}");
}

/* Signs header.claims with the key for alg; "none"/"HS256" produce the unsigned/HMAC forms an
 * attacker would send. */
static char *make_token(const char *alg, const char *kid, const char *claims, EVP_PKEY *key)
{
    struct strbuf t = { 0 }, h = { 0 };
    if (kid)
        strbuf_printf(&h, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    else
        strbuf_printf(&h, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    b64url_str(strbuf_str(&h), &t);
    strbuf_putc(&t, '.');
    b64url_str(claims, &t);
    size_t input_len = t.len;
    strbuf_putc(&t, '.');
    unsigned char sig[1024];
    size_t sig_len = sizeof sig;
    if (strcmp(alg, "none") == 0) {
        sig_len = 0;
    } else if (strcmp(alg, "HS256") == 0) {
        memset(sig, 7, 32);
        sig_len = 32;
    } else {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx;
        EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key);
        if (strcmp(alg, "PS256") == 0) {
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
        }
        CHECK(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)t.data, input_len) == 1);
        EVP_MD_CTX_free(md);
        if (strcmp(alg, "ES256") == 0) {   /* DER → r||s */
            const unsigned char *p = sig;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
            const BIGNUM *r, *s;
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, sig, 32);
            BN_bn2binpad(s, sig + 32, 32);
            sig_len = 64;
            ECDSA_SIG_free(es);
        }
    }
    b64url(sig, sig_len, &t);
    strbuf_free(&h);
    return strbuf_take(&t);
}

/* ------------------------------------------------------------------ test double: an
 * in-memory identity provider standing in for the network (the real libcurl fetcher is
 * exercised separately below). */

struct test_idp {
    char *jwks;
    int discovery_fetches;
    int jwks_fetches;
    bool down;
};

static struct test_idp idp;

static int test_idp_fetch(void *ctx, const char *url, struct strbuf *out)
{
    struct test_idp *t = ctx;
    if (t->down)
        return -1;
    if (strcmp(url, DISCOVERY) == 0) {
        t->discovery_fetches++;
        strbuf_puts(out, "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.test/jwks\"}");
        return 0;
    }
    if (strcmp(url, "https://idp.test/jwks") == 0) {
        t->jwks_fetches++;
        strbuf_puts(out, t->jwks);
        return 0;
    }
    return -1;
}

static void set_jwks(bool with_second_rsa)
{
    struct strbuf j = { 0 };
    strbuf_puts(&j, "{\"keys\":[");
    jwk_rsa(&j, rsa_key, "rsa1", NULL);
    strbuf_putc(&j, ',');
    jwk_ec(&j, ec_key, "ec1");
    strbuf_puts(&j, ",{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}");
    if (with_second_rsa) {
        strbuf_putc(&j, ',');
        jwk_rsa(&j, rsa_key2, "rsa2", "RS256");
    }
    strbuf_puts(&j, "]}");
    free(idp.jwks);
    idp.jwks = strbuf_take(&j);
}

static const char *const audiences[] = { "silo-api", "other-api" };
static const char *const clients[] = { "client-a" };
static const char *const scopes[] = { "agent/invoke" };

static struct jwt_policy policy(void)
{
    return (struct jwt_policy){ DISCOVERY, audiences, 2, clients, 1, scopes, 1, 60, NULL };
}

static char *claims_with(const char *iss, const char *aud, const char *client, const char *scope,
                         long exp, long nbf)
{
    struct strbuf c = { 0 };
    strbuf_printf(&c, "{\"iss\":\"%s\",\"sub\":\"user-42\",\"aud\":%s,\"client_id\":\"%s\","
                      "\"scope\":\"%s\",\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld}",
                  iss, aud, client, scope, exp, nbf, NOW - 10);
    return strbuf_take(&c);
}

static char *good_claims(void)
{
    return claims_with(ISSUER, "\"silo-api\"", "client-a", "openid agent/invoke", NOW + 300, NOW - 10);
}

static enum jwt_result verify_with(struct jwt_keystore *ks, const char *token)
{
    struct jwt_policy p = policy();
    struct jwt_identity id;
    enum jwt_result r = jwt_verify(ks, &p, token, NOW, &id);
    if (r == JWT_OK) {
        CHECK(strcmp(id.issuer, ISSUER) == 0);
        CHECK(id.subject && strcmp(id.subject, "user-42") == 0);
        CHECK(id.client_id && strcmp(id.client_id, "client-a") == 0);
    }
    jwt_identity_free(&id);
    return r;
}

static enum jwt_result verify_claims(const char *alg, const char *kid, EVP_PKEY *key, char *claims)
{
    struct jwt_keystore *ks = jwt_keystore_new(test_idp_fetch, &idp);
    char *tok = make_token(alg, kid, claims, key);
    enum jwt_result r = verify_with(ks, tok);
    free(tok);
    free(claims);
    jwt_keystore_free(ks);
    return r;
}

/* ------------------------------------------------------------------ tests */

static void test_good_tokens_each_algorithm(void)
{
    set_jwks(false);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key, good_claims()), JWT_OK);
    CHECK_EQ(verify_claims("PS256", "rsa1", rsa_key, good_claims()), JWT_OK);
    CHECK_EQ(verify_claims("ES256", "ec1", ec_key, good_claims()), JWT_OK);
    /* aud as an array with one allowed value; scope via scp */
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "[\"x\",\"other-api\"]", "client-a", "agent/invoke",
                                       NOW + 10, NOW)), JWT_OK);
}

static void test_time_window(void)
{
    set_jwks(false);
    /* expired beyond the 60 s leeway; within it still good */
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "\"silo-api\"", "client-a", "agent/invoke", NOW - 61, NOW - 100)),
             JWT_EXPIRED);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "\"silo-api\"", "client-a", "agent/invoke", NOW - 59, NOW - 100)),
             JWT_OK);
    CHECK_EQ(verify_claims("ES256", "ec1", ec_key,
                           claims_with(ISSUER, "\"silo-api\"", "client-a", "agent/invoke", NOW + 900, NOW + 61)),
             JWT_NOT_YET_VALID);
    /* no exp at all */
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           strdup("{\"iss\":\"" ISSUER "\",\"aud\":\"silo-api\",\"client_id\":\"client-a\",\"scope\":\"agent/invoke\"}")),
             JWT_EXPIRED);
}

static void test_wrong_issuer_audience_client_scope(void)
{
    set_jwks(false);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with("https://evil.test", "\"silo-api\"", "client-a", "agent/invoke", NOW + 60, NOW)),
             JWT_BAD_ISSUER);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "\"someone-else\"", "client-a", "agent/invoke", NOW + 60, NOW)),
             JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "[]", "client-a", "agent/invoke", NOW + 60, NOW)),
             JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "\"silo-api\"", "client-b", "agent/invoke", NOW + 60, NOW)),
             JWT_BAD_CLIENT);
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key,
                           claims_with(ISSUER, "\"silo-api\"", "client-a", "openid agent/invokeX", NOW + 60, NOW)),
             JWT_BAD_SCOPE);
}

static void test_bad_signatures(void)
{
    set_jwks(false);
    /* signed by a key the provider does not publish, under a published kid */
    CHECK_EQ(verify_claims("RS256", "rsa1", rsa_key2, good_claims()), JWT_BAD_SIGNATURE);
    /* an RS256 signature presented as PS256 */
    struct jwt_keystore *ks = jwt_keystore_new(test_idp_fetch, &idp);
    char *claims = good_claims();
    char *tok = make_token("RS256", "rsa1", claims, rsa_key);
    char *h = strchr(tok, '.');
    struct strbuf forged = { 0 };
    b64url_str("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", &forged);
    strbuf_puts(&forged, h);
    CHECK_EQ(verify_with(ks, strbuf_str(&forged)), JWT_BAD_SIGNATURE);
    /* claims changed after signing */
    struct strbuf swapped = { 0 };
    char *claims2 = claims_with(ISSUER, "\"silo-api\"", "client-a", "agent/invoke", NOW + 99999, NOW);
    char *tok2 = make_token("RS256", "rsa1", claims2, rsa_key);
    const char *d1 = strchr(tok2, '.'), *d2 = strrchr(tok2, '.'), *s1 = strrchr(tok, '.');
    strbuf_append(&swapped, tok2, (size_t)(d2 - tok2));
    strbuf_puts(&swapped, s1);
    (void)d1;
    CHECK_EQ(verify_with(ks, strbuf_str(&swapped)), JWT_BAD_SIGNATURE);
    /* one byte of the signature flipped */
    size_t n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    CHECK_EQ(verify_with(ks, tok), JWT_BAD_SIGNATURE);
    /* ES256 signature of the wrong length */
    char *etok = make_token("ES256", "ec1", claims, ec_key);
    etok[strlen(etok) - 4] = '\0';
    CHECK(verify_with(ks, etok) != JWT_OK);
    free(etok);
    free(tok);
    free(tok2);
    free(claims);
    free(claims2);
    strbuf_free(&forged);
    strbuf_free(&swapped);
    jwt_keystore_free(ks);
}

static void test_disallowed_algorithms(void)
{
    set_jwks(false);
    CHECK_EQ(verify_claims("none", "rsa1", NULL, good_claims()), JWT_BAD_ALGORITHM);
    CHECK_EQ(verify_claims("HS256", "hmac", NULL, good_claims()), JWT_BAD_ALGORITHM);
    CHECK_EQ(verify_claims("RS512", "rsa1", rsa_key, good_claims()), JWT_BAD_ALGORITHM);
    /* an RSA key used for ES256 is not a key for that token */
    CHECK_EQ(verify_claims("ES256", "rsa1", ec_key, good_claims()), JWT_UNKNOWN_KEY);
    /* the key's own alg pins it */
    set_jwks(true);
    CHECK_EQ(verify_claims("PS256", "rsa2", rsa_key2, good_claims()), JWT_UNKNOWN_KEY);
    CHECK_EQ(verify_claims("RS256", "rsa2", rsa_key2, good_claims()), JWT_OK);
}

static void test_unknown_kid_refetches_once(void)
{
    set_jwks(false);
    idp.discovery_fetches = idp.jwks_fetches = 0;
    struct jwt_keystore *ks = jwt_keystore_new(test_idp_fetch, &idp);
    struct jwt_policy p = policy();
    struct jwt_identity id;
    char *claims = good_claims();
    char *t1 = make_token("RS256", "rsa1", claims, rsa_key);
    CHECK_EQ(jwt_verify(ks, &p, t1, NOW, &id), JWT_OK);
    jwt_identity_free(&id);
    CHECK_EQ(jwt_verify(ks, &p, t1, NOW + 1, &id), JWT_OK);   /* cached */
    CHECK_EQ(idp.discovery_fetches, 1);
    CHECK_EQ(idp.jwks_fetches, 1);
    jwt_identity_free(&id);
    /* the provider rotates in rsa2: a token with that kid refetches the JWKS and verifies */
    char *t2 = make_token("RS256", "rsa2", claims, rsa_key2);
    CHECK_EQ(jwt_verify(ks, &p, t2, NOW + 100, &id), JWT_UNKNOWN_KEY);   /* not yet published */
    CHECK_EQ(idp.jwks_fetches, 2);
    set_jwks(true);
    CHECK_EQ(jwt_verify(ks, &p, t2, NOW + 110, &id), JWT_UNKNOWN_KEY);   /* refetch rate-limited */
    CHECK_EQ(idp.jwks_fetches, 2);
    CHECK_EQ(jwt_verify(ks, &p, t2, NOW + 131, &id), JWT_OK);
    CHECK_EQ(idp.jwks_fetches, 3);
    jwt_identity_free(&id);
    /* a kid nobody has */
    char *t3 = make_token("RS256", "nope", claims, rsa_key);
    CHECK_EQ(jwt_verify(ks, &p, t3, NOW + 300, &id), JWT_UNKNOWN_KEY);
    /* provider down and nothing cached: discovery failure, not acceptance */
    struct jwt_keystore *ks2 = jwt_keystore_new(test_idp_fetch, &idp);
    idp.down = true;
    CHECK_EQ(jwt_verify(ks2, &p, t1, NOW, &id), JWT_DISCOVERY_FAILED);
    idp.down = false;
    free(t1);
    free(t2);
    free(t3);
    free(claims);
    jwt_keystore_free(ks);
    jwt_keystore_free(ks2);
}

static void test_malformed_tokens(void)
{
    set_jwks(false);
    struct jwt_keystore *ks = jwt_keystore_new(test_idp_fetch, &idp);
    char *claims = good_claims();
    char *good = make_token("RS256", "rsa1", claims, rsa_key);
    const char *bad[] = {
        "", "abc", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.",
        "eyJhbGciOiJSUzI1NiJ9.eyJ!!!.c2ln", "!!!.eyJ9.c2ln",
        "bm90IGpzb24.bm90IGpzb24.c2ln",           /* segments that are not JSON */
        "WzFd.WzFd.c2ln",                         /* JSON arrays, not objects */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(verify_with(ks, bad[i]), JWT_MALFORMED);
    /* the good token with padding or a stray character appended */
    struct strbuf t = { 0 };
    strbuf_printf(&t, "%s=", good);
    CHECK_EQ(verify_with(ks, strbuf_str(&t)), JWT_MALFORMED);
    strbuf_free(&t);
    /* oversized */
    char *huge = malloc(JWT_MAX_TOKEN_BYTES + 2);
    memset(huge, 'a', JWT_MAX_TOKEN_BYTES + 1);
    huge[JWT_MAX_TOKEN_BYTES + 1] = '\0';
    CHECK_EQ(verify_with(ks, huge), JWT_MALFORMED);
    CHECK_EQ(verify_with(ks, good), JWT_OK);
    free(huge);
    free(good);
    free(claims);
    jwt_keystore_free(ks);
}

/* ------------------------------------------------------------------ claim forms and edges */

/* The members every token below shares (iss, sub first); NOW = 1800000000. */
#define M_AUD "\"aud\":\"silo-api\""
#define M_CLIENT "\"client_id\":\"client-a\""
#define M_SCOPE "\"scope\":\"agent/invoke\""
#define M_EXP "\"exp\":1800000300"
#define M_ALL M_AUD "," M_CLIENT "," M_SCOPE "," M_EXP

/* {"iss":ISSUER,"sub":"user-42", <members>} */
static char *cj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cj(const char *fmt, ...)
{
    struct strbuf c = { 0 };
    strbuf_puts(&c, "{\"iss\":\"" ISSUER "\",\"sub\":\"user-42\",");
    va_list ap;
    va_start(ap, fmt);
    char *members = NULL;
    CHECK(vasprintf(&members, fmt, ap) >= 0);
    va_end(ap);
    strbuf_puts(&c, members);
    free(members);
    strbuf_putc(&c, '}');
    return strbuf_take(&c);
}

/* Verifies an RS256 token over claims (freed) under policy() with the given customClaims
 * rules (JSON text, or NULL for none). */
static enum jwt_result verify_rules(const char *rules, char *claims)
{
    struct jwt_keystore *ks = jwt_keystore_new(test_idp_fetch, &idp);
    struct jwt_policy p = policy();
    json_object *r = NULL;
    if (rules) {
        r = json_tokener_parse(rules);
        CHECK(r != NULL);
        p.custom_claims = r;
    }
    char *tok = make_token("RS256", "rsa1", claims, rsa_key);
    struct jwt_identity id;
    enum jwt_result res = jwt_verify(ks, &p, tok, NOW, &id);
    if (res == JWT_OK) {
        CHECK(strcmp(id.issuer, ISSUER) == 0);
        CHECK(id.client_id && strcmp(id.client_id, "client-a") == 0);
    }
    jwt_identity_free(&id);
    json_object_put(r);
    free(tok);
    free(claims);
    jwt_keystore_free(ks);
    return res;
}

static void test_audience_client_scope_forms(void)
{
    set_jwks(false);
    /* aud: a string, an array (strings among other junk), never a number/object/NUL trick */
    CHECK_EQ(verify_rules(NULL, cj(M_ALL)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj("\"aud\":[5,{},\"x\",\"silo-api\"]," M_CLIENT "," M_SCOPE "," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj("\"aud\":[\"x\",\"y\"]," M_CLIENT "," M_SCOPE "," M_EXP)), JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_rules(NULL, cj("\"aud\":[[\"silo-api\"]]," M_CLIENT "," M_SCOPE "," M_EXP)), JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_rules(NULL, cj("\"aud\":7," M_CLIENT "," M_SCOPE "," M_EXP)), JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_rules(NULL, cj("\"aud\":{\"silo-api\":true}," M_CLIENT "," M_SCOPE "," M_EXP)), JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_rules(NULL, cj("\"aud\":\"silo-api\\u0000x\"," M_CLIENT "," M_SCOPE "," M_EXP)), JWT_BAD_AUDIENCE);
    CHECK_EQ(verify_rules(NULL, cj(M_CLIENT "," M_SCOPE "," M_EXP)), JWT_BAD_AUDIENCE);
    /* the client: client_id, else azp; neither, or a non-string, is not allowed */
    CHECK_EQ(verify_rules(NULL, cj(M_AUD ",\"azp\":\"client-a\"," M_SCOPE "," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_SCOPE "," M_EXP)), JWT_BAD_CLIENT);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD ",\"client_id\":[\"client-a\"]," M_SCOPE "," M_EXP)), JWT_BAD_CLIENT);
    /* scope / scp: a space-separated string or an array, under either name */
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scope\":\"  openid  agent/invoke \"," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scope\":[\"openid\",\"agent/invoke\"]," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scp\":[\"agent/invoke\"]," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scp\":\"openid agent/invoke\"," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scope\":\"openid\",\"scp\":[\"agent/invoke\"]," M_EXP)), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scope\":\"agent/invoke2 agent\"," M_EXP)), JWT_BAD_SCOPE);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scope\":\"agent/invoke\\u0000\"," M_EXP)), JWT_BAD_SCOPE);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scope\":[[\"agent/invoke\"]]," M_EXP)), JWT_BAD_SCOPE);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT ",\"scp\":42," M_EXP)), JWT_BAD_SCOPE);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_EXP)), JWT_BAD_SCOPE);
}

static void test_time_edges(void)
{
    set_jwks(false);
    /* nbf: beyond the leeway in the future is not yet valid; within it, fine */
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"nbf\":1800000061")), JWT_NOT_YET_VALID);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"nbf\":1800000059")), JWT_OK);
    /* iat far (and just beyond the leeway) in the future: refused; in the past or within it: fine */
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"iat\":1900000000")), JWT_NOT_YET_VALID);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"iat\":1800000061")), JWT_NOT_YET_VALID);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"iat\":1800000059")), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"iat\":1700000000.5")), JWT_OK);
    /* exp: required, numeric, finite; extreme values neither overflow nor crash */
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE)), JWT_EXPIRED);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":null")), JWT_MALFORMED);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":\"1800000300\"")), JWT_MALFORMED);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":NaN")), JWT_MALFORMED);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":-Infinity")), JWT_MALFORMED);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":9223372036854775807")), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":99999999999999999999999")), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":1e300")), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":-1e300")), JWT_EXPIRED);
    CHECK_EQ(verify_rules(NULL, cj(M_AUD "," M_CLIENT "," M_SCOPE ",\"exp\":-9223372036854775808")), JWT_EXPIRED);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"nbf\":-9223372036854775808,\"iat\":-1e300")), JWT_OK);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"nbf\":9223372036854775807")), JWT_NOT_YET_VALID);
    CHECK_EQ(verify_rules(NULL, cj(M_ALL ",\"iat\":\"0\"")), JWT_MALFORMED);
}

/* customClaims rules as the control plane stores them */
#define RULE(name, type, op, value)                                                           \
    "{\"inboundTokenClaimName\":\"" name "\",\"inboundTokenClaimValueType\":\"" type "\","    \
    "\"authorizingClaimMatchValue\":{\"claimMatchValue\":" value ",\"claimMatchOperator\":\"" \
    op "\"}}"
#define DEPT_EQUALS "[" RULE("department", "STRING", "EQUALS", "{\"matchValueString\":\"engineering\"}") "]"
#define GROUPS_CONTAINS "[" RULE("cognito:groups", "STRING_ARRAY", "CONTAINS", "{\"matchValueString\":\"admins\"}") "]"
#define ROLES_ANY "[" RULE("roles", "STRING_ARRAY", "CONTAINS_ANY", "{\"matchValueStringList\":[\"reader\",\"writer\"]}") "]"

static void test_custom_claims_equals(void)
{
    set_jwks(false);
    CHECK_EQ(verify_rules(DEPT_EQUALS, cj(M_ALL ",\"department\":\"engineering\"")), JWT_OK);
    static const char *const refused[] = {
        "\"department\":\"sales\"", "\"department\":\"Engineering\"", "\"department\":\"engineering2\"",
        "\"department\":\"engineerin\"", "\"department\":\"\"", "\"department\":\"engineering\\u0000\"",
        "\"department\":[\"engineering\"]", "\"department\":{\"engineering\":true}", "\"department\":42",
        "\"department\":true", "\"department\":null", "\"Department\":\"engineering\"",
        "\"dept\":\"engineering\"",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        enum jwt_result r = verify_rules(DEPT_EQUALS, cj(M_ALL ",%s", refused[i]));
        if (r != JWT_BAD_CLAIM)
            printf("#   %s: %s\n", refused[i], jwt_result_name(r));
        CHECK_EQ(r, JWT_BAD_CLAIM);
    }
    /* missing altogether */
    CHECK_EQ(verify_rules(DEPT_EQUALS, cj(M_ALL)), JWT_BAD_CLAIM);
    /* the other checks still come first: a matching claim does not rescue a wrong audience */
    CHECK_EQ(verify_rules(DEPT_EQUALS, cj("\"aud\":\"x\"," M_CLIENT "," M_SCOPE "," M_EXP ",\"department\":\"engineering\"")),
             JWT_BAD_AUDIENCE);
}

static void test_custom_claims_contains(void)
{
    set_jwks(false);
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":[\"ops\",\"admins\"]")), JWT_OK);
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":[\"admins\"]")), JWT_OK);
    static const char *const refused[] = {
        "[\"ops\"]", "[]", "[\"Admins\"]", "[\"admins2\"]", "\"admins\"", "[\"admins\",5]",
        "[[\"admins\"]]", "[{\"admins\":true}]", "[null]", "[\"admins\",null]", "{\"0\":\"admins\"}",
        "1", "false", "[\"admins\\u0000x\"]",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        enum jwt_result r = verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":%s", refused[i]));
        if (r != JWT_BAD_CLAIM)
            printf("#   groups %s: %s\n", refused[i], jwt_result_name(r));
        CHECK_EQ(r, JWT_BAD_CLAIM);
    }
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL)), JWT_BAD_CLAIM);
    /* nesting: a few levels is just a wrong type; beyond json-c's depth limit the token does
     * not even parse */
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":[[[[[\"admins\"]]]]]")), JWT_BAD_CLAIM);
    struct strbuf deep = { 0 };
    for (int i = 0; i < 200; i++)
        strbuf_putc(&deep, '[');
    for (int i = 0; i < 200; i++)
        strbuf_putc(&deep, ']');
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":%s", strbuf_str(&deep))), JWT_MALFORMED);
    strbuf_free(&deep);
    /* a large array (as large as a token may carry): the match at the very end is found, and
     * without it the answer is a plain refusal */
    struct strbuf big = { 0 }, big_hit = { 0 };
    strbuf_putc(&big, '[');
    for (int i = 0; i < 1000; i++)
        strbuf_printf(&big, "%s\"g%04d\"", i ? "," : "", i);
    strbuf_printf(&big_hit, "%s,\"admins\"]", strbuf_str(&big));
    strbuf_putc(&big, ']');
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":%s", strbuf_str(&big_hit))), JWT_OK);
    CHECK_EQ(verify_rules(GROUPS_CONTAINS, cj(M_ALL ",\"cognito:groups\":%s", strbuf_str(&big))), JWT_BAD_CLAIM);
    strbuf_free(&big);
    strbuf_free(&big_hit);
}

static void test_custom_claims_contains_any_and_all_rules(void)
{
    set_jwks(false);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":[\"writer\"]")), JWT_OK);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":[\"admin\",\"reader\"]")), JWT_OK);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":[\"admin\"]")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":[]")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":\"reader\"")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":[\"reader\",1]")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":[[\"reader\"]]")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL ",\"roles\":3.5")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(ROLES_ANY, cj(M_ALL)), JWT_BAD_CLAIM);
    /* every rule must hold */
    const char *both = "[" RULE("department", "STRING", "EQUALS", "{\"matchValueString\":\"engineering\"}") ","
                       RULE("roles", "STRING_ARRAY", "CONTAINS_ANY", "{\"matchValueStringList\":[\"reader\",\"writer\"]}") "]";
    CHECK_EQ(verify_rules(both, cj(M_ALL ",\"department\":\"engineering\",\"roles\":[\"reader\"]")), JWT_OK);
    CHECK_EQ(verify_rules(both, cj(M_ALL ",\"department\":\"engineering\",\"roles\":[\"admin\"]")), JWT_BAD_CLAIM);
    CHECK_EQ(verify_rules(both, cj(M_ALL ",\"department\":\"sales\",\"roles\":[\"reader\"]")), JWT_BAD_CLAIM);
    /* rules that are not one of the three shapes refuse everything (fail closed), even when
     * the token's claim would match a lenient reading */
    static const char *const broken[] = {
        "{}", "[]", "[5]", "[{}]",
        "[" RULE("department", "STRING_ARRAY", "EQUALS", "{\"matchValueString\":\"engineering\"}") "]",
        "[" RULE("department", "STRING", "CONTAINS", "{\"matchValueString\":\"engineering\"}") "]",
        "[" RULE("department", "STRING", "EQUALS", "{\"matchValueStringList\":[\"engineering\"]}") "]",
        "[" RULE("department", "STRING", "EQUALS", "{\"matchValueString\":\"engineering\",\"matchValueStringList\":[\"x\"]}") "]",
        "[" RULE("department", "STRING", "EQUALS", "{\"matchValueString\":\"engineering\",\"other\":1}") "]",
        "[" RULE("department", "STRING", "LIKE", "{\"matchValueString\":\"engineering\"}") "]",
        "[" RULE("department", "STRING", "EQUALS", "{\"matchValueString\":5}") "]",
        "[" RULE("roles", "STRING_ARRAY", "CONTAINS_ANY", "{\"matchValueStringList\":\"reader\"}") "]",
        "[" RULE("roles", "STRING_ARRAY", "CONTAINS_ANY", "{\"matchValueString\":\"reader\"}") "]",
        "[{\"inboundTokenClaimName\":\"department\",\"inboundTokenClaimValueType\":\"STRING\"}]",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        enum jwt_result r = verify_rules(broken[i], cj(M_ALL ",\"department\":\"engineering\",\"roles\":[\"reader\"]"));
        if (r != JWT_BAD_CLAIM)
            printf("#   rules %s: %s\n", broken[i], jwt_result_name(r));
        CHECK_EQ(r, JWT_BAD_CLAIM);
    }
    CHECK(strcmp(jwt_result_name(JWT_BAD_CLAIM), "custom claim not allowed") == 0);
}

/* ------------------------------------------------------------------ the real libcurl path */

static enum MHD_Result serve_idp(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **state)
{
    (void)method; (void)version; (void)data; (void)size; (void)state;
    const char *body;
    char discovery[256];
    int port = *(int *)cls;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(url, "/.well-known/openid-configuration") == 0) {
        snprintf(discovery, sizeof discovery,
                 "{\"issuer\":\"http://127.0.0.1:%d\",\"jwks_uri\":\"http://127.0.0.1:%d/jwks\"}", port, port);
        body = discovery;
    } else if (strcmp(url, "/jwks") == 0) {
        body = idp.jwks;
    } else {
        body = "{}";
        status = MHD_HTTP_NOT_FOUND;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A provider that hangs: every fetch of a URL with "slow" in it takes 2 s and fails. */
static int slow_or_idp_fetch(void *ctx, const char *url, struct strbuf *out)
{
    if (strstr(url, "slow")) {
        usleep(2000 * 1000);
        return -1;
    }
    return test_idp_fetch(ctx, url, out);
}

struct slow_call {
    struct jwt_keystore *ks;
    const char *token;
    enum jwt_result r;
};

static void *verify_against_slow(void *arg)
{
    struct slow_call *c = arg;
    struct jwt_policy p = policy();
    p.discovery_url = "https://slow.idp.test/.well-known/openid-configuration";
    struct jwt_identity id;
    c->r = jwt_verify(c->ks, &p, c->token, NOW, &id);
    jwt_identity_free(&id);
    return NULL;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_slow_provider_blocks_nobody_else_and_stale_keys_serve(void)
{
    set_jwks(false);
    idp.discovery_fetches = idp.jwks_fetches = 0;
    idp.down = false;
    struct jwt_keystore *ks = jwt_keystore_new(slow_or_idp_fetch, &idp);
    struct jwt_policy p = policy();
    struct jwt_identity id;
    char *claims = claims_with(ISSUER, "\"silo-api\"", "client-a", "openid agent/invoke",
                               NOW + 2 * JWT_KEYS_TTL_SECONDS, NOW - 10);
    char *tok = make_token("RS256", "rsa1", claims, rsa_key);
    /* a hanging provider on one runtime: a token for another provider is not held up */
    struct slow_call slow = { ks, tok, JWT_OK };
    pthread_t th;
    pthread_create(&th, NULL, verify_against_slow, &slow);
    usleep(200 * 1000);                       /* the slow fetch is under way */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(jwt_verify(ks, &p, tok, NOW, &id), JWT_OK);
    jwt_identity_free(&id);
    CHECK(seconds_since(&t0) < 1.0);
    pthread_join(th, NULL);
    CHECK_EQ(slow.r, JWT_DISCOVERY_FAILED);
    /* the slow provider backs off: no second 2 s fetch right away */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    slow.r = JWT_OK;
    verify_against_slow(&slow);
    CHECK_EQ(slow.r, JWT_DISCOVERY_FAILED);
    CHECK(seconds_since(&t0) < 1.0);
    /* the keys expire while the provider is down: the cached ones still serve, and the failed
     * refresh backs off (one attempt, not one per token) */
    idp.down = true;
    time_t later = NOW + JWT_KEYS_TTL_SECONDS + 1;
    int fetches = idp.jwks_fetches;
    CHECK_EQ(jwt_verify(ks, &p, tok, later, &id), JWT_OK);
    jwt_identity_free(&id);
    CHECK_EQ(jwt_verify(ks, &p, tok, later + 1, &id), JWT_OK);
    jwt_identity_free(&id);
    idp.down = false;
    CHECK_EQ(jwt_verify(ks, &p, tok, later + 2, &id), JWT_OK);    /* still backing off */
    jwt_identity_free(&id);
    CHECK_EQ(idp.jwks_fetches, fetches);
    CHECK_EQ(jwt_verify(ks, &p, tok, later + JWT_BACKOFF_MIN_SECONDS, &id), JWT_OK);
    jwt_identity_free(&id);
    CHECK_EQ(idp.jwks_fetches, fetches + 1);                         /* refreshed after it */
    free(claims);
    free(tok);
    jwt_keystore_free(ks);
}

static void test_curl_fetch_from_loopback_provider(void)
{
    set_jwks(false);
    static int port;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
                                            NULL, NULL, serve_idp, &port, MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d)
        return;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    port = info->port;
    char url[128], iss[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/.well-known/openid-configuration", port);
    snprintf(iss, sizeof iss, "http://127.0.0.1:%d", port);
    /* plain http only to the hosts the config allows (jwt_http_allowed_hosts) */
    static const char *const hosts[] = { "127.0.0.1" };
    struct jwt_fetch_policy allow = { hosts, 1 };
    struct jwt_keystore *closed = jwt_keystore_new(jwt_curl_fetch, NULL);
    struct jwt_keystore *ks = jwt_keystore_new(jwt_curl_fetch, &allow);
    struct jwt_policy p = { url, audiences, 2, clients, 1, NULL, 0, 60, NULL };
    char *claims = claims_with(iss, "\"silo-api\"", "client-a", "", NOW + 60, NOW);
    char *tok = make_token("ES256", "ec1", claims, ec_key);
    struct jwt_identity id;
    CHECK_EQ(jwt_verify(closed, &p, tok, NOW, &id), JWT_DISCOVERY_FAILED);   /* not allowed */
    CHECK_EQ(jwt_verify(ks, &p, tok, NOW, &id), JWT_OK);
    jwt_identity_free(&id);
    jwt_keystore_free(closed);
    CHECK(jwt_url_allowed(&allow, "http://127.0.0.1/x"));
    CHECK(jwt_url_allowed(NULL, "https://idp.example/x"));
    CHECK(!jwt_url_allowed(NULL, "http://127.0.0.1:9/x"));
    CHECK(!jwt_url_allowed(&allow, "http://127.0.0.1.evil.test/x"));
    CHECK(!jwt_url_allowed(&allow, "http://127.0.0.1@evil.test/x"));
    CHECK(!jwt_url_allowed(&allow, "http://localhost:80/x"));
    /* a plain-http discovery URL to another host is never fetched */
    struct strbuf out = { 0 };
    CHECK_EQ(jwt_curl_fetch(NULL, "http://example.com/.well-known/openid-configuration", &out), -1);
    CHECK_EQ(jwt_curl_fetch(NULL, "file:///etc/passwd", &out), -1);
    strbuf_free(&out);
    free(claims);
    free(tok);
    jwt_keystore_free(ks);
    MHD_stop_daemon(d);
}

int main(void)
{
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_key2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    static const struct unit_test tests[] = {
        { "RS256, PS256 and ES256 tokens verify", test_good_tokens_each_algorithm },
        { "exp/nbf honoured with leeway, exp required", test_time_window },
        { "wrong iss, aud, client_id or scope rejected", test_wrong_issuer_audience_client_scope },
        { "bad signatures rejected", test_bad_signatures },
        { "alg none, HS256, others and mismatched key algs rejected", test_disallowed_algorithms },
        { "unknown kid refetches the JWKS (rate-limited)", test_unknown_kid_refetches_once },
        { "a hanging provider delays no other provider; stale keys serve; failures back off",
          test_slow_provider_blocks_nobody_else_and_stale_keys_serve },
        { "malformed segments rejected", test_malformed_tokens },
        { "aud string/array, client_id/azp, scope and scp as string or array", test_audience_client_scope_forms },
        { "nbf/iat in the future, exp missing or extreme", test_time_edges },
        { "customClaims EQUALS: match, mismatch, wrong and hostile types, missing", test_custom_claims_equals },
        { "customClaims CONTAINS: match, mismatch, wrong types, nesting, a large array", test_custom_claims_contains },
        { "customClaims CONTAINS_ANY, all rules must hold, malformed rules refuse", test_custom_claims_contains_any_and_all_rules },
        { "libcurl discovery + JWKS from a loopback provider", test_curl_fetch_from_loopback_provider },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_key2);
    EVP_PKEY_free(ec_key);
    free(idp.jwks);
    return rc;
}
