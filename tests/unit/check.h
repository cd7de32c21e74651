/* tests/unit/check.h — the unit-test harness shared by every tests/unit/test_*.c.
 *
 * A test file defines plain `static void name(void)` functions, uses CHECK / CHECK_EQ inside
 * them, and ends with:
 *
 *     int main(void)
 *     {
 *         static const struct unit_test tests[] = { { "loads a plain Image", test_plain_image }, };
 *         return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
 *     }
 *
 * run_unit_tests prints one line per test, `ok - <file>: <name>` or `not ok - <file>: <name>`,
 * which tests/run counts into the final `N passed, N failed` line. A failed CHECK prints its
 * expression and location and lets the test go on (so one run shows every broken check).
 */
#ifndef SILO_TESTS_UNIT_CHECK_H
#define SILO_TESTS_UNIT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct unit_test {
    const char *name;
    void (*run)(void);
};

void check_true(bool ok, const char *expr, const char *file, int line);
void check_equal(long long got, long long want, const char *expr, const char *file, int line);
int run_unit_tests(const struct unit_test *tests, size_t count);

#define CHECK(cond) check_true((cond), #cond, __FILE__, __LINE__)
#define CHECK_EQ(got, want) check_equal((long long)(got), (long long)(want), #got " == " #want, __FILE__, __LINE__)

#endif
