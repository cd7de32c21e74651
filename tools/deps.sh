#!/usr/bin/env bash
# tools/deps.sh — `make deps`: installs everything Silo needs, from Debian's packages only.
#
# Three kinds of things, all idempotent and skipped when already present:
#   1. host packages (apt-get install): compilers, QEMU for the dev host, kernel source, tools;
#   2. arm64 libraries we link statically into our arm64 binaries (libfdt, zlib, json-c), and
#      those silod and silo-image link dynamically (libmicrohttpd, SQLite, libcurl, OpenSSL,
#      libarchive) with their runtime closure, plus Debian's arm64 e2fsprogs (mkfs.ext4 for
#      silo-image in the dev host): their Debian :arm64 .debs are unpacked into
#      $SILO_CACHE/arm64-sysroot (swapped in whole, never half-unpacked), because
#      some of them (libfdt-dev) cannot be co-installed with the host's copy under multiarch.
#      tools/devhost copies the shared libraries a dynamic /silo/bin program needs from there;
#   3. arm64 pieces of the dev host (Debian's arm64 kernel, busybox-static, QEMU for arm64 and
#      its shared-library closure) downloaded as .debs into $SILO_CACHE/debs, assembled later
#      by tools/devhost.
# Nothing is fetched from anywhere but Debian's archive.
set -euo pipefail

cache=${SILO_CACHE:-$HOME/.cache/silo}
sysroot=${ARM64_SYSROOT:-$cache/arm64-sysroot}   # as in the Makefile and tools/devhost
say() { echo "deps: $*"; }
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

host_packages=(
    make gcc clang lld libclang-rt-14-dev            # native build, clang check, libFuzzer
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross      # arm64 cross compiler
    qemu-system-arm                                   # the dev host (qemu-system-aarch64, TCG)
    linux-source-6.1 bc flex bison libssl-dev xz-utils   # guest kernel build
    e2fsprogs cpio socat kmod                         # images, initramfs (depmod), tests
    openssl                                           # the throwaway test CA of tests/host/silod_tls.sh
    libfdt-dev zlib1g-dev libjson-c-dev               # host copies for unit tests
    libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev   # silod (frontend/): HTTP, store, JWKS
    libarchive-dev                                    # silo image build: tar/gzip/zstd layers
    nodejs                                            # npm ci for the sample Node agents (tests/agents)
    chromium                                          # the user's browser in tests/host/identity_host.sh (puppeteer-core)
    docker-registry skopeo apache2-utils              # tests/host/oci_registry.sh: a loopback registry, pushes, htpasswd -B
)
arm64_sysroot_packages=(libfdt-dev libfdt1 zlib1g-dev zlib1g libjson-c-dev libjson-c5
    libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev   # silod (dynamic)
    libarchive-dev)                                                    # silo-image (dynamic)
# runtime packages (+ their closure below) of the dynamic arm64 programs, and e2fsprogs, whose
# mke2fs tools/devhost puts into the dev host as mkfs.ext4 (silo-image runs it there)
silod_runtime_packages=(libmicrohttpd12 libsqlite3-0 libcurl4 libssl3 libjson-c5 libarchive13 e2fsprogs)
devhost_packages=(busybox-static)

missing=()
for p in "${host_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding the arm64 architecture to dpkg"
    $sudo dpkg --add-architecture arm64
    need_update=1
fi
# apt lists for arm64 must be present for the downloads below
if [ -n "${need_update:-}" ] || [ ${#missing[@]} -gt 0 ] || ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
    say "apt-get update"
    $sudo apt-get update -q >/dev/null
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing host packages: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
    say "host packages: all ${#host_packages[@]} present"
fi

# Download arm64 .debs into $cache/debs (apt-get download skips nothing by itself, so we check).
mkdir -p "$cache/debs"
download_arm64() {
    local want=() p ver file found=0
    # one apt-cache call for all candidates (one call per package costs a second each)
    while read -r p ver; do
        [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "deps: no arm64 candidate for $p" >&2; exit 1; }
        file="$cache/debs/${p}_${ver//:/%3a}_arm64.deb"
        [ -s "$file" ] || want+=("$p:arm64")
        echo "$file" >>"$cache/debs/.wanted.$$"
        found=$((found + 1))
    done < <(apt-cache policy "${@/%/:arm64}" | awk '/^[^ ].*:arm64:$/ { sub(":arm64:$", ""); p = $0 } /^  Candidate:/ { print p, $2 }')
    [ "$found" = $# ] || { echo "deps: apt knows only $found of the $# arm64 packages asked for: $*" >&2; exit 1; }
    if [ ${#want[@]} -gt 0 ]; then
        say "downloading ${#want[@]} arm64 packages"
        (cd "$cache/debs" && apt-get download -q "${want[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    fi
}

# 2. the arm64 sysroot: static libraries, and silod's shared libraries with their closure (the
#    linker resolves them through -rpath-link; tools/devhost copies them into the dev host)
silod_closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${silod_runtime_packages[@]/%/:arm64}" | grep -E '^[a-z0-9].*:arm64$' | sed 's/:arm64$//' | sort -u)
: >"$cache/debs/.wanted.$$"
# shellcheck disable=SC2086
download_arm64 $(printf '%s\n' "${arm64_sysroot_packages[@]}" $silod_closure | sort -u)
sysroot_key=$(sort "$cache/debs/.wanted.$$" | sha256sum | cut -c1-16)
if [ "$(cat "$sysroot/.key" 2>/dev/null)" != "$sysroot_key" ]; then
    say "unpacking the arm64 sysroot into $sysroot"
    # unpacked beside it and swapped in by rename, so a build running meanwhile never sees a
    # half-filled sysroot
    rm -rf "$sysroot.new.$$"; mkdir -p "$sysroot.new.$$"
    while read -r f; do dpkg-deb -x "$f" "$sysroot.new.$$"; done <"$cache/debs/.wanted.$$"
    echo "$sysroot_key" >"$sysroot.new.$$/.key"
    if [ -e "$sysroot" ]; then mv "$sysroot" "$sysroot.old.$$"; fi
    mv "$sysroot.new.$$" "$sysroot"
    rm -rf "$sysroot.old.$$"
else
    say "arm64 sysroot: up to date"
fi

# 3. the dev host: Debian's arm64 kernel (through its meta package), busybox, QEMU + closure
: >"$cache/debs/.wanted.$$"
kernel_pkg=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-[0-9]/ {sub(":arm64","",$2); print $2; exit}')
[ -n "$kernel_pkg" ] || { echo "deps: cannot resolve linux-image-arm64:arm64" >&2; exit 1; }
qemu_closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances qemu-system-arm:arm64 | grep -E '^[a-z0-9].*:arm64$' | sed 's/:arm64$//' | sort -u)
# shellcheck disable=SC2086
download_arm64 "$kernel_pkg" "${devhost_packages[@]}" $qemu_closure
sort "$cache/debs/.wanted.$$" >"$cache/debs/devhost.list"
echo "$kernel_pkg" >"$cache/debs/devhost.kernel"
rm -f "$cache/debs/.wanted.$$"
for f in $(cat "$cache/debs/devhost.list"); do
    [ -s "$f" ] || { echo "deps: download failed: $f" >&2; exit 1; }
done
say "dev host packages: $(wc -l <"$cache/debs/devhost.list") arm64 .debs ready (kernel $kernel_pkg)"
say "done"
