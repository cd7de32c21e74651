/* frontend/sigv4.c — inbound AWS SigV4 verification (see sigv4.h for the rules). */
#include "frontend/sigv4.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/url.h"
#include "frontend/strbuf.h"

#define SIGV4_MAX_PRESIGN_EXPIRES 604800

/* The canonical requests a signature may have been made over: as received; presigned with the
 * token appended after signing (AWS's "omit session token" form); and both again with the
 * Host header's ":port" left out (signers that sign the host name alone, as the AgentCore TS
 * SDK's presigned WebSocket URLs do, while the client sends the port). */
#define SIGV4_FORMS 4

struct sigv4_verifier {
    char *canonical_prefix[SIGV4_FORMS];   /* without the payload hash; [0] as received, others
                                            * NULL when that form does not apply */
    char *scope;                      /* date/region/service/aws4_request */
    char amz_date[17];
    unsigned char signing_key[32];
    unsigned char signature[32];      /* the one the client sent */
    bool payload_from_body;           /* hash the body into the canonical request */
    bool check_body_hash;             /* body must equal claimed_hash */
    unsigned char claimed_hash[32];
    bool verified;                    /* signature already checked and good */
    EVP_MD_CTX *body_hash;
    char *principal;
};

const char *sigv4_result_name(enum sigv4_result r)
{
    switch (r) {
    case SIGV4_OK: return "ok";
    case SIGV4_NO_AUTH: return "no authentication";
    case SIGV4_MALFORMED: return "malformed signature";
    case SIGV4_UNSUPPORTED: return "unsupported signing mode";
    case SIGV4_UNKNOWN_KEY: return "unknown access key";
    case SIGV4_BAD_SCOPE: return "wrong credential scope";
    case SIGV4_CLOCK_SKEW: return "request time out of range";
    case SIGV4_BAD_TOKEN: return "invalid security token";
    case SIGV4_BAD_SIGNATURE: return "signature mismatch";
    case SIGV4_PAYLOAD_MISMATCH: return "payload hash mismatch";
    }
    return "?";
}

/* ---------------------------------------------------------------- helpers
 * The canonical request, string to sign and signing key are base/sigv4_canon.c's (shared with
 * the CLI's signer); what is left here is parsing and checking what the client sent. */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s into a malloc'd string with the one decoder (base/url.h); NULL on a broken
 * escape or an embedded NUL. */
static char *uri_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out && url_decode(s, len, out, len + 1) < 0) {
        free(out);
        out = NULL;
    }
    return out;
}

/* Exactly 2n lowercase-or-uppercase hex digits → n bytes. */
static bool from_hex(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return true;
}

/* Decoded value of the first query parameter whose decoded name is `name` (exact case), or
 * NULL (also when the query does not decode: sigv4_canonical_request refuses it too). */
static char *query_get(const char *query, const char *name)
{
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        char *k = uri_decode(p, klen);
        bool match = k && strcmp(k, name) == 0;
        free(k);
        if (match)
            return eq ? uri_decode(eq + 1, len - klen - 1) : strdup("");
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* ---------------------------------------------------------------- signed headers */

static const char *header_get(const struct sigv4_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

/* The signed-header list must be lowercase tokens, strictly ascending, each present. */
static bool valid_signed_headers(const struct sigv4_request *req, const char *list)
{
    if (!list || !*list)
        return false;
    const char *p = list, *prev = NULL;
    size_t prev_len = 0;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len > 128)
            return false;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.'))
                return false;
        }
        if (prev) {
            size_t m = prev_len < len ? prev_len : len;
            int c = memcmp(prev, p, m);
            if (c > 0 || (c == 0 && prev_len >= len))
                return false;
        }
        char name[129];
        memcpy(name, p, len);
        name[len] = '\0';
        if (!header_get(req, name))
            return false;
        prev = p;
        prev_len = len;
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            return false;
    }
    return true;
}

