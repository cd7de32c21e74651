/* frontend/control_plane_validate.h — request validation for the control plane (reference
 * §2.3, §2.6, §2.7). Messages are safe to return to the caller. */
#ifndef SILO_FRONTEND_CONTROL_PLANE_VALIDATE_H
#define SILO_FRONTEND_CONTROL_PLANE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* ^[a-zA-Z][a-zA-Z0-9_]{0,max_tail}$ */
bool cp_valid_name(const char *s, size_t max_tail);
/* A JSON string that is a whole valid name: cp_valid_name over all of its bytes, so a NUL
 * (or any other control character) anywhere in it fails the rule. */
bool cp_valid_json_name(json_object *v, size_t max_tail);
/* Whether every string in o, object keys included, is well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
bool cp_json_utf8_valid(json_object *o);

/* Whether the JSON text holds a `\u0000` escape in any string or key: json-c turns keys into C
 * strings, so a NUL there would silently cut the key short; no control-plane field may hold
 * one, so the whole body is refused instead. */
bool cp_json_text_has_nul(const char *text, size_t len);
/* 33..256 characters, ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}$ */
bool cp_valid_client_token(const char *s);

/* Validates a Create (is_update false) or Update request and returns the normalised version
 * configuration (lifecycle defaults filled in, protocol defaulting to HTTP), or NULL with a
 * message. The caller owns the result. */
json_object *cp_validate_runtime_request(json_object *req, bool is_update, char *msg, size_t len);

#endif
