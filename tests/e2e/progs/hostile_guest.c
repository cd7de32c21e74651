/* tests/e2e/progs/hostile_guest.c — a raw, hostile guest payload (no Linux) for
 * tests/e2e/hostile_guest.sh. silo-vmm loads a file without an arm64 Image header at
 * DRAM_BASE + 0x80000 and enters it at EL1, MMU off; this one attacks each virtio-mmio device
 * through its queues and registers, prints one "hostile: ..." line per attack on the 8250 UART,
 * and powers off with PSCI SYSTEM_OFF. Attacks, in order:
 *   virtio-blk: a looping descriptor chain, a header outside guest RAM, a data buffer of
 *               0xffffffff bytes, writes past the end of the disk, an avail index jumped by
 *               60000, a storm of 200000 QueueNotify writes; then one sane read must still work
 *   virtio-rng: a buffer outside RAM, a buffer of 0xffffffff bytes, a looping chain; then a sane
 *               request
 *   virtio-vsock: (TX only) a 0xffffffff payload length, a spoofed src_cid, a REQUEST to another
 *               CID, a REQUEST flood to an unbound port; (RX and TX) up to 1100 half-open
 *               connections to a listening host port (taken, then never used)
 *   every slot: a read and a write of 0xffffffff at every 4-byte offset of its 4 KiB window,
 *               QueueSel past the queue count then QueueReady, QueueNum 0 and > max then
 *               QueueReady, DRIVER_OK before FEATURES_OK then a notify
 * MMU off: every data access is Device memory, hence -mstrict-align and volatile accesses;
 * MMIO goes through rd/wr (plain ldr/str that KVM can decode).
 * Built by tests/build.mk into $(BUILD)/arm64/bin/hostile-guest.bin (a raw binary). */
#include <stdbool.h>
#include <stdint.h>

#define UART_THR ((volatile uint8_t *)0x01000000UL)
#define VIRTIO_BASE 0x03000000UL
#define VIRTIO_SLOT_SIZE 0x1000UL
#define VIRTIO_SLOTS 32
#define RAM_OUTSIDE 0x1000000000ULL /* 64 GiB: far beyond any test guest's RAM */

/* virtio-mmio registers (devices/virtio/virtio_spec.h) */
enum {
    R_MAGIC = 0x000, R_DEVICE_ID = 0x008, R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014,
    R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
    R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050, R_INT_STATUS = 0x060,
    R_INT_ACK = 0x064, R_STATUS = 0x070, R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_AVAIL_LO = 0x090,
    R_AVAIL_HI = 0x094, R_USED_LO = 0x0a0, R_USED_HI = 0x0a4, R_CONFIG = 0x100,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 0x40 };
enum { D_NEXT = 1, D_WRITE = 2 };

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

#define QSIZE 16
/* The queue and buffers live in guest RAM well above the payload and its stack. */
#define DESC ((volatile struct desc *)0x81000000UL)
#define AVAIL ((volatile uint16_t *)0x81001000UL) /* flags, idx, ring[QSIZE] */
#define USED ((volatile uint16_t *)0x81002000UL)  /* flags, idx, then {u32 id, u32 len}[] */
#define BUF 0x81010000UL
#define HDR 0x81020000UL
#define STAT 0x81030000UL

__asm__(".section .text.start, \"ax\"\n"
        ".global _start\n"
        "_start:\n"
        "    ldr x1, =0x80800000\n"
        "    mov sp, x1\n"
        "    bl hostile_main\n"
        "    ldr x0, =0x84000008\n" /* PSCI SYSTEM_OFF */
        "    hvc #0\n"
        "1:  b 1b\n"
        ".ltorg\n"
        ".text\n");

void hostile_main(void);

static volatile uint32_t *reg(unsigned slot, unsigned off)
{
    return (volatile uint32_t *)(VIRTIO_BASE + slot * VIRTIO_SLOT_SIZE + off);
}
/* MMIO accesses are single plain ldr/str (no writeback, no pair): KVM can only decode those
 * (any other form has no valid syndrome, and KVM_RUN fails with ENOSYS, ending the VM). */
