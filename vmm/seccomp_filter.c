/* vmm/seccomp_filter.c — builds and installs seccomp BPF allow-lists (see seccomp_filter.h). */
#include "vmm/seccomp_filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__aarch64__)
#define FILTER_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__x86_64__)
#define FILTER_AUDIT_ARCH AUDIT_ARCH_X86_64
#else
#error "seccomp_filter.c: unknown architecture"
#endif

#define ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))
#define ARG_HI(i) (ARG_LO(i) + 4) /* little-endian on both architectures we build for */

struct program {
    struct sock_filter *insn;
    size_t len, cap;
};

static int emit(struct program *p, struct sock_filter f)
{
    if (p->len >= p->cap)
        return -1;
    p->insn[p->len++] = f;
    return 0;
}

static int emit_stmt(struct program *p, uint16_t code, uint32_t k)
{
    return emit(p, (struct sock_filter)BPF_STMT(code, k));
}

static int emit_jump(struct program *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    return emit(p, (struct sock_filter)BPF_JUMP(code, k, jt, jf));
}

/* The instructions one rule takes after its "is it this call" jump. */
static size_t rule_body_len(const struct seccomp_rule *r)
{
    if (r->arg_values == 0)
        return 1; /* ret allow */
    /* per value: ld hi, jeq hi (else the next value), ld lo, jeq lo -> allow; then ret
     * default, ret allow */
    return 4 * (size_t)r->arg_values + 2;
}

/* Accumulator holds nr on entry. One rule: if nr matches, decide here (allow, or check the
 * argument and allow or take the default); else fall through to the next rule. */
static int emit_rule(struct program *p, const struct seccomp_rule *r, uint32_t default_action)
{
    size_t body = rule_body_len(r);
    if (emit_jump(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->nr, 0, (uint8_t)body) != 0)
        return -1;
    if (r->arg_values == 0)
        return emit_stmt(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    for (unsigned i = 0; i < r->arg_values; i++) {
        uint64_t v = r->values[i];
        size_t left = r->arg_values - 1 - i; /* value blocks after this one */
        /* from the jeq lo: jump over the remaining blocks and the ret default to ret allow */
        uint8_t to_allow = (uint8_t)(4 * left + 1);
        if (emit_stmt(p, BPF_LD | BPF_W | BPF_ABS, ARG_HI(r->arg)) != 0 ||
            emit_jump(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(v >> 32), 0, 2) != 0 ||
            emit_stmt(p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg)) != 0 ||
            emit_jump(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)v, to_allow, 0) != 0)
            return -1;
    }
    if (emit_stmt(p, BPF_RET | BPF_K, default_action) != 0)
        return -1;
    return emit_stmt(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
}

/* The rule at flat index i of the sets, or NULL past the end. */
static const struct seccomp_rule *rule_at(const struct seccomp_ruleset *sets, size_t nsets, size_t i)
{
    for (size_t s = 0; s < nsets; s++) {
        if (i < sets[s].count)
            return &sets[s].rules[i];
        i -= sets[s].count;
    }
    return NULL;
}

static int check_rules(const struct seccomp_ruleset *sets, size_t nsets, char *err, size_t errlen)
{
    const struct seccomp_rule *r;
    for (size_t i = 0; (r = rule_at(sets, nsets, i)) != NULL; i++) {
        if (r->nr < 0 || r->arg > 5 || r->arg_values > SECCOMP_RULE_MAX_VALUES) {
            snprintf(err, errlen, "seccomp rule %zu (system call %ld) is malformed", i, r->nr);
            return -1;
        }
        const struct seccomp_rule *q;
        for (size_t j = 0; j < i && (q = rule_at(sets, nsets, j)) != NULL; j++)
            if (q->nr == r->nr) {
                snprintf(err, errlen, "system call %ld appears twice in one seccomp policy", r->nr);
                return -1;
            }
    }
    return 0;
}

int seccomp_filter_build(const struct seccomp_ruleset *sets, size_t nsets, uint32_t default_action,
                         struct sock_filter *out, size_t cap, char *err, size_t errlen)
{
    if (check_rules(sets, nsets, err, errlen) != 0)
        return -1;
    struct program p = { .insn = out, .len = 0, .cap = cap };
    int bad = emit_stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)) ||
              emit_jump(&p, BPF_JMP | BPF_JEQ | BPF_K, FILTER_AUDIT_ARCH, 1, 0) ||
              emit_stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    const struct seccomp_rule *r;
    size_t count = 0;
    for (; !bad && (r = rule_at(sets, nsets, count)) != NULL; count++)
        bad = emit_stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)) ||
              emit_rule(&p, r, default_action);
    if (!bad)
        bad = emit_stmt(&p, BPF_RET | BPF_K, default_action);
    if (bad || p.len > BPF_MAXINSNS) {
        snprintf(err, errlen, "seccomp policy of %zu rules does not fit in %zu instructions", count,
                 cap < BPF_MAXINSNS ? cap : (size_t)BPF_MAXINSNS);
        return -1;
    }
    return (int)p.len;
}

int seccomp_filter_install(const struct seccomp_ruleset *sets, size_t nsets, uint32_t default_action, char *err,
                           size_t errlen)
{
    static _Thread_local struct sock_filter prog[SECCOMP_FILTER_MAX_INSNS];
    int n = seccomp_filter_build(sets, nsets, default_action, prog, SECCOMP_FILTER_MAX_INSNS, err, errlen);
    if (n < 0)
        return -1;
    struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
        snprintf(err, errlen, "installing the seccomp filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}
