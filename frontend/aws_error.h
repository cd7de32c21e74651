/* frontend/aws_error.h — AWS restJson1 error types and their HTTP statuses (reference §1.5,
 * §2.1). An error is answered with `x-amzn-errortype: <type>` and `{"message": "..."}`. */
#ifndef SILO_FRONTEND_AWS_ERROR_H
#define SILO_FRONTEND_AWS_ERROR_H

#define AWS_ACCESS_DENIED "AccessDeniedException"
#define AWS_CONFLICT "ConflictException"
#define AWS_RETRYABLE_CONFLICT "RetryableConflictException"
#define AWS_INTERNAL "InternalServerException"
#define AWS_NOT_FOUND "ResourceNotFoundException"
#define AWS_RUNTIME_CLIENT_ERROR "RuntimeClientError"
#define AWS_QUOTA "ServiceQuotaExceededException"
#define AWS_THROTTLING "ThrottlingException"
#define AWS_VALIDATION "ValidationException"
#define AWS_UNAUTHORIZED "UnauthorizedException"
#define AWS_LIMIT_EXCEEDED "ResourceLimitExceededException"
#define AWS_UNKNOWN_OPERATION "UnknownOperationException"
#define AWS_PAYLOAD_TOO_LARGE "PayloadTooLargeException"
#define AWS_SERVICE_UNAVAILABLE "ServiceUnavailableException"   /* 503: silod is draining */
#define AWS_UNRECOGNIZED_CLIENT "UnrecognizedClientException"   /* 403: unknown access key id / token */
#define AWS_INVALID_SIGNATURE "InvalidSignatureException"       /* 403: the signature does not match */

/* HTTP status for an error type (500 for unknown types). */
unsigned aws_error_status(const char *type);

/* {"message":"..."} with the message JSON-escaped; malloc'd. */
char *aws_error_body(const char *message);
/* The body for an error of this type: {"message":"..."}, and for ValidationException also
 * "reason" (AWS's ValidationExceptionReason: "FieldValidationFailed"); malloc'd. */
char *aws_error_body_for(const char *type, const char *message);

#endif
