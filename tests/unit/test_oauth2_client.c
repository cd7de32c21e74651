/* tests/unit/test_oauth2_client.c — the OAuth2 client (oauth2_client.c) against a tiny HTTP
 * server of this test's own (a thread on a loopback socket, speaking HTTP/1.1 with
 * Content-Length, Connection: close): the URL policy, OIDC and RFC 8414 discovery (issuer
 * checks, endpoints refused by the policy), client credentials with client_secret_basic and
 * client_secret_post (what reaches the wire), the 3LO authorization URL and a code exchange
 * whose PKCE S256 the server verifies, the refresh grant, provider errors (also GitHub-style
 * 200 + error), and the bounds: an oversized answer, a server too slow, a closed port, an
 * answer that is not JSON or has no access token. */
#include "frontend/oauth2_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/url.h"
#include "frontend/b64url.h"
#include "tests/unit/check.h"

/* --- the loopback server ------------------------------------------------------------------ */

/* route tables below list only the fields a route needs */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct route {
    const char *path;   /* exact path (query ignored) */
    int status;
    const char *body;   /* "%BASE%" is replaced by http://127.0.0.1:PORT */
    int delay_ms;
    size_t huge;        /* >0: send this many bytes of padding instead of body */
    bool pkce;          /* the token endpoint: check code_verifier against the stored challenge */
};

static struct {
    int fd, port;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t lock;
    struct route routes[16];
    int nroutes;
    char last_auth[512], last_body[4096], last_path[512];
    int requests;
    char challenge[64];
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static char base[64];

static void set_routes(const struct route *r, int n)
{
    pthread_mutex_lock(&srv.lock);
    memcpy(srv.routes, r, sizeof *r * (size_t)n);
    srv.nroutes = n;
    srv.last_auth[0] = srv.last_body[0] = srv.last_path[0] = 0;
    srv.requests = 0;
    pthread_mutex_unlock(&srv.lock);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *body, size_t len)
{
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      status, len);
    send_all(fd, head, (size_t)hl);
    send_all(fd, body, len);
}

