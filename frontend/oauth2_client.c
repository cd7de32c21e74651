/* frontend/oauth2_client.c — discovery, token grants and authorization URLs over libcurl (see
 * oauth2_client.h). */
#include "frontend/oauth2_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "frontend/b64url.h"

const char *oauth2_status_text(enum oauth2_status st)
{
    switch (st) {
    case OAUTH2_OK: return "ok";
    case OAUTH2_URL_REFUSED: return "URL not allowed (https required)";
    case OAUTH2_TRANSPORT: return "could not reach the authorization server";
    case OAUTH2_TOO_LARGE: return "the authorization server's answer is too large";
    case OAUTH2_HTTP_ERROR: return "the authorization server refused";
    case OAUTH2_BAD_RESPONSE: return "the authorization server's answer is not understood";
    case OAUTH2_INVALID_ARGUMENT: return "invalid OAuth2 request";
    }
    return "?";
}

bool oauth2_client_auth_parse(const char *name, enum oauth2_client_auth *out)
{
    if (name && strcmp(name, "client_secret_basic") == 0)
        *out = OAUTH2_AUTH_CLIENT_SECRET_BASIC;
    else if (name && strcmp(name, "client_secret_post") == 0)
        *out = OAUTH2_AUTH_CLIENT_SECRET_POST;
    else
        return false;
    return true;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void oauth2_metadata_free(struct oauth2_metadata *m)
{
    free(m->issuer);
    free(m->authorization_endpoint);
    free(m->token_endpoint);
    free(m->token_endpoint_auth_methods);
    memset(m, 0, sizeof *m);
}

void oauth2_token_free(struct oauth2_token *t)
{
    wipe_free(t->access_token);
    wipe_free(t->refresh_token);
    free(t->token_type);
    free(t->scope);
    memset(t, 0, sizeof *t);
}

bool oauth2_url_allowed(const struct oauth2_policy *pol, const char *url)
{
    if (!url)
        return false;
    CURLU *u = curl_url();
    if (!u)
        return false;
    bool ok = false;
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
        curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
        curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_NO_PASSWORD) {
        if (strcasecmp(scheme, "https") == 0)
            ok = true;
        else if (strcasecmp(scheme, "http") == 0 && pol)
            for (size_t i = 0; i < pol->http_host_count && !ok; i++)
                ok = strcasecmp(pol->http_hosts[i], host) == 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return ok;
}

/* --- one bounded request ----------------------------------------------------------------- */

struct body {
    char *data;
    size_t len;
    bool too_large;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct body *b = ctx;
    size_t n = size * nmemb;
    if (b->len + n > OAUTH2_MAX_RESPONSE) {
        b->too_large = true;
        return 0;
    }
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->data = p;
    b->len += n;
    p[b->len] = 0;
    return n;
}

static void body_free(struct body *b)
{
    if (b->data) {
        OPENSSL_cleanse(b->data, b->len);
        free(b->data);
    }
    memset(b, 0, sizeof *b);
}

/* GET (form NULL) or POST form; the answer into *b; *status the HTTP status. */
static enum oauth2_status request(const struct oauth2_policy *pol, const char *url, const char *form,
                                  const char *basic_auth, struct body *b, long *status, char *err, size_t err_len)
{
    memset(b, 0, sizeof *b);
    *status = 0;
    if (!oauth2_url_allowed(pol, url)) {
        snprintf(err, err_len, "%s", oauth2_status_text(OAUTH2_URL_REFUSED));
        return OAUTH2_URL_REFUSED;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, err_len, "curl_easy_init failed");
        return OAUTH2_TRANSPORT;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *h2 = NULL;
    if (form)
        h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
    if (basic_auth)
        h2 = curl_slist_append(h, basic_auth);
    if (h2)
        h = h2;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, pol && pol->timeout_s > 0 ? pol->timeout_s : (long)OAUTH2_DEFAULT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 3L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)OAUTH2_MAX_RESPONSE);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "silod-oauth2");
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (b->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, err_len, "answer larger than %d bytes", OAUTH2_MAX_RESPONSE);
        body_free(b);
        return OAUTH2_TOO_LARGE;
    }
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s", curl_easy_strerror(rc));
        body_free(b);
        return OAUTH2_TRANSPORT;
    }
    return OAUTH2_OK;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Copies the provider's error code (printable, bounded) into err. */
static void provider_error(json_object *o, long status, char *err, size_t err_len)
{
    const char *e = jstr(o, "error");
    char code[64] = "";
    for (size_t i = 0; e && e[i] && i < sizeof code - 1; i++)
        code[i] = (e[i] >= 0x21 && e[i] <= 0x7e && e[i] != '"' && e[i] != '\\') ? e[i] : '?',
        code[i + 1] = 0;
    snprintf(err, err_len, "HTTP %ld%s%s", status, code[0] ? " error=" : "", code);
}

