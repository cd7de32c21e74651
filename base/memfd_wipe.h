/* base/memfd_wipe.h — the wipe of guest RAM that lives in a memfd (silo-vmm --wipe-keeper):
 * shared by the VMM's own end-of-session wipe and by its keeper process (vmm/keeper.h), which
 * runs it after a VMM that died without wiping.
 *
 * Only the ranges the memfd holds data in (lseek SEEK_DATA / SEEK_HOLE: pages ever written or
 * swapped out; holes were never touched and read zero) are looked at; in them, every page that
 * does not already read zero is zeroed with explicit_bzero through `map`, a shared mapping of
 * the whole memfd. No allocation, so it is safe in a forked child of a threaded process.
 */
#ifndef SILO_BASE_MEMFD_WIPE_H
#define SILO_BASE_MEMFD_WIPE_H

#include <stdbool.h>
#include <stdint.h>

struct memfd_wipe_stats {
    uint64_t data_bytes;   /* bytes in the memfd's data ranges (each page checked) */
    uint64_t zeroed_bytes; /* of those, the bytes of pages that held data and were zeroed */
};

/* Zeroes every page of [0, size) of memfd `fd` that holds data, through `map` (a MAP_SHARED
 * mapping of those bytes). Returns 0, or -errno when the data ranges cannot be found (then every
 * page of the mapping was checked and zeroed where non-zero, so nothing is left either way). */
int memfd_wipe(int fd, uint8_t *map, uint64_t size, struct memfd_wipe_stats *stats);

/* True when every page of the memfd's data ranges reads zero (the --verify-wipe check). */
bool memfd_data_zero(int fd, const uint8_t *map, uint64_t size);

#endif
