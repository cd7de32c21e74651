/* boot/loader.c — kernel (Image / Image.gz / raw), initrd and DTB placement into guest RAM
 * (see loader.h). Nothing is read into a whole-file buffer: files are pread straight into guest
 * RAM, and gzip is inflated from a small window straight into guest RAM. */
#include "boot/loader.h"
#include "base/error_message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "boot/layout.h"

#define GZIP_WINDOW (64 * 1024)

/* Where the kernel bytes come from: a memory buffer (unit tests, fuzzers) or a file. */
struct source {
    const uint8_t *buf; /* NULL: read from fd */
    int fd;
    uint64_t size;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uint64_t mib(uint64_t bytes)
{
    return bytes >> 20;
}

/* Reads exactly n bytes at off. Returns 0, or -1 when the source ends first or errors. */
static int source_read(const struct source *src, uint64_t off, void *dst, uint64_t n)
{
    if (off > src->size || n > src->size - off)
        return -1;
    if (src->buf != NULL) {
        memcpy(dst, src->buf + off, n);
        return 0;
    }
    uint8_t *p = dst;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t r = pread(src->fd, p, chunk, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        off += (uint64_t)r;
        n -= (uint64_t)r;
    }
    return 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ram_end(const struct guest_mem *mem)
{
    return mem->gpa_base + mem->size;
}

/* The Image header, decoded and checked against RAM. */
struct image_header {
    uint64_t text_offset;
    uint64_t image_size; /* 0: unknown (legacy header) */
};

static int parse_image_header(const struct guest_mem *mem, const uint8_t *h, struct image_header *out, char *err,
                              size_t errlen)
{
    if (le32(h + 0x38) != ARM64_IMAGE_MAGIC)
        return error_message(err, errlen, "no arm64 Image magic \"ARM\\x64\" at offset 0x38");
    uint64_t text_offset = le64(h + 0x08);
    uint64_t image_size = le64(h + 0x10);
    if (image_size == 0)
        text_offset = RAW_LOAD_OFFSET; /* booting.rst: legacy header, assume 0x80000 */
    if (text_offset >= BOOT_ALIGN || text_offset % 4096 != 0)
        return error_message(err, errlen, "bad text_offset 0x%llx in Image header (must be 4 KiB aligned, below 2 MiB)",
                    (unsigned long long)text_offset);
    uint64_t room = mem->size > text_offset ? mem->size - text_offset : 0;
    if (image_size > room)
        return error_message(err, errlen, "Image header asks for %llu MiB (image_size 0x%llx) but guest RAM is %llu MiB",
                    (unsigned long long)mib(image_size + (1 << 20) - 1), (unsigned long long)image_size,
                    (unsigned long long)mib(mem->size));
    out->text_offset = text_offset;
    out->image_size = image_size;
    return 0;
}

/* A truncated Image is caught by its second instruction: arm64 kernels branch to their entry
 * code with an unconditional `b`, whose target must lie inside the file. */
static int check_entry_branch(const uint8_t *h, uint64_t file_bytes, char *err, size_t errlen)
{
    uint32_t code1 = le32(h + 4);
    if ((code1 & 0xfc000000u) != 0x14000000u)
        return 0; /* not a plain branch: nothing to check */
    int64_t imm26 = (int64_t)(code1 & 0x03ffffffu);
    if (imm26 & 0x02000000)
        imm26 -= 0x04000000;
    int64_t target = 4 + imm26 * 4;
    if (target < 0 || (uint64_t)target >= file_bytes)
        return error_message(err, errlen, "truncated Image: its entry branch targets 0x%llx but only %llu bytes are present",
                    (unsigned long long)target, (unsigned long long)file_bytes);
    return 0;
}

static int finish_image(const struct guest_mem *mem, const struct image_header *ih, uint64_t file_bytes,
                        enum kernel_format format, struct kernel_info *out, char *err, size_t errlen)
{
    uint64_t load = mem->gpa_base + ih->text_offset;
    uint64_t reserved = ih->image_size != 0 ? ih->image_size : file_bytes;
    if (ih->image_size != 0 && file_bytes > ih->image_size)
        return error_message(err, errlen, "Image is %llu bytes, larger than its header's image_size %llu (corrupt header)",
                    (unsigned long long)file_bytes, (unsigned long long)ih->image_size);
    if (!guest_mem_contains(mem, load, reserved))
        return error_message(err, errlen, "kernel needs %llu MiB but guest RAM is %llu MiB",
                    (unsigned long long)mib(reserved + ih->text_offset + (1 << 20) - 1),
                    (unsigned long long)mib(mem->size));
    out->format = format;
    out->load_gpa = load;
    out->file_bytes = file_bytes;
    out->reserved_end = load + reserved;
    out->mapped = false;
    return 0;
}

/* Puts the whole source at gpa: a file is mapped copy-on-write where it can be (nothing is
 * copied and the page cache is shared between VMs booting the same file), else read. */
static int place_source(struct guest_mem *mem, const struct source *src, uint64_t gpa, struct kernel_info *out)
{
    if (src->buf == NULL && guest_mem_place_file(mem, gpa, src->fd, src->size) == 0) {
        out->mapped = true;
        return 0;
    }
    /* memfd RAM (--wipe-keeper) cannot take a mapping: copied, inside the kernel where it can */
    if (src->buf == NULL && guest_mem_copy_file(mem, gpa, src->fd, src->size) == 0)
        return 0;
    return source_read(src, 0, guest_mem_ptr(mem, gpa, src->size), src->size);
}

static int load_plain_image(struct guest_mem *mem, const struct source *src, const uint8_t *h,
                            struct kernel_info *out, char *err, size_t errlen)
{
    struct image_header ih;
    if (parse_image_header(mem, h, &ih, err, errlen) != 0)
        return -1;
    if (check_entry_branch(h, src->size, err, errlen) != 0)
        return -1;
    if (finish_image(mem, &ih, src->size, KERNEL_IMAGE, out, err, errlen) != 0)
        return -1;
    if (place_source(mem, src, out->load_gpa, out) != 0)
        return error_message(err, errlen, "read error while loading the Image");
    return 0;
}

/* Feeds the inflater from the source, a window at a time. */
struct inflater {
    z_stream zs;
    const struct source *src;
    uint64_t in_off;
    uint8_t *window; /* NULL when the source is a memory buffer */
    bool ended;
};

/* Inflates into dst[0..cap). Returns bytes produced, or -1 with err set. Stops at cap or at
 * the end of the gzip member. */
static int64_t inflate_into(struct inflater *in, uint8_t *dst, uint64_t cap, char *err, size_t errlen)
{
    uint64_t produced = 0;
    while (produced < cap && !in->ended) {
        if (in->zs.avail_in == 0) {
            if (in->in_off >= in->src->size)
                return error_message(err, errlen, "truncated gzip stream (ends after %llu bytes of output)",
                            (unsigned long long)(in->zs.total_out));
            uint64_t n = in->src->size - in->in_off;
            if (in->src->buf != NULL) {
                n = n > (1u << 30) ? (1u << 30) : n;
                in->zs.next_in = (Bytef *)(uintptr_t)(in->src->buf + in->in_off);
            } else {
                n = n > GZIP_WINDOW ? GZIP_WINDOW : n;
                if (source_read(in->src, in->in_off, in->window, n) != 0)
                    return error_message(err, errlen, "read error in the gzip file");
                in->zs.next_in = in->window;
            }
            in->zs.avail_in = (uInt)n;
            in->in_off += n;
        }
        uint64_t room = cap - produced;
        in->zs.next_out = dst + produced;
        in->zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        uInt before = in->zs.avail_out;
        int r = inflate(&in->zs, Z_NO_FLUSH);
        produced += before - in->zs.avail_out;
        if (r == Z_STREAM_END)
            in->ended = true;
        else if (r == Z_BUF_ERROR && in->zs.avail_in == 0)
            continue; /* needs more input */
        else if (r != Z_OK)
            return error_message(err, errlen, "corrupt gzip data: %s", in->zs.msg != NULL ? in->zs.msg : zError(r));
    }
    return (int64_t)produced;
}

static int load_gzip_image(struct guest_mem *mem, const struct source *src, struct kernel_info *out, char *err,
                           size_t errlen)
{
    struct inflater in = { .src = src };
    int ret = -1;
    if (src->buf == NULL && (in.window = malloc(GZIP_WINDOW)) == NULL)
        return error_message(err, errlen, "out of memory");
    if (inflateInit2(&in.zs, 16 + MAX_WBITS) != Z_OK) {
        free(in.window);
        return error_message(err, errlen, "zlib initialisation failed");
    }
    uint8_t h[ARM64_IMAGE_HEADER_SIZE];
    struct image_header ih;
    int64_t got = inflate_into(&in, h, sizeof h, err, errlen);
    if (got < 0)
        goto out;
    if (got < (int64_t)sizeof h) {
        error_message(err, errlen, "gzip data inflates to %lld bytes, too short for an arm64 Image", (long long)got);
        goto out;
    }
    if (parse_image_header(mem, h, &ih, err, errlen) != 0) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, " (in the inflated gzip data)");
        goto out;
    }
    uint64_t load = mem->gpa_base + ih.text_offset;
    uint64_t cap = ih.image_size != 0 ? ih.image_size : ram_end(mem) - load;
    uint8_t *dst = guest_mem_ptr(mem, load, cap);
    if (dst == NULL) {
        error_message(err, errlen, "kernel does not fit in guest RAM");
        goto out;
    }
    memcpy(dst, h, sizeof h);
    got = inflate_into(&in, dst + sizeof h, cap - sizeof h, err, errlen);
    if (got < 0)
        goto out;
    if (!in.ended) {
        /* Output filled up exactly: the gzip trailer may still be unread. */
        uint8_t extra;
        int64_t more = inflate_into(&in, &extra, 1, err, errlen);
        if (more < 0)
            goto out;
        if (more == 0 && in.ended)
            goto done;
        error_message(err, errlen, "inflated kernel is larger than %s (%llu bytes)",
             ih.image_size != 0 ? "its header's image_size" : "guest RAM", (unsigned long long)cap);
        goto out;
    }
done:;
    uint64_t total = sizeof h + (uint64_t)got;
    if (check_entry_branch(h, total, err, errlen) != 0 || finish_image(mem, &ih, total, KERNEL_IMAGE_GZ, out, err, errlen) != 0)
        goto out;
    ret = 0;
out:
    inflateEnd(&in.zs);
    free(in.window);
    return ret;
}

