#!/usr/bin/env bash
# tests/host/silo_cli.sh — x86 tests of the `silo` CLI (tools/silo → silo-api, tools/cli/)
# against a real silod on loopback. The VMM is tests/frontend/fake_vmm.c and the image builder
# tests/frontend/test_image_builder.sh: TEST DOUBLES, no microVM boots here; every verdict line
# says "(fake VMM)". The fake agent echoes a payload, answers "whoami" with its VMM's pid and
# the image it was started from (which version), and "sse" with three events 50 ms apart.
#
# Builds silod, fake_vmm and silo-api into $BUILD (default build/), starts silod on a
# kernel-chosen loopback port with a fresh database and a random key, and drives the whole
# lifecycle through tools/silo: runtime create/get/list/update/versions/delete, endpoints,
# invoke by id, by ARN (the CLI's own SigV4 signer) and through an endpoint, sessions, files
# and pipes with checksums, SSE streaming, stop-session, and the error lines and exit codes.
# JSON answers are checked with jq, or node when jq is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
failures=0
ok() { echo "ok - silo CLI (fake VMM): $*"; }
not_ok() { echo "not ok - silo CLI (fake VMM): $*"; failures=$((failures + 1)); }
# check NAME COMMAND...: ok when COMMAND succeeds
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" "$BUILD/host/bin/silo-api" >&2; then
    not_ok "build of silod, fake_vmm and silo-api"
    exit 1
fi

# --- a JSON parser: jq, else node ------------------------------------------------------------
if command -v jq >/dev/null; then
    jget() { jq -er "$1"; }                                   # jget PATH < JSON
    jcount() { jq -e "$1 | length"; }                         # jcount ARRAY_PATH < JSON
    jhas() { jq -e --arg f "$2" --arg v "$3" "[$1[] | select(.[\$f] == \$v)] | length > 0" >/dev/null; }
elif command -v node >/dev/null; then
    node_eval() { node -e 'const d = JSON.parse(require("fs").readFileSync(0, "utf8")); const a = process.argv.slice(1);'"$1" -- "${@:2}"; }
    jget() { node_eval 'const v = eval("d" + a[0]); if (v === undefined || v === null) process.exit(1); console.log(typeof v === "object" ? JSON.stringify(v) : v);' "$1"; }
    jcount() { node_eval 'console.log(eval("d" + a[0]).length);' "$1"; }
    jhas() { node_eval 'process.exit(eval("d" + a[0]).some((x) => x[a[1]] === a[2]) ? 0 : 1);' "$1" "$2" "$3"; }
else
    not_ok "neither jq nor node is installed to check the JSON output"
    exit 1
fi

# --- silod with the fake VMM -----------------------------------------------------------------
dir=$(mktemp -d /tmp/silo-cli-test.XXXXXX)
silod_pid=
cleanup() {
    if [ -n "$silod_pid" ]; then
        kill -TERM "$silod_pid" 2>/dev/null
        wait "$silod_pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/agent-v1" "$dir/agent-v2"
akid="AKIDSILOCLI$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cat >"$dir/silod.json" <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": 0,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$dir/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "cli-tester" },
                   { "access_key_id": "${akid}T", "secret_access_key": "$secret", "session_token": "tok-$secret",
                     "principal": "cli-temporary" } ],
  "image_builder": "$PWD/tests/frontend/test_image_builder.sh",
  "max_sessions": 20, "max_guest_mib": 4096,
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "/nonexistent/Image",
           "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets",
           "cpus": 1, "guest_mib": 128, "ready_timeout_ms": 5000 }
}
JSON
. tests/host/silod_start.lib
if ! start_silod "$dir/silod.json" "$dir/silod.log"; then
    not_ok "silod did not start"
    exit 1
fi

export SILO_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret"
export AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN SILO_CLI_OWN_SIGV4 SILO_BIN
silo() { tools/silo "$@"; }
out=$dir/out err=$dir/err
# run CMD...: stdout to $out, stderr to $err, status in $rc
run() { "$@" >"$out" 2>"$err"; rc=$?; }
# value of a `key: value` line in $out
kv() { sed -n "s/^$1: *//p" "$out" | head -1; }

# --- help and usage errors -------------------------------------------------------------------
run silo help
check "silo help exits 0 and lists the API commands" \
    test "$rc" = 0 -a -n "$(grep -e 'runtime create' "$out")" -a -n "$(grep -e 'stop-session' "$out")"
run silo runtime --help
check "silo runtime --help lists every runtime command" \
    test "$rc" = 0 -a "$(grep -cE 'silo runtime (create|update|get|list|versions|delete)' "$out")" = 6
