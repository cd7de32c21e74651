/* frontend/control_plane_validate.h — request validation for the control plane (reference
 * §2.3, §2.6, §2.7). Messages are safe to return to the caller. */
#ifndef SILO_FRONTEND_CONTROL_PLANE_VALIDATE_H
#define SILO_FRONTEND_CONTROL_PLANE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* ^[a-zA-Z][a-zA-Z0-9_]{0,max_tail}$ */
bool cp_valid_name(const char *s, size_t max_tail);
/* 33..256 characters, ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}$ */
bool cp_valid_client_token(const char *s);

/* Validates a Create (is_update false) or Update request and returns the normalised version
 * configuration (lifecycle defaults filled in, protocol defaulting to HTTP), or NULL with a
 * message. The caller owns the result. */
json_object *cp_validate_runtime_request(json_object *req, bool is_update, char *msg, size_t len);

#endif
