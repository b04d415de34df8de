#!/bin/bash
# stpi + dwarfp + dwarf_simple on real QEMU runs of the test guest
# (tests/stpi/sguest.c), i386 and x86_64, each at -O0 and -O2, checked
# against addr2line and against gdb driving the same guest through QEMU's
# gdbstub: no provider means "not found"; every line-table address looked
# up through stpi answers as addr2line -f; line events start with a real
# line and pair up; function starts are where gdb's "break FUNC" stops;
# the line sequence of a function equals gdb's "next" steps; the live
# variables and their values at a breakpoint equal gdb's "info args" +
# "info locals", in and after a lexical block; two binary= at once.
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
Q=$S/dwarfp-query
need "$S/sguest-O0.elf" "$S/sguest-O2.elf" "$S/sguest64-O0.elf.64" \
	"$S/sguest64-O2.elf.64" "$Q" "$BUILD/modules/stpi.so" \
	"$BUILD/modules/dwarfp.so" "$BUILD/modules/dwarf_simple.so" "$TMOD/stpi_probe.so"
command -v gdb >/dev/null || skip_all "no gdb"
command -v addr2line >/dev/null || skip_all "no addr2line"
# gdb debugs 32-bit code only against a 32-bit target description.
QEMU_I386=${QEMU_I386:-qemu-system-i386}
command -v "$QEMU_I386" >/dev/null || skip_all "no $QEMU_I386 (gdb's reference runs)"
plan 58

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$BUILD/modules/dwarf_simple.so" "$TMOD/stpi_probe.so" "$MODDIR/"

# run KERNEL PLUGIN_ARGS...: the guest to its end under modhost; log in $QLOG
run() {
	local elf=$1 args
	shift
	args=$(IFS=,; echo "$*")
	: > "$QLOG"
	: > "$SERIAL"
	timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$elf" -plugin "$MODHOST_SO,dir=$MODDIR,watch=off,$args" \
		-d plugin -D "$QLOG" 2>>"$T/stderr"
}
# gdb_ref CMD...: gdb's batch output for $KERNEL stopped at its first insn
gdb_ref() {
	local sock=$T/gdb.sock a=()
	for c in "$@"; do a+=(-ex "$c"); done
	rm -f "$sock"
	"$GQEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$KERNEL" -S -gdb "unix:$sock,server,wait=off" 2>/dev/null &
	local qp=$!
	wait_for "gdbstub" test -S "$sock" >/dev/null
	timeout 60 gdb -nx -batch -ex "target remote $sock" "${a[@]}" -ex kill \
		"$DBG" 2>/dev/null
	kill "$qp" 2>/dev/null
	wait "$qp" 2>/dev/null
}
probe() { sed -n 's/^modhost: stpi_probe: probe: //p' "$QLOG"; }
stat() { probe | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | tail -1; }
gdb_break() { gdb -nx -batch -ex "break $2" "$1" | sed -n 's/^Breakpoint 1 at \(0x[0-9a-f]*\).*/\1/p'; }
# stpi_probe.q=ADDR for each line-table address of $1, biased by $2
q_args() { "$Q" rows "$1" | while read -r a; do printf 'stpi_probe.q=0x%x\n' $((0x$a + $2)); done; }
# The probe's answers as addr2line -f prints them, two lines each.
q_answers() { probe | sed -n 's/^q=[^ ]* rc=0 fn=\([^ ]*\) file=\([^ ]*\) line=\([0-9]*\)$/\1\n\2:\3/p'; }
. "$(dirname "$0")/stpi-vars.sh"

# -- no provider ----------------------------------------------------------
ADD3=$(gdb_break "$S/sguest-O0.elf" add3)
run "$S/sguest-O0.elf" load=stpi:stpi_probe "stpi_probe.q=$ADD3" stpi_probe.regmap=on
is "$(probe | grep '^q=')" "q=$ADD3 rc=-1 fn=- file=- line=0" \
	"no provider loaded: stpi_get_pc_source_info says not found (-1)"
is "$(stat before)" 0 "no provider loaded: no line events"

# -- the DWARF register numbering, against binutils ---------------------------
# Every register number objdump names in the guests' locations and CFI,
# and its name, as stpi_dwarf_reg_name() gives them (i386 names widened).
objdump_regs() { for f in "$@"; do objdump --dwarf=info,loc,frames "$f"; done 2>/dev/null |
	grep -oE 'DW_OP_b?reg[0-9]+ \([a-z0-9]+\)|\br[0-9]+ \([a-z0-9]+\)' |
	sed -E 's/DW_OP_b?reg/r/; s/^r([0-9]+) \((.*)\)$/\1 \2/; s/ e([a-z]{2})$/ r\1/' | sort -un; }