static void serve(int fd)
{
    static char req[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof req - 1) {
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = 0;
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t head_len = (size_t)(end - req) + 4, clen = 0;
    const char *cl = strcasestr(req, "\r\ncontent-length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    while (len < head_len + clen && len < sizeof req - 1) {
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
    }
    req[len] = 0;
    char path[512] = "";
    sscanf(req, "%*s %511s", path);
    char *q = strchr(path, '?');
    if (q)
        *q = 0;
    pthread_mutex_lock(&srv.lock);
    srv.requests++;
    snprintf(srv.last_path, sizeof srv.last_path, "%s", path);
    snprintf(srv.last_body, sizeof srv.last_body, "%s", req + head_len);
    srv.last_auth[0] = 0;
    const char *a = strcasestr(req, "\r\nauthorization:");
    if (a && a < end) {
        a += 16;
        while (*a == ' ')
            a++;
        size_t al = strcspn(a, "\r");
        snprintf(srv.last_auth, sizeof srv.last_auth, "%.*s", (int)al, a);
    }
    struct route r = { .status = 404, .body = "{\"error\":\"not_found\"}" };
    for (int i = 0; i < srv.nroutes; i++)
        if (strcmp(srv.routes[i].path, path) == 0)
            r = srv.routes[i];
    char challenge[64];
    snprintf(challenge, sizeof challenge, "%s", srv.challenge);
    pthread_mutex_unlock(&srv.lock);

    if (r.delay_ms)
        usleep((useconds_t)r.delay_ms * 1000);
    if (r.huge) {
        char *pad = malloc(r.huge);
        memset(pad, ' ', r.huge);
        respond(fd, 200, pad, r.huge);
        free(pad);
        return;
    }
    if (r.pkce) {
        /* the authorization server's side of RFC 7636: S256(verifier) must equal the challenge */
        char verifier[256] = "", computed[64] = "";
        if (url_query_param(req + head_len, "code_verifier", verifier, sizeof verifier) == 1) {
            uint8_t d[32];
            unsigned dl;
            EVP_Digest(verifier, strlen(verifier), d, &dl, EVP_sha256(), NULL);
            b64url_encode(d, 32, computed, sizeof computed);
        }
        if (!challenge[0] || strcmp(computed, challenge) != 0) {
            const char *e = "{\"error\":\"invalid_grant\",\"error_description\":\"PKCE verification failed\"}";
            respond(fd, 400, e, strlen(e));
            return;
        }
    }
    char out[4096];
    const char *b = r.body ? r.body : "";
    size_t o = 0;
    for (const char *p = b; *p && o < sizeof out - 64;) {
        if (strncmp(p, "%BASE%", 6) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", base);
            p += 6;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    respond(fd, r.status, out, o);
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        struct pollfd p = { .fd = srv.fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        serve(c);
        close(c);
    }
    return NULL;
}

static void server_start(void)
{
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(srv.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv.fd, 16) != 0)
        abort();
    socklen_t al = sizeof a;
    getsockname(srv.fd, (struct sockaddr *)&a, &al);
    srv.port = ntohs(a.sin_port);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", srv.port);
    pthread_create(&srv.th, NULL, server_main, NULL);
}

static void server_stop(void)
{
    srv.stop = 1;
    pthread_join(srv.th, NULL);
    close(srv.fd);
}

static const char *const loopback[] = { "127.0.0.1" };
static const struct oauth2_policy POL = { loopback, 1, 2 };

static char *url(const char *path)
{
    static char u[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(u[i], sizeof u[i], "%s%s", base, path);
    return u[i];
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_url_policy(void)
{
    CHECK(oauth2_url_allowed(NULL, "https://idp.example/token"));
    CHECK(oauth2_url_allowed(&POL, "https://idp.example:8443/a?b=c"));
    CHECK(!oauth2_url_allowed(NULL, "http://127.0.0.1:1/x"));
    CHECK(oauth2_url_allowed(&POL, "http://127.0.0.1:1/x"));
    CHECK(!oauth2_url_allowed(&POL, "http://localhost:1/x"));
    CHECK(!oauth2_url_allowed(&POL, "http://127.0.0.2/x"));
    CHECK(!oauth2_url_allowed(&POL, "http://evil@127.0.0.1/x"));
    CHECK(!oauth2_url_allowed(&POL, "https://user:pw@idp.example/x"));
    CHECK(!oauth2_url_allowed(&POL, "http://127.0.0.1.evil.example/x"));
    CHECK(!oauth2_url_allowed(&POL, "ftp://idp.example/x"));
    CHECK(!oauth2_url_allowed(&POL, "file:///etc/passwd"));
    CHECK(!oauth2_url_allowed(&POL, "/relative"));
    CHECK(!oauth2_url_allowed(&POL, ""));
    CHECK(!oauth2_url_allowed(&POL, NULL));
    /* refused before any connection */
    struct oauth2_metadata m;
    char err[256];
    CHECK_EQ(oauth2_discover(NULL, url("/.well-known/openid-configuration"), &m, err, sizeof err), OAUTH2_URL_REFUSED);
    enum oauth2_client_auth a;
    CHECK(oauth2_client_auth_parse("client_secret_basic", &a) && a == OAUTH2_AUTH_CLIENT_SECRET_BASIC);
    CHECK(oauth2_client_auth_parse("client_secret_post", &a) && a == OAUTH2_AUTH_CLIENT_SECRET_POST);
    CHECK(!oauth2_client_auth_parse("private_key_jwt", &a));
    for (int s = OAUTH2_OK; s <= OAUTH2_INVALID_ARGUMENT; s++)
        CHECK(strcmp(oauth2_status_text((enum oauth2_status)s), "?") != 0);
}

static void test_discovery(void)
{
    const struct route r[] = {
        { "/.well-known/openid-configuration", 200,
          "{\"issuer\":\"%BASE%\",\"authorization_endpoint\":\"%BASE%/authorize\",\"token_endpoint\":\"%BASE%/token\","
          "\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\",\"client_secret_post\"]}" },
        /* RFC 8414 form for an issuer with a path; the OIDC form of it is absent (404) */
        { "/.well-known/oauth-authorization-server/tenant", 200,
          "{\"issuer\":\"%BASE%/tenant\",\"token_endpoint\":\"%BASE%/tenant/token\"}" },
        { "/other/.well-known/openid-configuration", 200, "{\"issuer\":\"https://someone-else\",\"token_endpoint\":\"%BASE%/t\"}" },
        { "/evil/.well-known/openid-configuration", 200,
          "{\"issuer\":\"%BASE%/evil\",\"token_endpoint\":\"http://evil.example/token\"}" },
        { "/notjson/.well-known/openid-configuration", 200, "<html>" },
        { "/noissuer/.well-known/openid-configuration", 200, "{\"token_endpoint\":\"%BASE%/t\"}" },
    };
    set_routes(r, (int)(sizeof r / sizeof r[0]));
    struct oauth2_metadata m;
    char err[256], want[128];
    CHECK_EQ(oauth2_discover(&POL, url("/.well-known/openid-configuration"), &m, err, sizeof err), OAUTH2_OK);
    CHECK(m.issuer && strcmp(m.issuer, base) == 0);
    snprintf(want, sizeof want, "%s/token", base);
    CHECK(m.token_endpoint && strcmp(m.token_endpoint, want) == 0);
    snprintf(want, sizeof want, "%s/authorize", base);
    CHECK(m.authorization_endpoint && strcmp(m.authorization_endpoint, want) == 0);
    CHECK(m.token_endpoint_auth_methods && strcmp(m.token_endpoint_auth_methods, "client_secret_basic client_secret_post") == 0);
    oauth2_metadata_free(&m);
    CHECK_EQ(oauth2_discover_issuer(&POL, base, &m, err, sizeof err), OAUTH2_OK);
    oauth2_metadata_free(&m);
    CHECK_EQ(oauth2_discover_issuer(&POL, url("/tenant"), &m, err, sizeof err), OAUTH2_OK);
    CHECK(m.token_endpoint && strstr(m.token_endpoint, "/tenant/token") != NULL);
    CHECK(m.authorization_endpoint == NULL);
    CHECK(strcmp(srv.last_path, "/.well-known/oauth-authorization-server/tenant") == 0);
    oauth2_metadata_free(&m);
    CHECK_EQ(oauth2_discover_issuer(&POL, url("/other"), &m, err, sizeof err), OAUTH2_BAD_RESPONSE);
    CHECK(strstr(err, "issuer") != NULL);
    CHECK_EQ(oauth2_discover(&POL, url("/evil/.well-known/openid-configuration"), &m, err, sizeof err),
             OAUTH2_URL_REFUSED);
    CHECK_EQ(oauth2_discover(&POL, url("/notjson/.well-known/openid-configuration"), &m, err, sizeof err),
             OAUTH2_BAD_RESPONSE);
    CHECK_EQ(oauth2_discover(&POL, url("/noissuer/.well-known/openid-configuration"), &m, err, sizeof err),
             OAUTH2_BAD_RESPONSE);
    CHECK_EQ(oauth2_discover(&POL, url("/missing/.well-known/openid-configuration"), &m, err, sizeof err),
             OAUTH2_HTTP_ERROR);
    CHECK(m.issuer == NULL && m.token_endpoint == NULL);
}

static const char TOKEN_OK[] =
    "{\"access_token\":\"AT-123\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"scope\":\"read write\"}";

static void test_client_credentials(void)
{
    const struct route r[] = {
        { "/token", 200, TOKEN_OK },
        { "/bad", 401, "{\"error\":\"invalid_client\",\"error_description\":\"nope\"}" },
        { "/github", 200, "{\"error\":\"bad_verification_code\"}" },
        { "/noat", 200, "{\"token_type\":\"Bearer\"}" },
        { "/html", 200, "<html>hi</html>" },
        { "/strexp", 200, "{\"access_token\":\"x\",\"expires_in\":\"120\"}" },
    };
    set_routes(r, (int)(sizeof r / sizeof r[0]));
    struct oauth2_client c = { url("/token"), "my client", "s:cret/+", OAUTH2_AUTH_CLIENT_SECRET_BASIC };
    struct oauth2_token t;
    char err[256];
    CHECK_EQ(oauth2_client_credentials(&POL, &c, "read write", "audience=api", &t, err, sizeof err), OAUTH2_OK);
    CHECK(t.access_token && strcmp(t.access_token, "AT-123") == 0);
    CHECK_EQ(t.expires_in, 3600);
    CHECK(t.scope && strcmp(t.scope, "read write") == 0);
    CHECK(t.refresh_token == NULL);
    oauth2_token_free(&t);
    /* client_secret_basic: form-encoded id and secret, base64 of "id:secret" */
    char pair[64] = "my%20client:s%3Acret%2F%2B", want[128] = "Basic ";
    EVP_EncodeBlock((unsigned char *)want + 6, (unsigned char *)pair, (int)strlen(pair));
    CHECK(strcmp(srv.last_auth, want) == 0);
    CHECK(strcmp(srv.last_body, "grant_type=client_credentials&scope=read%20write&audience=api") == 0);
    CHECK(strstr(srv.last_body, "client_secret") == NULL);

    c.auth = OAUTH2_AUTH_CLIENT_SECRET_POST;
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_OK);
    oauth2_token_free(&t);
    CHECK(srv.last_auth[0] == 0);
    CHECK(strcmp(srv.last_body, "grant_type=client_credentials&client_id=my%20client&client_secret=s%3Acret%2F%2B") == 0);

    c.token_endpoint = url("/bad");
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_HTTP_ERROR);
    CHECK(strstr(err, "401") && strstr(err, "invalid_client"));
    CHECK(strstr(err, "cret") == NULL);
    c.token_endpoint = url("/github");
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_HTTP_ERROR);
    CHECK(strstr(err, "bad_verification_code") != NULL);
    c.token_endpoint = url("/noat");
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_BAD_RESPONSE);
    c.token_endpoint = url("/html");
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_BAD_RESPONSE);
    c.token_endpoint = url("/strexp");
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_OK);
    CHECK_EQ(t.expires_in, 120);
    oauth2_token_free(&t);
    /* arguments */
    c.client_secret = NULL;
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_INVALID_ARGUMENT);
    c.client_secret = "x";
    c.client_id = "";
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_INVALID_ARGUMENT);
    /* https required for anything not allow-listed */
    c.client_id = "id";
    c.token_endpoint = "http://192.0.2.1/token";
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_URL_REFUSED);
}

