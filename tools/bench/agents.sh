# tools/bench/agents.sh — exec -> "agent ready" (agentd saw the agent's port accept) for the C,
# the Node SDK and the Python (standard library; with precompiled bytecode, and with it ignored:
# PYTHONPYCACHEPREFIX, see python_agent_images in guest_agents.lib) sample agents, each in its own microVM booted from its ext4 image
# (copy-on-write root, vsock), under silo-vmm and under the peer (QEMU -accel kvm, virtio-blk
# snapshot=on, vhost-vsock), alternating, median of BENCH_AGENT_RUNS (default 3). Then the
# image sizes. In the dev host: nested KVM under TCG, so only the ratio is meaningful.
# silo-vmm runs jailed, as silod runs a session's (tests/e2e/jailed-vmm: silo-jail, a cgroup;
# its set-up is in our figure); SILO_E2E_JAIL=0 measures it bare. QEMU runs bare.
. /silo/tools/bench/common.lib
runs=${BENCH_AGENT_RUNS:-3}
# the Python agent's images are built here from its OCI archive (guest_agents.lib)
VMM=silo
. /silo/tests/e2e/guest_agents.lib
python_agent_images /tmp/bench-agent-images || echo "# the Python agent's images could not be built" >&2
export SILO_AGENT_IMAGES=/tmp/bench-agent-images

# one_boot VMM NAME: boots, waits for ready, asks agentd to shut down, prints ready_ms
one_boot() {
    VMM=$1
    . /silo/tests/e2e/guest_agents.lib
    if boot_agent "$2"; then
        control SHUTDOWN >/dev/null
        wait_vm_exit 60 || stop_agent
        field ready_ms "$(cat "$W/$2.boottime" 2>/dev/null)"
        [ "$1" = silo ] && phases "$W/$2.console" >>/tmp/ba.phases.$2
    else
        stop_agent
        echo "# $1 $2: did not become ready" >&2
    fi
}

# phases CONSOLE: the guest's side of the boot, in seconds of guest uptime, from the lines
# silo-init and agentd print: init_start mounts init_up agent_start agent_ready
phases() {
    tr -d '\r' <"$1" | awk '
        /silo-init: up at/ { for (i = 1; i <= NF; i++) { if ($i == "at" && up == "") up = $(i + 1);
                                                       if ($i == "(init") start = $(i + 3); if ($i == "took") mounts = $(i + 1) } }
        /silo-agentd: agent started/ { as = $NF }
        /silo-agentd: agent ready/ { for (i = 1; i <= NF; i++) if ($i == "after" && $(i + 1) == "boot") ar = $(i - 1) }
        END { gsub(/[s;)]/, "", start); gsub(/[s;)]/, "", mounts); gsub(/[s,]/, "", up); gsub(/s/, "", as); gsub(/s/, "", ar);
              print start, mounts, up, as, ar }'
}
col() { awk -v c="$1" '{ print $c * 1000 }' "$2" | median; }

for agent in c-echo node-sdk python-agent python-agent-nopyc; do
    : >/tmp/ba.silo; : >/tmp/ba.qemu; : >/tmp/ba.phases.$agent
    i=0
    while [ $i -lt "$runs" ]; do
        one_boot silo "$agent" >>/tmp/ba.silo
        one_boot qemu "$agent" >>/tmp/ba.qemu
        i=$((i + 1))
    done
    eval "silo_$(echo $agent | tr - _)=\$(grep -v '^$' /tmp/ba.silo | median)"
    eval "qemu_$(echo $agent | tr - _)=\$(grep -v '^$' /tmp/ba.qemu | median)"
done

echo
echo "== agents: exec -> agent ready (its port accepts), 2 vCPUs, 1 GiB, median of $runs (dev host)"
header "figure"
row "C sample agent (ms)" "$silo_c_echo" "$qemu_c_echo"
row "Node AgentCore SDK agent (ms)" "$silo_node_sdk" "$qemu_node_sdk"
row "Python stdlib agent, bytecode (ms)" "$silo_python_agent" "$qemu_python_agent"
row "Python stdlib agent, no bytecode (ms)" "$silo_python_agent_nopyc" "$qemu_python_agent_nopyc"
echo "Python agent / C agent under silo-vmm: $(ratio "$silo_c_echo" "$silo_python_agent") with bytecode," \
    "$(ratio "$silo_c_echo" "$silo_python_agent_nopyc") without"
for agent in c-echo node-sdk python-agent python-agent-nopyc; do
    f=/tmp/ba.phases.$agent
    [ -s $f ] || continue
    echo "guest side of a silo-vmm cold start, $agent (ms of guest uptime, medians): kernel until init $(col 1 $f);" \
        "mounts $(col 2 $f); init up $(col 3 $f); agentd started the agent $(col 4 $f); agent ready $(col 5 $f)"
done
echo "image sizes (apparent / allocated):"
for f in /tmp/bench-agent-images/*.ext4; do
    echo "  $(basename "$f"): $(( $(stat -L -c %s "$f") / 1048576 )) MiB / $(du -mL "$f" | cut -f1) MiB"
done
