/* builder/registry_pull.c — the OCI registry client of silod's image builder (interface and
 * rules in registry_pull.h): reference and challenge parsing, the registry settings, and the
 * pull itself (manifest → linux/arm64 manifest → verified blobs in the cache → an OCI layout). */
#include "builder/registry_pull.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "base/error_message.h"
#include "builder/digest.h"
#include "builder/oci.h"

#define TOKEN_RESPONSE_MAX (64 * 1024)
#define ERROR_BODY_MAX (64 * 1024)
#define TOKEN_MAX 8192
#define MAX_INDEX_HOPS 2

/* ---- names ------------------------------------------------------------------------------------ */

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool registry_valid_repository(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    bool want_alnum = true;              /* at a component start or after a separator */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_lower_alnum(c)) {
            want_alnum = false;
        } else if ((c == '.' || c == '_' || c == '-' || c == '/') && !want_alnum) {
            want_alnum = true;
            if (c == '_' && i + 1 < len && s[i + 1] == '_')   /* "__" is one separator */
                i++;
        } else {
            return false;
        }
    }
    return !want_alnum;
}

bool registry_valid_tag(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (const char *c = s; *c; c++)
        if (!is_lower_alnum(*c) && !(*c >= 'A' && *c <= 'Z') && *c != '_' && *c != '.' && *c != '-')
            return false;
    return true;
}

/* HOST[:PORT]: DNS labels or an IPv4 address, or [IPv6], then an optional port 1..65535. */
static bool valid_hostport(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    size_t i = 0;
    if (s[0] == '[') {
        while (i < len && s[i] != ']')
            i++;
        if (i >= len || i == 1)
            return false;
        for (size_t k = 1; k < i; k++)
            if (!isxdigit((unsigned char)s[k]) && s[k] != ':' && s[k] != '.')
                return false;
        i++;
    } else {
        bool label_start = true;
        for (; i < len && s[i] != ':'; i++) {
            char c = s[i];
            if (isalnum((unsigned char)c))
                label_start = false;
            else if ((c == '-' && !label_start) || (c == '.' && !label_start))
                label_start = c == '.';
            else
                return false;
        }
        if (i == 0 || label_start)
            return false;
    }
    if (i == len)
        return true;
    if (s[i] != ':' || i + 1 == len || len - i - 1 > 5)
        return false;
    unsigned port = 0;
    for (size_t k = i + 1; k < len; k++) {
        if (!isdigit((unsigned char)s[k]))
            return false;
        port = port * 10 + (unsigned)(s[k] - '0');
    }
    return port >= 1 && port <= 65535;
}

bool registry_names_host(const char *uri)
{
    const char *slash = strchr(uri, '/');
    if (slash == NULL || slash == uri)
        return false;
    size_t n = (size_t)(slash - uri);
    if (memchr(uri, '.', n) == NULL && memchr(uri, ':', n) == NULL && !(n == 9 && strncmp(uri, "localhost", 9) == 0))
        return false;
    return valid_hostport(uri, n);
}

