#!/bin/bash
# dwarfp's index against the cross binutils and gdb-multiarch, without
# QEMU, on the Arm builds of the stpi test guest (aarch64; arm in ARM and
# in Thumb state; each at -O0 and -O2), as stpi-addr2line.t does for x86:
# for every line-table address the (function, file:line) answer equals
# `addr2line -f -e`; every function's post-prologue address equals where
# gdb-multiarch's "break FUNC" stops.
. "$(dirname "$0")/../lib.sh"
Q=$BUILD/tests/stpi/dwarfp-query
S=$BUILD/tests/stpi
need "$Q" "$S/a64-sguest-O0.elf" "$S/a64-sguest-O2.elf" "$S/a32-sguest-O0.elf" \
	"$S/a32-sguest-O2.elf" "$S/t32-sguest-O0.elf" "$S/t32-sguest-O2.elf"
for t in aarch64-linux-gnu-addr2line arm-linux-gnueabihf-addr2line gdb-multiarch; do
	command -v "$t" >/dev/null || skip_all "no $t (tools/install-deps)"
done
plan 24

for o in a64-O0 a64-O2 a32-O0 a32-O2 t32-O0 t32-O2; do
	E=$S/${o%-*}-sguest-${o#*-}.elf
	case $o in a64-*) A2L=aarch64-linux-gnu-addr2line;; *) A2L=arm-linux-gnueabihf-addr2line;; esac
	"$Q" rows "$E" > "$T/addrs"
	n=$(wc -l < "$T/addrs")
	[ "$n" -ge 100 ]
	ok $? "$o: the index has the line table's addresses ($n)"
	"$Q" lookup "$E" < "$T/addrs" > "$T/ours"
	# addr2line prints line 0 (code of no line: clang marks some) as "?".
	"$A2L" -f -e "$E" < "$T/addrs" | sed -e 's/:?$/:0/' > "$T/ref"
	diff "$T/ref" "$T/ours" > "$T/diff"
	ok $? "$o: all $n pc -> (function, file:line) answers equal $A2L's"
	head -5 "$T/diff" | diag
	grep -c '^??$' "$T/ours" | grep -qx 0
	ok $? "$o: every line-table address has a function"
	bad=0 m=0
	while read -r name lo pp fl; do
		g=$(gdb-multiarch -nx -batch -ex "break $name" "$E" 2>/dev/null |
			sed -n 's/^Breakpoint 1 at 0x\([0-9a-f]*\).*/\1/p')
		m=$((m + 1))
		[ "$g" = "$pp" ] || { echo "# $name: dwarfp $pp, gdb $g"; bad=1; }
	done < <("$Q" funcs "$E")
	[ $bad -eq 0 ] && [ $m -ge 8 ]
	ok $? "$o: post-prologue addresses of $m functions equal gdb-multiarch's 'break FUNC'"
done
