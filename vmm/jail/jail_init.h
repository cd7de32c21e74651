/* vmm/jail/jail_init.h — the jail's own PID namespace, and the two small processes that keep
 * the caller's view of "one process" true across it.
 *
 *   caller (silod) ── silo-jail (the relay, outside the namespace, the pid the caller knows)
 *                        └── silo-jail-init (PID 1 inside)
 *                               └── PROGRAM (silo-vmm, PID 2)  └── its --wipe-keeper, if any
 *
 * The relay forwards the caller's SIGTERM, SIGINT, SIGHUP and SIGUSR2 to the init, which forwards
 * them to PROGRAM. When PROGRAM ends, the init sends its wait status to the relay, then waits for
 * every other process of the jail (a keeper still wiping guest RAM) before it exits; the relay
 * then ends exactly as PROGRAM did: the same exit code, or death by the same signal. So the
 * caller's waitpid() sees PROGRAM's status, and only once nothing of the jail is left.
 * If the relay dies (SIGKILL from the caller), the init SIGKILLs PROGRAM and still waits for the
 * keeper: the wipe that survives a SIGKILL survives the PID namespace too. */
#ifndef SILO_VMM_JAIL_INIT_H
#define SILO_VMM_JAIL_INIT_H

#include <signal.h>
#include <sys/types.h>

/* The forwarded signals plus SIGCHLD, blocked in the calling process (before the fork, so none
 * is lost; both sides read them synchronously). */
int jail_block_signals(void);

/* Unblocks every signal: the program's first step before exec (exec keeps the mask). */
void jail_unblock_signals(void);

/* Makes the caller inherit its orphaned descendants (PR_SET_CHILD_SUBREAPER). PID 1 of a PID
 * namespace does anyway; the init calls it before it forks the program, so that the same holds
 * outside a namespace (the unit tests) and a keeper forked at once is never lost. */
int jail_init_become_reaper(void);

/* PID 1 of the jail: forwards signals to `program`, reaps every process, writes `program`'s wait
 * status (an int) to status_fd when it ends, kills `program` if alive_fd reaches end-of-file
 * (the relay is gone), and exits 0 once no process is left. */
_Noreturn void jail_init_run(pid_t program, int status_fd, int alive_fd);

/* The relay: forwards signals to `init` until it is reaped, then ends like the program whose
 * status the init wrote to status_fd (or like the init itself, if it wrote none: a set-up
 * failure, exit status 125). */
_Noreturn void jail_relay_run(pid_t init, int status_fd);

/* Ends the calling process the way wait status `status` describes: exit code, or death by the
 * same signal (no core file). */
_Noreturn void jail_end_like(int status);

#endif
