#!/bin/bash
# A change while every vCPU is halted for good.  The hcall guest returns
# and, with no isa-debug-exit device to end QEMU, halts with interrupts
# off (cli; hlt): no vCPU will run a block again.  By default (quiesce=
# direct) the host has a vCPU run its request through QEMU's own queued
# work, which a halted vCPU runs too: a reload and an unload through the
# control socket are applied.  With quiesce=doorbell the request waits for
# a block that never runs, and is failed at exit.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so"
[ "$TARGET" = x86_64 ] || skip_all "the halted guest is x86's (hcall.elf)"
plan 9

SOCK=$T/ctl.sock
mc() { timeout "${MC_TIMEOUT:-10}" "$MODCTL" -s "$SOCK" "$@"; }
served() { "$MODCTL" -s "$SOCK" list >/dev/null 2>&1; }

# start_halted [PLUGIN_ARG...]: the guest runs, returns and halts.
start_halted() {
	local pargs=""
	for a in "$@"; do pargs="$pargs,$a"; done
	: > "$EVENTS"
	: > "$SERIAL"
	drop "$TMOD/counter-v1.so" counter
	"$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -kernel "$(guest_elf hcall)" \
		-append "mode=2 n=10" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,ctl=$SOCK,watch=off,load=counter$pargs" \
		-d plugin -D "$QLOG" 2>>"$T/stderr" &
	QEMU_PID=$!
	wait_for "the guest to finish" serial_has "hcall: sent" &&
		wait_for "the control socket" served ||
		bail "QEMU did not start: $(cat "$T/stderr")"
	sleep 0.5	# its last blocks run: the vCPU halts
}

start_halted
cp "$TMOD/counter-v2.so" "$MODDIR/counter.so"
mc reload counter > "$T/reload.out" 2>&1
ok $? "halted for good: a reload is applied ($(cat "$T/reload.out"))"
is "$(count_events '.event=="reload" and .version=="2"')" 1 "version 2 is live"
mc unload counter > "$T/unload.out" 2>&1
ok $? "and an unload ($(cat "$T/unload.out"))"
qemu_alive
ok $? "QEMU runs on"
qemu_stop

start_halted quiesce=doorbell
cp "$TMOD/counter-v2.so" "$MODDIR/counter.so"
MC_TIMEOUT=3 mc reload counter > "$T/reload2.out" 2>&1
is "$?" 124 "quiesce=doorbell: the reload waits for a block that never runs"
is "$(count_events '.event=="reload"')" 0 "nothing reloaded"
mc reload counter > "$T/reload3.out" 2>&1 &
WAITING=$!
sleep 0.3
qemu_stop
ok $? "QEMU exits cleanly with the request waiting"
wait $WAITING
is "$?" 1 "the waiting request fails"
grep -q "QEMU is exiting: request cancelled" "$T/reload3.out"
ok $? "saying why: $(cat "$T/reload3.out")"