/* --- discovery ---------------------------------------------------------------------------- */

enum oauth2_status oauth2_discover(const struct oauth2_policy *pol, const char *discovery_url,
                                   struct oauth2_metadata *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    struct body b;
    long status;
    enum oauth2_status st = request(pol, discovery_url, NULL, NULL, &b, &status, err, err_len);
    if (st != OAUTH2_OK)
        return st;
    json_object *o = b.data ? json_tokener_parse(b.data) : NULL;
    if (status < 200 || status > 299) {
        snprintf(err, err_len, "discovery answered HTTP %ld", status);
        st = OAUTH2_HTTP_ERROR;
    } else if (!o || !json_object_is_type(o, json_type_object)) {
        snprintf(err, err_len, "discovery document is not a JSON object");
        st = OAUTH2_BAD_RESPONSE;
    } else {
        const char *iss = jstr(o, "issuer"), *tok = jstr(o, "token_endpoint"),
                   *authz = jstr(o, "authorization_endpoint");
        if (!iss || !tok) {
            snprintf(err, err_len, "discovery document lacks issuer or token_endpoint");
            st = OAUTH2_BAD_RESPONSE;
        } else if (!oauth2_url_allowed(pol, tok) || (authz && !oauth2_url_allowed(pol, authz))) {
            snprintf(err, err_len, "discovery document names an endpoint that is not allowed (https required)");
            st = OAUTH2_URL_REFUSED;
        } else {
            out->issuer = strdup(iss);
            out->token_endpoint = strdup(tok);
            out->authorization_endpoint = dup_or_null(authz);
            json_object *m;
            if (json_object_object_get_ex(o, "token_endpoint_auth_methods_supported", &m) &&
                json_object_is_type(m, json_type_array)) {
                size_t cap = 1, n = json_object_array_length(m);
                for (size_t i = 0; i < n; i++) {
                    json_object *e = json_object_array_get_idx(m, i);
                    if (json_object_is_type(e, json_type_string))
                        cap += strlen(json_object_get_string(e)) + 1;
                }
                out->token_endpoint_auth_methods = calloc(1, cap);
                for (size_t i = 0; out->token_endpoint_auth_methods && i < n; i++) {
                    json_object *e = json_object_array_get_idx(m, i);
                    if (!json_object_is_type(e, json_type_string))
                        continue;
                    if (out->token_endpoint_auth_methods[0])
                        strcat(out->token_endpoint_auth_methods, " ");
                    strcat(out->token_endpoint_auth_methods, json_object_get_string(e));
                }
            }
            if (!out->issuer || !out->token_endpoint) {
                oauth2_metadata_free(out);
                snprintf(err, err_len, "out of memory");
                st = OAUTH2_BAD_RESPONSE;
            }
        }
    }
    json_object_put(o);
    body_free(&b);
    return st;
}

enum oauth2_status oauth2_discover_issuer(const struct oauth2_policy *pol, const char *issuer,
                                          struct oauth2_metadata *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!issuer || !oauth2_url_allowed(pol, issuer)) {
        snprintf(err, err_len, "%s", oauth2_status_text(OAUTH2_URL_REFUSED));
        return OAUTH2_URL_REFUSED;
    }
    size_t il = strlen(issuer);
    while (il && issuer[il - 1] == '/')
        il--;
    char url[4096];
    /* OIDC: the issuer with /.well-known/openid-configuration appended */
    snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration", (int)il, issuer);
    enum oauth2_status st = oauth2_discover(pol, url, out, err, err_len);
    if (st != OAUTH2_OK) {
        /* RFC 8414: the well-known segment goes between the host and the issuer's path */
        const char *hs = strstr(issuer, "://");
        const char *path = hs ? strchr(hs + 3, '/') : NULL;
        size_t hl = path ? (size_t)(path - issuer) : il;
        size_t pl = path ? il - hl : 0;
        snprintf(url, sizeof url, "%.*s/.well-known/oauth-authorization-server%.*s", (int)hl, issuer, (int)pl,
                 path ? path : "");
        st = oauth2_discover(pol, url, out, err, err_len);
    }
    if (st == OAUTH2_OK) {
        size_t ol = strlen(out->issuer);
        while (ol && out->issuer[ol - 1] == '/')
            ol--;
        if (ol != il || strncmp(out->issuer, issuer, il) != 0) {
            snprintf(err, err_len, "discovery document names another issuer");
            oauth2_metadata_free(out);
            st = OAUTH2_BAD_RESPONSE;
        }
    }
    return st;
}

/* --- token grants ------------------------------------------------------------------------- */

struct form {
    char *s;
    size_t len;
    bool failed;
};

