#!/bin/bash
# stpi + dwarfp + dwarf_simple on a real QEMU run of the test guest
# (tests/stpi/sguest.c at -O0 and -O2), checked against addr2line and
# against gdb driving the same guest through QEMU's gdbstub: no provider
# means "not found"; line events start with a real line and pair up;
# function starts are where gdb's "break FUNC" stops; the line sequence of
# a function equals gdb's "next" steps; the live variables and their
# values at a breakpoint equal gdb's "info args" + "info locals".
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
need "$S/sguest-O0.elf" "$S/sguest-O2.elf" "$BUILD/modules/stpi.so" \
	"$BUILD/modules/dwarfp.so" "$BUILD/modules/dwarf_simple.so" "$TMOD/stpi_probe.so"
command -v gdb >/dev/null || skip_all "no gdb"
QEMU_I386=${QEMU_I386:-qemu-system-i386}
command -v "$QEMU_I386" >/dev/null || skip_all "no $QEMU_I386 (gdb's reference runs)"
plan 19

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$BUILD/modules/dwarf_simple.so" "$TMOD/stpi_probe.so" "$MODDIR/"

# run ELF PLUGIN_ARGS...: the guest to its end under modhost; log in $QLOG
run() {
	local elf=$1 args
	shift
	args=$(IFS=,; echo "$*")
	: > "$QLOG"
	timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$elf" -plugin "$MODHOST_SO,dir=$MODDIR,watch=off,$args" \
		-d plugin -D "$QLOG" 2>>"$T/stderr"
}
# gdb ELF CMD...: gdb's batch output for the guest stopped at its first insn
gdb_ref() {
	local elf=$1 sock=$T/gdb.sock a=()
	shift
	for c in "$@"; do a+=(-ex "$c"); done
	rm -f "$sock"
	"$QEMU_I386" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$elf" -S -gdb "unix:$sock,server,wait=off" 2>/dev/null &
	local qp=$!
	wait_for "gdbstub" test -S "$sock" >/dev/null
	timeout 60 gdb -nx -batch -ex "target remote $sock" "${a[@]}" -ex kill \
		"$elf" 2>/dev/null
	kill "$qp" 2>/dev/null
	wait "$qp" 2>/dev/null
}
probe() { sed -n 's/^modhost: stpi_probe: probe: //p' "$QLOG"; }
stat() { probe | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | tail -1; }

E0=$S/sguest-O0.elf
E2=$S/sguest-O2.elf
ADD3=$(gdb -nx -batch -ex 'break add3' "$E0" | sed -n 's/^Breakpoint 1 at \(0x[0-9a-f]*\).*/\1/p')

# -- no provider ----------------------------------------------------------
run "$E0" load=stpi:stpi_probe "stpi_probe.q=$ADD3"
is "$(probe | grep '^q=')" "q=$ADD3 rc=-1 fn=- file=- line=0" \
	"no provider loaded: stpi_get_pc_source_info says not found (-1)"
is "$(stat before)" 0 "no provider loaded: no line events"

# -- -O0: source info, events, dwarf_simple ---------------------------------------
DS=$T/ds.out
run "$E0" load=dwarfp:stpi_probe:dwarf_simple "dwarfp.binary=$E0" \
	"dwarf_simple.out=$DS" "stpi_probe.q=$ADD3" stpi_probe.bp_line=52
grep -q 'sguest: total' "$SERIAL"
ok $? "the guest ran to its end under dwarfp"
ref=$(addr2line -f -e "$E0" "$ADD3" | paste -sd' ')
is "$(probe | sed -n 's/^q=[^ ]* rc=0 fn=\([^ ]*\) file=\([^ ]*\) line=\([0-9]*\)$/\1 \2:\3/p')" \
	"$ref" "stpi_get_pc_source_info answers as addr2line ($ref)"
nb=$(stat before); na=$(stat after)
[ "${nb:-0}" -gt 100 ] && [ "$na" -eq $((nb - 1)) ]
ok $? "each line change is after(prev) then before(cur): before=$nb after=$na"
is "$(stat zero)/$(stat after_first)" "0/0" "no event with line 0, no after event before the first line"
is "$(stat first_before)" "$(addr2line -e "$E0" 0x10000c | sed 's/.*://')" \
	"the first event is the guest's first line"
