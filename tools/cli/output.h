/* tools/cli/output.h — how the `silo` CLI shows the API's answers: the JSON as is (--json),
 * `key: value` lines for one resource and aligned columns for lists (readable output). Every
 * string from the server is printed with control characters replaced (a hostile answer cannot
 * drive the terminal). */
#ifndef SILO_TOOLS_CLI_OUTPUT_H
#define SILO_TOOLS_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

/* The answer, pretty-printed JSON, on stdout. */
void out_json(json_object *o);

/* `key: value` lines, values aligned; nested objects flattened with dotted keys
 * (`lifecycleConfiguration.maxLifetime`), arrays of scalars joined with ", ". keys: the
 * top-level members to show first, in that order (NULL-terminated, or NULL); rest: then every
 * other member, in the answer's order. */
void out_key_values(json_object *o, const char *const *keys, bool rest);

/* A list as aligned columns: one row per element of `items`; column i is headed titles[i]
 * and shows member paths[i] (dotted for nested members; "" when absent). */
void out_table(json_object *items, const char *const *titles, const char *const *paths, size_t columns);

/* The member at a dotted path, or NULL. */
json_object *out_get_path(json_object *o, const char *path);
/* The string value at a dotted path ("" when absent); numbers are formatted. The pointer is
 * valid while o lives. */
const char *out_get_string(json_object *o, const char *path);

/* Writes s with control characters replaced by '?' (C0, DEL, and C1 as UTF-8). */
void out_sanitized(FILE *f, const char *s);

#endif
