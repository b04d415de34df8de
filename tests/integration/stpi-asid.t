#!/bin/bash
# dwarfp's asid= filter.  sguest runs its second round (of three) with
# cr3 = g_alt_root, its other rounds with the boot cr3 (x86_64: the boot
# page tables, pml4, set up by lm64-crt0.S while cr3 is still 0; i386: 0,
# paging off).  With asid= set to one of them,
# the line and function-start events are exactly those of the rounds run
# in that address space; with an address space the guest never uses, none.
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
need "$S/sguest-O0.elf" "$S/sguest64-O0.elf.64" "$BUILD/modules/stpi.so" \
	"$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so"
plan 13

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so" "$MODDIR/"

run() {
	local elf=$1 args
	shift
	args=$(IFS=,; echo "$*")
	: > "$QLOG"
	timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$elf" -plugin "$MODHOST_SO,dir=$MODDIR,watch=off,$args" \
		-d plugin -D "$QLOG" 2>>"$T/stderr"
}
probe() { sed -n 's/^modhost: stpi_probe: probe: //p' "$QLOG"; }
stat() { probe | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | tail -1; }
# calls: how many times each of the four test functions started
calls() { for f in add3 scan blocks area; do
	probe | awk -v f=$f '$1 == "fn-start" && $2 == f' | wc -l; done | paste -sd' '; }
sym() { nm "$1" | awk -v s="$2" '$3 == s { print "0x" $1 }'; }

for ARCH in i386 x86_64; do
	if [ $ARCH = i386 ]; then
		KERNEL=$S/sguest-O0.elf DBG=$KERNEL boot=0
	else
		KERNEL=$S/sguest64-O0.elf DBG=$KERNEL.64 boot=$(sym "$DBG" pml4)
	fi
	alt=$(sym "$DBG" g_alt_root)

	run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG"
	all=$(stat before)
	is "$(calls)" "3 3 3 3" "$ARCH: no asid=: every round's events"

	run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG" "dwarfp.asid=$alt"
	is "$(calls)" "1 1 1 1" "$ARCH: asid=$alt (g_alt_root): the functions started in round 1 only"
	alt_n=$(stat before)
	[ "${alt_n:-0}" -gt 20 ] && [ "$(stat bad)" = 0 ] && [ "$(stat zero)" = 0 ]
	ok $? "$ARCH: asid=$alt: line events ($alt_n) pair up"

	run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG" "dwarfp.asid=$boot"
	is "$(calls)" "2 2 2 2" "$ARCH: asid=$boot (boot cr3): rounds 0 and 2 only"
	boot_n=$(stat before)
	pre_n=0
	if [ $ARCH = x86_64 ]; then
		run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG" dwarfp.asid=0
		pre_n=$(stat before)
		[ "$pre_n" -gt 0 ] && [ "$(stat fn)" = 1 ]
		ok $? "$ARCH: asid=0: lm64-crt0's lines before paging is on ($pre_n), _start the only function"
	fi
	# Each change into or out of the filtered space may cost a before
	# event at the seam (the line the guest resumes on): allow two.
	d=$((all - alt_n - boot_n - pre_n))
	[ "$(stat bad)" = 0 ] && [ $d -ge -2 ] && [ $d -le 2 ]
	ok $? "$ARCH: the address spaces' line events add up to the unfiltered run's ($pre_n + $boot_n + $alt_n vs $all)"

	run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$DBG" dwarfp.asid=0x3ff000
	is "$(stat before)/$(stat fn)" "0/0" "$ARCH: asid= of an address space the guest never uses: no events"
done
