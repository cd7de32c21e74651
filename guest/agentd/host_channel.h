/* guest/agentd/host_channel.h — agentd's connections to the host's vsock ports (CID 2;
 * guest_ports.h: 1025 credentials, 1026 egress, 1027 silod's API) and the bounded, timed line
 * and byte reads the channels' answers need. With a TCP offset (host tests) a connection to
 * host port P goes to TCP 127.0.0.1:(P+offset) instead. Blocking calls, for worker threads. */
#ifndef SILO_GUEST_AGENTD_HOST_CHANNEL_H
#define SILO_GUEST_AGENTD_HOST_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

/* -1: vsock (the guest); N ≥ 0: TCP 127.0.0.1:(port+N). Set once before any thread starts. */
void host_channel_set_tcp_offset(int tcp_offset);
int host_channel_tcp_offset(void);

/* A connected blocking stream to host port `port`, or -1 (errno set). */
int host_channel_connect(int port);

/* Reads one line ending in '\n' (not returned; a '\r' before it is dropped) of at most cap-1
 * bytes into line, NUL-terminated, byte by byte so nothing after it is consumed. Returns its
 * length, -1 on EOF, error or a line longer than cap-1, -2 when deadline_ms (mono_ms(), base/mono_time.h)
 * passed first. */
int host_channel_read_line(int fd, char *line, size_t cap, int64_t deadline_ms);

/* Reads exactly len bytes; 0, or -1 on EOF/error, -2 on timeout. */
int host_channel_read_exact(int fd, char *buf, size_t len, int64_t deadline_ms);

/* Writes all of buf (MSG_NOSIGNAL); 0 or -1. */
int host_channel_write_all(int fd, const void *buf, size_t len);

/* Waits until fd is readable or the deadline passes: 1 readable, 0 timeout, -1 error. */
int host_channel_wait_readable(int fd, int64_t deadline_ms);

#endif
