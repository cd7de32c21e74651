/* frontend/control_plane_validate.c — validation of Create/UpdateAgentRuntime and endpoint
 * requests against the reference's rules (§2.3, §2.6, §2.7); builds the normalised version
 * configuration that is stored immutably. */
#include "frontend/control_plane_validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return false;
}

bool cp_valid_name(const char *s, size_t max_tail)
{
    if (!s || !isalpha((unsigned char)s[0]))
        return false;
    size_t n = strlen(s);
    if (n > max_tail + 1)
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

bool cp_valid_json_name(json_object *v, size_t max_tail)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) && cp_valid_name(s, max_tail);
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

bool cp_json_text_has_nul(const char *text, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"') {
            in_string = !in_string;
        } else if (in_string && text[i] == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
                return true;
            i++;              /* the escaped character (a quote or backslash) is not structure */
        }
    }
    return false;
}

bool cp_json_utf8_valid(json_object *o)
{
    if (json_object_is_type(o, json_type_string))
        return utf8_valid((const unsigned char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!cp_json_utf8_valid(json_object_array_get_idx(o, i)))
                return false;
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            if (!utf8_valid((const unsigned char *)k, strlen(k)) || !cp_json_utf8_valid(v))
                return false;
        }
    }
    return true;
}

bool cp_valid_client_token(const char *s)
{
    /* 33..256, ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}$ */
    size_t n = strlen(s);
    if (n < 33 || n > 256 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static json_object *member(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) ? v : NULL;
}

static bool is_string(json_object *v, size_t min, size_t max)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return false;
    size_t n = (size_t)json_object_get_string_len(v);
    return n >= min && n <= max;
}

/* A list of strings with at least one item (the reference: "at least 1 item when present"). */
static bool string_list(json_object *v, size_t max_items, size_t max_len)
{
    if (!v || !json_object_is_type(v, json_type_array))
        return false;
    size_t n = json_object_array_length(v);
    if (n < 1 || n > max_items)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_string(json_object_array_get_idx(v, i), 1, max_len))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcmp(s + a - b, suffix) == 0;
}

/* Every byte of the JSON string v is alphanumeric or in punct (an embedded NUL is not). */
static bool only_chars(json_object *v, const char *punct)
{
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && (s[i] == '\0' || !strchr(punct, s[i])))
            return false;
    return true;
}

/* The API's claim name pattern is written `[A-Za-z0-9_.-:]+`, which as a regex range admits
 * `/` and `:` but not `-`; the later CloudFormation form spells out `[A-Za-z0-9_.:/-]+`. We
 * accept that union. Match values: `[A-Za-z0-9_.-]+` (the Runtime's ClaimMatchValueType). */
#define CLAIM_NAME_PUNCT "_.:/-"
#define CLAIM_VALUE_PUNCT "_.-"
#define CLAIM_MAX_RULES 255

/* Claim names AgentCore refuses as custom claims: `client_id` is reserved by the service (the
 * API rejects it, aws/agentcore-cli#644; allowedClients is the way to check it). */
static const char *const reserved_claim_names[] = { "client_id" };

static bool match_value(json_object *v)
{
    return is_string(v, 1, 255) && only_chars(v, CLAIM_VALUE_PUNCT);
}

