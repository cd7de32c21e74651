/* base/state_buf.c — snapshot state encoding (see state_buf.h). */
#include "base/state_buf.h"

#include <stdlib.h>
#include <string.h>

void state_writer_init(struct state_writer *w)
{
    memset(w, 0, sizeof *w);
}

void state_writer_free(struct state_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

bool state_writer_ok(const struct state_writer *w)
{
    return !w->failed;
}

void state_put_bytes(struct state_writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (n > SIZE_MAX / 2 - w->len) {
        w->failed = true;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *d = realloc(w->data, cap);
        if (d == NULL) {
            w->failed = true;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void put_le(struct state_writer *w, uint64_t v, unsigned bytes)
{
    uint8_t b[8];
    for (unsigned i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    state_put_bytes(w, b, bytes);
}

void state_put_u8(struct state_writer *w, uint8_t v) { put_le(w, v, 1); }
void state_put_u16(struct state_writer *w, uint16_t v) { put_le(w, v, 2); }
void state_put_u32(struct state_writer *w, uint32_t v) { put_le(w, v, 4); }
void state_put_u64(struct state_writer *w, uint64_t v) { put_le(w, v, 8); }

void state_put_blob(struct state_writer *w, const void *p, uint32_t n)
{
    state_put_u32(w, n);
    state_put_bytes(w, p, n);
}

void state_put_str(struct state_writer *w, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        w->failed = true;
        return;
    }
    state_put_blob(w, s, (uint32_t)n);
}

void state_reader_init(struct state_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data != NULL ? len : 0;
    r->pos = 0;
    r->failed = false;
}

bool state_reader_ok(const struct state_reader *r, bool whole)
{
    return !r->failed && (!whole || r->pos == r->len);
}

size_t state_reader_left(const struct state_reader *r)
{
    return r->failed ? 0 : r->len - r->pos;
}

static const uint8_t *take(struct state_reader *r, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_le(struct state_reader *r, unsigned bytes)
{
    const uint8_t *p = take(r, bytes);
    uint64_t v = 0;
    for (unsigned i = 0; p != NULL && i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t state_get_u8(struct state_reader *r) { return (uint8_t)get_le(r, 1); }
uint16_t state_get_u16(struct state_reader *r) { return (uint16_t)get_le(r, 2); }
uint32_t state_get_u32(struct state_reader *r) { return (uint32_t)get_le(r, 4); }
uint64_t state_get_u64(struct state_reader *r) { return get_le(r, 8); }

void state_get_bytes(struct state_reader *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p != NULL)
        memcpy(out, p, n);
    else if (n > 0)
        memset(out, 0, n);
}

const uint8_t *state_get_blob(struct state_reader *r, uint32_t *n)
{
    uint32_t len = state_get_u32(r);
    const uint8_t *p = take(r, len);
    *n = p != NULL ? len : 0;
    return p;
}

void state_get_str(struct state_reader *r, char *out, size_t cap)
{
    uint32_t n;
    const uint8_t *p = state_get_blob(r, &n);
    if (cap == 0)
        return;
    out[0] = '\0';
    if (p == NULL)
        return;
    if (n >= cap || memchr(p, '\0', n) != NULL) {
        r->failed = true;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}
