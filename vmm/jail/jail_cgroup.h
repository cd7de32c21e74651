/* vmm/jail/jail_cgroup.h — the session's cgroup v2: which control files get which values
 * (planned purely from the options, unit-tested), then creating --cgroup CGDIR, writing them and
 * moving the calling process in. */
#ifndef SILO_VMM_JAIL_CGROUP_H
#define SILO_VMM_JAIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/jail/jail_cli.h"

struct jail_cgroup_write {
    const char *file;  /* e.g. "memory.max", relative to CGDIR */
    char value[48];    /* what is written, e.g. "268435456", "50000 100000", "max 100000" */
    bool optional;     /* skipped if the file does not exist (memory.swap.max without swap) */
};

#define JAIL_CGROUP_MAX_WRITES 4

/* The writes for these options, in order; returns how many (0 without --cgroup). */
size_t jail_cgroup_plan(const struct jail_options *o, struct jail_cgroup_write out[JAIL_CGROUP_MAX_WRITES]);

/* mkdir CGDIR (it must not exist), the planned writes, then this process into cgroup.procs.
 * On a failure before the move, CGDIR is removed again. -1 with a sentence in err. */
int jail_cgroup_enter(const struct jail_options *o, char *err, size_t errlen);

#endif
