/* vmm/snapshot_file.c — the snapshot state file's container (see snapshot_file.h). */
#include "vmm/snapshot_file.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/error_message.h"

static const char magic[8] = { 'S', 'I', 'L', 'O', 'S', 'N', 'A', 'P' };

struct build_id_search {
    uint8_t *out;
    size_t len;
};

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct build_id_search *s = arg;
    if (s->len != 0)
        return 1;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(const void *)p;
            size_t name = (n->n_namesz + 3u) & ~3u, desc = (n->n_descsz + 3u) & ~3u;
            const uint8_t *d = p + sizeof *n + name;
            if (d + desc > end)
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(p + sizeof *n, "GNU", 4) == 0 &&
                n->n_descsz > 0) {
                s->len = n->n_descsz < SNAPSHOT_BUILD_ID_MAX ? n->n_descsz : SNAPSHOT_BUILD_ID_MAX;
                memcpy(s->out, d, s->len);
                return 1;
            }
            p = d + desc;
        }
        break; /* only the program itself (the first object) */
    }
    return 1;
}

size_t snapshot_build_id(uint8_t out[SNAPSHOT_BUILD_ID_MAX])
{
    memset(out, 0, SNAPSHOT_BUILD_ID_MAX);
    struct build_id_search s = { out, 0 };
    dl_iterate_phdr(find_build_id, &s);
    if (s.len != 0)
        return s.len;
    /* no note (a linker that was told not to write one): the compile time stands in */
    const char *stamp = "silo-vmm " __DATE__ " " __TIME__;
    uLong c = crc32(0L, (const Bytef *)stamp, (uInt)strlen(stamp));
    memcpy(out, &c, 4);
    return 4;
}

void snapshot_file_begin(struct state_writer *w)
{
    uint8_t header[SNAPSHOT_HEADER_SIZE] = { 0 };
    state_put_bytes(w, header, sizeof header);
}

static uint32_t section_count(const struct state_writer *w)
{
    uint32_t n = 0;
    if (w->len >= SNAPSHOT_HEADER_SIZE)
        memcpy(&n, w->data + 52, 4);
    return n;
}

void snapshot_file_add(struct state_writer *w, uint32_t type, uint32_t index, const struct state_writer *payload)
{
    if (!state_writer_ok(payload) || w->len < SNAPSHOT_HEADER_SIZE) {
        w->failed = true;
        return;
    }
    state_put_u32(w, type);
    state_put_u32(w, index);
    state_put_u64(w, payload->len);
    state_put_bytes(w, payload->data, payload->len);
    if (state_writer_ok(w)) {
        uint32_t n = section_count(w) + 1; /* counted in the header as we go */
        memcpy(w->data + 52, &n, 4);
    }
}

