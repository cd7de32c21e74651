/* base/guest_mem.c — guest RAM mapping, bounds-checked translation and the resident-page wipe
 * (see guest_mem.h). */
#include "base/guest_mem.h"
#include "base/memfd_wipe.h"
#include "base/mono_time.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

static uint64_t page_size(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

int guest_mem_map(struct guest_mem *mem, uint64_t gpa_base, uint64_t size)
{
    if (size == 0 || size % page_size() != 0 || gpa_base % page_size() != 0 || gpa_base + size < gpa_base)
        return -EINVAL;
    /* Reserve one huge page more, keep the 2 MiB-aligned part: a transparent huge page can
     * only back an aligned 2 MiB of the mapping, and KVM maps guest RAM with 2 MiB stage-2
     * blocks only where host address and guest address are aligned alike. */
    const uint64_t slack = size >= GUEST_MEM_HUGE_PAGE ? GUEST_MEM_HUGE_PAGE : 0;
    uint8_t *p = mmap(NULL, size + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    uint8_t *start = p;
    if (slack != 0) {
        uint64_t misalign = (uint64_t)(uintptr_t)p % GUEST_MEM_HUGE_PAGE;
        start = p + (misalign == 0 ? 0 : GUEST_MEM_HUGE_PAGE - misalign);
        if (start > p)
            munmap(p, (size_t)(start - p));
        if (start + size < p + size + slack)
            munmap(start + size, (size_t)(p + size + slack - (start + size)));
        /* Huge pages: 1/512 of the faults for the guest's first touches (each a round trip
         * through the host kernel), 2 MiB stage-2 blocks, and a faster munmap. The wipe still
         * follows touched memory, at 2 MiB granularity. */
        madvise(start, size, MADV_HUGEPAGE);
    }
    mem->gpa_base = gpa_base;
    mem->size = size;
    mem->hva = start;
    return 0;
}

int guest_mem_map_memfd(struct guest_mem *mem, uint64_t gpa_base, uint64_t size)
{
    if (size == 0 || size % page_size() != 0 || gpa_base % page_size() != 0 || gpa_base + size < gpa_base)
        return -EINVAL;
    int fd = memfd_create("silo-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* the same 2 MiB alignment as guest_mem_map: reserve, then map the memfd over the aligned
     * part (a shmem huge page needs file offset and address aligned alike) */
    const uint64_t slack = size >= GUEST_MEM_HUGE_PAGE ? GUEST_MEM_HUGE_PAGE : 0;
    uint8_t *p = mmap(NULL, size + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return -e;
    }
    uint64_t misalign = (uint64_t)(uintptr_t)p % GUEST_MEM_HUGE_PAGE;
    uint8_t *start = slack == 0 || misalign == 0 ? p : p + (GUEST_MEM_HUGE_PAGE - misalign);
    if (mmap(start, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        int e = errno;
        munmap(p, size + slack);
        close(fd);
        return -e;
    }
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (start + size < p + size + slack)
        munmap(start + size, (size_t)(p + size + slack - (start + size)));
    if (slack != 0)
        madvise(start, size, MADV_HUGEPAGE); /* shmem: effective only where shmem_enabled allows */
    mem->gpa_base = gpa_base;
    mem->size = size;
    mem->hva = start;
    mem->in_memfd = true;
    mem->memfd = fd;
    return 0;
}

/* Copies [file_off, file_off + len) of `fd` to offset `mem_off` of the memfd, in the kernel. */
static int copy_to_memfd(struct guest_mem *mem, uint64_t mem_off, int fd, uint64_t file_off, uint64_t len)
{
    if (lseek(mem->memfd, (off_t)mem_off, SEEK_SET) < 0)
        return -errno;
    off_t in = (off_t)file_off;
    for (uint64_t done = 0; done < len;) {
        uint64_t want = len - done < (1u << 30) ? len - done : (1u << 30);
        ssize_t n = sendfile(mem->memfd, fd, &in, (size_t)want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        done += (uint64_t)n;
    }
    return 0;
}

int guest_mem_copy_file(struct guest_mem *mem, uint64_t gpa, int fd, uint64_t len)
{
    if (!mem->in_memfd)
        return -ENOTSUP;
    if (!guest_mem_contains(mem, gpa, len))
        return -EINVAL;
    return copy_to_memfd(mem, gpa - mem->gpa_base, fd, 0, len);
}

int guest_mem_fill_from_file(struct guest_mem *mem, int fd, uint64_t *copied_bytes)
{
    if (copied_bytes != NULL)
        *copied_bytes = 0;
    if (!mem->in_memfd)
        return -ENOTSUP;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != mem->size)
        return -EINVAL;
    uint64_t copied = 0;
    for (uint64_t at = 0; at < mem->size;) {
        off_t data = lseek(fd, (off_t)at, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* only a hole from here on */
        off_t hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
        if (data < 0 || hole < 0) {
            if (errno != EINVAL)
                return -errno;
            data = (off_t)at; /* no SEEK_DATA here: copy the rest as it is */
            hole = (off_t)mem->size;
        }
        uint64_t end = (uint64_t)hole < mem->size ? (uint64_t)hole : mem->size;
        if ((uint64_t)data >= end)
            break;
        int r = copy_to_memfd(mem, (uint64_t)data, fd, (uint64_t)data, end - (uint64_t)data);
        if (r != 0)
            return r;
        copied += end - (uint64_t)data;
        at = end;
    }
    if (copied_bytes != NULL)
        *copied_bytes = copied;
    return 0;
}

int guest_mem_lock(const struct guest_mem *mem)
{
    if (mem->hva == NULL)
        return -EINVAL;
    return mlock2(mem->hva, mem->size, MLOCK_ONFAULT) == 0 ? 0 : -errno;
}

int guest_mem_map_file(struct guest_mem *mem, uint64_t gpa_base, uint64_t size, int fd)
{
    if (size == 0 || size % page_size() != 0 || gpa_base % page_size() != 0 || gpa_base + size < gpa_base)
        return -EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
        return -EINVAL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    mem->gpa_base = gpa_base;
    mem->size = size;
    mem->hva = p;
    mem->file_backed = true;
    return 0;
}

int guest_mem_place_file(struct guest_mem *mem, uint64_t gpa, int fd, uint64_t len)
{
    const uint64_t page = page_size();
    if (len == 0 || gpa % page != 0 || !guest_mem_contains(mem, gpa, len))
        return -EINVAL;
    if (mem->in_memfd)
        return -ENOTSUP; /* its written pages would be private, outside the memfd: copy */
    uint64_t mapped = (len + page - 1) / page * page;
    if (!guest_mem_contains(mem, gpa, mapped))
        return -EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < len)
        return -EINVAL;
    uint8_t *at = mem->hva + (gpa - mem->gpa_base);
    void *p = mmap(at, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        /* a failed MAP_FIXED may have taken the old pages with it: put fresh RAM back */
        mmap(at, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        return -e;
    }
    /* The file may end inside the last page: past its end that page must read zero, as RAM
     * would (a mapping already gives zeros there, up to the page's end). A file longer than
     * len would show its later bytes: clear them, which makes that one page private. */
    if ((uint64_t)st.st_size > len && mapped > len)
        memset(at + len, 0, mapped - len);
    mem->placed_offset = gpa - mem->gpa_base;
    mem->placed_len = mapped;
    return 0;
}

bool guest_mem_contains(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    if (mem->hva == NULL || gpa < mem->gpa_base)
        return false;
    uint64_t offset = gpa - mem->gpa_base;
    return offset <= mem->size && len <= mem->size - offset;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    if (!guest_mem_contains(mem, gpa, len))
        return NULL;
    return mem->hva + (gpa - mem->gpa_base);
}

#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_FILE (1ULL << 61)

/* What a page of guest RAM is, from its /proc/self/pagemap entry. */
enum page_kind {
    PAGE_ABSENT, /* never touched (or dropped): nothing there */
    PAGE_ANON,   /* anonymous: written by the guest, or the shared zero page a read mapped;
                    or swapped out */
    PAGE_FILE,   /* a page of the snapshot memory file, only read */
};

static enum page_kind page_kind_of(uint64_t entry)
{
    if (entry & PAGEMAP_SWAPPED)
        return PAGE_ANON;
    if (!(entry & PAGEMAP_PRESENT))
        return PAGE_ABSENT;
    return (entry & PAGEMAP_FILE) ? PAGE_FILE : PAGE_ANON;
}

typedef bool (*page_run_fn)(uint8_t *start, uint64_t len, enum page_kind kind, void *arg);

/* Calls fn for every maximal run of pages of one kind other than PAGE_ABSENT. Returns 0, 1 when
 * fn returned false (the walk stopped), or -1 when pagemap cannot be read. */
static int walk_pagemap(const struct guest_mem *mem, page_run_fn fn, void *arg)
{
    const uint64_t page = page_size();
    enum { CHUNK = 4096 };
    uint64_t *entries = malloc(CHUNK * sizeof *entries);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t total = mem->size / page, done = 0;
    uint64_t run_start = 0, run_len = 0;
    enum page_kind run_kind = PAGE_ABSENT;
    int ret = entries != NULL && fd >= 0 ? 0 : -1;
    while (ret == 0 && done < total) {
        uint64_t n = total - done < CHUNK ? total - done : CHUNK;
        uint64_t first = (uint64_t)(uintptr_t)mem->hva / page + done;
        ssize_t got = pread(fd, entries, n * sizeof *entries, (off_t)(first * sizeof *entries));
        if (got != (ssize_t)(n * sizeof *entries)) {
            ret = -1;
            break;
        }
        for (uint64_t i = 0; i < n && ret == 0; i++) {
            enum page_kind kind = page_kind_of(entries[i]);
            if (kind == run_kind && run_len > 0) {
                run_len++;
                continue;
            }
            if (run_len > 0 && run_kind != PAGE_ABSENT && !fn(mem->hva + run_start * page, run_len * page, run_kind, arg))
                ret = 1;
            run_kind = kind;
            run_start = done + i;
            run_len = 1;
        }
        done += n;
    }
    if (ret == 0 && run_len > 0 && run_kind != PAGE_ABSENT && !fn(mem->hva + run_start * page, run_len * page, run_kind, arg))
        ret = 1;
    free(entries);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Adapts a plain run callback to the pages that hold (or may hold) the session's data: every
 * kind but PAGE_FILE. */
struct session_runs {
    bool (*fn)(uint8_t *, uint64_t, void *);
    void *arg;
    uint64_t bytes;
};

static bool session_run(uint8_t *start, uint64_t len, enum page_kind kind, void *arg)
{
    struct session_runs *r = arg;
    if (kind == PAGE_FILE)
        return true;
    r->bytes += len;
    return r->fn == NULL || r->fn(start, len, r->arg);
}

/* File-backed memory: calls fn for every maximal run of private pages (written by the guest:
 * present and anonymous, or swapped out). Same return convention as for_each_resident_run. */
static uint64_t for_each_private_run(const struct guest_mem *mem, bool (*fn)(uint8_t *, uint64_t, void *), void *arg)
{
    struct session_runs r = { .fn = fn, .arg = arg };
    int w = walk_pagemap(mem, session_run, &r);
    return w < 0 ? UINT64_MAX : w > 0 ? UINT64_MAX - 1 : r.bytes;
}

/* Calls fn(start, length) for every maximal run of resident pages. Returns the resident bytes,
 * or UINT64_MAX when mincore itself fails (then the caller must treat all pages as resident). */
static uint64_t for_each_resident_run(const struct guest_mem *mem, bool (*fn)(uint8_t *, uint64_t, void *), void *arg)
{
    if (mem->file_backed)
        return for_each_private_run(mem, fn, arg);
    const uint64_t page = page_size();
    const uint64_t chunk_pages = 65536; /* 256 MiB of 4 KiB pages per mincore call */
    unsigned char *vec = malloc(chunk_pages);
    uint64_t resident = 0;

    if (vec == NULL)
        return UINT64_MAX;
    for (uint64_t off = 0; off < mem->size; off += chunk_pages * page) {
        uint64_t len = mem->size - off < chunk_pages * page ? mem->size - off : chunk_pages * page;
        uint64_t pages = len / page;
        if (mincore(mem->hva + off, len, vec) != 0) {
            free(vec);
            return UINT64_MAX;
        }
        for (uint64_t i = 0; i < pages;) {
            if (!(vec[i] & 1)) {
                i++;
                continue;
            }
            uint64_t j = i;
            while (j < pages && (vec[j] & 1))
                j++;
            resident += (j - i) * page;
            if (fn != NULL && !fn(mem->hva + off + i * page, (j - i) * page, arg)) {
                free(vec);
                return UINT64_MAX - 1;
            }
            i = j;
        }
    }
    free(vec);
    return resident;
}

/* True when [start, start + len) reads all zero. 64 bytes per step: under emulation (the dev
 * host) the cost follows instructions, not bytes. */
static bool run_is_zero(uint8_t *start, uint64_t len, void *arg)
{
    (void)arg;
    uint64_t i = 0;
    for (; i + 64 <= len; i += 64) {
        uint64_t w[8];
        memcpy(w, start + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0)
            return false;
    }
    for (; i < len; i++)
        if (start[i] != 0)
            return false;
    return true;
}

/* Zeroes the pages of a run that hold anything. A page that already reads zero holds nothing
 * to wipe, and writing it would be worse than useless: pages the guest only read are the
 * host's shared zero page (KVM maps read faults read-only), so a write would allocate and clear
 * a fresh page (2 MiB for a huge zero page) and make KVM unmap it from stage 2, only for munmap
 * to free it again. *arg counts the bytes zeroed. */
static bool zero_nonzero_pages(uint8_t *start, uint64_t len, void *arg)
{
    uint64_t *zeroed = arg;
    const uint64_t page = page_size();
    for (uint64_t i = 0; i < len; i += page) {
        if (run_is_zero(start + i, page, NULL))
            continue;
        explicit_bzero(start + i, page);
        *zeroed += page;
    }
    return true;
}

uint64_t guest_mem_resident_bytes(const struct guest_mem *mem)
{
    if (mem->hva == NULL)
        return 0;
    uint64_t r = for_each_resident_run(mem, NULL, NULL);
    return r == UINT64_MAX ? mem->size : r;
}

bool guest_mem_resident_pages_zero(const struct guest_mem *mem)
{
    if (mem->hva == NULL)
        return true;
    if (mem->in_memfd)
        return memfd_data_zero(mem->memfd, mem->hva, mem->size);
    /* the pages the wipe is responsible for: every one but those still of a mapped file */
    struct session_runs runs = { .fn = run_is_zero };
    int w = walk_pagemap(mem, session_run, &runs);
    if (w >= 0)
        return w == 0;
    uint64_t r = for_each_resident_run(mem, run_is_zero, NULL);
    if (r == UINT64_MAX) /* mincore failed: check every page instead */
        return run_is_zero(mem->hva, mem->size, NULL);
    return r != UINT64_MAX - 1;
}

int guest_mem_clear(struct guest_mem *mem, bool verify, struct guest_mem_wipe_stats *stats)
{
    struct guest_mem_wipe_stats local = { 0 };
    int ret = 0;

    if (mem->hva == NULL) {
        if (stats != NULL)
            *stats = local;
        return 0;
    }
    uint64_t t0 = mono_ns();
    /* Anonymous pages are checked and zeroed where they hold data (the zero page cannot be told
     * from a written page without privileges: pagemap's "exclusive" bit differs between
     * kernels); pages still of a mapped file hold nothing of this session and are left alone. */
    uint64_t resident, zeroed = 0;
    struct session_runs runs = { .fn = zero_nonzero_pages, .arg = &zeroed };
    struct memfd_wipe_stats mst;
    if (mem->in_memfd) {
        /* shared memory pages show as file pages in pagemap: follow the memfd's data instead */
        memfd_wipe(mem->memfd, mem->hva, mem->size, &mst);
        resident = mst.data_bytes;
        zeroed = mst.zeroed_bytes;
    } else if (walk_pagemap(mem, session_run, &runs) == 0) {
        resident = runs.bytes;
    } else if (!mem->file_backed && (resident = for_each_resident_run(mem, zero_nonzero_pages, &zeroed)) != UINT64_MAX) {
        /* no pagemap (no /proc): every resident page checked, the non-zero ones zeroed */
    } else {
        /* neither pagemap nor mincore: zero everything rather than leave data behind */
        explicit_bzero(mem->hva, mem->size);
        resident = zeroed = mem->size;
    }
    local.resident_bytes = resident;
    local.zeroed_bytes = zeroed;
    if (verify && !guest_mem_resident_pages_zero(mem))
        ret = -EIO;
    local.wipe_ns = mono_ns() - t0;
    if (stats != NULL)
        *stats = local;
    return ret;
}

void guest_mem_unmap(struct guest_mem *mem, struct guest_mem_wipe_stats *stats)
{
    uint64_t t0 = mono_ns();
    if (mem->hva != NULL)
        munmap(mem->hva, mem->size);
    if (mem->hva != NULL && mem->in_memfd)
        close(mem->memfd);
    mem->hva = NULL;
    mem->in_memfd = false;
    mem->file_backed = false;
    mem->placed_offset = mem->placed_len = 0;
    if (stats != NULL)
        stats->unmap_ns = mono_ns() - t0;
}

int guest_mem_wipe(struct guest_mem *mem, bool verify, struct guest_mem_wipe_stats *stats)
{
    struct guest_mem_wipe_stats local;
    int ret = guest_mem_clear(mem, verify, &local);
    guest_mem_unmap(mem, &local);
    if (stats != NULL)
        *stats = local;
    return ret;
}

struct write_ctx {
    const struct guest_mem *mem;
    int fd;
    uint64_t written;
    int err;
    bool skip_placed; /* leave the placed file's pages out (they are written in one go later) */
};

static bool page_is_zero(const uint8_t *p, uint64_t len)
{
    return run_is_zero((uint8_t *)(uintptr_t)p, len, NULL);
}

/* Writes the non-zero pages of one resident run, coalesced. */
static bool write_run(uint8_t *start, uint64_t len, void *arg)
{
    struct write_ctx *c = arg;
    const uint64_t page = page_size();
    const uint8_t *placed = c->mem->hva + c->mem->placed_offset, *placed_end = placed + c->mem->placed_len;
    for (uint64_t i = 0; i < len;) {
        bool skip = c->skip_placed && start + i >= placed && start + i < placed_end;
        if (skip || page_is_zero(start + i, page)) {
            i += page;
            continue;
        }
        uint64_t j = i + page;
        while (j < len && !page_is_zero(start + j, page) &&
               !(c->skip_placed && start + j >= placed && start + j < placed_end))
            j += page;
        uint64_t off = (uint64_t)(start - c->mem->hva) + i;
        for (uint64_t done = 0; done < j - i;) {
            ssize_t n = pwrite(c->fd, start + i + done, j - i - done, (off_t)(off + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                c->err = n < 0 ? -errno : -EIO;
                return false;
            }
            done += (uint64_t)n;
        }
        c->written += j - i;
        i = j;
    }
    return true;
}

int guest_mem_write_file(const struct guest_mem *mem, int fd, uint64_t *written_bytes)
{
    if (mem->hva == NULL)
        return -EINVAL;
    if (mem->file_backed)
        return -ENOTSUP;
    if (ftruncate(fd, (off_t)mem->size) != 0)
        return -errno;
    struct write_ctx c = { .mem = mem, .fd = fd, .skip_placed = mem->placed_len != 0 };
    uint64_t r = for_each_resident_run(mem, write_run, &c);
    if (r == UINT64_MAX) /* mincore failed: write every non-zero page (the placed file's below) */
        write_run(mem->hva, mem->size, &c);
    /* A placed file's pages hold guest memory whether or not the page cache has them now
     * (mincore looks at the cache, and a clean page may have been dropped): write them all. */
    if (c.err == 0 && mem->placed_len != 0) {
        c.skip_placed = false;
        write_run(mem->hva + mem->placed_offset, mem->placed_len, &c);
    }
    if (written_bytes != NULL)
        *written_bytes = c.written;
    return c.err;
}
