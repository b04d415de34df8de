#!/bin/bash
# stpi on the kernel of a live Linux boot (Debian's cloud kernel, KASLR on,
# -smp 2): dwarfp is given the -dbg package's vmlinux (make linux-dbg; the
# test skips without it) with no bias, finds the kernel's KASLR slide from
# the calls the kernel makes, and raises line and function-start events
# in the functions named by function= (a few of the boot's: the whole
# kernel's lines make the boot about six times dearer).  kstpi_probe
# writes each distinct kernel pc once.  Checked:
# - the slide equals the one the guest shows (its /proc/kallsyms _text
#   less System.map's);
# - every line event, stpi_get_pc_source_info() there and every function
#   start agree with addr2line -e vmlinux at pc - slide;
# - functions without a DWARF subprogram (assembly: llvm-dwarfdump
#   --lookup finds no DW_TAG_subprogram there) are named from the
#   vmlinux's symbol table, as addr2line names them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
need "$BUILD/modhost.so" "$TMOD/kstpi_probe.so"
command -v addr2line >/dev/null || skip_all "no addr2line (binutils)"
# tools/install-deps installs llvm-14, which names it llvm-dwarfdump-14.
DWDUMP=$(command -v llvm-dwarfdump || command -v llvm-dwarfdump-14) ||
	skip_all "no llvm-dwarfdump (llvm-14, tools/install-deps)"
need_linux_guest
need_linux_dbg
plan 9
export LC_ALL=C	# sort and join agree

use_modules stpi dwarfp
cp "$TMOD/kstpi_probe.so" "$MODDIR/"
PROBE=$T/probe.txt
VMLINUX=$LXDBG/vmlinux
# C functions with hundreds of lines (inlined code in them included), and
# two assembly ones with no DWARF subprogram: ret_from_fork (each new
# task) and entry_SYSCALL_64 (each system call).
FUNCS="copy_process kernel_clone load_elf_binary path_openat link_path_walk* ret_from_fork entry_SYSCALL_64"
fargs=
for f in $FUNCS; do
	fargs="$fargs,dwarfp.function=$f"
done

# Indexing the vmlinux takes longer than a hook may by default.
linux_boot run=bin/busybox,grep,-w,_text,/proc/kallsyms \
	"watch=off,hook_timeout=0,load=dwarfp:kstpi_probe,dwarfp.binary=$VMLINUX$fargs,kstpi_probe.out=$PROBE"
ok $? "Linux boots with dwarfp (the vmlinux, no bias) and kstpi_probe and powers off"

msg=$(events '.event=="message" and .module=="dwarfp" and (.text|test("KASLR slide 0x"))' | jq -r .text)
echo "# $msg"
slide=$(sed -n 's/.*KASLR slide \(0x[0-9a-f]*\) .*/\1/p' <<<"$msg")
gtext=$(tr -d '\r' < "$SERIAL" | awk '$2 == "T" && $3 == "_text" { print $1 }')
mtext=$(awk '$3 == "_text" { print $1 }' "$LXDBG/System.map")
echo "# the guest's _text: ${gtext:-none}, System.map's: $mtext"
[ -n "$slide" ] && [ -n "$gtext" ] && [ $((slide)) -eq $((0x$gtext - 0x$mtext)) ]
ok $? "the slide dwarfp found (${slide:-none}) is the guest's _text less System.map's"
: "${slide:=0}"

# addr2line -f -i at the probe's pcs of KIND, less the slide: a line
# "PC INNERMOST OUTERMOST FILE:LINE" each (the location addr2line gives
# first, that of the innermost function).
a2l() {
	awk -v k="$1" '$1 == k { print $2 }' "$PROBE" > "$T/$1.pcs"
	# -a starts each address's answer with the address: -i gives one
	# function and location for each inlined level.
	while read -r pc; do
		printf '0x%x\n' $((0x$pc - slide))
	done < "$T/$1.pcs" | addr2line -a -f -i -e "$VMLINUX" |
		sed 's/ (discriminator [0-9]*)//' |
		awk -v pcs="$T/$1.pcs" '
			function flush() { if (n) print pc, first, last, firstloc; n = 0 }
			/^0x[0-9a-f]+$/ { flush(); getline pc < pcs; next }
			{ fn = $0; getline loc
			  if (!n++) { first = fn; firstloc = loc }
			  last = fn }
			END { flush() }' > "$T/$1.a2l"
}

# The decoded line table (objdump) at those pcs: "PC BASENAME:LINE LAST"
# for the address's last statement row, LAST 1 if that is the address's
# last row of all (what addr2line reports), 0 if a row that is not a
# statement follows (addr2line then reports that one; the line events
# report the statement, where gdb stops).
rows() {
	while read -r pc; do
		printf '0x%x %s\n' $((0x$pc - slide)) "$pc"
	done < "$T/$1.pcs" > "$T/$1.want-addrs"
	objdump --dwarf=decodedline "$VMLINUX" 2>/dev/null |
		awk -v w="$T/$1.want-addrs" '
			BEGIN { while ((getline l < w) > 0) { split(l, f, " "); pc[f[1]] = f[2] } }
			$3 in pc { a = $3; last[a] = ($NF == "x")
				   if ($NF == "x") stmt[a] = $1 ":" $2 }
			END { for (a in stmt) print pc[a], stmt[a], last[a] }' > "$T/$1.rows"
}

