/* tests/unit/test_sigv4_sign.c — the CLI's signer (tools/cli/sigv4_sign.c) and the shared
 * canonicaliser under it (base/sigv4_canon.c): every case of the AWS SigV4 suite
 * (tests/data/sigv4-suite) signed again from its request must give the suite's Authorization
 * header byte for byte, and silod's verifier (frontend/sigv4.c) must accept what the signer
 * produces, AgentCore-shaped requests included. Plus the canonicaliser's own pieces: the AWS
 * documentation's signing-key example, the string to sign, the presigned and token flags, the
 * signed-header list. */
#include "tools/cli/sigv4_sign.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "base/sigv4_canon.h"
#include "base/small_file.h"
#include "frontend/sigv4.h"
#include "tests/unit/check.h"

#define SUITE_DIR "tests/data/sigv4-suite" /* from the top of the tree, where tests/run runs */
#define MAX_HEADERS 32

struct suite_request {
    char *text;
    const char *method, *path, *query;
    struct sigv4_header headers[MAX_HEADERS];
    size_t header_count;
    const char *body;
    size_t body_len;
};

/* "METHOD PATH[?QUERY] HTTP/1.1\nName:value\n (folded)\n\nbody" (LF line ends), in place. */
static bool parse_request(char *text, size_t len, struct suite_request *r)
{
    memset(r, 0, sizeof *r);
    r->text = text;
    char *end = text + len, *eol = memchr(text, '\n', len);
    if (!eol)
        return false;
    *eol = '\0';
    char *sp = strchr(text, ' '), *ver = strstr(text, " HTTP/1.1");
    if (!sp || !ver)
        return false;
    *sp = *ver = '\0';
    r->method = text;
    r->path = sp + 1;
    char *q = strchr(sp + 1, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    char *p = eol + 1;
    while (p < end) {
        char *line_end = memchr(p, '\n', (size_t)(end - p));
        if (!line_end)
            line_end = end;
        if (line_end == p) {
            p++;
            break;
        }
        if ((*p == ' ' || *p == '\t') && r->header_count) {
            p[-1] = '\n';              /* a folded line joins the previous value */
            if (line_end < end)
                *line_end = '\0';
            p = line_end + 1;
            continue;
        }
        if (line_end < end)
            *line_end = '\0';
        char *colon = strchr(p, ':');
        if (!colon || r->header_count == MAX_HEADERS)
            return false;
        *colon = '\0';
        r->headers[r->header_count++] = (struct sigv4_header){ p, colon + 1 };
        p = line_end + 1;
    }
    if (p < end) {
        r->body = p;
        r->body_len = (size_t)(end - p);
    }
    return true;
}

static const char *header(const struct suite_request *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

struct suite_context {
    char access_key[64], secret[128], region[32], service[32];
    bool normalize;
    time_t timestamp;
    bool has_token;
};

static bool load_context(const char *dir, struct suite_context *c)
{
    char path[600];
    snprintf(path, sizeof path, "%s/context.json", dir);
    json_object *j = json_object_from_file(path), *cred, *v;
    if (!j)
        return false;
    bool ok = json_object_object_get_ex(j, "credentials", &cred);
    if (ok) {
        json_object_object_get_ex(cred, "access_key_id", &v);
        snprintf(c->access_key, sizeof c->access_key, "%s", json_object_get_string(v));
        json_object_object_get_ex(cred, "secret_access_key", &v);
        snprintf(c->secret, sizeof c->secret, "%s", json_object_get_string(v));
        c->has_token = json_object_object_get_ex(cred, "token", &v);
        json_object_object_get_ex(j, "region", &v);
        snprintf(c->region, sizeof c->region, "%s", json_object_get_string(v));
        json_object_object_get_ex(j, "service", &v);
        snprintf(c->service, sizeof c->service, "%s", json_object_get_string(v));
        json_object_object_get_ex(j, "normalize", &v);
        c->normalize = json_object_get_boolean(v);
        json_object_object_get_ex(j, "timestamp", &v);
        struct tm tm = { 0 };
        ok = strptime(json_object_get_string(v), "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL;
        c->timestamp = timegm(&tm);
    }
    json_object_put(j);
    return ok;
}

/* The signed-header list named in an Authorization value, copied into list. */
static bool signed_list_of(const char *auth, char *list, size_t cap)
{
    const char *sh = auth ? strstr(auth, "SignedHeaders=") : NULL;
    if (!sh)
        return false;
    sh += strlen("SignedHeaders=");
    return (size_t)snprintf(list, cap, "%.*s", (int)strcspn(sh, ","), sh) < cap;
}

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ";");
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p = p[len] ? p + len + 1 : NULL;
    }
    return false;
}

