/* base/event_loop.h — the VMM's I/O thread: an epoll loop that runs device work (queue
 * notifications from ioeventfds, host sockets, disk I/O) off the vCPU threads.
 *
 * Handlers run on the loop thread only. Adding and removing fds is allowed from the loop thread
 * (inside handlers) and before event_loop_start; a removed handler is never called again, even
 * for events already fetched in the same epoll_wait batch. event_loop_run_once lets unit tests
 * drive the loop without a thread.
 */
#ifndef SILO_BASE_EVENT_LOOP_H
#define SILO_BASE_EVENT_LOOP_H

#include <stdint.h>

struct event_loop;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLHUP, ...) that fired for fd. */
typedef void (*event_fn)(void *opaque, int fd, uint32_t events);

struct event_loop *event_loop_create(void);
/* Frees the loop; the caller closes its own fds. Stops the thread first if it runs. */
void event_loop_destroy(struct event_loop *loop);

/* Watches fd for `events` (EPOLLIN/EPOLLOUT/..., level-triggered unless EPOLLET is given).
 * Returns 0 or -errno (-EEXIST when fd is already watched). */
int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *opaque);
/* Changes the events watched for fd. Returns 0 or -errno. */
int event_loop_modify(struct event_loop *loop, int fd, uint32_t events);
/* Stops watching fd. Returns 0 or -ENOENT. */
int event_loop_remove(struct event_loop *loop, int fd);

/* Waits up to timeout_ms (-1: forever) and runs the handlers of the ready fds.
 * Returns the number of handlers run, or -errno. */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);

/* Called first thing on the loop's own thread, before any handler runs (silo-vmm gives the
 * thread its alternate signal stack for the crash wipe there). */
typedef void (*event_loop_thread_hook)(void);

/* Runs the loop on its own thread until event_loop_stop; `on_thread_start` (NULL: none) runs
 * first on that thread. Returns 0 or -errno. */
int event_loop_start(struct event_loop *loop, event_loop_thread_hook on_thread_start);
/* Asks the loop thread to finish its current batch and exit, and joins it. Any thread. */
void event_loop_stop(struct event_loop *loop);

#endif
