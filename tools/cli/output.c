/* tools/cli/output.c — readable and JSON output of the `silo` CLI (see output.h). */
#include "tools/cli/output.h"

#include <stdlib.h>
#include <string.h>

#define MAX_KEY_WIDTH 60
#define MAX_PATH 512

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "silo: out of memory\n");
        exit(1);
    }
    return p;
}

/* A copy of s with control characters replaced by '?'. */
static char *sanitize_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            d[i] = '?';
        } else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f) {
            d[i] = '?';                 /* a C1 control character in UTF-8 */
            d[++i] = '?';
        } else {
            d[i] = (char)c;
        }
    }
    d[n] = '\0';
    return d;
}

void out_sanitized(FILE *f, const char *s)
{
    char *d = sanitize_dup(s);
    fputs(d, f);
    free(d);
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void pad(size_t n)
{
    while (n--)
        putchar(' ');
}

void out_json(json_object *o)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    puts(s);
}

static const char *scalar_text(json_object *v)
{
    if (!v)
        return "null";
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static bool is_scalar(json_object *v)
{
    return !v || (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array));
}

struct kv_list {
    char **keys, **values;
    size_t n, cap;
};

static void kv_add(struct kv_list *l, const char *key, const char *value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->keys = realloc(l->keys, l->cap * sizeof *l->keys);
        l->values = realloc(l->values, l->cap * sizeof *l->values);
        if (!l->keys || !l->values) {
            fprintf(stderr, "silo: out of memory\n");
            exit(1);
        }
    }
    l->keys[l->n] = sanitize_dup(key);
    l->values[l->n++] = sanitize_dup(value);
}

static void flatten(struct kv_list *l, const char *prefix, json_object *v, int depth)
{
    if (is_scalar(v) || depth > 32) {
        kv_add(l, prefix, is_scalar(v) ? scalar_text(v) : "…");
        return;
    }
    char key[MAX_PATH];
    if (json_object_is_type(v, json_type_object)) {
        if (json_object_object_length(v) == 0)
            kv_add(l, prefix, "{}");
        json_object_object_foreach(v, k, child) {
            snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k);
            flatten(l, key, child, depth + 1);
        }
        return;
    }
    size_t n = json_object_array_length(v);
    bool scalars = true;
    for (size_t i = 0; i < n; i++)
        scalars = scalars && is_scalar(json_object_array_get_idx(v, i));
    if (scalars) {
        size_t total = 1;
        for (size_t i = 0; i < n; i++)
            total += strlen(scalar_text(json_object_array_get_idx(v, i))) + 2;
        char *joined = xmalloc(total);
        joined[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(joined, ", ");
            strcat(joined, scalar_text(json_object_array_get_idx(v, i)));
        }
        kv_add(l, prefix, joined);
        free(joined);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s[%zu]", prefix, i);
        flatten(l, key, json_object_array_get_idx(v, i), depth + 1);
    }
}

static bool listed(const char *const *keys, const char *k)
{
    for (; keys && *keys; keys++)
        if (strcmp(*keys, k) == 0)
            return true;
    return false;
}

void out_key_values(json_object *o, const char *const *keys, bool rest)
{
    struct kv_list l = { 0 };
    for (const char *const *k = keys; k && *k; k++) {
        json_object *v;
        if (json_object_object_get_ex(o, *k, &v))
            flatten(&l, *k, v, 0);
    }
    if (rest) {
        json_object_object_foreach(o, k, v)
            if (!listed(keys, k))
                flatten(&l, k, v, 0);
    }
    size_t kw = 0;
    for (size_t i = 0; i < l.n; i++) {
        size_t w = width(l.keys[i]);
        if (w > kw && w <= MAX_KEY_WIDTH)
            kw = w;
    }
    for (size_t i = 0; i < l.n; i++) {
        size_t w = width(l.keys[i]);
        printf("%s:", l.keys[i]);
        pad(w < kw ? kw - w + 1 : 1);
        puts(l.values[i]);
        free(l.keys[i]);
        free(l.values[i]);
    }
    free(l.keys);
    free(l.values);
}

json_object *out_get_path(json_object *o, const char *path)
{
    char part[MAX_PATH];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part || !json_object_is_type(o, json_type_object))
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        if (!json_object_object_get_ex(o, part, &o))
            return NULL;
        path = dot ? dot + 1 : path + n;
    }
    return o;
}

const char *out_get_string(json_object *o, const char *path)
{
    json_object *v = out_get_path(o, path);
    if (!v || !is_scalar(v))
        return "";
    return scalar_text(v);
}

void out_table(json_object *items, const char *const *titles, const char *const *paths, size_t columns)
{
    size_t rows = items && json_object_is_type(items, json_type_array) ? json_object_array_length(items) : 0;
    char **cells = xmalloc((rows + 1) * columns * sizeof *cells);
    size_t *w = xmalloc(columns * sizeof *w);
    for (size_t c = 0; c < columns; c++) {
        cells[c] = sanitize_dup(titles[c]);
        w[c] = width(cells[c]);
    }
    for (size_t r = 0; r < rows; r++) {
        json_object *it = json_object_array_get_idx(items, r);
        for (size_t c = 0; c < columns; c++) {
            char *s = sanitize_dup(out_get_string(it, paths[c]));
            cells[(r + 1) * columns + c] = s;
            if (width(s) > w[c])
                w[c] = width(s);
        }
    }
    for (size_t r = 0; r <= rows; r++) {
        size_t last = columns;      /* no padding after the last non-empty cell */
        while (last > 1 && !cells[r * columns + last - 1][0])
            last--;
        for (size_t c = 0; c < columns; c++) {
            char *s = cells[r * columns + c];
            fputs(s, stdout);
            if (c + 1 < last)
                pad(w[c] - width(s) + 2);
            free(s);
        }
        putchar('\n');
    }
    free(cells);
    free(w);
}