static bool valid_digest(const char *d)
{
    if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int registry_parse_ref(const char *uri, struct registry_ref *ref, char *err, size_t errlen)
{
    memset(ref, 0, sizeof *ref);
    if (strlen(uri) > 600 || !registry_names_host(uri))
        return error_message(err, errlen, "'%.200s' is not HOST[:PORT]/REPOSITORY[:TAG|@sha256:DIGEST]", uri);
    const char *slash = strchr(uri, '/');
    size_t hlen = (size_t)(slash - uri);
    for (size_t i = 0; i < hlen; i++)
        ref->host[i] = (char)tolower((unsigned char)uri[i]);
    const char *rest = slash + 1, *at = strchr(rest, '@');
    char name[400];
    snprintf(name, sizeof name, "%.*s", (int)(at ? (size_t)(at - rest) : strlen(rest)), rest);
    if (at != NULL) {
        if (!valid_digest(at + 1))
            return error_message(err, errlen, "'%.200s': a digest must be sha256: and 64 lowercase hex digits", uri);
        snprintf(ref->digest, sizeof ref->digest, "%s", at + 1);
    }
    char *colon = strrchr(name, ':');
    if (colon != NULL && strchr(colon, '/') == NULL) {
        *colon = '\0';
        if (!registry_valid_tag(colon + 1))
            return error_message(err, errlen, "'%.200s': the tag is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", uri);
        if (!ref->digest[0])
            snprintf(ref->tag, sizeof ref->tag, "%s", colon + 1);   /* with a digest, the digest decides */
    } else if (!ref->digest[0]) {
        snprintf(ref->tag, sizeof ref->tag, "latest");
    }
    if (!registry_valid_repository(name, strlen(name)))
        return error_message(err, errlen, "'%.200s': the repository name is not lowercase [a-z0-9._-] components", uri);
    memcpy(ref->repo, name, strlen(name) + 1);          /* at most 255 characters */
    return 0;
}

/* ---- WWW-Authenticate --------------------------------------------------------------------------- */

int registry_parse_challenge(const char *h, struct registry_challenge *c)
{
    memset(c, 0, sizeof *c);
    if (strlen(h) > 4096)
        return -1;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = 0;
    while (h[n] && h[n] != ' ' && h[n] != '\t')
        n++;
    if (n == 6 && strncasecmp(h, "Bearer", 6) == 0)
        snprintf(c->scheme, sizeof c->scheme, "Bearer");
    else if (n == 5 && strncasecmp(h, "Basic", 5) == 0)
        snprintf(c->scheme, sizeof c->scheme, "Basic");
    else
        return -1;
    const char *p = h + n;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0' || *p == '\r' || *p == '\n')
            break;
        char key[32], val[1024];
        size_t k = 0, v = 0;
        while (*p && *p != '=' && *p != ',' && *p != ' ') {
            if (k + 1 >= sizeof key)
                return -1;
            key[k++] = (char)tolower((unsigned char)*p++);
        }
        key[k] = '\0';
        while (*p == ' ')
            p++;
        if (*p != '=' || k == 0)
            return -1;
        p++;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (v + 1 >= sizeof val || (unsigned char)*p < 0x20)
                    return -1;
                val[v++] = *p++;
            }
            if (*p != '"')
                return -1;
            p++;
        } else {
            while (*p && *p != ',' && *p != ' ' && *p != '\r' && *p != '\n') {
                if (v + 1 >= sizeof val || (unsigned char)*p < 0x20)
                    return -1;
                val[v++] = *p++;
            }
        }
        val[v] = '\0';
        char *dst = NULL;
        size_t cap = 0;
        if (strcmp(key, "realm") == 0)
            dst = c->realm, cap = sizeof c->realm;
        else if (strcmp(key, "service") == 0)
            dst = c->service, cap = sizeof c->service;
        else if (strcmp(key, "scope") == 0)
            dst = c->scope, cap = sizeof c->scope;
        if (dst != NULL && (size_t)snprintf(dst, cap, "%s", val) >= cap)
            return -1;
    }
    return strcmp(c->scheme, "Bearer") == 0 && c->realm[0] == '\0' ? -1 : 0;
}

/* ---- hosts and settings ------------------------------------------------------------------------- */

bool registry_host_match(const char *pat, const char *host)
{
    if (*pat == '\0')
        return *host == '\0';
    if (*pat == '*') {
        /* one or more characters other than '.' */
        for (size_t n = 1; host[n - 1] && host[n - 1] != '.'; n++)
            if (registry_host_match(pat + 1, host + n))
                return true;
        return false;
    }
    return tolower((unsigned char)*pat) == tolower((unsigned char)*host) && registry_host_match(pat + 1, host + 1);
}

bool registry_is_loopback(const char *hp)
{
    char host[256];
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (end == NULL)
            return false;
        snprintf(host, sizeof host, "%.*s", (int)(end - hp - 1), hp + 1);
        return strcmp(host, "::1") == 0;
    }
    snprintf(host, sizeof host, "%.*s", (int)strcspn(hp, ":"), hp);
    if (strcasecmp(host, "localhost") == 0)
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

static const char *opt_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int opt_uint(json_object *o, const char *key, uint64_t def, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
    json_object *v;
    *out = def;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 || (uint64_t)json_object_get_int64(v) > max)
        return error_message(err, errlen, "registry settings: %s must be an integer 1..%llu", key, (unsigned long long)max);
    *out = (uint64_t)json_object_get_int64(v);
    return 0;
}

