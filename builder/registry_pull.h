/* builder/registry_pull.h — pulling an agent image from an OCI registry (the OCI Distribution
 * API over libcurl) into an OCI image layout that silo-image reads like any other (oci.h).
 *
 * A containerUri HOST[:PORT]/REPO[:TAG|@sha256:HEX] is pulled only from a registry silod's config
 * names (`registries`, frontend/README.md): the entry whose host is HOST, or whose `match`
 * patterns match it (so `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG` can be served by a
 * registry of one's own). The entry gives the endpoint, the credentials (HTTP basic, or basic at
 * the token realm of a `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge; none:
 * anonymous) and whether plain http is allowed (`insecure_http`; loopback endpoints always may).
 *
 * Every byte is hostile and bounded: the manifest (and index) at most max_manifest bytes, each
 * blob at most max_layer and its descriptor's size, all blobs together at most max_image; each
 * request ends within timeout_s (and stalls end sooner). Every blob (manifests, config, layers)
 * is verified against its sha256 digest while it streams to disk; a blob is put into the cache
 * (CACHE/blobs/sha256/HEX, shared by all builds) only once verified, so a cached blob is reused
 * without a second download. Image indexes are followed to the linux/arm64 manifest (oci.h's
 * oci_pick_arm64, the same choice as for a local OCI layout).
 *
 * Settings come from the builder's environment, never its command line: SILO_REGISTRIES holds
 * them as JSON (silod's image_builder.c writes it; registry_settings_parse reads it):
 *   {"registries": [{"host": "H[:P]", "username": "u", "password": "p", "insecure_http": false,
 *                    "match": ["*.dkr.ecr.*.amazonaws.com"]}],
 *    "cache": "DIR", "max_manifest_kib": 4096, "max_layer_mib": 4096, "max_image_mib": 8192,
 *    "timeout_s": 600}
 */
#ifndef SILO_BUILDER_REGISTRY_PULL_H
#define SILO_BUILDER_REGISTRY_PULL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGISTRY_MAX_ENTRIES 64
#define REGISTRY_MAX_MATCH 16
#define REGISTRY_DEFAULT_MAX_MANIFEST_KIB 4096
#define REGISTRY_DEFAULT_MAX_LAYER_MIB 4096
#define REGISTRY_DEFAULT_MAX_IMAGE_MIB 8192
#define REGISTRY_DEFAULT_TIMEOUT_S 600

/* A parsed image reference. */
struct registry_ref {
    char host[256];              /* HOST[:PORT] as written (lower-cased) */
    char repo[256];              /* [a-z0-9]+([._-][a-z0-9]+)* components joined by '/' */
    char tag[129];               /* "" when only a digest was given */
    char digest[72];             /* "sha256:" and 64 lowercase hex digits, or "" */
};

/* The Docker repository-name rule (also the local image store's, silod_build_image.c). */
bool registry_valid_repository(const char *s, size_t len);
bool registry_valid_tag(const char *s);
/* true when uri starts with a registry host: a first '/'-component holding '.' or ':', or
 * "localhost" (Docker's rule), followed by a repository. */
bool registry_names_host(const char *uri);
/* Parses HOST[:PORT]/REPO[:TAG][@sha256:HEX] (TAG "latest" when neither is given). 0, or -1
 * with the reason. */
int registry_parse_ref(const char *uri, struct registry_ref *ref, char *err, size_t errlen);

/* A WWW-Authenticate challenge: scheme "Bearer" or "Basic" and its parameters. */
struct registry_challenge {
    char scheme[16];
    char realm[1024], service[256], scope[512];
};
/* 0, or -1 when the header is malformed, too long, or names another scheme. */
int registry_parse_challenge(const char *header, struct registry_challenge *c);

/* Host patterns: '*' stands for one or more characters other than '.', case-insensitive. */
bool registry_host_match(const char *pattern, const char *host);
/* HOST[:PORT] is 127.0.0.0/8, [::1] or localhost. */
bool registry_is_loopback(const char *hostport);

struct registry_entry {
    const char *host;                      /* the endpoint: HOST[:PORT] */
    const char *username, *password;       /* NULL: anonymous */
    bool insecure_http;
    const char *match[REGISTRY_MAX_MATCH];
    size_t match_count;
};

struct registry_settings {
    struct registry_entry entries[REGISTRY_MAX_ENTRIES];
    size_t count;
    const char *cache;                     /* NULL: the caller's default */
    uint64_t max_manifest, max_layer, max_image;   /* bytes */
    long timeout_s;
    const volatile sig_atomic_t *cancelled;   /* set (e.g. on SIGTERM): transfers end at once */
    void *json;                            /* private: what the strings point into */
};

/* Reads the SILO_REGISTRIES JSON (NULL or "": no registries, default limits). 0, or -1 with the
 * reason (never quoting a password). Free with registry_settings_free either way. */
int registry_settings_parse(const char *json, struct registry_settings *s, char *err, size_t errlen);
void registry_settings_free(struct registry_settings *s);
/* The entry serving host: its own host first, then the first whose match pattern fits. */
const struct registry_entry *registry_find(const struct registry_settings *s, const char *host);

struct registry_pull_stats {
    unsigned blobs_downloaded, blobs_cached, requests;
    uint64_t bytes_downloaded;
    char manifest_digest[72];              /* the linux/arm64 manifest */
};

/* Pulls ref from entry e into a new OCI image layout `layout_dir` (must not exist; its blobs are
 * hard links into cache_dir/blobs/sha256, copies across file systems). Progress lines on stdout.
 * 0, or -1 with a one-line reason (for failureReason). */
int registry_pull(const struct registry_settings *s, const struct registry_entry *e, const struct registry_ref *ref,
                  const char *cache_dir, const char *layout_dir, struct registry_pull_stats *stats, char *err,
                  size_t errlen);
/* Removes a layout registry_pull made (only the files it makes). */
void registry_layout_remove(const char *layout_dir);

#endif
