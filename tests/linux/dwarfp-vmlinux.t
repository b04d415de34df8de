#!/bin/bash
# dwarfp's index of the Linux guest kernel's vmlinux (Debian's -dbg
# package, fetched on first use; the test skips when it cannot be
# fetched), without QEMU:
# - the debug sections are read where the file is mapped, not copied
#   with their relocations applied again: the index's process holds less
#   anonymous memory than .debug_info and .rela.debug_info alone (libdwarf's
#   own reader copied both: over 1 GB with the index);
# - on a sample of every function's address, where addr2line and
#   llvm-symbolizer give the same function and file:line (and
#   discriminator), dwarfp gives the same file:line, and the same function,
#   from the ELF symbol table where the kernel has no DWARF subprogram
#   with an address there (assembly, generated stubs: both tools fall
#   back to the symbol table, and so does dwarfp).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
Q=$BUILD/tests/stpi/dwarfp-query
V=$LXDBG/vmlinux
need "$Q"
# The guest's packages name the kernel whose debug package is fetched.
need_linux_guest
need_linux_dbg
command -v addr2line >/dev/null || skip_all "no addr2line"
LLVM=$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -1)
[ -n "$LLVM" ] || skip_all "no llvm-symbolizer (tools/install-deps installs llvm-14)"
plan 4

awk '$2 ~ /^[TtWw]$/ { print "0x" $1 }' "$LXDBG/System.map" | sort -u >"$T/addrs"
awk 'NR % 500 == 0' "$T/addrs" >"$T/sample"

"$Q" bench "$V" "$T/sample" >"$T/bench" 2>"$T/err"
ok $? "dwarfp indexes the vmlinux"
anon=$(awk '$1 == "index_anon_kb" { print $2 }' "$T/bench")
# Their sizes (readelf -SW: "[Nr] Name Type Address Off Size ...").
secs=0
while read -r h; do secs=$((secs + 16#$h / 1024)); done < <(readelf -SW "$V" |
	sed 's/^ *\[ *[0-9]*\]//' |
	awk '$1 == ".debug_info" || $1 == ".rela.debug_info" { print $5 }')
echo "# anonymous memory with the index: ${anon:-?} kB; .debug_info and its relocations: $secs kB"
[ -n "$anon" ] && [ "$anon" -gt 0 ] && [ "$anon" -lt "$secs" ]
ok $? "the debug sections are read in place (index process ${anon:-?} kB < $secs kB)"

pairs() { paste -d'|' - - <"$1" | sed 's|//*|/|g'; }
"$Q" lookup "$V" <"$T/sample" >"$T/dw.out"
addr2line -f -e "$V" <"$T/sample" >"$T/a2l.out"
"$LLVM" --obj="$V" --output-style=GNU --no-inlines -f <"$T/sample" >"$T/llvm.out"
paste -d'#' <(pairs "$T/a2l.out") <(pairs "$T/llvm.out") <(pairs "$T/dw.out") >"$T/all"
read -r agree same lines < <(awk -F'#' '
	$1 != $2 { next }
	{ agree++; split($1, t, "|"); split($3, d, "|") }
	$3 == $1 { same++ }
	t[2] == d[2] { lines++ }
	END { print agree + 0, same + 0, lines + 0 }' "$T/all")
echo "# of $(wc -l <"$T/sample") addresses the tools agree on $agree; dwarfp the same on $same, the same file:line on $lines"
awk -F'#' '$1 == $2 && $3 != $1 { print "# differs: tools " $1 ", dwarfp " $3 }' "$T/all" | head -5
[ "$agree" -ge 50 ] && [ "$lines" -eq "$agree" ]
ok $? "where addr2line and llvm-symbolizer agree, dwarfp gives the same file:line ($lines of $agree)"
[ "$same" -eq "$agree" ]
ok $? "and the same function, from the symbol table where DWARF has none ($same of $agree)"
