#!/bin/bash
# dwarfp on a user program: tests/linux/upprog.c, position-independent
# (static-pie: the initramfs has no dynamic loader) with DWARF, built on
# the host at -O0 and -O2 and shipped in the initramfs (tools/linux-guest).
# One boot: /upprog-O0 starts a second /upprog-O0 and an /upprog-O2, so two
# processes of the same program run at once at different bases.  dwarfp is
# given both files with no bias and places them through osi where each
# process maps them.  Each process tells its pid and base (its ELF header,
# __ehdr_start) by hypercall and prints them; up_probe writes down stpi's
# line events, function starts, stpi_get_pc_source_info() at each line
# event, and live variables.  All must agree with the file at pc - base
# (addr2line, and objdump's decoded line table for the rows dwarfp raises
# events at), and the variables must have the values the program prints.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/up_probe.so"
command -v addr2line >/dev/null && command -v objdump >/dev/null ||
	skip_all "no addr2line or objdump (binutils)"
need_linux_guest
plan 9

use_modules osi osi_linux stpi dwarfp
cp "$TMOD/up_probe.so" "$MODDIR/"
PROBE=$T/probe.txt

linux_boot run=upprog-O0 "load=osi_linux:dwarfp:up_probe,dwarfp.binary=$LX/upprog-O0,dwarfp.binary=$LX/upprog-O2,up_probe.out=$PROBE"
ok $? "Linux boots with osi_linux, dwarfp (upprog-O0, upprog-O2) and up_probe, runs upprog and powers off"
tr -d '\r' < "$SERIAL" | grep '^up ' > "$T/guest.txt"

# The processes, as the guest saw them: PID LEVEL BASE.
awk '$2 == "hello" { print $3, $4, $5 }' "$T/guest.txt" | sort > "$T/procs.guest"
# ... and as up_probe's hypercall handler did, with their address spaces.
awk '$1 == "hello" { print $3, $4, $5 }' "$PROBE" | sort > "$T/procs.probe"
is "$(awk '{ print $2 }' "$T/procs.guest" | sort | tr '\n' ' ')/$(awk '{ print $3 }' "$T/procs.guest" | sort -u | wc -l)" \
	"0 0 2 /3" "three processes: two of upprog-O0 and one of upprog-O2, at three bases"
cmp -s "$T/procs.guest" "$T/procs.probe"
ok $? "each process's pid and base reached the probe"

# The statement rows of each file's line table: LINE@OFFSET.  (File names
# are left out: for the rows of guest.h's inline functions at -O0, objdump
# names guest.h where addr2line and dwarfp both name upprog.c.)
for l in 0 2; do
	objdump --dwarf=decodedline "$LX/upprog-O$l" |
		awk '$3 ~ /^0x/ && $NF == "x" { print $2 "@" $3 }' |
		sort -u > "$T/stmts.$l"
done

# check KIND: every KIND event (line, fn, info) of the three processes
# against the file at pc - base: a line or fn event's line must be one of
# the statement rows there (where dwarfp raises them: the last of an
# address's statement rows, where gdb stops), its function addr2line -f's;
# an info (stpi_get_pc_source_info()) must equal addr2line -f.  Writes
# $T/KIND.diff, echoes the number of events checked.
check() {
	local kind=$1 asid pid level base total=0
	: > "$T/$kind.diff"
	while read -r asid pid level base; do
		awk -v a="$asid" -v k="$kind" '$1 == k && $2 == a' "$PROBE" > "$T/ev"
		[ -s "$T/ev" ] || continue
		while read -r _ _ pc _; do
			printf '0x%x\n' $((0x$pc - base))
		done < "$T/ev" > "$T/offs"
		addr2line -f -e "$LX/upprog-O$level" < "$T/offs" |
			paste - - | sed 's/ (discriminator [0-9]*)//' |
			awk -F'\t' '{ n = split($2, p, "/"); print $1, p[n] }' > "$T/a2l"
		case $kind in
		line)	# FILE LINE
			paste -d' ' "$T/offs" "$T/ev" |
				awk '{ print $6 "@" $1 }' > "$T/got"
			grep -vxF -f "$T/stmts.$level" "$T/got" | sed "s/^/$pid: not a statement row: /" \
				>> "$T/$kind.diff" ;;
		fn)	# FUNCTION FILE LINE
			paste -d' ' "$T/offs" "$T/ev" |
				awk '{ print $7 "@" $1 }' > "$T/got"
			grep -vxF -f "$T/stmts.$level" "$T/got" | sed "s/^/$pid: not a statement row: /" \
				>> "$T/$kind.diff"
			awk '{ print $1 }' "$T/a2l" > "$T/want"
			awk '{ print $4 }' "$T/ev" > "$T/got"
			diff "$T/want" "$T/got" | sed "s/^/$pid: /" >> "$T/$kind.diff" ;;
		info)	# FUNCTION FILE LINE
			awk '{ n = split($5, p, "/"); print $4, p[n] ":" $6 }' "$T/ev" > "$T/got"
			diff "$T/a2l" "$T/got" | sed "s/^/$pid: /" >> "$T/$kind.diff" ;;
		esac
		total=$((total + $(wc -l < "$T/ev")))
	done < <(awk '$1 == "hello" { print $2, $3, $4, $5 }' "$PROBE")
	echo $total
}

n=$(check line)
[ ! -s "$T/line.diff" ] && [ "$n" -gt 100 ]
ok $? "line events ($n) start statement rows of the file's line table at pc - base"
head -10 "$T/line.diff" | sed 's/^/  /' | diag

n=$(check info)
[ ! -s "$T/info.diff" ] && [ "$n" -gt 100 ]
ok $? "stpi_get_pc_source_info() at those pcs ($n) equals addr2line -f on the file at pc - base"
head -10 "$T/info.diff" | sed 's/^/  /' | diag

n=$(check fn)
[ ! -s "$T/fn.diff" ] && [ "$n" -gt 0 ]
ok $? "function starts ($n): addr2line -f names the function at pc - base, on a statement row"
head -10 "$T/fn.diff" | sed 's/^/  /' | diag

# Each process: main, up_work and four up_step.
is "$(for a in $(awk '$1 == "hello" { print $2 }' "$PROBE"); do
	awk -v a="$a" '$1 == "fn" && $2 == a && $4 ~ /^(main|up_work|up_step)$/ { print $4 }' "$PROBE" |
		sort | uniq -c | awk '{ printf "%s%d ", $2, $1 }'; echo; done | sort -u)" \
	"main1 up_step4 up_work1 " "each process started main, up_work and four up_step"

# The variables: the guest's "up var PID K name=value ..." lines against
# what the probe read where stpi said they live.
awk '$2 == "var" { for (i = 5; i <= NF; i++) { split($i, kv, "="); print $3, $4, kv[1], kv[2] } }' \
	"$T/guest.txt" | sort > "$T/vars.guest"
awk '$1 == "var" { print $2, $3, $4, $5 }' "$PROBE" | sort > "$T/vars.probe"
diff "$T/vars.guest" "$T/vars.probe" > "$T/vars.diff"
ok $? "live variables (k, acc, sq, twice, up_total; 4 calls in each process) have the values the program prints"
sed 's/^/  /' "$T/vars.diff" | head -10 | diag
is "$(wc -l < "$T/vars.guest")" 60 "... 60 of them"
