#!/usr/bin/env bash
# tests/host/silo_deploy.sh — `silo deploy` and `silo image push` (POST /silo/images) against a
# real silod on loopback with the REAL image builder (silod-build-image + silo-image, building
# the ext4 image from the uploaded OCI archive) and the fake VMM (tests/frontend/fake_vmm.c, a
# TEST DOUBLE: x86 has no KVM, so the boot check and the sessions run the fake agent, which
# answers "whoami" with the image it was started from — which version). Verdicts say
# "(fake VMM)".
#
#   - deploy a directory agent (the C echo agent's built files + its image config): packed,
#     uploaded, stored by digest, runtime created, v1 READY; the printed `silo invoke` and curl
#     commands run as printed;
#   - deploy again after a change: the runtime is updated (version 2, READY), a new session
#     runs v2's image; the same archive again is not re-sent (alreadyStored, no body read);
#   - deploy an archive file and a containerUri;
#   - the upload's front door: no or bad signature, a bearer token, UNSIGNED-PAYLOAD / no payload hash, a body
#     that does not match its signed hash, a body that is no archive, an announced size over
#     image_upload_max_mib — each refused, nothing left in the store.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
failures=0
ok() { echo "ok - silo deploy (fake VMM): $*"; }
not_ok() { echo "not ok - silo deploy (fake VMM): $*"; failures=$((failures + 1)); }
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" "$BUILD/host/bin/silo-api" \
        "$BUILD/host/bin/silod-build-image" "$BUILD/host/bin/silo-image" "$BUILD/arm64/bin/silo-init" \
        "$BUILD/arm64/bin/silo-agentd" "$BUILD/arm64/bin/c-echo-agent" >&2 2>/dev/null; then
    not_ok "build of silod, fake_vmm, silo-api, the image builder and the C echo agent"
    exit 1
fi

dir=$(mktemp -d /tmp/silo-deploy-test.XXXXXX)
silod_pid=
cleanup() {
    if [ -n "$silod_pid" ]; then
        kill -TERM "$silod_pid" 2>/dev/null
        wait "$silod_pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/store" "$dir/agent/app"
cp "$BUILD/arm64/bin/c-echo-agent" "$dir/agent/app/agent"
cp tests/agents/c-echo/image-config.json "$dir/agent/image-config.json"
: >"$dir/kernel"       # the fake VMM boots nothing; silod-build-image wants the setting
akid="AKIDSILODEPLOY$(printf '%06d' $((RANDOM * RANDOM % 1000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cat >"$dir/silod.json" <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": 0,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$dir/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "deployer" } ],
  "image_builder": "$PWD/$BUILD/host/bin/silod-build-image",
  "image_store": "$dir/store", "image_cache": "$dir/cache", "image_upload_max_mib": 4,
  "max_sessions": 10, "max_guest_mib": 4096,
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "$dir/kernel",
           "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets",
           "cpus": 1, "guest_mib": 128, "ready_timeout_ms": 10000 }
}
JSON
# silo-image (run by silod-build-image) installs the arm64 silo-init and agentd into each image
export SILO_GUEST_INIT="$PWD/$BUILD/arm64/bin/silo-init" SILO_GUEST_AGENTD="$PWD/$BUILD/arm64/bin/silo-agentd"
. tests/host/silod_start.lib
if ! start_silod "$dir/silod.json" "$dir/silod.log"; then
    not_ok "silod did not start"
    exit 1
fi
ep="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1 SILO_ENDPOINT=
unset AWS_SESSION_TOKEN SILO_CLI_OWN_SIGV4 SILO_BIN SILO_CA_FILE
out=$dir/out err=$dir/err
run() { "$@" >"$out" 2>"$err"; rc=$?; }
kv() { sed -n "s/^$1: *//p" "$out" | head -1; }
stored_count() { find "$dir/store/uploads" -name 'latest.tar*' 2>/dev/null | wc -l; }
leftovers() { find "$dir/store/uploads" -maxdepth 1 -name '.incoming-*' 2>/dev/null | wc -l; }

# --- deploy a directory: create ---------------------------------------------------------------
run tools/silo deploy "$dir/agent" --name echo_deployed --endpoint "$ep"
id=$(kv agentRuntimeId)
check "deploy DIR creates the runtime and waits until v1 is READY (status $(kv status), exit $rc)" \
    test "$rc" = 0 -a "$(kv status)" = READY -a "$(kv agentRuntimeVersion)" = 1 -a -n "$id"
