/* tools/cli/api_client.c — the `silo` CLI's HTTP layer: one libcurl easy handle (kept alive
 * across calls), SigV4 signing (libcurl's CURLOPT_AWS_SIGV4, or sigv4_sign.c for paths with
 * percent-encoding — see there), request bodies from memory, a file or a pipe (never held
 * whole), answers parsed bounded (control plane) or streamed to a sink (invoke), and AWS
 * restJson1 errors (`x-amzn-errortype` + `{"message":…}`) turned into struct api_error.
 */
#include "tools/cli/api_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/error_message.h"
#include "tools/cli/sigv4_sign.h"

#define SERVICE "bedrock-agentcore"
#define MAX_EXTRA_HEADERS 16
#define JSON_MAX_DEPTH 64

/* ---------------------------------------------------------------- set-up */

bool api_conn_init(struct api_conn *c, const char *endpoint_url, char *why, size_t why_len)
{
    memset(c, 0, sizeof *c);
    size_t n = strlen(endpoint_url);
    while (n > 0 && endpoint_url[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof c->endpoint) {
        error_message(why, why_len, "the endpoint URL '%.200s' is empty or too long", endpoint_url);
        return false;
    }
    memcpy(c->endpoint, endpoint_url, n);
    c->endpoint[n] = '\0';
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *frag = NULL;
    bool ok = false;
    if (!u || curl_url_set(u, CURLUPART_URL, c->endpoint, 0) != CURLUE_OK) {
        error_message(why, why_len, "the endpoint URL '%.200s' is not a valid URL", c->endpoint);
        goto out;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        error_message(why, why_len, "the endpoint URL '%.200s' must start with http:// or https://", c->endpoint);
        goto out;
    }
    if (!host || !*host || query || frag || strchr(c->endpoint, '@')) {
        error_message(why, why_len, "the endpoint URL '%.200s' must be scheme://host[:port][/path], "
                              "without user, query or fragment", c->endpoint);
        goto out;
    }
    bool default_port = !port || (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
                        (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
    int hl = default_port ? snprintf(c->host_header, sizeof c->host_header, "%s", host)
                          : snprintf(c->host_header, sizeof c->host_header, "%s:%s", host, port);
    size_t pl = path ? strlen(path) : 0;
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    if (hl < 0 || (size_t)hl >= sizeof c->host_header || pl >= sizeof c->base_path) {
        error_message(why, why_len, "the endpoint URL '%.200s' is too long", c->endpoint);
        goto out;
    }
    memcpy(c->base_path, path ? path : "", pl);
    c->base_path[pl] = '\0';
    c->curl = curl_easy_init();
    if (!c->curl) {
        error_message(why, why_len, "libcurl could not be initialised");
        goto out;
    }
    ok = true;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return ok;
}

void api_conn_free(struct api_conn *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
}

/* ---------------------------------------------------------------- encoding helpers */

static bool is_unreserved(unsigned char ch)
{
    return isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

static bool encode_into(const char *s, char *out, size_t out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p)) {
            if (o + 2 > out_len)
                return false;
            out[o++] = (char)*p;
        } else {
            if (o + 4 > out_len)
                return false;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o + 1 > out_len)
        return false;
    out[o] = '\0';
    return true;
}

bool api_encode_segment(const char *s, char *out, size_t out_len)
{
    return *s && encode_into(s, out, out_len);
}

bool api_query_add(char *query, size_t len, const char *name, const char *value)
{
    size_t used = strlen(query);
    int n = snprintf(query + used, len - used, "%s%s=", used ? "&" : "", name);
    if (n < 0 || (size_t)n >= len - used)
        return false;
    used += (size_t)n;
    return encode_into(value, query + used, len - used);
}

/* ---------------------------------------------------------------- one call */

struct call {
    const struct api_stream_request *stream;   /* NULL for a JSON call */
    struct api_answer_head head;
    bool head_done;
    bool collect;            /* the body goes into buf (JSON answer or AWS error) */
    char *buf;
    size_t len, cap, max;
    bool too_large;          /* a JSON answer over the limit (the call is aborted) */
    bool sink_failed;
    FILE *upload;
    bool upload_failed;
    int upload_errno;
};

static void trim_copy(char *dst, size_t dst_len, const char *src, size_t n)
{
    while (n && (src[n - 1] == '\r' || src[n - 1] == '\n' || src[n - 1] == ' ' || src[n - 1] == '\t'))
        n--;
    while (n && (*src == ' ' || *src == '\t')) {
        src++;
        n--;
    }
    if (n >= dst_len)
        n = dst_len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    *value = line + nl + 1;
    *vlen = n - nl - 1;
    return true;
}

static size_t on_header(char *data, size_t size, size_t count, void *ud)
{
    struct call *c = ud;
    size_t n = size * count;
    const char *v;
    size_t vl;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', n);
        memset(&c->head, 0, sizeof c->head);
        c->head.status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        if (c->head.status >= 200 && !c->head_done) {
            c->head_done = true;
            c->collect = !c->stream || c->head.error_type[0];
            c->max = c->stream ? API_MAX_ERROR_BODY : API_MAX_ANSWER;
            if (c->stream && c->stream->on_head)
                c->stream->on_head(c->stream->ctx, &c->head);
        }
    } else if (header_is(data, n, "content-type", &v, &vl)) {
        trim_copy(c->head.content_type, sizeof c->head.content_type, v, vl);
    } else if (header_is(data, n, "x-amzn-errortype", &v, &vl)) {
        const char *colon = memchr(v, ':', vl);     /* "Type:http://internal…" → "Type" */
        trim_copy(c->head.error_type, sizeof c->head.error_type, v, colon ? (size_t)(colon - v) : vl);
    } else if (header_is(data, n, "x-amzn-bedrock-agentcore-runtime-session-id", &v, &vl)) {
        trim_copy(c->head.session_id, sizeof c->head.session_id, v, vl);
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t count, void *ud)
{
    struct call *c = ud;
    size_t n = size * count;
    if (!c->head_done) {        /* a body before any head: treat as an answer to collect */
        c->head_done = true;
        c->collect = true;
        c->max = API_MAX_ERROR_BODY;
    }
    if (!c->collect) {
        if (!c->stream->on_data(c->stream->ctx, data, n)) {
            c->sink_failed = true;
            return 0;
        }
        return n;
    }
    if (c->len + n > c->max) {
        if (!c->stream) {
            c->too_large = true;
            return 0;
        }
        n = c->max - c->len;    /* an error body: keep its beginning, drain the rest */
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *p = realloc(c->buf, cap);
        if (!p) {
            c->too_large = true;
            return 0;
        }
        c->buf = p;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return size * count;
}

static size_t on_read(char *out, size_t size, size_t count, void *ud)
{
    struct call *c = ud;
    size_t n = fread(out, 1, size * count, c->upload);
    if (n == 0 && ferror(c->upload)) {
        c->upload_failed = true;
        c->upload_errno = errno;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

bool api_sha256_file(FILE *f, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    long long start = ftello(f);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], out[32];
    unsigned int out_len = 0;
    bool ok = start >= 0 && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(md, buf, n);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, out, &out_len) && out_len == 32;
    EVP_MD_CTX_free(md);
    if (ok) {
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = digits[out[i] >> 4];
            hex[2 * i + 1] = digits[out[i] & 15];
        }
        hex[64] = '\0';
    }
    clearerr(f);
    return ok && fseeko(f, start, SEEK_SET) == 0;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value, bool *ok)
{
    char line[8192];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line || strpbrk(value, "\r\n")) {
        *ok = false;
        return list;
    }
    struct curl_slist *l = curl_slist_append(list, line);
    if (!l) {
        *ok = false;
        return list;
    }
    return l;
}

static void transport_error(struct api_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void transport_error(struct api_error *err, const char *fmt, ...)
{
    va_list ap;
    err->status = 0;
    err->type[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* Fills err from an AWS error answer (or any error answer) collected in c. */
static void error_from_answer(struct api_error *err, const struct call *c)
{
    err->status = c->head.status;
    snprintf(err->type, sizeof err->type, "%s", c->head.error_type[0] ? c->head.error_type : "HTTPError");
    err->message[0] = '\0';
    json_object *o = c->buf ? json_tokener_parse(c->buf) : NULL, *m = NULL;
    if (o && json_object_is_type(o, json_type_object) &&
        (json_object_object_get_ex(o, "message", &m) || json_object_object_get_ex(o, "Message", &m)) &&
        json_object_is_type(m, json_type_string))
        snprintf(err->message, sizeof err->message, "%s", json_object_get_string(m));
    else if (c->buf)
        snprintf(err->message, sizeof err->message, "%.300s", c->buf);
    json_object_put(o);
    for (char *p = err->message; *p; p++)   /* one line, no control characters */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (!err->message[0])
        snprintf(err->message, sizeof err->message, "(no message)");
}

/* Runs one request. body: the bytes to send (memory/file/pipe); payload_hash computed by the
 * caller for memory and file bodies ("UNSIGNED-PAYLOAD" for a pipe). */
static enum api_result perform(struct api_conn *conn, struct call *c, const char *method, const char *path,
                               const char *query, const struct api_header *extra, size_t extra_count,
                               const struct api_body *body, const char *payload_hash, long timeout_s,
                               struct api_error *err)
{
    CURL *h = conn->curl;
    char url[16384], full_path[8192];
    int pl = snprintf(full_path, sizeof full_path, "%s%s", conn->base_path, path);
    int ul = snprintf(url, sizeof url, "%s%s%s%s", conn->endpoint, path, query && *query ? "?" : "",
                      query ? query : "");
    if (pl < 0 || (size_t)pl >= sizeof full_path || ul < 0 || (size_t)ul >= sizeof url ||
        extra_count > MAX_EXTRA_HEADERS) {
        transport_error(err, "the request is too large");
        return API_TRANSPORT;
    }
    curl_easy_reset(h);             /* keeps the connection cache */
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "silo-cli/1");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (conn->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, conn->ca_file);   /* the peer and its name are verified either way */

    switch (body->kind) {
    case API_BODY_NONE:
        if (strcmp(method, "GET") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        break;
    case API_BODY_MEMORY:
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        break;
    case API_BODY_FILE:
    case API_BODY_PIPE:
        c->upload = body->file;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         body->kind == API_BODY_FILE ? (curl_off_t)body->size : (curl_off_t)-1);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        break;
    }

    /* headers: the caller's, the payload hash, the session token; all of them signed */
    bool ok = true;
    struct curl_slist *hl = NULL;
    struct sigv4_header signed_h[MAX_EXTRA_HEADERS + 4];
    size_t ns = 0;
    for (size_t i = 0; i < extra_count; i++) {
        hl = add_header(hl, extra[i].name, extra[i].value, &ok);
        signed_h[ns++] = (struct sigv4_header){ extra[i].name, extra[i].value };
    }
    hl = add_header(hl, "x-amz-content-sha256", payload_hash, &ok);
    signed_h[ns++] = (struct sigv4_header){ "x-amz-content-sha256", payload_hash };
    if (conn->session_token) {
        hl = add_header(hl, "x-amz-security-token", conn->session_token, &ok);
        signed_h[ns++] = (struct sigv4_header){ "x-amz-security-token", conn->session_token };
    }
    bool own = conn->own_signer_always || strchr(full_path, '%');   /* see sigv4_sign.c */
    if (own) {
        char date[17], auth[1024];
        sigv4_sign_date(time(NULL), date);
        signed_h[ns++] = (struct sigv4_header){ "host", conn->host_header };
        signed_h[ns++] = (struct sigv4_header){ "x-amz-date", date };
        struct sigv4_sign_input in = {
            .method = method, .path = full_path, .query = query, .headers = signed_h,
            .header_count = ns, .payload_hash = payload_hash, .amz_date = date,
            .access_key = conn->access_key, .secret_key = conn->secret_key,
            .region = conn->region, .service = SERVICE,
        };
        ok = ok && sigv4_sign(&in, auth, sizeof auth);
        hl = add_header(hl, "Host", conn->host_header, &ok);
        hl = add_header(hl, "X-Amz-Date", date, &ok);
        hl = add_header(hl, "Authorization", auth, &ok);
    } else {
        char param[256];
        snprintf(param, sizeof param, "aws:amz:%s:%s", conn->region, SERVICE);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, param);
        curl_easy_setopt(h, CURLOPT_USERNAME, conn->access_key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, conn->secret_key);
    }
    if (!ok) {
        curl_slist_free_all(hl);
        transport_error(err, "a request header is too long or holds a line break");
        return API_TRANSPORT;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    if (c->too_large) {
        transport_error(err, "the answer from %s is larger than %u MiB", conn->endpoint, API_MAX_ANSWER >> 20);
        return API_TRANSPORT;
    }
    if (c->upload_failed) {
        transport_error(err, "cannot read the request body: %s", strerror(c->upload_errno));
        return API_TRANSPORT;
    }
    if (c->sink_failed) {
        transport_error(err, "cannot write the answer: %s", strerror(errno));
        return API_TRANSPORT;
    }
    if (rc != CURLE_OK) {
        const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (c->head_done)
            transport_error(err, "the answer was cut off: %s", what);
        else
            transport_error(err, "cannot reach silod at %s: %s", conn->endpoint, what);
        return API_TRANSPORT;
    }
    if (c->head.status >= 200 && c->head.status < 300)
        return API_OK;
    if (c->stream && !c->head.error_type[0]) {
        err->status = c->head.status;
        snprintf(err->type, sizeof err->type, "AgentError");
        snprintf(err->message, sizeof err->message, "the agent answered HTTP %ld", c->head.status);
        return API_ERROR;
    }
    error_from_answer(err, c);
    return API_ERROR;
}

void api_print_error(const struct api_error *err)
{
    if (err->status == 0)
        fprintf(stderr, "silo: %s\n", err->message);
    else
        fprintf(stderr, "silo: %s: %s (HTTP %ld)\n", err->type, err->message, err->status);
}

/* ---------------------------------------------------------------- JSON calls */

static json_object *parse_bounded(const char *s, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    bool whole = o && json_tokener_get_error(tok) == json_tokener_success;
    if (whole)
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
            if (!isspace((unsigned char)s[i]))
                whole = false;
    json_tokener_free(tok);
    if (!whole) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

enum api_result api_json(struct api_conn *conn, const char *method, const char *path, const char *query,
                         json_object *body, json_object **answer, struct api_error *err)
{
    return api_json_headers(conn, method, path, query, NULL, 0, body, answer, err);
}

enum api_result api_json_headers(struct api_conn *conn, const char *method, const char *path, const char *query,
                                 const struct api_header *headers, size_t header_count, json_object *body,
                                 json_object **answer, struct api_error *err)
{
    struct call c = { 0 };
    struct api_body b = { .kind = API_BODY_NONE };
    struct api_header hdr[MAX_EXTRA_HEADERS] = { { "Content-Type", "application/json" } };
    size_t nh = 0;
    if (header_count + 1 > MAX_EXTRA_HEADERS) {
        transport_error(err, "too many request headers");
        return API_TRANSPORT;
    }
    const char *text = "";
    if (body)
        text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        b = (struct api_body){ .kind = API_BODY_MEMORY, .data = text, .len = strlen(text) };
        nh = 1;     /* Content-Type: application/json */
    }
    for (size_t i = 0; i < header_count; i++)
        hdr[nh++] = headers[i];
    char hash[65];
    sigv4_sha256_hex(text, b.kind == API_BODY_MEMORY ? b.len : 0, hash);
    *answer = NULL;
    enum api_result r = perform(conn, &c, method, path, query, hdr, nh, &b, hash, 300, err);
    if (r == API_OK) {
        *answer = c.len ? parse_bounded(c.buf, c.len) : json_object_new_object();
        if (!*answer || !json_object_is_type(*answer, json_type_object)) {
            json_object_put(*answer);
            *answer = NULL;
            transport_error(err, "the answer from %s is not a JSON object", conn->endpoint);
            r = API_TRANSPORT;
        }
    }
    free(c.buf);
    return r;
}

/* ---------------------------------------------------------------- streaming calls */

enum api_result api_stream(struct api_conn *conn, const struct api_stream_request *rq,
                           struct api_answer_head *head, struct api_error *err)
{
    struct call c = { .stream = rq };
    char hash[65];
    switch (rq->body.kind) {
    case API_BODY_NONE:
        sigv4_sha256_hex("", 0, hash);
        break;
    case API_BODY_MEMORY:
        sigv4_sha256_hex(rq->body.data, rq->body.len, hash);
        break;
    case API_BODY_FILE:
        if (!api_sha256_file(rq->body.file, hash)) {
            transport_error(err, "cannot read the request body: %s", strerror(errno));
            return API_TRANSPORT;
        }
        break;
    case API_BODY_PIPE:
        snprintf(hash, sizeof hash, "UNSIGNED-PAYLOAD");
        break;
    }
    enum api_result r = perform(conn, &c, rq->method, rq->path, rq->query, rq->headers, rq->header_count,
                                &rq->body, hash, 0, err);
    *head = c.head;
    free(c.buf);
    return r;
}
