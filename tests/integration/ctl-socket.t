#!/bin/bash
# The control socket's file and its clients: a regular file at the path is
# refused and left alone, a stale socket (from a QEMU killed with -9) is
# replaced, a socket another QEMU serves is refused; with quiesce=doorbell,
# while a load waits for a vCPU that never runs a block (-S: the guest is
# paused), other clients are still answered, a client killed mid-request
# harms nothing, and QEMU exits cleanly, failing the request still
# waiting; by default (QEMU's run-on-vCPU) requests to a paused guest are
# applied at once.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so"
plan 22

SOCK=$T/ctl.sock
mc() { timeout 10 "$MODCTL" -s "$SOCK" "$@"; }
drop "$TMOD/counter-v1.so" counter

# start_paused [PLUGIN_ARG...]: QEMU with -S, its vCPUs never run.
start_paused() {
	local pargs=""
	for a in "$@"; do pargs="$pargs,$a"; done
	: > "$EVENTS"
	# TMPDIR: the host's private copies go under $T, even after kill -9.
	TMPDIR=$T "$QEMU" -S -M pc -m 64 -display none -monitor none -no-reboot -serial null \
		-kernel "$BUILD/tests/guest/spin.elf" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS$pargs" \
		-d plugin -D "$QLOG" 2>>"$T/stderr" &
	QEMU_PID=$!
	wait_for "the control socket to answer" served
}
served() { "$MODCTL" -s "$SOCK" list >/dev/null 2>&1; }

# -- what is at the path --------------------------------------------------
echo "precious" > "$SOCK"
out=$(timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
	-serial null -kernel "$BUILD/tests/guest/spin.elf" \
	-plugin "$MODHOST_SO,dir=$MODDIR,ctl=$SOCK" 2>&1)
status=$?
[ $status -ne 0 ] && [ $status -ne 124 ] && grep -q "exists and is not a socket" <<<"$out"
ok $? "a regular file at the ctl path: QEMU refuses to start ($(grep -m1 modhost: <<<"$out"))"
is "$(cat "$SOCK")" "precious" "and the file is left as it was"
rm "$SOCK"

start_paused "ctl=$SOCK"
kill -KILL "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
QEMU_PID=
[ -S "$SOCK" ] && ! served
ok $? "QEMU killed with -9 leaves a stale socket nobody serves"
chmod 0666 "$SOCK"
start_paused "ctl=$SOCK" quiesce=doorbell load=counter
mc list | grep -q '^counter '
ok $? "the next QEMU replaces the stale socket and serves it"
is "$(stat -c %a "$SOCK")" 600 "a new socket, mode 0600 (the stale one was 0666)"

out=$(timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
	-serial null -kernel "$BUILD/tests/guest/spin.elf" \
	-plugin "$MODHOST_SO,dir=$MODDIR,ctl=$SOCK" 2>&1)
status=$?
[ $status -ne 0 ] && [ $status -ne 124 ] && grep -q "another process serves this socket" <<<"$out"
ok $? "a second QEMU on a socket in use refuses to start"
mc list | grep -q '^counter '
ok $? "and the first one still serves it"

# -- quiesce=doorbell: a request waits for a block to run ------------------
mc unload counter > "$T/unload.out" 2>&1 &
UNLOAD=$!
timeout 10 "$MODCTL" -s "$SOCK" reload counter > "$T/reload.out" 2>&1 &
RELOAD=$!
sleep 0.3
kill -0 $UNLOAD 2>/dev/null
ok $? "unload waits: no vCPU runs to apply it"
mc list | grep -q '^counter '
ok $? "meanwhile another client is answered (list)"
mc --json stats | jq -e '.ok' >/dev/null
ok $? "and again (stats)"
# (bash reports a killed job on the shell's stderr: not a test failure)
{ kill -KILL $UNLOAD; wait $UNLOAD; } 2>/dev/null
mc list | grep -q '^counter '
ok $? "the waiting client killed: the host still answers"

qemu_stop
ok $? "QEMU exits cleanly (SIGTERM) with requests still waiting"
wait $RELOAD
is "$?" 1 "the request still waiting fails"
grep -q "QEMU is exiting: request cancelled" "$T/reload.out"
ok $? "saying why: $(cat "$T/reload.out")"
is "$(count_events '.event=="unload" and .from!="exit"')" 0 "nothing was unloaded by the socket"
is "$(count_events '.event=="unload" and .from=="exit"')" 1 "counter unloaded at exit only"
[ ! -e "$SOCK" ]
ok $? "the socket is gone after exit"

# -- by default a paused guest's vCPUs answer: QEMU runs queued work there ----
start_paused "ctl=$SOCK" load=counter
mc reload counter > "$T/reload2.out" 2>&1
ok $? "the guest paused: a reload is applied ($(cat "$T/reload2.out"))"
is "$(count_events '.event=="reload"')" 1 "one reload event"
mc unload counter > "$T/unload2.out" 2>&1
ok $? "and an unload ($(cat "$T/unload2.out"))"
mc list | grep -q '^counter '
[ $? -ne 0 ]
ok $? "counter is gone"
qemu_stop
ok $? "QEMU exits cleanly"
