/* tests/unit/test_check.c — checks the harness itself: a passing check leaves no failure. */
#include "tests/unit/check.h"

static void test_true_check_passes(void)
{
    CHECK(1 + 1 == 2);
    CHECK_EQ(6 * 7, 42);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "passing checks record no failure", test_true_check_passes },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