run silo runtime create demo_missing_image
check "runtime create without --image is a usage error (exit 2)" \
    test "$rc" = 2 -a -n "$(grep -e '--image URI is required' "$err")"
run silo runtime get x --no-such-option
check "an unknown option is a usage error (exit 2)" test "$rc" = 2 -a -n "$(grep -e 'unknown option' "$err")"
run silo endpoint update rt ep
check "endpoint update without --version is a usage error (exit 2)" test "$rc" = 2

# --- create / get / list ---------------------------------------------------------------------
name="cli_demo_$RANDOM"
run silo runtime create "$name" --image "$dir/agent-v1" --env GREETING="hello world" --env MODE=test \
    --idle-timeout 300 --description "made by the CLI test" --wait
id=$(kv agentRuntimeId)
check "runtime create --wait ends READY (readable: status: $(kv status))" \
    test "$rc" = 0 -a "$(kv status)" = READY -a "$(kv agentRuntimeVersion)" = 1 -a -n "$id"
arn=$(kv agentRuntimeArn)
check "runtime create prints the runtime's ARN" test "$arn" = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/$id"

run silo runtime get "$id"
check "runtime get (readable) shows the settings as key: value" \
    test "$rc" = 0 -a "$(kv environmentVariables.GREETING)" = "hello world" \
    -a "$(kv agentRuntimeArtifact.containerConfiguration.containerUri)" = "$dir/agent-v1" \
    -a "$(kv lifecycleConfiguration.idleRuntimeSessionTimeout)" = 300 -a "$(kv description)" = "made by the CLI test"
run silo runtime get "$id" --json
check "runtime get --json is the API's JSON" \
    test "$rc" = 0 -a "$(jget .status <"$out")" = READY -a "$(jget .agentRuntimeId <"$out")" = "$id" \
    -a "$(jget .environmentVariables.MODE <"$out")" = test

other1=$(silo runtime create "cli_other_$RANDOM" --image "$dir/agent-v1" --json | jget .agentRuntimeId)
other2=$(silo runtime create "cli_other_$RANDOM" --image "$dir/agent-v1" --json | jget .agentRuntimeId)
run silo runtime list
check "runtime list (readable) has a header and an aligned row for the runtime" \
    test "$rc" = 0 -a -n "$(grep -E '^ID +NAME +VERSION +STATUS +UPDATED +DESCRIPTION$' "$out")" \
    -a -n "$(grep -E "^$id +$name +1 +READY +[0-9T:.Z-]+ +made by the CLI test$" "$out")"
run silo runtime list --json
all=$(jcount .agentRuntimes <"$out")
check "runtime list --json lists the three runtimes (a JSON parser reads it)" \
    eval 'test "$rc" = 0 -a "$all" = 3 && jhas .agentRuntimes agentRuntimeId "$id" <"$out" && jhas .agentRuntimes agentRuntimeId "$other2" <"$out"'
lists_before=$(grep -c 'method=POST op=control' "$dir/silod.log")
run silo runtime list --json --page-size 1
lists_after=$(grep -c 'method=POST op=control' "$dir/silod.log")
check "runtime list --page-size 1 follows nextToken through every page ($((lists_after - lists_before)) requests)" \
    test "$rc" = 0 -a "$(jcount .agentRuntimes <"$out")" = 3 -a $((lists_after - lists_before)) -ge 3
SILO_CLI_OWN_SIGV4=1 run silo runtime list --json --page-size 2
check "every control call verifies with the CLI's own signer too (SILO_CLI_OWN_SIGV4=1, paged query)" \
    test "$rc" = 0 -a "$(jcount .agentRuntimes <"$out")" = 3

# --- update / versions -----------------------------------------------------------------------
run silo runtime update "$id" --image "$dir/agent-v2" --env MODE=second --wait
check "runtime update --wait makes version 2 READY" \
    test "$rc" = 0 -a "$(kv agentRuntimeVersion)" = 2 -a "$(kv status)" = READY
run silo runtime get "$id" --json
check "runtime update keeps the settings it was not given and changes the ones it was" \
    test "$(jget .agentRuntimeArtifact.containerConfiguration.containerUri <"$out")" = "$dir/agent-v2" \
    -a "$(jget .environmentVariables.GREETING <"$out")" = "hello world" \
    -a "$(jget .environmentVariables.MODE <"$out")" = second \
    -a "$(jget .lifecycleConfiguration.idleRuntimeSessionTimeout <"$out")" = 300
