/* tools/cli/sigv4_sign.c — the CLI's own AWS SigV4 signer (HMAC-SHA256, OpenSSL), used for
 * the requests libcurl's signer gets wrong.
 *
 * Why: InvokeAgentRuntime and StopRuntimeSession name the runtime by ARN, percent-encoded into
 * one path segment (`arn%3Aaws%3A…%2F…`). For every non-S3 service the SigV4 canonical URI is
 * the path as sent *encoded once more* (`arn%253Aaws…`), which is what the AWS SDKs sign and
 * what silod verifies (reference §1.6). libcurl 7.88's CURLOPT_AWS_SIGV4 (Debian 12) puts the
 * path into the canonical request as it is, so its signature of such a path never verifies
 * (checked against silod: 403 "the request signature is not valid"). Every request whose path
 * contains a '%' is therefore signed here; all others use libcurl's signer (api_client.c).
 * SILO_CLI_OWN_SIGV4=1 makes every request go through this file (a check of this signer).
 *
 * The canonical request is built as silod's verifier (frontend/sigv4.c) and the SDKs build it:
 * method, the path encoded again ('/' kept), the query pairs sorted (already strictly encoded
 * by the caller), the signed headers lower-cased and sorted with trimmed, space-collapsed
 * values, the signed-header list and the payload hash.
 */
#include "tools/cli/sigv4_sign.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define MAX_SIGNED_HEADERS 24
#define MAX_QUERY_PAIRS 32
#define CANONICAL_MAX (64u << 10)

/* A bounded string builder: once something does not fit, `ok` stays false. */
struct buf {
    char *p;
    size_t len, cap;
    bool ok;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (!b->ok || b->len + n + 1 > b->cap) {
        b->ok = false;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex_encode(md, sizeof md, hex);
}

static void hmac(const void *key, size_t key_len, const char *data, unsigned char out[32])
{
    unsigned int out_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &out_len);
}

void sigv4_sign_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* The path as sent, encoded once more ('/' kept). */
static void canonical_uri(struct buf *b, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!path || !*path) {
        puts_(b, "/");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (unreserved(*p) || *p == '/') {
            put(b, (const char *)p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            put(b, e, 3);
        }
    }
}

struct pair {
    const char *s;
    size_t len;       /* the whole name=value */
    size_t name_len;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->s, y->s, n);
    if (c || x->name_len != y->name_len)
        return c ? c : (x->name_len < y->name_len ? -1 : 1);
    size_t xl = x->len - x->name_len, yl = y->len - y->name_len;
    c = memcmp(x->s + x->name_len, y->s + y->name_len, xl < yl ? xl : yl);
    return c ? c : (xl < yl ? -1 : xl > yl);
}

static bool canonical_query(struct buf *b, const char *query)
{
    struct pair pairs[MAX_QUERY_PAIRS];
    size_t n = 0;
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            if (n == MAX_QUERY_PAIRS)
                return false;
            const char *eq = memchr(p, '=', len);
            pairs[n++] = (struct pair){ p, len, eq ? (size_t)(eq - p) : len };
        }
        p = end ? end + 1 : NULL;
    }
    qsort(pairs, n, sizeof pairs[0], pair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            puts_(b, "&");
        put(b, pairs[i].s, pairs[i].len);
        if (pairs[i].name_len == pairs[i].len)
            puts_(b, "=");
    }
    return true;
}

struct lower_header {
    char name[128];
    const char *value;
};

static int header_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lower_header *)a)->name, ((const struct lower_header *)b)->name);
}

/* value trimmed, runs of spaces and tabs collapsed to one space */
static void canonical_value(struct buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    bool space = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = true;
            continue;
        }
        if (space)
            puts_(b, " ");
        space = false;
        put(b, v, 1);
    }
}

bool sigv4_sign(const struct sigv4_sign_input *in, char *out, size_t out_len)
{
    struct lower_header hs[MAX_SIGNED_HEADERS];
    if (in->header_count > MAX_SIGNED_HEADERS || strlen(in->amz_date) != 16)
        return false;
    for (size_t i = 0; i < in->header_count; i++) {
        size_t n = strlen(in->headers[i].name);
        if (n == 0 || n >= sizeof hs[i].name)
            return false;
        for (size_t k = 0; k <= n; k++)
            hs[i].name[k] = (char)tolower((unsigned char)in->headers[i].name[k]);
        hs[i].value = in->headers[i].value;
    }
    qsort(hs, in->header_count, sizeof hs[0], header_cmp);

    char *canon = malloc(CANONICAL_MAX);
    if (!canon)
        return false;
    struct buf c = { canon, 0, CANONICAL_MAX, true };
    canon[0] = '\0';
    puts_(&c, in->method);
    puts_(&c, "\n");
    canonical_uri(&c, in->path);
    puts_(&c, "\n");
    bool ok = canonical_query(&c, in->query);
    puts_(&c, "\n");
    for (size_t i = 0; i < in->header_count; i++) {
        puts_(&c, hs[i].name);
        puts_(&c, ":");
        canonical_value(&c, hs[i].value);
        puts_(&c, "\n");
    }
    puts_(&c, "\n");
    char signed_headers[MAX_SIGNED_HEADERS * 129] = "";
    struct buf sh = { signed_headers, 0, sizeof signed_headers, true };
    for (size_t i = 0; i < in->header_count; i++) {
        if (i)
            puts_(&sh, ";");
        puts_(&sh, hs[i].name);
    }
    puts_(&c, signed_headers);
    puts_(&c, "\n");
    puts_(&c, in->payload_hash);
    ok = ok && c.ok && sh.ok;

    char canon_hash[65], date[9], scope[256], to_sign[512];
    sigv4_sha256_hex(canon, c.len, canon_hash);
    free(canon);
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    int sl = snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, in->region, in->service);
    int tl = snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", in->amz_date, scope, canon_hash);
    if (!ok || sl < 0 || (size_t)sl >= sizeof scope || tl < 0 || (size_t)tl >= sizeof to_sign)
        return false;

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    size_t secret_len = strlen(in->secret_key);
    char *k0 = malloc(secret_len + 5);
    if (!k0)
        return false;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, in->secret_key, secret_len + 1);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    hmac(k0, secret_len + 4, date, k1);
    explicit_bzero(k0, secret_len + 4);
    free(k0);
    hmac(k1, 32, in->region, k2);
    hmac(k2, 32, in->service, k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, to_sign, sig);
    explicit_bzero(k1, 32);
    explicit_bzero(k2, 32);
    explicit_bzero(k3, 32);
    explicit_bzero(k4, 32);
    char sig_hex[65];
    hex_encode(sig, 32, sig_hex);
    int n = snprintf(out, out_len, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     in->access_key, scope, signed_headers, sig_hex);
    return n > 0 && (size_t)n < out_len;
}
