#!/bin/bash
# callstack_instr's fast paths give the general path's results.  With one
# vCPU, asid stacks, no outputs and no handler, near calls and rets take
# cut-down callbacks (one per mode); folded= turns them off.  Under
# -icount the guest runs the same instructions both times, so the exit
# counts (calls, rets matched, frames popped, rets that matched no frame,
# deepest stack) must be equal, on guests that make every kind of near
# call and ret: callgraph.elf (recursion, longjmp, get-PC, a tail call,
# "ret $8", and SeaBIOS's rets used as jumps before it), csthunk.elf in
# 32- and 64-bit code (a retpoline thunk, a callee-pops ret, indirect
# calls) and csrec.elf (deep recursion).
#
# A module that handled rets without looking at the slot each one read
# (counting them, say, and popping that many frames at the next call)
# would pop live frames at a ret used as a jump and too few after a
# longjmp: its counts would differ here.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" \
	"$BUILD/tests/guest/callgraph.elf" "$BUILD/tests/guest/csthunk.elf" \
	"$BUILD/tests/guest/lm64-csthunk.elf" "$BUILD/tests/guest/csrec.elf"
plan 8

cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"

# counts GUEST [PLUGIN_ARG...]: run GUEST to its end under -icount; print
# callstack_instr's exit counts
counts() {
	export GUEST=$1
	shift
	qemu_start watch=off load=callstack_instr "$@" -- \
		-icount shift=0,sleep=off -append fib=20
	wait "$QEMU_PID"
	echo "rc=$?"
	QEMU_PID=
	events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
		jq -r .text
}

for g in callgraph csthunk lm64-csthunk csrec; do
	fast=$(counts "$g" | paste -sd' ')
	general=$(counts "$g" "callstack_instr.folded=$T/folded" | paste -sd' ')
	echo "# $g fast:    $fast"
	echo "# $g general: $general"
	[[ $fast =~ ^rc=1\ calls=[1-9][0-9]*\ rets=[1-9] ]]
	ok $? "$g: ran to its end, calls and rets counted"
	is "$fast" "$general" "$g: the fast paths count what the general path counts"
done
