/* tests/unit/test_jwt.c — the JWT verifier with RSA and P-256 keys made here by OpenSSL:
 * good RS256/PS256/ES256 tokens; expired, early, wrong iss/aud/client/scope; bad signatures;
 * alg none and HS256; unknown kid (with JWKS refetch on rotation); malformed segments; and
 * the real libcurl fetcher against a loopback libmicrohttpd server. */
#include "frontend/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return (struct jwt_policy){ DISCOVERY, audiences, 2, clients, 1, scopes, 1, 60 };
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
    struct jwt_keystore *ks = jwt_keystore_new(jwt_curl_fetch, NULL);
    struct jwt_policy p = { url, audiences, 2, clients, 1, NULL, 0, 60 };
    char *claims = claims_with(iss, "\"silo-api\"", "client-a", "", NOW + 60, NOW);
    char *tok = make_token("ES256", "ec1", claims, ec_key);
    struct jwt_identity id;
    CHECK_EQ(jwt_verify(ks, &p, tok, NOW, &id), JWT_OK);
    jwt_identity_free(&id);
    /* a non-loopback plain-http discovery URL is never fetched */
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
        { "malformed segments rejected", test_malformed_tokens },
        { "libcurl discovery + JWKS from a loopback provider", test_curl_fetch_from_loopback_provider },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_key2);
    EVP_PKEY_free(ec_key);
    free(idp.jwks);
    return rc;
}
