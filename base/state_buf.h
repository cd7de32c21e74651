/* base/state_buf.h — the byte encoding of snapshot state: a growable writer and a bounds-checked
 * reader, shared by the VMM (vmm/snapshot.c, vmm/vm_state.c) and the device models that save and
 * restore their own state (devices/, virtio/).
 *
 * Values are little-endian fixed-width integers and length-prefixed byte strings; there is no
 * padding and no alignment. The reader never reads past its buffer: the first short read sets
 * `failed`, after which every get returns 0 / empty, so a decoder may read a whole record and
 * check `failed` once at the end (state_reader_ok). Snapshot files are hostile input.
 */
#ifndef SILO_BASE_STATE_BUF_H
#define SILO_BASE_STATE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_writer {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* out of memory: the whole record is lost, state_writer_ok says so */
};

void state_writer_init(struct state_writer *w);
void state_writer_free(struct state_writer *w);
bool state_writer_ok(const struct state_writer *w);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);  /* raw, no length */
void state_put_blob(struct state_writer *w, const void *p, uint32_t n); /* u32 length + bytes */
void state_put_str(struct state_writer *w, const char *s);              /* a blob without the NUL */

struct state_reader {
    const uint8_t *data;
    size_t len, pos;
    bool failed;
};

void state_reader_init(struct state_reader *r, const void *data, size_t len);
/* true when nothing failed; with `whole`, also when every byte was consumed */
bool state_reader_ok(const struct state_reader *r, bool whole);
size_t state_reader_left(const struct state_reader *r);
uint8_t state_get_u8(struct state_reader *r);
uint16_t state_get_u16(struct state_reader *r);
uint32_t state_get_u32(struct state_reader *r);
uint64_t state_get_u64(struct state_reader *r);
/* copies exactly n raw bytes (zeroes them on failure) */
void state_get_bytes(struct state_reader *r, void *out, size_t n);
/* a blob in place: its bytes (not copied) and length; NULL and 0 on failure */
const uint8_t *state_get_blob(struct state_reader *r, uint32_t *n);
/* a string blob copied into out[cap] with its NUL; fails when it does not fit or holds a NUL */
void state_get_str(struct state_reader *r, char *out, size_t cap);

#endif
