/* vmm/vm_state.c — saving and restoring vCPU and vGICv3 state through KVM (see vm_state.h). */
#include "vmm/vm_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/error_message.h"
#include "boot/layout.h"

#define MAX_VCPU_REGS 4096u
#define MAX_REG_BYTES 256u /* the widest KVM register (an SVE Z register at 2048 bits) */
#define MAX_GIC_ENTRIES 8192u

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

static size_t reg_bytes(uint64_t id)
{
    return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

/* The vCPU's register list (malloc'd), or NULL. */
static struct kvm_reg_list *reg_list(int fd)
{
    struct kvm_reg_list probe = { .n = 0 };
    if (ioctl(fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG || probe.n == 0 || probe.n > MAX_VCPU_REGS)
        return NULL;
    struct kvm_reg_list *list = malloc(sizeof *list + probe.n * sizeof(uint64_t));
    if (list == NULL)
        return NULL;
    list->n = probe.n;
    if (xioctl(fd, KVM_GET_REG_LIST, list) != 0) {
        free(list);
        return NULL;
    }
    return list;
}

/* CPU identification: compared on restore, never written. op0=3 op1=0 CRn=0 is the ID space
 * (MIDR, MPIDR, REVIDR, ID_AA64*); the DEMUX group holds the cache geometry (CCSIDR); with SVE,
 * the vector-length set. */
static bool is_cpu_id_reg(uint64_t id)
{
    if ((id & KVM_REG_ARM_COPROC_MASK) == KVM_REG_ARM_DEMUX)
        return true;
    if (id == KVM_REG_ARM64_SVE_VLS)
        return true; /* the SVE vector lengths: fixed when SVE was finalized, must match */
    if ((id & KVM_REG_ARM_COPROC_MASK) != KVM_REG_ARM64_SYSREG)
        return false;
    unsigned op0 = (unsigned)((id & KVM_REG_ARM64_SYSREG_OP0_MASK) >> KVM_REG_ARM64_SYSREG_OP0_SHIFT);
    unsigned op1 = (unsigned)((id & KVM_REG_ARM64_SYSREG_OP1_MASK) >> KVM_REG_ARM64_SYSREG_OP1_SHIFT);
    unsigned crn = (unsigned)((id & KVM_REG_ARM64_SYSREG_CRN_MASK) >> KVM_REG_ARM64_SYSREG_CRN_SHIFT);
    unsigned crm = (unsigned)((id & KVM_REG_ARM64_SYSREG_CRM_MASK) >> KVM_REG_ARM64_SYSREG_CRM_SHIFT);
    unsigned op2 = (unsigned)((id & KVM_REG_ARM64_SYSREG_OP2_MASK) >> KVM_REG_ARM64_SYSREG_OP2_SHIFT);
    if (op0 == 3 && op1 == 0 && crn == 0 && crm == 0 && op2 == 5)
        return false; /* MPIDR_EL1: this vCPU's affinity, written back like any register */
    return op0 == 3 && op1 == 0 && crn == 0;
}

int vm_state_save_vcpu(const struct vcpu *v, struct state_writer *w, char *err, size_t errlen)
{
    struct kvm_mp_state mp;
    if (xioctl(v->fd, KVM_GET_MP_STATE, &mp) != 0)
        return error_message(err, errlen, "vCPU %u: KVM_GET_MP_STATE: %s", v->index, strerror(errno));
    struct kvm_reg_list *list = reg_list(v->fd);
    if (list == NULL)
        return error_message(err, errlen, "vCPU %u: KVM_GET_REG_LIST failed", v->index);
    state_put_u32(w, mp.mp_state);
    state_put_u32(w, (uint32_t)list->n);
    uint8_t value[MAX_REG_BYTES];
    for (uint64_t i = 0; i < list->n; i++) {
        uint64_t id = list->reg[i];
        size_t n = reg_bytes(id);
        struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };
        if (n > sizeof value || xioctl(v->fd, KVM_GET_ONE_REG, &reg) != 0) {
            int e = errno;
            free(list);
            return error_message(err, errlen, "vCPU %u: reading register 0x%llx: %s", v->index,
                                 (unsigned long long)id, n > sizeof value ? "too wide" : strerror(e));
        }
        state_put_u64(w, id);
        state_put_bytes(w, value, n);
    }
    free(list);
    explicit_bzero(value, sizeof value);
    return state_writer_ok(w) ? 0 : error_message(err, errlen, "out of memory saving vCPU %u", v->index);
}

static bool list_has(const struct kvm_reg_list *list, uint64_t id)
{
    for (uint64_t i = 0; i < list->n; i++)
        if (list->reg[i] == id)
            return true;
    return false;
}

int vm_state_restore_vcpu(const struct vcpu *v, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    struct state_reader r;
    state_reader_init(&r, data, len);
    uint32_t mp_state = state_get_u32(&r), count = state_get_u32(&r);
    if (!state_reader_ok(&r, false) || count == 0 || count > MAX_VCPU_REGS)
        return error_message(err, errlen, "vCPU %u's record is malformed", v->index);
    if (mp_state != KVM_MP_STATE_RUNNABLE && mp_state != KVM_MP_STATE_STOPPED && mp_state != KVM_MP_STATE_HALTED)
        return error_message(err, errlen, "vCPU %u: unknown power state %u", v->index, mp_state);
    struct kvm_reg_list *list = reg_list(v->fd);
    if (list == NULL)
        return error_message(err, errlen, "vCPU %u: KVM_GET_REG_LIST failed", v->index);
    int rc = 0;
    if (list->n != count)
        rc = error_message(err, errlen, "this host's vCPU has %llu registers, the snapshot's %u: another CPU or KVM",
                           (unsigned long long)list->n, count);
    /* first pass: everything well-formed, known here, and the CPU the same */
    size_t start = r.pos;
    uint8_t value[MAX_REG_BYTES], current[MAX_REG_BYTES];
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        uint64_t id = state_get_u64(&r);
        size_t n = reg_bytes(id);
        if (!state_reader_ok(&r, false) || n > sizeof value)
            rc = error_message(err, errlen, "vCPU %u's record is malformed", v->index);
        else if (!list_has(list, id))
            rc = error_message(err, errlen, "register 0x%llx of the snapshot does not exist on this host's vCPU",
                               (unsigned long long)id);
        if (rc != 0)
            break;
        state_get_bytes(&r, value, n);
        if (!is_cpu_id_reg(id))
            continue;
        struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)current };
        if (xioctl(v->fd, KVM_GET_ONE_REG, &reg) != 0)
            rc = error_message(err, errlen, "vCPU %u: reading register 0x%llx: %s", v->index,
                               (unsigned long long)id, strerror(errno));
        else if (memcmp(current, value, n) != 0)
            rc = error_message(err, errlen,
                               "the CPU differs from the snapshot's (identification register 0x%llx is 0x%llx here, "
                               "0x%llx in the snapshot)",
                               (unsigned long long)id, (unsigned long long)*(uint64_t *)(void *)current,
                               (unsigned long long)*(uint64_t *)(void *)value);
    }
    if (rc == 0 && !state_reader_ok(&r, true))
        rc = error_message(err, errlen, "vCPU %u's record is malformed", v->index);
    free(list);
    /* second pass: write them */
    r.pos = start;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        uint64_t id = state_get_u64(&r);
        size_t n = reg_bytes(id);
        state_get_bytes(&r, value, n);
        if (is_cpu_id_reg(id))
            continue;
        struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };
        if (xioctl(v->fd, KVM_SET_ONE_REG, &reg) != 0)
            rc = error_message(err, errlen, "vCPU %u: KVM refused register 0x%llx: %s", v->index,
                               (unsigned long long)id, strerror(errno));
    }
    explicit_bzero(value, sizeof value);
    if (rc != 0)
        return rc;
    struct kvm_mp_state mp = { .mp_state = mp_state };
    if (xioctl(v->fd, KVM_SET_MP_STATE, &mp) != 0)
        return error_message(err, errlen, "vCPU %u: KVM_SET_MP_STATE: %s", v->index, strerror(errno));
    return 0;
}

