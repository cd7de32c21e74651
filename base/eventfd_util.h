/* base/eventfd_util.h — waking a thread through an eventfd, and draining one.
 *
 * The pattern every event loop here uses (base/event_loop.c's stop, the devices' queue
 * notifications and timers, the console's resume, agentd's shutdown request, silod's guest
 * channels): one side adds 1, the woken side reads the counter back to zero. Both are
 * best-effort by design (a full counter or an empty one changes nothing: the reader is woken
 * either way), so neither reports errors. Header-only; includes nothing above base/.
 */
#ifndef SILO_BASE_EVENTFD_UTIL_H
#define SILO_BASE_EVENTFD_UTIL_H

#include <stdint.h>
#include <unistd.h>

/* Adds 1 to the eventfd's counter, waking whoever polls it. */
static inline void eventfd_signal(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;
}

/* Reads the counter (resetting it to 0); returns its value, 0 when nothing was pending (a
 * non-blocking eventfd with a zero counter) or on error. On a blocking eventfd with a zero
 * counter this waits, as read(2) does. */
static inline uint64_t eventfd_drain(int fd)
{
    uint64_t count = 0;
    if (read(fd, &count, sizeof count) != (ssize_t)sizeof count)
        return 0;
    return count;
}

#endif
