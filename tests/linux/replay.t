#!/bin/bash
# Record once, analyse the replay: a Linux boot (Debian's cloud kernel and
# the busybox initramfs, tools/linux-guest) recorded with
# -icount shift=auto,rr=record, the host loaded with no module (QEMU
# replays a recording only with the plugins it was made with, and the same
# command line), then two replays of that one recording:
#  A. callstack_instr (threaded stacks, with osi_linux) and hcrec loaded
#     for the replay only;
#  B. the same, with callstack_instr reloaded from the watched directory
#     at four points: early in the kernel's boot, in its middle, at its
#     end and as init starts.  At each, the replay is stopped at an
#     instruction count (replay_break: the same guest state whatever the
#     machine's speed; the counts are fractions of one read in the
#     recorded run), the new file dropped, and the replay continued once
#     the host has mapped the new version.
# Both reload callstack_instr once more at the same count, where the
# version that ran until then writes its folded stacks: B's are A's, call
# for call, and so are the counts.  Both replays end with the recorded
# serial output; hcrec sees in each exactly the hypercalls the recorded
# run made (the host counted them there as unknown magics).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" \
	"$BUILD/modules/osi.so" "$BUILD/modules/osi_linux.so" \
	"$TMOD/hcrec-v1.so"
need_linux_guest
plan 12

N=100
MAGIC=0x12345600
RR=$T/boot.rr
APPEND="hcuser=$N"
# Threaded stacks: the most state to hand over (each vCPU's thread, from
# osi_linux's on_task_change, beside the stacks and pending calls).
CS="callstack_instr.stack_type=threaded"

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
		sort -u
}
# A copy is mapped that was not when $T/copies was written.
_new_copy() { [ -n "$(copies | grep -vxF -f "$T/copies")" ]; }

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
	cp "$BUILD/modules/osi.so" "$BUILD/modules/osi_linux.so" "$MODDIR/"
	# hook_timeout=0: the exit of a version reloaded late writes
	# hundreds of MB of folded stacks, seconds on a loaded machine.
	run "load=osi_linux:callstack_instr:hcrec,hcrec.width=64,$CS,callstack_instr.folded=$T/$name.folded,hook_timeout=0,$pargs" \
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
# Stopped once user space has started (init's first line) to read the
# instruction count: the replays' points are fractions of it.  Stopping a
# replay at an arbitrary point can run a block's callbacks twice, so the
# count is read here, in the recording, where no module runs.
icount_at() {	# icount_at LINE: the count once the serial has LINE
	local n
	wait_for "\"$1\" in the recorded run" serial_has "$1"
	mon "stop"
	n=$(($(tr -d '\033' <"$T/mon.log" | grep -c 'instruction count = ') + 1))
	mon "info replay"
	wait_for "the run's instruction count" _mon_counts "$n"
	tr -d '\033' <"$T/mon.log" | grep -o 'instruction count = [0-9]*' |
		tail -1 | grep -o '[0-9]*$'
	mon "cont"
}
_mon_counts() {
	[ "$(tr -d '\033' <"$T/mon.log" | grep -c 'instruction count = ')" -ge "$1" ]
}
run "watch=off" -icount "shift=auto,rr=record,rrfile=$RR"
ICOUNT=$(icount_at "init: start")
run_end rec
ok $RUN_RC "the Linux run is recorded to power-off"
# No module had the magic: the host counted the calls as unknown (rate
# limited events, each with the running total; the last at exit).
recorded=$(jq -s 'map(select(.event=="hypercall_unknown") | .total) | max // 0' \
	"$T/rec.events")
magics=$(jq -r 'select(.event=="hypercall_unknown" and .magic) | .magic' \
	"$T/rec.events" | sort -u)
echo "# the recorded run made $recorded hypercalls of unknown magic: $magics"

# -- the replay's points ------------------------------------------------------
# B reloads callstack_instr an eighth of the way to init's first line
# (the kernel's early boot), half way, and in the last hundredth and
# four-hundredth of the way (the end of the boot, init starting); A and
# B both reload it at END, a little further: the version that ran until
# then writes the folded stacks they compare (in A, the one loaded at the
# start).  Not at the end of the run: after the guest's power-off
# request, where a replay stops is QEMU's affair (replays stopped at
# breaks ran up to 684 calls further into kernel_power_off than one
# without stops).  A reload while the replayed guest idles is
# replay-idle.t's.
STEP=$((ICOUNT / 2000))
POINTS="$((ICOUNT / 8)) $((ICOUNT / 2)) $((ICOUNT - 20 * STEP)) $((ICOUNT - 5 * STEP))"
END=$((ICOUNT - 2 * STEP))
echo "# reload points: instructions $POINTS; folded stacks at $END of $ICOUNT"