static void test_three_legged(void)
{
    const struct route r[] = {
        { "/token", 200,
          "{\"access_token\":\"user-AT\",\"refresh_token\":\"user-RT\",\"token_type\":\"Bearer\",\"expires_in\":60}",
          0, 0, true },
        { "/refresh", 200, "{\"access_token\":\"user-AT2\",\"expires_in\":60}" },
    };
    set_routes(r, (int)(sizeof r / sizeof r[0]));
    char verifier[OAUTH2_PKCE_LEN + 1], challenge[OAUTH2_PKCE_LEN + 1], state[OAUTH2_PKCE_LEN + 1];
    CHECK(oauth2_pkce_new(verifier, challenge));
    CHECK(oauth2_random_state(state));
    CHECK_EQ(strlen(verifier), 43);
    CHECK_EQ(strlen(state), 43);
    char again[OAUTH2_PKCE_LEN + 1];
    oauth2_pkce_challenge(verifier, again);
    CHECK(strcmp(again, challenge) == 0);
    /* RFC 7636 appendix B */
    oauth2_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", again);
    CHECK(strcmp(again, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") == 0);

    char *u = oauth2_authorization_url("https://idp.example/authorize?tenant=a b", "cid", "https://silo/cb?x=1",
                                       "openid email", state, challenge, "prompt=consent");
    CHECK(u != NULL);
    if (u) {
        CHECK(strncmp(u, "https://idp.example/authorize?tenant=a b&response_type=code&client_id=cid&", 71) == 0);
        const char *q = strchr(u, '?') + 1;
        char v[256];
        CHECK_EQ(url_query_param(q, "redirect_uri", v, sizeof v), 1);
        CHECK(strcmp(v, "https://silo/cb?x=1") == 0);
        CHECK_EQ(url_query_param(q, "scope", v, sizeof v), 1);
        CHECK(strcmp(v, "openid email") == 0);
        CHECK_EQ(url_query_param(q, "state", v, sizeof v), 1);
        CHECK(strcmp(v, state) == 0);
        CHECK_EQ(url_query_param(q, "code_challenge_method", v, sizeof v), 1);
        CHECK(strcmp(v, "S256") == 0);
        CHECK_EQ(url_query_param(q, "code_challenge", v, sizeof v), 1);
        /* the authorization server remembers the challenge it was given */
        pthread_mutex_lock(&srv.lock);
        snprintf(srv.challenge, sizeof srv.challenge, "%.63s", v);
        pthread_mutex_unlock(&srv.lock);
        CHECK_EQ(url_query_param(q, "prompt", v, sizeof v), 1);
        free(u);
    }
    u = oauth2_authorization_url("https://idp.example/authorize", "cid", "https://silo/cb", NULL, "s", NULL, NULL);
    CHECK(u && strcmp(u, "https://idp.example/authorize?response_type=code&client_id=cid&"
                         "redirect_uri=https%3A%2F%2Fsilo%2Fcb&state=s") == 0);
    free(u);
    CHECK(oauth2_authorization_url("javascript:alert(1)", "c", "r", NULL, "s", NULL, NULL) == NULL);
    CHECK(oauth2_authorization_url("https://idp/a#frag", "c", "r", NULL, "s", NULL, NULL) == NULL);

    struct oauth2_client c = { url("/token"), "cid", "csecret", OAUTH2_AUTH_CLIENT_SECRET_POST };
    struct oauth2_token t;
    char err[256];
    CHECK_EQ(oauth2_exchange_code(&POL, &c, "the-code", "https://silo/cb?x=1", verifier, &t, err, sizeof err),
             OAUTH2_OK);
    CHECK(t.access_token && strcmp(t.access_token, "user-AT") == 0);
    CHECK(t.refresh_token && strcmp(t.refresh_token, "user-RT") == 0);
    CHECK(t.token_type && strcmp(t.token_type, "Bearer") == 0);
    oauth2_token_free(&t);
    char v[256];
    CHECK_EQ(url_query_param(srv.last_body, "grant_type", v, sizeof v), 1);
    CHECK(strcmp(v, "authorization_code") == 0);
    CHECK_EQ(url_query_param(srv.last_body, "code", v, sizeof v), 1);
    CHECK(strcmp(v, "the-code") == 0);
    CHECK_EQ(url_query_param(srv.last_body, "redirect_uri", v, sizeof v), 1);
    CHECK(strcmp(v, "https://silo/cb?x=1") == 0);
    /* a wrong verifier: the server's PKCE check refuses */
    char other[OAUTH2_PKCE_LEN + 1], oc[OAUTH2_PKCE_LEN + 1];
    CHECK(oauth2_pkce_new(other, oc));
    CHECK_EQ(oauth2_exchange_code(&POL, &c, "the-code", "https://silo/cb", other, &t, err, sizeof err),
             OAUTH2_HTTP_ERROR);
    CHECK(strstr(err, "invalid_grant") != NULL);
    CHECK(strstr(err, other) == NULL);
    CHECK_EQ(oauth2_exchange_code(&POL, &c, "", "https://silo/cb", verifier, &t, err, sizeof err),
             OAUTH2_INVALID_ARGUMENT);

    c.token_endpoint = url("/refresh");
    c.auth = OAUTH2_AUTH_CLIENT_SECRET_BASIC;
    CHECK_EQ(oauth2_refresh(&POL, &c, "user-RT", NULL, &t, err, sizeof err), OAUTH2_OK);
    CHECK(t.access_token && strcmp(t.access_token, "user-AT2") == 0);
    CHECK(t.refresh_token == NULL);
    oauth2_token_free(&t);
    CHECK(strcmp(srv.last_body, "grant_type=refresh_token&refresh_token=user-RT") == 0);
    CHECK(strncmp(srv.last_auth, "Basic ", 6) == 0);
    CHECK_EQ(oauth2_refresh(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_INVALID_ARGUMENT);
}

static void test_bounds(void)
{
    const struct route r[] = {
        { "/huge", 200, NULL, 0, OAUTH2_MAX_RESPONSE + 1 },
        { "/justfits", 200, NULL, 0, OAUTH2_MAX_RESPONSE },
        { "/slow", 200, TOKEN_OK, 3500 },
    };
    set_routes(r, (int)(sizeof r / sizeof r[0]));
    struct oauth2_client c = { url("/huge"), "id", "secret", OAUTH2_AUTH_CLIENT_SECRET_POST };
    struct oauth2_token t;
    char err[256];
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_TOO_LARGE);
    c.token_endpoint = url("/justfits");   /* all blanks: within bounds, then not JSON */
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_BAD_RESPONSE);
    c.token_endpoint = url("/slow");
    struct oauth2_policy fast = POL;
    fast.timeout_s = 1;
    CHECK_EQ(oauth2_client_credentials(&fast, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_TRANSPORT);
    /* a closed port */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    char closed[64];
    snprintf(closed, sizeof closed, "http://127.0.0.1:%d/token", ntohs(a.sin_port));
    c.token_endpoint = closed;
    CHECK_EQ(oauth2_client_credentials(&POL, &c, NULL, NULL, &t, err, sizeof err), OAUTH2_TRANSPORT);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    server_start();
    static const struct unit_test tests[] = {
        { "URL policy: https, or http only to allow-listed hosts; no user-info, no other schemes", test_url_policy },
        { "discovery: OIDC and RFC 8414 forms, issuer checked, foreign endpoints refused", test_discovery },
        { "client credentials: client_secret_basic and _post on the wire, provider errors", test_client_credentials },
        { "3LO: authorization URL with state and PKCE S256, code exchange verified by the server, refresh",
          test_three_legged },
        { "bounds: oversized answers, slow servers and closed ports fail cleanly", test_bounds },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    server_stop();
    curl_global_cleanup();
    return rc;
}
