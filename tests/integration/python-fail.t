#!/bin/bash
# Python scripts that fail (Documentation/python.rst, "Failures"): each bad
# script is one clear line in a reject (or rollback) event, its traceback in
# a script_error event, and the guest and the live modules keep running.
# A file that is not UTF-8, a syntax error elsewhere (python.t), an
# exception at import and in init(), a reserved magic, a bad decorator
# argument, a magic another module has, an import that never returns
# (hook_timeout=2: ended at 1.5 s even through `except BaseException`; one
# blocked in time.sleep() is left behind at 1.75 s), a
# reload whose new version fails (the old one keeps counting: every call of
# the guest counted once), exceptions in a callback (counted, logged at
# the 1st, 2nd, 4th ... with the traceback), and guest memory that is not
# mapped (GuestFault, not a crash).
. "$(dirname "$0")/../lib.sh"
PY=$TOP/tests/python
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$BUILD/modhost-python.so" "$MODCTL" \
	"$BUILD/tests/guest/hcall.elf"
plan 20

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
pydrop() { cp "$1" "$MODDIR/.$2.py.tmp" && mv "$MODDIR/.$2.py.tmp" "$MODDIR/$2.py"; }
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))" | tail -1 | jq -r .text; }
# refused SRC NAME WANT DESCRIPTION: dropping SRC as NAME.py is a reject
# whose error is WANT.
refused() {
	pydrop "$1" "$2"
	wait_event ".event==\"reject\" and .module==\"$2\""
	is "$(events ".event==\"reject\" and .module==\"$2\"" | jq -r .error)" "$3" "$4"
	rm -f "$MODDIR/$2.py"
}

mkfifo "$T/stop.in" "$T/stop.out"
pydrop "$PY/pycount.py" pycount
GUEST=hcall qemu_start load=pycount hook_timeout=2 "ctl=$SOCK" -- \
	-append "mode=9 enc=1 magic=0x12345600" \
	-chardev "pipe,id=stop,path=$T/stop" \
	-device isa-serial,chardev=stop,iobase=0x2f8,irq=3

refused "$PY/not-utf8.py" nu "not UTF-8 text: an invalid sequence at byte 20" \
	"a file that is not UTF-8: refused before any Python runs"
refused "$PY/raise-import.py" ri \
	"import: ZeroDivisionError: integer division or modulo by zero (ri.py line 4)" \
	"an exception at import"
events '.event=="script_error" and .module=="ri"' | jq -r .error | grep -q '^  File ".*/ri.py", line 4, in <module>$'
ok $? "its traceback in a script_error event"
refused "$PY/bad-magic.py" bm \
	"import: ValueError: hypercall magic 0x4d480001 is reserved for the host (bm.py line 3)" \
	"a host-reserved magic: refused at the decorator"
refused "$PY/bad-arg.py" ba \
	"import: TypeError: hypercall() argument 1 must be int, not str (ba.py line 3)" \
	"a bad decorator argument"
refused "$PY/raise-cb.py" dup \
	"init: hypercall magic 0x12345600 is already routed to pycount" \
	"a magic another module routes: refused in init, naming the owner"
pydrop "$PY/loop.py" loop
wait_event '.event=="message" and .module=="loop"'
mc list >/dev/null
ok $? "the control socket answers once the script is in its endless loop"
wait_event '.event=="reject" and .module=="loop"'
is "$(events '.event=="reject" and .module=="loop"' | jq -r .error)" \
	"import: TimeoutError: did not return within 1.5 s (3/4 of hook_timeout) (loop.py)" \
	"an import that never returns (catching BaseException): ended, refused"
rm -f "$MODDIR/loop.py"
refused "$PY/sleep.py" sleep \
	"import: did not return within 1.8 s, blocked outside Python (7/8 of hook_timeout); its thread is left behind" \
	"an import blocked in a C call (time.sleep): refused, its thread left behind"
pydrop "$PY/seed-hello.py" hello
wait_event '.event=="load" and .module=="hello"'
ok $? "and the interpreter still loads scripts"

# Reloads that fail: the old version keeps every call.
pydrop "$PY/raise-import.py" pycount
wait_event '.event=="reject" and .module=="pycount"'
is "$(mc --json info pycount | jq -r '.state + " " + .version')" "live 1" \
	"a new version that raises at import: refused, version 1 still live"
pydrop "$PY/raise-init.py" pycount
wait_event '.event=="rollback" and .module=="pycount"'
is "$(events '.event=="rollback" and .module=="pycount"' | jq -r '.version + " " + .error')" \
	"1 init: RuntimeError: init refuses (pycount.py line 9)" \
	"a new version whose init() raises: rolled back to version 1"
is "$(count_events '(.event=="load" or .event=="reload") and .module=="pycount"')" 1 "pycount was not reloaded"
echo q > "$T/stop.in"
wait_for "the guest's count" serial_has "hcall: sent"
wait "$QEMU_PID"
QEMU_PID=
sent=$(sed -n 's/^hcall: sent //p' "$SERIAL")
is "$(msg pycount '^exit')" "exit calls=$sent bad=0" \
	"pycount counted each of the guest's $sent calls once, through the refusals and the rollback"

# -- exceptions in a callback --------------------------------------------------
pydrop "$PY/raise-cb.py" raisecb
GUEST=hcall qemu_start load=raisecb "ctl=$SOCK" -- -append "mode=3 enc=1 magic=0x12345600"
wait_ticks 2
mc unload raisecb >/dev/null
calls=$(msg raisecb '^exit' | sed -n 's/^exit calls=//p')
is "$(events '.event=="script_errors" and .module=="raisecb"' | jq -r .count)" "$calls" \
	"each of the $calls exceptions counted (script_errors at unload)"
want=$(awk -v n="$calls" 'BEGIN { k = 0; for (p = 1; p <= n; p *= 2) k++; print k }')
is "$(count_events '.event=="script_error" and .module=="raisecb"')" "$want" \
	"logged at the 1st, 2nd, 4th ... only: $want events for $calls exceptions"
events '.event=="script_error" and .module=="raisecb" and .count==1' | jq -r .error |
	grep -q '^ZeroDivisionError: integer division or modulo by zero$'
ok $? "each with its traceback (and where: $(events '.event=="script_error"' | head -1 | jq -r .where))"
is "$(msg raisecb '^fault')" "fault: guest memory at 0xc0000000 (16 bytes) is not mapped" \
	"unmapped guest memory: GuestFault raised in the script"
is "$(msg raisecb '^reg')" "reg rax=0x12345600 magic=0x12345600" "registers read in the handler"
wait_ticks 1
ok $? "the guest kept running throughout"
qemu_stop
