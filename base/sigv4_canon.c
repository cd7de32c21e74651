/* base/sigv4_canon.c — the one SigV4 canonicaliser (see sigv4_canon.h for the rules). */
#include "base/sigv4_canon.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/url.h"

#define MAX_NAME 128

/* ---------------------------------------------------------------- a growable string */

struct cbuf {
    char *data;
    size_t len, cap;
};

static void cb_append(struct cbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            abort();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void cb_puts(struct cbuf *b, const char *s) { cb_append(b, s, strlen(s)); }
static void cb_putc(struct cbuf *b, char c) { cb_append(b, &c, 1); }

static char *cb_take(struct cbuf *b)
{
    if (!b->data)
        cb_append(b, "", 0);
    char *d = b->data;
    *b = (struct cbuf){ 0 };
    return d;
}

static void cb_free(struct cbuf *b)
{
    free(b->data);
    *b = (struct cbuf){ 0 };
}

/* ---------------------------------------------------------------- encoding */

static bool is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void uri_encode(struct cbuf *out, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            cb_putc(out, (char)c);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            cb_append(out, e, 3);
        }
    }
}

/* Percent-decodes s[0..len) into out with the one decoder (base/url.h); false on a broken
 * escape or an embedded NUL. */
static bool uri_decode(struct cbuf *out, const char *s, size_t len)
{
    char *tmp = malloc(len + 1);
    if (!tmp)
        abort();
    ssize_t n = url_decode(s, len, tmp, len + 1);
    if (n > 0)
        cb_append(out, tmp, (size_t)n);
    free(tmp);
    return n >= 0;
}

void sigv4_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(data, len, d);
    sigv4_hex(d, sizeof d, hex);
}

/* ---------------------------------------------------------------- canonical URI */

static void canonical_uri(struct cbuf *out, const char *path, bool normalize)
{
    if (!path || !*path) {
        cb_putc(out, '/');
        return;
    }
    if (!normalize) {
        uri_encode(out, path, strlen(path), true);
        return;
    }
    /* dot segments and empty segments removed, a trailing slash kept */
    size_t n = strlen(path);
    const char **seg = calloc(n + 1, sizeof *seg);
    size_t *seg_len = calloc(n + 1, sizeof *seg_len);
    if (!seg || !seg_len)
        abort();
    size_t count = 0;
    bool trailing = false;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        bool dot = len == 1 && start[0] == '.', dotdot = len == 2 && start[0] == '.' && start[1] == '.';
        trailing = *p == '/' || dot || dotdot;
        if (len == 0) {
            trailing = true;
            continue;
        }
        if (dot)
            continue;
        if (dotdot) {
            if (count)
                count--;
            continue;
        }
        seg[count] = start;
        seg_len[count] = len;
        count++;
    }
    cb_putc(out, '/');
    for (size_t i = 0; i < count; i++) {
        if (i)
            cb_putc(out, '/');
        uri_encode(out, seg[i], seg_len[i], false);
    }
    if (count && trailing)
        cb_putc(out, '/');
    free(seg);
    free(seg_len);
}

/* ---------------------------------------------------------------- canonical query */

struct query_param {
    char *key;      /* strictly encoded */
    char *value;    /* strictly encoded */
    char *decoded_key;
};

static int compare_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static void free_params(struct query_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].key);
        free(p[i].value);
        free(p[i].decoded_key);
    }
    free(p);
}

/* Splits the raw query into decoded-then-strictly-encoded pairs; false on a broken escape. */
static bool parse_query(const char *query, struct query_param **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!query || !*query)
        return true;
    size_t cap = 1;
    for (const char *q = query; *q; q++)
        cap += *q == '&';
    struct query_param *params = calloc(cap, sizeof *params);
    if (!params)
        abort();
    size_t n = 0;
    for (const char *p = query; p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            struct cbuf k = { 0 }, v = { 0 }, ke = { 0 }, ve = { 0 };
            if (!uri_decode(&k, p, klen) || (eq && !uri_decode(&v, eq + 1, len - klen - 1))) {
                cb_free(&k);
                cb_free(&v);
                free_params(params, n);
                return false;
            }
            uri_encode(&ke, k.data ? k.data : "", k.len, false);
            uri_encode(&ve, v.data ? v.data : "", v.len, false);
            params[n].key = cb_take(&ke);
            params[n].value = cb_take(&ve);
            params[n].decoded_key = cb_take(&k);
            cb_free(&v);
            n++;
        }
        p = end ? end + 1 : NULL;
    }
    *out = params;
    *count = n;
    return true;
}

static bool canonical_query(struct cbuf *out, const char *query, unsigned flags)
{
    struct query_param *params;
    size_t n;
    if (!parse_query(query, &params, &n))
        return false;
    if (n > 1)
        qsort(params, n, sizeof *params, compare_params);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if ((flags & SIGV4_CANON_PRESIGNED) && strcmp(params[i].decoded_key, "X-Amz-Signature") == 0)
            continue;
        if ((flags & SIGV4_CANON_OMIT_TOKEN) && strcmp(params[i].decoded_key, "X-Amz-Security-Token") == 0)
            continue;
        if (!first)
            cb_putc(out, '&');
        first = false;
        cb_puts(out, params[i].key);
        cb_putc(out, '=');
        cb_puts(out, params[i].value);
    }
    free_params(params, n);
    return true;
}