static uint32_t rd(unsigned slot, unsigned off)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(reg(slot, off)) : "memory");
    return v;
}
static void wr(unsigned slot, unsigned off, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(reg(slot, off)) : "memory");
}

static void put(const char *s)
{
    for (; *s; s++)
        __asm__ volatile("strb %w0, [%1]" : : "r"((uint32_t)(uint8_t)*s), "r"(UART_THR) : "memory");
}
static void put_hex(uint64_t v)
{
    char b[19];
    b[0] = '0';
    b[1] = 'x';
    int n = 2;
    int shift = 60;
    while (shift > 0 && ((v >> shift) & 0xf) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        b[n++] = "0123456789abcdef"[(v >> shift) & 0xf];
    b[n] = 0;
    put(b);
}

static void zero(volatile void *p, unsigned long n)
{
    volatile uint8_t *b = p;
    for (unsigned long i = 0; i < n; i++)
        b[i] = 0;
}

/* Reset the device and bring queue `queue` up (VERSION_1 only); returns the status read back. */
static uint32_t device_up_queue(unsigned slot, unsigned queue)
{
    wr(slot, R_STATUS, 0);
    zero(DESC, 0x3000);
    wr(slot, R_STATUS, S_ACK);
    wr(slot, R_STATUS, S_ACK | S_DRIVER);
    wr(slot, R_DRV_FEATURES_SEL, 1);
    wr(slot, R_DRV_FEATURES, 1); /* bit 32: VERSION_1 */
    wr(slot, R_DRV_FEATURES_SEL, 0);
    wr(slot, R_DRV_FEATURES, 0);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    wr(slot, R_QUEUE_SEL, queue);
    wr(slot, R_QUEUE_NUM, QSIZE);
    wr(slot, R_DESC_LO, (uint32_t)(uintptr_t)DESC);
    wr(slot, R_DESC_HI, 0);
    wr(slot, R_AVAIL_LO, (uint32_t)(uintptr_t)AVAIL);
    wr(slot, R_AVAIL_HI, 0);
    wr(slot, R_USED_LO, (uint32_t)(uintptr_t)USED);
    wr(slot, R_USED_HI, 0);
    wr(slot, R_QUEUE_READY, 1);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    return rd(slot, R_STATUS);
}
static uint32_t device_up(unsigned slot) { return device_up_queue(slot, 0); }

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    DESC[i].addr = addr;
    DESC[i].len = len;
    DESC[i].flags = flags;
    DESC[i].next = next;
}

/* Make chain `head` available on queue `queue` (avail idx += step), notify, and wait up to
 * `seconds` for the used index to move or the device to ask for a reset. Returns the status
 * register; *used gets how far the used index moved. */
static uint32_t submit_wait(unsigned slot, unsigned queue, uint16_t head, uint16_t step, unsigned seconds,
                            uint16_t *used)
{
    uint16_t used_before = USED[1];
    uint16_t idx = AVAIL[1];
    AVAIL[2 + idx % QSIZE] = head;
    __asm__ volatile("dsb sy" ::: "memory");
    AVAIL[1] = (uint16_t)(idx + step);
    __asm__ volatile("dsb sy" ::: "memory");
    wr(slot, R_QUEUE_NOTIFY, queue);
    /* wait up to `seconds` of the virtual counter; the used index is in RAM (cheap to poll), the
     * status register is an exit to the VMM (polled only now and then) */
    uint64_t now, freq;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(now));
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    uint64_t deadline = now + seconds * freq;
    uint32_t status = rd(slot, R_STATUS);
    for (unsigned long spin = 1; USED[1] == used_before && !(status & S_NEEDS_RESET); spin++) {
        if (spin % 4096 == 0) {
            status = rd(slot, R_STATUS);
            __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(now));
            if (now > deadline)
                break;
        }
    }
    status = rd(slot, R_STATUS);
    wr(slot, R_INT_ACK, rd(slot, R_INT_STATUS));
    *used = (uint16_t)(USED[1] - used_before);
    return status;
}

