/* vmm/seccomp_filter.h — a small builder of seccomp BPF allow-lists, architecture-generic.
 *
 * A filter is: the system-call architecture must be the one this program was built for (any
 * other is killed outright, so a 32-bit or foreign entry point cannot dodge the list); then
 * each allowed system call, optionally with one argument that must be one of a few values
 * (ioctl request numbers, socket domains, mmap protections); anything else takes the default
 * action (SECCOMP_RET_TRAP in silo-vmm: a SIGSYS the crash handler reports; SECCOMP_RET_LOG
 * for a trial run that only logs). Argument values are compared as full 64-bit values.
 * Policies name their calls with SYS_* so the same list builds for arm64 and, in the unit
 * tests, for x86_64.
 */
#ifndef SILO_VMM_SECCOMP_FILTER_H
#define SILO_VMM_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#define SECCOMP_RULE_MAX_VALUES 48
#define SECCOMP_FILTER_MAX_INSNS 1024

/* One allowed system call. arg_values == 0: any arguments. Otherwise argument number `arg`
 * (0-based) must equal one of values[0 .. arg_values-1]. */
struct seccomp_rule {
    long nr;
    unsigned arg;
    unsigned arg_values;
    uint64_t values[SECCOMP_RULE_MAX_VALUES];
};

/* A list of rules; a policy is one or more of them (e.g. what every thread needs, then what
 * one role needs). */
struct seccomp_ruleset {
    const struct seccomp_rule *rules;
    size_t count;
};

/* Translates the rules of sets[0 .. nsets-1] into a BPF program in out[0 .. cap-1]. Returns
 * the number of instructions, or -1 (with a reason in err) when a rule is malformed, a system
 * call appears twice, or the program would not fit. */
int seccomp_filter_build(const struct seccomp_ruleset *sets, size_t nsets, uint32_t default_action,
                         struct sock_filter *out, size_t cap, char *err, size_t errlen);

/* Builds and installs the filter on the calling thread only (no TSYNC: each thread of silo-vmm
 * installs its own role's filter). The caller has set PR_SET_NO_NEW_PRIVS. Returns 0 or -1. */
int seccomp_filter_install(const struct seccomp_ruleset *sets, size_t nsets, uint32_t default_action, char *err,
                           size_t errlen);

#endif