static void put_u32_at(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool snapshot_file_finish(struct state_writer *w, const uint8_t *build_id, size_t build_id_len)
{
    if (!state_writer_ok(w) || w->len < SNAPSHOT_HEADER_SIZE || build_id_len == 0 ||
        build_id_len > SNAPSHOT_BUILD_ID_MAX)
        return false;
    uint32_t count = section_count(w);
    if (count > SNAPSHOT_MAX_SECTIONS || w->len > SNAPSHOT_MAX_STATE_BYTES)
        return false;
    uint8_t *h = w->data;
    memcpy(h, magic, sizeof magic);
    put_u32_at(h + 8, SNAPSHOT_FORMAT_VERSION);
    put_u32_at(h + 12, SNAPSHOT_HEADER_SIZE);
    memset(h + 16, 0, SNAPSHOT_BUILD_ID_MAX);
    memcpy(h + 16, build_id, build_id_len);
    put_u32_at(h + 48, (uint32_t)build_id_len);
    put_u32_at(h + 52, count);
    uLong crc = crc32(0L, w->data + SNAPSHOT_HEADER_SIZE, (uInt)(w->len - SNAPSHOT_HEADER_SIZE));
    put_u32_at(h + 56, (uint32_t)crc);
    put_u32_at(h + 60, 0);
    return true;
}

static void hex(char *out, size_t cap, const uint8_t *id, size_t len)
{
    size_t pos = 0;
    for (size_t i = 0; i < len && pos + 3 <= cap; i++)
        pos += (size_t)snprintf(out + pos, cap - pos, "%02x", id[i]);
    if (cap > 0)
        out[pos < cap ? pos : cap - 1] = '\0';
}

int snapshot_file_parse(const uint8_t *buf, size_t len, const uint8_t *build_id, size_t build_id_len,
                        struct snapshot_view *v, char *err, size_t errlen)
{
    v->count = 0;
    if (len < SNAPSHOT_HEADER_SIZE || memcmp(buf, magic, sizeof magic) != 0)
        return error_message(err, errlen, "not a silo-vmm snapshot (no SILOSNAP header)");
    if (len > SNAPSHOT_MAX_STATE_BYTES)
        return error_message(err, errlen, "state file of %zu bytes is larger than any snapshot (%u MiB)", len,
                             SNAPSHOT_MAX_STATE_BYTES >> 20);
    uint32_t version = get_u32_at(buf + 8);
    if (version != SNAPSHOT_FORMAT_VERSION)
        return error_message(err, errlen, "snapshot format version %u; this silo-vmm reads version %u", version,
                             SNAPSHOT_FORMAT_VERSION);
    if (get_u32_at(buf + 12) != SNAPSHOT_HEADER_SIZE || get_u32_at(buf + 60) != 0)
        return error_message(err, errlen, "snapshot header is malformed");
    uint32_t id_len = get_u32_at(buf + 48);
    if (id_len == 0 || id_len > SNAPSHOT_BUILD_ID_MAX)
        return error_message(err, errlen, "snapshot header is malformed (build id length %u)", id_len);
    if (build_id != NULL && (id_len != build_id_len || memcmp(buf + 16, build_id, id_len) != 0)) {
        char theirs[2 * SNAPSHOT_BUILD_ID_MAX + 1], ours[2 * SNAPSHOT_BUILD_ID_MAX + 1];
        hex(theirs, sizeof theirs, buf + 16, id_len);
        hex(ours, sizeof ours, build_id, build_id_len);
        return error_message(err, errlen, "written by another silo-vmm build (build id %.12s…, this is %.12s…)",
                             theirs, ours);
    }
    uint32_t count = get_u32_at(buf + 52);
    if (count > SNAPSHOT_MAX_SECTIONS)
        return error_message(err, errlen, "snapshot names %u sections (at most %u)", count, SNAPSHOT_MAX_SECTIONS);
    uLong crc = crc32(0L, buf + SNAPSHOT_HEADER_SIZE, (uInt)(len - SNAPSHOT_HEADER_SIZE));
    if ((uint32_t)crc != get_u32_at(buf + 56))
        return error_message(err, errlen, "checksum mismatch: the state file is corrupt or truncated");

    struct state_reader r;
    state_reader_init(&r, buf + SNAPSHOT_HEADER_SIZE, len - SNAPSHOT_HEADER_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t type = state_get_u32(&r), index = state_get_u32(&r);
        uint64_t slen = state_get_u64(&r);
        if (!state_reader_ok(&r, false) || slen > state_reader_left(&r))
            return error_message(err, errlen, "section %u overruns the state file", i);
        if (type == 0 || type > SNAP_TYPE_LAST)
            return error_message(err, errlen, "section %u has unknown type %u", i, type);
        if (snapshot_find(v, type, index) != NULL)
            return error_message(err, errlen, "section type %u index %u appears twice", type, index);
        struct snapshot_section *s = &v->sections[v->count++];
        s->type = type;
        s->index = index;
        s->len = slen;
        s->data = r.data + r.pos;
        r.pos += (size_t)slen;
    }
    if (!state_reader_ok(&r, true))
        return error_message(err, errlen, "%zu bytes after the last section", state_reader_left(&r));
    return 0;
}

const struct snapshot_section *snapshot_find(const struct snapshot_view *v, uint32_t type, uint32_t index)
{
    for (uint32_t i = 0; i < v->count; i++)
        if (v->sections[i].type == type && v->sections[i].index == index)
            return &v->sections[i];
    return NULL;
}
