/* base/guest_mem.h — guest RAM: one private anonymous mapping, bounds-checked translation from
 * guest physical addresses, and the end-of-session wipe.
 *
 * Everything a guest hands us (descriptor addresses, lengths) goes through guest_mem_ptr, which
 * refuses any range that is not entirely inside RAM, including ranges whose end overflows.
 *
 * The wipe (guest_mem_wipe) looks only at the pages /proc/self/pagemap shows present (or
 * swapped), so its cost follows touched memory, not guest size; it zeroes with explicit_bzero
 * each anonymous one that holds anything, leaves pages still of a mapped file alone (they hold
 * nothing of the session), and then unmaps. Without pagemap it falls back to mincore, and
 * without either to zeroing everything. It is safe to call more than once and on a guest_mem
 * that was never mapped.
 */
#ifndef SILO_BASE_GUEST_MEM_H
#define SILO_BASE_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem {
    uint64_t gpa_base; /* guest physical address of the first byte of RAM */
    uint64_t size;     /* bytes; a multiple of the host page size */
    uint8_t *hva;      /* host virtual address of the mapping, NULL when unmapped */
    bool file_backed;  /* mapped private from a snapshot's memory file (guest_mem_map_file) */
    uint64_t placed_offset, placed_len; /* a file placed over RAM (guest_mem_place_file), 0: none */
    bool in_memfd;     /* RAM is a shared mapping of `memfd` (guest_mem_map_memfd) */
    int memfd;         /* that memfd while mapped (closed by guest_mem_unmap) */
};

/* Transparent huge page size the anonymous mapping is aligned to and advised for. */
#define GUEST_MEM_HUGE_PAGE (2ULL << 20)

/* Maps `size` bytes (MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, never MADV_MERGEABLE) for guest
 * RAM starting at `gpa_base`: 2 MiB-aligned and MADV_HUGEPAGE when at least 2 MiB, so the
 * host backs it with transparent huge pages where it can. Returns 0 or -errno (-EINVAL for a
 * size that is zero or not page-aligned). */
int guest_mem_map(struct guest_mem *mem, uint64_t gpa_base, uint64_t size);

/* Guest RAM in a memfd ("silo-guest-ram", MFD_CLOEXEC, sealed against growing and shrinking
 * once sized) mapped MAP_SHARED, 2 MiB-aligned and MADV_HUGEPAGE like guest_mem_map (shmem
 * huge pages only where /sys/kernel/mm/transparent_hugepage/shmem_enabled allows them), so
 * that another process holding the memfd (vmm/keeper.h) can wipe it after this one died.
 * mem->memfd is the descriptor. The wipe and its verification then follow the memfd's data
 * ranges (base/memfd_wipe.h); guest_mem_place_file refuses (-ENOTSUP: the loader copies),
 * since a private file mapping's written pages would be outside the memfd. Returns 0 or
 * -errno. */
int guest_mem_map_memfd(struct guest_mem *mem, uint64_t gpa_base, uint64_t size);

/* Memfd RAM only: copies the first `len` bytes of file `fd` to guest address `gpa` inside the
 * kernel (sendfile into the memfd at the matching offset): shmem pages are allocated and
 * filled without one user-space page fault each. Returns 0, -ENOTSUP for other RAM (the caller
 * reads instead), or -errno (then the caller may read instead). */
int guest_mem_copy_file(struct guest_mem *mem, uint64_t gpa, int fd, uint64_t len);

/* Memfd RAM only: fills RAM from `fd`, a file of exactly mem->size bytes laid out like RAM (a
 * snapshot's sparse `memory` file), by copying each of its data ranges (lseek SEEK_DATA /
 * SEEK_HOLE) to the same offset of the memfd inside the kernel (sendfile): holes stay holes,
 * and nothing is read through user space. Where the file system cannot tell its holes, the
 * whole file is copied. *copied_bytes (may be NULL) gets the bytes copied. Returns 0, -ENOTSUP
 * for other RAM, -EINVAL for a file of another size, or -errno. */
int guest_mem_fill_from_file(struct guest_mem *mem, int fd, uint64_t *copied_bytes);