run silo runtime get "$id" --version 1 --json
check "runtime get --version 1 still shows version 1's image" \
    test "$rc" = 0 -a "$(jget .agentRuntimeArtifact.containerConfiguration.containerUri <"$out")" = "$dir/agent-v1"
run silo runtime versions "$id"
check "runtime versions (readable) lists 2 then 1" \
    test "$rc" = 0 -a "$(awk 'NR > 1 { printf "%s,", $1 }' "$out")" = "2,1,"
run silo runtime versions "$id" --json
check "runtime versions --json has both versions" test "$rc" = 0 -a "$(jcount .agentRuntimes <"$out")" = 2

# --- endpoints -------------------------------------------------------------------------------
run silo endpoint create "$id" pinned --version 1 --description "stays on v1" --wait
check "endpoint create pinned --version 1 --wait ends READY on version 1" \
    test "$rc" = 0 -a "$(kv status)" = READY -a "$(kv targetVersion)" = 1 -a "$(kv liveVersion)" = 1

whoami_image() { jget .image <"$out" | sed -n 's/^test image for [^ ]* \(v[0-9]*\) from .*/\1/p'; }
run silo invoke "$id" whoami
check "invoke through DEFAULT reaches version 2's image ($(whoami_image))" test "$rc" = 0 -a "$(whoami_image)" = v2
run silo invoke "$id" whoami --qualifier pinned
check "invoke --qualifier pinned reaches version 1's image ($(whoami_image))" test "$rc" = 0 -a "$(whoami_image)" = v1

run silo endpoint get "$id" pinned
check "endpoint get (readable)" \
    test "$rc" = 0 -a "$(kv name)" = pinned -a "$(kv liveVersion)" = 1 -a "$(kv description)" = "stays on v1"
run silo endpoint update "$id" pinned --version 2 --wait
check "endpoint update --version 2 --wait moves the endpoint" \
    test "$rc" = 0 -a "$(kv liveVersion)" = 2 -a "$(kv status)" = READY
run silo invoke "$id" whoami --qualifier pinned
check "after the update, invoke --qualifier pinned reaches version 2 ($(whoami_image))" \
    test "$rc" = 0 -a "$(whoami_image)" = v2
run silo endpoint list "$id"
check "endpoint list (readable) shows DEFAULT and pinned" \
    test "$rc" = 0 -a -n "$(grep -E '^DEFAULT +2 +2 +READY' "$out")" -a -n "$(grep -E '^pinned +2 +2 +READY .* stays on v1$' "$out")"
run silo endpoint list "$id" --json
check "endpoint list --json" \
    eval 'test "$rc" = 0 -a "$(jcount .runtimeEndpoints <"$out")" = 2 && jhas .runtimeEndpoints name pinned <"$out"'
run silo endpoint delete "$id" pinned --wait
check "endpoint delete --wait" test "$rc" = 0 -a "$(kv deleted)" = true
run silo endpoint get "$id" pinned
check "a deleted endpoint is gone: one ResourceNotFoundException line, exit 1" \
    test "$rc" = 1 -a "$(wc -l <"$err")" = 1 -a -n "$(grep -E '^silo: ResourceNotFoundException: .* \(HTTP 404\)$' "$err")"

# --- invoke: ARN, sessions, payloads, streaming ----------------------------------------------
run silo invoke "$arn" whoami
check "invoke by ARN (percent-encoded path, the CLI's own SigV4 signer) reaches version 2 ($(whoami_image))" \
    test "$rc" = 0 -a "$(whoami_image)" = v2
session=$(sed -n 's/^session: //p' "$err")
pid1=$(jget .vmm_pid <"$out")
check "invoke prints the session id on stderr ($session)" \
    test -n "$session" -a "$(jget '.headers["x-amzn-bedrock-agentcore-runtime-session-id"]' <"$out")" = "$session"
run silo invoke "$arn" whoami --session "$session" --user-id "alice@example"
check "invoke --session reuses the session's VMM (pid $pid1 → $(jget .vmm_pid <"$out"))" \
    test "$rc" = 0 -a "$(jget .vmm_pid <"$out")" = "$pid1" -a "$(sed -n 's/^session: //p' "$err")" = "$session"
check "invoke --user-id reaches the agent as the User-Id header" \
    test "$(jget '.headers["x-amzn-bedrock-agentcore-runtime-user-id"]' <"$out")" = "alice@example"
run silo invoke "$id" whoami
check "invoke without --session gets another VMM" test "$rc" = 0 -a "$(jget .vmm_pid <"$out")" != "$pid1"

