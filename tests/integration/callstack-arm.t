#!/bin/bash
# callstack_instr on the Arm call-graph guests (TARGET aarch64, arm or
# thumb; tests/integration/arm/ runs each): the same program as
# callstack.t's, where a call puts the return address in the link
# register and pushes nothing.  Every function's on_call/on_ret count and
# the folded stacks are exact, as on x86: a tail call (b), leaf functions
# that never store lr, returns through another register (ret x9, bx ip),
# pop {..., pc} and ldm sp!, {..., pc}, a call whose bl ends a page, a
# get-PC call, a longjmp, an exception (svc) whose handler makes calls,
# in ARM state a "mov lr, pc; b" call, and on arm conditional calls and
# returns (in IT blocks in Thumb state).
. "$(dirname "$0")/../lib.sh"
[ "$TARGET" = x86_64 ] && skip_all "Arm only (callstack.t covers x86)"
ELF=$(guest_elf callgraph)
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$ELF" \
	"$(guest_elf csrec)"
plan 12

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
export GUEST=callgraph

# name of each function symbol, by address (a Thumb symbol is address + 1)
nm "$ELF" | while read -r a t n; do
	[[ $t == [Tt] ]] && printf '0x%x %s\n' $((0x$a & ~1)) "$n"
done >"$T/syms"
named() {	# COUNTS: "name calls rets" for cg_* and kmain
	awk 'NR == FNR { n[$1] = $2; next }
	     ($1 in n) && n[$1] ~ /^(cg_|kmain$)/ { print n[$1], $2, $3 }' \
		"$T/syms" "$1" | LC_ALL=C sort
}
run_guest() {
	qemu_start watch=off load=cs_cons "cs_cons.out=$T/counts" "$@"
	wait "$QEMU_PID"
	GUEST_RC=$?
	QEMU_PID=
}

# As x86's (callstack.t), each C call a call instruction, and cg_svc: its
# svc's handler (crt0's vector, then arm_trap(), arm_svc()) makes calls in
# the middle of the chain; they stack on cg_svc and return before it does.
. "$(dirname "$0")/callgraph-expected.sh"
EXPECTED_COUNTS=$(LC_ALL=C sort <<<"$EXPECTED_COUNTS
cg_in_svc 3 3
cg_svc 3 3")
EXPECTED_FOLDED=$(LC_ALL=C sort <<<"$EXPECTED_FOLDED
kmain;cg_round;cg_svc 3
kmain;cg_round;cg_svc;arm_trap 3
kmain;cg_round;cg_svc;arm_trap;arm_svc 3
kmain;cg_round;cg_svc;arm_trap;arm_svc;cg_in_svc 3")

# arm (ARM and Thumb): cg_cond's conditional calls (one not taken) and
# the returns by bxne (not taken), ldr pc, [sp], #4 and mov pc, lr.
if [ "$TARGET" != aarch64 ]; then
	EXPECTED_COUNTS=$(LC_ALL=C sort <<<"$EXPECTED_COUNTS
cg_cond 3 3
cg_cond_ret 3 3
cg_movpc 3 3")
	EXPECTED_FOLDED=$(LC_ALL=C sort <<<"$EXPECTED_FOLDED
kmain;cg_round;cg_cond 3
kmain;cg_round;cg_cond;cg_cond_ret 3
kmain;cg_round;cg_cond;cg_cond_ret;cg_movpc 3")
fi

# -- asid stacks (TTBR0), with symbols, folded output and trace ---------------
run_guest "callstack_instr.symbols=$ELF" "callstack_instr.folded=$T/folded" \
	"callstack_instr.trace=$T/trace"
is "$GUEST_RC" "$(guest_status 0)" "$TARGET: the guest ran to its end (exit status 0)"
is "$(named "$T/counts")" "$EXPECTED_COUNTS" \
	"$TARGET: on_call/on_ret counts per function are exact (asid stacks)"
is "$(grep '^top_mismatch' "$T/counts")" "top_mismatch 0" \
	"$TARGET: every handler found its own frame on top of get_functions()"
# Frames under kmain are libguest-arm's start-up: cut them off.
is "$(grep ';cg_round' "$T/folded" | sed 's/^.*;kmain;/kmain;/')" "$EXPECTED_FOLDED" \
	"$TARGET: folded stacks are exact"
is "$(jq -r 'select(.name=="cg_leaf") | .event' "$T/trace" | sort | uniq -c |
	awk '{print $2 $1}' | paste -sd' ')" "call18 ret18" \
	"$TARGET: the trace has cg_leaf's 18 calls and 18 returns"
lj=$(jq -c 'select(.event=="ret" and (.name|test("^cg_l[oj]")))' "$T/trace" | head -4 |
	jq -r '"\(.name):\(.depth)"' | paste -sd' ')
d=$(jq -r 'select(.event=="call" and .name=="cg_lj_try") | .depth' "$T/trace" | head -1)
is "$lj" "cg_longjmp:$((d + 3)) cg_lj_deep:$((d + 2)) cg_lj_mid:$((d + 1)) cg_lj_try:$d" \
	"$TARGET: after the longjmp, cg_lj_try's return pops 4 frames, one on_ret each, innermost first"

# -- heuristic stacks: the stack pointer is read at calls and returns ---------
run_guest callstack_instr.stack_type=heuristic "callstack_instr.symbols=$ELF" \
	"callstack_instr.folded=$T/folded2"
is "$(named "$T/counts")" "$EXPECTED_COUNTS" \
	"$TARGET: on_call/on_ret counts per function are exact (heuristic stacks)"
is "$(grep ';cg_round' "$T/folded2" | sed 's/^.*;kmain;/kmain;/')" "$EXPECTED_FOLDED" \
	"$TARGET: heuristic stacks: the same folded stacks"

# -- the fast path (asid stacks, no outputs, no handler) ------------------------
# A return that lands on the top frame's return address is popped without
# the stack lookup; its counts equal the general path's (folded= takes
# that), as callstack-fastpath.t checks on x86.
counts() {	# counts GUEST [PLUGIN_ARG...]: callstack_instr's exit counts
	export GUEST=$1
	shift
	: >"$EVENTS"
	qemu_start watch=off load=callstack_instr "$@" -- -icount shift=0,sleep=off \
		-append fib=20
	wait "$QEMU_PID"
	echo "rc=$?"
	QEMU_PID=
	events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
		jq -r .text
}
for g in callgraph csrec; do
	fast=$(counts "$g" | paste -sd' ')
	general=$(counts "$g" "callstack_instr.folded=$T/folded3" | paste -sd' ')
	echo "# $g fast:    $fast"
	echo "# $g general: $general"
	[[ $fast =~ ^rc=$(guest_status 0)\ calls=[1-9][0-9]*\ rets=[1-9] ]]
	ok $? "$TARGET $g: ran to its end, calls and returns counted"
	is "$fast" "$general" "$TARGET $g: the fast path counts what the general path counts"
done
