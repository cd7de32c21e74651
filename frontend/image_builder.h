/* frontend/image_builder.h — runs silod's configured image builder for every new version (the
 * control plane's version_builder, control_plane.h), one thread per build.
 *
 * The builder contract (frontend/README.md, "image_builder"; the real builder is
 * builder/silod_build_image.c, `silod-build-image`; builder/README.md):
 *
 *     BUILDER RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE VERSION_CONFIG
 *
 *   OUTPUT_IMAGE    ROOTFS_DIR/RUNTIME_ID-vVERSION.ext4, what the VMM launcher boots sessions from
 *   VERSION_CONFIG  a file (mode 0600, removed when the builder ends) holding the version's
 *                   configuration JSON (agentRuntimeArtifact, environmentVariables,
 *                   protocolConfiguration, lifecycleConfiguration, authorizerConfiguration, ...)
 *   environment     silod's own, plus what the real builder needs to build and boot the image
 *                   the way sessions will: SILO_VMM, SILO_VMM_KERNEL, SILO_VMM_INITRD,
 *                   SILO_VMM_CMDLINE, SILO_VMM_GUEST_MIB, SILO_VMM_CPUS, SILO_BOOT_TIMEOUT_MS (from
 *                   the `vmm` settings) and SILO_IMAGE_STORE, SILO_IMAGE_PATHS (':'-joined),
 *                   SILO_IMAGE_CACHE (from image_store, image_paths, image_cache) when configured,
 *                   and SILO_REGISTRIES: the `registries` (credentials included) and `registry`
 *                   settings as JSON (builder/registry_pull.h) — in the environment, never on the
 *                   command line nor in a log; the builder takes it out of its environment first
 *   exit status 0   the image was built and verified bootable: the version becomes READY
 *   otherwise       CREATE_FAILED / UPDATE_FAILED; failureReason is the builder's last non-empty
 *                   line on stderr (at most IMAGE_BUILDER_REASON_MAX bytes, control characters
 *                   replaced), or "image build failed (exit status N | signal N)" without one
 *
 * The builder's stdout and stderr lines are logged on silod's stderr as
 * `silod: build RUNTIME_ID vN: LINE`. It gets no other descriptors and dies with silod
 * (PR_SET_PDEATHSIG SIGTERM). It runs in a process group of its own: a build still running
 * after timeout_s (`image_build_timeout_s`, default 900) is ended — SIGTERM to the whole group,
 * SIGKILL 5 s later — and fails "image build timed out after N s". Its boot-check VMM runs in a
 * group of its own (frontend/microvm.h): the builder stops it with SIGTERM, and if the builder
 * is killed the VMM gets SIGTERM as its parent-death signal, so it always wipes.
 *
 * Bounds: at most max_concurrent builds (`max_concurrent_builds`, default 2) run at once; later
 * versions wait their turn (still CREATING/UPDATING). Each build's boot check boots a VM of
 * guest_mib, so when a capacity is attached (silod attaches its session table) that memory is
 * reserved against the host's max_guest_mib before the builder starts and given back after;
 * a build waits for room up to timeout_s, then fails "no guest memory free for the boot check".
 */
#ifndef SILO_FRONTEND_IMAGE_BUILDER_H
#define SILO_FRONTEND_IMAGE_BUILDER_H

#include <stdbool.h>
#include <stddef.h>

#include "frontend/control_plane.h"
#include "frontend/vmm_launcher.h"

#define IMAGE_BUILDER_REASON_MAX 400

struct image_builder_config {
    const char *command;       /* the builder program; NULL: every version fails "no image builder configured" */
    const char *image_store;   /* SILO_IMAGE_STORE, or NULL */
    const char *image_paths;   /* SILO_IMAGE_PATHS (':'-separated), or NULL */
    const char *image_cache;   /* SILO_IMAGE_CACHE, or NULL */
    const struct vmm_launcher_config *vmm;   /* rootfs_dir, VMM, kernel, ... (must outlive the builder) */
    unsigned guest_mib;        /* the sessions' guest RAM, for the boot check */
    unsigned timeout_s;        /* 0: IMAGE_BUILD_TIMEOUT_S */
    unsigned max_concurrent;   /* 0: IMAGE_BUILDS_CONCURRENT */
    const char *registries_json;   /* SILO_REGISTRIES (builder/registry_pull.h), or NULL */
};

#define IMAGE_BUILD_TIMEOUT_S 900
#define IMAGE_BUILDS_CONCURRENT 2

/* Where the boot checks' guest memory is reserved (silod: sessions_reserve_guest_mib and
 * sessions_release_guest_mib on its session table). */
struct image_builder_capacity {
    bool (*reserve)(void *ctx, unsigned mib);   /* true when reserved */
    void (*release)(void *ctx, unsigned mib);
    void *ctx;
};

struct image_builder;

/* The config's strings are copied. */
struct image_builder *image_builder_new(const struct image_builder_config *cfg);
/* The same from silod's config (silod_config.h): `image_builder`, `image_store`, `image_paths`,
 * `image_cache`, `image_build_timeout_s`, `max_concurrent_builds`, `registries`, `registry` and
 * the VM shape (`vmm.guest_mib`). */
struct silod_config;
struct image_builder *image_builder_from_config(const struct silod_config *silod_config,
                                                const struct vmm_launcher_config *vmm);
/* Only once no build runs any more (silod keeps its builder for its whole life). */
void image_builder_free(struct image_builder *b);
/* Must be called before the first version is submitted. */
void image_builder_attach(struct image_builder *b, struct control_plane *cp);
/* Optional, before the first build: reserve each boot check's guest memory there. */
void image_builder_attach_capacity(struct image_builder *b, const struct image_builder_capacity *cap);
/* The control plane's side of it (ctx = b). */
struct version_builder image_builder_interface(struct image_builder *b);

/* Runs the builder once, synchronously, within timeout_s: true on exit status 0; else false
 * with the failure reason. Exposed for tests. */
bool image_builder_run(const struct image_builder *b, const char *runtime_id, int version,
                       const char *config_json, char *reason, size_t reason_len);
/* One whole build as each build thread does it: waits for a build slot, reserves the boot
 * check's guest memory (waiting up to timeout_s), runs the builder, gives both back. Exposed for
 * tests. */
bool image_builder_build(struct image_builder *b, const char *runtime_id, int version,
                         const char *config_json, char *reason, size_t reason_len);

#endif