/* submit_wait on queue `queue` for 2 s, then one line saying what happened */
static void submit_on(unsigned slot, unsigned queue, const char *what, uint16_t head, uint16_t step)
{
    uint16_t used;
    uint32_t status = submit_wait(slot, queue, head, step, 2, &used);
    put("hostile: ");
    put(what);
    put(": status=");
    put_hex(status);
    put(" used=");
    put_hex(used);
    put(" used_len=");
    put_hex(*(volatile uint32_t *)(USED + 4));
    put(" req_status=");
    put_hex(*(volatile uint8_t *)STAT);
    put("\n");
}

static void submit(unsigned slot, const char *what, uint16_t head, uint16_t step)
{
    submit_on(slot, 0, what, head, step);
}

/* A block request: header at HDR, one data descriptor, a status byte at STAT. */
static void blk_request(unsigned slot, const char *what, uint32_t type, uint64_t sector, uint64_t data,
                        uint32_t len, uint64_t hdr)
{
    device_up(slot);
    volatile uint32_t *h = (volatile uint32_t *)HDR;
    h[0] = type;
    h[1] = 0;
    h[2] = (uint32_t)sector;
    h[3] = (uint32_t)(sector >> 32);
    *(volatile uint8_t *)STAT = 0xee;
    set_desc(0, hdr, 16, D_NEXT, 1);
    set_desc(1, data, len, (uint16_t)(D_NEXT | (type == 0 ? D_WRITE : 0)), 2);
    set_desc(2, STAT, 1, D_WRITE, 0);
    submit(slot, what, 0, 1);
}

static void attack_blk(unsigned slot)
{
    uint32_t st = device_up(slot);
    uint64_t capacity = rd(slot, R_CONFIG) | (uint64_t)rd(slot, R_CONFIG + 4) << 32; /* sectors */
    put("hostile: blk up: status=");
    put_hex(st);
    put(" capacity=");
    put_hex(capacity);
    put("\n");

    device_up(slot);
    set_desc(0, HDR, 16, D_NEXT, 0); /* next -> itself */
    submit(slot, "blk descriptor loop", 0, 1);

    device_up(slot);
    set_desc(0, HDR, 16, D_NEXT, 1);
    set_desc(1, BUF, 512, D_NEXT | D_WRITE, 0); /* 1 -> 0 -> 1 ... */
    submit(slot, "blk two-descriptor loop", 0, 1);

    blk_request(slot, "blk header outside RAM", 0, 0, BUF, 512, RAM_OUTSIDE);
    blk_request(slot, "blk data outside RAM", 0, 0, RAM_OUTSIDE, 512, HDR);
    blk_request(slot, "blk read of length 0xffffffff", 0, 0, BUF, 0xffffffffu, HDR);
    blk_request(slot, "blk write of length 0xffffffff", 1, 0, BUF, 0xffffffffu, HDR);
    blk_request(slot, "blk write past the end", 1, capacity + 8, BUF, 512, HDR);
    blk_request(slot, "blk write straddling the end", 1, capacity - 1, BUF, 4096, HDR);
    blk_request(slot, "blk write at sector 2^63", 1, 1ULL << 63, BUF, 512, HDR);

    device_up(slot);
    set_desc(0, HDR, 16, D_NEXT, 1);
    set_desc(1, STAT, 1, D_WRITE, 0);
    submit(slot, "blk avail index jumped by 60000", 0, 60000);

    device_up(slot);
    for (unsigned long i = 0; i < 200000; i++)
        wr(slot, R_QUEUE_NOTIFY, 0);
    put("hostile: blk notify storm of 200000: status=");
    put_hex(rd(slot, R_STATUS));
    put("\n");

    blk_request(slot, "blk sane read after the attacks", 0, 0, BUF, 512, HDR);
    wr(slot, R_STATUS, 0);
}