static bool list_contains(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* ---------------------------------------------------------------- parsing the credential */

struct auth_fields {
    char *credential;
    char *signed_headers;
    char *signature;
    char *amz_date;
    char *expires;      /* presigned only */
    char *token;        /* x-amz-security-token, either place */
    bool presigned;
};

static void free_fields(struct auth_fields *f)
{
    free(f->credential);
    free(f->signed_headers);
    free(f->signature);
    free(f->amz_date);
    free(f->expires);
    free(f->token);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_s(const char *s) { return s ? dup_n(s, strlen(s)) : NULL; }

static enum sigv4_result parse_authorization(const char *auth, struct auth_fields *f)
{
    size_t alg_len = strlen(SIGV4_ALGORITHM);
    if (strncmp(auth, SIGV4_ALGORITHM, alg_len) != 0)
        return strncmp(auth, "AWS4-", 5) == 0 || strncmp(auth, "AWS ", 4) == 0
                   ? SIGV4_UNSUPPORTED : SIGV4_NO_AUTH;
    const char *p = auth + alg_len;
    if (*p != ' ')
        return SIGV4_MALFORMED;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && p[len - 1] == ' ')
            len--;
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return SIGV4_MALFORMED;
        size_t klen = (size_t)(eq - p);
        char **slot = NULL;
        if (klen == 10 && memcmp(p, "Credential", 10) == 0) slot = &f->credential;
        else if (klen == 13 && memcmp(p, "SignedHeaders", 13) == 0) slot = &f->signed_headers;
        else if (klen == 9 && memcmp(p, "Signature", 9) == 0) slot = &f->signature;
        else return SIGV4_MALFORMED;
        if (*slot)
            return SIGV4_MALFORMED;
        *slot = dup_n(eq + 1, len - klen - 1);
        p = end ? end + 1 : p + strlen(p);
    }
    if (!f->credential || !f->signed_headers || !f->signature)
        return SIGV4_MALFORMED;
    return SIGV4_OK;
}

static enum sigv4_result gather_fields(const struct sigv4_request *req, struct auth_fields *f)
{
    const char *auth = header_get(req, "authorization");
    enum sigv4_result r;
    if (auth) {
        r = parse_authorization(auth, f);
        if (r != SIGV4_OK)
            return r;
        f->amz_date = dup_s(header_get(req, "x-amz-date"));
        f->token = dup_s(header_get(req, "x-amz-security-token"));
    } else {
        char *alg = query_get(req->query, "X-Amz-Algorithm");
        if (!alg)
            return SIGV4_NO_AUTH;
        bool ok = strcmp(alg, SIGV4_ALGORITHM) == 0;
        free(alg);
        if (!ok)
            return SIGV4_UNSUPPORTED;
        f->presigned = true;
        f->credential = query_get(req->query, "X-Amz-Credential");
        f->signed_headers = query_get(req->query, "X-Amz-SignedHeaders");
        f->signature = query_get(req->query, "X-Amz-Signature");
        f->amz_date = query_get(req->query, "X-Amz-Date");
        f->expires = query_get(req->query, "X-Amz-Expires");
        f->token = query_get(req->query, "X-Amz-Security-Token");
        if (!f->credential || !f->signed_headers || !f->signature || !f->expires)
            return SIGV4_MALFORMED;
    }
    if (!f->amz_date)
        return SIGV4_MALFORMED;
    return SIGV4_OK;
}

/* YYYYMMDDTHHMMSSZ → seconds since the epoch; false when malformed. */
static bool parse_amz_date(const char *s, time_t *out)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return false;
    struct tm tm = { 0 };
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

/* ---------------------------------------------------------------- the verifier */

static bool tokens_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static bool check_signature_with(struct sigv4_verifier *v, const char *prefix,
                                 const char *payload_hash)
{
    struct strbuf creq = { 0 };
    strbuf_puts(&creq, prefix);
    strbuf_puts(&creq, payload_hash);
    char *sts = sigv4_string_to_sign(v->amz_date, v->scope, creq.data, creq.len);
    unsigned char mac[32];
    sigv4_signature(v->signing_key, sts, strlen(sts), mac);
    bool ok = CRYPTO_memcmp(mac, v->signature, 32) == 0;
    strbuf_free(&creq);
    free(sts);
    return ok;
}

/* The token is not an integrity input (it is compared to the configured one separately), so
 * a presigned URL whose token was added after signing is accepted as AWS accepts it; nor is
 * the Host header's port (one silod answers on one port), so a signature over the host name
 * alone is accepted too. Path, query, date, scope, key and the other signed headers are. */
static bool check_signature(struct sigv4_verifier *v, const char *payload_hash)
{
    for (int i = 0; i < SIGV4_FORMS; i++)
        if (v->canonical_prefix[i] && check_signature_with(v, v->canonical_prefix[i], payload_hash))
            return true;
    return false;
}

/* The Host header's value without a trailing ":digits" port, or NULL when it has none. */
static char *host_without_port(const struct sigv4_request *req)
{
    const char *host = header_get(req, "host");
    const char *colon = host ? strrchr(host, ':') : NULL;
    if (!colon || colon == host || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strchr(host, ']') > colon)
        return NULL;
    return dup_n(host, (size_t)(colon - host));
}