bad=0
for f in add3 scan blocks area; do
	g=$(gdb -nx -batch -ex "break $f" "$E0" | sed -n 's/^Breakpoint 1 at \(0x[0-9a-f]*\).*/\1/p')
	got=$(probe | awk -v f="$f" '$1=="fn-start" && $2==f {print $3}' | sort | uniq -c | awk '{print $1, $2}')
	[ "$got" = "3 $g" ] || { echo "# $f: got '$got', gdb break at $g, 3 calls"; bad=1; }
done
ok $bad "on_fn_start fires at gdb's 'break FUNC' address, once per call"
grep -Eq '^\[/.*/sguest\.c\] area\(\), ln: +6[0-9], pc @ 0x[0-9a-f]+$' "$DS" &&
grep -Eq '^fn-start: blocks\(\) \[/.*/sguest\.c\], ln: +45, pc @ 0x[0-9a-f]+$' "$DS" &&
grep -A1 '^fn-start: blocks()' "$DS" | grep -Eq '^VAR MEM int n @ 0x[0-9a-f]+$'
ok $? "dwarf_simple prints lines, function starts and their variables in the seed's format"

# The line sequence of the first call of blocks(), against gdb's "next".
ours=$(awk '/^fn-start: blocks\(\)/ && !d {d=1; sub(/.*ln: */,""); sub(/,.*/,""); print; next}
	d && /^\[/ { if ($0 !~ /\] blocks\(\)/) exit; sub(/.*ln: */,""); sub(/,.*/,""); print }' "$DS" | paste -sd' ')
nexts=(); for i in $(seq 12); do nexts+=(next); done
theirs=$(gdb_ref "$E0" 'break blocks' continue "${nexts[@]}" |
	awk '/^kmain|in kmain/ {exit} /^[0-9]+\t/ {print $1}' | paste -sd' ')
[ "$(wc -w <<<"$ours")" -ge 6 ] || ours="(too few: $ours)"
is "$ours" "$theirs" "-O0: line events in blocks() equal gdb's next steps ($ours)"

# vars_ours / vars_gdb: "name = value" lines, sorted, scalars only
vars_ours() { probe | sed -n 's/^var \([^ ]*\) [a-z]* = \(-\?[0-9]*\) (\(.*\))$/\1 = \2/p' |
	grep -v '^g_' | sort; }
vars_gdb() { gdb_ref "$1" "break sguest.c:$2" continue 'info args' 'info locals' |
	grep -E '^[a-z_0-9]+ = -?[0-9]+$' | sort; }
ref=$(vars_gdb "$E0" 52)
is "$(vars_ours)" "$ref" "-O0 at line 52 (in a block): variables and values equal gdb's"
echo "$(vars_ours)" | grep -q '^inner = ' && echo "$(vars_ours)" | grep -q '^after = '
ok $? "-O0: variables in the lexical block and after it are found"
g=$(gdb_ref "$E0" 'break sguest.c:52' continue 'p g_counter' 'p g_sink' | sed -n 's/^\$[0-9]* = //p' | paste -sd' ')
is "$(probe | sed -n 's/^var \(g_counter\|g_sink\) mem = \(-\?[0-9]*\) .*/\2/p' | paste -sd' ')" "$g" \
	"-O0: globals (DW_OP_addr) read at their addresses equal gdb's"

# -- -O2: registers, constants, location lists --------------------------------------
for L in 52 23; do
	run "$E2" load=dwarfp:stpi_probe "dwarfp.binary=$E2" stpi_probe.bp_line=$L
	ref=$(vars_gdb "$E2" $L)
	[ -n "$ref" ]
	ok $? "-O2 line $L: gdb sees variables ($(echo $ref | tr '\n' ' '))"
	is "$(vars_ours)" "$ref" "-O2 at line $L: variables and values equal gdb's"
done
probe | grep -q '^var sum const = 5 '
r1=$?
run "$E2" load=dwarfp:stpi_probe "dwarfp.binary=$E2" stpi_probe.bp_line=52
probe | grep -q '^var before reg = 3 ' && [ $r1 -eq 0 ]
ok $? "-O2: a register (LocReg) and a DW_OP_stack_value constant (LocConst) are reported as such"
nb=$(stat before); na=$(stat after)
[ "${nb:-0}" -gt 50 ] && [ "$na" -eq $((nb - 1)) ] && [ "$(stat zero)" = 0 ]
ok $? "-O2: line events pair up, none with line 0 (before=$nb after=$na)"
