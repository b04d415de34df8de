#!/bin/bash
# Python scripts as modules (Documentation/python.rst), end to end.  The
# seed hypercaller README's Python example runs with only `panda` renamed
# (as printed, it lacks a ')': refused with the SyntaxError); a script
# dropped into dir loads, shows in modctl, unloads when deleted and loads
# again through the socket; a counting script reloaded five times under a
# hypercall stream hands its count over each time and ends with exactly
# the guest's number of calls.
. "$(dirname "$0")/../lib.sh"
PY=$TOP/tests/python
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$BUILD/modhost-python.so" "$MODCTL" \
	"$BUILD/tests/guest/hcall.elf"
plan 20

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
# pydrop SRC NAME: SRC into dir as NAME.py, atomically.
pydrop() { cp "$1" "$MODDIR/.$2.py.tmp" && mv "$MODDIR/.$2.py.tmp" "$MODDIR/$2.py"; }
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))" | tail -1 | jq -r .text; }

# -- the seed's example, through the watched directory -----------------------
GUEST=hcall qemu_start "ctl=$SOCK" -- -append "mode=6 magic=0x12345678 enc=0"
pydrop "$PY/seed-verbatim.py" seed
wait_event '.event=="reject" and .module=="seed"'
is "$(events '.event=="reject" and .module=="seed"' | jq -r .error)" \
	"import: SyntaxError: '(' was never closed (seed.py line 6)" \
	"the seed's example as printed: refused, one line naming the error and its line"
events '.event=="script_error" and .module=="seed"' | jq -r .error | grep -q '^    print("Hello from my hypercall!"$'
ok $? "the traceback is in a script_error event"
grep -q "seed: import failed:" "$QLOG"
ok $? "and on -d plugin"
rm "$MODDIR/seed.py"

pydrop "$PY/seed-hello.py" hello
wait_event '.event=="load" and .module=="hello"'
is "$(events '.event=="load" and .module=="hello"' | jq -r '.file + " " + .from')" \
	"$MODDIR/hello.py watch" "hello.py written into dir: loaded by the watcher"
wait_event '.event=="message" and .module=="hello"'
is "$(msg hello Hello)" "Hello from my hypercall!" \
	"@modhost.hypercall(MAGIC): the guest's hypercall runs it, print() reaches the log"
is "$(mc list | awk '$1=="hello" { print $2, $3 }')" "0 live" "modctl list shows it (version 0: none declared)"
is "$(mc --json info hello | jq -r '.file + " " + .state')" "$MODDIR/hello.py live" \
	"modctl info names its file"
is "$(mc --json routes | jq -r '.routes[] | select(.magic=="0x12345678") | .owner')" "hello" \
	"its route is the host's, owned by hello"
rm "$MODDIR/hello.py"
wait_event '.event=="unload" and .module=="hello"'
ok $? "deleted: unloaded"
n=$(count_events '.event=="message" and .module=="hello"')
pydrop "$PY/seed-hello.py" hello2
wait_event '.event=="load" and .module=="hello2"'
wait_event '.event=="message" and .module=="hello2"'
is "$(count_events '.event=="message" and .module=="hello"')" "$n" \
	"and it runs no more (the same script as hello2 gets the calls)"
mc unload hello2 >/dev/null
mc load hello2 >/dev/null
is "$(events '.module=="hello2" and (.event=="load" or .event=="unload")' | jq -r '.event + " " + .from' | paste -sd,)" \
	"load watch,unload ctl,load ctl" "modctl unload and load: the same as for NAME.so"
qemu_stop

# -- guest control: the guest loads, reloads and unloads a script -----------
pydrop "$PY/seed-hello.py" hcrec
GUEST=hcall qemu_start guest_control=on -- -append "mode=4"
wait_for "guest done" serial_has "hcall: done"
wait_event '.event=="guest_request" and .module=="nosuch"'
is "$(events '.from=="guest" and (.event=="load" or .event=="reload" or .event=="unload")' |
	jq -r '.event + " " + .module + " " + (.file // "-")' | paste -sd,)" \
	"load hcrec $MODDIR/hcrec.py,reload hcrec $MODDIR/hcrec.py,unload hcrec -" \
	"guest control: hcrec.py loaded, reloaded and unloaded by the guest, as a NAME.so"
is "$(events '.event=="guest_request" and .module=="hcrec"' | jq -r '.op + "=" + .result' | paste -sd' ')" \
	"load=ok reload=ok unload=ok" "each guest_request says ok"
qemu_stop
rm "$MODDIR/hcrec.py"

# -- reloads under a hypercall stream, the count handed over ---------------
mkfifo "$T/stop.in" "$T/stop.out"
pydrop "$PY/pycount.py" pycount
GUEST=hcall qemu_start load=pycount pycount.magic=0x12345600 "ctl=$SOCK" -- \
	-append "mode=9 enc=1 magic=0x12345600" \
	-chardev "pipe,id=stop,path=$T/stop" \
	-device isa-serial,chardev=stop,iobase=0x2f8,irq=3
for v in 2 3 4; do
	wait_event '.event=="message" and .module=="pycount" and (.text|startswith("at "))' $((v - 1))
	sed "s/^__version__ = .*/__version__ = \"$v\"/" "$PY/pycount.py" > "$T/pycount.py"
	pydrop "$T/pycount.py" pycount
	wait_event ".event==\"reload\" and .module==\"pycount\" and .version==\"$v\""
done
for v in 5 6; do
	mc reload pycount >/dev/null
done
is "$(events '.event=="reload"' | jq -r '.old_version + ">" + .version' | paste -sd' ')" \
	"1>2 2>3 3>4 4>4 4>4" "five reloads: three by the watcher, two by modctl"
is "$(count_events '.event=="state_handoff" and .module=="pycount"')" 5 "each with a state_handoff"
is "$(count_events '.event=="rollback" or .event=="reject"')" 0 "no rollback, no reject"
last=$(msg pycount '^restored')
c=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<<"$last")
[ "${c:-0}" -gt 0 ]
ok $? "restore_state(value, old_version) got the count: $last"
echo q > "$T/stop.in"
wait_for "the guest's count" serial_has "hcall: sent"
wait "$QEMU_PID"
QEMU_PID=
sent=$(sed -n 's/^hcall: sent //p' "$SERIAL")
x=$(msg pycount '^exit')
is "$x" "exit calls=$sent bad=0" "every one of the guest's $sent calls counted once, across five reloads"
is "$(events '.event=="unload" and .module=="pycount"' | jq -r .from)" "exit" "unloaded at QEMU's exit"
ok "$(grep -c 'Traceback' "$QLOG")" "no traceback on -d plugin"
