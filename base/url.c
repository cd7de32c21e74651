/* base/url.c — percent-decoding, query lookup and log-safe URLs (see url.h). */
#include "base/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int url_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t url_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int h = url_hex_value(in[i + 1]), l = url_hex_value(in[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -1;
            c = (char)(h * 16 + l);
            i += 2;
        } else if (c == '\0') {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

/* Calls fn for each `key[=value]` piece of query; stops when fn returns non-zero. */
static int each_param(const char *query, int (*fn)(void *, const char *, size_t, const char *, size_t),
                      void *ctx)
{
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            int r = fn(ctx, p, klen, eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0);
            if (r)
                return r;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static int check_param(void *ctx, const char *k, size_t klen, const char *v, size_t vlen)
{
    (void)ctx;
    char *buf = malloc((klen > vlen ? klen : vlen) + 1);
    if (!buf)
        abort();
    bool ok = url_decode(k, klen, buf, klen + 1) >= 0 && url_decode(v, vlen, buf, vlen + 1) >= 0;
    free(buf);
    return ok ? 0 : -1;
}

bool url_query_valid(const char *query)
{
    return each_param(query, check_param, NULL) == 0;
}

struct lookup {
    const char *name;
    char *out;
    size_t cap;
};

static int find_param(void *ctx, const char *k, size_t klen, const char *v, size_t vlen)
{
    struct lookup *l = ctx;
    char kb[256];       /* a key that does not fit is not one silod looks up */
    if (url_decode(k, klen, kb, sizeof kb) < 0 || strcmp(kb, l->name) != 0)
        return 0;
    return url_decode(v, vlen, l->out, l->cap) < 0 ? -1 : 1;
}

int url_query_param(const char *query, const char *name, char *out, size_t cap)
{
    struct lookup l = { name, out, cap };
    if (cap)
        out[0] = '\0';
    return each_param(query, find_param, &l);
}

const char *url_escape_for_log(const char *raw, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return out;
    for (const unsigned char *p = (const unsigned char *)(raw ? raw : ""); *p; p++) {
        bool plain = *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need + 4 > cap) {          /* room for "..." and the NUL */
            snprintf(out + o, cap - o, "%s", cap - o > 3 ? "..." : "");
            return out;
        }
        if (plain)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
    }
    out[o] = '\0';
    return out;
}
