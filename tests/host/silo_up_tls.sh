#!/usr/bin/env bash
# tests/host/silo_up_tls.sh — `make run` with TLS: `tools/silo up --tls-cert --tls-key --tls-ca`
# from this machine (the dev host boots, silod inside it serves HTTPS with a certificate for
# localhost made here by the `openssl` CLI from a throwaway CA, in a temporary directory), the
# sample runtime deployed over https, the printed `silo invoke` command (its credentials file
# names the CA) and a `silo deploy` run over https, a client without the CA refused, and Ctrl-C
# stopping everything and removing the certificate and key from the dev host's payload
# directory. Verdicts say "(dev host, real microVMs)".
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
label="silo up with TLS (dev host, real microVMs)"
dir=$(mktemp -d /tmp/silo-up-tls-test.XXXXXX)
up_pid=
cleanup() {
    [ -n "$up_pid" ] && kill -INT "$up_pid" 2>/dev/null && sleep 5
    [ -n "$up_pid" ] && kill -KILL "$up_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "not ok - $label: $*"; }
ok() { echo "ok - $label: $*"; }

pki=$dir/pki
mkdir -m 700 "$pki"
if ! (
    cd "$pki" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days 1 -subj "/CN=silo up test CA $$" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
        -subj "/CN=localhost" &&
    printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile ext.cnf
) >"$dir/openssl.log" 2>&1; then
    fail "openssl could not make the test CA: $(tail -3 "$dir/openssl.log")"
    exit 1
fi

t0=$(date +%s)
setsid env --default-signal=INT tools/silo up --port 0 --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" \
    --tls-ca "$pki/ca.pem" >"$dir/out" 2>"$dir/err" &
up_pid=$!
port=
for _ in $(seq 1 1200); do
    port=$(sed -n 's|^  silod is up at https://localhost:\([0-9]*\) .*|\1|p' "$dir/out")
    [ -n "$port" ] && break
    kill -0 "$up_pid" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$port" ]; then
    tail -25 "$dir/err" | sed 's/^/#   /'
    fail "no 'silod is up at https://localhost:PORT' line within 600 s"
    exit 1
fi
ok "up over HTTPS, the sample runtime deployed through https after $(( $(date +%s) - t0 )) s"
if [ -f "$BUILD/devhost-extra/up-tls/silod.key" ]; then
    ok "the key is in the dev host's payload directory while silo up runs (mode $(stat -c %a "$BUILD/devhost-extra/up-tls/silod.key"))"
else
    fail "the key is not in $BUILD/devhost-extra/up-tls while silo up runs"
fi

creds=$(grep -m1 '^    set -a; \. ' "$dir/out" | sed 's/^ *//')
invoke=$(grep -m1 '^    tools/silo invoke ' "$dir/out" | sed 's/^ *//')
answer=$(bash -c "$creds; $invoke" 2>"$dir/invoke.err")
if [ $? = 0 ] && printf '%s' "$answer" | grep -q '"boot_id"'; then
    ok "the printed invoke command works over https (SILO_CA_FILE from the credentials file)"
else
    fail "'$invoke' answered: $answer $(cat "$dir/invoke.err")"
fi
answer=$(bash -c "$creds; unset SILO_CA_FILE; $invoke" 2>&1)
if [ $? = 1 ] && printf '%s' "$answer" | grep -qi 'certificate'; then
    ok "without the CA the CLI refuses silod's certificate"
else
    fail "without the CA: $answer"
fi
if curl -sS "https://localhost:$port/metrics" >/dev/null 2>&1; then
    fail "curl without the CA accepted the certificate"
else
    ok "curl without the CA refuses the certificate"
fi

mkdir -p "$dir/agent/app"
cp "$BUILD/arm64/bin/c-echo-agent" "$dir/agent/app/agent"
sed 's/"PORT=8080"/"PORT=8080", "ECHO_TAG=tls-deploy"/' tests/agents/c-echo/image-config.json >"$dir/agent/image-config.json"
bash -c "$creds; tools/silo deploy '$dir/agent' --name tls_deployed" >"$dir/deploy.out" 2>"$dir/deploy.err"
rc=$?
dep_invoke=$(grep -m1 '^  tools/silo invoke ' "$dir/deploy.out" | sed 's/^ *//')
answer=$(bash -c "$creds; $dep_invoke" 2>&1)
if [ $rc = 0 ] && printf '%s' "$dep_invoke" | grep -q -- "--endpoint-url https://localhost:$port --ca-file " &&
   printf '%s' "$answer" | grep -q '"echo_tag": *"tls-deploy"'; then
    ok "silo deploy over https: uploaded, READY, its printed command (with --ca-file) reaches the agent"
else
    fail "silo deploy over https: exit $rc; $(tail -3 "$dir/deploy.err" | tr '\n' ' '); invoke '$dep_invoke': $answer"
fi

kill -INT "$up_pid"
stopped=
for _ in $(seq 1 240); do kill -0 "$up_pid" 2>/dev/null || { stopped=1; break; }; sleep 0.5; done
if [ -z "$stopped" ]; then
    fail "still running 120 s after Ctrl-C"
else
    wait "$up_pid"; rc=$?
    up_pid=
    key_line=$(sed -n 2p "$pki/server.key")
    left=$(grep -rlF -- "$key_line" "$BUILD/devhost-extra" "$BUILD/devhost" 2>/dev/null | head -3)
    if [ $rc = 0 ] && grep -q 'silod in the dev host: stopped' "$dir/err" && [ ! -e "$BUILD/devhost-extra/up-tls" ] &&
       [ -z "$left" ]; then
        ok "Ctrl-C drains silod, stops the dev host, exits 0; the TLS key is nowhere under $BUILD/devhost-extra or $BUILD/devhost"
    else
        fail "Ctrl-C: exit $rc; $(tail -3 "$dir/err" | tr '\n' ' '); the key left in: ${left:-none} $(ls "$BUILD/devhost-extra/up-tls" 2>&1)"
    fi
fi
