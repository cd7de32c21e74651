/* vmm/jail/jail_identity.h — who the jailed process is and what it may use: the rlimits
 * (planned purely from the options, unit-tested), descriptor hygiene, and the drop to
 * --uid/--gid with no supplementary groups, no capabilities of any kind and no_new_privs. */
#ifndef SILO_VMM_JAIL_IDENTITY_H
#define SILO_VMM_JAIL_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

#include "vmm/jail/jail_cli.h"

struct jail_rlimit {
    int resource;     /* RLIMIT_* */
    const char *name; /* "RLIMIT_NOFILE", ... */
    rlim_t value;     /* soft and hard */
    bool best_effort; /* left as it is if raising it is not allowed (no CAP_SYS_RESOURCE) */
};

#define JAIL_MAX_RLIMITS 5

/* The limits set for these options, in order: NOFILE, AS, NPROC (each if given), CORE 0 always,
 * MEMLOCK = --as if given (so mlock of guest RAM works; best effort). Returns how many. */
size_t jail_rlimits_plan(const struct jail_options *o, struct jail_rlimit out[JAIL_MAX_RLIMITS]);

/* setrlimit of each planned limit, soft = hard (the jailed process cannot raise them). */
int jail_apply_rlimits(const struct jail_options *o, char *err, size_t errlen);

/* Closes every descriptor above 2 (the caller's may reach outside the jail). */
void jail_close_fds(void);

/* Empties the capability bounding set, drops to uid/gid (no supplementary groups), clears the
 * remaining capability sets (inheritable, ambient), sets no_new_privs, then checks it all. */
int jail_drop_identity(const struct jail_options *o, char *err, size_t errlen);

#endif