if grep -q "packed .* into an OCI archive" "$err" && grep -q "uploaded into silod's image store" "$err" &&
   grep -q "creating runtime echo_deployed" "$err"; then
    ok "deploy said it packed the directory, uploaded the archive and created the runtime"
else
    not_ok "deploy's pack/upload/create lines are missing: $(cat "$err")"
fi
check "the upload is stored by digest under the image store (one archive)" test "$(stored_count)" = 1
uri=$(sed -n 's/.* with \(uploads\/sha256-[0-9a-f]\{64\}\); waiting.*/\1/p' "$err" | head -1)
check "the runtime's containerUri is the upload's digest name ($uri)" \
    test -n "$uri" -a -f "$dir/store/$uri/latest.tar"
check "silod's real image builder built the version from the uploaded archive" \
    grep -q "silod-build-image: $id v1: $dir/store/$uri/latest.tar -> " "$dir/silod.log"
invoke_line=$(grep -m1 '^  tools/silo invoke ' "$out" | sed 's/^  //')
curl_cmd=$(sed -n '/^  curl /,/invocations/p' "$out" | sed 's/^  //; s/\\$//' | tr -d '\n')
check "deploy prints the exact silo invoke command ($invoke_line)" \
    test "$invoke_line" = "tools/silo invoke $id '{\"prompt\": \"hello\"}' --endpoint-url $ep"
run eval "$invoke_line"
check "the printed silo invoke command runs: the agent answers" test "$rc" = 0 -a "$(cat "$out")" = '{"prompt": "hello"}'
run eval "$curl_cmd"
check "the printed curl command runs: the agent answers ($(head -c 200 "$err" | tr -s "\n" " "))" \
    test "$rc" = 0 -a "$(cat "$out")" = '{"prompt": "hello"}'
# ran_version N: the last `silo invoke` (a new session) ran in a microVM of version N (silod's log)
ran_version() {
    local sid
    sid=$(sed -n 's/^session: //p' "$err")
    [ "$rc" = 0 ] && [ -n "$sid" ] && grep -q "silod: session $sid (runtime $id v$1): booted" "$dir/silod.log"
}
run tools/silo invoke "$id" whoami --endpoint-url "$ep"
check "a new session runs version 1" ran_version 1

# --- deploy again after a change: update (version 2) ------------------------------------------
echo "v2" >"$dir/agent/app/VERSION"
run tools/silo deploy "$dir/agent" --name echo_deployed --endpoint-url "$ep"
check "deploy of a changed DIR updates the runtime: version 2 READY (status $(kv status), exit $rc)" \
    test "$rc" = 0 -a "$(kv status)" = READY -a "$(kv agentRuntimeVersion)" = 2 -a "$(kv agentRuntimeId)" = "$id"
check "deploy said it updated" grep -q "updating runtime echo_deployed" "$err"
uri2=$(sed -n 's/.* with \(uploads\/sha256-[0-9a-f]\{64\}\); waiting.*/\1/p' "$err" | head -1)
check "the new content has a new digest name ($uri2)" test -n "$uri2" -a "$uri2" != "$uri" -a "$(stored_count)" = 2
run tools/silo runtime get "$id" --endpoint-url "$ep" --json
check "the runtime's latest version names the new image" grep -q "\"containerUri\": \"uploads.*/${uri2#uploads/}\"" "$out"
run tools/silo invoke "$id" whoami --endpoint-url "$ep"
check "a new session runs version 2" ran_version 2
run tools/silo runtime list --endpoint-url "$ep" --json
check "still one runtime of that name" test "$(grep -c '"agentRuntimeName": "echo_deployed"' "$out")" = 1

# --- the same archive again, an archive file, a containerUri ----------------------------------
cp "$dir/store/$uri2/latest.tar" "$dir/agent.tar"
lines_before=$(wc -l <"$dir/silod.log")
run tools/silo image push "$dir/agent.tar" --endpoint-url "$ep"
check "image push of an archive silod has: alreadyStored, the same containerUri" \
    test "$rc" = 0 -a "$(kv containerUri)" = "$uri2" -a "$(kv alreadyStored)" = true
check "…answered from the head: silod read none of its body" \
    sh -c "tail -n +$((lines_before + 1)) '$dir/silod.log' | grep -q 'op=image-upload .*status=200 .*bytes_in=0 '"
run tools/silo deploy "$dir/agent.tar" --endpoint-url "$ep"
check "deploy ARCHIVE (name from the file: agent) creates a runtime, READY" \
    test "$rc" = 0 -a "$(kv status)" = READY -a "$(kv agentRuntimeName)" = agent