int registry_settings_parse(const char *text, struct registry_settings *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->max_manifest = (uint64_t)REGISTRY_DEFAULT_MAX_MANIFEST_KIB << 10;
    s->max_layer = (uint64_t)REGISTRY_DEFAULT_MAX_LAYER_MIB << 20;
    s->max_image = (uint64_t)REGISTRY_DEFAULT_MAX_IMAGE_MIB << 20;
    s->timeout_s = REGISTRY_DEFAULT_TIMEOUT_S;
    if (text == NULL || *text == '\0')
        return 0;
    json_object *root = json_tokener_parse(text), *list;
    s->json = root;
    if (root == NULL || !json_object_is_type(root, json_type_object))
        return error_message(err, errlen, "registry settings (SILO_REGISTRIES) are not a JSON object");
    uint64_t kib, mib_layer, mib_image, t;
    if (opt_uint(root, "max_manifest_kib", REGISTRY_DEFAULT_MAX_MANIFEST_KIB, 1 << 20, &kib, err, errlen) < 0 ||
        opt_uint(root, "max_layer_mib", REGISTRY_DEFAULT_MAX_LAYER_MIB, 1 << 24, &mib_layer, err, errlen) < 0 ||
        opt_uint(root, "max_image_mib", REGISTRY_DEFAULT_MAX_IMAGE_MIB, 1 << 24, &mib_image, err, errlen) < 0 ||
        opt_uint(root, "timeout_s", REGISTRY_DEFAULT_TIMEOUT_S, 86400, &t, err, errlen) < 0)
        return -1;
    s->max_manifest = kib << 10;
    s->max_layer = mib_layer << 20;
    s->max_image = mib_image << 20;
    s->timeout_s = (long)t;
    s->cache = opt_str(root, "cache");
    if (!json_object_object_get_ex(root, "registries", &list))
        return 0;
    if (!json_object_is_type(list, json_type_array) || json_object_array_length(list) > REGISTRY_MAX_ENTRIES)
        return error_message(err, errlen, "registry settings: registries must be an array of at most %d objects",
                             REGISTRY_MAX_ENTRIES);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *o = json_object_array_get_idx(list, i), *v, *m;
        struct registry_entry *e = &s->entries[s->count];
        e->host = opt_str(o, "host");
        if (e->host == NULL || !valid_hostport(e->host, strlen(e->host)))
            return error_message(err, errlen, "registries[%zu].host must be HOST[:PORT]", i);
        e->username = opt_str(o, "username");
        e->password = opt_str(o, "password");
        if ((e->username == NULL) != (e->password == NULL))
            return error_message(err, errlen, "registries[%zu]: username and password go together", i);
        e->insecure_http = json_object_object_get_ex(o, "insecure_http", &v) && json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "match", &m)) {
            if (!json_object_is_type(m, json_type_array) || json_object_array_length(m) > REGISTRY_MAX_MATCH)
                return error_message(err, errlen, "registries[%zu].match must be at most %d host patterns", i,
                                     REGISTRY_MAX_MATCH);
            for (size_t k = 0; k < json_object_array_length(m); k++) {
                json_object *p = json_object_array_get_idx(m, k);
                if (!json_object_is_type(p, json_type_string) || json_object_get_string_len(p) == 0 ||
                    json_object_get_string_len(p) > 255)
                    return error_message(err, errlen, "registries[%zu].match[%zu] must be a host pattern", i, k);
                e->match[e->match_count++] = json_object_get_string(p);
            }
        }
        s->count++;
    }
    return 0;
}

void registry_settings_free(struct registry_settings *s)
{
    json_object_put(s->json);
    memset(s, 0, sizeof *s);
}

const struct registry_entry *registry_find(const struct registry_settings *s, const char *host)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcasecmp(s->entries[i].host, host) == 0)
            return &s->entries[i];
    for (size_t i = 0; i < s->count; i++)
        for (size_t k = 0; k < s->entries[i].match_count; k++)
            if (registry_host_match(s->entries[i].match[k], host))
                return &s->entries[i];
    return NULL;
}

/* ---- HTTP ----------------------------------------------------------------------------------------- */

/* Where a response body goes: memory (manifests, tokens) or a file (blobs), hashed on the way
 * and cut off past `limit`. Bodies of non-200 responses are counted and dropped. */
struct sink {
    CURL *curl;
    char *mem;                  /* memory sink: malloc'd, NUL-terminated */
    int fd;                     /* file sink, else -1 */
    struct digest *d;
    uint64_t limit, got;
    bool over, io_error;
    uint64_t discarded;
};

struct response {
    long status;
    char content_type[128];
    char challenge[4200];       /* the first WWW-Authenticate value */
};

