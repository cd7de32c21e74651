/* tools/cli/api_client.h — signed HTTP calls from the `silo` CLI to silod (libcurl).
 *
 * Two kinds of call:
 *   api_json()    a control-plane style call: an optional JSON request body, a JSON answer
 *                 (bounded to API_MAX_ANSWER bytes, parsed with json-c, depth-limited);
 *   api_stream()  a data-plane call whose body comes from memory, a file or a pipe and whose
 *                 answer is handed to a sink as it arrives (InvokeAgentRuntime).
 * Requests are signed with SigV4 (service bedrock-agentcore): by libcurl's CURLOPT_AWS_SIGV4
 * when the path needs no percent-encoding, by sigv4_sign.c otherwise (see its header comment).
 * Paths and queries given here are already encoded (api_encode_segment, api_query_add).
 */
#ifndef SILO_TOOLS_CLI_API_CLIENT_H
#define SILO_TOOLS_CLI_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>
#include <json-c/json.h>

#define API_MAX_ANSWER (8u << 20)     /* a control-plane answer larger than this is refused */
#define API_MAX_ERROR_BODY (64u << 10)

struct api_conn {
    CURL *curl;
    char endpoint[1024];        /* scheme://host[:port][/prefix], no trailing slash */
    char host_header[512];      /* the Host header value sent (and signed) */
    char base_path[512];        /* the endpoint's path prefix ("" for none) */
    const char *region;
    const char *access_key;
    const char *secret_key;
    const char *session_token;  /* NULL for long-term keys */
    bool own_signer_always;     /* SILO_CLI_OWN_SIGV4=1: sign every call with sigv4_sign.c */
    const char *ca_file;        /* https: trust this PEM bundle (--ca-file) instead of the system's */
};

/* An error answer (or a transport failure, status 0) in the shape the CLI prints. */
struct api_error {
    long status;
    char type[128];
    char message[1024];
};

enum api_result {
    API_OK = 0,        /* 2xx */
    API_ERROR,         /* an HTTP error answer; err is filled */
    API_TRANSPORT,     /* could not connect, cut off, answer too large or not JSON; err filled */
};

/* Sets up the connection: validates the endpoint URL (http/https, a host, no query).
 * Returns false with a one-line reason in why. */
bool api_conn_init(struct api_conn *c, const char *endpoint_url, char *why, size_t why_len);
void api_conn_free(struct api_conn *c);

/* Prints `silo: <Type>: <message> (HTTP N)`, or `silo: <message>` for a transport failure. */
void api_print_error(const struct api_error *err);

/* Percent-encodes one path segment (RFC 3986 unreserved characters kept) into out. */
bool api_encode_segment(const char *s, char *out, size_t out_len);
/* Appends name=value (value strictly encoded) to a query buffer; names are appended by the
 * caller in sorted order (the canonical SigV4 order). */
bool api_query_add(char *query, size_t len, const char *name, const char *value);

enum api_result api_json(struct api_conn *c, const char *method, const char *path, const char *query,
                         json_object *body, json_object **answer, struct api_error *err);
/* The same with extra (signed) request headers. */
struct api_header;
enum api_result api_json_headers(struct api_conn *c, const char *method, const char *path, const char *query,
                                 const struct api_header *headers, size_t header_count, json_object *body,
                                 json_object **answer, struct api_error *err);

/* ---------------------------------------------------------------- streaming calls */

enum api_body_kind { API_BODY_NONE, API_BODY_MEMORY, API_BODY_FILE, API_BODY_PIPE };

struct api_body {
    enum api_body_kind kind;
    const char *data;           /* API_BODY_MEMORY */
    size_t len;
    FILE *file;                 /* API_BODY_FILE (seekable, size known) or API_BODY_PIPE */
    long long size;             /* API_BODY_FILE */
};

struct api_header {
    const char *name;
    const char *value;
};

struct api_answer_head {
    long status;
    char content_type[256];
    char error_type[128];       /* x-amzn-errortype, "" when absent */
    char session_id[300];       /* X-Amzn-Bedrock-AgentCore-Runtime-Session-Id */
};

struct api_stream_request {
    const char *method, *path, *query;
    const struct api_header *headers;   /* extra headers, signed too */
    size_t header_count;
    struct api_body body;
    /* called once, when the final answer's head has arrived */
    void (*on_head)(void *ctx, const struct api_answer_head *head);
    /* called for each piece of a successful answer (or an error answer without
     * x-amzn-errortype: the agent's own); returns false to abort */
    bool (*on_data)(void *ctx, const char *data, size_t len);
    void *ctx;
};

/* Performs the call. For an AWS error answer (x-amzn-errortype set) the body is collected
 * (bounded) into err and API_ERROR returned; other answers stream to on_data, and an answer
 * status >= 400 without the header also gives API_ERROR (err->type "AgentError"). */
enum api_result api_stream(struct api_conn *c, const struct api_stream_request *rq,
                           struct api_answer_head *head, struct api_error *err);

/* SHA-256 of a seekable file from its current position to the end, then rewound there. */
bool api_sha256_file(FILE *f, char hex[65]);

#endif