static struct sigv4_key verifier_key;
static const struct sigv4_key *lookup(void *ctx, const char *id)
{
    (void)ctx;
    return strcmp(id, verifier_key.access_key_id) == 0 ? &verifier_key : NULL;
}

/* Signs one suite case with the CLI's signer; compares with the suite; verifies with silod's. */
static bool sign_case(const char *name, unsigned *signed_ok, unsigned *verified_ok)
{
    char dir[512], path[700];
    snprintf(dir, sizeof dir, SUITE_DIR "/%.200s", name);
    struct suite_context c;
    if (!load_context(dir, &c))
        return false;
    snprintf(path, sizeof path, "%s/header-signed-request.txt", dir);
    size_t len;
    char err[256];
    char *text = small_file_load(path, 1 << 20, &len, err, sizeof err);
    struct suite_request r;
    if (!text || !parse_request(text, len, &r)) {
        free(text);
        return false;
    }
    const char *want = header(&r, "authorization"), *date = header(&r, "x-amz-date");
    char list[512];
    if (!want || !date || !signed_list_of(want, list, sizeof list)) {
        free(text);
        return false;
    }
    /* the headers the suite signed, in the order they were sent */
    struct sigv4_header hs[MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < r.header_count; i++)
        if (in_list(list, r.headers[i].name))
            hs[n++] = r.headers[i];
    char payload[65];
    const char *claimed = header(&r, "x-amz-content-sha256");
    if (!claimed)
        sigv4_sha256_hex(r.body ? r.body : "", r.body_len, payload);
    struct sigv4_sign_input in = {
        .method = r.method, .path = r.path, .query = r.query, .headers = hs, .header_count = n,
        .payload_hash = claimed ? claimed : payload, .amz_date = date,
        .access_key = c.access_key, .secret_key = c.secret, .region = c.region, .service = c.service,
        .keep_path = !c.normalize,
    };
    char got[1024];
    bool ok = sigv4_sign(&in, got, sizeof got);
    if (ok && strcmp(got, want) == 0)
        (*signed_ok)++;
    else
        printf("#   %s: signed\n#     %s\n#   suite:\n#     %s\n", name, ok ? got : "(failed)", want);

    /* silod's verifier takes the CLI's Authorization for the same request */
    for (size_t i = 0; i < r.header_count; i++)
        if (strcasecmp(r.headers[i].name, "authorization") == 0)
            r.headers[i].value = got;
    const char *token = header(&r, "x-amz-security-token");
    verifier_key = (struct sigv4_key){ c.access_key, c.secret, c.has_token ? token : NULL, "suite" };
    struct sigv4_config cfg = { .region = c.region, .service = c.service, .now = c.timestamp,
                                .max_skew_seconds = 300, .normalize_path = c.normalize, .lookup = lookup };
    struct sigv4_request req = { r.method, r.path, r.query, r.headers, r.header_count };
    struct sigv4_verifier *v = NULL;
    enum sigv4_result res = sigv4_begin(&req, &cfg, &v);
    if (res == SIGV4_OK) {
        sigv4_update(v, r.body, r.body_len);
        res = sigv4_finish(v);
        sigv4_free(v);
    }
    if (res == SIGV4_OK)
        (*verified_ok)++;
    else
        printf("#   %s: silod's verifier says %s\n", name, sigv4_result_name(res));
    free(text);
    return true;
}

static void test_suite_signed_again(void)
{
    DIR *d = opendir(SUITE_DIR);
    CHECK(d != NULL);
    if (!d)
        return;
    unsigned cases = 0, signed_ok = 0, verified_ok = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        bool loaded = sign_case(e->d_name, &signed_ok, &verified_ok);
        if (!loaded)
            printf("#   cannot load %s\n", e->d_name);
        CHECK(loaded);
        cases++;
    }
    closedir(d);
    CHECK_EQ(cases, 38);
    CHECK_EQ(signed_ok, cases);
    CHECK_EQ(verified_ok, cases);
}