static void form_add(struct form *f, const char *key, const char *value)
{
    if (f->failed || !value)
        return;
    char *ek = curl_easy_escape(NULL, key, 0), *ev = curl_easy_escape(NULL, value, 0);
    size_t need = f->len + (ek ? strlen(ek) : 0) + (ev ? strlen(ev) : 0) + 3;
    char *p = ek && ev ? realloc(f->s, need) : NULL;
    if (!p) {
        f->failed = true;
    } else {
        f->s = p;
        f->len += (size_t)snprintf(p + f->len, need - f->len, "%s%s=%s", f->len ? "&" : "", ek, ev);
    }
    if (ev)
        OPENSSL_cleanse(ev, strlen(ev));
    curl_free(ek);
    curl_free(ev);
}

static void form_raw(struct form *f, const char *raw)
{
    if (f->failed || !raw || !raw[0])
        return;
    size_t need = f->len + strlen(raw) + 2;
    char *p = realloc(f->s, need);
    if (!p) {
        f->failed = true;
        return;
    }
    f->s = p;
    f->len += (size_t)snprintf(p + f->len, need - f->len, "%s%s", f->len ? "&" : "", raw);
}

static void form_free(struct form *f)
{
    wipe_free(f->s);
    memset(f, 0, sizeof *f);
}

/* Runs a token request: client authentication added per c->auth, answer parsed. */
static enum oauth2_status token_request(const struct oauth2_policy *pol, const struct oauth2_client *c, struct form *f,
                                        struct oauth2_token *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    char *basic = NULL;
    if (c->client_secret && c->auth == OAUTH2_AUTH_CLIENT_SECRET_BASIC) {
        /* RFC 6749 §2.3.1: id and secret form-encoded, then id:secret in base64 */
        char *ei = curl_easy_escape(NULL, c->client_id, 0), *es = curl_easy_escape(NULL, c->client_secret, 0);
        size_t pl = ei && es ? strlen(ei) + strlen(es) + 2 : 0;
        char *pair = pl ? malloc(pl) : NULL;
        size_t bl = 4 * ((pl + 2) / 3) + 1;
        basic = pair ? malloc(sizeof "Authorization: Basic " + bl) : NULL;
        if (basic) {
            snprintf(pair, pl, "%s:%s", ei, es);
            strcpy(basic, "Authorization: Basic ");
            EVP_EncodeBlock((unsigned char *)basic + strlen(basic), (const unsigned char *)pair, (int)strlen(pair));
        }
        if (pair)
            OPENSSL_cleanse(pair, pl);
        free(pair);
        if (es)
            OPENSSL_cleanse(es, strlen(es));
        curl_free(ei);
        curl_free(es);
        if (!basic)
            f->failed = true;
    } else {
        form_add(f, "client_id", c->client_id);
        if (c->client_secret)
            form_add(f, "client_secret", c->client_secret);
    }
    if (f->failed) {
        wipe_free(basic);
        snprintf(err, err_len, "out of memory");
        return OAUTH2_INVALID_ARGUMENT;
    }
    struct body b;
    long status;
    enum oauth2_status st = request(pol, c->token_endpoint, f->s, basic, &b, &status, err, err_len);
    wipe_free(basic);
    if (st != OAUTH2_OK)
        return st;
    json_object *o = b.data ? json_tokener_parse(b.data) : NULL;
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    if (status < 200 || status > 299 || jstr(o, "error")) {
        provider_error(o, status, err, err_len);
        st = OAUTH2_HTTP_ERROR;
    } else if (!o || !jstr(o, "access_token") || !jstr(o, "access_token")[0]) {
        snprintf(err, err_len, "token answer without access_token");
        st = OAUTH2_BAD_RESPONSE;
    } else {
        json_object *e;
        int64_t expires = 0;
        if (json_object_object_get_ex(o, "expires_in", &e)) {
            if (json_object_is_type(e, json_type_int))
                expires = json_object_get_int64(e);
            else if (json_object_is_type(e, json_type_string))   /* some servers send a string */
                expires = strtoll(json_object_get_string(e), NULL, 10);
            if (expires < 0)
                expires = 0;
        }
        out->access_token = strdup(jstr(o, "access_token"));
        out->refresh_token = dup_or_null(jstr(o, "refresh_token"));
        out->token_type = dup_or_null(jstr(o, "token_type"));
        out->scope = dup_or_null(jstr(o, "scope"));
        out->expires_in = expires;
        if (!out->access_token) {
            oauth2_token_free(out);
            snprintf(err, err_len, "out of memory");
            st = OAUTH2_BAD_RESPONSE;
        }
    }
    json_object_put(o);
    body_free(&b);
    return st;
}

static bool client_ok(const struct oauth2_client *c, char *err, size_t err_len)
{
    if (!c || !c->token_endpoint || !c->client_id || !c->client_id[0]) {
        snprintf(err, err_len, "token endpoint and client id are required");
        return false;
    }
    return true;
}

