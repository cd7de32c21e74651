/* guest/agentd/kernel_cmdline.h — the `silo.*` keys silod puts on the guest's kernel command
 * line for agentd: `silo.region=<region>` and `silo.egress_ports=80,443,…`. Pure parsing of
 * the text of /proc/cmdline. */
#ifndef SILO_GUEST_AGENTD_KERNEL_CMDLINE_H
#define SILO_GUEST_AGENTD_KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KERNEL_CMDLINE_MAX 4096
#define EGRESS_PORTS_MAX 16

/* Reads the file (normally /proc/cmdline) into buf, NUL-terminated; "" when unreadable. */
void kernel_cmdline_read(const char *path, char *buf, size_t cap);
/* The value of `key=value` (the last one wins); false when absent or longer than cap-1. */
bool kernel_cmdline_value(const char *cmdline, const char *key, char *value, size_t cap);
/* A region is [a-z0-9-], 1–32 bytes. */
bool kernel_cmdline_region_valid(const char *region);
/* Parses "80,443,8443" into ports (duplicates and invalid entries skipped); returns the count. */
size_t kernel_cmdline_ports(const char *list, uint16_t *ports, size_t max);

#endif
