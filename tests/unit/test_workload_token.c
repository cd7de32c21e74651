/* tests/unit/test_workload_token.c — workload access tokens (workload_token.c): round trip,
 * binding to workload and user (kind and id), expiry and future issue, tampering of every
 * byte, truncation, another key, malformed text, minting limits; and base64url strictness. */
#include "frontend/workload_token.h"

#include <stdio.h>
#include <string.h>

#include "frontend/b64url.h"
#include "tests/unit/check.h"

static const uint8_t KEY[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
#define NOW 1800000000

static void test_round_trip(void)
{
    char tok[WAT_MAX_TOKEN + 1];
    CHECK_EQ(wat_mint(KEY, "agent-A", WAT_USER_JWT, "https://issuer|alice", NOW, 900, tok, sizeof tok), WAT_OK);
    CHECK(strncmp(tok, "swat1.", 6) == 0);
    CHECK(strstr(tok, "alice") == NULL);   /* opaque: the binding is sealed */
    struct wat_claims c;
    CHECK_EQ(wat_verify(KEY, tok, NOW + 10, &c), WAT_OK);
    CHECK(strcmp(c.workload, "agent-A") == 0);
    CHECK(strcmp(c.user_id, "https://issuer|alice") == 0);
    CHECK_EQ(c.user_kind, WAT_USER_JWT);
    CHECK_EQ(c.issued_at, NOW);
    CHECK_EQ(c.expires_at, NOW + 900);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "agent-A", WAT_USER_JWT, "https://issuer|alice"), WAT_OK);
    /* two mints of the same binding differ (random nonce) */
    char tok2[WAT_MAX_TOKEN + 1];
    CHECK_EQ(wat_mint(KEY, "agent-A", WAT_USER_JWT, "https://issuer|alice", NOW, 900, tok2, sizeof tok2), WAT_OK);
    CHECK(strcmp(tok, tok2) != 0);
    /* no user */
    CHECK_EQ(wat_mint(KEY, "agent-A", WAT_USER_NONE, NULL, NOW, 60, tok, sizeof tok), WAT_OK);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "agent-A", WAT_USER_NONE, NULL), WAT_OK);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "agent-A", WAT_USER_ID, "alice"), WAT_WRONG_USER);
}

static void test_binding(void)
{
    char tok[WAT_MAX_TOKEN + 1];
    CHECK_EQ(wat_mint(KEY, "A", WAT_USER_ID, "U", NOW, 900, tok, sizeof tok), WAT_OK);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_ID, "U"), WAT_OK);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "B", WAT_USER_ID, "U"), WAT_WRONG_WORKLOAD);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_ID, "V"), WAT_WRONG_USER);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "B", WAT_USER_ID, "V"), WAT_WRONG_WORKLOAD);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "AA", WAT_USER_ID, "U"), WAT_WRONG_WORKLOAD);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "", WAT_USER_ID, "U"), WAT_WRONG_WORKLOAD);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_ID, "U "), WAT_WRONG_USER);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_ID, ""), WAT_WRONG_USER);
    /* the same id string under another kind is another user */
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_JWT, "U"), WAT_WRONG_USER);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_NONE, NULL), WAT_WRONG_USER);
    /* a user id holding a NUL-free lookalike of another binding's framing */
    CHECK_EQ(wat_mint(KEY, "A", WAT_USER_JWT, "iss|sub", NOW, 900, tok, sizeof tok), WAT_OK);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW, "A", WAT_USER_ID, "iss|sub"), WAT_WRONG_USER);
}

static void test_expiry(void)
{
    char tok[WAT_MAX_TOKEN + 1];
    CHECK_EQ(wat_mint(KEY, "A", WAT_USER_ID, "U", NOW, 300, tok, sizeof tok), WAT_OK);
    CHECK_EQ(wat_verify(KEY, tok, NOW + 299, NULL), WAT_OK);
    CHECK_EQ(wat_verify(KEY, tok, NOW + 300, NULL), WAT_EXPIRED);
    CHECK_EQ(wat_verify(KEY, tok, NOW + 100000, NULL), WAT_EXPIRED);
    CHECK_EQ(wat_verify_for(KEY, tok, NOW + 301, "A", WAT_USER_ID, "U"), WAT_EXPIRED);
    /* issued well in the future: a clock gone wrong or a forged clock */
    CHECK_EQ(wat_verify(KEY, tok, NOW - WAT_CLOCK_SKEW_S, NULL), WAT_OK);
    CHECK_EQ(wat_verify(KEY, tok, NOW - WAT_CLOCK_SKEW_S - 1, NULL), WAT_NOT_YET_VALID);
}