/* Files that are clearly not a kernel we can boot, with the reason; NULL when none applies. */
static const char *not_a_kernel(const uint8_t *h, uint64_t n)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *why;
    } known[] = {
        { "\x7f" "ELF", 4, "an ELF file (vmlinux); boot arch/arm64/boot/Image instead" },
        { "\xfd" "7zXZ", 5, "xz-compressed; only gzip is supported" },
        { "\x28\xb5\x2f\xfd", 4, "zstd-compressed; only gzip is supported" },
        { "BZh", 3, "bzip2-compressed; only gzip is supported" },
        { "\x02\x21\x4c\x18", 4, "lz4-compressed; only gzip is supported" },
        { "070701", 6, "a cpio archive (an initrd?), not a kernel" },
        { "MZ", 2, "a PE file without the arm64 Image magic" },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (n >= known[i].len && memcmp(h, known[i].magic, known[i].len) == 0)
            return known[i].why;
    bool text = true, zero = true;
    for (uint64_t i = 0; i < n; i++) {
        if (h[i] != 0)
            zero = false;
        if (!(h[i] == '\n' || h[i] == '\r' || h[i] == '\t' || (h[i] >= 0x20 && h[i] < 0x7f)))
            text = false;
    }
    if (zero)
        return "its first bytes are all zero";
    if (text)
        return "a text file";
    return NULL;
}

