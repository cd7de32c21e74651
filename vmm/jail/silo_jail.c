/* vmm/jail/silo_jail.c — silo-jail: sets up the jail around one process (silo-vmm) and runs it
 * in its own PID namespace, while the process the caller started stays outside as a relay whose
 * exit status is the program's, so the caller's waitpid() and signals work unchanged
 * (jail_init.h draws the process tree). The order of the steps is this file's whole job; each
 * step is in its own file:
 *   options (jail_cli.c) -> descriptors closed -> the mount plan (jail_mounts.c) -> the cgroup
 *   (jail_cgroup.c) -> new mount/IPC/UTS/network/PID namespaces -> fork: the relay stays outside
 *   (jail_init.c); the namespace's PID 1 builds and enters the root (jail_mounts.c) -> fork: the
 *   program sets rlimits, uid/gid, capabilities, no_new_privs (jail_identity.c), Landlock where
 *   the kernel has it (jail_landlock.c) -> exec; PID 1 and the relay drop to the same uid with no
 *   capabilities and only forward signals and reap.
 * Any failure: one line "silo-jail: ..." on stderr, exit status 125, nothing exec'd. The interface
 * is documented in vmm/jail/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vmm/jail/jail_cgroup.h"
#include "vmm/jail/jail_cli.h"
#include "vmm/jail/jail_identity.h"
#include "vmm/jail/jail_init.h"
#include "vmm/jail/jail_landlock.h"
#include "vmm/jail/jail_mounts.h"

#define JAIL_EXIT_FAILURE 125
#define JAIL_HOSTNAME "silo"

static _Noreturn void die(const char *msg)
{
    fprintf(stderr, "silo-jail: %s\n", msg);
    _exit(JAIL_EXIT_FAILURE);
}

static int enter_namespaces(char *err, size_t errlen)
{
    /* the PID namespace applies to the children: the next fork is its PID 1 (jail_init.h) */
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID) != 0) {
        snprintf(err, errlen, "cannot create the mount, IPC, UTS, network and PID namespaces: %s", strerror(errno));
        return -1;
    }
    /* nothing mounted from here on may propagate back to the host, nor the host's in here */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(err, errlen, "cannot make the mounts private: %s", strerror(errno));
        return -1;
    }
    if (sethostname(JAIL_HOSTNAME, strlen(JAIL_HOSTNAME)) != 0) {
        snprintf(err, errlen, "sethostname: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The program, PID 2 of the jail: its limits, identity and Landlock, then exec. */
static _Noreturn void run_program(const struct jail_options *opts, const struct jail_mount_plan *plan)
{
    char err[512];
    jail_unblock_signals();
    if (jail_apply_rlimits(opts, err, sizeof err) != 0 || jail_drop_identity(opts, err, sizeof err) != 0 ||
        jail_landlock_apply(plan, opts->program_argv[0], err, sizeof err) < 0)
        die(err);
    execv(opts->program_argv[0], opts->program_argv);
    snprintf(err, sizeof err, "cannot exec %s in the jail: %s", opts->program_argv[0], strerror(errno));
    die(err);
}

/* PID 1 of the jail: builds and enters the root (a /proc of the new PID namespace), starts the
 * program, gives up root, and stays as the namespace's init (jail_init_run). */
static _Noreturn void run_init(const struct jail_options *opts, const struct jail_mount_plan *plan, int status_fd,
                               int alive_fd)
{
    char err[512];
    prctl(PR_SET_NAME, "silo-jail-init", 0, 0, 0);
    if (jail_build_root(plan, opts->root, opts->uid, opts->gid, err, sizeof err) != 0 ||
        jail_enter_root(opts->root, err, sizeof err) != 0)
        die(err);
    jail_init_become_reaper();
    pid_t program = fork();
    if (program < 0) {
        snprintf(err, sizeof err, "cannot fork the program in the jail: %s", strerror(errno));
        die(err);
    }
    if (program == 0) {
        close(status_fd);
        close(alive_fd);
        run_program(opts, plan);
    }
    if (jail_drop_identity(opts, err, sizeof err) != 0) {
        kill(program, SIGKILL);
        die(err);
    }
    jail_init_run(program, status_fd, alive_fd);
}

int main(int argc, char *argv[])
{
    static struct jail_options opts;
    static struct jail_mount_plan plan;
    char err[512];

    int r = jail_parse_options(argc, argv, &opts, err, sizeof err);
    if (r == -2) {
        fputs(jail_usage, stdout);
        return 0;
    }
    if (r != 0)
        die(err);
    if (geteuid() != 0)
        die("must be started as root (it mounts, makes device nodes and changes uid)");
    /* the caller's parent-death signal (silod's spawn policy: SIGTERM) is cleared by the kernel
     * when the uid changes below: kept here and set again after, so the relay still forwards it
     * when its parent dies */
    int pdeath = 0;
    pid_t parent = getppid();
    if (prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0) != 0)
        pdeath = 0;
    jail_close_fds();
    if (jail_plan_mounts(&opts, &jail_real_host, &plan, err, sizeof err) != 0 ||
        jail_cgroup_enter(&opts, err, sizeof err) != 0 || enter_namespaces(err, sizeof err) != 0)
        die(err);
    int status_pipe[2], alive_pipe[2];
    if (jail_block_signals() != 0 || pipe2(status_pipe, O_CLOEXEC) != 0 || pipe2(alive_pipe, O_CLOEXEC) != 0) {
        snprintf(err, sizeof err, "cannot set up the relay: %s", strerror(errno));
        die(err);
    }
    pid_t init = fork();
    if (init < 0) {
        snprintf(err, sizeof err, "cannot fork the jail's init: %s", strerror(errno));
        die(err);
    }
    if (init == 0) {
        close(status_pipe[0]);
        close(alive_pipe[1]);
        run_init(&opts, &plan, status_pipe[1], alive_pipe[0]);
    }
    close(status_pipe[1]);
    close(alive_pipe[0]);
    /* the relay keeps nothing of root either; alive_pipe[1] stays open until it ends */
    if (jail_drop_identity(&opts, err, sizeof err) != 0) {
        kill(init, SIGKILL);
        die(err);
    }
    if (pdeath > 0)
        prctl(PR_SET_PDEATHSIG, pdeath, 0, 0, 0);
    if (pdeath > 0 && getppid() != parent)
        kill(init, pdeath); /* the parent died while the jail was set up: as if it had said so */
    jail_relay_run(init, status_pipe[0]);
}
