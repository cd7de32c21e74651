/* tools/bench/boottime.c — times a command the way our boot benchmarks need it.
 *
 * Usage: boottime [--marker NAME=TEXT]... [--timeout SECONDS] [--echo] -- COMMAND [ARGS...]
 *
 * Runs COMMAND with its stdout and stderr on one pipe, notes the time (ms since the exec) at
 * which each marker TEXT first appears in that output, waits for the exit, and prints one line:
 *   boottime: NAME_ms=12.3 ... exit_ms=45.6 status=0 maxrss_kib=1234
 * (a marker never seen prints NAME_ms=-1). status is the exit code, or 128+signal. With --echo
 * the command's output is copied to our stderr as it arrives. On timeout the command gets
 * SIGKILL and status=124. Used identically for silo-vmm and for QEMU, so figures compare.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"

#define MAX_MARKERS 8
#define WINDOW 8192

struct marker {
    const char *name;
    const char *text;
    double ms;
};

static void usage(void)
{
    fprintf(stderr, "usage: boottime [--marker NAME=TEXT]... [--timeout SECONDS] [--echo] -- COMMAND [ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct marker markers[MAX_MARKERS];
    int nmarkers = 0, timeout_s = 120, argi = 1;
    bool echo = false;

    for (; argi < argc && strcmp(argv[argi], "--") != 0; argi++) {
        if (strcmp(argv[argi], "--marker") == 0 && argi + 1 < argc && nmarkers < MAX_MARKERS) {
            char *eq = strchr(argv[++argi], '=');
            if (eq == NULL || eq == argv[argi] || eq[1] == '\0')
                usage();
            *eq = '\0';
            markers[nmarkers++] = (struct marker){ .name = argv[argi], .text = eq + 1, .ms = -1 };
        } else if (strcmp(argv[argi], "--timeout") == 0 && argi + 1 < argc) {
            timeout_s = atoi(argv[++argi]);
        } else if (strcmp(argv[argi], "--echo") == 0) {
            echo = true;
        } else {
            usage();
        }
    }
    if (argi + 1 >= argc)
        usage();

    int pipefd[2];
    if (pipe(pipefd) != 0) {
        perror("boottime: pipe");
        return 1;
    }
    double t0 = mono_ms_f();
    pid_t pid = fork();
    if (pid < 0) {
        perror("boottime: fork");
        return 1;
    }
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execvp(argv[argi + 1], &argv[argi + 1]);
        fprintf(stderr, "boottime: exec %s: %s\n", argv[argi + 1], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);

    /* Sliding window over the output so markers split across reads are still found. */
    char window[WINDOW + 1];
    size_t have = 0;
    bool timed_out = false;
    for (;;) {
        double left = (double)timeout_s * 1e3 - (mono_ms_f() - t0);
        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0)
            break;
        double t = mono_ms_f() - t0;
        if (echo)
            fwrite(buf, 1, (size_t)n, stderr);
        if (have + (size_t)n > WINDOW) {
            size_t keep = WINDOW / 2 < have ? WINDOW / 2 : have;
            memmove(window, window + have - keep, keep);
            have = keep;
        }
        size_t take = (size_t)n <= WINDOW - have ? (size_t)n : WINDOW - have;
        memcpy(window + have, buf + (size_t)n - take, take);
        have += take;
        window[have] = '\0';
        for (int i = 0; i < nmarkers; i++)
            if (markers[i].ms < 0 && memmem(window, have, markers[i].text, strlen(markers[i].text)) != NULL)
                markers[i].ms = t;
    }
    int status = 0;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    double exit_ms = mono_ms_f() - t0;
    int code = timed_out ? 124 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    printf("boottime:");
    for (int i = 0; i < nmarkers; i++)
        printf(" %s_ms=%.1f", markers[i].name, markers[i].ms);
    printf(" exit_ms=%.1f status=%d maxrss_kib=%ld\n", exit_ms, code, ru.ru_maxrss);
    return 0;
}