# At a break the VM is paused, with the guest where A was at that count.
at_break() {
	mon "info replay"
	sleep 0.2
	mon_has "instruction count = $1\b"
}
# stop_at N: let the replay run to instruction N (replay_break), paused.
stop_at() {
	mon "replay_break $1"
	mon "cont"
	wait_for "the replay to stop at instruction $1" at_break "$1"
}
# reload_at N: at instruction N, drop callstack_instr again; it is
# reloaded as soon as the replay goes on (once the host has mapped it).
reload_at() {
	stop_at "$1"
	copies >"$T/copies"
	drop "$BUILD/modules/callstack_instr.so" callstack_instr
	wait_for "the new version to be mapped" _new_copy
}
# finish NAME: the reload at END; further on, paused again, keep the
# folded stacks it wrote (the next version writes the file again at the
# end); then on to the run's end.
finish() {
	reload_at "$END"
	stop_at "$((END + STEP / 2))"
	cp "$T/$1.folded" "$T/$1.end.folded"
	mon "cont"
}

# -- replay A: modules for the replay only ----------------------------------
replay A "watch=on" -S
finish A
run_end A
ok $RUN_RC "replay A (callstack_instr and hcrec loaded) runs to the end"
cmp -s "$T/rec.serial" "$T/A.serial"
ok $? "replay A's serial output is the recorded run's"
is "$magics $(hcrec_exit A)" \
	"$MAGIC calls=$recorded bad=0 next=$N cpuid=$((N / 2)) nop=$((N / 2))" \
	"hcrec, loaded only for the replay, saw the recorded run's $recorded hypercalls"

# -- replay B: reloads at four points -----------------------------------------
replay B "watch=on" -S
for p in $POINTS; do
	reload_at "$p"
done
finish B
run_end B
ok $RUN_RC "replay B, with the reloads, runs to the end"
cmp -s "$T/rec.serial" "$T/B.serial"
ok $? "replay B's serial output is the recorded run's"
is "$(jq -r 'select(.event=="reload") | .module' "$T/A.events" "$T/B.events" |
	sort | uniq -c | awk '{ print $1, $2 }')" "6 callstack_instr" \
	"callstack_instr was reloaded at each point (A once, B five times)"
is "$(jq -r 'select(.event=="state_handoff" and .module=="callstack_instr" and
	.bytes > 1000) | .module' "$T/B.events" | wc -l)" 5 \
	"its stacks were handed over to the new version each time"
# The same folded stacks at END, call for call: everything the old version would
# have gone on with is handed over (state.c), and the blocks retranslated
# after each reload are decoded as before (decode.c: the mode from the
# CPU's registers, never from what was translated before).
total=$(awk '{ s += $NF } END { print s + 0 }' "$T/A.end.folded")
differ=$(LC_ALL=C comm -3 "$T/A.end.folded" "$T/B.end.folded" |
	awk '{ s += $NF } END { print s + 0 }')
echo "# calls in stacks that differ: $differ of $total"
[ "$total" -gt 1000000 ] && [ "$differ" -eq 0 ]
ok $? "the folded stacks with the reloads are those without them"
# The counts each logs at its exit: the one at END is the last but one.
counts_at_end() {
	jq -r 'select(.event=="message" and .module=="callstack_instr" and
		(.text|test("^calls="))) | .text' "$T/$1.events" | tail -2 | head -1
}
is "$(counts_at_end B)" "$(counts_at_end A)" \
	"the counts at END are those of replay A"
is "$(hcrec_exit B)" "$(hcrec_exit A)" "hcrec saw the same hypercalls in replay B"
# A reloaded version starts without the previous one's idea of the mode
# the code runs in: kernel code must still be decoded as 64-bit, or a
# direct call's target is cut to 32 bits (0xffffffff81234567 -> 0x81234567).
cut=$(tr ' ;' '\n\n' <"$T/B.folded" | grep -cE '^0x[89a-f][0-9a-f]{7}$')
is "$cut" 0 "no kernel function cut to 32 bits after the reload"
