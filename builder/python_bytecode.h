/* builder/python_bytecode.h — precompiles the bytecode of every Python an image root holds
 * (silo-image; builder/python_bytecode.c). See that file for the rules. */
#ifndef SILO_BUILDER_PYTHON_BYTECODE_H
#define SILO_BUILDER_PYTHON_BYTECODE_H

#include <stddef.h>

/* For every CPython 3.N found in ROOT (ROOT/usr/lib/python3.N or ROOT/usr/local/lib/python3.N
 * holding os.py), compiles its standard library, site/dist-packages and the guest directories
 * in extra_dirs (absolute guest paths, e.g. the agent's WorkingDir) with a python3.N of this
 * build host whose bytecode magic number equals the image's; without one, says so on stderr
 * and compiles nothing for that version. Progress and verdicts are lines on stderr starting
 * "silo-image: ". Returns the number of Python versions compiled (0 when none was found or
 * could be compiled); never fails the build. */
unsigned python_bytecode_compile(const char *root, const char *const *extra_dirs, size_t n_extra);

#endif
