/* tests/unit/test_keeper.c — base/memfd_wipe.c and vmm/keeper.c: the wipe of guest RAM kept in
 * a memfd finds exactly the pages that hold data and zeroes them (counting the bytes); the
 * keeper stays out of it when the VMM reported its own wipe; and a real keeper forked by a
 * "VMM" child that is then SIGKILLed (after a SIGTERM to the keeper, which it ignores) wipes the
 * memfd, from its own process group and under its own name. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/memfd_wipe.h"
#include "tests/unit/check.h"
#include "vmm/keeper.h"

#define SIZE (16ULL << 20)

struct ram {
    int fd;
    uint8_t *map;
    uint64_t page;
};

static bool ram_open(struct ram *r)
{
    r->page = (uint64_t)sysconf(_SC_PAGESIZE);
    r->fd = memfd_create("test-guest-ram", MFD_CLOEXEC);
    if (r->fd < 0 || ftruncate(r->fd, (off_t)SIZE) != 0)
        return false;
    r->map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    return r->map != MAP_FAILED;
}

static void ram_close(struct ram *r)
{
    munmap(r->map, SIZE);
    close(r->fd);
}

/* Writes a pattern into `pages` pages spread over the memfd, and one page that is written but
 * reads zero again (data to look at, nothing to zero). Returns the pattern pages. */
static uint64_t fill(struct ram *r)
{
    static const uint64_t at[] = { 0, 5, 100, 101, 102, 103, 2048, 4095 };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        memset(r->map + at[i] * r->page, 0x5a + (int)i, r->page);
    memset(r->map + 3000 * r->page, 0x11, 64);
    memset(r->map + 3000 * r->page, 0, 64);
    return sizeof at / sizeof at[0];
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void test_wipe_counts_and_zeroes(void)
{
    struct ram r;
    CHECK(ram_open(&r));
    uint64_t pages = fill(&r);
    CHECK(!memfd_data_zero(r.fd, r.map, SIZE));
    struct memfd_wipe_stats st;
    CHECK_EQ(memfd_wipe(r.fd, r.map, SIZE, &st), 0);
    CHECK_EQ(st.zeroed_bytes, pages * r.page);
    /* the data ranges: the 9 written pages (a whole huge page each where shmem uses them) */
    CHECK(st.data_bytes >= (pages + 1) * r.page);
    CHECK(st.data_bytes < SIZE);
    CHECK(all_zero(r.map, SIZE));
    CHECK(memfd_data_zero(r.fd, r.map, SIZE));
    /* a second wipe finds nothing to zero */
    CHECK_EQ(memfd_wipe(r.fd, r.map, SIZE, &st), 0);
    CHECK_EQ(st.zeroed_bytes, 0);
    ram_close(&r);
}

static void test_wipe_of_untouched_memfd(void)
{
    struct ram r;
    CHECK(ram_open(&r));
    struct memfd_wipe_stats st;
    CHECK_EQ(memfd_wipe(r.fd, r.map, SIZE, &st), 0);
    CHECK_EQ(st.data_bytes, 0);
    CHECK_EQ(st.zeroed_bytes, 0);
    ram_close(&r);
}

static void test_keeper_leaves_reported_wipe_alone(void)
{
    struct ram r;
    CHECK(ram_open(&r));
    fill(&r);
    int p[2];
    CHECK(pipe(p) == 0);
    char w = KEEPER_WIPED;
    CHECK(write(p[1], &w, 1) == 1);
    close(p[1]);
    CHECK_EQ(keeper_wait_and_wipe(p[0], r.fd, SIZE, true, getpid()), 0);
    close(p[0]);
    CHECK(r.map[0] == 0x5a); /* untouched: the VMM said it had wiped */
    ram_close(&r);
}

static void test_keeper_wipes_on_bare_eof(void)
{
    struct ram r;
    CHECK(ram_open(&r));
    fill(&r);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "x", 1) == 1); /* anything but KEEPER_WIPED does not count */
    close(p[1]);
    CHECK_EQ(keeper_wait_and_wipe(p[0], r.fd, SIZE, true, getpid()), 0);
    close(p[0]);
    CHECK(all_zero(r.map, SIZE));
    ram_close(&r);
}

