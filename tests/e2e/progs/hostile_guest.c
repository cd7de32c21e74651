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
 * With "hostile=MODE" in the command line (the device tree's bootargs, x0 at entry) it runs one
 * storm instead, for 8 s of its virtual counter, then makes one sane request, prints "hostile:
 * quiet after the storm" and spins without an exit until the VMM is stopped:
 *   storm-rng:    16 virtio-rng requests of 1 byte kept in flight, QueueNotify on every turn,
 *                 the interrupt never acknowledged
 *   storm-blk:    5 one-sector virtio-blk reads kept in flight, QueueNotify and InterruptStatus
 *                 -> InterruptACK on every turn
 *   storm-notify: QueueNotify on queues 0, 1, 2 and 0xffff of every device (queue 0 ready, its
 *                 ring empty), while vCPU 1 (PSCI CPU_ON) sets and clears enable, pending,
 *                 active and priority of the devices' SPIs and the GIC distributor's enable
 *   spin:         every vCPU spins without an exit, forever (a CPU budget's test)
 * No EVENT_IDX is negotiated, so every completion raises the device's interrupt. One line a
 * second: "hostile: storm NAME: second=N completions=N notifies=N acks=N gic_writes=N status=S".
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

/* x0 at entry is the device tree's address (the boot mode is read from its bootargs). A
 * secondary vCPU started by PSCI CPU_ON enters at secondary_start with x0 = its index and gets
 * 64 KiB of stack below the primary's. psci_call: one PSCI call through HVC (SMCCC). */
__asm__(".section .text.start, \"ax\"\n"
        ".global _start\n"
        "_start:\n"
        "    ldr x1, =0x80800000\n"
        "    mov sp, x1\n"
        "    bl hostile_main\n"
        "    ldr x0, =0x84000008\n" /* PSCI SYSTEM_OFF */
        "    hvc #0\n"
        "1:  b 1b\n"
        ".global secondary_start\n"
        "secondary_start:\n"
        "    ldr x1, =0x80800000\n"
        "    sub x1, x1, x0, lsl #16\n"
        "    mov sp, x1\n"
        "    bl hostile_secondary\n"
        "2:  b 2b\n"
        ".global psci_call\n"
        "psci_call:\n"
        "    hvc #0\n"
        "    ret\n"
        ".ltorg\n"
        ".text\n");

void hostile_main(uint64_t dtb);
void hostile_secondary(uint64_t index);
void secondary_start(void);
int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);

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

static void desc_at(volatile struct desc *table, unsigned i, uint64_t addr, uint32_t len, unsigned flags,
                    unsigned next)
{
    table[i].addr = addr;
    table[i].len = len;
    table[i].flags = (uint16_t)flags;
    table[i].next = (uint16_t)next;
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

/* --- storms and spinning (hostile=MODE on the command line) ----------------------------------
 * Each mode runs until the VMM is stopped from outside (SIGTERM); only vCPU 0 prints. */

static uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
    return v;
}
static uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}
static void put_dec(uint64_t v)
{
    char b[21];
    int n = 20;
    b[n] = 0;
    do {
        b[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(b + n);
}

/* The value of "hostile=" in the device tree's bootargs (a flat scan of the blob: the string
 * occurs nowhere else), or "" */
static void boot_mode(uint64_t dtb, char *mode, unsigned size)
{
    static const char key[] = "hostile=";
    mode[0] = 0;
    if (dtb < 0x80000000UL || dtb >= 0xc0000000UL) /* in the first GiB of RAM */
        return;
    volatile const uint8_t *b = (volatile const uint8_t *)dtb;
    uint32_t magic = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t total = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    if (magic != 0xd00dfeedu || total > 0x100000)
        return;
    for (uint32_t i = 0; i + sizeof key - 1 < total; i++) {
        unsigned k = 0;
        while (k < sizeof key - 1 && b[i + k] == (uint8_t)key[k])
            k++;
        if (k < sizeof key - 1)
            continue;
        unsigned n = 0;
        for (uint32_t j = i + k; j < total && n + 1 < size && b[j] != 0 && b[j] != ' '; j++)
            mode[n++] = (char)b[j];
        mode[n] = 0;
        return;
    }
}
static bool same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Secondary vCPUs: started with PSCI CPU_ON (KVM's in-kernel PSCI), each says it runs, then does
 * secondary_job: spin without an exit, or hammer the GIC distributor (vCPU 1). */
#define MAX_CPUS 8
enum { JOB_SPIN, JOB_GIC };
static volatile uint32_t cpu_running[MAX_CPUS];
static volatile uint32_t secondary_job;
static volatile uint64_t gic_writes;
static volatile uint32_t gic_spi_mask; /* bits of GICD_I*R1 (INTIDs 32..63): the devices' SPIs */

static void spin_forever(void)
{
    for (uint64_t i = 0;; i++)
        __asm__ volatile("" : "+r"(i)); /* no memory access, no exit: only the vCPU's own time */
}

/* GIC distributor, GICv3 (64 KiB) or GICv2 (4 KiB) at the same base: the registers used here are
 * at the same offsets in both. KVM emulates them in the kernel; silo-vmm never sees these writes. */
#define GICD 0x3fff0000UL
enum { GICD_CTLR = 0x000, GICD_ISENABLER = 0x100, GICD_ICENABLER = 0x180, GICD_ISPENDR = 0x200,
       GICD_ICPENDR = 0x280, GICD_ISACTIVER = 0x300, GICD_ICACTIVER = 0x380, GICD_IPRIORITYR = 0x400 };
static void gicd_wr(unsigned off, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"((volatile uint32_t *)(GICD + off)) : "memory");
}
static uint32_t gicd_rd(unsigned off)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"((volatile uint32_t *)(GICD + off)) : "memory");
    return v;
}

/* Sets and clears enable, pending and active of the devices' SPIs (word 1: INTIDs 32..63), their
 * priorities, and the distributor's enable, as fast as it can, until secondary_job changes. */
static void gic_hammer(void)
{
    uint32_t m = gic_spi_mask;
    for (uint32_t turn = 0; secondary_job == JOB_GIC; turn++) {
        gicd_wr(GICD_CTLR, turn & 1 ? 0 : 0x13); /* v3: ARE_NS | Grp1 | Grp0; v2: the enable bit(s) */
        gicd_wr(GICD_ISENABLER + 4, m);
        gicd_wr(GICD_ISPENDR + 4, m);
        gicd_wr(GICD_ISACTIVER + 4, m);
        gicd_wr(GICD_IPRIORITYR + 32 + 16, turn); /* the priorities of INTIDs 48..51 */
        gicd_wr(GICD_ICACTIVER + 4, m);
        gicd_wr(GICD_ICPENDR + 4, m);
        gicd_wr(GICD_ICENABLER + 4, m);
        (void)gicd_rd(GICD_ISPENDR + 4);
        (void)gicd_rd(GICD_ISENABLER + 4);
        gic_writes += 8;
    }
}

void hostile_secondary(uint64_t index)
{
    if (index < MAX_CPUS)
        cpu_running[index] = 1;
    if (secondary_job == JOB_GIC && index == 1)
        gic_hammer();
    spin_forever();
}

/* PSCI CPU_ON for vCPUs 1.. until one does not exist (MPIDR Aff0 = index below 16); waits up to
 * 2 s for each to run. Returns how many vCPUs run, vCPU 0 included. */
static unsigned start_secondaries(void)
{
    unsigned n = 1;
    for (unsigned i = 1; i < MAX_CPUS; i++) {
        if (psci_call(0xc4000003UL, i, (uint64_t)(uintptr_t)secondary_start, i) != 0)
            break; /* CPU_ON (64-bit): no such vCPU */
        uint64_t until = counter() + 2 * counter_freq();
        while (!cpu_running[i] && counter() < until)
            ;
        if (!cpu_running[i])
            break;
        n++;
    }
    return n;
}

/* A storm's own queue (queue 0), away from the attacks' rings. */
#define S_DESC ((volatile struct desc *)0x82000000UL)
#define S_AVAIL ((volatile uint16_t *)0x82001000UL)
#define S_USED ((volatile uint16_t *)0x82002000UL)
#define S_BUF 0x82010000UL

static uint32_t storm_up(unsigned slot)
{
    wr(slot, R_STATUS, 0);
    zero(S_DESC, 0x3000);
    wr(slot, R_STATUS, S_ACK);
    wr(slot, R_STATUS, S_ACK | S_DRIVER);
    wr(slot, R_DRV_FEATURES_SEL, 1);
    wr(slot, R_DRV_FEATURES, 1); /* VERSION_1 only: no EVENT_IDX, so every completion interrupts */
    wr(slot, R_DRV_FEATURES_SEL, 0);
    wr(slot, R_DRV_FEATURES, 0);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    queue_ready(slot, 0, (uintptr_t)S_DESC, (uintptr_t)S_AVAIL, (uintptr_t)S_USED);
    wr(slot, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    return rd(slot, R_STATUS);
}

/* One line a second: "hostile: storm NAME: second=N completions=N notifies=N acks=N
 * gic_writes=N status=0x.." (totals since the storm began). */
static void storm_line(const char *name, uint64_t second, uint64_t completions, uint64_t notifies, uint64_t acks,
                       uint32_t status)
{
    put("hostile: storm ");
    put(name);
    put(": second=");
    put_dec(second);
    put(" completions=");
    put_dec(completions);
    put(" notifies=");
    put_dec(notifies);
    put(" acks=");
    put_dec(acks);
    put(" gic_writes=");
    put_dec(gic_writes);
    put(" status=");
    put_hex(status);
    put("\n");
}

/* How long a storm lasts (seconds of the virtual counter); hostile_guest.sh samples the VMM from
 * its second 1 for 5 s, then again once the guest has gone quiet. */
#define STORM_SECONDS 8

/* Keeps the chains heads[0..n) in flight on queue 0 of `slot` as fast as the device completes
 * them: each completed chain is made available again at once, and QueueNotify is written on
 * every turn of the loop whether or not anything completed. With `ack`, InterruptStatus is read
 * and written back to InterruptACK on every turn; without, the interrupt is never acknowledged.
 * Returns after STORM_SECONDS. */
static void storm_queue(unsigned slot, const char *name, const uint16_t *heads, unsigned n, bool ack)
{
    for (unsigned i = 0; i < n; i++)
        S_AVAIL[2 + i] = heads[i];
    __asm__ volatile("dsb sy" ::: "memory");
    S_AVAIL[1] = (uint16_t)n;
    uint16_t avail = (uint16_t)n, seen = 0;
    uint64_t completions = 0, notifies = 0, acks = 0, second = 0;
    uint64_t freq = counter_freq(), next = counter() + freq;
    storm_line(name, 0, 0, 0, 0, rd(slot, R_STATUS));
    for (uint64_t turn = 1;; turn++) {
        uint16_t used = S_USED[1];
        if (used != seen) {
            while (seen != used) {
                volatile uint32_t *elem = (volatile uint32_t *)(S_USED + 2) + 2 * (seen % QSIZE);
                S_AVAIL[2 + avail % QSIZE] = (uint16_t)(elem[0] % QSIZE);
                avail++;
                seen++;
                completions++;
            }
            __asm__ volatile("dsb sy" ::: "memory");
            S_AVAIL[1] = avail;
            __asm__ volatile("dsb sy" ::: "memory");
        }
        wr(slot, R_QUEUE_NOTIFY, 0);
        notifies++;
        if (ack) {
            wr(slot, R_INT_ACK, rd(slot, R_INT_STATUS));
            acks++;
        }
        if (turn % 64 == 0 && counter() >= next) {
            next += freq;
            storm_line(name, ++second, completions, notifies, acks, rd(slot, R_STATUS));
            if (second == STORM_SECONDS)
                return;
        }
    }
}

/* virtio-rng: QSIZE requests of 1 byte each, never acknowledged */
static void storm_rng(unsigned slot)
{
    uint16_t heads[QSIZE];
    storm_up(slot);
    for (unsigned i = 0; i < QSIZE; i++) {
        desc_at(S_DESC, i, S_BUF + i, 1, D_WRITE, 0);
        heads[i] = (uint16_t)i;
    }
    storm_queue(slot, "rng", heads, QSIZE, false);
    device_up(slot);
    set_desc(0, BUF, 64, D_WRITE, 0);
    submit(slot, "after the storm: rng sane request", 0, 1);
}

/* virtio-blk: 5 one-sector reads of sector 0 (3 descriptors each), acknowledged on every turn */
static void storm_blk(unsigned slot)
{
    uint16_t heads[QSIZE / 3];
    storm_up(slot);
    volatile uint32_t *h = (volatile uint32_t *)HDR; /* one shared header: read sector 0 */
    h[0] = 0;
    h[1] = 0;
    h[2] = 0;
    h[3] = 0;
    for (unsigned i = 0; i < QSIZE / 3; i++) {
        unsigned d = 3 * i;
        desc_at(S_DESC, d, HDR, 16, D_NEXT, d + 1);
        desc_at(S_DESC, d + 1, S_BUF + i * 0x200UL, 512, D_NEXT | D_WRITE, d + 2);
        desc_at(S_DESC, d + 2, STAT + i, 1, D_WRITE, 0);
        heads[i] = (uint16_t)d;
    }
    storm_queue(slot, "blk", heads, QSIZE / 3, true);
    blk_request(slot, "after the storm: blk sane read", 0, 0, BUF, 512, HDR);
}

/* QueueNotify on every queue index 0..2 (and 0xffff) of every slot, forever: queue 0 of each
 * device is ready with an empty ring (the I/O thread wakes for nothing), the others are not
 * ready or do not exist (index 0xffff: no ioeventfd matches, an exit to silo-vmm's vCPU thread).
 * vCPU 1, if there is one, hammers the GIC distributor at the same time. */
static void storm_notify(const unsigned *ids, unsigned n)
{
    for (unsigned s = 0; s < n; s++)
        if (ids[s])
            storm_up(s);
    uint64_t notifies = 0, second = 0, freq = counter_freq(), next = counter() + freq;
    storm_line("notify", 0, 0, 0, 0, rd(0, R_STATUS));
    for (;;) {
        for (unsigned s = 0; s < n; s++) {
            wr(s, R_QUEUE_NOTIFY, 0);
            wr(s, R_QUEUE_NOTIFY, 1);
            wr(s, R_QUEUE_NOTIFY, 2);
            wr(s, R_QUEUE_NOTIFY, 0xffff);
            notifies += 4;
        }
        if (counter() >= next) {
            next += freq;
            storm_line("notify", ++second, 0, notifies, 0, rd(0, R_STATUS));
            if (second == STORM_SECONDS)
                break;
        }
    }
    secondary_job = JOB_SPIN; /* vCPU 1 stops hammering the GIC */
    unsigned s = 0;
    while (s < n && ids[s] != 2)
        s++;
    if (s < n)
        blk_request(s, "after the storm: blk sane read", 0, 0, BUF, 512, HDR);
}

static unsigned probe(unsigned *ids)
{
    unsigned n = 0;
    for (unsigned s = 0; s < VIRTIO_SLOTS; s++) {
        ids[s] = rd(s, R_MAGIC) == 0x74726976u ? rd(s, R_DEVICE_ID) : 0;
        if (ids[s])
            n = s + 1;
    }
    return n;
}

static unsigned find(const unsigned *ids, unsigned n, unsigned id)
{
    for (unsigned s = 0; s < n; s++)
        if (ids[s] == id)
            return s;
    return VIRTIO_SLOTS;
}

/* hostile=storm-rng | storm-blk | storm-notify | spin: never returns but for a missing device */
static void run_mode(const char *mode)
{
    unsigned ids[VIRTIO_SLOTS];
    unsigned n = probe(ids);
    uint32_t mask = 0;
    for (unsigned s = 0; s < n; s++)
        if (ids[s])
            mask |= 1u << (16 + s); /* SPI 16 + slot = INTID 48 + slot: bit 16 + slot of word 1 */
    gic_spi_mask = mask;
    secondary_job = same(mode, "storm-notify") ? JOB_GIC : JOB_SPIN;
    unsigned cpus = start_secondaries();
    put("hostile: mode ");
    put(mode);
    put(": ");
    put_dec(cpus);
    put(" vCPUs running, ");
    put_hex(n);
    put(" device slots\n");
    if (same(mode, "spin")) {
        put("hostile: spinning\n");
        spin_forever();
    }
    unsigned s;
    bool stormed = true;
    if (same(mode, "storm-rng") && (s = find(ids, n, 4)) < VIRTIO_SLOTS)
        storm_rng(s);
    else if (same(mode, "storm-blk") && (s = find(ids, n, 2)) < VIRTIO_SLOTS)
        storm_blk(s);
    else if (same(mode, "storm-notify") && n > 0)
        storm_notify(ids, n);
    else
        stormed = false;
    if (stormed) {
        /* quiet: no more requests, no exits; the VMM's own threads should have nothing to do */
        put("hostile: quiet after the storm\n");
        spin_forever();
    }
    put("hostile: mode ");
    put(mode);
    put(": unknown, or its device is missing\n");
}

void hostile_main(uint64_t dtb)
{
    char mode[32];
    boot_mode(dtb, mode, sizeof mode);
    if (mode[0]) {
        run_mode(mode);
        return;
    }
    put("hostile: start\n");
    unsigned ids[VIRTIO_SLOTS];
    unsigned n = probe(ids);
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
