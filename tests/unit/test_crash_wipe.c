/* tests/unit/test_crash_wipe.c — vmm/crash_wipe.c: a child that holds "guest RAM" with data,
 * arms the crash wipe and then crashes (SIGSEGV, SIGABRT) leaves that memory zeroed. The RAM
 * here is a shared mapping so that the parent can look at it after the child died. */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/crash_wipe.h"

#define SIZE (64ULL << 20)

static uint8_t *shared_ram(void)
{
    void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void crash_with(int sig)
{
    uint8_t *ram = shared_ram();
    CHECK(ram != NULL);
    if (ram == NULL)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        struct guest_mem mem = { .gpa_base = 0x80000000ULL, .size = SIZE, .hva = ram };
        memset(ram + (5u << 20), 0xa5, 3u << 20); /* "guest data" */
        ram[SIZE - 1] = 0x42;
        crash_wipe_arm(&mem, -1);
        if (sig == SIGSEGV)
            *(volatile int *)(uintptr_t)8 = 1; /* a real fault */
        raise(sig);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig); /* it still dies of its signal */
    CHECK(all_zero(ram, SIZE));
    munmap(ram, SIZE);
}

static void test_segv_wipes(void)
{
    crash_with(SIGSEGV);
}

static void test_abort_wipes(void)
{
    crash_with(SIGABRT);
}

static void test_disarmed_does_nothing(void)
{
    uint8_t *ram = shared_ram();
    struct guest_mem mem = { .size = SIZE, .hva = ram };
    ram[100] = 7;
    crash_wipe_arm(&mem, -1);
    crash_wipe_disarm();
    CHECK_EQ(crash_wipe_now(), 0);
    CHECK_EQ(ram[100], 7);
    crash_wipe_arm(&mem, -1);
    CHECK(crash_wipe_now() >= 4096); /* armed: the touched page goes */
    CHECK_EQ(ram[100], 0);
    CHECK_EQ(crash_wipe_now(), 0); /* only once */
    crash_wipe_disarm();
    munmap(ram, SIZE);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a SIGSEGV in the VMM zeroes the touched guest pages, then kills", test_segv_wipes },
        { "an abort zeroes the touched guest pages, then kills", test_abort_wipes },
        { "disarmed: nothing happens; armed: one wipe only", test_disarmed_does_nothing },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
