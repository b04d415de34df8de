#!/bin/bash
# A Linux boot at -smp 2 under -icount (one host thread runs both vCPUs),
# with osi_linux and callstack_instr's threaded stacks.  QEMU 10.0 then
# gives callbacks a vCPU index it compiled into the block when it
# translated it: the other vCPU's, or one past the machine's vCPUs (8,
# 176 where there are 2), for which QEMU's qemu_plugin_scoreboard_find()
# aborts QEMU.  The boot must complete (modules' scoreboards answer such
# an index with an element of the host's), and the host must say once
# why per-vCPU answers mix the vCPUs (no folded stacks here: mixed, they
# grow to gigabytes); a boot without -icount (a thread per vCPU) must
# not.  And the guest must compute right: in that mode QEMU 10.0's
# inline code (the host's doorbell, a conditional callback on most
# blocks, is some) made 4 boots in 5 fail the kernel's sha1 self-test,
# print BUG lines or hang, so the host turns it into plain callbacks
# (host/api.c, inline_unsafe()): the kernel's log must have no failed
# self-test and no BUG, here and on a boot with the host alone under
# -accel tcg,thread=single.  Skips only if the Debian packages cannot be
# fetched.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so"
need_linux_guest
plan 8

use_modules osi osi_linux callstack_instr
PARGS="watch=off,load=osi_linux:callstack_instr,callstack_instr.stack_type=threaded"
said() { jq -s '[.[] | select(.event == "vcpus_one_thread")] | length' "$1"; }

linux_boot run=bin/busybox,true "$PARGS" -icount shift=auto
st=$?
cp "$EVENTS" "$T/icount.events"
ok $st "-icount, -smp 2, threaded stacks: the boot powers off (QEMU's status $st)" ||
	tail -5 "$T/stderr" | diag
grep -q "init: done" "$SERIAL"
ok $? "the guest's init ran to its end"
jq -se '[.[] | select(.event == "vcpus_one_thread")] |
	length == 1 and .[0].vcpus == 2' "$T/icount.events" >/dev/null
ok $? "one vcpus_one_thread event, for the 2 vCPUs"
grep -q "warning: the 2 vCPUs run on one thread (-icount, or -accel tcg,thread=single): QEMU gives callbacks the index of the vCPU that translated the block" "$QLOG"
ok $? "the plugin output says why per-vCPU answers mix the vCPUs"
grep -q "callstack_instr: calls=[1-9]" "$QLOG"
ok $? "callstack_instr counted the calls and said so at the end"
# clean_kernel_log SERIAL: no failed self-test, no BUG (says which, else).
clean_kernel_log() {
	local bad

	bad=$(grep -E "test failed|BUG" "$1" | head -3)
	[ -z "$bad" ] || { diag "$bad"; return 1; }
}
cp "$SERIAL" "$T/icount.serial"
clean_kernel_log "$T/icount.serial"
ok $? "-icount: the guest computes right (its self-tests pass, no BUG)"

linux_boot run=bin/busybox,true "watch=off" -accel tcg,thread=single
st=$?
grep -q "init: done" "$SERIAL" && clean_kernel_log "$SERIAL"
ok $? "the host alone, tcg,thread=single -smp 2: the boot ends (status $st), the guest computes right"

linux_boot run=bin/busybox,true "$PARGS"
[ $? -eq 0 ] && [ "$(said "$EVENTS")" = 0 ]
ok $? "without -icount (a thread per vCPU): no such event"
