#!/bin/bash
# dwarfp's index against binutils and gdb, without QEMU: for every
# line-table address of the test guest built at -O0 and at -O2, for i386
# and for x86_64, the (function, file:line) answer equals `addr2line -f -e`;
# every function's post-prologue address equals where gdb's "break FUNC"
# stops.
. "$(dirname "$0")/../lib.sh"
Q=$BUILD/tests/stpi/dwarfp-query
need "$Q" "$BUILD/tests/stpi/sguest-O0.elf" "$BUILD/tests/stpi/sguest-O2.elf" \
	"$BUILD/tests/stpi/sguest64-O0.elf.64" "$BUILD/tests/stpi/sguest64-O2.elf.64"
command -v addr2line >/dev/null || skip_all "no addr2line"
command -v gdb >/dev/null || skip_all "no gdb"
plan 16

for o in O0 O2 x86_64-O0 x86_64-O2; do
	E=$BUILD/tests/stpi/sguest-$o.elf
	case $o in x86_64-*) E=$BUILD/tests/stpi/sguest64-${o#x86_64-}.elf.64;; esac
	"$Q" rows "$E" > "$T/addrs"
	n=$(wc -l < "$T/addrs")
	[ "$n" -ge 150 ]
	ok $? "$o: the index has the line table's addresses ($n)"
	"$Q" lookup "$E" < "$T/addrs" > "$T/ours"
	addr2line -f -e "$E" < "$T/addrs" > "$T/ref"
	diff "$T/ref" "$T/ours" > "$T/diff"
	ok $? "$o: all $n pc -> (function, file:line) answers equal addr2line's"
	head -5 "$T/diff" | diag
	grep -c '^??$' "$T/ours" | grep -qx 0
	ok $? "$o: every line-table address has a function"
	bad=0 m=0
	while read -r name lo pp fl; do
		[ "$name" = _start ] && continue
		g=$(gdb -nx -batch -ex "break $name" "$E" 2>/dev/null |
			sed -n 's/^Breakpoint 1 at 0x\([0-9a-f]*\).*/\1/p')
		m=$((m + 1))
		[ "$g" = "$pp" ] || { echo "# $name: dwarfp $pp, gdb $g"; bad=1; }
	done < <("$Q" funcs "$E")
	[ $bad -eq 0 ] && [ $m -ge 8 ]
	ok $? "$o: post-prologue addresses of $m functions equal gdb's 'break FUNC'"
done
