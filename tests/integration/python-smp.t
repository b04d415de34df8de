#!/bin/bash
# A Python hypercall handler under four vCPUs (MTTCG), reloaded while all
# four stream hypercalls at it (tests/guest/smp.c): the GIL makes the calls
# safe, and across five reloads (state handed over by pickle) no call is
# lost and none runs twice: each CPU numbers its calls, and the script's
# count per CPU equals the guest's with no break in any sequence.
. "$(dirname "$0")/../lib.sh"
PY=$TOP/tests/python
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$BUILD/modhost-python.so" "$MODCTL" \
	"$BUILD/tests/guest/smp.elf"
plan 6

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
pydrop() { cp "$1" "$MODDIR/.$2.py.tmp" && mv "$MODDIR/.$2.py.tmp" "$MODDIR/$2.py"; }
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))" | tail -1 | jq -r .text; }

mkfifo "$T/stop.in" "$T/stop.out"
pydrop "$PY/smpcount.py" smpcount
GUEST=smp qemu_start load=smpcount "ctl=$SOCK" -- -smp 4 -accel tcg,thread=multi \
	-append "cpus=4" -chardev "pipe,id=stop,path=$T/stop" \
	-device isa-serial,chardev=stop,iobase=0x2f8,irq=3
grep -q "smp: start, cpus 4" "$SERIAL"
ok $? "the guest runs on four vCPUs"
for v in 2 3 4; do
	sed "s/^__version__ = .*/__version__ = \"$v\"/" "$PY/smpcount.py" > "$T/smpcount.py"
	pydrop "$T/smpcount.py" smpcount
	wait_event ".event==\"reload\" and .version==\"$v\""
done
mc reload smpcount >/dev/null
mc reload smpcount >/dev/null
is "$(count_events '.event=="reload"') $(count_events '.event=="state_handoff"') $(count_events '.event=="rollback" or .event=="reject" or .event=="script_error"')" \
	"5 5 0" "five reloads under the stream, each with its state, no failure"
echo q > "$T/stop.in"
wait_for "the guest's counts" serial_has "smp: sent"
wait "$QEMU_PID"
is "$?" 1 "the guest ends QEMU itself, status 0"
QEMU_PID=
line=$(grep "^smp: sent" "$SERIAL")
echo "# $line"
per=$(sed -n 's/.*(\(.*\))/\1/p' <<<"$line")
x=$(msg smpcount '^per')
is "$x" "per $per vcpus 4 breaks 0" \
	"each CPU's calls counted exactly: none lost, none twice (guest: $per)"
for c in $per; do [ "$c" -gt 0 ] || false; done
ok $? "all four CPUs made calls"
is "$(events '.event=="load" or .event=="reload"' | jq -r .version | paste -sd' ')" "1 2 3 4 4 4" \
	"versions 1, 2, 3, 4, then two reloads through modctl"
