#!/bin/sh
# tests/e2e/dev_rtc.sh — the PL031 RTC on real KVM: its device-tree node has its match (alarm)
# interrupt, and a guest that sets an alarm (/sys/class/rtc/rtc0/wakealarm) gets the interrupt
# when the counter reaches it (Linux's rtc-pl031 driver, as kernel developers' test payloads use it).
TEST=dev_rtc
. "$(dirname "$0")/dev.lib"
T=$(mktemp -d /tmp/dev_rtc.XXXXXX)
need_files
boot rtc "ro silo.test=rtc" --disk "$ROOT,ro"
grep -q "rtc: alarm interrupt ok" "$T/rtc.out"
check $? "an alarm 2 s ahead raises the RTC's interrupt in the guest ($(grep 'rtc: interrupts' "$T/rtc.out" | sed 's/^blk-guest-init: rtc: //'))"
[ "$failures" = 0 ] || { show "$T/rtc.out"; show "$T/rtc.err"; }
rm -rf "$T"
exit 0
