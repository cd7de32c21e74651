/* frontend/vmm_jail.h — silod's side of the VMM jail (issue #18): each session's silo-vmm runs
 * under `silo-jail` (its interface: /work/briefs/jail_interface.md, vmm/README.md) with a uid of
 * its own, in its own mount/IPC/UTS/net namespaces, with rlimits and, when a cgroup parent is
 * configured, in a cgroup v2 of its own with memory.max, cpu.max and pids.max.
 *
 * This file owns:
 * - the uid slots: uid = uid_first + slot, one per live session, never 0, never handed out
 *   again while a session holds it (vmm_jail_acquire / vmm_jail_release); the gid is one group
 *   shared by every jailed VMM (jail.gid), which silod gives read access to the files a VMM
 *   opens that are not world-readable — the version's image and template, owner-only because
 *   they hold the version's environment (vmm_jail_share). No host user is in that group, and
 *   a jailed VMM sees only its own session's files (its mount namespace);
 * - the per-slot places: the jail root DIR/<uid> (an empty directory owned by root, silo-jail
 *   mounts a tmpfs over it inside its own namespace), the run directory DIR/<uid>.run (owned by
 *   the uid, mode 0700, bound at /run in the jail: the VMM's vsock socket and the guest → host
 *   sockets live there) and the cgroup CGROUP_PARENT/vmm-<uid>;
 * - the jailed command line (vmm_jail_argv, pure): silo-jail's options, then `--` and the VMM's
 *   own argv (microvm_argv) with every path it opens translated into the jail: /silo-vmm,
 *   /kernel, /initrd, /disk, /run/<socket>, /snapshot (a restore; the snapshot names its disk by
 *   its host path, so the disk is also bound read-only at that absolute path), and for a VMM
 *   that will take a snapshot (--snapshot-to: the image builder's boot check) the disk at its
 *   host path too, and /snapshot-out (a writable bind of a directory the caller made for the
 *   slot's uid) where it writes the snapshot as /snapshot-out/VMM_JAIL_SNAPSHOT_NAME;
 * - the cgroup's results after the VMM ends (memory.events oom_kill, memory.peak, cpu.stat
 *   usage_usec; parsers pure) and the cleanup after it has been reaped (rmdir of the cgroup,
 *   the run directory's sockets, the run directory and the root).
 *
 * Limits per session: memory.max = guest_mib * guest_memory_percent / 100 + vmm_overhead_mib
 * (MiB), memory.swap.max 0; cpu.max = "<cpus * 100000> 100000"; pids.max; RLIMIT_NOFILE;
 * RLIMIT_AS = guest_mib + address_space_extra_mib (MiB). */
#ifndef SILO_FRONTEND_VMM_JAIL_H
#define SILO_FRONTEND_VMM_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frontend/microvm.h"
#include "frontend/vm_template.h"

struct vmm_jail_config {
    const char *program;            /* silo-jail */
    const char *dir;                /* jail roots and run directories */
    unsigned uid_first, uid_count;  /* uid_first >= 1 */
    unsigned gid;                   /* every jailed VMM's group (0: each VMM's gid is its uid) */
    const char *cgroup_parent;      /* NULL or "": no cgroup */
    unsigned vmm_overhead_mib;
    unsigned guest_memory_percent;  /* 1..100; 0 counts as 100 */
    unsigned address_space_extra_mib;
    unsigned pids_max, nofile;
};

/* One session's place in the jail. */
struct vmm_jail_slot {
    unsigned uid;                   /* 0: no slot */
    char root[128];                 /* DIR/<uid> */
    char run_dir[128];              /* DIR/<uid>.run (host side; /run in the jail) */
    char cgroup[256];               /* CGROUP_PARENT/vmm-<uid>, or "" */
};

/* The name of the VMM's vsock socket in the run directory (the host side path is
 * run_dir/VMM_JAIL_SOCKET, the jail's /run/VMM_JAIL_SOCKET). */
#define VMM_JAIL_SOCKET "vm.sock"
/* The jailed VMM's whole environment (none of silod's): the copy-on-write layer of its disk is an
 * O_TMPFILE in $TMPDIR, here the session's run directory (charged to the session's cgroup when
 * that directory is on tmpfs). */
#define VMM_JAIL_ENVIRONMENT { "TMPDIR=/run", NULL }
#define VMM_JAIL_ARGV_MAX (MICROVM_ARGV_MAX + 48)
/* With p->snapshot_to (a directory the caller made, owned by the slot's uid), the jailed VMM
 * writes its snapshot into this entry of it (silo-vmm's --snapshot-to creates the directory). */
#define VMM_JAIL_SNAPSHOT_NAME VM_TEMPLATE_JAILED_ENTRY

/* The slot paths of uid (pure); false when a path does not fit. */
bool vmm_jail_slot_paths(const struct vmm_jail_config *cfg, unsigned uid, struct vmm_jail_slot *out);

/* The jailed argv (NULL-terminated) for the VMM of params p, started in slot s: silo-jail's
 * options, `--`, then microvm_argv's argv with the paths translated (p->vsock_path must be in
 * s->run_dir). For a restore, disk_host_path (absolute) is the disk the snapshot names, bound
 * read-only at that same path; with p->snapshot_to it is p->disk's absolute path, bound and
 * opened at that path so that the snapshot names it as a restore will find it. The number of
 * arguments, or -1 when something is missing or does not fit. Pure. */
