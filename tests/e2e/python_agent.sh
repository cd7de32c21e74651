# tests/e2e/python_agent.sh — the standard-library Python sample agent (tests/agents/python-agent)
# inside the dev host (busybox sh):
#  1. its image (Debian's arm64 python3.11, bytecode precompiled by silo-image) boots under
#     silo-vmm and answers /ping, /invocations (JSON and SSE) over vsock;
#  0. its ext4 images are built here by silo-image from its OCI archive (python_agent_images);
#  2. only with PY_RUNS=N (N > 0; default 0, since figures belong in `make bench`, whose
#     tools/bench/agents.sh measures the same): cold start, exec silo-vmm -> agentd's "agent
#     ready", N times each, alternating: the C agent, the Python agent with bytecode, the same
#     image with bytecode ignored (python-agent-nopyc, PYTHONPYCACHEPREFIX); medians and ratios;
#  3. silod with the REAL image builder (silod-build-image, the local image store
#     /silo/extra/oci-store): CreateAgentRuntime from silo.local/agents/python-agent:latest,
#     an invocation, then an environment-only UpdateAgentRuntime (same containerUri, ECHO_TAG
#     changed) — timed, and the builder must only rewrite the environment ("reconfigured"),
#     not build the image again — and an invocation of the new version that sees the new value.
. /silo/tests/e2e/common.lib
VMM=silo
. /silo/tests/e2e/guest_agents.lib
runs=${PY_RUNS:-0}
if ! command -v silo-vmm >/dev/null; then fail "python agent: silo-vmm is not in /silo/bin"; exit 0; fi

