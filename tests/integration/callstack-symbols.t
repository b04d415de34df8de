#!/bin/bash
# callstack_instr.symbols= names what is wrong with a file it cannot use:
# a System.map (text, not ELF), a stripped binary (no symbol table), a
# missing file.  Each refuses the load at start with that reason on stderr.
. "$(dirname "$0")/../lib.sh"
ELF=$BUILD/tests/guest/spin.elf
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$ELF"
command -v strip >/dev/null || skip_all "strip (binutils) is missing"
plan 4

cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
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

nm "$ELF" | awk '{ print $1, toupper($2), $3 }' >"$T/System.map"
refuse "symbols=$T/System.map: not an ELF file" "a System.map is not ELF" \
	"$T/System.map"
strip -o "$T/stripped.elf" "$ELF"
refuse "symbols=$T/stripped.elf: no symbol table" "a stripped binary" \
	"$T/stripped.elf"
refuse "symbols=$T/nosuch: cannot open: No such file or directory" \
	"a missing file" "$T/nosuch"

# The good file still loads and names functions.
qemu_start load=callstack_instr "callstack_instr.symbols=$ELF" \
	"callstack_instr.folded=$T/folded"
wait_ticks 2
qemu_stop
grep -q 'step ' "$T/folded"
ok $? "the unstripped binary names functions (step in the folded stacks)"
