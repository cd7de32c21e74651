/* frontend/oauth2_callback.c — strict parsing of the 3LO callback's query (see
 * oauth2_callback.h). */
#include "frontend/oauth2_callback.h"

#include <stdbool.h>
#include <string.h>

#include "base/url.h"

const char *oauth2_cb_status_text(enum oauth2_cb_status st)
{
    switch (st) {
    case OAUTH2_CB_OK: return "ok";
    case OAUTH2_CB_TOO_LONG: return "callback query or one of its values too long";
    case OAUTH2_CB_BAD_ENCODING: return "callback query badly encoded";
    case OAUTH2_CB_DUPLICATE: return "callback parameter repeated";
    case OAUTH2_CB_NO_STATE: return "callback without state";
    case OAUTH2_CB_NO_RESULT: return "callback with neither code nor error";
    case OAUTH2_CB_BOTH: return "callback with both code and error";
    }
    return "?";
}

struct field {
    const char *key;
    size_t off, cap;    /* into struct oauth2_callback */
    bool strict;        /* RFC 6749 error charset: no '"' or '\' */
};

static const struct field fields[] = {
    { "state", offsetof(struct oauth2_callback, state), OAUTH2_CB_MAX_STATE + 1, false },
    { "code", offsetof(struct oauth2_callback, code), OAUTH2_CB_MAX_CODE + 1, false },
    { "error", offsetof(struct oauth2_callback, error), OAUTH2_CB_MAX_ERROR + 1, true },
    { "error_description", offsetof(struct oauth2_callback, error_description), OAUTH2_CB_MAX_DESCRIPTION + 1, true },
    { "error_uri", offsetof(struct oauth2_callback, error_uri), OAUTH2_CB_MAX_URI + 1, true },
    { "iss", offsetof(struct oauth2_callback, iss), OAUTH2_CB_MAX_URI + 1, false },
};
#define NFIELDS (sizeof fields / sizeof fields[0])

enum oauth2_cb_status oauth2_callback_parse(const char *query, size_t len, struct oauth2_callback *out)
{
    memset(out, 0, sizeof *out);
    if (len > OAUTH2_CB_MAX_QUERY)
        return OAUTH2_CB_TOO_LONG;
    if (memchr(query, 0, len))
        return OAUTH2_CB_BAD_ENCODING;
    /* the whole query must decode, known keys or not: one rule for every byte */
    char copy[OAUTH2_CB_MAX_QUERY + 1];
    memcpy(copy, query, len);
    copy[len] = 0;
    if (!url_query_valid(copy))
        return OAUTH2_CB_BAD_ENCODING;
    bool seen[NFIELDS] = { false };
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && query[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && query[eq] != '=')
            eq++;
        char key[32];
        /* a key that does not fit is no key of ours (the query decodes, so only size fails) */
        ssize_t kl = end > i ? url_decode(query + i, eq - i, key, sizeof key) : -1;
        for (size_t f = 0; kl >= 0 && f < NFIELDS; f++) {
            if (strcmp(key, fields[f].key) != 0)
                continue;
            if (seen[f])
                return OAUTH2_CB_DUPLICATE;
            seen[f] = true;
            const char *val = eq < end ? query + eq + 1 : query + end;
            size_t vl = eq < end ? end - eq - 1 : 0;
            char *dst = (char *)out + fields[f].off;
            ssize_t n = url_decode(val, vl, dst, fields[f].cap);
            if (n < 0)   /* it decodes (checked above), so it does not fit */
                return OAUTH2_CB_TOO_LONG;
            for (ssize_t c = 0; c < n; c++) {
                unsigned char ch = (unsigned char)dst[c];
                if (ch < 0x20 || ch > 0x7e || (fields[f].strict && (ch == '"' || ch == '\\')))
                    return OAUTH2_CB_BAD_ENCODING;
            }
        }
        i = end + 1;
    }
    if (!seen[0] || !out->state[0])
        return OAUTH2_CB_NO_STATE;
    bool code = seen[1] && out->code[0], error = seen[2] && out->error[0];
    if (code && error)
        return OAUTH2_CB_BOTH;
    if (!code && !error)
        return OAUTH2_CB_NO_RESULT;
    return OAUTH2_CB_OK;
}