struct puller {
    const struct registry_settings *s;
    const struct registry_entry *e;
    const char *repo;
    char base[700];             /* scheme://endpoint/v2/REPO */
    bool http_ok;               /* plain http allowed for this registry */
    char bearer[TOKEN_MAX + 32];   /* "Authorization: Bearer …" once we have a token */
    bool use_basic;
    struct registry_pull_stats *stats;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *k = userdata;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        k->discarded += n;
        return k->discarded > ERROR_BODY_MAX ? 0 : n;
    }
    if (k->got + n > k->limit) {
        k->over = true;
        return 0;
    }
    if (k->d != NULL)
        digest_add(k->d, data, n);
    if (k->fd >= 0) {
        for (size_t off = 0; off < n;) {
            ssize_t w = write(k->fd, data + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                k->io_error = true;
                return 0;
            }
            off += (size_t)w;
        }
    } else {
        char *m = realloc(k->mem, (size_t)(k->got + n + 1));
        if (m == NULL)
            return 0;
        k->mem = m;
        memcpy(k->mem + k->got, data, n);
        k->mem[k->got + n] = '\0';
    }
    k->got += n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct response *r = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {      /* a new response (after a redirect) */
        r->content_type[0] = '\0';
        r->challenge[0] = '\0';
        return n;
    }
    const char *names[] = { "content-type:", "www-authenticate:" };
    char *dst[] = { r->content_type, r->challenge };
    size_t caps[] = { sizeof r->content_type, sizeof r->challenge };
    for (size_t i = 0; i < 2; i++) {
        size_t l = strlen(names[i]);
        if (n > l && strncasecmp(data, names[i], l) == 0 && dst[i][0] == '\0') {
            const char *v = data + l;
            size_t vl = n - l;
            while (vl > 0 && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
            if (vl < caps[i])
                snprintf(dst[i], caps[i], "%.*s", (int)vl, v);
        }
    }
    return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct puller *p = userdata;
    return p->s->cancelled != NULL && *p->s->cancelled ? 1 : 0;
}

/* One GET. The response's status and headers in r; the body in k. CURLcode as int. */
static int http_get(struct puller *p, const char *url, const char *accept, bool with_auth, bool basic_only,
                    struct sink *k, struct response *r, char *curl_err)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return CURLE_OUT_OF_MEMORY;
    memset(r, 0, sizeof *r);
    k->curl = c;
    struct curl_slist *h = NULL;
    if (accept)
        h = curl_slist_append(h, accept);
    if (with_auth && p->bearer[0] && !basic_only)
        h = curl_slist_append(h, p->bearer);
    if (with_auth && (p->use_basic || basic_only) && p->e->username) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, p->e->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, p->e->password);
    }
    /* plain http: to a loopback or insecure_http registry; a redirect (to a blob store, maybe
     * elsewhere) only for insecure_http */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, p->http_ok ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, p->e->insecure_http ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);   /* blob stores; credentials stay on this host */
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, p->s->timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);     /* a stall ends after 60 s */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "silod-build-image");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
    curl_err[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    p->stats->requests++;
    return (int)rc;
}

static int transfer_error(struct puller *p, const struct sink *k, int rc, const char *curl_err, const char *what,
                          char *err, size_t errlen)
{
    if (k->over)
        return error_message(err, errlen, "%s from registry %s is larger than %llu bytes", what, p->e->host,
                             (unsigned long long)k->limit);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return error_message(err, errlen, "image build cancelled");
    if (k->io_error)
        return error_message(err, errlen, "cannot write %s to the cache: %s", what, strerror(errno));
    return error_message(err, errlen, "cannot fetch %s from registry %s: %s", what, p->e->host,
                         curl_err[0] ? curl_err : curl_easy_strerror((CURLcode)rc));
}

/* true when url's host is a loopback address (plain http allowed there). */
static bool url_host_loopback(const char *url, char *scheme, size_t scheme_cap)
{
    CURLU *u = curl_url();
    char *host = NULL, *sch = NULL, *port = NULL;
    bool loop = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &sch, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    {
        loop = registry_is_loopback(host);
        snprintf(scheme, scheme_cap, "%s", sch);
    } else {
        scheme[0] = '\0';
    }
    curl_free(host);
    curl_free(sch);
    curl_free(port);
    curl_url_cleanup(u);
    return loop;
}

/* Answers a Bearer challenge: asks the realm for a token (with the registry's credentials, if
 * any) and keeps "Authorization: Bearer TOKEN" for the requests that follow. */