/* The canonical request forms of a request (see SIGV4_FORMS). False on a broken query. */
static bool canonical_forms(struct sigv4_verifier *v, const struct sigv4_request *req, const char *signed_headers,
                            unsigned canon, bool token_form)
{
    v->canonical_prefix[0] = sigv4_canonical_request(req, signed_headers, "", canon);
    if (!v->canonical_prefix[0])
        return false;
    if (token_form)
        v->canonical_prefix[1] = sigv4_canonical_request(req, signed_headers, "", canon | SIGV4_CANON_OMIT_TOKEN);
    char *bare = host_without_port(req);
    if (!bare)
        return true;
    if (req->header_count > 64) {
        free(bare);
        return true;
    }
    struct sigv4_header h[64];
    for (size_t i = 0; i < req->header_count; i++) {
        h[i] = req->headers[i];
        if (strcasecmp(h[i].name, "host") == 0)
            h[i].value = bare;
    }
    struct sigv4_request portless = *req;
    portless.headers = h;
    v->canonical_prefix[2] = sigv4_canonical_request(&portless, signed_headers, "", canon);
    if (token_form)
        v->canonical_prefix[3] = sigv4_canonical_request(&portless, signed_headers, "", canon | SIGV4_CANON_OMIT_TOKEN);
    free(bare);
    return true;
}

static enum sigv4_result check_scope(const struct auth_fields *f, const struct sigv4_config *cfg,
                                     char **access_key, char **scope)
{
    /* AK/yyyymmdd/region/service/aws4_request */
    const char *parts[5];
    size_t lens[5];
    const char *p = f->credential;
    for (int i = 0; i < 5; i++) {
        const char *end = strchr(p, '/');
        if ((i < 4) != (end != NULL))
            return SIGV4_MALFORMED;
        parts[i] = p;
        lens[i] = end ? (size_t)(end - p) : strlen(p);
        if (lens[i] == 0)
            return SIGV4_MALFORMED;
        p = end ? end + 1 : p;
    }
    if (lens[0] > 128)
        return SIGV4_MALFORMED;
    if (lens[1] != 8 || memcmp(parts[1], f->amz_date, 8) != 0 ||
        lens[2] != strlen(cfg->region) || memcmp(parts[2], cfg->region, lens[2]) != 0 ||
        lens[3] != strlen(cfg->service) || memcmp(parts[3], cfg->service, lens[3]) != 0 ||
        lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0)
        return SIGV4_BAD_SCOPE;
    *access_key = dup_n(parts[0], lens[0]);
    *scope = dup_n(parts[1], 8);
    return SIGV4_OK;
}

static enum sigv4_result check_time(const struct auth_fields *f, const struct sigv4_config *cfg,
                                    time_t signed_at)
{
    if (!f->presigned) {
        long long d = (long long)cfg->now - (long long)signed_at;
        return (d > cfg->max_skew_seconds || -d > cfg->max_skew_seconds) ? SIGV4_CLOCK_SKEW
                                                                           : SIGV4_OK;
    }
    char *end;
    long long expires = strtoll(f->expires, &end, 10);
    if (*end || end == f->expires || expires < 1 || expires > SIGV4_MAX_PRESIGN_EXPIRES)
        return SIGV4_MALFORMED;
    if ((long long)signed_at - (long long)cfg->now > cfg->max_skew_seconds ||
        (long long)cfg->now > (long long)signed_at + expires)
        return SIGV4_CLOCK_SKEW;
    return SIGV4_OK;
}

enum sigv4_result sigv4_begin(const struct sigv4_request *req, const struct sigv4_config *cfg,
                              struct sigv4_verifier **out)
{
    *out = NULL;
    struct auth_fields f = { 0 };
    char *access_key = NULL, *scope = NULL;
    struct sigv4_verifier *v = NULL;
    enum sigv4_result r = gather_fields(req, &f);
    if (r != SIGV4_OK)
        goto done;

    time_t signed_at;
    r = SIGV4_MALFORMED;
    if (!parse_amz_date(f.amz_date, &signed_at))
        goto done;
    if (!valid_signed_headers(req, f.signed_headers) || !list_contains(f.signed_headers, "host"))
        goto done;
    if (!f.presigned && !list_contains(f.signed_headers, "x-amz-date"))
        goto done;
    const char *content_sha = header_get(req, "x-amz-content-sha256");
    if (content_sha && !list_contains(f.signed_headers, "x-amz-content-sha256"))
        goto done;

