/* vmm/crash_wipe.c — zero guest RAM when silo-vmm crashes (see crash_wipe.h). */
#include "vmm/crash_wipe.h"

#include <linux/kvm.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_PAGES 4096 /* one mincore call covers 16 MiB of 4 KiB pages */

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS };
static uint8_t *_Atomic armed_hva;
static uint64_t armed_size;
static int armed_vm_fd = -1;
static unsigned char vec[CHUNK_PAGES];

unsigned long long crash_wipe_now(void)
{
    uint8_t *hva = atomic_exchange(&armed_hva, NULL); /* one wipe, even if several threads crash */
    if (hva == NULL)
        return 0;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    unsigned long long zeroed = 0;
    for (uint64_t off = 0; off < armed_size; off += CHUNK_PAGES * page) {
        uint64_t len = armed_size - off < CHUNK_PAGES * page ? armed_size - off : CHUNK_PAGES * page;
        if (mincore(hva + off, len, vec) != 0) {
            explicit_bzero(hva + off, len); /* cannot tell: zero it all */
            zeroed += len;
            continue;
        }
        for (uint64_t i = 0; i < len / page; i++)
            if (vec[i] & 1) {
                explicit_bzero(hva + off + i * page, page);
                zeroed += page;
            }
    }
    return zeroed;
}

static void say(const char *text)
{
    ssize_t n = write(STDERR_FILENO, text, strlen(text));
    (void)n;
}

static void on_fatal(int sig)
{
    if (atomic_load(&armed_hva) == NULL)
        goto die;
    if (armed_vm_fd >= 0) {
        struct kvm_userspace_memory_region gone = { .slot = 0, .memory_size = 0 };
        ioctl(armed_vm_fd, KVM_SET_USER_MEMORY_REGION, &gone);
    }
    crash_wipe_now();
    say("silo-vmm: crashed (fatal signal): guest memory wiped before exit\n");
die:
    signal(sig, SIG_DFL); /* then die of it, as without us */
    raise(sig);
}

void crash_wipe_arm(const struct guest_mem *mem, int vm_fd)
{
    armed_size = mem->size;
    armed_vm_fd = vm_fd;
    atomic_store(&armed_hva, mem->hva);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}

void crash_wipe_disarm(void)
{
    atomic_store(&armed_hva, NULL);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        signal(fatal_signals[i], SIG_DFL);
}