static void attack_rng(unsigned slot)
{
    device_up(slot);
    set_desc(0, RAM_OUTSIDE, 64, D_WRITE, 0);
    submit(slot, "rng buffer outside RAM", 0, 1);

    device_up(slot);
    set_desc(0, BUF, 0xffffffffu, D_WRITE, 0);
    submit(slot, "rng buffer of length 0xffffffff", 0, 1);

    device_up(slot);
    set_desc(0, BUF, 64, D_WRITE | D_NEXT, 0);
    submit(slot, "rng descriptor loop", 0, 1);

    device_up(slot);
    set_desc(0, BUF, 64, D_WRITE, 0);
    submit(slot, "rng sane request after the attacks", 0, 1);
    wr(slot, R_STATUS, 0);
}

static void attack_registers(unsigned slot)
{
    uint32_t sum = 0;
    for (unsigned off = 0; off < VIRTIO_SLOT_SIZE; off += 4)
        sum += rd(slot, off);
    for (unsigned off = 0; off < VIRTIO_SLOT_SIZE; off += 4)
        wr(slot, off, 0xffffffffu);
    put("hostile: slot ");
    put_hex(slot);
    put(" every offset read and written: status=");
    put_hex(rd(slot, R_STATUS));
    put(" sum=");
    put_hex(sum);
    put("\n");

    wr(slot, R_STATUS, 0);
    wr(slot, R_STATUS, S_ACK | S_DRIVER);
    wr(slot, R_QUEUE_SEL, 99);
    wr(slot, R_QUEUE_NUM, QSIZE);
    wr(slot, R_QUEUE_READY, 1);
    uint32_t max99 = rd(slot, R_QUEUE_NUM_MAX);
    wr(slot, R_QUEUE_SEL, 0);
    uint32_t max0 = rd(slot, R_QUEUE_NUM_MAX);
    wr(slot, R_QUEUE_NUM, 0);
    wr(slot, R_QUEUE_READY, 1);
    wr(slot, R_QUEUE_NUM, max0 + 1);
    wr(slot, R_QUEUE_READY, 1);
    wr(slot, R_QUEUE_NUM, 0xffffffffu);
    wr(slot, R_QUEUE_READY, 1);
    put("hostile: slot ");
    put_hex(slot);
    put(" bad QueueSel/QueueNum: max(99)=");
    put_hex(max99);
    put(" max(0)=");
    put_hex(max0);
    put(" ready=");
    put_hex(rd(slot, R_QUEUE_READY));
    put(" status=");
    put_hex(rd(slot, R_STATUS));
    put("\n");

    wr(slot, R_STATUS, 0);
    zero(DESC, 0x3000);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK); /* no FEATURES_OK */
    wr(slot, R_QUEUE_NOTIFY, 0);
    wr(slot, R_QUEUE_NOTIFY, 1);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK | S_FEATURES_OK);
    put("hostile: slot ");
    put_hex(slot);
    put(" DRIVER_OK before FEATURES_OK: status=");
    put_hex(rd(slot, R_STATUS));
    put("\n");
    wr(slot, R_STATUS, 0);
}

/* One vsock packet header (44 bytes, packed; every field naturally aligned) at HDR. */
static void vsock_hdr(uint64_t src_cid, uint64_t dst_cid, uint32_t src_port, uint32_t dst_port, uint32_t len,
                      uint16_t op)
{
    volatile uint8_t *h = (volatile uint8_t *)HDR;
    *(volatile uint64_t *)(h + 0) = src_cid;
    *(volatile uint64_t *)(h + 8) = dst_cid;
    *(volatile uint32_t *)(h + 16) = src_port;
    *(volatile uint32_t *)(h + 20) = dst_port;
    *(volatile uint32_t *)(h + 24) = len;
    *(volatile uint16_t *)(h + 28) = 1; /* stream */
    *(volatile uint16_t *)(h + 30) = op;
    *(volatile uint32_t *)(h + 32) = 0;
    *(volatile uint32_t *)(h + 36) = 65536; /* buf_alloc */
    *(volatile uint32_t *)(h + 40) = 0;
}

/* virtio-vsock, TX queue (1) only: the RX queue is never made ready, so every reply the device
 * owes the guest has to wait (or be dropped) inside the VMM. */
