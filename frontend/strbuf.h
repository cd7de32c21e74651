/* frontend/strbuf.h — a growable, always NUL-terminated byte buffer used to build canonical
 * requests, JSON fragments and HTTP heads. Allocation failure aborts (silod cannot do useful
 * work without memory, and a half-built string must never be used). */
#ifndef SILO_FRONTEND_STRBUF_H
#define SILO_FRONTEND_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *data;     /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
};

void strbuf_append(struct strbuf *sb, const void *bytes, size_t len);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents ("" when empty); valid until the next append or free. */
const char *strbuf_str(const struct strbuf *sb);
/* Hands the contents to the caller (free() it) and empties the buffer. */
char *strbuf_take(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

#endif