/* mlock2(MLOCK_ONFAULT) over guest RAM: pages are locked as the guest touches them, so none is
 * ever swapped out (a swapped page would outlive every wipe). Needs RLIMIT_MEMLOCK >= size or
 * CAP_IPC_LOCK. Returns 0 or -errno (-ENOMEM / -EPERM: the limit is too low). */
int guest_mem_lock(const struct guest_mem *mem);

/* Maps the first `size` bytes of file `fd` (a snapshot's guest memory, at least that long) for
 * guest RAM, private and copy-on-write: nothing is read until the guest touches it, the file is
 * never written, and every page the guest writes becomes a private copy. The wipe then zeroes
 * exactly those private pages (found in /proc/self/pagemap: present and not file-backed, or
 * swapped); pages only read still belong to the file, which holds nothing of the session.
 * Returns 0 or -errno. */
int guest_mem_map_file(struct guest_mem *mem, uint64_t gpa_base, uint64_t size, int fd);

/* Places the first `len` bytes of file `fd` at guest address `gpa` by mapping the file over
 * that part of RAM, private and copy-on-write (MAP_FIXED|MAP_PRIVATE): the guest reads the
 * page cache itself, nothing is copied, and only pages the guest writes become private. The
 * file must not change while the VM runs (its unwritten pages would follow it). `gpa` must be
 * page-aligned and [gpa, gpa + len) inside RAM; the part of the last page beyond the file reads
 * zero, as with a copy. Pages still of the file hold nothing of the session, so the wipe skips
 * them. Returns 0, or -errno (then RAM is unchanged and the caller can copy instead). */
int guest_mem_place_file(struct guest_mem *mem, uint64_t gpa, int fd, uint64_t len);

/* Writes guest RAM into fd (truncated to mem->size first) for a snapshot: only resident pages
 * that are not all zero are written, so the file is sparse and costs what the guest used.
 * *written_bytes (may be NULL) gets the bytes written. Returns 0 or -errno (-ENOTSUP for memory
 * that was itself restored from a file). */
int guest_mem_write_file(const struct guest_mem *mem, int fd, uint64_t *written_bytes);

/* Host pointer for [gpa, gpa + len), or NULL unless the whole range is inside RAM.
 * len 0 is allowed and needs only gpa <= end of RAM. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* True when [gpa, gpa + len) is entirely inside RAM (no overflow). */
bool guest_mem_contains(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Statistics of the last wipe, for logs and benchmarks. */
struct guest_mem_wipe_stats {
    uint64_t resident_bytes; /* bytes found resident, each page checked */
    uint64_t zeroed_bytes;   /* of those, the bytes of pages that held data and were zeroed */
    uint64_t wipe_ns;        /* time spent finding and zeroing them */
    uint64_t unmap_ns;       /* time spent in munmap */
};

/* Zeroes with explicit_bzero every resident page that holds data, except pages still of a
 * mapped file (snapshot memory, a placed kernel), optionally verifies (verify = true) that
 * those pages then read zero (guest_mem_resident_pages_zero), and unmaps. Returns 0, or -EIO
 * if verification found a non-zero byte (the memory is still unmapped). `stats` may be NULL. */
int guest_mem_wipe(struct guest_mem *mem, bool verify, struct guest_mem_wipe_stats *stats);

/* guest_mem_wipe in two steps, so the owner can release what else maps the memory (the KVM
 * VM and its stage-2 tables) in between: guest_mem_clear zeroes (and verifies) but leaves RAM
 * mapped, guest_mem_unmap unmaps. Same statistics, each filling its own fields. */
int guest_mem_clear(struct guest_mem *mem, bool verify, struct guest_mem_wipe_stats *stats);
void guest_mem_unmap(struct guest_mem *mem, struct guest_mem_wipe_stats *stats);

/* True when every page the wipe answers for reads zero: every resident page but those still of
 * a mapped file (the --verify-wipe check; also true for an unmapped guest_mem). */
bool guest_mem_resident_pages_zero(const struct guest_mem *mem);

/* Number of resident bytes in the mapping right now (mincore). */
uint64_t guest_mem_resident_bytes(const struct guest_mem *mem);

#endif