/* An Image header whose magic alone is wrong: a branch as the second instruction and the
 * reserved fields at 0x20..0x37 zero. Raw code essentially never has 24 zero bytes there. */
static bool looks_like_image_header(const uint8_t *h)
{
    if ((le32(h + 4) & 0xfc000000u) != 0x14000000u)
        return false;
    for (int i = 0x20; i < 0x38; i++)
        if (h[i] != 0)
            return false;
    return true;
}

static int load_raw(struct guest_mem *mem, const struct source *src, struct kernel_info *out, char *err,
                    size_t errlen)
{
    uint64_t load = mem->gpa_base + RAW_LOAD_OFFSET;
    uint8_t *dst = guest_mem_ptr(mem, load, src->size);
    if (dst == NULL)
        return error_message(err, errlen, "raw binary of %llu bytes does not fit in %llu MiB of guest RAM at +0x80000",
                    (unsigned long long)src->size, (unsigned long long)mib(mem->size));
    if (source_read(src, 0, dst, src->size) != 0)
        return error_message(err, errlen, "read error while loading the raw binary");
    out->format = KERNEL_RAW;
    out->load_gpa = load;
    out->file_bytes = src->size;
    /* A raw binary has no image_size: leave it 2 MiB past its end for .bss and stack. */
    uint64_t end = align_up(load + src->size, BOOT_ALIGN) + BOOT_ALIGN;
    out->reserved_end = end < ram_end(mem) ? end : ram_end(mem);
    return 0;
}

