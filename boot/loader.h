/* boot/loader.h — puts the guest kernel, the initrd and the device tree blob into guest RAM.
 *
 * Kernel formats, told apart by their first bytes:
 *   - arm64 `Image`: the 64-byte header (magic "ARM\x64" at 0x38) gives text_offset and
 *     image_size; the image goes at DRAM base (2 MiB aligned) + text_offset, and the whole
 *     image_size (which covers .bss) must fit in RAM. image_size 0 (pre-3.17 kernels) means
 *     text_offset 0x80000, size unknown.
 *   - `Image.gz`: gzip magic 1f 8b; inflated with zlib straight into guest RAM, then treated as
 *     an Image (the inflated bytes must carry the Image header).
 *   - anything else: a raw binary (kvm-unit-tests' .flat, bare-metal payloads) loaded at
 *     DRAM base + 0x80000, entered at its first byte.
 * Every size and offset read from a file is checked against RAM before a byte is copied; a
 * truncated, oversized or garbage file is refused with a one-line reason in `err`.
 *
 * Placement above the kernel (boot/README.md): the initrd at the next 2 MiB boundary after the
 * kernel's reserved end, then the DTB at the next 2 MiB boundary after the initrd.
 */
#ifndef SILO_BOOT_LOADER_H
#define SILO_BOOT_LOADER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/guest_mem.h"

#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64", little-endian at offset 0x38 */
#define ARM64_IMAGE_HEADER_SIZE 64
#define RAW_LOAD_OFFSET 0x80000ULL
#define BOOT_ALIGN (2ULL << 20)
#define DTB_MAX_SIZE (2ULL << 20) /* arm64 booting.rst: the DTB must not exceed 2 MiB */

enum kernel_format { KERNEL_IMAGE, KERNEL_IMAGE_GZ, KERNEL_RAW };

struct kernel_info {
    enum kernel_format format;
    uint64_t load_gpa;     /* first byte of the loaded kernel == entry point */
    uint64_t file_bytes;   /* bytes copied into RAM (after inflating) */
    uint64_t reserved_end; /* gpa just past the memory the kernel may use at boot (.bss too) */
    bool mapped;           /* an Image file mapped copy-on-write, not copied (guest_mem_place_file) */
};

/* Loads a kernel held in memory (len bytes). Returns 0 or -1 with a reason in err. */
int boot_load_kernel_buffer(struct guest_mem *mem, const uint8_t *data, size_t len, struct kernel_info *out,
                            char *err, size_t errlen);
/* Loads a kernel from an open file descriptor: an uncompressed Image is mapped into guest RAM
 * copy-on-write (guest_mem_place_file: nothing copied, and the wipe skips what the guest never
 * wrote), or read with pread where mapping fails; a raw binary is read; Image.gz inflates
 * through a small window. No whole-file buffer either way. */
int boot_load_kernel_fd(struct guest_mem *mem, int fd, struct kernel_info *out, char *err, size_t errlen);
/* Opens `path` and loads it. */
int boot_load_kernel_file(struct guest_mem *mem, const char *path, struct kernel_info *out, char *err,
                          size_t errlen);

/* Loads the initrd at `gpa` (checked against RAM). On success *size_out is its size. */
int boot_load_initrd_file(struct guest_mem *mem, const char *path, uint64_t gpa, uint64_t *size_out, char *err,
                          size_t errlen);

/* Placement helpers: the initrd goes at initrd_gpa(kernel), the DTB at dtb_gpa(end of the last
 * thing loaded). Both round up to 2 MiB. */
uint64_t boot_initrd_gpa(const struct kernel_info *kernel);
uint64_t boot_dtb_gpa(uint64_t end_of_loaded);

/* Copies a finished DTB blob of `size` bytes to `gpa`, checking it fits in RAM and 2 MiB. */
int boot_place_dtb(struct guest_mem *mem, uint64_t gpa, const void *dtb, size_t size, char *err, size_t errlen);

#endif
