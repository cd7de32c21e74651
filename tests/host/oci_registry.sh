#!/usr/bin/env bash
# tests/host/oci_registry.sh — x86 tests of pulling agent images from OCI registries
# (builder/registry_pull.c through the real silod-build-image and silo-image), against real
# registries on loopback: Debian's docker-registry (the CNCF distribution registry), images
# pushed with Debian's skopeo. No dev host: the boot check runs with tests/frontend/fake_vmm.c,
# a TEST VMM that plays the agent (every verdict says "(fake VMM)" where a build reaches it);
# the image, its pull and its digests are all real.
#
# Registries: A anonymous (with an access log, to count blob downloads); B with HTTP basic auth
# (htpasswd -B, bcrypt, from apache2-utils); T a bearer-token front for A
# (tests/host/oci_registry_token.py: it answers /v2/ with the `WWW-Authenticate: Bearer realm=…,
# service=…,scope=…` challenge, issues tokens at its realm for basic USER:PASS, and forwards
# requests that carry a valid token to A — a test proxy instead of the registry's own
# `auth: token`, which needs a signing certificate chain).
#
# Covered: pull by tag, by digest, a multi-arch index (arm64 + amd64) resolved to arm64, an
# amd64-only index and an amd64-only image refused with a clear reason, basic and token auth
# (right, missing and wrong credentials), an ECR-style name mapped to a configured registry, a
# corrupted blob (digest mismatch → the build fails with the reason, nothing cached), the layer
# cache reused on a second pull (no second blob download in the registry's access log) and a
# damaged cache entry fetched again, a layer over registry.max_layer_mib refused before it is
# downloaded, an unconfigured host refused, and
# the whole path through silod: CreateAgentRuntime with a registry containerUri → READY, and an
# amd64 image → CREATE_FAILED with the reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
failures=0
ok() { echo "ok - oci registry: $*"; }
not_ok() { echo "not ok - oci registry: $*"; failures=$((failures + 1)); }
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

for tool in docker-registry skopeo htpasswd python3 mkfs.ext4; do
    command -v "$tool" >/dev/null || { not_ok "$tool is not installed (make deps)"; exit 1; }
done
bin=$BUILD/host/bin
if ! make -s -j2 BUILD="$BUILD" "$bin/silod-build-image" "$bin/silo-image" "$bin/fake_vmm" "$bin/silod" \
        "$bin/silo-api" >&2; then
    not_ok "build of silod-build-image, silo-image, fake_vmm, silod and silo-api"
    exit 1
fi
bin=$(cd "$bin" && pwd)

dir=$(mktemp -d /tmp/silo-oci-registry.XXXXXX)
pids=()
silod_pid=
cleanup() {
    [ -n "$silod_pid" ] && kill -TERM "$silod_pid" 2>/dev/null && wait "$silod_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {   # wait_http URL: until it answers at all (5 s)
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.05
    done
    return 1
}

# --- registries ----------------------------------------------------------------------------------
start_registry() {   # start_registry NAME PORT [AUTH_YAML]
    cat >"$dir/$1.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/$1-data
http:
  addr: 127.0.0.1:$2
${3:-}
EOF
    docker-registry serve "$dir/$1.yml" >"$dir/$1.log" 2>&1 &
    pids+=($!)
    wait_http "http://127.0.0.1:$2/v2/"
}
port_a=$(free_port)
port_b=$(free_port)
port_t=$(free_port)
htpasswd -Bbc "$dir/htpasswd" silo-user 's3cret-Pw' 2>/dev/null
start_registry a "$port_a" || { not_ok "registry A starts"; exit 1; }
start_registry b "$port_b" "auth:
  htpasswd:
    realm: silo-test
    path: $dir/htpasswd" || { not_ok "registry B (htpasswd) starts"; exit 1; }
python3 tests/host/oci_registry_token.py "$port_t" "$port_a" tok-user 'tok-Pw' >"$dir/token.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port_t/v2/" || { not_ok "token front starts"; exit 1; }
A=127.0.0.1:$port_a B=127.0.0.1:$port_b T=127.0.0.1:$port_t

