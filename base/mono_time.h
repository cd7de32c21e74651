/* base/mono_time.h — the one monotonic clock of every Silo program (CLOCK_MONOTONIC).
 *
 * Deadlines, time-outs and durations use these, never the wall clock (which jumps). Header-only
 * so that anything may use it without a build.mk line: silo-vmm, the devices, silod, the image
 * builder, agentd, the CLI and the benchmarks. Includes nothing above base/.
 */
#ifndef SILO_BASE_MONO_TIME_H
#define SILO_BASE_MONO_TIME_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds since an arbitrary fixed point (boot); never goes backwards. */
static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds on the same clock (deadlines: `int64_t deadline = mono_ms() + timeout_ms`). */
static inline int64_t mono_ms(void)
{
    return (int64_t)(mono_ns() / 1000000u);
}

/* Milliseconds with a fraction (latency measurements). */
static inline double mono_ms_f(void)
{
    return (double)mono_ns() / 1e6;
}

#endif