/* ---------------------------------------------------------------- the vGICv3 */

#define ICC_SYSREG(op0, op1, crn, crm, op2) \
    ((uint64_t)(((op0) << 14) | ((op1) << 11) | ((crn) << 7) | ((crm) << 3) | (op2)))

/* The ICC_* registers, ICC_SRE_EL1 first (it decides how the others are accessed). */
static const uint64_t icc_regs[] = {
    ICC_SYSREG(3, 0, 12, 12, 5), /* SRE */
    ICC_SYSREG(3, 0, 12, 12, 4), /* CTLR */
    ICC_SYSREG(3, 0, 12, 12, 6), /* IGRPEN0 */
    ICC_SYSREG(3, 0, 12, 12, 7), /* IGRPEN1 */
    ICC_SYSREG(3, 0, 4, 6, 0),   /* PMR */
    ICC_SYSREG(3, 0, 12, 8, 3),  /* BPR0 */
    ICC_SYSREG(3, 0, 12, 12, 3), /* BPR1 */
    ICC_SYSREG(3, 0, 12, 8, 4),  ICC_SYSREG(3, 0, 12, 8, 5), ICC_SYSREG(3, 0, 12, 8, 6),
    ICC_SYSREG(3, 0, 12, 8, 7),  /* AP0R0..3 */
    ICC_SYSREG(3, 0, 12, 9, 0),  ICC_SYSREG(3, 0, 12, 9, 1), ICC_SYSREG(3, 0, 12, 9, 2),
    ICC_SYSREG(3, 0, 12, 9, 3),  /* AP1R0..3 */
};

