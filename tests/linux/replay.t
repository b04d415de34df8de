#!/bin/bash
# Record once, analyse the replay: a Linux boot (Debian's cloud kernel and
# the busybox initramfs, tools/linux-guest) recorded with
# -icount shift=auto,rr=record, the host loaded with no module (QEMU
# replays a recording only with the plugins it was made with, and the same
# command line), then two replays of that one recording:
#  A. callstack_instr and hcrec loaded for the replay only;
#  B. the same, with callstack_instr reloaded from the watched directory in
#     the middle: the replay is stopped at an instruction count read in
#     the recorded run once user space had started (replay_break, so the point is the same guest state whatever the
#     machine's speed), the new file dropped, and the replay continued
#     once the host has mapped the new version.
# Both replays end with the recorded serial output; B's folded stacks
# should be A's (a TODO: see below); hcrec sees in each replay exactly the hypercalls the
# recorded run made (the host counted them there as unknown magics).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" \
	"$TMOD/hcrec-v1.so"
need_linux_guest
plan 11

N=100
MAGIC=0x12345600
RR=$T/boot.rr
APPEND="hcuser=$N"
CS="callstack_instr.stack_type=heuristic"

# -- the monitor: HMP on a pair of FIFOs, QEMU's pipe chardev -------------
mon_start() {
	rm -f "$T/mon.in" "$T/mon.out"
	mkfifo "$T/mon.in" "$T/mon.out"
	: >"$T/mon.log"
	cat "$T/mon.out" >>"$T/mon.log" &
	MON_CAT=$!
}
mon_stop() { kill "$MON_CAT" 2>/dev/null; wait "$MON_CAT" 2>/dev/null; }
mon() { echo "$1" >"$T/mon.in"; }
mon_has() { tr -d '\033' <"$T/mon.log" | grep -q -- "$1"; }
qemu_pid() {	# QEMU itself: the last of QEMU_PID's line of children
	local p=$QEMU_PID c
	while c=$(pgrep -P "$p" | head -1) && [ -n "$c" ]; do
		p=$c
	done
	echo "$p"
}
copies() {	# private copies of callstack_instr mapped by QEMU
	grep -o '/callstack_instr\.[0-9]*\.so' "/proc/$(qemu_pid)/maps" 2>/dev/null |
		sort -u | wc -l
}
_copies_ge() { [ "$(copies)" -ge "$1" ]; }

# run PLUGIN_ARGS [QEMU_ARG...]: boot in the background, with the monitor;
# QEMU_PID set.
run() {
	local pargs=$1
	shift
	mon_start
	linux_run "$APPEND" "$pargs" \
		-chardev "pipe,id=mon,path=$T/mon" -mon chardev=mon "$@" &
	QEMU_PID=$!
	wait_for "QEMU to start" test -s "$T/mon.log"
}
# replay NAME PLUGIN_ARGS [QEMU_ARG...]: replay the recording with
# callstack_instr and hcrec loaded.
replay() {
	local name=$1 pargs=$2
	shift 2
	cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
	cp "$TMOD/hcrec-v1.so" "$MODDIR/hcrec.so"
	run "load=callstack_instr:hcrec,hcrec.width=64,$CS,callstack_instr.folded=$T/$name.folded,$pargs" \
		-icount "shift=auto,rr=replay,rrfile=$RR" "$@"
}
# run_end NAME: wait for QEMU's end; keep its serial and events.
run_end() {
	wait "$QEMU_PID"
	RUN_RC=$?
	QEMU_PID=
	mon_stop
	cp "$SERIAL" "$T/$1.serial"
	cp "$EVENTS" "$T/$1.events"
}
hcrec_exit() {
	jq -r 'select(.event=="message" and .module=="hcrec" and
		(.text|test("^exit"))) | .text' "$T/$1.events" |
		sed 's/^exit version [^ ]* //'
}

