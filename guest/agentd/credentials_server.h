/* guest/agentd/credentials_server.h — the container-credentials endpoint on 127.0.0.1:1338
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1338/credentials).
 *
 * `GET <any path> HTTP/1.1` with `Authorization: <token>` (the per-boot token agentd puts in
 * AWS_CONTAINER_AUTHORIZATION_TOKEN) → 200 application/json with the credentials silod vends on
 * host port 1025 (guest_ports.h), cached until 5 minutes before their Expiration. A wrong or
 * missing token → 403; another method → 405; a refusal by the host (`ERR <status> msg`) → that
 * status with {"message": msg}; a broken channel or answer → 502. The credentials are never
 * logged. One request per connection (Connection: close). */
#ifndef SILO_GUEST_AGENTD_CREDENTIALS_SERVER_H
#define SILO_GUEST_AGENTD_CREDENTIALS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CREDENTIALS_TOKEN_HEX 64
#define CREDENTIALS_REFRESH_BEFORE_S 300
#define CREDENTIALS_HEAD_TIMEOUT_MS 10000
#define CREDENTIALS_FETCH_TIMEOUT_MS 40000

/* Fills token (cap > 64) with 32 random bytes in hex; false when getrandom fails. */
bool credentials_make_token(char *token, size_t cap);
/* The token requests must carry; set once before the listener starts. */
void credentials_set_token(const char *token);
/* Serves one connection in a worker thread and closes it. */
void credentials_serve(int client_fd);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC); false when malformed. Pure. */
bool credentials_parse_expiration(const char *text, time_t *out);
/* Checks a credentials JSON document: an object with string AccessKeyId, SecretAccessKey and
 * Expiration (parsable). Pure. */
bool credentials_json_valid(const char *json, size_t len, time_t *expiration);

#endif