static bool validate_custom_claim(json_object *c, size_t i, char *msg, size_t len)
{
    if (!json_object_is_type(c, json_type_object))
        return fail(msg, len, "customJWTAuthorizer.customClaims[%zu] must be an object", i);
    json_object *name = member(c, "inboundTokenClaimName");
    if (!is_string(name, 1, 255) || !only_chars(name, CLAIM_NAME_PUNCT))
        return fail(msg, len, "customClaims[%zu].inboundTokenClaimName must be 1 to 255 characters "
                              "of [A-Za-z0-9_.:/-]", i);
    const char *n = json_object_get_string(name);
    for (size_t k = 0; k < sizeof reserved_claim_names / sizeof reserved_claim_names[0]; k++)
        if (strcmp(n, reserved_claim_names[k]) == 0)
            return fail(msg, len, "customClaims[%zu].inboundTokenClaimName %s is reserved (use "
                                  "allowedClients)", i, n);
    json_object *type = member(c, "inboundTokenClaimValueType");
    const char *t = type && json_object_is_type(type, json_type_string) ? json_object_get_string(type) : "";
    bool is_array = strcmp(t, "STRING_ARRAY") == 0;
    if (!is_array && strcmp(t, "STRING") != 0)
        return fail(msg, len, "customClaims[%zu].inboundTokenClaimValueType must be STRING or "
                              "STRING_ARRAY", i);
    json_object *match = member(c, "authorizingClaimMatchValue");
    if (!match || !json_object_is_type(match, json_type_object))
        return fail(msg, len, "customClaims[%zu].authorizingClaimMatchValue is required", i);
    json_object *opv = member(match, "claimMatchOperator");
    const char *op = opv && json_object_is_type(opv, json_type_string) ? json_object_get_string(opv) : "";
    if (strcmp(op, "EQUALS") != 0 && strcmp(op, "CONTAINS") != 0 && strcmp(op, "CONTAINS_ANY") != 0)
        return fail(msg, len, "customClaims[%zu].authorizingClaimMatchValue.claimMatchOperator must "
                              "be EQUALS, CONTAINS or CONTAINS_ANY", i);
    json_object *value = member(match, "claimMatchValue");
    if (!value || !json_object_is_type(value, json_type_object))
        return fail(msg, len, "customClaims[%zu].authorizingClaimMatchValue.claimMatchValue is "
                              "required", i);
    json_object *one = member(value, "matchValueString"), *list = member(value, "matchValueStringList");
    if (json_object_object_length(value) != 1 || (!one && !list))
        return fail(msg, len, "customClaims[%zu].claimMatchValue must have exactly one member: "
                              "matchValueString or matchValueStringList", i);
    if (one && !match_value(one))
        return fail(msg, len, "customClaims[%zu].claimMatchValue.matchValueString must be 1 to 255 "
                              "characters of [A-Za-z0-9_.-]", i);
    if (list) {
        bool ok = json_object_is_type(list, json_type_array) && json_object_array_length(list) >= 1 &&
                  json_object_array_length(list) <= 255;
        for (size_t k = 0; ok && k < json_object_array_length(list); k++)
            ok = match_value(json_object_array_get_idx(list, k));
        if (!ok)
            return fail(msg, len, "customClaims[%zu].claimMatchValue.matchValueStringList must list "
                                  "1 to 255 strings of [A-Za-z0-9_.-]", i);
    }
    /* the combinations that mean something */
    if (strcmp(op, "EQUALS") == 0 && (is_array || !one))
        return fail(msg, len, "customClaims[%zu]: EQUALS needs inboundTokenClaimValueType STRING "
                              "and matchValueString", i);
    if (strcmp(op, "CONTAINS") == 0 && (!is_array || !one))
        return fail(msg, len, "customClaims[%zu]: CONTAINS needs inboundTokenClaimValueType "
                              "STRING_ARRAY and matchValueString", i);
    if (strcmp(op, "CONTAINS_ANY") == 0 && (!is_array || !list))
        return fail(msg, len, "customClaims[%zu]: CONTAINS_ANY needs inboundTokenClaimValueType "
                              "STRING_ARRAY and matchValueStringList", i);
    return true;
}

static bool validate_custom_claims(json_object *claims, char *msg, size_t len)
{
    if (!json_object_is_type(claims, json_type_array) || json_object_array_length(claims) < 1 ||
        json_object_array_length(claims) > CLAIM_MAX_RULES)
        return fail(msg, len, "customJWTAuthorizer.customClaims must list 1 to %d rules",
                    CLAIM_MAX_RULES);
    for (size_t i = 0; i < json_object_array_length(claims); i++)
        if (!validate_custom_claim(json_object_array_get_idx(claims, i), i, msg, len))
            return false;
    return true;
}

static bool validate_authorizer(json_object *auth, char *msg, size_t len)
{
    json_object *jwt = member(auth, "customJWTAuthorizer");
    if (!json_object_is_type(auth, json_type_object) || !jwt ||
        !json_object_is_type(jwt, json_type_object))
        return fail(msg, len, "authorizerConfiguration must contain customJWTAuthorizer%s", "");
    json_object *url = member(jwt, "discoveryUrl");
    if (!is_string(url, 1, 2048) ||
        !ends_with(json_object_get_string(url), "/.well-known/openid-configuration"))
        return fail(msg, len, "customJWTAuthorizer.discoveryUrl must match %s",
                    "^.+/\\.well-known/openid-configuration$");
    const char *const lists[] = { "allowedAudience", "allowedClients", "allowedScopes" };
    for (size_t i = 0; i < 3; i++) {
        json_object *l = member(jwt, lists[i]);
        if (l && !string_list(l, 255, 255))
            return fail(msg, len, "customJWTAuthorizer.%s must be a list of 1 or more strings",
                        lists[i]);
    }
    json_object *claims = member(jwt, "customClaims");
    if (claims && !validate_custom_claims(claims, msg, len))
        return false;
    return true;
}

