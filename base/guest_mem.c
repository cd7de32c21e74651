/* base/guest_mem.c — guest RAM mapping, bounds-checked translation and the resident-page wipe
 * (see guest_mem.h). */
#include "base/guest_mem.h"
#include "base/mono_time.h"

#include <errno.h>
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

/* Calls fn(start, length) for every maximal run of resident pages. Returns the resident bytes,
 * or UINT64_MAX when mincore itself fails (then the caller must treat all pages as resident). */
static uint64_t for_each_resident_run(const struct guest_mem *mem, bool (*fn)(uint8_t *, uint64_t, void *), void *arg)
{
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
        /* mincore failed: fall back to zeroing everything rather than leaving data behind */
        explicit_bzero(mem->hva, mem->size);
        resident = mem->size;
    }
    local.resident_bytes = resident;
    if (verify && !guest_mem_resident_pages_zero(mem))
        ret = -EIO;
    uint64_t t1 = mono_ns();
    munmap(mem->hva, mem->size);
    uint64_t t2 = mono_ns();
    local.wipe_ns = t1 - t0;
    local.unmap_ns = t2 - t1;
    mem->hva = NULL;
    if (stats != NULL)
        *stats = local;
    return ret;
}
