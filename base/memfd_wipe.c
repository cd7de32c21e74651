/* base/memfd_wipe.c — wiping guest RAM kept in a memfd (see memfd_wipe.h). */
#include "base/memfd_wipe.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef bool (*data_run_fn)(uint8_t *start, uint64_t len, void *arg);

/* Calls fn for every data range of [0, size): 0, or -errno when SEEK_DATA is not available
 * (then fn got the whole of [0, size) once). Stops early (returning 0) when fn returns false. */
static int for_each_data_run(int fd, uint8_t *map, uint64_t size, data_run_fn fn, void *arg)
{
    uint64_t pos = 0;
    while (pos < size) {
        off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO)
                return 0; /* no data beyond pos */
            int e = errno; /* cannot tell data from holes: treat the rest as data */
            fn(map + pos, size - pos, arg);
            return -e;
        }
        if ((uint64_t)data >= size)
            return 0;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        uint64_t end = hole < 0 || (uint64_t)hole > size ? size : (uint64_t)hole;
        if (!fn(map + data, end - (uint64_t)data, arg))
            return 0;
        pos = end;
    }
    return 0;
}

static uint64_t page_size(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* All zero? 64 bytes per step (the cost under emulation follows instructions). */
static bool bytes_zero(const uint8_t *p, uint64_t len)
{
    uint64_t i = 0;
    for (; i + 64 <= len; i += 64) {
        uint64_t w[8];
        memcpy(w, p + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0)
            return false;
    }
    for (; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static bool zero_run(uint8_t *start, uint64_t len, void *arg)
{
    struct memfd_wipe_stats *st = arg;
    const uint64_t page = page_size();
    st->data_bytes += len;
    for (uint64_t i = 0; i < len; i += page) {
        uint64_t n = len - i < page ? len - i : page;
        if (bytes_zero(start + i, n))
            continue;
        explicit_bzero(start + i, n);
        st->zeroed_bytes += n;
    }
    return true;
}

int memfd_wipe(int fd, uint8_t *map, uint64_t size, struct memfd_wipe_stats *stats)
{
    struct memfd_wipe_stats local = { 0 };
    int r = for_each_data_run(fd, map, size, zero_run, &local);
    if (stats != NULL)
        *stats = local;
    return r;
}

static bool check_run(uint8_t *start, uint64_t len, void *arg)
{
    bool *all_zero = arg;
    if (!bytes_zero(start, len))
        *all_zero = false;
    return *all_zero;
}

bool memfd_data_zero(int fd, const uint8_t *map, uint64_t size)
{
    bool all_zero = true;
    for_each_data_run(fd, (uint8_t *)(uintptr_t)map, size, check_run, &all_zero);
    return all_zero;
}
