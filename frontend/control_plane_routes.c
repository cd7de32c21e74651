/* frontend/control_plane_routes.c — the control plane's one route table: every operation is
 * one row {method, path pattern, handler}. Both questions asked of a path are answered from it:
 * whether silod's HTTP server hands a request to the control plane (control_plane_owns) and
 * which handler serves it (control_plane_handle, via cpl_route_find).
 *
 * A pattern is the path as AgentCore's REST API spells it, trailing slash included; `{id}`,
 * `{name}` and `{arn}` match one non-empty segment, percent-decoded (url.h) — so `{arn}` may
 * hold `/` sent as `%2F`. A segment that does not decode matches nothing. */
#include "frontend/control_plane_internal.h"

#include <stdio.h>
#include <string.h>

#include "base/url.h"

struct cpl_route {
    const char *method;
    const char *pattern;
    cpl_handler *handler;
};

static const struct cpl_route routes[] = {
    { "PUT",    "/runtimes/",                                cpl_create_runtime },
    { "POST",   "/runtimes/",                                cpl_list_runtimes },
    { "GET",    "/runtimes/{id}/",                           cpl_get_runtime },
    { "PUT",    "/runtimes/{id}/",                           cpl_update_runtime },
    { "DELETE", "/runtimes/{id}/",                           cpl_delete_runtime },
    { "POST",   "/runtimes/{id}/versions/",                  cpl_list_versions },
    { "PUT",    "/runtimes/{id}/runtime-endpoints/",         cpl_create_endpoint },
    { "POST",   "/runtimes/{id}/runtime-endpoints/",         cpl_list_endpoints },
    { "GET",    "/runtimes/{id}/runtime-endpoints/{name}/",  cpl_get_endpoint },
    { "PUT",    "/runtimes/{id}/runtime-endpoints/{name}/",  cpl_update_endpoint },
    { "DELETE", "/runtimes/{id}/runtime-endpoints/{name}/",  cpl_delete_endpoint },
    { "POST",   "/tags/{arn}",                               cpl_tag_resource },
    { "DELETE", "/tags/{arn}",                               cpl_untag_resource },
    { "GET",    "/tags/{arn}",                               cpl_list_tags },
};

/* Matches raw_path against pattern, filling the placeholders' decoded values into params. */
static bool path_matches(const char *pattern, const char *raw_path, struct cpl_route_params *params)
{
    const char *p = pattern, *s = raw_path;
    memset(params, 0, sizeof *params);
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            char *out = strncmp(p, "{id}", 4) == 0 ? params->id : strncmp(p, "{name}", 6) == 0 ? params->name
                                                                                              : params->arn;
            bool *has = out == params->id ? &params->has_id : out == params->name ? &params->has_name
                                                                                  : &params->has_arn;
            if (len == 0 || url_decode(s, len, out, sizeof params->id) < 0)
                return false;
            *has = true;
            p = close + 1;
            s += len;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return !*p && !*s;
}

enum cpl_route_match cpl_route_find(const char *method, const char *raw_path, cpl_handler **handler,
                                  struct cpl_route_params *params)
{
    enum cpl_route_match m = CPL_ROUTE_NONE;
    struct cpl_route_params found;
    for (size_t i = 0; raw_path && i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(routes[i].pattern, raw_path, &found))
            continue;
        *params = found;
        if (strcmp(routes[i].method, method) == 0) {
            *handler = routes[i].handler;
            return CPL_ROUTE_FOUND;
        }
        m = CPL_ROUTE_OTHER_METHOD;
    }
    return m;
}

bool control_plane_owns(const char *method, const char *raw_path)
{
    cpl_handler *h;
    struct cpl_route_params params;
    return cpl_route_find(method, raw_path, &h, &params) == CPL_ROUTE_FOUND;
}
