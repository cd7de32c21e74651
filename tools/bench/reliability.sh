# tools/bench/reliability.sh — boot reliability: the C sample agent's microVM booted
# BENCH_RELIABILITY_RUNS times (default 20) the way silod boots a session (256 MiB, 1 vCPU,
# copy-on-write root, vsock), under silo-vmm and under the peer (QEMU -accel kvm), alternating.
# Counts the boots whose agent was ready within BENCH_RELIABILITY_TIMEOUT s (default 60), and
# the median and slowest exec -> agent ready. A boot that does not get there is a failure: its
# console's last lines are printed, and the whole console is kept in /tmp/reliability-VMM-N.console.
# In the dev host: nested KVM under TCG, so times are only comparable within one run.
. /silo/tools/bench/common.lib
runs=${BENCH_RELIABILITY_RUNS:-20}
timeout_s=${BENCH_RELIABILITY_TIMEOUT:-60}

# stop_within VMM RUN: SIGTERM; a VMM still there 15 s later is reported and SIGKILLed
stop_within() {
    kill "$vm_pid" 2>/dev/null
    pkill -TERM -P "$vm_pid" 2>/dev/null
    wait_vm_exit 15 && return 0
    echo "# $1 boot $2: the VMM was still running 15 s after SIGTERM; SIGKILL"
    echo x >>/tmp/rel.$1.stuck
    pkill -KILL -P "$vm_pid" 2>/dev/null
    kill -KILL "$vm_pid" 2>/dev/null
    wait "$vm_pid" 2>/dev/null
}

# one_boot VMM RUN: boots c-echo, waits for ready, asks agentd to shut down; appends the ready
# ms to /tmp/rel.VMM, or counts a failure in /tmp/rel.VMM.failed
one_boot() {
    VMM=$1 AGENT_MEM_MIB=256 AGENT_CPUS=1 SILO_AGENT_BOOT_TIMEOUT=$timeout_s
    . /silo/tests/e2e/guest_agents.lib
    if boot_agent c-echo >/tmp/rel.msg; then
        control SHUTDOWN >/dev/null
        wait_vm_exit 60 || stop_within "$1" "$2"
        ms=$(field ready_ms "$(cat "$W/c-echo.boottime" 2>/dev/null)")
        echo "$ms" >>/tmp/rel.$1
        echo "# $1 boot $2: agent ready after $ms ms"
    else
        stop_within "$1" "$2"
        cp "$W/c-echo.console" "/tmp/reliability-$1-$2.console" 2>/dev/null
        echo "# $1 boot $2: the agent was not ready within ${timeout_s} s; console kept in /tmp/reliability-$1-$2.console"
        sed 's/^/# /' /tmp/rel.msg
        echo x >>/tmp/rel.$1.failed
    fi
}

: >/tmp/rel.silo; : >/tmp/rel.qemu; : >/tmp/rel.silo.failed; : >/tmp/rel.qemu.failed
: >/tmp/rel.silo.stuck; : >/tmp/rel.qemu.stuck
run=1      # not "i": the guest_agents.lib helpers use that one
while [ $run -le "$runs" ]; do
    one_boot silo $run
    one_boot qemu $run
    run=$((run + 1))
done
ok() { grep -c . "/tmp/rel.$1"; }
slowest() { sort -n "/tmp/rel.$1" | tail -1; }

echo
echo "== reliability: c-echo booted $runs times each, 256 MiB, 1 vCPU, ready within ${timeout_s} s (dev host)"
header "figure"
printf '%-44s %12s %12s\n' "boots whose agent became ready" "$(ok silo)/$runs" "$(ok qemu)/$runs"
row "median exec -> agent ready (ms)" "$(median </tmp/rel.silo)" "$(median </tmp/rel.qemu)"
row "slowest exec -> agent ready (ms)" "$(slowest silo)" "$(slowest qemu)"
printf '%-44s %12s %12s\n' "VMMs still running 15 s after SIGTERM" "$(grep -c . /tmp/rel.silo.stuck)" "$(grep -c . /tmp/rel.qemu.stuck)"