static bool read_comm(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok;
}

/* "Seccomp:\t2" (filter mode) in /proc/PID/status. */
static bool keeper_has_seccomp(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, "\nSeccomp:\t2\n") != NULL;
}

/* A child plays the VMM: starts the keeper on our memfd, fills it, tells us the keeper's pid,
 * then waits to be SIGKILLed. We are the subreaper, so the orphaned keeper is ours to reap. */
static void test_keeper_survives_sigkill_of_vmm(void)
{
    struct ram r;
    CHECK(ram_open(&r));
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t vmm = fork();
    if (vmm == 0) {
        close(p[0]);
        struct keeper k;
        if (keeper_start(&k, r.fd, SIZE, true) != 0)
            _exit(1);
        fill(&r);
        if (write(p[1], &k.pid, sizeof k.pid) != (ssize_t)sizeof k.pid)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    pid_t keeper = 0;
    CHECK(read(p[0], &keeper, sizeof keeper) == (ssize_t)sizeof keeper);
    close(p[0]);
    CHECK(keeper > 0);
    char comm[32] = "";
    for (int i = 0; i < 200 && (!read_comm(keeper, comm, sizeof comm) || strcmp(comm, "silo-keeper\n") != 0); i++)
        usleep(10000); /* the child names itself after fork */
    CHECK(strcmp(comm, "silo-keeper\n") == 0);
    CHECK(getpgid(keeper) == keeper);
    bool filtered = false; /* it installs its seccomp allow-list after naming itself */
    for (int i = 0; i < 200 && !(filtered = keeper_has_seccomp(keeper)); i++)
        usleep(10000);
    CHECK(filtered);
    CHECK(r.map[0] == 0x5a);
    kill(keeper, SIGTERM); /* ignored */
    kill(vmm, SIGKILL);
    int status = 0;
    CHECK(waitpid(vmm, &status, 0) == vmm);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(waitpid(keeper, &status, 0) == keeper);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(all_zero(r.map, SIZE));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    ram_close(&r);
}

/* The orderly end: keeper_finish(true) leaves the memory to the VMM (the keeper is reaped
 * without touching it); keeper_finish(false) has the keeper wipe before it is reaped. A zeroed
 * struct keeper is no keeper: finishing it closes nothing. */
static void test_keeper_finish(void)
{
    struct ram r;
    CHECK(ram_open(&r));
    struct keeper k;
    CHECK_EQ(keeper_start(&k, r.fd, SIZE, false), 0);
    fill(&r);
    keeper_finish(&k, true);
    CHECK(k.pid == 0 && k.pipe_fd == -1);
    CHECK(r.map[0] == 0x5a);
    keeper_finish(&k, true); /* idempotent */
    CHECK_EQ(keeper_start(&k, r.fd, SIZE, false), 0);
    keeper_finish(&k, false);
    CHECK(all_zero(r.map, SIZE));
    int probe = dup(STDERR_FILENO);
    struct keeper none = { 0 };
    none.pipe_fd = probe; /* would be closed if a zeroed keeper were taken for a real one */
    keeper_finish(&none, false);
    CHECK(fcntl(probe, F_GETFD) >= 0);
    close(probe);
    ram_close(&r);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "memfd wipe zeroes exactly the pages holding data and counts them", test_wipe_counts_and_zeroes },
        { "memfd wipe of an untouched memfd looks at nothing", test_wipe_of_untouched_memfd },
        { "keeper leaves memory alone when the VMM reported its wipe", test_keeper_leaves_reported_wipe_alone },
        { "keeper wipes when the pipe ends without the report", test_keeper_wipes_on_bare_eof },
        { "keeper_finish: reported wipe leaves memory alone, unreported has the keeper wipe", test_keeper_finish },
        { "keeper (own group, named silo-keeper, ignores SIGTERM) wipes after SIGKILL of the VMM",
          test_keeper_survives_sigkill_of_vmm },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
