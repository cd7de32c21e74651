/* tests/unit/check.c — implementation of the unit-test harness (see check.h). */
#include "tests/unit/check.h"

#include <stdio.h>
#include <string.h>

static int failed_checks;

void check_true(bool ok, const char *expr, const char *file, int line)
{
    if (ok)
        return;
    failed_checks++;
    printf("#   check failed: %s (%s:%d)\n", expr, file, line);
}

void check_equal(long long got, long long want, const char *expr, const char *file, int line)
{
    if (got == want)
        return;
    failed_checks++;
    printf("#   check failed: %s: got %lld, want %lld (%s:%d)\n", expr, got, want, file, line);
}

static const char *program_name(void)
{
    extern char *program_invocation_short_name;
    return program_invocation_short_name;
}

int run_unit_tests(const struct unit_test *tests, size_t count)
{
    int failures = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < count; i++) {
        int before = failed_checks;
        tests[i].run();
        bool ok = failed_checks == before;
        printf("%s - %s: %s\n", ok ? "ok" : "not ok", program_name(), tests[i].name);
        failures += !ok;
    }
    return failures ? 1 : 0;
}
