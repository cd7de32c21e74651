/* frontend/aws_error.c — AWS error types → HTTP statuses (see aws_error.h). */
#include "frontend/aws_error.h"

#include <string.h>

#include <json-c/json.h>

static const struct {
    const char *type;
    unsigned status;
} error_statuses[] = {
    { AWS_ACCESS_DENIED, 403 },   { AWS_CONFLICT, 409 },          { AWS_RETRYABLE_CONFLICT, 409 },
    { AWS_INTERNAL, 500 },        { AWS_NOT_FOUND, 404 },         { AWS_RUNTIME_CLIENT_ERROR, 424 },
    { AWS_QUOTA, 402 },           { AWS_THROTTLING, 429 },        { AWS_VALIDATION, 400 },
    { AWS_UNAUTHORIZED, 401 },    { AWS_LIMIT_EXCEEDED, 400 },    { AWS_UNKNOWN_OPERATION, 404 },
    { AWS_PAYLOAD_TOO_LARGE, 413 }, { AWS_SERVICE_UNAVAILABLE, 503 },
    { AWS_UNRECOGNIZED_CLIENT, 403 }, { AWS_INVALID_SIGNATURE, 403 },
};

unsigned aws_error_status(const char *type)
{
    for (size_t i = 0; i < sizeof error_statuses / sizeof error_statuses[0]; i++)
        if (strcmp(error_statuses[i].type, type) == 0)
            return error_statuses[i].status;
    return 500;
}

char *aws_error_body(const char *message)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string(message));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

char *aws_error_body_for(const char *type, const char *message)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string(message));
    if (type && strcmp(type, AWS_VALIDATION) == 0)
        json_object_object_add(o, "reason", json_object_new_string("FieldValidationFailed"));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}
