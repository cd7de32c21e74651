/* vmm/keeper.h — the wipe keeper (silo-vmm --wipe-keeper): guest RAM's wipe survives even a
 * SIGKILLed VMM.
 *
 * With guest RAM in a memfd (guest_mem_map_memfd), keeper_start forks a tiny process, named
 * "silo-keeper", that holds only that memfd, the read end of a pipe whose write end only the
 * VMM holds, and stderr. It sits in its own process group (a kill of the VMM's group does not
 * take it) and ignores SIGTERM, SIGINT and SIGHUP. When the pipe reaches EOF — the VMM is gone,
 * however it went — the keeper looks at what the VMM wrote: KEEPER_WIPED ('W', sent by
 * keeper_finish once the VMM's own wipe is done) means there is nothing to do, and it
 * exits silently. Otherwise it maps the memfd, zeroes every page that holds data
 * (memfd_wipe), says on stderr
 *   silo-vmm keeper: VMM pid N died without wiping; wiped K KiB of guest memory in T ms
 * and with verify also checks every data page reads zero
 *   silo-vmm keeper: wipe verified: all D KiB of guest memory data read zero
 * (or "wipe verification FAILED"). Then it closes the memfd (the kernel frees the zeroed
 * pages) and exits.
 *
 * Fork it while the VMM has no other thread and before the seccomp filter; it never execs.
 */
#ifndef SILO_VMM_KEEPER_H
#define SILO_VMM_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KEEPER_WIPED 'W'

struct keeper {
    pid_t pid;    /* 0: none */
    int pipe_fd;  /* the write end, -1 once reported or closed */
};

/* Forks the keeper for memfd `memfd` of `size` bytes. Returns 0 or -errno. */
int keeper_start(struct keeper *k, int memfd, uint64_t size, bool verify);

/* At the VMM's orderly end: with wiped (its own wipe is done, and verified if asked) tells the
 * keeper, which then exits without touching the memory; without, the keeper wipes. Either way
 * closes the pipe and reaps the keeper. Idempotent; a no-op without a keeper (pid 0). */
void keeper_finish(struct keeper *k, bool wiped);

/* What the keeper does once the pipe ends; exposed for tests. `pipe_fd` is read to EOF; returns
 * the process's exit status (0: nothing to do or wiped (and verified), 1: failure). */
int keeper_wait_and_wipe(int pipe_fd, int memfd, uint64_t size, bool verify, pid_t vmm_pid);

#endif