run silo invoke "$id" '{"prompt":"hi"}'
check "invoke DATA: the echo agent answers the payload" test "$rc" = 0 -a "$(cat "$out")" = '{"prompt":"hi"}'
run silo invoke "$id" whoami
check "invoke DATA goes as application/json by default" \
    test "$(jget '.headers["content-type"]' <"$out")" = application/json
run silo invoke "$id" whoami --content-type text/plain --accept application/x-ndjson
check "invoke --content-type and --accept reach the agent" \
    test "$rc" = 0 -a "$(jget '.headers["content-type"]' <"$out")" = text/plain \
    -a "$(jget '.headers.accept' <"$out")" = application/x-ndjson
head -c $((4 * 1024 * 1024 + 17)) /dev/urandom >"$dir/payload.bin"
want=$(sha256sum <"$dir/payload.bin" | cut -d' ' -f1)
run silo invoke "$id" --file "$dir/payload.bin"
got=$(sha256sum <"$out" | cut -d' ' -f1)
check "invoke --file (4 MiB, Content-Length + signed SHA-256) round-trips (sha256 ${got:0:12}…)" \
    test "$rc" = 0 -a "$got" = "$want"
cat "$dir/payload.bin" | silo invoke "$id" - >"$out" 2>"$err"
rc=$?
got=$(sha256sum <"$out" | cut -d' ' -f1)
check "invoke - from a pipe (chunked, UNSIGNED-PAYLOAD) round-trips (sha256 ${got:0:12}…)" \
    test "$rc" = 0 -a "$got" = "$want"
run silo invoke "$arn" --file "$dir/payload.bin" --content-type application/x-test
got=$(sha256sum <"$out" | cut -d' ' -f1)
check "invoke by ARN with --file (own signer, signed SHA-256) round-trips" test "$rc" = 0 -a "$got" = "$want"

# 100 MiB (silod's limit): streamed from disk both ways, never held in the CLI's memory
head -c $((100 * 1024 * 1024)) /dev/urandom >"$dir/big.bin"
want=$(sha256sum <"$dir/big.bin" | cut -d' ' -f1)
if [ -x /usr/bin/time ]; then
    got=$(/usr/bin/time -f %M -o "$dir/rss" "$BUILD/host/bin/silo-api" invoke "$id" --file "$dir/big.bin" 2>"$err" |
          sha256sum | cut -d' ' -f1)
    rss_kib=$(tail -1 "$dir/rss" 2>/dev/null)
    check "invoke --file of 100 MiB round-trips with the CLI's peak RSS at ${rss_kib:-?} KiB (< 40 MiB)" \
        test "$got" = "$want" -a -n "$rss_kib" -a "${rss_kib:-999999}" -lt 40960
else
    got=$(silo invoke "$id" --file "$dir/big.bin" 2>"$err" | sha256sum | cut -d' ' -f1)
    check "invoke --file of 100 MiB round-trips (peak RSS not measured: no /usr/bin/time)" test "$got" = "$want"
fi
rm -f "$dir/big.bin"

# SSE: the three events (50 ms apart) must reach stdout as they come, not all at the end
stamps=$dir/stamps
silo invoke "$id" sse 2>/dev/null | while IFS= read -r line; do
    [ -n "$line" ] && echo "${EPOCHREALTIME/./} $line"
done >"$stamps"
events=$(grep -c 'data: {"event":' "$stamps")
spread=$(( ($(tail -1 "$stamps" | cut -d' ' -f1) - $(head -1 "$stamps" | cut -d' ' -f1)) / 1000 ))
check "invoke streams SSE events as they arrive ($events events over ${spread} ms)" \
    test "$events" = 3 -a "$spread" -ge 60

# --- stop-session ----------------------------------------------------------------------------
run silo stop-session "$arn" "$session"
check "stop-session by ARN" test "$rc" = 0 -a "$(kv runtimeSessionId)" = "$session"
run silo invoke "$id" whoami --session "$session"
check "after stop-session the session gets a fresh VMM (pid $pid1 → $(jget .vmm_pid <"$out"))" \
    test "$rc" = 0 -a "$(jget .vmm_pid <"$out")" != "$pid1"
run silo stop-session "$id" "$session" --json
check "stop-session by id --json" test "$rc" = 0 -a "$(jget .runtimeSessionId <"$out")" = "$session"
run silo stop-session "$id" "$session"
check "stop-session of a stopped session: ResourceNotFoundException, exit 1" \
    test "$rc" = 1 -a -n "$(grep -E '^silo: ResourceNotFoundException: .* \(HTTP 404\)$' "$err")"

