/* tests/fuzz/fuzz_harness.h — shared by the device fuzzers: loads a fuzz input into the test
 * driver's guest RAM as one queue's descriptor table and available ring, so that descriptor
 * addresses mostly land inside RAM (a few deliberately past its end). */
#ifndef SILO_TESTS_FUZZ_FUZZ_HARNESS_H
#define SILO_TESTS_FUZZ_FUZZ_HARNESS_H

#include <stdint.h>
#include <string.h>

#include "tests/unit/virtio_test_driver.h"

#define FUZZ_QSIZE 16
#define FUZZ_DATA_OFF 0x10000u /* request bytes live here, rings below */

/* Input: [count][16 descriptors × 16 bytes][data ...]. Writes the descriptors (addresses folded
 * into RAM + a margin), the data at FUZZ_DATA_OFF, and publishes `count` heads (head i = the
 * descriptor index from the avail bytes that follow the table). Returns the number published. */
static inline int fuzz_load_queue(struct vt_env *e, struct vt_queue *q, const uint8_t *data, size_t size)
{
    if (size < 1 + FUZZ_QSIZE * 16 + FUZZ_QSIZE)
        return -1;
    int count = data[0] % (FUZZ_QSIZE + 1);
    data++;
    size--;
    for (int i = 0; i < FUZZ_QSIZE; i++) {
        struct virtq_desc d;
        memcpy(&d, data + 16 * i, 16);
        d.addr = VT_RAM_BASE + FUZZ_DATA_OFF + d.addr % (VT_RAM_SIZE - FUZZ_DATA_OFF + 4096);
        d.len %= 0x20000;
        *vt_desc(q, (uint16_t)i) = d;
    }
    data += FUZZ_QSIZE * 16;
    size -= FUZZ_QSIZE * 16;
    const uint8_t *heads = data;
    data += FUZZ_QSIZE;
    size -= FUZZ_QSIZE;
    uint8_t *ram = vt_ptr(e, VT_RAM_BASE + FUZZ_DATA_OFF);
    size_t room = VT_RAM_SIZE - FUZZ_DATA_OFF;
    memset(ram, 0, 0x20000);
    memcpy(ram, data, size < room ? size : room);
    for (int i = 0; i < count; i++)
        vt_publish_head(q, heads[i]);
    return count;
}

#endif
