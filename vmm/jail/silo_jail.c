/* vmm/jail/silo_jail.c — silo-jail: sets up the jail around one process (silo-vmm) and execs it
 * in place, same PID, so the caller's waitpid() and signals work unchanged. The order of the
 * steps is this file's whole job; each step is in its own file:
 *   options (jail_cli.c) -> descriptors closed -> the mount plan (jail_mounts.c) -> the cgroup
 *   (jail_cgroup.c) -> new mount/IPC/UTS/network namespaces -> the root built and entered
 *   (jail_mounts.c) -> rlimits, uid/gid, capabilities, no_new_privs (jail_identity.c) ->
 *   Landlock where the kernel has it (jail_landlock.c) -> exec.
 * Any failure: one line "silo-jail: ..." on stderr, exit status 125, nothing exec'd. The interface
 * is documented in vmm/jail/README.md. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vmm/jail/jail_cgroup.h"
#include "vmm/jail/jail_cli.h"
#include "vmm/jail/jail_identity.h"
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
    /* no PID namespace on purpose (vmm/jail/README.md): silo-vmm must not become a PID 1 */
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0) {
        snprintf(err, errlen, "cannot create the mount, IPC, UTS and network namespaces: %s", strerror(errno));
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
     * when the uid changes below: kept here and set again after, so the jailed program still
     * ends when its parent dies */
    int pdeath = 0;
    pid_t parent = getppid();
    if (prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0) != 0)
        pdeath = 0;
    jail_close_fds();
    if (jail_plan_mounts(&opts, &jail_real_host, &plan, err, sizeof err) != 0 ||
        jail_cgroup_enter(&opts, err, sizeof err) != 0 || enter_namespaces(err, sizeof err) != 0 ||
        jail_build_root(&plan, opts.root, opts.uid, opts.gid, err, sizeof err) != 0 ||
        jail_enter_root(opts.root, err, sizeof err) != 0 || jail_apply_rlimits(&opts, err, sizeof err) != 0 ||
        jail_drop_identity(&opts, err, sizeof err) != 0 || jail_landlock_apply(&plan, opts.program_argv[0], err, sizeof err) < 0)
        die(err);
    if (pdeath > 0 && prctl(PR_SET_PDEATHSIG, pdeath, 0, 0, 0) != 0)
        die("cannot set the parent-death signal again after the uid change");
    if (pdeath > 0 && getppid() != parent)
        die("the parent died while the jail was set up");
    execv(opts.program_argv[0], opts.program_argv);
    snprintf(err, sizeof err, "cannot exec %s in the jail: %s", opts.program_argv[0], strerror(errno));
    die(err);
}
