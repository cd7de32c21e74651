/* base/error_message.h — the project's one-line error convention for set-up code.
 *
 * Functions that can fail take `char *err, size_t errlen`, and on failure write one line saying
 * why (no trailing newline) and return -1: `return error_message(err, errlen, "--mem: %s", why);`.
 * The caller prints that line with its program name and exits non-zero. Header-only; shared by
 * silo-vmm (vmm/, boot/), the image builder (builder/), agentd's config parser and base/small_file.h.
 */
#ifndef SILO_BASE_ERROR_MESSAGE_H
#define SILO_BASE_ERROR_MESSAGE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

__attribute__((format(printf, 3, 4)))
static inline int error_message(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#endif
