/* tests/unit/test_url.c — silod's one percent-decoder (base/url.h): good and broken
 * escapes, %00 refused, '+' kept as a plus (AWS SigV4: a space is %20), query lookup by decoded
 * key, whole-query validity, and raw URLs escaped for the log. */
#include "base/url.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/check.h"

static ssize_t dec(const char *in, char *out, size_t cap) { return url_decode(in, strlen(in), out, cap); }

static void test_decode(void)
{
    char out[64];
    CHECK_EQ(dec("abc", out, sizeof out), 3);
    CHECK(strcmp(out, "abc") == 0);
    CHECK_EQ(dec("arn%3Aaws%2fx", out, sizeof out), 9);                /* either case of hex */
    CHECK(strcmp(out, "arn:aws/x") == 0);
    CHECK_EQ(dec("a%20b", out, sizeof out), 3);
    CHECK(strcmp(out, "a b") == 0);
    CHECK_EQ(dec("a+b", out, sizeof out), 3);                          /* '+' is a plus sign */
    CHECK(strcmp(out, "a+b") == 0);
    CHECK_EQ(dec("%2B", out, sizeof out), 1);
    CHECK(strcmp(out, "+") == 0);
    CHECK_EQ(dec("%25", out, sizeof out), 1);                          /* an escaped '%' stays one */
    CHECK(strcmp(out, "%") == 0);
    CHECK_EQ(dec("%C3%A9", out, sizeof out), 2);                       /* bytes, not characters */
    CHECK_EQ(dec("", out, sizeof out), 0);
    CHECK(out[0] == '\0');
    /* refused: broken escapes, an escaped NUL, no room */
    CHECK_EQ(dec("%", out, sizeof out), -1);
    CHECK_EQ(dec("a%2", out, sizeof out), -1);
    CHECK_EQ(dec("%zz", out, sizeof out), -1);
    CHECK_EQ(dec("%+1", out, sizeof out), -1);                         /* strtol would take it */
    CHECK_EQ(dec("% 1", out, sizeof out), -1);
    CHECK_EQ(dec("%0x", out, sizeof out), -1);
    CHECK_EQ(dec("%00", out, sizeof out), -1);
    CHECK_EQ(dec("ab%00cd", out, sizeof out), -1);
    CHECK_EQ(url_decode("ab\0cd", 5, out, sizeof out), -1);            /* a raw NUL too */
    CHECK_EQ(dec("abcd", out, 4), -1);
    CHECK_EQ(dec("abc", out, 4), 3);
    CHECK_EQ(dec("%41%42%43", out, 4), 3);                             /* len + 1 always fits */
    CHECK_EQ(dec("x", out, 0), -1);
    /* a length, not a terminator, bounds the input */
    CHECK_EQ(url_decode("ab%41", 2, out, sizeof out), 2);
    CHECK(strcmp(out, "ab") == 0);
    CHECK_EQ(url_decode("ab%41", 4, out, sizeof out), -1);             /* cut escape */
}

static void test_query(void)
{
    char v[64];
    CHECK_EQ(url_query_param("qualifier=DEFAULT", "qualifier", v, sizeof v), 1);
    CHECK(strcmp(v, "DEFAULT") == 0);
    CHECK_EQ(url_query_param("a=1&qualifier=my%5Fep&b=2", "qualifier", v, sizeof v), 1);   /* decoded */
    CHECK(strcmp(v, "my_ep") == 0);
    CHECK_EQ(url_query_param("%71ualifier=x", "qualifier", v, sizeof v), 1);  /* the key is decoded too */
    CHECK(strcmp(v, "x") == 0);
    CHECK_EQ(url_query_param("q=a+b", "q", v, sizeof v), 1);
    CHECK(strcmp(v, "a+b") == 0);
    CHECK_EQ(url_query_param("flag&x=1", "flag", v, sizeof v), 1);     /* no '=': empty value */
    CHECK(v[0] == '\0');
    CHECK_EQ(url_query_param("qualifier=", "qualifier", v, sizeof v), 1);
    CHECK(v[0] == '\0');
    CHECK_EQ(url_query_param("x=1&y=2", "qualifier", v, sizeof v), 0);
    CHECK_EQ(url_query_param(NULL, "qualifier", v, sizeof v), 0);
    CHECK_EQ(url_query_param("", "qualifier", v, sizeof v), 0);
    CHECK_EQ(url_query_param("qualifierx=1", "qualifier", v, sizeof v), 0);
    CHECK_EQ(url_query_param("qualifier=%zz", "qualifier", v, sizeof v), -1);
    CHECK_EQ(url_query_param("qualifier=a%00", "qualifier", v, sizeof v), -1);
    CHECK_EQ(url_query_param("qualifier=0123456789", "qualifier", v, 4), -1);
    CHECK_EQ(url_query_param("q=1&q=2", "q", v, sizeof v), 1);         /* the first one */
    CHECK(strcmp(v, "1") == 0);
    CHECK(url_query_valid(NULL));
    CHECK(url_query_valid(""));
    CHECK(url_query_valid("a=1&b=%20&c&&d=%2B"));
    CHECK(!url_query_valid("a=1&b=%2"));
    CHECK(!url_query_valid("a%00=1"));
    CHECK(!url_query_valid("a=%G0"));
}

static void test_escape_for_log(void)
{
    char out[64];
    CHECK(strcmp(url_escape_for_log("/runtimes/x/", out, sizeof out), "/runtimes/x/") == 0);
    CHECK(strcmp(url_escape_for_log("/a\nsilod: forged\r", out, sizeof out), "/a\\x0asilod: forged\\x0d") == 0);
    CHECK(strcmp(url_escape_for_log("\x1b[31m\x7f\"\\", out, sizeof out), "\\x1b[31m\\x7f\\x22\\x5c") == 0);
    CHECK(strcmp(url_escape_for_log("\xc3\xa9", out, sizeof out), "\\xc3\\xa9") == 0);
    CHECK(strcmp(url_escape_for_log(NULL, out, sizeof out), "") == 0);
    char small[12];
    url_escape_for_log("/0123456789abcdef", small, sizeof small);
    CHECK(strlen(small) < sizeof small);
    CHECK(strstr(small, "...") != NULL);
    url_escape_for_log("\n\n\n\n\n\n", small, sizeof small);           /* never half an escape */
    CHECK(strlen(small) < sizeof small);
    for (const char *p = small; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "percent-decoding: escapes, %00 and broken escapes refused, '+' is a plus", test_decode },
        { "query parameters: decoded keys and values, absent, undecodable", test_query },
        { "raw URLs escaped for the log: control characters, quotes, non-ASCII, truncation", test_escape_for_log },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
