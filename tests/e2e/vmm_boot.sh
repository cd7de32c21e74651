#!/bin/sh
# tests/e2e/vmm_boot.sh — silo-vmm boots our guest kernel on real KVM (inside the dev host).
#
# Boots /silo/guest/Image + the tiny initramfs (guest/tiny-init: prints `silo-tiny-init:
# reached`, writes the boot marker, then powers off / reboots / hangs per silo.tiny=) and checks
# exit statuses, the console, the boot marker, SIGTERM handling, the memory wipe and the
# loader's refusal of broken kernels. Prints `ok - ...` / `not ok - ...` lines.
VMM=${SILO_VMM:-/silo/bin/silo-vmm}
IMAGE=${SILO_IMAGE:-/silo/guest/Image}
INITRD=${SILO_INITRD:-/silo/guest/tiny-initrd.cpio}
T=$(mktemp -d /tmp/vmm_boot.XXXXXX)
BASE="console=ttyS0 earlycon=uart,mmio,0x01000000 reboot=k panic=-1 quiet"
failures=0

ok() { echo "ok - vmm_boot: $1"; }
not_ok() { echo "not ok - vmm_boot: $1"; failures=$((failures + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }
# show FILE: the tail of a log, indented, when a check failed
show() { sed 's/^/    # /' "$1" | tail -n 15; }

# boot NAME CMDLINE-EXTRA [VMM OPTIONS...]: runs one guest with a timeout; leaves
# $T/NAME.out (console), $T/NAME.err (stderr), and $status.
boot() {
    name=$1 extra=$2
    shift 2
    timeout 120 "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE $extra" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" </dev/null
    status=$?
}

# --- 1 vCPU: init reached, boot marker recorded, poweroff -> 0, wipe verified ---------------
boot one "" --cpus 1 --verify-wipe -v
check $(( status != 0 )) "1 vCPU: guest powers off, exit status 0 (got $status)"
grep -q "silo-tiny-init: reached" "$T/one.out"
check $? "1 vCPU: the init's line appears on the console"
marker=$(sed -n 's/^silo-vmm: boot-complete marker at \([0-9]*\) us$/\1/p' "$T/one.err")
[ -n "$marker" ]
check $? "1 vCPU: boot-complete marker recorded (${marker:-none} us from exec)"
grep -q "silo-vmm: wipe verified" "$T/one.err"
check $? "1 vCPU: --verify-wipe: every touched page read zero before munmap"
[ "$failures" = 0 ] || { show "$T/one.out"; show "$T/one.err"; }
grep "silo-vmm: RSS\|silo-vmm: wiped" "$T/one.err" | sed 's/^/# /'
# the timeline (-v prints what --timings prints): every phase in order, with its counters
order=$(grep -n "vCPU threads start (first KVM_RUN)\|guest: first console output\|guest: boot-complete marker\|VM ended: guest powered off\|guest RAM wiped\|guest RAM unmapped" "$T/one.err" | cut -d: -f1 | tr '\n' ' ')
sorted=$(echo "$order" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
[ "$(echo "$order" | wc -w)" = 6 ] && [ "$order" = "$sorted" ] &&
    grep -q "exits to silo-vmm: [1-9][0-9]* MMIO (uart [1-9]" "$T/one.err" &&
    grep -q "exits inside KVM: [1-9][0-9]* in all: WFI [0-9]*.*HVC [1-9]" "$T/one.err" &&
    grep -q "page faults on guest RAM (vCPU threads): [1-9][0-9]* minor" "$T/one.err" &&
    grep -q "kernel (Image, mapped copy-on-write)" "$T/one.err"
check $? "1 vCPU: -v prints the timeline in order (set-up, first console output, marker, end, wipe, unmap), exits by kind from silo-vmm and KVM, guest page faults; the Image is mapped, not copied"
sed -n '/timeline (ms since main/,$p' "$T/one.err" | sed 's/^/# /'

# --- more vCPUs than host CPUs: allowed (kvmtool, QEMU and Firecracker allow it), with a warning
host_cpus=$(grep -c ^processor /proc/cpuinfo)
over=$((host_cpus * 2))
boot over "silo.tiny=cpus" --cpus "$over"
grep -q "silo-tiny-init: cpus $over" "$T/over.out" && grep -q "overcommitted" "$T/over.err" && [ "$status" = 0 ]
check $? "$over vCPUs on $host_cpus host CPUs: all online in the guest, one warning ($(grep overcommitted "$T/over.err" | sed 's/^silo-vmm: //'))"
[ "$failures" = 0 ] || { show "$T/over.out"; show "$T/over.err"; }

# --- 2 vCPUs: the secondary comes up through PSCI CPU_ON ------------------------------------
boot two "silo.tiny=cpus" --cpus 2
grep -q "silo-tiny-init: cpus 2" "$T/two.out" && grep -q "silo-tiny-init: reached" "$T/two.out"
check $? "2 vCPUs: both CPUs online in the guest, init reached"
check $(( status != 0 )) "2 vCPUs: exit status 0 (got $status)"
[ "$status" = 0 ] || { show "$T/two.out"; show "$T/two.err"; }

# --- reboot -> documented status 2 ----------------------------------------------------------
boot reboot "silo.tiny=reboot" --cpus 2 --verify-wipe
check $(( status != 2 )) "reboot: exit status 2 (got $status)"
grep -q "silo-vmm: wipe verified" "$T/reboot.err"
check $? "reboot: memory wiped and verified"

# --- Image.gz is inflated and boots ---------------------------------------------------------
gzip -c "$IMAGE" >"$T/Image.gz"
timeout 120 "$VMM" --kernel "$T/Image.gz" --initrd "$INITRD" --mem 256M --cmdline "$BASE" \
    >"$T/gz.out" 2>"$T/gz.err" </dev/null
status=$?
grep -q "silo-tiny-init: reached" "$T/gz.out" && [ "$status" = 0 ]
check $? "Image.gz: inflated, boots to init, exit 0 (got $status)"

# --- SIGTERM mid-boot, and SIGTERM once the guest idles -------------------------------------
"$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE silo.tiny=hang" --verify-wipe -v \
    >"$T/term1.out" 2>"$T/term1.err" </dev/null &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
status=$?
check $(( status != 143 )) "SIGTERM mid-boot: exit status 143 (got $status)"
grep -q "silo-vmm: wipe verified" "$T/term1.err"
check $? "SIGTERM mid-boot: memory wiped and verified"
[ "$status" = 143 ] || show "$T/term1.err"

"$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cpus 2 --cmdline "$BASE silo.tiny=hang" --verify-wipe \
    --console "$T/term2.console" >"$T/term2.out" 2>"$T/term2.err" </dev/null 9>"$T/inherited" &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q "silo-tiny-init: reached" "$T/term2.console" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
grep -q "silo-tiny-init: reached" "$T/term2.console"
check $? "--console FILE: the console goes to the file"
grep -q "^Seccomp:[[:space:]]*2" /proc/$pid/status && grep -q "^NoNewPrivs:[[:space:]]*1" /proc/$pid/status
check $? "the running VMM has its seccomp filter and no_new_privs"
leaked=0
for f in /proc/$pid/fd/*; do
    [ "$(readlink "$f")" = "$T/inherited" ] && leaked=1
done
check $leaked "a descriptor inherited from the parent (fd 9) was closed"
kill -INT "$pid"
wait "$pid"
status=$?
check $(( status != 130 )) "SIGINT with an idle 2-vCPU guest: exit status 130 (got $status)"
grep -q "silo-vmm: wipe verified" "$T/term2.err"
check $? "SIGINT with an idle guest: memory wiped and verified"

# --- a crash of silo-vmm itself (here a SIGSEGV sent from outside) still wipes guest RAM ------
"$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cpus 2 --cmdline "$BASE silo.tiny=hang" \
    --console "$T/crash.console" >/dev/null 2>"$T/crash.err" </dev/null &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q "silo-tiny-init: reached" "$T/crash.console" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
kill -SEGV "$pid"
wait "$pid"
status=$?
[ "$status" = 139 ] && grep -q "guest memory wiped before exit" "$T/crash.err"
check $? "a VMM crash (SIGSEGV) with a running 2-vCPU guest wipes guest RAM, then dies of it (status $status)"
[ "$status" = 139 ] || show "$T/crash.err"

# --- a large guest that touches little tears down fast --------------------------------------
for size in 1G 4G; do
    timeout 120 "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem $size --cmdline "$BASE" -v \
        >"$T/big$size.out" 2>"$T/big$size.err" </dev/null
    status=$?
    line=$(grep "silo-vmm: wiped" "$T/big$size.err")
    echo "# $size guest: ${line#silo-vmm: }"
    kib=$(echo "$line" | sed -n 's/.*wiped \([0-9]*\) KiB.*/\1/p')
    us=$(echo "$line" | sed -n 's/.* in \([0-9]*\) us, munmap \([0-9]*\) us/\1/p')
    unmap=$(echo "$line" | sed -n 's/.*munmap \([0-9]*\) us/\1/p')
    [ "$status" = 0 ] && [ -n "$kib" ] && [ "$kib" -lt 131072 ] && [ "$us" -lt 2000000 ] && [ "$unmap" -lt 2000000 ]
    check $? "$size guest: touched ${kib:-?} KiB wiped in ${us:-?} us + munmap ${unmap:-?} us (< 2 s each, emulated)"
done

# --- a raw payload (no Image header, loaded at RAM + 0x80000) that writes exactly 16 MiB and
# powers off through PSCI SYSTEM_OFF: the wipe must cover those pages and hardly more, whatever
# the guest size (the payload page and the DTB page are the only others the guest touches).
# adrp x1, .+2M; mov x2, #4096; mov x3, #0x5a; 1: str x3, [x1]; add x1, x1, #4096;
# subs x2, x2, #1; b.ne 1b; mov x0, #0x84000008; hvc #0; b .
printf '\001\020\000\220\002\000\202\322\103\013\200\322\043\000\000\371\041\004\100\221\102\004\000\361\241\377\377\124\000\001\200\322\000\200\260\362\002\000\000\324\000\000\000\024' >"$T/touch16.bin"
for size in 1G 4G; do
    timeout 60 "$VMM" --kernel "$T/touch16.bin" --mem $size --console none --verify-wipe -v >/dev/null 2>"$T/raw$size.err"
    status=$?
    line=$(grep "silo-vmm: wiped" "$T/raw$size.err")
    echo "# raw payload, $size guest: ${line#silo-vmm: }"
    kib=$(echo "$line" | sed -n 's/.*wiped \([0-9]*\) KiB.*/\1/p')
    eval "raw_kib_$size=\$kib"
    # guest RAM is backed by 2 MiB huge pages: the 16 MiB written are 8 of them exactly, the
    # payload's page and the DTB's add at most one huge page each
    [ "$status" = 0 ] && [ -n "$kib" ] && [ "$kib" -ge 16384 ] && [ "$kib" -le $((16384 + 4096)) ] && grep -q "wipe verified" "$T/raw$size.err"
    check $? "raw payload in a $size guest: runs, powers off (status $status), wipes what it touched (${kib:-?} KiB: 16384 + at most two 2 MiB pages), verified"
    [ "$status" = 0 ] || show "$T/raw$size.err"
done
[ -n "$raw_kib_1G" ] && [ "$raw_kib_1G" = "$raw_kib_4G" ]
check $? "the same payload wipes the same in a 1 GiB and a 4 GiB guest (${raw_kib_1G:-?} / ${raw_kib_4G:-?} KiB)"

# --- broken kernels are refused with one clear line -----------------------------------------
refuse() { # NAME FILE EXPECTED-TEXT
    "$VMM" --kernel "$2" --initrd "$INITRD" --mem 256M >"$T/$1.out" 2>"$T/$1.err" </dev/null
    status=$?
    lines=$(wc -l <"$T/$1.err")
    [ "$status" = 1 ] && [ "$lines" = 1 ] && grep -q "$3" "$T/$1.err"
    check $? "refuses $1 kernel with one line: $(cat "$T/$1.err")"
}
head -c 300000 "$IMAGE" >"$T/truncated"
refuse truncated "$T/truncated" "truncated Image"
head -c 1000000 "$T/Image.gz" >"$T/truncated.gz"
refuse truncated-gzip "$T/truncated.gz" "truncated gzip"
{ head -c 56 "$IMAGE"; printf 'XXXX'; tail -c +61 "$IMAGE"; } >"$T/badmagic"
refuse bad-magic "$T/badmagic" "corrupt magic"
{ head -c 16 "$IMAGE"; printf '\0\0\0\0\0\0\0\100'; tail -c +25 "$IMAGE"; } >"$T/hugesize"
refuse huge-image-size "$T/hugesize" "image_size"
printf 'this is not a kernel\n' >"$T/text"
refuse text "$T/text" "text file"
"$VMM" --kernel /nonexistent >/dev/null 2>"$T/missing.err"
[ $? = 1 ] && grep -q "cannot open '/nonexistent'" "$T/missing.err"
check $? "a missing kernel file is one clear line: $(cat "$T/missing.err")"
"$VMM" --kernel "$IMAGE" --mem 2T >/dev/null 2>"$T/bigmem.err"
[ $? = 1 ] && [ "$(wc -l <"$T/bigmem.err")" = 1 ]
check $? "memory beyond the limits is refused: $(cat "$T/bigmem.err")"
"$VMM" --kernel "$IMAGE" --cpus 65 >/dev/null 2>"$T/cpus.err"
[ $? = 1 ] && [ "$(wc -l <"$T/cpus.err")" = 1 ]
check $? "more vCPUs than silo-vmm supports is refused: $(cat "$T/cpus.err")"

# --- --dump-dtb writes a device tree blob ---------------------------------------------------
"$VMM" --kernel "$IMAGE" --initrd "$INITRD" --cpus 2 --dump-dtb "$T/guest.dtb" >/dev/null 2>"$T/dtb.err"
status=$?
magic=$(od -An -tx1 -N4 "$T/guest.dtb" 2>/dev/null | tr -d ' ')
[ "$status" = 0 ] && [ "$magic" = "d00dfeed" ] && grep -q "silo-boot-marker@40000000" "$T/guest.dtb"
check $? "--dump-dtb writes a DTB (magic $magic) with the boot marker node, exit 0"

# --- virtio devices asked for get device-tree nodes (and only then) -------------------------
"$VMM" --kernel "$IMAGE" --rng --dump-dtb "$T/rng.dtb" >/dev/null 2>"$T/rng.err"
status=$?
[ "$status" = 0 ] && grep -q "virtio_mmio@3000000" "$T/rng.dtb" && ! grep -q "virtio_mmio@3000000" "$T/guest.dtb"
check $? "--rng adds a virtio_mmio@3000000 node; without it there is none"

rm -rf "$T"
[ "$failures" = 0 ]
