#!/bin/bash
# callstack_instr against gdb as the oracle.  callgraph.elf runs under
# QEMU's gdbstub; gdb breaks at the entry of chosen functions and prints
# its backtrace; at the same points (their on_call) the cs_cons consumer
# prints get_functions() and get_callers().  Stop by stop, the functions
# (by name) and the return addresses must be gdb's, from the innermost
# frame out to kmain.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/callstack-gdb.sh"
ELF=$BUILD/tests/guest/callgraph.elf
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$ELF"
command -v gdb >/dev/null || skip_all "gdb is not installed"
# gdb unwinds 32-bit code only against a 32-bit target description, so
# this test runs the i386 system emulator (same TCG, same plugin).
QEMU32=${QEMU32:-qemu-system-i386}
command -v "$QEMU32" >/dev/null || skip_all "$QEMU32 is not installed"
gdb -batch -ex 'python print(1)' >/dev/null 2>&1 || skip_all "gdb has no Python"
plan 6

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
nm "$ELF" | awk '$2 ~ /^[Tt]$/ { printf "0x%s %s\n", $1, $3 }' |
	sed 's/^0x0*/0x/' >"$T/syms"
addr() { awk -v n="$1" '$2 == n { print $1 }' "$T/syms"; }

# cg_leaf is reached from cg_direct, the recursion's bottom, both page-
# boundary calls and cg_entry_call; cg_op_mul through the table;
# cg_lj_deep just before the longjmp; cg_stdcall before its "ret $8".
PROBES="cg_leaf cg_op_mul cg_lj_deep cg_stdcall"
probe=$(for f in $PROBES; do addr "$f"; done | paste -sd:)

GDBSOCK=$T/gdb.sock
"$QEMU32" -M pc -m 64 -display none -monitor none -no-reboot \
	-serial "file:$SERIAL" -device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$ELF" -S -gdb "unix:$GDBSOCK,server=on,wait=off" \
	-plugin "$MODHOST_SO,dir=$MODDIR,watch=off,log=$EVENTS,load=cs_cons,cs_cons.probe=$probe,cs_cons.probes=$T/probes" \
	-d plugin -D "$QLOG" 2>>"$T/stderr" &
QEMU_PID=$!
wait_for "gdb socket" test -S "$GDBSOCK" || bail "QEMU did not start: $(cat "$T/stderr")"

gdb_stops gdb "$ELF" "$GDBSOCK" "$T/gdb" $(for f in $PROBES; do addr "$f"; done)
wait "$QEMU_PID"
rc=$?
QEMU_PID=
is "$rc" 1 "the guest ran to its end under gdb (exit status 0)"

consumer_stops "$T/syms" "$T/probes" >"$T/ours"

n=$(wc -l <"$T/gdb")
echo "# gdb stopped $n times; first: $(head -1 "$T/gdb")"
is "$n" 25 "gdb stopped at every probed entry (18 cg_leaf, 1 cg_op_mul, 3 cg_lj_deep, 3 cg_stdcall)"
is "$(wc -l <"$T/ours")" "$n" "callstack_instr's on_call came at each of those points"
d=$(diff "$T/gdb" "$T/ours")
is "$d" "" "get_functions() and get_callers() equal gdb's backtrace at every stop"
grep -q 'cg_leaf cg_rec cg_rec cg_rec cg_rec cg_round kmain' "$T/ours"
ok $? "including the bottom of the recursion"
p=$(grep '^P ' "$T/probes")
leaf=$(addr cg_leaf)
echo "# $p"
[[ $p == *"pc=$leaf "* && $p == *"sid=asid=0x0 kernel=1 kind=0"* ]]
ok $? "get_prog_point(): pc is the probed entry, asid 0 (no paging), kernel mode"