static const char *const restricted_headers[] = {
    "accept", "accept-charset", "accept-encoding", "connection", "content-length", "content-type",
    "cookie", "host", "keep-alive", "origin", "proxy-authorization", "referer", "te", "trailer",
    "transfer-encoding", "upgrade", "user-agent", "via", "access-control-allow-origin",
    "access-control-allow-headers", "access-control-allow-methods", "access-control-request-method",
    "access-control-request-headers", "expect",
};

static bool validate_header_allowlist(json_object *cfg, bool has_jwt, char *msg, size_t len)
{
    json_object *list = member(cfg, "requestHeaderAllowlist");
    if (!json_object_is_type(cfg, json_type_object) || !string_list(list, 20, 256))
        return fail(msg, len, "requestHeaderConfiguration.requestHeaderAllowlist must list 1 to 20 "
                              "header names%s", "");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        const char *h = json_object_get_string(json_object_array_get_idx(list, i));
        for (const char *p = h; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                return fail(msg, len, "header name %s is not a valid token", h);
        if (strncasecmp(h, "x-amz-", 6) == 0)
            return fail(msg, len, "header %s: x-amz-* headers cannot be allow-listed", h);
        if (strncasecmp(h, "x-amzn-", 7) == 0 &&
            strncasecmp(h, "x-amzn-bedrock-agentcore-runtime-custom-", 40) != 0)
            return fail(msg, len, "header %s: x-amzn-* headers cannot be allow-listed except "
                                  "X-Amzn-Bedrock-AgentCore-Runtime-Custom-*", h);
        if (strcasecmp(h, "authorization") == 0 && !has_jwt)
            return fail(msg, len, "header %s requires a customJWTAuthorizer", h);
        for (size_t k = 0; k < sizeof restricted_headers / sizeof restricted_headers[0]; k++)
            if (strcasecmp(h, restricted_headers[k]) == 0)
                return fail(msg, len, "header %s is restricted", h);
    }
    return true;
}

