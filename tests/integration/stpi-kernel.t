#!/bin/bash
# dwarfp given a kernel image (an x86_64 ELF executable linked in the upper
# half, as a vmlinux is): without a bias it is placed at a KASLR slide
# found at run time, which needs the image's symbol table.  A stripped
# image without a bias, or two kernel images, are refused with a line
# saying why and what to give instead; a stripped image with its slide
# given loads, saying that functions without DWARF stay unnamed.  With the
# slide given, stpi_get_pc_source_info() answers at run-time addresses:
# a C function, and an assembly one with no DWARF subprogram (an untyped
# symbol, as the kernel's SYM_CODE_START makes) named from the symbol
# table, as addr2line names it.  Without a slide found it answers
# nothing.  The images are built here: a C function and a loop, and the
# assembly function, linked at the kernel's base.  (tests/linux/kstpi.t
# runs the real vmlinux on a Linux boot.)
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
need "$S/sguest-O0.elf" "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$TMOD/stpi_probe.so"
command -v gcc >/dev/null && command -v strip >/dev/null &&
	command -v addr2line >/dev/null || skip_all "no gcc, strip or addr2line"
plan 10

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so" \
	"$MODDIR/"
printf 'int kf(int x) { return x * 3; }\nvoid _start(void) { for (;;) kf(1); }\n' > "$T/k.c"
printf '\t.text\n\t.globl kasm\nkasm:\n\tnop\n\tnop\n\tret\n\t.size kasm, . - kasm\n\t.section .note.GNU-stack,"",@progbits\n' > "$T/k.S"
gcc -g -O0 -nostdlib -static -fno-pic -no-pie -mcmodel=kernel \
	-Wl,-Ttext=0xffffffff81000000 -o "$T/vmlinux" "$T/k.c" "$T/k.S" ||
	bail "cannot build the test's kernel image"
strip --strip-all --keep-section='.debug_*' -o "$T/vmlinux-stripped" "$T/vmlinux" ||
	bail "cannot strip the test's kernel image"

# run PLUGIN_ARGS...: the stpi test guest to its end under modhost (the
# images are only indexed); QEMU's status.
run() {
	local args
	args=$(IFS=,; echo "$*")
	: > "$EVENTS"
	: > "$QLOG"
	timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$S/sguest-O0.elf" \
		-plugin "$MODHOST_SO,dir=$MODDIR,watch=off,log=$EVENTS,$args" \
		-d plugin -D "$QLOG" 2>>"$T/stderr"
}
said() { grep -F -- "$1" "$QLOG"; }

run load=dwarfp "dwarfp.binary=$T/vmlinux"
said "a kernel image; functions named from its symbol table only (no DWARF): 1; its KASLR slide is found at run time" >/dev/null &&
	[ "$(count_events '.event=="load" and .module=="dwarfp"')" -eq 1 ]
ok $? "a kernel image without a bias loads, its slide to be found at run time"

run load=dwarfp "dwarfp.binary=$T/vmlinux-stripped"
st=$?
line=$(said "vmlinux-stripped: a kernel image, moved at boot by KASLR")
echo "# $line"
[ "$st" -ne 0 ] && [ "$(count_events '.event=="load" and .module=="dwarfp"')" -eq 0 ]
ok $? "a stripped kernel image without a bias is refused: QEMU does not start"
grep -q "needs its symbol table: no symbol table (.symtab).*or give the slide: binary=.*@0xSLIDE" <<<"$line"
ok $? "... saying it needs the symbol table, or the slide given with @0xSLIDE"

run load=dwarfp "dwarfp.binary=$T/vmlinux-stripped@0x22800000"
[ "$(count_events '.event=="load" and .module=="dwarfp"')" -eq 1 ]
ok $? "with its slide given (@0x22800000) the stripped image loads"
said "functions without DWARF are left unnamed" | sed 's/^/# /'
said "functions without DWARF are left unnamed" >/dev/null
ok $? "... saying functions without DWARF stay unnamed"

run load=dwarfp "dwarfp.binary=$T/vmlinux" "dwarfp.binary=$T/vmlinux-stripped@0x200000"
st=$?
said "a second kernel image" | sed 's/^/# /'
[ "$st" -ne 0 ] && said "there is one KASLR slide" >/dev/null
ok $? "two kernel images are refused: there is one slide"

# stpi_get_pc_source_info() through stpi_probe (q=, looked up at init),
# at kasm + 1 and kf: "FUNCTION FILE:LINE" each, against addr2line.
kasm=$(nm "$T/vmlinux" | awk '$3 == "kasm" { print $1 }')
kf=$(nm "$T/vmlinux" | awk '$3 == "kf" { print $1 }')
slide=0x22800000
probe() {	# probe PLUGIN_ARGS...: "FUNCTION FILE:LINE" per q=, or "-"
	run load=dwarfp:stpi_probe "$@" >/dev/null
	sed -n 's/.*probe: q=[^ ]* rc=\(-*[0-9]*\) fn=\([^ ]*\) file=\([^ ]*\) line=\([0-9]*\)$/\1 \2 \3:\4/p' "$QLOG" |
		awk '{ print $1 ? "-" : $2 " " $3 }'
}
want=$(printf '0x%x\n0x%x\n' $((0x$kasm + 1)) $((0x$kf)) | addr2line -f -e "$T/vmlinux" | paste -d' ' - -)
echo "# addr2line: $(tr '\n' ';' <<<"$want")"
got=$(probe "dwarfp.binary=$T/vmlinux@$slide" \
	"stpi_probe.q=$(printf '0x%x' $((0x$kasm + 1 + slide)))" \
	"stpi_probe.q=$(printf '0x%x' $((0x$kf + slide)))" \
	"stpi_probe.q=$(printf '0x%x' $((0x$kf)))")
is "$(head -2 <<<"$got")" "$want" \
	"with the slide given: kasm (no DWARF subprogram) and kf at run-time addresses as addr2line at the link ones"
is "$(sed -n 3p <<<"$got")" "-" "... and nothing at kf's link address"
got=$(probe "dwarfp.binary=$T/vmlinux" "stpi_probe.q=$(printf '0x%x' $((0x$kf + slide)))" \
	"stpi_probe.q=$(printf '0x%x' $((0x$kf)))")
is "$(tr '\n' ' ' <<<"$got")" "- - " "without a slide found yet, no answer at any address"
run load=dwarfp "dwarfp.binary=$S/sguest-O0.elf"
! said "a kernel image" >/dev/null
ok $? "a program linked low (the stpi test guest) is not taken for a kernel image"