static int get_token(struct puller *p, const struct registry_challenge *ch, char *err, size_t errlen)
{
    char scheme[16];
    bool loop = url_host_loopback(ch->realm, scheme, sizeof scheme);
    if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && (loop || p->e->insecure_http)))
        return error_message(err, errlen, "registry %s sends its token realm to '%.100s', which is not https "
                             "(plain http only for loopback or insecure_http registries)", p->e->host, ch->realm);
    char scope[600];
    if (ch->scope[0])
        snprintf(scope, sizeof scope, "%s", ch->scope);
    else
        snprintf(scope, sizeof scope, "repository:%s:pull", p->repo);
    CURL *esc = curl_easy_init();
    char *es = esc ? curl_easy_escape(esc, ch->service, 0) : NULL;
    char *sc = esc ? curl_easy_escape(esc, scope, 0) : NULL;
    char url[2400];
    int n = snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
                     es ? es : "", sc ? sc : "");
    curl_free(es);
    curl_free(sc);
    curl_easy_cleanup(esc);
    if (n < 0 || (size_t)n >= sizeof url)
        return error_message(err, errlen, "registry %s: its token realm is too long", p->e->host);
    bool saved_http = p->http_ok;
    p->http_ok = loop || p->e->insecure_http;
    struct sink k = { .fd = -1, .limit = TOKEN_RESPONSE_MAX };
    struct response r;
    char curl_err[CURL_ERROR_SIZE];
    int rc = http_get(p, url, NULL, true, true, &k, &r, curl_err);
    p->http_ok = saved_http;
    if (rc != CURLE_OK) {
        transfer_error(p, &k, rc, curl_err, "a token", err, errlen);
        free(k.mem);
        return -1;
    }
    if (r.status == 401 || r.status == 403) {
        free(k.mem);
        return error_message(err, errlen, "registry %s: its token service refused %s (HTTP %ld)", p->e->host,
                             p->e->username ? "the configured credentials" : "an anonymous pull; configure "
                             "registries[].username and password", r.status);
    }
    json_object *doc = r.status == 200 && k.mem ? json_tokener_parse(k.mem) : NULL;
    free(k.mem);
    const char *tok = doc ? opt_str(doc, "token") : NULL;
    if (tok == NULL && doc)
        tok = opt_str(doc, "access_token");
    size_t tl = tok ? strlen(tok) : 0;
    bool ok = tl > 0 && tl <= TOKEN_MAX;
    for (size_t i = 0; ok && i < tl; i++)       /* token68 characters only: nothing to inject */
        ok = isalnum((unsigned char)tok[i]) || strchr("-._~+/=", tok[i]) != NULL;
    if (ok)
        snprintf(p->bearer, sizeof p->bearer, "Authorization: Bearer %s", tok);
    json_object_put(doc);
    if (!ok)
        return error_message(err, errlen, "registry %s: its token service answered HTTP %ld without a usable token",
                             p->e->host, r.status);
    return 0;
}

/* GET with the registry's auth: on a 401, answer its challenge once and retry. */
static int registry_get(struct puller *p, const char *url, const char *accept, struct sink *k, struct response *r,
                        const char *what, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        char curl_err[CURL_ERROR_SIZE];
        int rc = http_get(p, url, accept, true, false, k, r, curl_err);
        if (rc != CURLE_OK)
            return transfer_error(p, k, rc, curl_err, what, err, errlen);
        if (r->status != 401 || attempt > 0) {
            if (r->status == 401 || r->status == 403)
                return error_message(err, errlen, "registry %s refused %s (HTTP %ld)%s", p->e->host,
                                     p->e->username ? "the configured credentials" : "an anonymous pull",
                                     r->status, p->e->username ? "" : "; configure registries[].username and password");
            return 0;
        }
        k->discarded = 0;
        struct registry_challenge ch;
        if (registry_parse_challenge(r->challenge, &ch) < 0)
            return error_message(err, errlen, "registry %s answered HTTP 401 without a usable WWW-Authenticate "
                                 "challenge", p->e->host);
        if (strcmp(ch.scheme, "Basic") == 0) {
            if (p->e->username == NULL)
                return error_message(err, errlen, "registry %s requires a login; configure registries[].username "
                                     "and password in silod's config", p->e->host);
            p->use_basic = true;
        } else if (get_token(p, &ch, err, errlen) < 0) {
            return -1;
        }
    }
}

/* ---- the pull --------------------------------------------------------------------------------- */

static const char MANIFEST_ACCEPT[] =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

static bool is_index(const char *mt)
{
    return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
                  strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
        return -1;
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_whole(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, len);
    return close(fd) == 0 && w == (ssize_t)len ? 0 : -1;
}