static int load_from_source(struct guest_mem *mem, const struct source *src, struct kernel_info *out, char *err,
                            size_t errlen)
{
    uint8_t h[ARM64_IMAGE_HEADER_SIZE] = { 0 };
    uint64_t n = src->size < sizeof h ? src->size : sizeof h;

    if (mem->hva == NULL)
        return error_message(err, errlen, "guest RAM is not mapped");
    if (src->size == 0)
        return error_message(err, errlen, "empty file");
    if (source_read(src, 0, h, n) != 0)
        return error_message(err, errlen, "read error");
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        return load_gzip_image(mem, src, out, err, errlen);
    if (n == sizeof h && le32(h + 0x38) == ARM64_IMAGE_MAGIC)
        return load_plain_image(mem, src, h, out, err, errlen);
    if (n == sizeof h && looks_like_image_header(h))
        return error_message(err, errlen, "arm64 Image header with a corrupt magic (0x%08x at 0x38, want 0x%08x)",
                    le32(h + 0x38), ARM64_IMAGE_MAGIC);
    const char *why = not_a_kernel(h, n);
    if (why != NULL)
        return error_message(err, errlen, "not a bootable kernel: %s", why);
    return load_raw(mem, src, out, err, errlen);
}

int boot_load_kernel_buffer(struct guest_mem *mem, const uint8_t *data, size_t len, struct kernel_info *out,
                            char *err, size_t errlen)
{
    struct source src = { .buf = data, .fd = -1, .size = len };
    return load_from_source(mem, &src, out, err, errlen);
}

int boot_load_kernel_fd(struct guest_mem *mem, int fd, struct kernel_info *out, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return error_message(err, errlen, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return error_message(err, errlen, "not a regular file");
    struct source src = { .buf = NULL, .fd = fd, .size = (uint64_t)st.st_size };
    return load_from_source(mem, &src, out, err, errlen);
}

int boot_load_kernel_file(struct guest_mem *mem, const char *path, struct kernel_info *out, char *err,
                          size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "cannot open: %s", strerror(errno));
    int r = boot_load_kernel_fd(mem, fd, out, err, errlen);
    close(fd);
    return r;
}

int boot_load_initrd_file(struct guest_mem *mem, const char *path, uint64_t gpa, uint64_t *size_out, char *err,
                          size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "cannot open: %s", strerror(errno));
    struct stat st;
    int r = -1;
    if (fstat(fd, &st) != 0) {
        error_message(err, errlen, "cannot stat: %s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        error_message(err, errlen, "not a regular file");
    } else if (!guest_mem_contains(mem, gpa, (uint64_t)st.st_size)) {
        error_message(err, errlen, "initrd of %llu bytes does not fit in guest RAM above the kernel",
             (unsigned long long)st.st_size);
    } else {
        struct source src = { .buf = NULL, .fd = fd, .size = (uint64_t)st.st_size };
        /* Copied, not mapped: the guest frees the initrd once unpacked and reuses its pages,
         * so mapping it would only add faults and copy-on-write copies. */
        if (guest_mem_copy_file(mem, gpa, fd, src.size) != 0 &&
            source_read(&src, 0, guest_mem_ptr(mem, gpa, src.size), src.size) != 0) {
            error_message(err, errlen, "read error (file changed while loading?)");
        } else {
            *size_out = src.size;
            r = 0;
        }
    }
    close(fd);
    return r;
}

uint64_t boot_initrd_gpa(const struct kernel_info *kernel)
{
    return align_up(kernel->reserved_end, BOOT_ALIGN);
}

uint64_t boot_dtb_gpa(uint64_t end_of_loaded)
{
    return align_up(end_of_loaded, BOOT_ALIGN);
}

int boot_place_dtb(struct guest_mem *mem, uint64_t gpa, const void *dtb, size_t size, char *err, size_t errlen)
{
    if (size > DTB_MAX_SIZE)
        return error_message(err, errlen, "device tree of %zu bytes exceeds the 2 MiB limit", size);
    void *dst = guest_mem_ptr(mem, gpa, size);
    if (dst == NULL || gpa % 8 != 0)
        return error_message(err, errlen, "no room for the device tree at 0x%llx: guest RAM too small for kernel + initrd",
                    (unsigned long long)gpa);
    memcpy(dst, dtb, size);
    return 0;
}
