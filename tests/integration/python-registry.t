#!/bin/bash
# Python scripts and the symbol registry (Documentation/python.rst): a
# script handles callstack_instr's PPP points on_call/on_ret, arguments
# converted from the points' signatures, and calls its get_callers()
# through modhost.import_fn (libffi, from the export's signature) with a
# bytearray; a C module imports a script's export, and a hypercall route
# targets another; the importer follows the script across its reload; a
# changed or mismatched signature is refused on either side.
. "$(dirname "$0")/../lib.sh"
PY=$TOP/tests/python
MODCTL=$BUILD/bin/modctl
ELF=$BUILD/tests/guest/callgraph.elf
need "$BUILD/modhost.so" "$BUILD/modhost-python.so" "$MODCTL" "$ELF" \
	"$BUILD/tests/guest/hcall.elf" "$BUILD/modules/callstack_instr.so" \
	"$TMOD/cs_cons.so" "$TMOD/pyimp.so" "$TMOD/pyimp-badsig.so"
plan 13

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
pydrop() { cp "$1" "$MODDIR/.$2.py.tmp" && mv "$MODDIR/.$2.py.tmp" "$MODDIR/$2.py"; }
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))" | tail -1 | jq -r .text; }
sym() { nm "$ELF" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }

# -- PPP points and an import, against the C consumer ------------------------
cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
pydrop "$PY/pycs.py" pycs
GUEST=callgraph qemu_start watch=off load=cs_cons:pycs "cs_cons.out=$T/c.counts" \
	"pycs.out=$T/py.counts" "pycs.probe=$(sym cg_lj_deep)"
wait "$QEMU_PID"
QEMU_PID=
[ -s "$T/py.counts" ] && diff <(grep -v '^top_mismatch' "$T/c.counts") "$T/py.counts" >&2
ok $? "@modhost.ppp on_call/on_ret: every function's counts equal the C consumer's ($(wc -l < "$T/py.counts") functions)"
is "$(grep -i "^$(sym cg_rec | sed 's/0x0*/0x/') " "$T/py.counts")" "$(sym cg_rec | sed 's/0x0*/0x/') 12 12" \
	"cg_rec: 12 calls, 12 returns"
# fn_of ADDR: the function symbol holding ADDR
fn_of() {
	local a=$(($1)) f= v t n
	while read -r v t n; do
		[[ $t == [Tt] ]] && ((16#$v <= a)) && f=$n
	done < <(nm -n "$ELF")
	echo "$f"
}
names=$(for a in $(msg pycs '^probe' | cut -d' ' -f2-5); do fn_of "$a"; done | paste -sd' ')
is "$names" "cg_lj_mid cg_lj_try cg_round kmain" \
	"get_callers(bytearray, 16, cpu) through import_fn: the stack at cg_lj_deep's call"
is "$(count_events '.event=="script_error"')" 0 "no exception"

# -- exports: a C importer and a hypercall route ------------------------------
rm -f "$MODDIR"/*
pydrop "$PY/pyexp.py" pyexp
cp "$TMOD/pyimp.so" "$MODDIR/"
GUEST=hcall qemu_start load=pyimp route=0x12340001:pyexp.greet "ctl=$SOCK" -- \
	-append "mode=5 magic=0x12340001 enc=1"
is "$(events '.event=="load"' | jq -r '.module + " " + .from' | paste -sd,)" \
	"pyexp start,pyimp start" "pyimp's import loaded the script first"
is "$(msg pyimp '^twice')" "twice(21)=42" "a C module calls a Python export through its import"
wait_for "guest done" serial_has "hcall: done"
is "$(msg pyexp '^greet')" "greet s='hello, host' n=42 g=set" \
	"route=0xMAGIC:pyexp.greet: a hypercall calls the script, the guest's string copied in"
is "$(mc unload pyexp 2>&1)" "modctl: unload refused: in use by pyimp" \
	"unloading the script while a C module imports it: refused"
sed -e 's/__version__ = "1"/__version__ = "2"/' -e 's/return 2 \* x/return 2 * x + 1/' \
	"$PY/pyexp.py" > "$T/pyexp.py"
pydrop "$T/pyexp.py" pyexp
wait_event '.event=="reload" and .module=="pyexp"'
mc reload pyimp >/dev/null
is "$(msg pyimp '^twice')" "twice(21)=43" "the importer's pointer follows the script's reload"
sed -e 's/"u64(u64)"/"u32(u32)"/' "$PY/pyexp.py" > "$T/pyexp.py"
pydrop "$T/pyexp.py" pyexp
wait_event '.event=="rollback" and .module=="pyexp"'
is "$(events '.event=="rollback" and .module=="pyexp"' | jq -r '.version + ": " + .error')" \
	"2: export 'twice' changes from u64(u64) to u32(u32), but pyimp imports it" \
	"a new version changing an imported export's signature: refused, version 2 kept"
mc unload pyimp >/dev/null
cp "$TMOD/pyimp-badsig.so" "$MODDIR/.pyimp.so.tmp"
mv "$MODDIR/.pyimp.so.tmp" "$MODDIR/pyimp.so"
wait_event '.event=="reject" and .module=="pyimp"'
is "$(events '.event=="reject" and .module=="pyimp"' | jq -r .error)" \
	"pyexp.twice is u64(u64), imported as u32(u32)" \
	"a C module importing a script's export with another signature: refused"
cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
pydrop "$PY/badimport.py" badimport
wait_event '.event=="reject" and .module=="badimport"'
is "$(events '.event=="reject" and .module=="badimport"' | jq -r .error)" \
	"init: callstack_instr.get_callers is u32(p,u32,p), imported as u64(p)" \
	"a script importing with a signature that does not match the export: refused"
is "$(mc --json info pyexp | jq -r '.state + " " + .version')" "live 2" \
	"and the script's module is live throughout"
qemu_stop