/* Redistributor offsets: RD_base frame, then the SGI_base frame (+64 KiB), in restore order. */
static const uint32_t redist_regs[] = {
    0x0000, 0x0070, 0x0074, 0x0078, 0x007c,                 /* CTLR, PROPBASER, PENDBASER */
    0x10080, 0x10d00, 0x10c00, 0x10c04,                     /* IGROUPR0, IGRPMODR0, ICFGR0/1 */
    0x10400, 0x10404, 0x10408, 0x1040c, 0x10410, 0x10414, 0x10418, 0x1041c, /* IPRIORITYR */
    0x10100, 0x10200, 0x10300,                              /* ISENABLER0, ISPENDR0, ISACTIVER0 */
};

struct gic_walk {
    const struct vm *vm;
    struct state_writer *w;
    uint32_t count;
    uint64_t value;
};

static bool gic_get(int fd, uint32_t group, uint64_t attr, uint64_t *value)
{
    struct kvm_device_attr a = { .group = group, .attr = attr };
    if (xioctl(fd, KVM_HAS_DEVICE_ATTR, &a) != 0)
        return false;
    uint32_t v32 = 0;
    uint64_t v64 = 0;
    a.addr = group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS ? (uint64_t)(uintptr_t)&v64 : (uint64_t)(uintptr_t)&v32;
    if (xioctl(fd, KVM_GET_DEVICE_ATTR, &a) != 0)
        return false;
    *value = group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS ? v64 : v32;
    return true;
}

static void gic_save_one(struct gic_walk *g, uint32_t group, uint64_t attr)
{
    uint64_t value;
    if (!gic_get(g->vm->gic_fd, group, attr, &value))
        return; /* not implemented by this vGIC (e.g. AP0R1..3 with 5 priority bits) */
    state_put_u32(g->w, group);
    state_put_u64(g->w, attr);
    state_put_u64(g->w, value);
    g->count++;
}

