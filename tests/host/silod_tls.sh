#!/usr/bin/env bash
# tests/host/silod_tls.sh — silod serving HTTPS (tls_cert_file / tls_key_file), natively on
# loopback with the fake VMM (tests/frontend/fake_vmm.c, a TEST DOUBLE: no microVM boots here;
# every verdict says "(fake VMM)").
#
# At test time, in a temporary directory, the `openssl` CLI makes a throwaway test CA and a
# server certificate for DNS:localhost signed by it (nothing private is committed; the
# directory is removed at the end). Then:
#   - silod refuses to start, with one line naming the key, on: a certificate without its key,
#     an unreadable key, a key that is not the certificate's, a non-loopback listen address
#     without TLS; and starts on 0.0.0.0 without TLS only with "allow_plain_http": true;
#   - silod with TLS is driven by the real AWS SDK (tests/frontend/sdk/tls.tls.mjs: verified
#     with the CA, refused without it and for a wrong host name, slow handshakes cut off, the
#     front door's limits over TLS);
#   - the silo CLI with --ca-file (and SILO_CA_FILE) over https://, and refused without it.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/frontend/sdk
failures=0
ok() { echo "ok - silod TLS (fake VMM): $*"; }
not_ok() { echo "not ok - silod TLS (fake VMM): $*"; failures=$((failures + 1)); }
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" "$BUILD/host/bin/silo-api" >&2; then
    not_ok "build of silod, fake_vmm and silo-api"
    exit 1
fi
if ! command -v openssl >/dev/null; then
    not_ok "the openssl command is needed to make the test CA (make deps)"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    not_ok "$why"
    exit 1
fi

dir=$(mktemp -d /tmp/silo-tls-test.XXXXXX)
silod_pid=
stop_silod() {
    if [ -n "$silod_pid" ]; then
        kill -TERM "$silod_pid" 2>/dev/null
        wait "$silod_pid" 2>/dev/null
    fi
    silod_pid=
}
trap 'stop_silod; rm -rf "$dir"' EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/agent-v1" "$dir/agent-v2"

# --- a throwaway CA and a certificate for localhost (only), made now -------------------------
pki=$dir/pki
mkdir -m 700 "$pki"
if ! (
    cd "$pki" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days 1 -subj "/CN=silo test CA $$" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
        -subj "/CN=localhost" &&
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 \
        -extfile ext.cnf &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out /dev/null -subj "/CN=other"
) >"$dir/openssl.log" 2>&1; then
    cat "$dir/openssl.log" >&2
    not_ok "openssl could not make the test CA and certificate"
    exit 1
fi
ok "a test CA and a server certificate for DNS:localhost made with openssl in $pki"

akid="AKIDSILOTLS$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
head_timeout=2
# config EXTRA_JSON: silod's config with EXTRA_JSON's keys added
config() {
    cat <<JSON
{
  $1
  "listen_port": 0, "region": "us-east-1", "account_id": "123456789012",
  "database": "$dir/silod.db", "head_timeout_s": $head_timeout,
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "tls-tester" } ],
  "image_builder": "$PWD/tests/frontend/test_image_builder.sh",
  "max_sessions": 20, "max_guest_mib": 4096,
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "/nonexistent/Image",
           "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets",
           "cpus": 1, "guest_mib": 128, "ready_timeout_ms": 5000 }
}
JSON
}

# --- refusals at start --------------------------------------------------------------------------
# refuses NAME EXTRA_JSON WANT: silod exits non-zero within 5 s with one line containing WANT
refuses() {
    config "$2" >"$dir/bad.json"
    timeout 5 "$BUILD/host/bin/silod" --config "$dir/bad.json" 2>"$dir/bad.log" >/dev/null
    local rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF -- "$3" "$dir/bad.log" && [ "$(grep -c . "$dir/bad.log")" = 1 ]; then
        ok "silod refuses to start: $1 ($(cat "$dir/bad.log"))"
    else
        not_ok "silod with $1: exit $rc, wanted one line with '$3'; got: $(head -c 600 "$dir/bad.log")"
    fi
}
refuses "a certificate without its key" "\"listen_address\": \"127.0.0.1\", \"tls_cert_file\": \"$pki/server.pem\"," \
    "tls_key_file is required with tls_cert_file"
refuses "a key file that does not exist" \
    "\"listen_address\": \"127.0.0.1\", \"tls_cert_file\": \"$pki/server.pem\", \"tls_key_file\": \"$pki/nope.key\"," \
    "tls_key_file cannot be read ($pki/nope.key: No such file or directory)"
refuses "a certificate file that is not a certificate" \
    "\"listen_address\": \"127.0.0.1\", \"tls_cert_file\": \"$pki/ext.cnf\", \"tls_key_file\": \"$pki/server.key\"," \
    "tls_cert_file $pki/ext.cnf: not a PEM certificate"
