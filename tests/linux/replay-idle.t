#!/bin/bash
# A reload while a replayed guest idles.  A Linux boot (tools/linux-guest,
# hcuser with a few hypercalls) is recorded with -icount
# shift=auto,rr=record, the host loaded with no module.  The recording is
# replayed with counter version 1 loaded, and version 2 dropped into the
# watched directory once hcuser has printed its first line: it then sleeps
# two seconds, every vCPU halted, and a halted vCPU of a replay runs only
# when the replay says so.  The reload must complete (counter's count
# handed over) and the replay run on to the recorded serial output.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so"
need_linux_guest
plan 6

RR=$T/boot.rr
APPEND="hcuser=10"
IDLE="hcuser: asked for hcrec"

linux_run "$APPEND" "watch=off" -icount "shift=auto,rr=record,rrfile=$RR"
ok $? "the Linux run is recorded to power-off"
cp "$SERIAL" "$T/rec.serial"
grep -q "$IDLE" "$T/rec.serial" || bail "the recorded run has no \"$IDLE\""

cp "$TMOD/counter-v1.so" "$MODDIR/counter.so"
# Emptied here, not only by linux_run in the background: the recorded
# run's lines must not be taken for the replay's.
: >"$SERIAL"
: >"$EVENTS"
linux_run "$APPEND" "load=counter" -icount "shift=auto,rr=replay,rrfile=$RR" &
QEMU_PID=$!
wait_for "\"$IDLE\" in the replay" serial_has "$IDLE"
drop "$TMOD/counter-v2.so" counter
wait_event '.event=="reload" and .version=="2"'
ok $? "version 2 is reloaded while the replayed guest sleeps"
# hcuser's load hypercall (refused: guest_control=off) comes just before
# its line: the reload was asked for once the guest had gone to sleep.
is "$(jq -r 'select(.event=="guest_denied" or .event=="reload") | .event' "$EVENTS" |
	tr '\n' ' ')" "guest_denied reload " "after the guest's last act before its sleep"
is "$(events '.event=="state_handoff"' | jq -r '[.from_version,.version]|join(" ")')" \
	"1 2" "with version 1's count"
wait "$QEMU_PID"
ok $? "the replay runs to power-off"
QEMU_PID=
cmp -s "$T/rec.serial" "$SERIAL"
ok $? "with the recorded serial output"
