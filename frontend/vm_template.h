/* frontend/vm_template.h — a runtime version's template (docs/snapshots.md): the snapshot the
 * image builder's boot check takes of the booted microVM once its agent is ready, kept beside
 * the version's image and restored by every new session. One place for its path, its `shape`
 * file, the check silod makes before restoring it, and its removal; the builder
 * (builder/silod_build_image.c), silod's launcher (vmm_launcher.c) and the version deletion
 * (image_builder.c) all use these.
 *
 *   ROOTFS_DIR/<runtime_id>-v<N>.ext4     the image
 *   ROOTFS_DIR/<runtime_id>-v<N>.snap/    the template: silo-vmm's snapshot (state, memory,
 *                                         disk<K>.layer) plus `shape`: "<guest MiB> <vCPUs>\n"
 *   ROOTFS_DIR/<runtime_id>-v<N>.snap.tmp/ while it is being taken; by a jailed boot check
 *                                         (vmm_jail.h), in its entry VM_TEMPLATE_JAILED_ENTRY
 */
#ifndef SILO_FRONTEND_VM_TEMPLATE_H
#define SILO_FRONTEND_VM_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/* The entry of the .snap.tmp directory a jailed boot-check VMM writes its snapshot into (the
 * directory is the slot's uid's, bound writable into the jail; VMM_JAIL_SNAPSHOT_NAME). */
#define VM_TEMPLATE_JAILED_ENTRY "snapshot"

/* The template directory for an image path (".ext4" -> ".snap"), and its ".snap.tmp" twin
 * (tmp may be NULL). false when the image path does not end in .ext4 or a result does not fit. */
bool vm_template_paths(const char *image, char *dir, size_t dir_len, char *tmp, size_t tmp_len);

/* Writes dir/shape ("<guest_mib> <cpus>\n", 0600). 0 or -1. */
int vm_template_write_shape(const char *dir, unsigned guest_mib, unsigned cpus);

/* Whether the template is complete (silo-vmm's `state` is there) and was taken with this
 * shape; false with why set ("the version has no template", "the template has 512 MiB and 2
 * vCPUs, the session 256 MiB and 2 vCPUs", ...). */
bool vm_template_usable(const char *dir, unsigned guest_mib, unsigned cpus, char *why, size_t why_len);

/* Removes the directory and every file silo-vmm or the builder puts in it. */
void vm_template_remove(const char *dir);

#endif
