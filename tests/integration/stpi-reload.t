#!/bin/bash
# Reloading dwarfp while the guest runs.  The seam: the stpi_probe client
# hashes every event (kind, pc, file, function, line) in sguest.c (the
# guest's timing-independent part) and counts the events that break the
# pairing rule; with dwarfp.so replaced three times in the
# watched directory mid-run, the hash and the counts must equal those of
# the same run without reloads: no line change lost or repeated.  Then a
# leak check: dwarfp indexing a big binary (the host, four times) is
# reloaded twenty times through the control socket; RSS and open files
# must stay flat where one leaked index per reload would show.
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
E=$S/sguest-O0.elf
MODCTL=$BUILD/bin/modctl
need "$E" "$MODCTL" "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$TMOD/stpi_probe.so"
plan 9

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so" "$MODDIR/"
ROUNDS=60000

# start ROUNDS PLUGIN_ARGS...: sguest in the background, $EVENTS as the log
start() {
	local rounds=$1 args
	shift
	args=$(IFS=,; echo "$*")
	: > "$EVENTS"
	: > "$SERIAL"
	: > "$QLOG"
	"$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$E" -append "rounds=$rounds" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,$args" \
		-d plugin -D "$QLOG" 2>>"$T/stderr" &
	QEMU_PID=$!
	wait_for "guest started" serial_has ": start" ||
		bail "QEMU did not start: $(cat "$T/stderr")"
}
finish() { wait "$QEMU_PID"; QEMU_PID=; }
# The probe's pairing errors and its hash of the guest's own events.
summary() { sed -n 's/^modhost: stpi_probe: probe: before=.* \(bad=.*\)/\1/p' "$QLOG"; }

# -- the reference: no reload ------------------------------------------------
start $ROUNDS watch=off load=dwarfp:stpi_probe "dwarfp.binary=$E"
finish
ref=$(summary)
[ -n "$ref" ] && grep -q '^bad=0 nseq=[1-9]' <<<"$ref"
ok $? "reference run: $ref"

# -- three reloads mid-run -----------------------------------------------------
start $ROUNDS load=dwarfp:stpi_probe "dwarfp.binary=$E"
for i in 1 2 3; do
	wait_ticks 4
	drop "$BUILD/modules/dwarfp.so" dwarfp
	wait_event '.event=="reload" and .module=="dwarfp"' $i
done
t_last=$(ticks)
finish
is "$(count_events '.event=="reload" and .module=="dwarfp"')" 3 "dwarfp.so replaced three times: three reloads"
is "$(count_events '.event=="state_handoff" and .module=="dwarfp"')" 3 \
	"each reload hands the vCPU's current line to the new version"
grep -q 'sguest: total' "$SERIAL" && [ "${t_last:-0}" -lt "$(ticks)" ]
ok $? "the guest ran on after the last reload (tick $t_last of $(ticks)) to its end"
is "$(summary)" "$ref" "with reloads, the event sequence equals the reference: none lost or repeated"

# -- leak check ------------------------------------------------------------------
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$QEMU_PID/status"; }
nfd() { ls "/proc/$QEMU_PID/fd" | wc -l; }
reload() {
	local n
	n=$(count_events '.event=="reload" and .module=="dwarfp"')
	"$MODCTL" -s "$T/ctl" reload dwarfp >/dev/null &&
		wait_event '.event=="reload" and .module=="dwarfp"' $((n + 1)) >/dev/null
}
big=()
for b in 1 2 3 4; do big+=("dwarfp.binary=$MODHOST_SO@0x${b}0000000"); done
start 4000000000 watch=off "ctl=$T/ctl" load=dwarfp "dwarfp.binary=$E" "${big[@]}"
wait_event '.event=="load" and .module=="dwarfp"'
r0=$(rss)
for i in 1 2 3 4 5; do reload; done
r1=$(rss) f1=$(nfd)
for i in $(seq 20); do reload; done
r2=$(rss) f2=$(nfd)
alive=0; qemu_alive || alive=1
qemu_stop
ok $alive "QEMU survived 25 reloads of dwarfp"
grep -q 'indexed 5 binaries' "$QLOG"
ok $? "the leak check indexes the host four times over"
# One index of the four copies costs what loading dwarfp added (r0 is taken
# after the load; a leak of 20 indexes would add 20 times that).
grow=$((r2 - r1))
echo "# RSS kB: after load $r0, after 5 reloads $r1, after 25 reloads $r2"
[ "$grow" -lt 8000 ]
ok $? "RSS stays flat over 20 reloads (grew ${grow} kB)"
is "$f2" "$f1" "open files stay the same over 20 reloads (dwarfp closes its binaries)"
