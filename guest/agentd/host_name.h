/* guest/agentd/host_name.h — what agentd accepts as a host name to reach (the egress channel's
 * rule, guest_ports.h): letters, digits, '-', '_' and '.', 1–253 bytes, labels 1–63 bytes.
 * A dotted IPv4 address passes too (it is made of the same characters). */
#ifndef SILO_GUEST_AGENTD_HOST_NAME_H
#define SILO_GUEST_AGENTD_HOST_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define HOST_NAME_MAX_LEN 253
#define HOST_LABEL_MAX_LEN 63
#define HOST_NAME_BUF 256           /* a name and its NUL, with room to spare */

bool host_name_valid(const char *name, size_t len);
/* Lower-cases ASCII letters in place. */
void host_name_lower(char *name, size_t len);

#endif