static bool int_member(json_object *o, const char *name, bool *present, int64_t *out)
{
    json_object *v = member(o, name);
    *present = v != NULL;
    if (!v)
        return true;
    if (!json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

static bool normalise_lifecycle(json_object *in, json_object *cfg, char *msg, size_t len)
{
    int64_t idle = 900, max = 28800;
    if (in) {
        bool has_idle, has_max;
        int64_t i = 0, m = 0;
        if (!json_object_is_type(in, json_type_object) ||
            !int_member(in, "idleRuntimeSessionTimeout", &has_idle, &i) ||
            !int_member(in, "maxLifetime", &has_max, &m))
            return fail(msg, len, "lifecycleConfiguration values must be integers%s", "");
        if ((has_idle && (i < 60 || i > 28800)) || (has_max && (m < 60 || m > 28800)))
            return fail(msg, len, "lifecycleConfiguration values must be within 60-28800 %s",
                        "seconds");
        if (has_max)
            max = m;
        if (has_idle)
            idle = i;
        else if (has_max && m <= 900)
            idle = m;      /* only maxLifetime ≤ 900 given: both take it */
        if (idle > max)
            return fail(msg, len, "idleRuntimeSessionTimeout must not exceed maxLifetime%s", "");
    }
    json_object *lc = json_object_new_object();
    json_object_object_add(lc, "idleRuntimeSessionTimeout", json_object_new_int64(idle));
    json_object_object_add(lc, "maxLifetime", json_object_new_int64(max));
    json_object_object_add(cfg, "lifecycleConfiguration", lc);
    return true;
}

static void copy(json_object *from, json_object *to, const char *name)
{
    json_object *v = member(from, name);
    if (v)
        json_object_object_add(to, name, json_object_get(v));
}

json_object *cp_validate_runtime_request(json_object *req, bool is_update, char *msg, size_t len)
{
    if (!req || !json_object_is_type(req, json_type_object)) {
        fail(msg, len, "request body must be a JSON object%s", "");
        return NULL;
    }
    json_object *name = member(req, "agentRuntimeName");
    if (!is_update && (!is_string(name, 1, 48) || !cp_valid_json_name(name, 47))) {
        fail(msg, len, "agentRuntimeName must match %s", "^[a-zA-Z][a-zA-Z0-9_]{0,47}$");
        return NULL;
    }
    json_object *art = member(req, "agentRuntimeArtifact");
    json_object *cc = art ? member(art, "containerConfiguration") : NULL;
    if (!art || !json_object_is_type(art, json_type_object)) {
        fail(msg, len, "agentRuntimeArtifact is required%s", "");
        return NULL;
    }
    if (member(art, "codeConfiguration")) {
        fail(msg, len, "agentRuntimeArtifact.codeConfiguration is not supported; use %s",
             "containerConfiguration");
        return NULL;
    }
    if (!cc || !is_string(member(cc, "containerUri"), 1, 1024)) {
        fail(msg, len, "agentRuntimeArtifact.containerConfiguration.containerUri is required%s", "");
        return NULL;
    }
    if (!is_string(member(req, "roleArn"), 1, 2048)) {
        fail(msg, len, "roleArn is required%s", "");
        return NULL;
    }
    json_object *net = member(req, "networkConfiguration");
    json_object *mode = net ? member(net, "networkMode") : NULL;
    const char *m = mode && json_object_is_type(mode, json_type_string) ? json_object_get_string(mode) : "";
    /* optional in current botocore and the JS SDK: absent means PUBLIC (added below) */
    if (net && strcmp(m, "PUBLIC") != 0 && strcmp(m, "VPC") != 0) {
        fail(msg, len, "networkConfiguration.networkMode must be %s", "PUBLIC or VPC");
        return NULL;
    }
    json_object *desc = member(req, "description");
    if (desc && !is_string(desc, 0, 4096)) {
        fail(msg, len, "description must be a string of at most %s characters", "4096");
        return NULL;
    }
    json_object *proto = member(req, "protocolConfiguration");
    if (proto) {
        json_object *sp = member(proto, "serverProtocol");
        const char *p = sp && json_object_is_type(sp, json_type_string) ? json_object_get_string(sp) : "";
        if (strcmp(p, "HTTP") && strcmp(p, "MCP") && strcmp(p, "A2A") && strcmp(p, "AGUI")) {
            fail(msg, len, "protocolConfiguration.serverProtocol must be %s", "HTTP, MCP, A2A or AGUI");
            return NULL;
        }
    }
    json_object *auth = member(req, "authorizerConfiguration");
    if (auth && !validate_authorizer(auth, msg, len))
        return NULL;
    json_object *hdr = member(req, "requestHeaderConfiguration");
    if (hdr && !validate_header_allowlist(hdr, auth != NULL, msg, len))
        return NULL;
    json_object *env = member(req, "environmentVariables");
    if (env) {
        if (!json_object_is_type(env, json_type_object) || json_object_object_length(env) > 50) {
            fail(msg, len, "environmentVariables must be a map of at most %s strings", "50");
            return NULL;
        }
        json_object_object_foreach(env, k, v) {
            if (!cp_valid_name(k, 99) && !(k[0] == '_' && (k[1] == '\0' || cp_valid_name(k + 1, 98)))) {
                fail(msg, len, "environment variable name %s is not valid", k);
                return NULL;
            }
            if (!is_string(v, 0, 5000)) {
                fail(msg, len, "environment variable %s must be a string of at most 5000 characters", k);
                return NULL;
            }
        }
    }
    json_object *meta = member(req, "metadataConfiguration");
    if (meta) {
        json_object *r = member(meta, "requireMMDSV2");
        if (!is_update || !r || !json_object_is_type(r, json_type_boolean)) {
            fail(msg, len, "metadataConfiguration.requireMMDSV2 must be a boolean (%s only)",
                 "UpdateAgentRuntime");
            return NULL;
        }
    }
    json_object *cfg = json_object_new_object();
    if (!normalise_lifecycle(member(req, "lifecycleConfiguration"), cfg, msg, len)) {
        json_object_put(cfg);
        return NULL;
    }
    static const char *const kept[] = {
        "agentRuntimeArtifact", "roleArn", "networkConfiguration", "description",
        "protocolConfiguration", "authorizerConfiguration", "requestHeaderConfiguration",
        "environmentVariables", "metadataConfiguration", "filesystemConfigurations",
        "platformVersion",
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        copy(req, cfg, kept[i]);
    if (!proto) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "serverProtocol", json_object_new_string("HTTP"));
        json_object_object_add(cfg, "protocolConfiguration", p);
    }
    if (!net) {
        json_object *n = json_object_new_object();
        json_object_object_add(n, "networkMode", json_object_new_string("PUBLIC"));
        json_object_object_add(cfg, "networkConfiguration", n);
    }
    return cfg;
}