int vmm_jail_argv(const struct vmm_jail_config *cfg, const struct vmm_jail_slot *s, const struct microvm_params *p,
                  const char *disk_host_path, const char **argv, size_t cap, char *buf, size_t buf_len);

/* memory.max in bytes for a guest of guest_mib (pure). */
uint64_t vmm_jail_memory_max(const struct vmm_jail_config *cfg, unsigned guest_mib);

/* ---- the slots --------------------------------------------------------------------------- */

struct vmm_jail;

/* The jail of silod (cfg is copied; its strings must outlive the jail): checks cfg, creates cfg->dir (0711, root's) and, with a cgroup parent,
 * creates it and enables memory, cpu and pids in its cgroup.subtree_control. NULL with one
 * line in err when any of that fails. */
struct vmm_jail *vmm_jail_new(const struct vmm_jail_config *cfg, char *err, size_t err_len);

/* The cgroup parent a jailing silod uses when jail.cgroup_parent is not given: `silo-vmms` below
 * silod's own cgroup (from /proc/self/cgroup; cgroup v2 at /sys/fs/cgroup), with memory, cpu and
 * pids enabled down to it. In the root cgroup that is /sys/fs/cgroup/silo-vmms; in a delegated
 * cgroup with silod in it (a systemd service with Delegate=yes) silod first moves itself into a
 * leaf `silod` beside it, as cgroup v2 wants (no processes in a cgroup that delegates
 * controllers). Writes the path to out and returns true, or says in why (one clause) why not. */
bool vmm_jail_default_cgroup_parent(char *out, size_t out_len, char *why, size_t why_len);
/* The same without touching the file system (unit tests of the slot allocation). */
struct vmm_jail *vmm_jail_new_detached(const struct vmm_jail_config *cfg);
void vmm_jail_free(struct vmm_jail *j);
const struct vmm_jail_config *vmm_jail_config_of(const struct vmm_jail *j);

/* Takes a free uid (the lowest) and prepares its places: leftovers of an earlier life of that
 * slot are removed (a slot whose leftovers cannot be removed is skipped), the root made (0755,
 * root's, empty) and the run directory made (0700, owned by the uid). 0 with *out filled, or -1
 * with err set ("all N uids of jail.uid_first.. are in use"). A detached jail only allocates. */
int vmm_jail_acquire(struct vmm_jail *j, struct vmm_jail_slot *out, char *err, size_t err_len);
/* After the VMM has been reaped: removes the cgroup, the run directory (its sockets first) and
 * the root, and gives the uid back. out->uid becomes 0. Safe on a slot with uid 0. */
void vmm_jail_release(struct vmm_jail *j, struct vmm_jail_slot *s);
/* After a reaped VMM of a slot that is started again (a failed restore, then a cold boot): the
 * cgroup is removed (silo-jail makes it anew). */
void vmm_jail_reset_cgroup(const struct vmm_jail_slot *s);
/* Lets the jailed VMMs' group read path (a file, or a directory and the files in it): group
 * jail.gid, g+r (g+rx for the directory); others' bits are left alone. 0 or -1 with err set. */
int vmm_jail_share(const struct vmm_jail_config *cfg, const char *path, char *err, size_t err_len);
/* Gives every entry of the run directory (the guest → host sockets silod made) to the slot's
 * uid, so the jailed VMM can connect to them. 0 or -1 with err set. */
int vmm_jail_give_run_dir(const struct vmm_jail_slot *s, char *err, size_t err_len);
/* The VMM behind the pid its starter got: silo-jail stays outside the jail's PID namespace as
 * a relay, and the VMM is the child of its init (vmm/jail/jail_init.h), so for a relay this is
 * the relay's grandchild (by /proc/PID/task/PID/children); any other pid is returned as is. */
pid_t vmm_jail_vmm_pid(pid_t pid);
/* How many slots are in use (tests, metrics). */
unsigned vmm_jail_in_use(struct vmm_jail *j);

/* ---- the cgroup's results ---------------------------------------------------------------- */

struct vmm_cgroup_result {
    bool read;                      /* the cgroup could be read */
    uint64_t oom_kills;             /* memory.events oom_kill */
    uint64_t memory_peak_bytes;     /* memory.peak (0 when the kernel has none) */
    uint64_t cpu_usage_usec;        /* cpu.stat usage_usec */
    uint64_t memory_max_bytes;      /* memory.max (UINT64_MAX: "max") */
};

/* The value of `key` in a flat-keyed cgroup file ("key value\n" lines; len bytes, not
 * necessarily NUL-terminated). false when the key is absent or its value malformed. Pure. */
bool vmm_cgroup_key_value(const char *text, size_t len, const char *key, uint64_t *value);
/* A single-value cgroup file ("123\n" or "max\n" → UINT64_MAX). Pure. */
bool vmm_cgroup_single_value(const char *text, size_t len, uint64_t *value);
/* Reads the cgroup directory's results; out->read false when memory.events cannot be read. */
void vmm_cgroup_read(const char *cgroup_dir, struct vmm_cgroup_result *out);

#endif