enum oauth2_status oauth2_client_credentials(const struct oauth2_policy *pol, const struct oauth2_client *c,
                                             const char *scopes, const char *extra_form, struct oauth2_token *out,
                                             char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!client_ok(c, err, err_len) || !c->client_secret)
        return OAUTH2_INVALID_ARGUMENT;
    struct form f = { 0 };
    form_add(&f, "grant_type", "client_credentials");
    if (scopes && scopes[0])
        form_add(&f, "scope", scopes);
    form_raw(&f, extra_form);
    enum oauth2_status st = token_request(pol, c, &f, out, err, err_len);
    form_free(&f);
    return st;
}

enum oauth2_status oauth2_exchange_code(const struct oauth2_policy *pol, const struct oauth2_client *c,
                                        const char *code, const char *redirect_uri, const char *code_verifier,
                                        struct oauth2_token *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!client_ok(c, err, err_len) || !code || !code[0] || !redirect_uri)
        return OAUTH2_INVALID_ARGUMENT;
    struct form f = { 0 };
    form_add(&f, "grant_type", "authorization_code");
    form_add(&f, "code", code);
    form_add(&f, "redirect_uri", redirect_uri);
    form_add(&f, "code_verifier", code_verifier);
    enum oauth2_status st = token_request(pol, c, &f, out, err, err_len);
    form_free(&f);
    return st;
}

enum oauth2_status oauth2_refresh(const struct oauth2_policy *pol, const struct oauth2_client *c,
                                  const char *refresh_token, const char *scopes, struct oauth2_token *out, char *err,
                                  size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!client_ok(c, err, err_len) || !refresh_token || !refresh_token[0])
        return OAUTH2_INVALID_ARGUMENT;
    struct form f = { 0 };
    form_add(&f, "grant_type", "refresh_token");
    form_add(&f, "refresh_token", refresh_token);
    if (scopes && scopes[0])
        form_add(&f, "scope", scopes);
    enum oauth2_status st = token_request(pol, c, &f, out, err, err_len);
    form_free(&f);
    return st;
}

/* --- 3LO helpers --------------------------------------------------------------------------- */

bool oauth2_random_state(char state[OAUTH2_PKCE_LEN + 1])
{
    uint8_t r[32];
    if (RAND_bytes(r, sizeof r) != 1)
        return false;
    b64url_encode(r, sizeof r, state, OAUTH2_PKCE_LEN + 1);
    OPENSSL_cleanse(r, sizeof r);
    return true;
}

void oauth2_pkce_challenge(const char *verifier, char challenge[OAUTH2_PKCE_LEN + 1])
{
    uint8_t d[32];
    unsigned int dl = 0;
    EVP_Digest(verifier, strlen(verifier), d, &dl, EVP_sha256(), NULL);
    b64url_encode(d, sizeof d, challenge, OAUTH2_PKCE_LEN + 1);
}

bool oauth2_pkce_new(char verifier[OAUTH2_PKCE_LEN + 1], char challenge[OAUTH2_PKCE_LEN + 1])
{
    if (!oauth2_random_state(verifier))
        return false;
    oauth2_pkce_challenge(verifier, challenge);
    return true;
}

char *oauth2_authorization_url(const char *authorization_endpoint, const char *client_id, const char *redirect_uri,
                               const char *scopes, const char *state, const char *code_challenge,
                               const char *extra_form)
{
    if (!authorization_endpoint || !client_id || !redirect_uri || !state || strchr(authorization_endpoint, '#') ||
        (strncasecmp(authorization_endpoint, "https://", 8) != 0 &&
         strncasecmp(authorization_endpoint, "http://", 7) != 0))
        return NULL;
    struct form f = { 0 };
    form_add(&f, "response_type", "code");
    form_add(&f, "client_id", client_id);
    form_add(&f, "redirect_uri", redirect_uri);
    if (scopes && scopes[0])
        form_add(&f, "scope", scopes);
    form_add(&f, "state", state);
    if (code_challenge) {
        form_add(&f, "code_challenge", code_challenge);
        form_add(&f, "code_challenge_method", "S256");
    }
    form_raw(&f, extra_form);
    if (f.failed) {
        form_free(&f);
        return NULL;
    }
    const char *q = strchr(authorization_endpoint, '?');
    const char *sep = !q ? "?" : (q[1] && authorization_endpoint[strlen(authorization_endpoint) - 1] != '&') ? "&" : "";
    size_t need = strlen(authorization_endpoint) + strlen(sep) + f.len + 1;
    char *url = malloc(need);
    if (url)
        snprintf(url, need, "%s%s%s", authorization_endpoint, sep, f.s);
    free(f.s);
    return url;
}
