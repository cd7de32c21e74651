/* vmm/vm_state.h — the KVM side of a snapshot: a vCPU's registers and power state, and the
 * vGICv3's distributor, redistributor and CPU-interface state, saved into and restored from
 * state_buf records (the payloads of the SNAP_VCPU and SNAP_GIC sections, vmm/snapshot_file.h).
 *
 * vCPU record:   u32 mp_state, u32 n, then n × { u64 register id, value (its KVM size) }
 *   Every register KVM_GET_REG_LIST names is saved: core registers, FP/SIMD, system registers,
 *   the timers (counter, control, compare value) and the firmware pseudo-registers (PSCI).
 *   Restore refuses a vCPU whose register list differs from the snapshot's, and any CPU
 *   identification register (MIDR, REVIDR, ID_*, the cache geometry) whose value differs: a
 *   snapshot only moves between hosts whose CPUs look the same to the guest. Those registers
 *   are compared, not written; every other one is written in the order KVM listed it.
 * GIC record:    u32 n, then n × { u32 group, u64 attr, u64 value }
 *   The distributor's registers for every SPI, then per vCPU its redistributor (SGI/PPI
 *   frame) and its ICC_* system registers, each only where KVM_HAS_DEVICE_ATTR says it exists;
 *   restored in that order after the vGIC was initialised. GICv2 is refused.
 *
 * All of it runs with every vCPU stopped (out of KVM_RUN, pending MMIO completed). Functions
 * return 0, or -1 with one line in err.
 */
#ifndef SILO_VMM_VM_STATE_H
#define SILO_VMM_VM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/state_buf.h"
#include "vmm/vm.h"

int vm_state_save_vcpu(const struct vcpu *v, struct state_writer *w, char *err, size_t errlen);
int vm_state_restore_vcpu(const struct vcpu *v, const uint8_t *data, size_t len, char *err, size_t errlen);

int vm_state_save_gic(const struct vm *vm, struct state_writer *w, char *err, size_t errlen);
int vm_state_restore_gic(const struct vm *vm, const uint8_t *data, size_t len, char *err, size_t errlen);

#endif
