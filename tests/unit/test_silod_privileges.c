/* tests/unit/test_silod_privileges.c — a root silod's capability narrowing
 * (frontend/silod_privileges.c): the kept set, and (where the tests run as root) the narrowing
 * done for real in a child process: its bounding and effective sets become exactly that set, a raw
 * socket (CAP_NET_RAW) is refused, a chown to another uid (CAP_CHOWN) still works. */
#include <errno.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend/silod_privileges.h"
#include "tests/unit/check.h"

static void test_kept_set(void)
{
    uint64_t m = silod_kept_capabilities();
    CHECK(m & (1ull << CAP_SYS_ADMIN));
    CHECK(m & (1ull << CAP_SETUID));
    CHECK(m & (1ull << CAP_KILL));
    CHECK(m & (1ull << CAP_IPC_LOCK));
    CHECK(!(m & (1ull << CAP_SYS_MODULE)));
    CHECK(!(m & (1ull << CAP_SYS_RAWIO)));
    CHECK(!(m & (1ull << CAP_SYS_PTRACE)));
    CHECK(!(m & (1ull << CAP_NET_ADMIN)));
    CHECK(!(m & (1ull << CAP_NET_RAW)));
    CHECK(!(m & (1ull << CAP_SYS_BOOT)));
    CHECK(!(m & (1ull << CAP_SYS_TIME)));
    CHECK_EQ(__builtin_popcountll(m), 15);
}

/* CapBnd and CapEff of the calling process */
static bool read_caps(unsigned long long *bnd, unsigned long long *eff)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return false;
    char line[256];
    *bnd = *eff = ~0ull;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "CapBnd: %llx", bnd);
        sscanf(line, "CapEff: %llx", eff);
    }
    fclose(f);
    return *bnd != ~0ull && *eff != ~0ull;
}

/* the child: narrow, then report through its exit status which check failed (0: none). Where
 * root lacks some capability already (a container), what is left is the kept set within it. */
static int narrowed_child(void)
{
    char err[256];
    unsigned kept = 0;
    unsigned long long bnd0, eff0, bnd, eff;
    if (!read_caps(&bnd0, &eff0))
        return 12;
    uint64_t want = silod_kept_capabilities();
    if (silod_narrow_capabilities(&kept, err, sizeof err) != 0)
        return 10;
    if (kept != (unsigned)__builtin_popcountll(eff0 & want))
        return 11;
    if (!read_caps(&bnd, &eff))
        return 12;
    if (bnd != (bnd0 & want) || eff != (eff0 & want))
        return 13;
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (raw >= 0 || errno != EPERM)
        return 14;
    char path[] = "/tmp/silo-test-privileges.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 15;
    int r = fchown(fd, 12345, 12345);
    close(fd);
    unlink(path);
    return r == 0 ? 0 : 16;
}

static void test_narrowing_as_root(void)
{
    if (geteuid() != 0) {
        unsigned kept = 99;
        char err[64];
        CHECK_EQ(silod_narrow_capabilities(&kept, err, sizeof err), 0); /* nothing to narrow */
        CHECK_EQ(kept, 0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0)
        _exit(narrowed_child());
    int status = -1;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the kept set: the jail's and silod's own, not modules, raw I/O, ptrace, network, boot, time", test_kept_set },
        { "as root: bounding and effective sets narrowed to it; raw socket refused, chown kept", test_narrowing_as_root },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