static void attack_vsock(unsigned slot)
{
    uint64_t cid = rd(slot, R_CONFIG) | (uint64_t)rd(slot, R_CONFIG + 4) << 32;
    device_up_queue(slot, 1);
    vsock_hdr(cid, 2, 5000, 9999, 0xffffffffu, 5); /* RW claiming 4 GiB of payload */
    set_desc(0, HDR, 44, 0, 0);
    submit_on(slot, 1, "vsock TX len 0xffffffff in a 44-byte buffer", 0, 1);

    vsock_hdr(2, 2, 5001, 9999, 0, 1); /* REQUEST from the host's own CID */
    submit_on(slot, 1, "vsock REQUEST with a spoofed src_cid", 0, 1);

    vsock_hdr(cid, 7, 5002, 9999, 0, 1); /* REQUEST to another guest */
    submit_on(slot, 1, "vsock REQUEST to CID 7", 0, 1);

    unsigned sent = 0;
    uint32_t status = 0;
    for (; sent < 1000; sent++) {
        uint16_t used;
        vsock_hdr(cid, 2, 10000 + sent, 9999, 0, 1); /* nobody listens on host port 9999 */
        status = submit_wait(slot, 1, 0, 1, 1, &used);
        if (used == 0)
            break; /* the device stopped taking packets (its replies have nowhere to go) */
    }
    put("hostile: vsock flood of REQUESTs to an unbound port: ");
    put_hex(sent);
    put(" of 0x3e8 taken, status=");
    put_hex(status);
    put("\n");
    wr(slot, R_STATUS, 0);
}

/* The RX queue (0) of virtio-vsock, beside the TX queue in DESC/AVAIL/USED: its own ring and
 * QSIZE buffers of 4 KiB, every one posted, recycled as the device fills them. */
#define RX_DESC ((volatile struct desc *)0x81100000UL)
#define RX_AVAIL ((volatile uint16_t *)0x81101000UL)
#define RX_USED ((volatile uint16_t *)0x81102000UL)
#define RX_BUF 0x81110000UL
static uint16_t rx_seen;

static void queue_ready(unsigned slot, unsigned queue, uintptr_t desc, uintptr_t avail, uintptr_t used)
{
    wr(slot, R_QUEUE_SEL, queue);
    wr(slot, R_QUEUE_NUM, QSIZE);
    wr(slot, R_DESC_LO, (uint32_t)desc);
    wr(slot, R_DESC_HI, 0);
    wr(slot, R_AVAIL_LO, (uint32_t)avail);
    wr(slot, R_AVAIL_HI, 0);
    wr(slot, R_USED_LO, (uint32_t)used);
    wr(slot, R_USED_HI, 0);
    wr(slot, R_QUEUE_READY, 1);
}

/* Reset, then RX (0) with every buffer posted and TX (1) ready; DRIVER_OK. */
static uint32_t vsock_up_rx_tx(unsigned slot)
{
    wr(slot, R_STATUS, 0);
    zero(DESC, 0x3000);
    zero(RX_DESC, 0x3000);
    wr(slot, R_STATUS, S_ACK);
    wr(slot, R_STATUS, S_ACK | S_DRIVER);
    wr(slot, R_DRV_FEATURES_SEL, 1);
    wr(slot, R_DRV_FEATURES, 1); /* VERSION_1 */
    wr(slot, R_DRV_FEATURES_SEL, 0);
    wr(slot, R_DRV_FEATURES, 0);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    for (unsigned i = 0; i < QSIZE; i++) {
        RX_DESC[i].addr = RX_BUF + i * 0x1000UL;
        RX_DESC[i].len = 0x1000;
        RX_DESC[i].flags = D_WRITE;
        RX_DESC[i].next = 0;
        RX_AVAIL[2 + i] = (uint16_t)i;
    }
    RX_AVAIL[1] = QSIZE;
    rx_seen = 0;
    queue_ready(slot, 0, (uintptr_t)RX_DESC, (uintptr_t)RX_AVAIL, (uintptr_t)RX_USED);
    queue_ready(slot, 1, (uintptr_t)DESC, (uintptr_t)AVAIL, (uintptr_t)USED);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    wr(slot, R_QUEUE_NOTIFY, 0);
    return rd(slot, R_STATUS);
}