/* Puts verified bytes (a manifest) into the cache as a blob. */
static int cache_put(const char *cache, const char *hex, const char *data, size_t len)
{
    char path[4200], tmp[4200];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", cache, hex);
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len)
        return 0;
    snprintf(tmp, sizeof tmp, "%s/tmp/%s.XXXXXX", cache, hex);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, len);
    if (close(fd) != 0 || w != (ssize_t)len || chmod(tmp, 0644) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Fetches a manifest (or index) by tag or digest, bounded and verified: its bytes, media type
 * and digest. */
static int fetch_manifest(struct puller *p, const char *reference, const char *want_digest, char **body,
                          size_t *len, char *media_type, size_t mt_cap, char digest[72], char *err, size_t errlen)
{
    char url[1100];
    snprintf(url, sizeof url, "%s/manifests/%s", p->base, reference);
    struct sink k = { .fd = -1, .limit = p->s->max_manifest, .d = digest_new() };
    struct response r;
    int rc = registry_get(p, url, MANIFEST_ACCEPT, &k, &r, "the image manifest", err, errlen);
    char hex[DIGEST_HEX];
    digest_finish(k.d, hex);
    if (rc < 0 || r.status != 200) {
        free(k.mem);
        if (rc < 0)
            return -1;
        if (r.status == 404)
            return error_message(err, errlen, "no such image '%s/%s%s%s' in registry %s (HTTP 404)", p->e->host,
                                 p->repo, want_digest ? "@" : ":", reference, p->e->host);
        return error_message(err, errlen, "registry %s answered HTTP %ld for the manifest of %s", p->e->host,
                             r.status, p->repo);
    }
    snprintf(digest, 72, "sha256:%s", hex);
    if (want_digest && strcmp(digest, want_digest) != 0) {
        free(k.mem);
        return error_message(err, errlen, "the manifest from registry %s does not match its digest %.19s... "
                             "(its SHA-256 is %.12s...)", p->e->host, want_digest, hex);
    }
    *body = k.mem ? k.mem : strdup("");
    *len = (size_t)k.got;
    snprintf(media_type, mt_cap, "%.*s", (int)strcspn(r.content_type, ";"), r.content_type);
    return 0;
}

/* Fetches the blob `digest` of `size` bytes into the cache unless it is there. */
static int fetch_blob(struct puller *p, const char *cache, const char *digest, uint64_t size, const char *what,
                      char *err, size_t errlen)
{
    char path[4200], tmp[4200];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", cache, digest + 7);
    struct stat st;
    char have[DIGEST_HEX];
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size) {
        /* verified when it went in; hashed again so that a damaged cache heals itself */
        if (sha256_file_hex(path, have) == 0 && strcmp(have, digest + 7) == 0) {
            p->stats->blobs_cached++;
            return 0;
        }
        printf("silod-build-image: cached blob %.19s... is damaged; fetching it again\n", digest);
        unlink(path);
    }
    snprintf(tmp, sizeof tmp, "%s/tmp/%s.XXXXXX", cache, digest + 7);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "cannot write to the registry cache %s: %s", cache, strerror(errno));
    char url[1100];
    snprintf(url, sizeof url, "%s/blobs/%s", p->base, digest);
    struct sink k = { .fd = fd, .limit = size, .d = digest_new() };
    struct response r;
    int rc = registry_get(p, url, NULL, &k, &r, what, err, errlen);
    char hex[DIGEST_HEX];
    digest_finish(k.d, hex);
    bool closed = close(fd) == 0;
    if (rc == 0 && r.status != 200)
        rc = error_message(err, errlen, "registry %s answered HTTP %ld for %s %.19s...", p->e->host, r.status, what,
                           digest);
    else if (rc == 0 && (k.got != size || strcmp(hex, digest + 7) != 0))
        rc = error_message(err, errlen, "%s %.19s... from registry %s does not match its digest (got %llu bytes "
                           "with SHA-256 %.12s...)", what, digest, p->e->host, (unsigned long long)k.got, hex);
    else if (rc == 0 && (!closed || chmod(tmp, 0644) != 0 || rename(tmp, path) != 0))
        rc = error_message(err, errlen, "cannot put %s into the registry cache: %s", what, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return -1;
    }
    p->stats->blobs_downloaded++;
    p->stats->bytes_downloaded += size;
    return 0;
}

