#!/usr/bin/env bash
# tests/host/silod_crash.sh — silod SIGKILLed in the middle of control-plane writes loses and
# half-writes nothing (tests/frontend/sdk/crash.mjs, real AWS SDK control client). silod runs on
# this machine with the TEST VMM and TEST image builder (no session starts here); verdicts say
# "(fake VMM)". ~10 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
sdk=tests/frontend/sdk
if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" >&2; then
    echo "not ok - silod crash safety (fake VMM): build of silod and fake_vmm"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    echo "not ok - silod crash safety (fake VMM): $why"
    exit 1
fi
dir=$(mktemp -d /tmp/silo-crash.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/agent-v1"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
akid="AKIDSILOCRASH$(printf '%06d' $((RANDOM % 1000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cat >"$dir/silod.json" <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": $port,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$dir/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "crash-test" } ],
  "image_builder": "$PWD/tests/frontend/test_image_builder.sh",
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "/nonexistent/Image",
           "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets", "cpus": 1, "guest_mib": 128 }
}
JSON
SILOD_BIN="$PWD/$BUILD/host/bin/silod" SILOD_CONFIG="$dir/silod.json" SILOD_LOG="$dir/silod.log" \
SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_TEST_IMAGE="$dir/agent-v1" \
SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node "$sdk/crash.mjs"