refuses "a key that is not the certificate's" \
    "\"listen_address\": \"127.0.0.1\", \"tls_cert_file\": \"$pki/server.pem\", \"tls_key_file\": \"$pki/other.key\"," \
    "is not the key of the certificate"
refuses "plain HTTP on 0.0.0.0 (not loopback) without allow_plain_http" "\"listen_address\": \"0.0.0.0\"," \
    "listen_address 0.0.0.0 is not a loopback address"
. tests/host/silod_start.lib
# starts_on NAME EXTRA_JSON: silod starts with it (then is stopped)
config "\"listen_address\": \"0.0.0.0\", \"allow_plain_http\": true," >"$dir/plain.json"
"$BUILD/host/bin/silod" --config "$dir/plain.json" 2>"$dir/plain.log" &
silod_pid=$!
for _ in $(seq 1 100); do grep -q "listening on 0.0.0.0:" "$dir/plain.log" && break; sleep 0.05; done
check "silod starts on 0.0.0.0 in plain HTTP with \"allow_plain_http\": true" \
    grep -q "listening on 0.0.0.0:[0-9]* (region us-east-1, plain http)" "$dir/plain.log"
stop_silod
rm -f "$dir"/silod.db*

# --- silod with TLS -------------------------------------------------------------------------------
config "\"listen_address\": \"127.0.0.1\", \"tls_cert_file\": \"$pki/server.pem\", \"tls_key_file\": \"$pki/server.key\"," \
    >"$dir/silod.json"
if ! start_silod "$dir/silod.json" "$dir/silod.log"; then
    not_ok "silod with TLS did not start"
    exit 1
fi
check "silod says it serves https with the test certificate" \
    grep -q "silod: TLS certificate /CN=localhost" "$dir/silod.log"

SILOD_ENDPOINT="https://localhost:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" SILO_TLS_CA="$pki/ca.pem" \
SILO_HEAD_TIMEOUT_S=$head_timeout SILO_SILOD_LOG="$dir/silod.log" SILO_TEST_PREFIX="silod TLS (fake VMM)" \
AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=120000 --test-reporter="./$sdk/reporter.mjs" "$sdk/tls.tls.mjs"
[ $? = 0 ] || failures=$((failures + 1))

# --- the silo CLI over https ----------------------------------------------------------------------
export AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN SILO_CLI_OWN_SIGV4 SILO_BIN SILO_CA_FILE
out=$dir/out err=$dir/err
run() { "$@" >"$out" 2>"$err"; rc=$?; }
kv() { sed -n "s/^$1: *//p" "$out" | head -1; }
ep="https://localhost:$port"
run tools/silo runtime create "tls_cli_$RANDOM" --image "$dir/agent-v1" --wait --endpoint-url "$ep" --ca-file "$pki/ca.pem"
id=$(kv agentRuntimeId)
check "silo runtime create --wait over https with --ca-file (status: $(kv status))" \
    test "$rc" = 0 -a "$(kv status)" = READY -a -n "$id"
run tools/silo invoke "$id" '{"prompt":"hello over TLS from the CLI"}' --endpoint-url "$ep" --ca-file "$pki/ca.pem"
check "silo invoke over https with --ca-file streams the agent's answer" \
    test "$rc" = 0 -a "$(cat "$out")" = '{"prompt":"hello over TLS from the CLI"}'
SILO_ENDPOINT=$ep SILO_CA_FILE=$pki/ca.pem run tools/silo runtime get "$id"
check "SILO_ENDPOINT=https://… and SILO_CA_FILE work as the options do" test "$rc" = 0 -a "$(kv status)" = READY
run tools/silo runtime get "$id" --endpoint-url "$ep"
check "without the CA the CLI refuses the certificate (exit 1: $(head -c 200 "$err"))" \
    test "$rc" = 1 -a -n "$(grep -i 'certificate' "$err")"
run tools/silo runtime get "$id" --endpoint-url "https://127.0.0.1:$port" --ca-file "$pki/ca.pem"
check "a wrong host name is refused by the CLI (exit 1: $(head -c 200 "$err"))" \
    test "$rc" = 1 -a -n "$(grep -iE 'certificate|subject name|host ?name' "$err")"
run tools/silo runtime get "$id" --endpoint-url "$ep" --ca-file "$dir/none.pem"
check "--ca-file naming a missing file is a usage error (exit 2)" \
    test "$rc" = 2 -a -n "$(grep -e '--ca-file' "$err")"

stop_silod
if grep -qF "$secret" "$dir/silod.log" || grep -q "PRIVATE KEY" "$dir/silod.log"; then
    not_ok "silod's log contains a secret key or the TLS key"
else
    ok "silod's log holds neither the secret access key nor the TLS key"
fi
[ "$failures" = 0 ]
