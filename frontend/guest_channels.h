/* frontend/guest_channels.h — the guest → host side of one session's microVM: the Unix sockets
 * silo-vmm forwards the guest's vsock connections to (`<vsock path>_<port>`, Firecracker's
 * convention; ports and wire formats in guest/agentd/guest_ports.h), created before the VMM
 * starts, so a connection's socket tells silod which session it comes from:
 *   _1025  credentials: `CREDENTIALS\n` → the runtime role's credentials (role_creds.h)
 *   _1026  egress: one proxied connection each (egress_relay.h), policy per the version's
 *          networkConfiguration.networkMode
 *   _1027  silod's own API: each connection handed to the HTTP server (api_connection), which
 *          records the session it came from
 * One thread accepts on all three; each connection is served on a thread of its own. Closing
 * the channels (when the session ends) removes the sockets, shuts down every live connection
 * (egress streams die with the session) and waits for their threads. */
#ifndef SILO_FRONTEND_GUEST_CHANNELS_H
#define SILO_FRONTEND_GUEST_CHANNELS_H

#include <stddef.h>
#include <stdint.h>

#include "frontend/egress_relay.h"
#include "frontend/role_creds.h"

struct guest_channels_config {
    const struct egress_config *egress;   /* NULL: no egress socket */
    struct role_creds *creds;             /* NULL: no credentials socket */
    /* takes ownership of fd, a connection from session_id's guest (a session of runtime_id) to
     * silod's API; NULL: no API socket */
    void (*api_connection)(void *ctx, int fd, const char *session_id, const char *runtime_id);
    void *api_ctx;
};

struct guest_channels;

/* Opens the sockets for one session (config_json: the version's configuration, for roleArn and
 * networkConfiguration). NULL with a reason in err. */
struct guest_channels *guest_channels_open(const struct guest_channels_config *cfg, const char *vsock_path,
                                           const char *session_id, const char *runtime_id,
                                           const char *config_json, char *err, size_t err_len);
/* Egress bytes so far (guest → world, world → guest). */
void guest_channels_counters(struct guest_channels *ch, uint64_t *out, uint64_t *in);
/* Removes the sockets, ends every connection, frees. NULL is fine. */
void guest_channels_close(struct guest_channels *ch);

#endif
