/* tests/unit/test_oauth2_callback.c — the 3LO callback's query parser (oauth2_callback.c):
 * code and error answers, RFC 9207 iss, percent-decoding through base/url.c (`+` is a plus),
 * duplicates, missing or conflicting parameters, bounds, non-printable bytes, broken escapes,
 * a NUL inside the input. */
#include "frontend/oauth2_callback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"

static struct oauth2_callback cb;

static enum oauth2_cb_status parse(const char *q)
{
    return oauth2_callback_parse(q, strlen(q), &cb);
}

static void test_code(void)
{
    CHECK_EQ(parse("state=xyz&code=SplxlOBeZQQYbYS6WxSbIA"), OAUTH2_CB_OK);
    CHECK(strcmp(cb.state, "xyz") == 0);
    CHECK(strcmp(cb.code, "SplxlOBeZQQYbYS6WxSbIA") == 0);
    CHECK(cb.error[0] == 0);
    CHECK_EQ(parse("code=a%2Fb+c&scope=openid%20email&state=s%3D1&authuser=0&prompt=consent&iss=https%3A%2F%2Fidp"),
             OAUTH2_CB_OK);
    CHECK(strcmp(cb.code, "a/b+c") == 0);   /* + is a plus (base/url.c's rule) */
    CHECK(strcmp(cb.state, "s=1") == 0);
    CHECK(strcmp(cb.iss, "https://idp") == 0);
    CHECK_EQ(parse("&&state=s&&code=c&"), OAUTH2_CB_OK);
    CHECK_EQ(parse("state=s&code=c&unknown"), OAUTH2_CB_OK);
}

static void test_error(void)
{
    CHECK_EQ(parse("error=access_denied&error_description=The%20user%20said%20no&state=s"), OAUTH2_CB_OK);
    CHECK(strcmp(cb.error, "access_denied") == 0);
    CHECK(strcmp(cb.error_description, "The user said no") == 0);
    CHECK(cb.code[0] == 0);
    CHECK_EQ(parse("error=access%22denied&state=s"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(parse("error=a&error_description=back%5Cslash&state=s"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(parse("error=a&state=s%22ok"), OAUTH2_CB_OK);   /* state: VSCHAR, quotes allowed */
}

static void test_refusals(void)
{
    CHECK_EQ(parse(""), OAUTH2_CB_NO_STATE);
    CHECK_EQ(parse("code=c"), OAUTH2_CB_NO_STATE);
    CHECK_EQ(parse("state=&code=c"), OAUTH2_CB_NO_STATE);
    CHECK_EQ(parse("state=s"), OAUTH2_CB_NO_RESULT);
    CHECK_EQ(parse("state=s&code="), OAUTH2_CB_NO_RESULT);
    CHECK_EQ(parse("state=s&code=c&error=e"), OAUTH2_CB_BOTH);
    CHECK_EQ(parse("state=s&code=c&state=t"), OAUTH2_CB_DUPLICATE);
    CHECK_EQ(parse("state=s&code=c&code=d"), OAUTH2_CB_DUPLICATE);
    CHECK_EQ(parse("state=s&code=c&%73tate=t"), OAUTH2_CB_DUPLICATE);   /* an escaped key is the key */
    CHECK_EQ(parse("state=s&code=c&iss=a&iss=b"), OAUTH2_CB_DUPLICATE);
    CHECK_EQ(parse("state=s&code=c%0a"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(parse("state=s&code=c%00"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(parse("state=s&code=c%zz"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(parse("state=s&code=c&other=%4"), OAUTH2_CB_BAD_ENCODING);   /* any broken escape */
    CHECK_EQ(parse("state=s&code=\x80"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(parse("state=s&code=%C3%A9"), OAUTH2_CB_BAD_ENCODING);
    CHECK_EQ(oauth2_callback_parse("state=s\0&code=c", 15, &cb), OAUTH2_CB_BAD_ENCODING);
    for (int s = OAUTH2_CB_OK; s <= OAUTH2_CB_BOTH; s++)
        CHECK(strcmp(oauth2_cb_status_text((enum oauth2_cb_status)s), "?") != 0);
}

static void test_bounds(void)
{
    static char q[OAUTH2_CB_MAX_QUERY + 64];
    /* the longest state and code */
    int n = snprintf(q, sizeof q, "state=");
    memset(q + n, 's', OAUTH2_CB_MAX_STATE);
    n += OAUTH2_CB_MAX_STATE;
    n += snprintf(q + n, sizeof q - (size_t)n, "&code=");
    memset(q + n, 'c', OAUTH2_CB_MAX_CODE);
    n += OAUTH2_CB_MAX_CODE;
    q[n] = 0;
    CHECK_EQ(parse(q), OAUTH2_CB_OK);
    CHECK_EQ(strlen(cb.state), OAUTH2_CB_MAX_STATE);
    CHECK_EQ(strlen(cb.code), OAUTH2_CB_MAX_CODE);
    q[n] = 'c';
    q[n + 1] = 0;
    CHECK_EQ(parse(q), OAUTH2_CB_TOO_LONG);
    /* an escaped value longer than its bound once decoded */
    n = snprintf(q, sizeof q, "code=c&state=");
    for (int i = 0; i <= OAUTH2_CB_MAX_STATE; i++)
        n += snprintf(q + n, sizeof q - (size_t)n, "%%41");
    CHECK_EQ(parse(q), OAUTH2_CB_TOO_LONG);
    /* the whole query */
    memset(q, 'x', OAUTH2_CB_MAX_QUERY + 1);
    memcpy(q, "state=s&code=c&x=", 17);
    q[OAUTH2_CB_MAX_QUERY + 1] = 0;
    CHECK_EQ(parse(q), OAUTH2_CB_TOO_LONG);
    q[OAUTH2_CB_MAX_QUERY] = 0;
    CHECK_EQ(parse(q), OAUTH2_CB_OK);
    /* a long unknown key is ignored, not mistaken for a known one */
    n = snprintf(q, sizeof q, "state=s&code=c&");
    memset(q + n, 'k', 300);
    strcpy(q + n + 300, "=v");
    CHECK_EQ(parse(q), OAUTH2_CB_OK);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a code answer parses, escapes decoded, unknown keys ignored", test_code },
        { "an error answer parses; error charset enforced", test_error },
        { "missing, conflicting, repeated, non-printable and broken parameters are refused", test_refusals },
        { "bounds: longest values fit, one byte more is refused, the query is capped", test_bounds },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
