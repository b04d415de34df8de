#!/bin/bash
# callstack_instr.symbols= with each kind of file it takes, on the
# call-graph guest (tests/guest/callgraph.c):
# - the guest's own ELF names its functions, no offset;
# - a System.map, and a /proc/kallsyms list (with a module's lines), whose
#   addresses are shifted by 6 MiB and by 10 MiB from where the guest runs,
#   as a relocated (KASLR) kernel's are from its System.map: the module
#   finds the offset from the call targets, says so in the event log, and
#   names the same functions as the ELF does;
# - symbols_offset= given by hand does the same without the search.
# And what it cannot use refuses the load at start, saying why: a file in
# neither format (with the line number of the first bad line), Debian's
# stub System.map, a stripped binary, a missing file.
. "$(dirname "$0")/../lib.sh"
ELF=$BUILD/tests/guest/callgraph.elf
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$ELF"
command -v strip >/dev/null || skip_all "strip (binutils) is missing"
plan 12

cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
export GUEST=callgraph

# refuse PATTERN DESCRIPTION FILE: QEMU must refuse to start, saying PATTERN.
refuse() {
	local pat=$1 what=$2 file=$3 out status
	out=$(timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none \
		-no-reboot -serial null -kernel "$ELF" -d plugin \
		-plugin "$MODHOST_SO,dir=$MODDIR,load=callstack_instr,callstack_instr.symbols=$file" 2>&1)
	status=$?
	[ $status -ne 0 ] && [ $status -ne 124 ] && grep -q -- "$pat" <<<"$out"
	ok $? "$what: $(grep -m1 "symbols=" <<<"$out")"
}

# folded NAME PLUGIN_ARG...: run the guest to its end with symbols, the
# folded stacks in $T/NAME.folded; prints the cg_* and kmain frames.
folded() {
	local name=$1
	shift
	qemu_start watch=off load=callstack_instr \
		"callstack_instr.folded=$T/$name.folded" "$@"
	wait "$QEMU_PID"
	QEMU_PID=
	tr ' ;' '\n\n' <"$T/$name.folded" | grep -E '^(cg_|kmain$)' | sort -u
}
offset_msg() {
	events '.event=="message" and .module=="callstack_instr" and (.text|test("^symbols: offset"))' |
		jq -r .text
}

# -- the ELF, as before ---------------------------------------------------
want=$(folded elf "callstack_instr.symbols=$ELF")
[ "$(wc -l <<<"$want")" -ge 15 ]
ok $? "the ELF names $(wc -l <<<"$want") functions, cg_* and kmain"
is "$(offset_msg)" "" "an ELF program is not searched for an offset"

# -- System.map and kallsyms, shifted -------------------------------------
# shift_map DELTA: nm's list with DELTA added to each address.
shift_map() {
	local a t n
	nm -n "$ELF" | while read -r a t n; do
		printf '%016x %s %s\n' $((0x$a + $1)) "$t" "$n"
	done
}
shift_map $((6 << 20)) >"$T/System.map"
got=$(folded map "callstack_instr.symbols=$T/System.map")
is "$got" "$want" "a System.map shifted by +6 MiB names the same functions"
msg=$(offset_msg)
echo "# $msg"
grep -q '^symbols: offset -0x600000 ' <<<"$msg"
ok $? "the offset, -6 MiB, was found and reported"

{
	shift_map $((10 << 20))
	printf '%016x t helper\t[somemod]\n' 0xffffffffc0001000
} >"$T/kallsyms"
got=$(folded kallsyms "callstack_instr.symbols=$T/kallsyms")
is "$got" "$want" "a kallsyms list shifted by +10 MiB, with a module's symbol"
grep -q '^symbols: offset -0xa00000 ' <<<"$(offset_msg)"
ok $? "the offset, -10 MiB, was found: $(offset_msg)"
grep -q 'symbols: [0-9]* functions (kallsyms)' "$QLOG"
ok $? "told apart from a System.map: $(grep -o 'symbols: [0-9]* functions ([a-zA-Z.]*)' "$QLOG")"

got=$(folded given "callstack_instr.symbols=$T/System.map" \
	"callstack_instr.symbols_offset=-0x600000")
is "$got" "$want" "symbols_offset=-0x600000 given by hand names them too"

# -- what is refused --------------------------------------------------------
shift_map 0 | head -5 >"$T/bad.map"
echo "this is not a symbol" >>"$T/bad.map"
shift_map 0 >>"$T/bad.map"
refuse "symbols=$T/bad.map: line 6 is neither System.map nor kallsyms" \
	"a bad line is named by its number" "$T/bad.map"
printf 'ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n' \
	>"$T/stub.map"
refuse "line 1 .*the kernel package's stub.*make linux-dbg" \
	"Debian's stub System.map" "$T/stub.map"
strip -o "$T/stripped.elf" "$ELF"
refuse "symbols=$T/stripped.elf: no symbol table" "a stripped binary" \
	"$T/stripped.elf"
refuse "symbols=$T/nosuch: cannot open: No such file or directory" \
	"a missing file" "$T/nosuch"
