/* builder/run_program.c — runs a helper program for the image builder (see run_program.h). */
#include "builder/run_program.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: the standard streams as io says, stdout into capture_fd when >= 0. */
static void set_streams(const struct run_io *io, int capture_fd)
{
    if (io->stdin_null) {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
    }
    if (io->quiet_stderr) {
        int err = open("/dev/null", O_WRONLY);
        if (err >= 0)
            dup2(err, 2);
    }
    if (capture_fd >= 0)
        dup2(capture_fd, 1);
    else if (io->stdout_to_stderr)
        dup2(2, 1);
}

int run_program(char *const argv[], const struct run_io *io, char *out, size_t cap)
{
    static const struct run_io inherit;
    if (io == NULL)
        io = &inherit;
    bool capture = out != NULL && cap > 0;
    int pipefd[2] = { -1, -1 };
    if (capture && pipe(pipefd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (io->cwd != NULL && chdir(io->cwd) < 0)
            _exit(127);
        set_streams(io, pipefd[1]);
        if (capture) {
            close(pipefd[0]);
            close(pipefd[1]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "silo-image: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (capture)
        close(pipefd[1]);
    if (pid < 0) {
        if (capture)
            close(pipefd[0]);
        return -1;
    }
    if (capture) {
        size_t used = 0;
        ssize_t n;
        char sink[4096];
        while ((n = read(pipefd[0], used + 1 < cap ? out + used : sink,
                         used + 1 < cap ? cap - 1 - used : sizeof sink)) > 0)
            if (used + 1 < cap)
                used += (size_t)n;
        out[used] = '\0';
        close(pipefd[0]);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
