/* frontend/jail_handoff.h — one jail slot handed by silod to a program it starts, which then
 * starts a VMM in that slot itself: the image builder's boot check (builder/silod_build_image.c).
 *
 * silod acquires the slot (vmm_jail_acquire: a uid of its own, the root and run directories,
 * the cgroup's place) before it starts the program, and releases it after the program has
 * ended and every process of the slot is gone (vmm_jail_release waits for the cgroup, or the
 * uid, to be empty). In between, the program gets the jail's settings and the slot's uid in
 * its environment as JAIL_HANDOFF_ENV, a JSON object:
 *
 *   {"program": "/usr/lib/silo/silo-jail", "dir": "/run/silo/jail", "uid_first": 200000,
 *    "uid_count": 1000, "gid": 199999, "cgroup_parent": "/sys/fs/cgroup/silo-vmms" | "",
 *    "vmm_overhead_mib": 64, "guest_memory_percent": 100, "address_space_extra_mib": 1024,
 *    "pids_max": 64, "nofile": 256, "uid": 200003}
 *
 * from which it rebuilds the slot's paths (vmm_jail_slot_paths) and the jailed command line
 * (vmm_jail_argv) exactly as silod's launcher would. Nothing in it is secret. */
#ifndef SILO_FRONTEND_JAIL_HANDOFF_H
#define SILO_FRONTEND_JAIL_HANDOFF_H

#include <stddef.h>

#include "frontend/vmm_jail.h"

#define JAIL_HANDOFF_ENV "SILO_JAIL_SLOT"

/* The handed-over slot, its strings held here. */
struct jail_handoff {
    struct vmm_jail_config cfg;     /* its strings point into the arrays below */
    struct vmm_jail_slot slot;
    char program[1024], dir[1024], cgroup_parent[1024];
};

/* The JSON for slot uid of the jail cfg (malloc'd), or NULL when out of memory. */
char *jail_handoff_encode(const struct vmm_jail_config *cfg, unsigned uid);
/* Parses and checks the JSON (absolute paths, the uid inside its range, the slot's paths fit):
 * 0 with *out filled, or -1 with one line in err. Pure. */
int jail_handoff_decode(const char *json, struct jail_handoff *out, char *err, size_t err_len);

#endif