/* A descriptor's digest and size, checked. */
static int descriptor(json_object *d, const char *what, const char **digest, uint64_t *size, char *err, size_t errlen)
{
    json_object *sz;
    *digest = opt_str(d, "digest");
    if (*digest == NULL || !valid_digest(*digest))
        return error_message(err, errlen, "image manifest: %s has no sha256 digest", what);
    if (!json_object_object_get_ex(d, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
        json_object_get_int64(sz) < 0)
        return error_message(err, errlen, "image manifest: %s has no size", what);
    *size = (uint64_t)json_object_get_int64(sz);
    return 0;
}

static int link_blob(const char *cache, const char *layout, const char *digest, char *err, size_t errlen)
{
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/blobs/sha256/%s", cache, digest + 7);
    snprintf(to, sizeof to, "%s/blobs/sha256/%s", layout, digest + 7);
    if (link(from, to) == 0 || errno == EEXIST)
        return 0;
    /* another file system: a copy */
    int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    char buf[65536];
    ssize_t n = 0;
    bool ok = in >= 0 && out >= 0;
    while (ok && (n = read(in, buf, sizeof buf)) > 0)
        ok = write(out, buf, (size_t)n) == n;
    ok = ok && n == 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        ok = false;
    if (!ok)
        return error_message(err, errlen, "cannot place blob %.19s... into the image layout: %s", digest, strerror(errno));
    return 0;
}

void registry_layout_remove(const char *layout)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/blobs/sha256", layout);
    /* only the files registry_pull makes: blob names are 64 hex digits */
    int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        DIR *d = fdopendir(dfd);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL)
            if (strlen(de->d_name) == 64)
                unlinkat(dfd, de->d_name, 0);
        if (d)
            closedir(d);
        else
            close(dfd);
    }
    rmdir(p);
    snprintf(p, sizeof p, "%s/blobs", layout);
    rmdir(p);
    snprintf(p, sizeof p, "%s/index.json", layout);
    unlink(p);
    snprintf(p, sizeof p, "%s/oci-layout", layout);
    unlink(p);
    rmdir(layout);
}

/* The (verified, cached) image config must be linux/arm64 (oci.h's rule). */
static int check_config(const char *cache, const char *digest, uint64_t size, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", cache, digest + 7);
    char *text = malloc((size_t)size + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = text && fd >= 0 ? read(fd, text, (size_t)size) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)size) {
        free(text);
        return error_message(err, errlen, "cannot read the image config from the registry cache");
    }
    text[size] = '\0';
    int rc = oci_check_platform(text, (size_t)size, err, errlen);
    free(text);
    return rc;
}

/* The manifest's config and layers: sizes checked against the limits, each fetched (or found in
 * the cache) and verified. */
