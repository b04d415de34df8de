#!/bin/bash
# Two vCPUs on one host thread (-accel tcg,thread=single, as under
# -icount): there the host registers inline operations and conditional
# callbacks as plain callbacks from the second vCPU's start on (host/api.c,
# inline_unsafe(): QEMU 10.0 compiles them wrongly in that mode).  Hot
# reload must work the same there: a reload answered, the state handed
# over, the new version counting, the guest running on; and after the
# reload's flush, when every block has been translated again, another.
# Both ways a request reaches the vCPUs: QEMU's queued work (the default)
# and quiesce=doorbell, whose doorbell is then such a plain callback.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so"
plan 12

HB=$T/heartbeat
last_text() { events ".event==\"message\" and (.text|test(\"$1\"))" | tail -1 | jq -r .text; }

for MODE in direct doorbell; do
	QUIESCE=quiesce=$MODE
	rm -f "$HB"
	drop "$TMOD/counter-v1.so" counter
	qemu_start load=counter $QUIESCE "counter.heartbeat=$HB" -- -smp 2 -accel tcg,thread=single
	wait_event '.event=="vcpus_one_thread" and .vcpus==2'
	ok $? "$MODE: the host sees the 2 vCPUs on one thread and says so"
	wait_for "heartbeat" hb_above 0
	ok $? "$MODE: version 1's block callback runs"

	wait_ticks 1
	drop "$TMOD/counter-v2.so" counter
	wait_event '.event=="reload" and .version=="2"'
	ok $? "$MODE: a changed file is reloaded"
	saved=$(last_text '^save count=' | sed 's/save count=//')
	restored=$(last_text '^restore count=' | sed 's/restore count=\([0-9]*\) from .*/\1/')
	[ "${saved:-0}" -gt 0 ] && [ "$restored" = "$saved" ]
	ok $? "$MODE: version 2 restored the count version 1 saved ($saved)"
	hb_grows && wait_ticks 1
	ok $? "$MODE: version 2 counts and the guest runs on"

	# The reload flushed the code: every block now has the plain callbacks.
	drop "$TMOD/counter-v1.so" counter
	wait_event '.event=="reload" and .version=="1"'
	ok $? "$MODE: a second reload, asked of blocks translated since, is answered too"
	qemu_stop
done
