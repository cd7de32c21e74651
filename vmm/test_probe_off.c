/* vmm/test_probe_off.c — the shipped silo-vmm's test hook: nothing (see test_probe.h). */
#include "vmm/test_probe.h"

void test_probe_after_filter(enum seccomp_role role)
{
    (void)role;
}