# busybox date has no %N: /proc/uptime, 10 ms steps
now_ms() { read -r up _ </proc/uptime; echo $(( ${up%.*} * 1000 + 1${up#*.} * 10 - 1000 )); }

# --- 0. its images, built here from its OCI archive (python_agent_images, guest_agents.lib) ------
t0=$(now_ms)
if python_agent_images /tmp/python-agent-images; then
    pass "python agent: silo-image built its images in the dev host from the OCI archive ($(( $(now_ms) - t0 )) ms)"
else
    fail "python agent: silo-image could not build its images from the OCI archive in the dev host"; exit 0
fi
IMAGES=/tmp/python-agent-images
n=python-agent
if boot_agent $n; then
    pass "python agent: booted from its ext4 image (Debian arm64 python3.11), agentd reports it ready"
    check_jailed python-agent
    expect "python agent: GET /ping answers Healthy" '"status":"Healthy"' "$(http GET /ping)"
    out=$(http POST /invocations '{"prompt":"hello silo"}')
    expect "python agent: POST /invocations answers" '"reversed":"olis olleh"' "$out"
    expect "python agent: the session header reaches the agent" "\"session\":\"$SESSION\"" "$out"
    expect "python agent: it runs Debian's python 3.11" '"python":"3.11.' "$out"
    out=$(http POST /invocations '{"prompt":"tick","action":"stream","n":3}' 'Accept: text/event-stream')
    expect "python agent: SSE answer is text/event-stream" 'Content-Type: text/event-stream' "$out"
    expect "python agent: SSE carries event 2" 'data: {"index":2,"text":"tick 2"}' "$out"
    expect "python agent: control SHUTDOWN accepted" 'OK SHUTDOWN' "$(control SHUTDOWN)"
    if wait_vm_exit 60; then pass "python agent: SHUTDOWN powered the VM off"; else fail "python agent: still up 60 s after SHUTDOWN"; stop_agent; fi
    # the console must not show the interpreter failing to use (or write) its bytecode
    if grep -q "Traceback" "$W/$n.console"; then fail "python agent: a traceback on the console"; else pass "python agent: no traceback on the console"; fi
else
    fail "python agent: not ready within ${BOOT_TIMEOUT}s"; stop_agent
fi

# --- 2. cold start: C, Python with bytecode, Python without ----------------------------------
one_ready() {   # one_ready IMAGE: exec -> agent ready in ms (empty when it did not get ready)
    if boot_agent "$1" >/dev/null; then
        control SHUTDOWN >/dev/null
        wait_vm_exit 60 || stop_agent
        field ready_ms "$(cat "$W/$1.boottime" 2>/dev/null)"
    else
        stop_agent
    fi
}
if [ "$runs" -gt 0 ]; then
: >/tmp/py.c; : >/tmp/py.pyc; : >/tmp/py.nopyc
round=0                      # (not i: boot_agent uses that)
while [ $round -lt "$runs" ]; do
    one_ready c-echo >>/tmp/py.c
    one_ready python-agent >>/tmp/py.pyc
    one_ready python-agent-nopyc >>/tmp/py.nopyc
    round=$((round + 1))
done
med() { grep -v '^$' "$1" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
c=$(med /tmp/py.c); pyc=$(med /tmp/py.pyc); nopyc=$(med /tmp/py.nopyc)
echo "# runs (ms): C $(tr '\n' ' ' </tmp/py.c)| python $(tr '\n' ' ' </tmp/py.pyc)| python without bytecode $(tr '\n' ' ' </tmp/py.nopyc)"
if [ -n "$c" ] && [ -n "$pyc" ] && [ -n "$nopyc" ]; then
    echo "# bench: cold start exec -> agent ready, medians of $runs (dev host, 2 vCPUs, 1 GiB): C agent $c ms;" \
        "Python agent $pyc ms ($(awk -v a="$pyc" -v b="$c" 'BEGIN { printf "%.2f", a / b }')x C) with precompiled bytecode," \
        "$nopyc ms ($(awk -v a="$nopyc" -v b="$c" 'BEGIN { printf "%.2f", a / b }')x C) without"
    if awk -v a="$pyc" -v b="$nopyc" 'BEGIN { exit !(a < b) }'; then
        pass "python agent: with precompiled bytecode it is ready sooner than without ($pyc ms < $nopyc ms, medians of $runs)"
    else
        fail "python agent: precompiled bytecode did not make the cold start faster ($pyc ms vs $nopyc ms)"
    fi
else
    fail "python agent: a cold-start run did not become ready (C '$c', python '$pyc', without bytecode '$nopyc')"
fi
fi

# --- 3. silod: create, invoke, environment-only update, invoke --------------------------------
d=/tmp/py-silod
rm -rf $d; mkdir -p $d/images $d/sock
akid=AKIDPYTHONE2E0000001
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
cat >$d/silod.json <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": 18080,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "python-e2e" } ],
  "image_builder": "/silo/bin/silod-build-image",
  "image_store": "/silo/extra/oci-store",
  "max_sessions": 4, "max_guest_mib": 1536,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 1, "guest_mib": 256, "ready_timeout_ms": 120000, "cmdline": "$cmdline" }
}
JSON
silod --config $d/silod.json </dev/null >$d/silod.out 2>$d/silod.log &
silod_pid=$!
export SILO_ENDPOINT=http://127.0.0.1:18080 AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
i=0
while [ $i -lt 300 ] && ! grep -q "silod: listening" $d/silod.log; do sleep 0.2; i=$((i + 1)); done
image=silo.local/agents/python-agent:latest
json_str() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -1; }
t0=$(now_ms)
silo-api runtime create python_e2e --image $image --env ECHO_TAG=first --wait --json >$d/create.json 2>$d/cli.err
t1=$(now_ms)
rt=$(json_str agentRuntimeId <$d/create.json)
if [ -z "$rt" ] || ! grep -q '"status": *"READY"' $d/create.json; then
    tail -5 $d/cli.err | sed 's/^/#   /'; grep "silod: build" $d/silod.log | tail -8 | sed 's/^/#   /'
    fail "python agent via silod: CreateAgentRuntime from $image did not become READY"
else
    pass "python agent via silod: CreateAgentRuntime from $image READY in $((t1 - t0)) ms (image build + boot check)"
    echo "# bench: python agent via silod in the dev host: CreateAgentRuntime -> READY $((t1 - t0)) ms"
    out=$(silo-api invoke "$rt" '{"prompt":"first call"}' --session python-e2e-session-one-0123456789abcdef 2>>$d/cli.err)
    expect "python agent via silod: the invocation answers" '"reversed":"llac tsrif"' "$out"
    expect "python agent via silod: version 1 sees ECHO_TAG=first" '"echo_tag":"first"' "$out"
    # no `jail` in this config: silod (root, /dev/kvm) jails its VMMs on its own, each with a keeper
    jl=$(grep "^silod: jail: each VMM" $d/silod.log | head -1)
    vm=""
    for c in /proc/[0-9]*/cmdline; do
        case "$(tr '\0' ' ' <"$c" 2>/dev/null)" in "/silo-vmm "*) p=${c#/proc/}; p=${p%/cmdline}
            [ "$(cat /proc/$p/comm 2>/dev/null)" = silo-vmm ] && vm=$p ;; esac
    done
    echo "$jl" | grep -q "^silod: jail: each VMM under /silo/bin/silo-jail" && [ -n "$vm" ] &&
        grep -q "^Uid:[[:space:]]*20[0-9][0-9][0-9][0-9][[:space:]]" /proc/$vm/status &&
        grep -q "^CapEff:[[:space:]]*0000000000000000" /proc/$vm/status
    [ $? = 0 ] && pass "python agent via silod: without a jail object silod jails its VMMs (auto): pid ${vm} runs as uid $(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/${vm:-0}/status 2>/dev/null), no capabilities" ||
        fail "python agent via silod: the VMM is not jailed by default ('${jl}', VMM pid '${vm}')"
    # ... in its own PID namespace, and (no jail.cgroup_parent either) a cgroup silod picked
    vcg=$(sed -n 's/^0:://p' /proc/${vm:-0}/cgroup 2>/dev/null)
    echo "$jl" | grep -q "cgroups under /sys/fs/cgroup/silo-vmms" &&
        [ "$(readlink /proc/${vm:-0}/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
        case "$vcg" in /silo-vmms/vmm-*) [ "$(cat /sys/fs/cgroup$vcg/memory.max)" != max ] ;; *) false ;; esac
    [ $? = 0 ] && pass "python agent via silod: by default the jailed VMM has its own PID namespace and a cgroup silod picked ($vcg, memory.max $(cat /sys/fs/cgroup$vcg/memory.max 2>/dev/null))" ||
        fail "python agent via silod: no PID namespace or cgroup by default ('${jl}', cgroup '${vcg}')"
    t0=$(now_ms)
    silo-api runtime update "$rt" --image $image --env ECHO_TAG=second --wait --json >$d/update.json 2>>$d/cli.err
    t1=$(now_ms)
    if grep -q '"status": *"READY"' $d/update.json && grep -q '"agentRuntimeVersion": *"2"' $d/update.json; then
        pass "python agent via silod: an environment-only UpdateAgentRuntime is READY (version 2) in $((t1 - t0)) ms"
        echo "# bench: python agent via silod in the dev host: environment-only UpdateAgentRuntime -> READY $((t1 - t0)) ms"
    else
        sed 's/^/#   /' $d/update.json | head -20; tail -5 $d/cli.err | sed 's/^/#   /'
        fail "python agent via silod: the environment-only update did not become READY as version 2"
    fi
    grep -a "silod: build $rt v[12]: silo-image: \|silod: build $rt v[12]: silod-build-image: " $d/silod.log | sed 's/^/# /'
    if grep -q "silod: build $rt v2: silo-image: .* (reconfigured) " $d/silod.log &&
       ! grep -q "silod: build $rt v2: silo-image: .* layer 1/1" $d/silod.log; then
        pass "python agent via silod: version 2's image is version 1's with the new environment written in (no layer unpacked, no mkfs)"
    else
        fail "python agent via silod: version 2's image was built again, not reconfigured"
    fi
    out=$(silo-api invoke "$rt" '{"prompt":"second call"}' --session python-e2e-session-two-0123456789abcdef 2>>$d/cli.err)
    expect "python agent via silod: version 2 sees ECHO_TAG=second" '"echo_tag":"second"' "$out"
    silo-api runtime delete "$rt" >/dev/null 2>&1
fi
grep -a "python bytecode" $d/silod.log | head -3 | sed 's/^/# /'
kill $silod_pid 2>/dev/null
wait $silod_pid 2>/dev/null
exit 0