static int fetch_image_blobs(struct puller *p, const char *cache, json_object *m, char *err, size_t errlen)
{
    json_object *config, *layers;
    if (!json_object_object_get_ex(m, "config", &config) || !json_object_object_get_ex(m, "layers", &layers) ||
        !json_object_is_type(layers, json_type_array))
        return error_message(err, errlen, "image manifest: no config or layers (schema 1 manifests are not supported)");
    size_t n = json_object_array_length(layers);
    if (n > OCI_MAX_LAYERS)
        return error_message(err, errlen, "image manifest: %zu layers, more than %d", n, OCI_MAX_LAYERS);
    const char *cdigest;
    uint64_t csize, total = 0;
    if (descriptor(config, "the config", &cdigest, &csize, err, errlen) < 0)
        return -1;
    if (csize > p->s->max_manifest)
        return error_message(err, errlen, "image config is %llu bytes, more than the %llu allowed",
                             (unsigned long long)csize, (unsigned long long)p->s->max_manifest);
    for (size_t i = 0; i < n; i++) {
        const char *d;
        uint64_t sz;
        char what[32];
        snprintf(what, sizeof what, "layer %zu", i);
        if (descriptor(json_object_array_get_idx(layers, i), what, &d, &sz, err, errlen) < 0)
            return -1;
        if (sz > p->s->max_layer)
            return error_message(err, errlen, "layer %zu is %llu MiB, more than registry.max_layer_mib (%llu)", i,
                                 (unsigned long long)(sz >> 20), (unsigned long long)(p->s->max_layer >> 20));
        total += sz;
    }
    if (total > p->s->max_image)
        return error_message(err, errlen, "the image's layers are %llu MiB, more than registry.max_image_mib (%llu)",
                             (unsigned long long)(total >> 20), (unsigned long long)(p->s->max_image >> 20));
    if (fetch_blob(p, cache, cdigest, csize, "the image config", err, errlen) < 0 ||
        check_config(cache, cdigest, csize, err, errlen) < 0)       /* before any layer is fetched */
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *d;
        uint64_t sz;
        char what[32];
        snprintf(what, sizeof what, "layer %zu", i);
        descriptor(json_object_array_get_idx(layers, i), what, &d, &sz, err, errlen);
        if (fetch_blob(p, cache, d, sz, "layer", err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int write_layout(const char *cache, const char *layout, const char *mdigest, const char *mtype, size_t mlen,
                        json_object *m, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s", layout);
    char *slash = strrchr(path, '/');
    if (slash != NULL && slash != path) {
        *slash = '\0';
        mkdir_p(path, 0700);                    /* the layout's parent */
    }
    snprintf(path, sizeof path, "%s/blobs/sha256", layout);
    if (mkdir(layout, 0700) != 0 || mkdir_p(path, 0700) != 0)
        return error_message(err, errlen, "cannot make the image layout %s: %s", layout, strerror(errno));
    json_object *config, *layers;
    json_object_object_get_ex(m, "config", &config);
    json_object_object_get_ex(m, "layers", &layers);
    if (link_blob(cache, layout, mdigest, err, errlen) < 0 ||
        link_blob(cache, layout, opt_str(config, "digest"), err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < json_object_array_length(layers); i++)
        if (link_blob(cache, layout, opt_str(json_object_array_get_idx(layers, i), "digest"), err, errlen) < 0)
            return -1;
    char index[512];
    snprintf(index, sizeof index, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":%zu}]}\n", mtype, mdigest, mlen);
    snprintf(path, sizeof path, "%s/index.json", layout);
    if (write_whole(path, index, strlen(index)) < 0)
        return error_message(err, errlen, "cannot write %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/oci-layout", layout);
    if (write_whole(path, "{\"imageLayoutVersion\":\"1.0.0\"}\n", 31) < 0)
        return error_message(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

int registry_pull(const struct registry_settings *s, const struct registry_entry *e, const struct registry_ref *ref,
                  const char *cache, const char *layout, struct registry_pull_stats *stats, char *err, size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    struct puller p = { .s = s, .e = e, .repo = ref->repo, .stats = stats };
    p.http_ok = e->insecure_http || registry_is_loopback(e->host);
    snprintf(p.base, sizeof p.base, "%s://%s/v2/%s", p.http_ok ? "http" : "https", e->host, ref->repo);
    char path[4200];
    snprintf(path, sizeof path, "%s/blobs/sha256", cache);
    char tmpdir[4200];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", cache);
    if (mkdir_p(path, 0700) != 0 || mkdir_p(tmpdir, 0700) != 0)
        return error_message(err, errlen, "cannot make the registry cache %s: %s", cache, strerror(errno));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return error_message(err, errlen, "cannot initialise libcurl");
    char *body = NULL, mtype[128], digest[72];
    size_t len = 0;
    const char *reference = ref->digest[0] ? ref->digest : ref->tag;
    int rc = fetch_manifest(&p, reference, ref->digest[0] ? ref->digest : NULL, &body, &len, mtype, sizeof mtype,
                            digest, err, errlen);
    json_object *doc = NULL;
    for (int hop = 0; rc == 0; hop++) {
        json_object_put(doc);
        doc = json_tokener_parse(body);
        if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
            rc = error_message(err, errlen, "the manifest from registry %s is not a JSON object", e->host);
            break;
        }
        const char *jmt = opt_str(doc, "mediaType");
        if (jmt != NULL)
            snprintf(mtype, sizeof mtype, "%s", jmt);
        if (!is_index(mtype) && !(jmt == NULL && json_object_object_get_ex(doc, "manifests", NULL)))
            break;
        if (hop >= MAX_INDEX_HOPS) {
            rc = error_message(err, errlen, "image index nested more than %d deep", MAX_INDEX_HOPS);
            break;
        }
        json_object *pick = oci_pick_arm64(doc, err, errlen);
        const char *pd = pick ? opt_str(pick, "digest") : NULL;
        if (pick == NULL || pd == NULL || !valid_digest(pd)) {
            if (pick != NULL)
                error_message(err, errlen, "image index: the linux/arm64 entry has no sha256 digest");
            rc = -1;
            break;
        }
        char want[72];
        snprintf(want, sizeof want, "%s", pd);
        if (cache_put(cache, digest + 7, body, len) < 0) {
            rc = error_message(err, errlen, "cannot put the image index into the registry cache: %s", strerror(errno));
            break;
        }
        free(body);
        body = NULL;
        rc = fetch_manifest(&p, want, want, &body, &len, mtype, sizeof mtype, digest, err, errlen);
    }
    if (rc == 0 && cache_put(cache, digest + 7, body, len) < 0)
        rc = error_message(err, errlen, "cannot put the manifest into the registry cache: %s", strerror(errno));
    if (rc == 0)
        rc = fetch_image_blobs(&p, cache, doc, err, errlen);
    if (rc == 0) {
        if (mtype[0] == '\0' || strspn(mtype, "abcdefghijklmnopqrstuvwxyz0123456789.+-/") != strlen(mtype))
            snprintf(mtype, sizeof mtype, "application/vnd.oci.image.manifest.v1+json");
        rc = write_layout(cache, layout, digest, mtype, len, doc, err, errlen);
        if (rc < 0)
            registry_layout_remove(layout);
    }
    if (rc == 0)
        snprintf(stats->manifest_digest, sizeof stats->manifest_digest, "%s", digest);
    json_object_put(doc);
    free(body);
    curl_global_cleanup();
    return rc;
}