gzip -c "$dir/agent.tar" >"$dir/agent_gz.tar.gz"
run tools/silo deploy "$dir/agent_gz.tar.gz" --endpoint-url "$ep"
gz_uri=$(sed -n 's/.* with \(uploads\/sha256-[0-9a-f]\{64\}\); waiting.*/\1/p' "$err" | head -1)
check "deploy of a .tar.gz archive: stored as latest.tar.gz, built, READY (runtime agent_gz)" \
    test "$rc" = 0 -a "$(kv status)" = READY -a "$(kv agentRuntimeName)" = agent_gz -a -f "$dir/store/$gz_uri/latest.tar.gz"
run tools/silo deploy "$uri" --name echo_by_uri --endpoint-url "$ep"
check "deploy CONTAINER_URI (no upload) creates a runtime from it, READY" \
    test "$rc" = 0 -a "$(kv status)" = READY -a -z "$(grep 'uploaded' "$err")"
run tools/silo deploy "$dir/agent" --name 9bad --endpoint-url "$ep"
check "a name AgentCore would refuse is a usage error (exit 2)" test "$rc" = 2

# --- the upload's front door ------------------------------------------------------------------
arch=$dir/agent.tar
hash=$(sha256sum "$arch" | cut -c1-64)
# up ARGS...: a POST /silo/images with curl; status in $code, answer in $out
up() { code=$(curl -sS -o "$out" -w '%{http_code}' "$@" "$ep/silo/images" 2>"$err"); }
sig=(--aws-sigv4 aws:amz:us-east-1:bedrock-agentcore --user "$akid:$secret")
before=$(stored_count)
head -c 300000 /dev/urandom >"$dir/other.tar"     # a fresh digest for the refusals below
ohash=$(sha256sum "$dir/other.tar" | cut -c1-64)
# refusals from the head get a small body: the answer comes before any of it is read, and a
# client still sending a large one may see the connection closed before it reads that answer
head -c 1024 "$dir/other.tar" >"$dir/small.bin"
shash=$(sha256sum "$dir/small.bin" | cut -c1-64)
up -H "x-amz-content-sha256: $shash" --data-binary @"$dir/small.bin"
check "no signature: 401 (code $code)" test "$code" = 401
up --aws-sigv4 aws:amz:us-east-1:bedrock-agentcore --user "$akid:wrong" -H "x-amz-content-sha256: $shash" \
    --data-binary @"$dir/small.bin"
check "a wrong secret: 403 (code $code)" test "$code" = 403
up -H "Authorization: Bearer eyJhbGciOiJub25lIn0.e30." -H "x-amz-content-sha256: $shash" --data-binary @"$dir/small.bin"
check "a bearer token: 403, uploads are SigV4 only (code $code)" test "$code" = 403
up "${sig[@]}" --data-binary @"$dir/small.bin"
check "signed without the payload hash header: 400 (code $code: $(head -c 120 "$out"))" \
    test "$code" = 400 -a -n "$(grep -e 'x-amz-content-sha256' "$out")"
up "${sig[@]}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --data-binary @"$dir/small.bin"
check "UNSIGNED-PAYLOAD: 400 (code $code)" test "$code" = 400
up "${sig[@]}" -H "x-amz-content-sha256: $ohash" --data-binary @"$arch"
check "a body that does not match its signed hash: 403 (code $code)" test "$code" = 403
up "${sig[@]}" -H "x-amz-content-sha256: $ohash" --data-binary @"$dir/other.tar"
check "a body that is no archive: 400 with the reason (code $code: $(head -c 120 "$out"))" \
    test "$code" = 400 -a -n "$(grep 'not an image archive' "$out")"
head -c $((5 * 1024 * 1024)) /dev/zero >"$dir/big.tar"
bhash=$(sha256sum "$dir/big.tar" | cut -c1-64)
up "${sig[@]}" -H "x-amz-content-sha256: $bhash" --data-binary @"$dir/big.tar"
check "an archive over image_upload_max_mib (4): 400 from the head (code $code: $(head -c 120 "$out"))" \
    test "$code" = 400 -a -n "$(grep 'image_upload_max_mib' "$out")"
check "the refused uploads left nothing in the store (archives $(stored_count), temporary files $(leftovers))" \
    test "$(stored_count)" = "$before" -a "$(leftovers)" = 0 -a ! -e "$dir/store/uploads/sha256-$ohash"

kill -TERM "$silod_pid"
wait "$silod_pid" 2>/dev/null
silod_pid=
if grep -qF "$secret" "$dir/silod.log"; then not_ok "silod's log holds the secret key"; else ok "silod's log never holds the secret key"; fi
[ "$failures" = 0 ]