    v = calloc(1, sizeof *v);
    if (!v)
        abort();
    if (!from_hex(f.signature, v->signature, 32))
        goto done;
    r = check_scope(&f, cfg, &access_key, &scope);
    if (r != SIGV4_OK)
        goto done;
    r = check_time(&f, cfg, signed_at);
    if (r != SIGV4_OK)
        goto done;

    const struct sigv4_key *key = cfg->lookup ? cfg->lookup(cfg->lookup_ctx, access_key) : NULL;
    r = SIGV4_UNKNOWN_KEY;
    if (!key || !key->secret_access_key)
        goto done;
    r = SIGV4_BAD_TOKEN;
    if (key->session_token ? !f.token || !tokens_equal(f.token, key->session_token) : f.token != NULL)
        goto done;

    const char *payload_hash = NULL;
    if (content_sha) {
        if (strcmp(content_sha, "UNSIGNED-PAYLOAD") == 0) {
            payload_hash = content_sha;
        } else if (strncmp(content_sha, "STREAMING-", 10) == 0) {
            r = SIGV4_UNSUPPORTED;
            goto done;
        } else if (from_hex(content_sha, v->claimed_hash, 32)) {
            payload_hash = content_sha;
            v->check_body_hash = true;
        } else {
            r = SIGV4_MALFORMED;
            goto done;
        }
    }

    r = SIGV4_MALFORMED;
    unsigned canon = (cfg->normalize_path ? SIGV4_CANON_NORMALIZE_PATH : 0) |
                     (f.presigned ? SIGV4_CANON_PRESIGNED : 0);
    if (!canonical_forms(v, req, f.signed_headers, canon, f.presigned && f.token))
        goto done;
    v->scope = sigv4_scope(scope, cfg->region, cfg->service);
    memcpy(v->amz_date, f.amz_date, 17);
    sigv4_signing_key(key->secret_access_key, scope, cfg->region, cfg->service, v->signing_key);
    v->principal = dup_s(key->principal ? key->principal : key->access_key_id);
    v->body_hash = EVP_MD_CTX_new();
    if (!v->body_hash || !EVP_DigestInit_ex(v->body_hash, EVP_sha256(), NULL))
        abort();
    if (payload_hash) {
        r = check_signature(v, payload_hash) ? SIGV4_OK : SIGV4_BAD_SIGNATURE;
        v->verified = r == SIGV4_OK;
    } else {
        v->payload_from_body = true;
        r = SIGV4_OK;
    }

done:
    free_fields(&f);
    free(access_key);
    free(scope);
    if (r != SIGV4_OK)
        sigv4_free(v);
    else
        *out = v;
    return r;
}

bool sigv4_signature_verified(const struct sigv4_verifier *v) { return v && v->verified; }

bool sigv4_body_pending(const struct sigv4_verifier *v)
{
    return v && (v->payload_from_body || v->check_body_hash);
}

void sigv4_update(struct sigv4_verifier *v, const void *data, size_t len)
{
    if (len && (v->payload_from_body || v->check_body_hash))
        EVP_DigestUpdate(v->body_hash, data, len);
}

enum sigv4_result sigv4_finish(struct sigv4_verifier *v)
{
    if (!v->payload_from_body && !v->check_body_hash)
        return v->verified ? SIGV4_OK : SIGV4_BAD_SIGNATURE;
    unsigned char digest[32];
    unsigned int n = 32;
    EVP_DigestFinal_ex(v->body_hash, digest, &n);
    if (v->check_body_hash) {
        v->check_body_hash = false;
        v->verified = v->verified && CRYPTO_memcmp(digest, v->claimed_hash, 32) == 0;
        return v->verified ? SIGV4_OK : SIGV4_PAYLOAD_MISMATCH;
    }
    char hex[65];
    sigv4_hex(digest, 32, hex);
    v->verified = check_signature(v, hex);
    v->payload_from_body = false;
    return v->verified ? SIGV4_OK : SIGV4_BAD_SIGNATURE;
}

const char *sigv4_principal(const struct sigv4_verifier *v) { return v ? v->principal : NULL; }

void sigv4_free(struct sigv4_verifier *v)
{
    if (!v)
        return;
    OPENSSL_cleanse(v->signing_key, sizeof v->signing_key);
    for (int i = 0; i < SIGV4_FORMS; i++)
        free(v->canonical_prefix[i]);
    free(v->scope);
    free(v->principal);
    EVP_MD_CTX_free(v->body_hash);
    free(v);
}