a2l line
rows line
n=$(wc -l < "$T/line.pcs")
# Line events: FILE LINE against the last statement row (base names, as
# objdump prints them), and against addr2line where that row is the last.
awk '$1 == "line" { n = split($3, p, "/"); print $2, p[n] ":" $4 }' "$PROBE" | sort > "$T/line.got"
awk '{ print $1, $2 }' "$T/line.rows" | sort > "$T/line.stmt"
diff "$T/line.stmt" "$T/line.got" > "$T/line.diff"
[ "$n" -ge 200 ] && [ "$(wc -l < "$T/line.stmt")" -eq "$n" ] && [ ! -s "$T/line.diff" ]
ok $? "line events at $n distinct kernel pcs: the line table's statement row at pc - slide"
head -5 "$T/line.diff" | sed 's/^/  /' | diag
awk '$1 == "line" { print $2, $3 ":" $4 }' "$PROBE" | sort > "$T/line.full"
awk '$3 == 1 { print $1 }' "$T/line.rows" | sort > "$T/line.last"
awk '$4 != "??:0" { print $1, $4 }' "$T/line.a2l" | sort | join - "$T/line.last" > "$T/line.want"
join "$T/line.want" "$T/line.full" | awk '$2 != $3' > "$T/line.diff2"
m=$(wc -l < "$T/line.want")
[ "$m" -ge 100 ] && [ ! -s "$T/line.diff2" ]
ok $? "... file:line equals addr2line's at all $m of them whose statement row is the address's last row"
head -5 "$T/line.diff2" | sed 's/^/  /' | diag

# stpi_get_pc_source_info() at the same pcs: FUNCTION FILE:LINE.
awk '$1 == "info" { print $2, $3, $4 ":" $5 }' "$PROBE" | sort > "$T/info.got"
awk '$4 != "??:0" { print $1, $2, $4 }' "$T/line.a2l" | sort > "$T/info.want"
diff "$T/info.want" <(join -o 0,2.2,2.3 "$T/info.want" "$T/info.got") > "$T/info.diff"
[ "$(wc -l < "$T/info.want")" -ge 200 ] && [ ! -s "$T/info.diff" ]
ok $? "stpi_get_pc_source_info() there equals addr2line -f ($(wc -l < "$T/info.want") pcs)"
head -5 "$T/info.diff" | sed 's/^/  /' | diag

# Every line event is in a function function= names: addr2line -i's outermost.
awk '{ print $3 }' "$T/line.a2l" | sort -u > "$T/outer"
bad=$(while read -r f; do
	hit=
	for g in $FUNCS; do
		# shellcheck disable=SC2254
		case $f in $g) hit=1 ;; esac
	done
	[ -n "$hit" ] || echo "$f"
done < "$T/outer")
[ -z "$bad" ] && [ -s "$T/outer" ]
ok $? "line events only in the functions given by function= ($(tr '\n' ' ' < "$T/outer"))${bad:+; not: $bad}"

# Function starts: FUNCTION against addr2line -i's outermost function,
# FILE:LINE against the statement row there, as for line events.
a2l fn
rows fn
awk '$1 == "fn" { n = split($4, p, "/"); print $2, $3, p[n] ":" $5 }' "$PROBE" | sort > "$T/fn.got"
join <(awk '{ print $1, $3 }' "$T/fn.a2l" | sort) <(awk '{ print $1, $2 }' "$T/fn.rows" | sort) > "$T/fn.want"
diff "$T/fn.want" "$T/fn.got" > "$T/fn.diff"
nfn=$(wc -l < "$T/fn.got")
[ "$nfn" -ge 5 ] && [ ! -s "$T/fn.diff" ]
ok $? "function starts ($nfn: $(awk '{ print $2 }' "$T/fn.got" | tr '\n' ' ')) are addr2line -f -i's function at pc - slide, on its statement row"
head -5 "$T/fn.diff" | sed 's/^/  /' | diag

# Which of them have no DWARF subprogram at all (llvm-dwarfdump --lookup
# shows the innermost function DIE, an inlined instance maybe).
nodw=$(while read -r pc fn _; do
	"$DWDUMP" --lookup="$(printf '0x%x' $((0x$pc - slide)))" "$VMLINUX" 2>/dev/null |
		grep -qE "DW_TAG_(subprogram|inlined_subroutine)" || echo "$fn"
done < "$T/fn.got" | sort | tr '\n' ' ')
echo "# without a DWARF subprogram: ${nodw:-none}"
is "$nodw" "entry_SYSCALL_64 ret_from_fork " \
	"the assembly functions, with no DWARF subprogram, start and are named from the symbol table"
grep -q ' ret_from_fork ' "$T/info.got"
ok $? "... and stpi_get_pc_source_info() names ret_from_fork in its lines"
