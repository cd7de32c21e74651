/* tests/fuzz/fuzz_virtq.c — libFuzzer target for the split-virtqueue walker. The input is
 * guest RAM (rings, descriptor tables, indirect tables, all raw: addresses are not massaged)
 * plus a few control bytes. Every segment the walker returns must lie inside RAM, chains must
 * stay within VIRTQ_MAX_SEGS, and the walk must terminate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtq.h"

#define RAM_SIZE 65536u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    static struct virtq_chain chain;
    if (mem.hva == NULL && guest_mem_map(&mem, 0, RAM_SIZE) != 0)
        abort();
    if (size < 8)
        return 0;
    uint16_t qsize = (uint16_t)(1u << (data[0] % 9)); /* 1..256 */
    bool event_idx = data[1] & 1, indirect = data[1] & 2;
    uint16_t start;
    memcpy(&start, data + 2, 2);
    uint16_t ring_off;
    memcpy(&ring_off, data + 4, 2);
    data += 8;
    size -= 8;

    memset(mem.hva, 0, RAM_SIZE);
    memcpy(mem.hva, data, size < RAM_SIZE ? size : RAM_SIZE);

    struct virtq q;
    virtq_reset(&q, qsize);
    q.desc_gpa = 0;
    q.avail_gpa = 16ULL * qsize + (ring_off & 0x3fe);
    q.used_gpa = (q.avail_gpa + 6 + 2ULL * qsize + 3 + (ring_off >> 10) * 4) & ~3ULL;
    if (virtq_enable(&q, &mem, 256, event_idx, indirect) != 0)
        return 0;
    q.last_avail = start;
    q.used_idx = start;
    q.signalled_used = start;
    for (int i = 0; i < 2 * qsize + 2; i++) {
        int r = virtq_pop(&q, &chain);
        if (r <= 0)
            break;
        if (chain.readable + chain.writable > VIRTQ_MAX_SEGS)
            abort();
        for (int s = 0; s < chain.readable + chain.writable; s++) {
            uint8_t *p = chain.iov[s].iov_base;
            if (p < mem.hva || p + chain.iov[s].iov_len > mem.hva + RAM_SIZE)
                abort();
        }
        uint8_t scratch[64];
        virtq_chain_read(&chain, 3, scratch, sizeof scratch);
        virtq_chain_write(&chain, 1, scratch, 17);
        virtq_push(&q, chain.head, (uint32_t)chain.write_bytes);
    }
    virtq_should_interrupt(&q);
    virtq_enable_kicks(&q);
    return 0;
}