for sz in 4 8; do
	if [ $sz = 4 ]; then
		ref=$(objdump_regs "$S/sguest-O0.elf" "$S/sguest-O2.elf") arch=i386
	else
		ref=$(objdump_regs "$S/sguest64-O0.elf.64" "$S/sguest64-O2.elf.64") arch=x86_64
	fi
	ours=$(probe | awk -v sz=$sz '$1 == "regmap" && $2 == sz { print $3, $4 }' |
		awk 'NR == FNR { want[$1] = 1; next } $1 in want' <(echo "$ref") -)
	[ "$(wc -l <<<"$ref")" -ge 8 ]
	is "$ours" "$ref" "$arch DWARF registers: stpi_dwarf_reg_name() names them as objdump does ($(wc -l <<<"$ref") numbers)"
done

for ARCH in i386 x86_64; do
for L in O0 O2; do
	if [ $ARCH = i386 ]; then
		KERNEL=$S/sguest-$L.elf DBG=$KERNEL GQEMU=$QEMU_I386 ASIZE=4
	else
		KERNEL=$S/sguest64-$L.elf DBG=$KERNEL.64 GQEMU=$QEMU ASIZE=8
	fi
	A="$ARCH -$L"
	DS=$T/ds-$ARCH-$L.out

	# -- every line-table address, events, dwarf_simple --------------------
	mapfile -t qs < <(q_args "$DBG" 0)
	run "$KERNEL" load=dwarfp:stpi_probe:dwarf_simple "dwarfp.binary=$DBG" \
		"dwarf_simple.out=$DS" "stpi_probe.addr_size=$ASIZE" stpi_probe.bp_line=52 \
		"${qs[@]}"
	grep -q 'sguest: total' "$SERIAL"
	ok $? "$A: the guest ran to its end under dwarfp"
	"$Q" rows "$DBG" | sed 's/^/0x/' | addr2line -f -e "$DBG" |
		sed 's/ (discriminator [0-9]*)//' > "$T/ref"
	q_answers > "$T/ours"
	diff "$T/ref" "$T/ours" > "$T/diff" && [ ${#qs[@]} -ge 150 ]
	ok $? "$A: stpi_get_pc_source_info equals addr2line -f for all ${#qs[@]} line-table addresses"
	head -4 "$T/diff" | diag

	nb=$(stat before); na=$(stat after)
	[ "${nb:-0}" -gt 100 ] && [ "$na" -eq $((nb - 1)) ] && [ "$(stat bad)" = 0 ]
	ok $? "$A: each line change is after(prev) then before(cur): before=$nb after=$na bad=$(stat bad)"
	entry=0x$(nm "$DBG" | awk '$3 == "_start" { print $1 }')
	is "$(stat zero)/$(stat after_first)/$(stat first_before)" \
		"0/0/$(addr2line -e "$DBG" "$entry" | sed 's/.*://')" \
		"$A: the first event is the guest's first line; none with line 0"
	bad=0
	for f in add3 scan blocks area; do
		g=$(gdb_break "$DBG" $f)
		got=$(probe | awk -v f="$f" '$1=="fn-start" && $2==f {print $3}' | sort | uniq -c | awk '{print $1, $2}')
		[ "$got" = "3 $g" ] || { echo "# $f: got '$got', gdb break at $g, 3 calls"; bad=1; }
	done
	ok $bad "$A: on_fn_start fires at gdb's 'break FUNC' address, once per call"

	# The line sequence of the first call of blocks(), against gdb's "next".
	ours=$(blocks_lines_ours "$DS")
	theirs=$(blocks_lines_gdb)
	is "$ours" "$theirs" "$A: line events in blocks() equal gdb's next steps ($ours)"

	# -- live variables -----------------------------------------------------
	ref=$(vars_gdb 52)
	[ -n "$ref" ]
	ok $? "$A line 52: gdb sees variables ($(echo $ref | tr '\n' ' '))"
	is "$(vars_ours)" "$ref" "$A at line 52 (in a block): variables and values equal gdb's"
	cp "$QLOG" "$T/bp52-$ARCH-$L.log"
	if [ $L = O0 ]; then
		vars_ours | grep -q '^inner = ' && vars_ours | grep -q '^after = '
		ok $? "$A: variables in the lexical block and after it are found"
		g=$(gdb_ref 'break sguest.c:52' continue 'p g_counter' 'p g_sink' |
			sed -n 's/^\$[0-9]* = //p' | paste -sd' ')
		is "$(probe | sed -n 's/^var \(g_counter\|g_sink\) mem = \(-\?[0-9]*\) .*/\2/p' | paste -sd' ')" \
			"$g" "$A: globals (DW_OP_addr) read at their addresses equal gdb's"
		grep -Eq '^\[\./tests/stpi/sguest\.c\] area\(\), ln: +6[0-9], pc @ 0x[0-9a-f]+$' "$DS" &&
		grep -Eq '^fn-start: blocks\(\) \[\./tests/stpi/sguest\.c\], ln: +45, pc @ 0x[0-9a-f]+$' "$DS" &&
		grep -A1 '^fn-start: blocks()' "$DS" | grep -Eq '^VAR MEM int n @ 0x[0-9a-f]+$'
		ok $? "$A: dwarf_simple prints lines, function starts and their variables in the seed's format"
	fi
	run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG" \
		"stpi_probe.addr_size=$ASIZE" stpi_probe.bp_line=23
	ref=$(vars_gdb 23)
	[ -n "$ref" ]
	ok $? "$A line 23: gdb sees variables ($(echo $ref | tr '\n' ' '))"
	is "$(vars_ours)" "$ref" "$A at line 23: variables and values equal gdb's"
	cat "$QLOG" >> "$T/bp52-$ARCH-$L.log"
	if [ $L = O0 ]; then
		run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG" \
			"stpi_probe.addr_size=$ASIZE" stpi_probe.bp_line=56
		is "$(vars_ours)" "$(vars_gdb 56)" \
			"$A at line 56, after the block: variables equal gdb's (the block's are gone)"
	fi
	if [ $L = O2 ]; then
		grep -q 'probe: var [a-z_0-9]* reg = ' "$T/bp52-$ARCH-$L.log" &&
		grep -q 'probe: var [a-z_0-9]* const = ' "$T/bp52-$ARCH-$L.log"
		ok $? "$A: registers (LocReg) and constants (LocConst) are reported as such"
	fi
done
done

# -- x86_64 registers ---------------------------------------------------------
# At -O2 the variables above that lived in registers, by name: some must be
# ones the i386 and x86_64 DWARF numberings place differently (all but
# rax and rbx), so a wrong map would have given gdb's values only by luck.
regs=$(cat "$T"/bp52-x86_64-O2.log | sed -n 's/.*probe: var [a-z_0-9]* reg = -\?[0-9]* ([^,]*, reg \([a-z0-9]*\))$/\1/p' |
	sort -u | paste -sd' ')
grep -Eqw 'rcx|rdx|rsi|rdi|r(8|9|1[0-5])' <<<"$regs"
ok $? "x86_64 -O2: variables in registers the x86_64 map alone names ($regs) equal gdb's"

# -- two binaries: the running one and another one, biased --------------------
BIAS=0x40000000
mapfile -t qs < <(q_args "$S/sguest-O0.elf" 0; q_args "$S/sguest64-O2.elf.64" $BIAS)
run "$S/sguest-O0.elf" load=dwarfp:stpi_probe "dwarfp.binary=$S/sguest-O0.elf" \
	"dwarfp.binary=$S/sguest64-O2.elf.64@$BIAS" "${qs[@]}"
grep -q 'indexed 2 binaries' "$QLOG"
ok $? "dwarfp.binary= twice: both binaries are indexed"
{ "$Q" rows "$S/sguest-O0.elf" | sed 's/^/0x/' | addr2line -f -e "$S/sguest-O0.elf"
  "$Q" rows "$S/sguest64-O2.elf.64" | sed 's/^/0x/' | addr2line -f -e "$S/sguest64-O2.elf.64"
} | sed 's/ (discriminator [0-9]*)//' > "$T/ref"
q_answers > "$T/ours"
diff "$T/ref" "$T/ours" > "$T/diff"
ok $? "two binaries: every address of each (the second at +$BIAS) answers as addr2line on its file"
head -4 "$T/diff" | diag
nb=$(stat before)
[ "${nb:-0}" -gt 100 ] && [ "$(stat bad)" = 0 ]
ok $? "two binaries: line events of the running one flow and pair up (before=$nb)"