# --- errors ----------------------------------------------------------------------------------
AWS_SECRET_ACCESS_KEY="wrong$secret" run silo runtime list
check "a wrong secret: one InvalidSignatureException line (AWS's type), exit 1 ($(head -1 "$err"))" \
    test "$rc" = 1 -a "$(wc -l <"$err")" = 1 -a -n "$(grep -E '^silo: InvalidSignatureException: .* \(HTTP 403\)$' "$err")"
AWS_SECRET_ACCESS_KEY="wrong$secret" run silo invoke "$arn" whoami
check "a wrong secret on invoke by ARN: InvalidSignatureException line, exit 1, nothing on stdout" \
    test "$rc" = 1 -a ! -s "$out" -a -n "$(grep -E '^silo: InvalidSignatureException: ' "$err")"
AWS_ACCESS_KEY_ID="${akid}T" AWS_SESSION_TOKEN="tok-$secret" run silo runtime list --json
check "AWS_SESSION_TOKEN is sent and signed (libcurl's signer)" test "$rc" = 0 -a "$(jcount .agentRuntimes <"$out")" -ge 3
AWS_ACCESS_KEY_ID="${akid}T" AWS_SESSION_TOKEN="tok-$secret" run silo invoke "$arn" '"with a token"'
check "AWS_SESSION_TOKEN is sent and signed (own signer, invoke by ARN)" test "$rc" = 0 -a "$(cat "$out")" = '"with a token"'
AWS_ACCESS_KEY_ID="${akid}T" run silo runtime list
check "a key that needs a session token fails without AWS_SESSION_TOKEN (exit 1, one line)" \
    test "$rc" = 1 -a "$(wc -l <"$err")" = 1 -a -n "$(grep -E '^silo: [A-Za-z]+Exception: .* \(HTTP 40[13]\)$' "$err")"
run silo runtime get "nosuch_runtime-0123456789"
check "an unknown runtime: one ResourceNotFoundException line, exit 1 ($(head -1 "$err"))" \
    test "$rc" = 1 -a "$(wc -l <"$err")" = 1 -a -n "$(grep -E '^silo: ResourceNotFoundException: .*nosuch_runtime-0123456789.* \(HTTP 404\)$' "$err")"
run silo invoke "nosuch_runtime-0123456789" hello
check "invoke of an unknown runtime: ResourceNotFoundException, exit 1" \
    test "$rc" = 1 -a -n "$(grep -E '^silo: ResourceNotFoundException: ' "$err")"
run silo invoke "$id" fail
check "an agent failing: RuntimeClientError line (HTTP 424), exit 1" \
    test "$rc" = 1 -a -n "$(grep -E '^silo: RuntimeClientError: .*boom.* \(HTTP 424\)$' "$err")"
run silo runtime list --endpoint-url "http://127.0.0.1:1"
check "no server: one 'cannot reach' line, exit 1" \
    test "$rc" = 1 -a "$(wc -l <"$err")" = 1 -a -n "$(grep -e '^silo: cannot reach silod at http://127.0.0.1:1' "$err")"
env -u AWS_ACCESS_KEY_ID tools/silo runtime list >"$out" 2>"$err"
rc=$?
check "no credentials: exit 2 with a clear line" test "$rc" = 2 -a -n "$(grep -e 'no credentials' "$err")"
run silo runtime create "cli_broken_$RANDOM" --image "$dir/no-such-dir" --wait
check "create --wait of a version that fails to build: exit 1, CREATE_FAILED and its failureReason" \
    test "$rc" = 1 -a "$(kv status)" = CREATE_FAILED -a -n "$(grep -E 'is CREATE_FAILED: .+' "$err")"

# --- delete ----------------------------------------------------------------------------------
run silo runtime delete "$id" --wait
check "runtime delete --wait" test "$rc" = 0 -a "$(kv deleted)" = true
run silo runtime get "$id"
check "the deleted runtime is gone (ResourceNotFoundException)" \
    test "$rc" = 1 -a -n "$(grep -e '^silo: ResourceNotFoundException' "$err")"
run silo runtime list --json
check "runtime list no longer shows it" \
    eval '! jhas .agentRuntimes agentRuntimeId "$id" <"$out" && jhas .agentRuntimes agentRuntimeId "$other1" <"$out"'

if grep -qF "$secret" "$dir/silod.log"; then
    not_ok "silod's log contains the secret key"
fi
[ "$failures" = 0 ]