# --- images ---------------------------------------------------------------------------------------
# A fake arm64 program: an ELF header saying EM_AARCH64 (enough for silo-image; fake_vmm runs nothing)
fake_elf() {   # fake_elf PATH MACHINE
    python3 -c 'import sys; h = bytearray(64); h[0:7] = b"\x7fELF\x02\x01\x01"; h[16] = 2; h[18] = int(sys.argv[2]);
open(sys.argv[1], "wb").write(bytes(h))' "$1" "$2"
    chmod 755 "$1"
}
make_image() {   # make_image NAME ARCH [EXTRA_FILE_BYTES]: $dir/NAME.tar, an OCI layout archive
    mkdir -p "$dir/$1-root/app"
    fake_elf "$dir/$1-root/app/agent" "$([ "$2" = arm64 ] && echo 183 || echo 62)"
    echo "$1" >"$dir/$1-root/app/name"                      # distinct content, distinct layer
    [ -n "${3:-}" ] && head -c "$3" /dev/urandom >"$dir/$1-root/app/blob"
    printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/app/agent"],"Env":["PATH=/bin"]}}\n' "$2" \
        >"$dir/$1-config.json"
    builder/oci-archive.sh "$dir/$1-root" "$dir/$1-config.json" "$dir/$1.tar"
}
push() {   # push ARCHIVE_OR_LAYOUT DEST [skopeo options]
    local src=$1 dest=$2
    shift 2
    skopeo copy -q --dest-tls-verify=false "$@" "$src" "docker://$dest" >"$dir/skopeo.log" 2>&1 || { cat "$dir/skopeo.log" >&2; return 1; }
}
# an OCI layout holding an image index of the given images' manifests (platform from their config)
make_index() {   # make_index LAYOUT_DIR TAG IMAGE...
    local out=$1 tag=$2
    shift 2
    mkdir -p "$out/blobs/sha256"
    local entries=
    for img in "$@"; do
        mkdir -p "$dir/x-$img" && tar -xf "$dir/$img.tar" -C "$dir/x-$img"
        cp "$dir/x-$img"/blobs/sha256/* "$out/blobs/sha256/"
        local m size arch
        m=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$dir/x-$img/index.json")
        size=$(stat -c %s "$out/blobs/sha256/${m#sha256:}")
        arch=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["architecture"])' "$dir/$img-config.json")
        entries="$entries${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$m\",\"size\":$size,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"$([ "$arch" = arm64 ] && echo ',"variant":"v8"')}}"
    done
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" >"$dir/index.blob"
    local d s
    d=$(sha256sum "$dir/index.blob" | cut -d' ' -f1)
    s=$(stat -c %s "$dir/index.blob")
    mv "$dir/index.blob" "$out/blobs/sha256/$d"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}\n' \
        "$d" "$s" "$tag" >"$out/index.json"
    printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out/oci-layout"
}

if make_image echo arm64 && make_image multi-arm arm64 && make_image multi-amd amd64 && make_image amd amd64 &&
   make_image corrupt arm64 && make_image big arm64 $((2 * 1024 * 1024)) &&
   make_index "$dir/multi-layout" multi multi-arm multi-amd && make_index "$dir/amdidx-layout" amdonly multi-amd &&
   push "oci-archive:$dir/echo.tar" "$A/agents/echo:v1" && push "oci-archive:$dir/amd.tar" "$A/agents/amd:v1" &&
   push "oci:$dir/multi-layout:multi" "$A/agents/multi:v1" --all &&
   push "oci:$dir/amdidx-layout:amdonly" "$A/agents/amdonly:v1" --all &&
   push "oci-archive:$dir/corrupt.tar" "$A/agents/corrupt:v1" && push "oci-archive:$dir/big.tar" "$A/agents/big:v1" &&
   push "oci-archive:$dir/echo.tar" "$B/agents/echo:v1" --dest-creds 'silo-user:s3cret-Pw'; then
    ok "test images built (builder/oci-archive.sh, an index of arm64 + amd64) and pushed with skopeo"
else
    not_ok "test images built and pushed"
    exit 1
fi

# --- the builder, run as silod runs it ------------------------------------------------------------
fake_elf "$dir/guest-init" 183
echo "not a kernel" >"$dir/Image"
mkdir -p "$dir/out"
export SILO_VMM=$bin/fake_vmm SILO_VMM_KERNEL=$dir/Image SILO_GUEST_INIT=$dir/guest-init SILO_GUEST_AGENTD=$dir/guest-init \
       SILO_IMAGE_TOOL=$bin/silo-image SILO_BOOT_TIMEOUT_MS=10000 SILO_IMAGE_CACHE=$dir/image-cache
n=0
# build URI REGISTRIES_JSON: runs silod-build-image; $out (stdout), $reason (last stderr line), status
build() {
    n=$((n + 1))
    local rc
    SILO_REGISTRIES=$2 "$bin/silod-build-image" rt_oci-0123456789 "$n" "$1" "$dir/out/img-$n.ext4" \
        >"$dir/build-$n.out" 2>"$dir/build-$n.err"
    rc=$?
    out=$(cat "$dir/build-$n.out")
    reason=$(tail -n 1 "$dir/build-$n.err")
    [ $rc = 0 ] || echo "#   build $n ($1): $reason" >&2
    return $rc
}
blob_gets() {   # blob GETs answered 200 by registry A for a repository
    grep -c "\"GET /v2/$1/blobs/sha256:[0-9a-f]* HTTP/1.1\" 200" "$dir/a.log"
}
regs_a="{\"registries\":[{\"host\":\"$A\",\"match\":[\"*.dkr.ecr.*.amazonaws.com\"]}],\"cache\":\"$dir/reg-cache\"}"

# pull by tag; then again: every blob from the cache, none downloaded a second time
if build "$A/agents/echo:v1" "$regs_a" && grep -q "ready: build" <<<"$out" &&
   grep -q "2 blobs downloaded" <<<"$out" && [ -s "$dir/out/img-$n.ext4" ]; then
    ok "pull by tag: $A/agents/echo:v1 built and its boot check passed (fake VMM)"
else
    not_ok "pull by tag"
fi
gets_before=$(blob_gets agents/echo)
if build "$A/agents/echo:v1" "$regs_a" && grep -q "0 blobs downloaded (0 bytes), 2 from the cache" <<<"$out" &&
   [ "$(blob_gets agents/echo)" = "$gets_before" ] && [ "$gets_before" = 2 ]; then
    ok "second pull: config and layer reused from the cache, no blob downloaded again (registry log: $gets_before blob GETs in all)"
else
    not_ok "second pull reuses the layer cache (blob GETs before $gets_before, after $(blob_gets agents/echo))"
fi
# a damaged cache entry (same size, other bytes) is noticed, dropped and fetched again
layer_of() {   # layer_of IMAGE: the hex digest of the first layer of $dir/IMAGE.tar
    mkdir -p "$dir/x-$1" && tar -xf "$dir/$1.tar" -C "$dir/x-$1"
    local m
    m=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"][7:])' "$dir/x-$1/index.json")
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"][7:])' "$dir/x-$1/blobs/sha256/$m"
}
cached=$(layer_of echo)
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[0] ^= 0xff; open(p, "wb").write(b)' \
    "$dir/reg-cache/blobs/sha256/$cached"
if build "$A/agents/echo:v1" "$regs_a" && grep -q "cached blob sha256:${cached:0:12}... is damaged; fetching it again" <<<"$out" &&
   grep -q "1 blobs downloaded" <<<"$out" && [ "$(blob_gets agents/echo)" = $((gets_before + 1)) ] &&
   [ "$(sha256sum "$dir/reg-cache/blobs/sha256/$cached" | cut -d' ' -f1)" = "$cached" ]; then
    ok "a damaged blob in the cache is verified on reuse, dropped and downloaded again (fake VMM)"
else
    not_ok "a damaged cache blob is fetched again"
fi
check "the pull's OCI layout is removed after the build (the cache keeps only blobs)" \
    test -z "$(ls -A "$dir/reg-cache/layouts" 2>/dev/null)"

# pull by digest (the manifest's sha256), and a digest the registry does not have
digest=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$A/agents/echo:v1" | sha256sum | cut -d' ' -f1)
if build "$A/agents/echo@$digest" "$regs_a" && grep -q "pulled $A/agents/echo@$digest ($digest)" <<<"$out"; then
    ok "pull by digest: $A/agents/echo@${digest:0:19}... (fake VMM)"
else
    not_ok "pull by digest"
fi
if ! build "$A/agents/echo@sha256:$(printf '%064d' 0)" "$regs_a" && [[ $reason == *"no such image"*"(HTTP 404)"* ]]; then
    ok "an unknown digest fails: $reason"
else
    not_ok "an unknown digest fails with HTTP 404 ($reason)"
fi

# a multi-arch index: the arm64 manifest is chosen, the amd64 one never fetched
arm_manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$dir/x-multi-arm/index.json")
amd_manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$dir/x-multi-amd/index.json")
if build "$A/agents/multi:v1" "$regs_a" && grep -q "($arm_manifest)" <<<"$out" &&
   ! grep -q "\"GET /v2/agents/multi/manifests/$amd_manifest" "$dir/a.log" &&
   grep -q "\"GET /v2/agents/multi/manifests/$arm_manifest HTTP/1.1\" 200" "$dir/a.log"; then
    ok "multi-arch index (arm64 + amd64): the linux/arm64 manifest was pulled, the amd64 one never fetched (fake VMM)"
else
    not_ok "multi-arch index resolved to arm64 (wanted $arm_manifest; $(grep pulled <<<"$out"))"
fi
if ! build "$A/agents/amdonly:v1" "$regs_a" &&
   [ "$reason" = "image build failed: The container image has no linux/arm64 variant (it has: linux/amd64); AgentCore Runtime requires arm64 images" ]; then
    ok "an amd64-only index is refused: $reason"
else
    not_ok "an amd64-only index is refused with the clear message ($reason)"
fi
amd_layer_gets_before=$(blob_gets agents/amd)
if ! build "$A/agents/amd:v1" "$regs_a" && [[ $reason == *"image is linux/amd64, but Silo runs only linux/arm64 images"* ]] &&
   [ "$(blob_gets agents/amd)" = $((amd_layer_gets_before + 1)) ]; then
    ok "an amd64-only image is refused after its config, before any layer is downloaded: $reason"
else
    not_ok "an amd64-only image is refused ($reason)"
fi

# an ECR-style name maps to the registry whose match pattern fits
if build "123456789012.dkr.ecr.us-east-1.amazonaws.com/agents/echo:v1" "$regs_a" &&
   grep -q "from registry $A (configured for that host)" <<<"$out"; then
    ok "ECR-style 123456789012.dkr.ecr.us-east-1.amazonaws.com/agents/echo:v1 pulled from the registry configured for it (fake VMM)"
else
    not_ok "ECR-style name mapped to the configured registry"
fi
if ! build "other.example:5000/agents/echo:v1" "$regs_a" &&
   [[ $reason == *"is neither an absolute path, a NAME[:TAG] of the local image store, nor HOST[:PORT]/REPO"*"of a configured registry" ]]; then
    ok "a host no registries entry serves is not contacted: $reason"
else
    not_ok "an unconfigured host is refused ($reason)"
fi

# a corrupted blob: the registry serves the layer with one byte changed
corrupt_layer=$(layer_of corrupt)
data=$dir/a-data/docker/registry/v2/blobs/sha256/${corrupt_layer:0:2}/$corrupt_layer/data
if [ -f "$data" ] && python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(b)' "$data" &&
   ! build "$A/agents/corrupt:v1" "$regs_a" &&
   [[ $reason == "image build failed: layer sha256:${corrupt_layer:0:12}... from registry $A does not match its digest"* ]] &&
   [ ! -e "$dir/reg-cache/blobs/sha256/$corrupt_layer" ] && [ ! -e "$dir/out/img-$n.ext4" ]; then
    ok "a corrupted layer fails the build, nothing cached, no image: $reason"
else
    not_ok "a corrupted layer fails the build ($reason)"
fi

# size caps: a 2 MiB layer over registry.max_layer_mib = 1 is refused before it is downloaded
big_gets_before=$(blob_gets agents/big)
if ! build "$A/agents/big:v1" "{\"registries\":[{\"host\":\"$A\"}],\"cache\":\"$dir/reg-cache\",\"max_layer_mib\":1}" &&
   [[ $reason == *"layer 0 is 2 MiB, more than registry.max_layer_mib (1)"* ]] && [ "$(blob_gets agents/big)" = "$big_gets_before" ]; then
    ok "a layer over max_layer_mib is refused before any blob is downloaded: $reason"
else
    not_ok "a layer over max_layer_mib is refused ($reason)"
fi
if ! build "$A/agents/echo:v1" "{\"registries\":[{\"host\":\"$A\"}],\"cache\":\"$dir/reg-cache\",\"max_manifest_kib\":0}" &&
   [[ $reason == *"max_manifest_kib must be an integer"* ]]; then
    ok "bad registry settings fail the build with the key named: $reason"
else
    not_ok "bad registry settings refused ($reason)"
fi

# HTTP basic auth (registry B): right, missing, wrong credentials
if build "$B/agents/echo:v1" "{\"registries\":[{\"host\":\"$B\",\"username\":\"silo-user\",\"password\":\"s3cret-Pw\"}],\"cache\":\"$dir/cache-b\"}" &&
   grep -q "2 blobs downloaded" <<<"$out"; then
    ok "basic auth: pulled from the htpasswd registry with the configured credentials (fake VMM)"
else
    not_ok "basic auth pull"
fi
if ! build "$B/agents/echo:v1" "{\"registries\":[{\"host\":\"$B\"}],\"cache\":\"$dir/cache-b\"}" &&
   [ "$reason" = "image build failed: registry $B requires a login; configure registries[].username and password in silod's config" ]; then
    ok "basic auth without credentials: $reason"
else
    not_ok "basic auth without credentials ($reason)"
fi
if ! build "$B/agents/echo:v1" "{\"registries\":[{\"host\":\"$B\",\"username\":\"silo-user\",\"password\":\"wrong-Pw\"}],\"cache\":\"$dir/cache-b\"}" &&
   [[ $reason == "image build failed: registry $B refused the configured credentials (HTTP 401)" ]] &&
   ! grep -rq "wrong-Pw" "$dir/build-$n.out" "$dir/build-$n.err"; then
    ok "basic auth with a wrong password: $reason (the password appears in no output)"
else
    not_ok "basic auth with a wrong password ($reason)"
fi

# bearer token auth (the token front T before registry A)
if build "$T/agents/echo:v1" "{\"registries\":[{\"host\":\"$T\",\"username\":\"tok-user\",\"password\":\"tok-Pw\"}],\"cache\":\"$dir/cache-t\"}" &&
   grep -q "2 blobs downloaded" <<<"$out" && grep -q "^challenge GET /v2/agents/echo/manifests/v1" "$dir/token.log" &&
   grep -q "^token issued GET /token?service=silo-test&scope=repository%3Aagents%2Fecho%3Apull" "$dir/token.log" &&
   [ "$(grep -c '^bearer ok GET /v2/agents/echo/blobs/' "$dir/token.log")" = 2 ]; then
    ok "bearer token auth: challenge answered at the realm with basic credentials, manifest and 2 blobs fetched with the token (fake VMM)"
else
    not_ok "bearer token auth"
fi
if ! build "$T/agents/echo:v1" "{\"registries\":[{\"host\":\"$T\"}],\"cache\":\"$dir/cache-t2\"}" &&
   [[ $reason == "image build failed: registry $T: its token service refused an anonymous pull; configure registries[].username and password (HTTP 401)" ]]; then
    ok "bearer token auth without credentials: $reason"
else
    not_ok "bearer token auth without credentials ($reason)"
fi

# --- through silod: CreateAgentRuntime with a registry containerUri ------------------------------
source tests/host/silod_start.lib
akid="AKIDOCIREG$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
mkdir -p "$dir/images" "$dir/sockets"
cat >"$dir/silod.json" <<EOF
{ "listen_port": 0, "database": "$dir/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret" } ],
  "image_builder": "$bin/silod-build-image", "image_cache": "$dir/silod-cache",
  "registries": [ { "host": "$A", "match": ["*.dkr.ecr.*.amazonaws.com"] } ],
  "registry": { "cache": "$dir/reg-cache", "max_layer_mib": 64 },
  "ping_interval_s": 0,
  "vmm": { "path": "$bin/fake_vmm", "kernel": "$dir/Image", "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets",
           "ready_timeout_ms": 10000, "snapshots": false } }
EOF
unset SILO_VMM SILO_VMM_KERNEL SILO_BOOT_TIMEOUT_MS SILO_IMAGE_CACHE
if start_silod "$dir/silod.json" "$dir/silod.log"; then
    export AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1 SILO_ENDPOINT=http://127.0.0.1:$port
    runtime_status() {   # runtime_status ID: waits until not CREATING; prints status|failureReason
        local j s
        for _ in $(seq 1 200); do
            j=$(tools/silo runtime get "$1" --json 2>/dev/null)
            s=$(python3 -c 'import json,sys; d = json.load(sys.stdin); print(d.get("status", ""))' <<<"$j" 2>/dev/null)
            [ "$s" != CREATING ] && [ -n "$s" ] && break
            sleep 0.1
        done
        python3 -c 'import json,sys; d = json.load(sys.stdin); print(d.get("status", ""), d.get("failureReason", ""), sep="|")' <<<"$j" 2>/dev/null
    }
    create() {   # create NAME URI: prints the runtime id
        tools/silo runtime create "$1" --image "$2" --json 2>"$dir/create.err" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["agentRuntimeId"])' 2>/dev/null
    }
    id=$(create ociecr "123456789012.dkr.ecr.us-west-2.amazonaws.com/agents/multi:v1")
    st=$(runtime_status "$id")
    if [ "${st%%|*}" = READY ] && grep -q "silod: build $id v1: silod-build-image: pulled 123456789012.dkr.ecr.us-west-2.amazonaws.com/agents/multi:v1" "$dir/silod.log" &&
       ! grep -q "tok-Pw\|s3cret-Pw" "$dir/silod.log"; then
        ok "silod: CreateAgentRuntime with an ECR-style containerUri (multi-arch index) → READY through silod-build-image (fake VMM)"
    else
        not_ok "silod: CreateAgentRuntime with a registry containerUri → READY (got '$st' for '$id'; $(cat "$dir/create.err"))"
    fi
    id=$(create ociamd "$A/agents/amdonly:v1")
    st=$(runtime_status "$id")
    if [ "$st" = "CREATE_FAILED|image build failed: The container image has no linux/arm64 variant (it has: linux/amd64); AgentCore Runtime requires arm64 images" ]; then
        ok "silod: an amd64-only image → CREATE_FAILED, failureReason: ${st#*|}"
    else
        not_ok "silod: an amd64-only image → CREATE_FAILED with the reason (got '$st')"
    fi
else
    not_ok "silod starts with registries configured"
fi

echo "# oci registry: $failures failure(s)"
[ "$failures" = 0 ]
