/* guest/agentd/command_exec.h — the guest side of InvokeAgentRuntimeCommand: one EXEC on a
 * control connection (control_proto.h). It reads the command bytes that follow the EXEC line,
 * runs `/bin/sh -c COMMAND` as the agent runs (its environment, working directory and user),
 * in a session and process group of its own with stdin on /dev/null, streams stdout and stderr
 * to the host as STDOUT/STDERR frames, and ends with one EXIT frame.
 *
 * Endings: the shell exits (whatever it left running in its process group gets SIGKILL once its
 * output has drained, at most COMMAND_EXEC_LINGER_MS later); the timeout passes (SIGKILL to the
 * whole group, EXIT timed_out=1); the host closes the connection or sends anything (SIGKILL to
 * the group, no EXIT). At most COMMAND_EXEC_MAX commands run at once (`ERR EXEC
 * too-many-commands` beyond). Memory per command: the command itself (at most
 * CP_EXEC_MAX_COMMAND bytes) and one COMMAND_EXEC_CHUNK read buffer. */
#ifndef SILO_GUEST_AGENTD_COMMAND_EXEC_H
#define SILO_GUEST_AGENTD_COMMAND_EXEC_H

#include <stddef.h>
#include <sys/types.h>

#include "guest/agentd/control_proto.h"

#define COMMAND_EXEC_MAX 8              /* commands running at once in one guest */
#define COMMAND_EXEC_CHUNK (16 * 1024)  /* bytes read from a pipe per STDOUT/STDERR frame */
#define COMMAND_EXEC_LINGER_MS 200      /* output still drained after the shell exited */
#define COMMAND_EXEC_READ_MS 10000      /* the command bytes must arrive within this */

/* Who the command runs as: the agent's identity (agent_config.h). */
struct command_identity {
    char *const *envp;
    const char *workdir;
    uid_t uid;
    gid_t gid;
    const char *shell;                  /* "/bin/sh" */
};

/* Serves one EXEC on control connection fd, whose request line decoded to req. `pending` holds
 * the bytes already received after that line (the start of the command; more than req->bytes
 * of them is a protocol error). Returns once the command has ended and its EXIT frame (or an
 * `ERR EXEC reason` answer) was sent or could not be; the caller then closes fd. */
void command_exec_serve(int fd, const struct cp_exec_request *req, const char *pending, size_t pending_len,
                        const struct command_identity *id);

#endif