/* KVM's affinity field for redistributor and CPU-interface attributes: Aff3.Aff2.Aff1.Aff0. */
static uint64_t affinity_attr(uint64_t mpidr)
{
    uint64_t aff = ((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xffffff);
    return aff << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
}

int vm_state_save_gic(const struct vm *vm, struct state_writer *w, char *err, size_t errlen)
{
    if (vm->gic_version != 3)
        return error_message(err, errlen, "snapshots need a vGICv3; this VM has a GICv%d", vm->gic_version);
    struct state_writer body;
    state_writer_init(&body);
    struct gic_walk g = { .vm = vm, .w = &body };
    const uint32_t D = KVM_DEV_ARM_VGIC_GRP_DIST_REGS;
    gic_save_one(&g, D, 0x0000); /* GICD_CTLR */
    static const uint32_t bit_regs_early[] = { 0x0080, 0x0d00 };  /* IGROUPR, IGRPMODR */
    static const uint32_t bit_regs_late[] = { 0x0100, 0x0200, 0x0300 }; /* ISENABLER, ISPENDR, ISACTIVER */
    for (size_t k = 0; k < 2; k++)
        for (uint32_t irq = 32; irq < GIC_NR_IRQS; irq += 32)
            gic_save_one(&g, D, bit_regs_early[k] + irq / 8);
    for (uint32_t irq = 32; irq < GIC_NR_IRQS; irq += 16)
        gic_save_one(&g, D, 0x0c00 + irq / 4); /* ICFGR: before pending, which depends on it */
    for (uint32_t irq = 32; irq < GIC_NR_IRQS; irq += 4)
        gic_save_one(&g, D, 0x0400 + irq); /* IPRIORITYR */
    for (uint32_t irq = 32; irq < GIC_NR_IRQS; irq++) {
        gic_save_one(&g, D, 0x6000 + irq * 8); /* IROUTER, as two 32-bit halves */
        gic_save_one(&g, D, 0x6000 + irq * 8 + 4);
    }
    for (size_t k = 0; k < 3; k++)
        for (uint32_t irq = 32; irq < GIC_NR_IRQS; irq += 32)
            gic_save_one(&g, D, bit_regs_late[k] + irq / 8);
    for (uint32_t c = 0; c < vm->vcpu_count; c++) {
        uint64_t aff = affinity_attr(vm->vcpus[c].mpidr);
        for (size_t k = 0; k < sizeof redist_regs / sizeof redist_regs[0]; k++)
            gic_save_one(&g, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, aff | redist_regs[k]);
        for (size_t k = 0; k < sizeof icc_regs / sizeof icc_regs[0]; k++)
            gic_save_one(&g, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, aff | icc_regs[k]);
    }
    state_put_u32(w, g.count);
    state_put_bytes(w, body.data, body.len);
    bool ok = state_writer_ok(&body) && state_writer_ok(w) && g.count > 0;
    state_writer_free(&body);
    return ok ? 0 : error_message(err, errlen, "saving the vGIC state failed (%u registers read)", g.count);
}

int vm_state_restore_gic(const struct vm *vm, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (vm->gic_version != 3)
        return error_message(err, errlen, "the snapshot has a vGICv3; this host gave a GICv%d", vm->gic_version);
    struct state_reader r;
    state_reader_init(&r, data, len);
    uint32_t count = state_get_u32(&r);
    if (!state_reader_ok(&r, false) || count == 0 || count > MAX_GIC_ENTRIES || state_reader_left(&r) != count * 20ull)
        return error_message(err, errlen, "the vGIC record is malformed");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t group = state_get_u32(&r);
        uint64_t attr = state_get_u64(&r), value = state_get_u64(&r);
        if (group != KVM_DEV_ARM_VGIC_GRP_DIST_REGS && group != KVM_DEV_ARM_VGIC_GRP_REDIST_REGS &&
            group != KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)
            return error_message(err, errlen, "the vGIC record names attribute group %u", group);
        bool wide = group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS;
        if (!wide && value > UINT32_MAX)
            return error_message(err, errlen, "the vGIC record is malformed (32-bit register 0x%llx)",
                                 (unsigned long long)attr);
        uint32_t v32 = (uint32_t)value;
        struct kvm_device_attr a = { .group = group, .attr = attr,
                                     .addr = wide ? (uint64_t)(uintptr_t)&value : (uint64_t)(uintptr_t)&v32 };
        if (xioctl(vm->gic_fd, KVM_SET_DEVICE_ATTR, &a) != 0)
            return error_message(err, errlen, "KVM refused vGIC register (group %u, 0x%llx): %s", group,
                                 (unsigned long long)attr, strerror(errno));
    }
    return 0;
}