/* ---------------------------------------------------------------- canonical headers */

/* Every value of header `name` (any case), trimmed and space-collapsed, joined by ','. */
static void append_header_values(struct cbuf *out, const struct sigv4_request *req, const char *name)
{
    size_t found = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        if (found++)
            cb_putc(out, ',');
        const char *v = req->headers[i].value ? req->headers[i].value : "";
        bool pending_space = false, started = false;
        for (; *v; v++) {
            if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
                pending_space = started;
                continue;
            }
            if (pending_space)
                cb_putc(out, ' ');
            pending_space = false;
            started = true;
            cb_putc(out, *v);
        }
    }
}

char *sigv4_canonical_request(const struct sigv4_request *req, const char *signed_headers,
                              const char *payload_hash, unsigned flags)
{
    struct cbuf b = { 0 };
    cb_puts(&b, req->method ? req->method : "");
    cb_putc(&b, '\n');
    canonical_uri(&b, req->path, flags & SIGV4_CANON_NORMALIZE_PATH);
    cb_putc(&b, '\n');
    if (!canonical_query(&b, req->query, flags)) {
        cb_free(&b);
        return NULL;
    }
    cb_putc(&b, '\n');
    for (const char *p = signed_headers; p && *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char name[MAX_NAME + 1];
        if (len == 0 || len > MAX_NAME) {
            cb_free(&b);
            return NULL;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        cb_puts(&b, name);
        cb_putc(&b, ':');
        append_header_values(&b, req, name);
        cb_putc(&b, '\n');
        p = end ? end + 1 : NULL;
    }
    cb_putc(&b, '\n');
    cb_puts(&b, signed_headers ? signed_headers : "");
    cb_putc(&b, '\n');
    cb_puts(&b, payload_hash ? payload_hash : "");
    return cb_take(&b);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *sigv4_signed_header_list(const struct sigv4_request *req)
{
    char (*names)[MAX_NAME + 1] = calloc(req->header_count + 1, sizeof *names);
    char **sorted = calloc(req->header_count + 1, sizeof *sorted);
    if (!names || !sorted)
        abort();
    char *list = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        const char *n = req->headers[i].name;
        size_t len = n ? strlen(n) : 0;
        if (len == 0 || len > MAX_NAME)
            goto out;
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)n[k];
            if (!isalnum(c) && c != '-' && c != '_' && c != '.')
                goto out;
            names[i][k] = (char)tolower(c);
        }
        names[i][len] = '\0';
        sorted[i] = names[i];
    }
    qsort(sorted, req->header_count, sizeof *sorted, compare_names);
    struct cbuf b = { 0 };
    for (size_t i = 0; i < req->header_count; i++) {
        if (i && strcmp(sorted[i], sorted[i - 1]) == 0)
            continue;
        if (b.len)
            cb_putc(&b, ';');
        cb_puts(&b, sorted[i]);
    }
    list = cb_take(&b);
out:
    free(names);
    free(sorted);
    return list;
}

/* ---------------------------------------------------------------- string to sign, key, signature */

char *sigv4_scope(const char *amz_date, const char *region, const char *service)
{
    struct cbuf b = { 0 };
    cb_append(&b, amz_date, strnlen(amz_date, 8));
    cb_putc(&b, '/');
    cb_puts(&b, region);
    cb_putc(&b, '/');
    cb_puts(&b, service);
    cb_puts(&b, "/aws4_request");
    return cb_take(&b);
}

char *sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical, size_t len)
{
    char hash[65];
    sigv4_sha256_hex(canonical, len, hash);
    struct cbuf b = { 0 };
    cb_puts(&b, SIGV4_ALGORITHM "\n");
    cb_puts(&b, amz_date);
    cb_putc(&b, '\n');
    cb_puts(&b, scope);
    cb_putc(&b, '\n');
    cb_puts(&b, hash);
    return cb_take(&b);
}

static void hmac(const unsigned char *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
    unsigned int out_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

void sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                       unsigned char key[32])
{
    size_t secret_len = strlen(secret);
    unsigned char *k0 = malloc(secret_len + 4);
    if (!k0)
        abort();
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, secret_len);
    unsigned char a[32], b[32];
    hmac(k0, secret_len + 4, date8, strnlen(date8, 8), a);
    OPENSSL_cleanse(k0, secret_len + 4);
    free(k0);
    hmac(a, 32, region, strlen(region), b);
    hmac(b, 32, service, strlen(service), a);
    hmac(a, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
}

void sigv4_signature(const unsigned char key[32], const char *string_to_sign, size_t len, unsigned char sig[32])
{
    hmac(key, 32, string_to_sign, len, sig);
}
