/* guest/agentd/synth_names.h — the table of names the DNS stub has handed synthetic addresses
 * out for (127.64.0.0/10, guest_ports.h), shared with the transparent egress listeners, which
 * turn the address a client dialled back into the name. Thread-safe (one mutex).
 *
 * A name keeps its address for agentd's whole life (the first name gets 127.64.0.1, the next
 * 127.64.0.2, …), so cached answers never go stale. The table holds at most SYNTH_NAMES_MAX
 * names; when it is full new names are refused (the stub answers SERVFAIL) rather than old
 * addresses recycled, because recycling would silently send a client that still holds an old
 * address to a different host. */
#ifndef SILO_GUEST_AGENTD_SYNTH_NAMES_H
#define SILO_GUEST_AGENTD_SYNTH_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYNTH_NAMES_MAX 16384

/* The address (host byte order) for a valid, lower-cased name, allocating one on first use;
 * 0 when the table is full or out of memory. */
uint32_t synth_names_address(const char *name);
/* Copies the name that address was handed out for into name (cap ≥ 254); false when the
 * address is not synthetic or was never handed out. */
bool synth_names_lookup(uint32_t address, char *name, size_t cap);
/* Forgets every name (unit tests). */
void synth_names_reset(void);

#endif
