#!/bin/bash
# dwarfp given a kernel image (an x86_64 ELF executable linked in the upper
# half, as a vmlinux is): without a bias it is placed at a KASLR slide
# found at run time, which needs the image's symbol table.  A stripped
# image without a bias, or two kernel images, are refused with a line
# saying why and what to give instead; a stripped image with its slide
# given loads, saying that functions without DWARF stay unnamed.  The
# images are built here: a function and a loop, linked at the kernel's
# base.  (tests/linux/kstpi.t runs the real vmlinux on a Linux boot.)
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
need "$S/sguest-O0.elf" "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so"
command -v gcc >/dev/null && command -v strip >/dev/null ||
	skip_all "no gcc or strip"
plan 6

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$MODDIR/"
printf 'int kf(int x) { return x * 3; }\nvoid _start(void) { for (;;) kf(1); }\n' > "$T/k.c"
gcc -g -O0 -nostdlib -static -fno-pic -no-pie -mcmodel=kernel \
	-Wl,-Ttext=0xffffffff81000000 -o "$T/vmlinux" "$T/k.c" ||
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
said "a kernel image, 0 functions named from its symbol table only (no DWARF); its KASLR slide is found at run time" >/dev/null &&
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
