/* tests/unit/test_crash_wipe.c — vmm/crash_wipe.c: a child that holds "guest RAM" with data,
 * arms the crash wipe and then crashes (SIGSEGV, SIGABRT) leaves that memory zeroed. The RAM
 * here is a shared mapping so that the parent can look at it after the child died. A vCPU-like
 * thread that overflows its stack is caught too (the handler runs on the alternate stack), and
 * a crash before any RAM is armed is still reported in one line. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
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

static unsigned recurse(unsigned depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    return depth > (1u << 30) ? (unsigned)frame[0] : recurse(depth + 1) + (unsigned)frame[0];
}

static void *overflowing_thread(void *arg)
{
    (void)arg;
    crash_wipe_thread_init(); /* what every silo-vmm thread does first */
    return (void *)(uintptr_t)recurse(0);
}

/* Runs body in a child whose stderr is captured into out; returns the wait status. */
static int run_child(void (*body)(uint8_t *), uint8_t *ram, char *out, size_t out_len)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        body(ram);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < out_len && (n = read(fds[0], out + got, out_len - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void overflow_a_thread(uint8_t *ram)
{
    struct guest_mem mem = { .gpa_base = 0x80000000ULL, .size = SIZE, .hva = ram };
    memset(ram, 0x5a, 1u << 20);
    crash_wipe_install();
    crash_wipe_arm(&mem, -1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    pthread_create(&t, &attr, overflowing_thread, NULL);
    pthread_join(t, NULL);
}

static void test_stack_overflow_wipes(void)
{
    uint8_t *ram = shared_ram();
    CHECK(ram != NULL);
    if (ram == NULL)
        return;
    char out[512];
    int st = run_child(overflow_a_thread, ram, out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(strstr(out, "silo-vmm: crashed (signal 11, fault address 0x") != NULL);
    CHECK(strstr(out, "guest memory wiped before exit") != NULL);
    CHECK(all_zero(ram, SIZE));
    munmap(ram, SIZE);
}

static pthread_barrier_t all_crash;

static void *crashing_thread(void *arg)
{
    (void)arg;
    crash_wipe_thread_init();
    pthread_barrier_wait(&all_crash);
    *(volatile int *)(uintptr_t)24 = 1;
    return NULL;
}

/* Several threads fault at the same moment (two vCPUs hitting the same forbidden call): the
 * first one wipes; the others must wait for it, not kill the process half-way. */
static void crash_several_threads(uint8_t *ram)
{
    struct guest_mem mem = { .gpa_base = 0x80000000ULL, .size = SIZE, .hva = ram };
    memset(ram, 0x77, SIZE); /* every page holds data: the wipe takes a while */
    crash_wipe_install();
    crash_wipe_arm(&mem, -1);
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    pthread_barrier_init(&all_crash, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, crashing_thread, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

static void test_simultaneous_crashes_wipe_once(void)
{
    uint8_t *ram = shared_ram();
    CHECK(ram != NULL);
    if (ram == NULL)
        return;
    char out[2048];
    int st = run_child(crash_several_threads, ram, out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(strstr(out, "guest memory wiped before exit") != NULL);
    CHECK(strstr(out, "no guest memory to wipe yet") == NULL); /* the others did not report */
    CHECK(all_zero(ram, SIZE));
    munmap(ram, SIZE);
}

static void crash_unarmed(uint8_t *ram)
{
    (void)ram;
    crash_wipe_install();
    *(volatile int *)(uintptr_t)16 = 1;
}

static void test_unarmed_crash_is_reported(void)
{
    char out[512];
    int st = run_child(crash_unarmed, NULL, out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(strstr(out, "silo-vmm: crashed (signal 11, fault address 0x10): no guest memory to wipe yet") != NULL);
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
        { "a thread overflowing its stack: reported on the alternate stack, RAM zeroed", test_stack_overflow_wipes },
        { "a crash before RAM exists is reported with signal and address", test_unarmed_crash_is_reported },
        { "threads crashing at once: the first wipes, the others wait; RAM zeroed", test_simultaneous_crashes_wipe_once },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
