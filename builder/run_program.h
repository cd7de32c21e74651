/* builder/run_program.h — running a helper program (mke2fs, debugfs, apt-get, python3.N) from
 * the image builder, with its standard streams set the way the caller needs. */
#ifndef SILO_BUILDER_RUN_PROGRAM_H
#define SILO_BUILDER_RUN_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>

struct run_io {
    const char *cwd;        /* run there (NULL: here); a failed chdir is exit status 127 */
    bool stdin_null;        /* stdin from /dev/null instead of ours */
    bool quiet_stderr;      /* stderr to /dev/null (a banner, or noise when stdout is captured) */
    bool stdout_to_stderr;  /* when not captured: stdout joins stderr (the build log) */
};

/* Runs argv[0] (searched in PATH) with argv. With out and cap > 0 its stdout is captured, up to
 * cap - 1 bytes, NUL-ended (the rest is read and dropped, so the program never blocks on a full
 * pipe). io may be NULL (everything inherited). Returns the exit status (128 + signal when
 * killed), or -1 when it could not be started. */
int run_program(char *const argv[], const struct run_io *io, char *out, size_t cap);

#endif