static void test_tampering(void)
{
    char tok[WAT_MAX_TOKEN + 1];
    CHECK_EQ(wat_mint(KEY, "agent-A", WAT_USER_ID, "user-U", NOW, 900, tok, sizeof tok), WAT_OK);
    size_t len = strlen(tok);
    int bad_seal = 0, malformed = 0, ok = 0;
    for (size_t i = 6; i < len; i++) {
        char t[WAT_MAX_TOKEN + 1];
        memcpy(t, tok, len + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        enum wat_status st = wat_verify(KEY, t, NOW, NULL);
        bad_seal += st == WAT_BAD_SEAL;
        malformed += st == WAT_MALFORMED;   /* the last char's spare bits */
        ok += st == WAT_OK;
    }
    CHECK_EQ(ok, 0);
    CHECK(bad_seal >= (int)len - 7);
    CHECK(malformed <= 1);
    /* every truncation */
    for (size_t cut = 0; cut < len; cut++) {
        char t[WAT_MAX_TOKEN + 1];
        memcpy(t, tok, cut);
        t[cut] = 0;
        enum wat_status st = wat_verify(KEY, t, NOW, NULL);
        CHECK(st == WAT_MALFORMED || st == WAT_BAD_SEAL);
    }
    /* appended bytes */
    char t[WAT_MAX_TOKEN + 8];
    snprintf(t, sizeof t, "%sAAAA", tok);
    CHECK_EQ(wat_verify(KEY, t, NOW, NULL), WAT_BAD_SEAL);
    /* another key */
    uint8_t other[32];
    memcpy(other, KEY, 32);
    other[31] ^= 1;
    CHECK_EQ(wat_verify(other, tok, NOW, NULL), WAT_BAD_SEAL);
    /* not ours at all */
    CHECK_EQ(wat_verify(KEY, "", NOW, NULL), WAT_MALFORMED);
    CHECK_EQ(wat_verify(KEY, NULL, NOW, NULL), WAT_MALFORMED);
    CHECK_EQ(wat_verify(KEY, "swat1.", NOW, NULL), WAT_MALFORMED);
    CHECK_EQ(wat_verify(KEY, "swat2.AAAA", NOW, NULL), WAT_MALFORMED);
    CHECK_EQ(wat_verify(KEY, "swat1.AA=A", NOW, NULL), WAT_MALFORMED);
    CHECK_EQ(wat_verify(KEY, "swat1.AA+/", NOW, NULL), WAT_MALFORMED);
    CHECK_EQ(wat_verify(KEY, "eyJhbGciOiJIUzI1NiJ9.e30.x", NOW, NULL), WAT_MALFORMED);
    static char huge[WAT_MAX_TOKEN + 100];
    memset(huge, 'A', sizeof huge - 1);
    memcpy(huge, "swat1.", 6);
    CHECK_EQ(wat_verify(KEY, huge, NOW, NULL), WAT_MALFORMED);
}

static void test_mint_limits(void)
{
    char tok[WAT_MAX_TOKEN + 1];
    static char wl[WAT_MAX_WORKLOAD + 2], uid[WAT_MAX_USER_ID + 2];
    memset(wl, 'w', WAT_MAX_WORKLOAD);
    memset(uid, 'u', WAT_MAX_USER_ID);
    CHECK_EQ(wat_mint(KEY, wl, WAT_USER_ID, uid, NOW, WAT_MAX_TTL_S, tok, sizeof tok), WAT_OK);
    struct wat_claims c;
    CHECK_EQ(wat_verify(KEY, tok, NOW, &c), WAT_OK);
    CHECK_EQ(strlen(c.workload), WAT_MAX_WORKLOAD);
    CHECK_EQ(strlen(c.user_id), WAT_MAX_USER_ID);
    wl[WAT_MAX_WORKLOAD] = 'w';
    CHECK_EQ(wat_mint(KEY, wl, WAT_USER_ID, "u", NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    uid[WAT_MAX_USER_ID] = 'u';
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_ID, uid, NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "", WAT_USER_ID, "u", NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, NULL, WAT_USER_ID, "u", NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_ID, "", NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_JWT, NULL, NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_NONE, "u", NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", (enum wat_user_kind)7, "u", NOW, 60, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_ID, "u", NOW, 0, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_ID, "u", NOW, WAT_MAX_TTL_S + 1, tok, sizeof tok), WAT_INVALID_ARGUMENT);
    CHECK_EQ(wat_mint(KEY, "w", WAT_USER_ID, "u", NOW, 60, tok, 20), WAT_INVALID_ARGUMENT);
    for (int s = WAT_OK; s <= WAT_INVALID_ARGUMENT; s++)
        CHECK(strcmp(wat_status_text((enum wat_status)s), "?") != 0);
}

static void test_b64url(void)
{
    char t[64];
    uint8_t b[64];
    CHECK_EQ(b64url_encode((const uint8_t *)"\xfb\xff", 2, t, sizeof t), 3);
    CHECK(strcmp(t, "-_8") == 0);
    CHECK_EQ(b64url_decode("-_8", 3, b, sizeof b), 2);
    CHECK(b[0] == 0xfb && b[1] == 0xff);
    CHECK_EQ(b64url_decode("-_9", 3, b, sizeof b), -1);   /* non-zero spare bits */
    CHECK_EQ(b64url_decode("A", 1, b, sizeof b), -1);
    CHECK_EQ(b64url_decode("AA==", 4, b, sizeof b), -1);
    CHECK_EQ(b64url_decode("", 0, b, sizeof b), 0);
    CHECK_EQ(b64url_decode("AAAA", 4, b, 2), -1);
    CHECK_EQ(b64url_encode((const uint8_t *)"abc", 3, t, 4), -1);
    CHECK_EQ(b64url_encode((const uint8_t *)"abc", 3, t, 5), 4);
    for (size_t n = 0; n < 40; n++) {
        uint8_t in[40];
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)(i * 37 + n);
        ssize_t e = b64url_encode(in, n, t, sizeof t);
        CHECK_EQ(e, (ssize_t)b64url_encoded_len(n));
        CHECK_EQ(b64url_decode(t, (size_t)e, b, sizeof b), (ssize_t)n);
        CHECK(memcmp(in, b, n) == 0);
    }
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a minted token verifies and opens to its claims, opaque to the agent", test_round_trip },
        { "a token for workload A / user U never verifies as B or V, nor under another user kind", test_binding },
        { "expired and future-issued tokens are refused with their own reasons", test_expiry },
        { "every tampered byte, every truncation, another key and foreign text are refused", test_tampering },
        { "minting bounds: longest names fit, bad names, users and lifetimes refused", test_mint_limits },
        { "base64url is strict: one spelling per byte string", test_b64url },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
