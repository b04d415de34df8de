#!/bin/bash
# callstack_instr against gdb-multiarch as the oracle, on the Arm
# call-graph guests (TARGET aarch64, arm or thumb; tests/integration/arm/
# runs each), as callstack-gdb.t does on x86.  The guest runs under QEMU's
# gdbstub; gdb breaks at the entry of chosen functions and prints its
# backtrace; at the same points (their on_call) the cs_cons consumer prints
# get_functions() and get_callers().  Stop by stop, the functions (by
# name) and the return addresses must be gdb's, out to kmain.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/callstack-gdb.sh"
[ "$TARGET" = x86_64 ] && skip_all "Arm only (callstack-gdb.t covers x86)"
ELF=$(guest_elf callgraph)
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$ELF"
GDB=gdb-multiarch
command -v "$GDB" >/dev/null || skip_all "$GDB is not installed (tools/install-deps)"
"$GDB" -batch -ex 'python print(1)' >/dev/null 2>&1 || skip_all "$GDB has no Python"
plan 5

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
# (a Thumb function's symbol is its address + 1)
nm "$ELF" | while read -r a t n; do
	[[ $t == [Tt] ]] && printf '0x%x %s\n' $((0x$a & ~1)) "$n"
done >"$T/syms"
addr() { awk -v n="$1" '$2 == n { print $1 }' "$T/syms"; }

# cg_leaf is reached from cg_direct, the recursion's bottom, both page-
# boundary calls and cg_entry_call; cg_op_mul through the table;
# cg_lj_deep just before the longjmp; cg_stdcall before its return
# through another register (A64) or ldm (ARM, Thumb).
PROBES="cg_leaf cg_op_mul cg_lj_deep cg_stdcall"
probe=$(for f in $PROBES; do addr "$f"; done | paste -sd:)

GDBSOCK=$T/gdb.sock
"$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none -no-reboot \
	-serial "file:$SERIAL" -kernel "$ELF" -S -gdb "unix:$GDBSOCK,server=on,wait=off" \
	-plugin "$MODHOST_SO,dir=$MODDIR,watch=off,log=$EVENTS,load=cs_cons,cs_cons.probe=$probe,cs_cons.probes=$T/probes" \
	-d plugin -D "$QLOG" 2>>"$T/stderr" &
QEMU_PID=$!
wait_for "gdb socket" test -S "$GDBSOCK" || bail "QEMU did not start: $(cat "$T/stderr")"

gdb_stops "$GDB" "$ELF" "$GDBSOCK" "$T/gdb" $(for f in $PROBES; do addr "$f"; done)
wait "$QEMU_PID"
rc=$?
QEMU_PID=
is "$rc" "$(guest_status 0)" "$TARGET: the guest ran to its end under $GDB (exit status 0)"

consumer_stops "$T/syms" "$T/probes" >"$T/ours"

n=$(wc -l <"$T/gdb")
echo "# gdb stopped $n times; first: $(head -1 "$T/gdb")"
is "$n" 25 "$TARGET: $GDB stopped at every probed entry (18 cg_leaf, 1 cg_op_mul, 3 cg_lj_deep, 3 cg_stdcall)"
is "$(wc -l <"$T/ours")" "$n" "$TARGET: callstack_instr's on_call came at each of those points"
# gdb-multiarch cannot unwind out of a callee of cg_straddle (A64, ARM
# state): its return address lives in a call-clobbered register (x9, ip),
# which gdb takes as lost.  Where gdb's backtrace stops short of kmain,
# ours is compared up to the same depth (the whole of it is in the folded
# stacks of callstack-arm.t).
paste -d'\n' "$T/gdb" "$T/ours" | awk '
	NR % 2 { g = $0; next }
	{ split(g, gh, " [|] ?"); k = split(gh[1], gn, " ")
	  if (gn[k] == "kmain") { print; next }
	  split($0, oh, " [|] ?"); split(oh[1], on, " "); m = split(oh[2], oc, " ")
	  s = on[1]; for (i = 2; i <= k; i++) s = s " " on[i]
	  c = ""; for (i = 1; i < k && i <= m; i++) c = c (i > 1 ? " " : "") oc[i]
	  print s " | " c }' >"$T/ours.cut"
short=$(awk -F' [|]' '$1 !~ / kmain$/' "$T/gdb" | wc -l)
echo "# $short of gdb's backtraces stop short of kmain"
d=$(diff "$T/gdb" "$T/ours.cut")
is "$d" "" "$TARGET: get_functions() and get_callers() equal $GDB's backtrace at every stop"
grep -q 'cg_leaf cg_rec cg_rec cg_rec cg_rec cg_round kmain' "$T/ours"
ok $? "$TARGET: including the bottom of the recursion"