# -- the recording ----------------------------------------------------------
# Stopped once user space has started, to read the instruction count: a
# point in the middle for replay B (the guest has seconds of work left
# there, its hypercalls among them).  Stopping a replay at an arbitrary
# point can run a block's callbacks twice, so the count is read here, in
# the recording, where no module runs.
run "watch=off" -icount "shift=auto,rr=record,rrfile=$RR"
wait_for "init to start in the recorded run" serial_has "init: start"
mon "stop"
mon "info replay"
wait_for "the run's instruction count" mon_has "instruction count = "
ICOUNT=$(tr -d '\033' <"$T/mon.log" | grep -o 'instruction count = [0-9]*' |
	tail -1 | grep -o '[0-9]*$')
mon "cont"
run_end rec
ok $RUN_RC "the Linux run is recorded to power-off"
# No module had the magic: the host counted the calls as unknown (rate
# limited events, each with the running total; the last at exit).
recorded=$(jq -s 'map(select(.event=="hypercall_unknown") | .total) | max // 0' \
	"$T/rec.events")
magics=$(jq -r 'select(.event=="hypercall_unknown" and .magic) | .magic' \
	"$T/rec.events" | sort -u)
echo "# the recorded run made $recorded hypercalls of unknown magic: $magics"

# -- replay A: modules for the replay only ----------------------------------
replay A "watch=off"
run_end A
ok $RUN_RC "replay A (callstack_instr and hcrec loaded) runs to the end"
cmp -s "$T/rec.serial" "$T/A.serial"
ok $? "replay A's serial output is the recorded run's"
is "$magics $(hcrec_exit A)" \
	"$MAGIC calls=$recorded bad=0 next=$N cpuid=$((N / 2)) nop=$((N / 2))" \
	"hcrec, loaded only for the replay, saw the recorded run's $recorded hypercalls"

# -- replay B: a reload at instruction $ICOUNT --------------------------------
echo "# reload point: instruction $ICOUNT"
replay B "watch=on" -S
mon "replay_break $ICOUNT"
mon "cont"
# At the break the VM is paused, with the guest where A was at ICOUNT.
at_break() {
	mon "info replay"
	sleep 0.2
	mon_has "instruction count = $ICOUNT"
}
wait_for "the replay to stop at instruction $ICOUNT" at_break
drop "$BUILD/modules/callstack_instr.so" callstack_instr
wait_for "the new version to be mapped" _copies_ge 2
mon "cont"
run_end B
ok $RUN_RC "replay B, with the reload in the middle, runs to the end"
cmp -s "$T/rec.serial" "$T/B.serial"
ok $? "replay B's serial output is the recorded run's"
is "$(jq -r 'select(.event=="reload") | .module' "$T/B.events")" \
	callstack_instr "callstack_instr was reloaded once, during the replay"
[ "$(jq -r 'select(.event=="state_handoff" and .module=="callstack_instr") | .bytes' \
	"$T/B.events")" -gt 1000 ] 2>/dev/null
ok $? "its stacks were handed over to the new version"
# The same folded stacks: the goal.  A TODO, as it is not shown to hold
# at every reload point.  Before a reloaded version took over its
# predecessor's decoding mode (decode.c, state.c), a fresh guess took
# ambiguous blocks of 64-bit user code for 32-bit code, and one wrong
# frame changed every stack under it: 0 to 350,000 of 10.6 million calls
# differed, by reload point (655 at instruction 1,430,000,000 of one
# recording, 0 with the handoff).  The point depends on where the
# recording stopped, so the test cannot choose one.
total=$(awk '{ s += $NF } END { print s + 0 }' "$T/A.folded")
differ=$(LC_ALL=C comm -3 "$T/A.folded" "$T/B.folded" |
	awk '{ s += $NF } END { print s + 0 }')
echo "# calls in stacks that differ: $differ of $total"
[ "$total" -gt 1000000 ] && [ "$differ" -eq 0 ]
ok $? "the folded stacks with the reload are those without it # TODO not at every reload point: callstack_instr's handoff"
is "$(hcrec_exit B)" "$(hcrec_exit A)" "hcrec saw the same hypercalls in replay B"
# A reloaded version starts without the previous one's idea of the mode
# the code runs in: kernel code must still be decoded as 64-bit, or a
# direct call's target is cut to 32 bits (0xffffffff81234567 -> 0x81234567).
cut=$(tr ' ;' '\n\n' <"$T/B.folded" | grep -cE '^0x[89a-f][0-9a-f]{7}$')
is "$cut" 0 "no kernel function cut to 32 bits after the reload"