/* Takes what the device put on RX since last time: counts RESPONSEs (op 2) and RSTs (op 3),
 * and posts each buffer again. */
static void rx_recycle(unsigned slot, unsigned *responses, unsigned *rsts)
{
    uint16_t used = RX_USED[1];
    bool any = false;
    while (rx_seen != used) {
        volatile uint32_t *elem = (volatile uint32_t *)(RX_USED + 2) + 2 * (rx_seen % QSIZE);
        uint16_t id = (uint16_t)(elem[0] % QSIZE);
        uint16_t op = *(volatile uint16_t *)(RX_BUF + id * 0x1000UL + 30);
        if (op == 2)
            (*responses)++;
        else if (op == 3)
            (*rsts)++;
        uint16_t idx = RX_AVAIL[1];
        RX_AVAIL[2 + idx % QSIZE] = id;
        __asm__ volatile("dsb sy" ::: "memory");
        RX_AVAIL[1] = (uint16_t)(idx + 1);
        rx_seen++;
        any = true;
    }
    if (any) {
        __asm__ volatile("dsb sy" ::: "memory");
        wr(slot, R_QUEUE_NOTIFY, 0);
    }
}

/* Half-open connections: up to 1100 REQUESTs to host port 7000, where a listener accepts and
 * holds every connection; the guest takes each RESPONSE and then never sends or reads a byte.
 * The device may answer only so many (its connection table, its descriptors) and must RST the
 * rest, and must not stop serving. */
static void attack_vsock_half_open(unsigned slot)
{
    uint64_t cid = rd(slot, R_CONFIG) | (uint64_t)rd(slot, R_CONFIG + 4) << 32;
    uint32_t status = vsock_up_rx_tx(slot);
    unsigned responses = 0, rsts = 0, sent = 0, stalls = 0;
    for (; sent < 1100 && stalls < 3; sent++) {
        uint16_t used;
        vsock_hdr(cid, 2, 20000 + sent, 7000, 0, 1);
        set_desc(0, HDR, 44, 0, 0);
        status = submit_wait(slot, 1, 0, 1, 1, &used);
        stalls = used == 0 ? stalls + 1 : 0;
        /* give the device a moment to answer, then take its answers */
        uint64_t now, freq, until;
        __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(now));
        __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
        until = now + freq / 100;
        while (RX_USED[1] == rx_seen && now < until)
            __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(now));
        rx_recycle(slot, &responses, &rsts);
    }
    /* the last answers */
    for (unsigned i = 0; i < 200; i++)
        rx_recycle(slot, &responses, &rsts);
    put("hostile: vsock half-open: ");
    put_hex(sent);
    put(" REQUESTs to a listening host port: responses=");
    put_hex(responses);
    put(" rsts=");
    put_hex(rsts);
    put(" status=");
    put_hex(status);
    put("\n");
    wr(slot, R_STATUS, 0);
}

void hostile_main(void)
{
    put("hostile: start\n");
    unsigned ids[VIRTIO_SLOTS];
    unsigned n = 0;
    for (unsigned s = 0; s < VIRTIO_SLOTS; s++) {
        ids[s] = rd(s, R_MAGIC) == 0x74726976u ? rd(s, R_DEVICE_ID) : 0;
        if (ids[s])
            n = s + 1;
    }
    put("hostile: slots probed: ");
    put_hex(n);
    put(" devices\n");
    for (unsigned s = 0; s < n; s++)
        if (ids[s] == 2)
            attack_blk(s);
    for (unsigned s = 0; s < n; s++)
        if (ids[s] == 4)
            attack_rng(s);
    for (unsigned s = 0; s < n; s++)
        if (ids[s] == 19) {
            attack_vsock(s);
            attack_vsock_half_open(s);
        }
    for (unsigned s = 0; s < n; s++)
        if (ids[s])
            attack_registers(s);
    put("hostile: done\n");
}