/* An InvokeAgentRuntime as the CLI sends it: ARN percent-encoded into one path segment (signed
 * encoded once more), qualifier query, session token, payload hash; silod verifies it, and
 * refuses it once the path, the body or the token changes. */
static void test_agentcore_request_verifies(void)
{
    const char *path = "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fr-abc/invocations";
    const char *body = "{\"prompt\":\"hi\"}";
    char hash[65], date[17], auth[1024];
    sigv4_sha256_hex(body, strlen(body), hash);
    sigv4_sign_date(time(NULL), date);
    struct sigv4_header hs[] = {
        { "Host", "127.0.0.1:8080" }, { "X-Amz-Date", date }, { "Content-Type", "application/json" },
        { "x-amz-content-sha256", hash }, { "X-Amz-Security-Token", "tok==" },
        { "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "  session   0123456789012345678901234567890  " },
    };
    size_t n = sizeof hs / sizeof hs[0];
    struct sigv4_sign_input in = {
        .method = "POST", .path = path, .query = "qualifier=DEFAULT", .headers = hs, .header_count = n,
        .payload_hash = hash, .amz_date = date, .access_key = "AKIDSILO", .secret_key = "s3cret/+x",
        .region = "us-east-1", .service = "bedrock-agentcore",
    };
    CHECK(sigv4_sign(&in, auth, sizeof auth));
    CHECK(strstr(auth, "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;"
                       "x-amzn-bedrock-agentcore-runtime-session-id, ") != NULL);
    struct sigv4_header sent[8];
    memcpy(sent, hs, sizeof hs);
    sent[n] = (struct sigv4_header){ "Authorization", auth };
    verifier_key = (struct sigv4_key){ "AKIDSILO", "s3cret/+x", "tok==", "tester" };
    struct sigv4_config cfg = { .region = "us-east-1", .service = "bedrock-agentcore", .now = time(NULL),
                                .max_skew_seconds = 300, .normalize_path = true, .lookup = lookup };
    struct sigv4_request req = { "POST", path, "qualifier=DEFAULT", sent, n + 1 };
    struct sigv4_verifier *v = NULL;
    CHECK_EQ(sigv4_begin(&req, &cfg, &v), SIGV4_OK);
    CHECK(sigv4_signature_verified(v));
    sigv4_update(v, body, strlen(body));
    CHECK_EQ(sigv4_finish(v), SIGV4_OK);
    sigv4_free(v);
    /* the body changed: the claimed hash no longer matches */
    CHECK_EQ(sigv4_begin(&req, &cfg, &v), SIGV4_OK);
    sigv4_update(v, "{}", 2);
    CHECK_EQ(sigv4_finish(v), SIGV4_PAYLOAD_MISMATCH);
    sigv4_free(v);
    /* the path decoded once (what libcurl's signer would have signed) does not verify */
    req.path = "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fr-abd/invocations";
    CHECK_EQ(sigv4_begin(&req, &cfg, &v), SIGV4_BAD_SIGNATURE);
    CHECK(v == NULL);
    req.path = path;
    verifier_key.session_token = "other";
    CHECK_EQ(sigv4_begin(&req, &cfg, &v), SIGV4_BAD_TOKEN);
    CHECK(v == NULL);
}

/* --- the canonicaliser's pieces ---------------------------------------------------------- */

static void test_signing_key_documented_example(void)
{
    /* docs.aws.amazon.com, "Examples of how to derive a signing key for Signature Version 4" */
    unsigned char key[32];
    char hex[65];
    sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z", "us-east-1", "iam", key);
    sigv4_hex(key, 32, hex);
    CHECK(strcmp(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9") == 0);
}

static void test_string_to_sign_and_signature_get_vanilla(void)
{
    /* the suite's get-vanilla: canonical request → string to sign → the suite's signature */
    struct sigv4_header hs[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", "20150830T123600Z" } };
    struct sigv4_request req = { "GET", "/", NULL, hs, 2 };
    char empty[65];
    sigv4_sha256_hex("", 0, empty);
    CHECK(strcmp(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    char *list = sigv4_signed_header_list(&req);
    CHECK(list && strcmp(list, "host;x-amz-date") == 0);
    char *creq = sigv4_canonical_request(&req, list, empty, SIGV4_CANON_NORMALIZE_PATH);
    CHECK(creq && strcmp(creq, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                               "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    char *scope = sigv4_scope("20150830T123600Z", "us-east-1", "service");
    CHECK(strcmp(scope, "20150830/us-east-1/service/aws4_request") == 0);
    char *sts = sigv4_string_to_sign("20150830T123600Z", scope, creq, strlen(creq));
    CHECK(strcmp(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63") == 0);
    unsigned char key[32], sig[32];
    char hex[65];
    sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service", key);
    sigv4_signature(key, sts, strlen(sts), sig);
    sigv4_hex(sig, 32, hex);
    CHECK(strcmp(hex, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == 0);
    free(list);
    free(creq);
    free(scope);
    free(sts);
}

static void test_canonical_request_flags_and_refusals(void)
{
    struct sigv4_header hs[] = { { "host", "h" } };
    struct sigv4_request req = { "GET", "/a/./b/../c//d/", "X-Amz-Signature=abc&b=2&X-Amz-Security-Token=t%2B&a=1&a=0",
                                 hs, 1 };
    char *all = sigv4_canonical_request(&req, "host", "UNSIGNED-PAYLOAD", 0);
    CHECK(all && strncmp(all, "GET\n/a/./b/../c//d/\nX-Amz-Security-Token=t%2B&X-Amz-Signature=abc&a=0&a=1&b=2\n", 78) == 0);
    char *pre = sigv4_canonical_request(&req, "host", "", SIGV4_CANON_NORMALIZE_PATH | SIGV4_CANON_PRESIGNED);
    CHECK(pre && strcmp(pre, "GET\n/a/c/d/\nX-Amz-Security-Token=t%2B&a=0&a=1&b=2\nhost:h\n\nhost\n") == 0);
    char *no_tok = sigv4_canonical_request(&req, "host", "", SIGV4_CANON_PRESIGNED | SIGV4_CANON_OMIT_TOKEN);
    CHECK(no_tok && strstr(no_tok, "\na=0&a=1&b=2\n") != NULL);
    free(all);
    free(pre);
    free(no_tok);
    /* a broken escape or %00 in the query, an empty or over-long signed name: refused */
    req.query = "a=%zz";
    CHECK(sigv4_canonical_request(&req, "host", "", 0) == NULL);
    req.query = "a=%00";
    CHECK(sigv4_canonical_request(&req, "host", "", 0) == NULL);
    req.query = NULL;
    CHECK(sigv4_canonical_request(&req, "host;;x", "", 0) == NULL);
    /* the signed-header list: lower-cased, sorted, duplicates once; bad names refused */
    struct sigv4_header dup[] = { { "X-B", "1" }, { "Host", "h" }, { "x-b", "2" }, { "A", "" } };
    struct sigv4_request r2 = { "GET", "/", NULL, dup, 4 };
    char *list = sigv4_signed_header_list(&r2);
    CHECK(list && strcmp(list, "a;host;x-b") == 0);
    char *creq = sigv4_canonical_request(&r2, list, "", 0);
    CHECK(creq && strstr(creq, "\na:\nhost:h\nx-b:1,2\n\n") != NULL);
    free(list);
    free(creq);
    struct sigv4_header bad[] = { { "Bad Name", "x" } };
    r2 = (struct sigv4_request){ "GET", "/", NULL, bad, 1 };
    CHECK(sigv4_signed_header_list(&r2) == NULL);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the CLI's signer reproduces every AWS suite signature, and silod verifies each", test_suite_signed_again },
        { "an AgentCore invoke signed by the CLI verifies in silod, and not once altered", test_agentcore_request_verifies },
        { "signing key: the AWS documentation's example", test_signing_key_documented_example },
        { "canonical request, string to sign, signature: get-vanilla", test_string_to_sign_and_signature_get_vanilla },
        { "canonical request: normalised path, presigned and token flags, refusals; signed-header list", test_canonical_request_flags_and_refusals },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
