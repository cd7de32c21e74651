/* base/guest_mem.c — guest RAM mapping, bounds-checked translation and the resident-page wipe
 * (see guest_mem.h). */
#include "base/guest_mem.h"
#include "base/mono_time.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    mem->gpa_base = gpa_base;
    mem->size = size;
    mem->hva = p;
    return 0;
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

/* File-backed memory: calls fn for every maximal run of private pages (written by the guest:
 * present and anonymous, or swapped out). Same return convention as for_each_resident_run. */
static uint64_t for_each_private_run(const struct guest_mem *mem, bool (*fn)(uint8_t *, uint64_t, void *), void *arg)
{
    const uint64_t page = page_size();
    enum { CHUNK = 4096 };
    uint64_t *entries = malloc(CHUNK * sizeof *entries);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t total = mem->size / page, done = 0, privately = 0;
    uint64_t run_start = 0, run_len = 0;
    bool ok = entries != NULL && fd >= 0;
    while (ok && done < total) {
        uint64_t n = total - done < CHUNK ? total - done : CHUNK;
        uint64_t first = (uint64_t)(uintptr_t)mem->hva / page + done;
        ssize_t got = pread(fd, entries, n * sizeof *entries, (off_t)(first * sizeof *entries));
        if (got != (ssize_t)(n * sizeof *entries)) {
            ok = false;
            break;
        }
        for (uint64_t i = 0; i <= n; i++) {
            bool mine = i < n && ((entries[i] & PAGEMAP_SWAPPED) ||
                                  ((entries[i] & PAGEMAP_PRESENT) && !(entries[i] & PAGEMAP_FILE)));
            if (mine) {
                if (run_len == 0)
                    run_start = done + i;
                run_len++;
                continue;
            }
            if (i == n && done + n < total)
                break; /* the run may go on in the next chunk */
            if (run_len > 0) {
                privately += run_len * page;
                if (fn != NULL && !fn(mem->hva + run_start * page, run_len * page, arg)) {
                    free(entries);
                    close(fd);
                    return UINT64_MAX - 1;
                }
                run_len = 0;
            }
        }
        done += n;
    }
    free(entries);
    if (fd >= 0)
        close(fd);
    return ok ? privately : UINT64_MAX;
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

static bool zero_run(uint8_t *start, uint64_t len, void *arg)
{
    (void)arg;
    explicit_bzero(start, len);
    return true;
}

static bool run_is_zero(uint8_t *start, uint64_t len, void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < len; i += sizeof(uint64_t)) {
        uint64_t word;
        memcpy(&word, start + i, sizeof word);
        if (word != 0)
            return false;
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
    uint64_t r = for_each_resident_run(mem, run_is_zero, NULL);
    if (r == UINT64_MAX) /* mincore failed: check every page instead */
        return run_is_zero(mem->hva, mem->size, NULL);
    return r != UINT64_MAX - 1;
}

int guest_mem_wipe(struct guest_mem *mem, bool verify, struct guest_mem_wipe_stats *stats)
{
    struct guest_mem_wipe_stats local = { 0 };
    int ret = 0;

    if (mem->hva == NULL) {
        if (stats != NULL)
            *stats = local;
        return 0;
    }
    uint64_t t0 = mono_ns();
    uint64_t resident = for_each_resident_run(mem, zero_run, NULL);
    if (resident == UINT64_MAX) {
        /* mincore (or pagemap) failed: zero everything rather than leave data behind */
        explicit_bzero(mem->hva, mem->size);
        resident = mem->size;
    }
    local.resident_bytes = resident;
    if (verify && !guest_mem_resident_pages_zero(mem))
        ret = -EIO;
    uint64_t t1 = mono_ns();
    munmap(mem->hva, mem->size);
    mem->file_backed = false;
    uint64_t t2 = mono_ns();
    local.wipe_ns = t1 - t0;
    local.unmap_ns = t2 - t1;
    mem->hva = NULL;
    if (stats != NULL)
        *stats = local;
    return ret;
}

struct write_ctx {
    const struct guest_mem *mem;
    int fd;
    uint64_t written;
    int err;
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
    for (uint64_t i = 0; i < len;) {
        if (page_is_zero(start + i, page)) {
            i += page;
            continue;
        }
        uint64_t j = i + page;
        while (j < len && !page_is_zero(start + j, page))
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
    struct write_ctx c = { .mem = mem, .fd = fd };
    uint64_t r = for_each_resident_run(mem, write_run, &c);
    if (r == UINT64_MAX) /* mincore failed: write every non-zero page */
        write_run(mem->hva, mem->size, &c);
    if (written_bytes != NULL)
        *written_bytes = c.written;
    return c.err;
}
