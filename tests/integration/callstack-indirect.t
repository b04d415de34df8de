#!/bin/bash
# callstack_instr reads an indirect call's callee from the call's operand,
# before the call runs (tests/guest/csind.c, built for i386 and for
# x86_64 in long mode): through a register, through memory (base + index
# * scale + displacement, an absolute address, the stack pointer, the
# slot the call's own push overwrites), and on x86_64 rip-relative,
# through fs and gs, with a 32-bit address, and far calls through memory
# (m16:32, m16:64) whose callees return with lret, one from under a get-PC
# frame (found by the stack pointer its lret leaves).  In long mode no block
# carries a per-block callback, so each frame must be complete at its
# call: the folded stacks name every callee, with asid and heuristic
# stacks, and each callee's on_call/on_ret counts are exact.  A module
# that read the operand after the push, ignored a segment base or took
# rip-relative displacements as absolute would name ci_wrong, a hex
# address or no callee at all.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" \
	"$BUILD/tests/guest/csind.elf" "$BUILD/tests/guest/lm64-csind.elf"
plan 12

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"

# expected KIND...: the folded stacks of 3 rounds, each ci_KIND calling
# ci_t_KIND once; and ci_farpc, whose far callee's lret pops its frame
# from under a get-PC frame (ci_t_farpc+0x5), then calls ci_t_reg
expected() {
	{
		echo "kmain;ci_round 3"
		for k in "$@"; do
			echo "kmain;ci_round;ci_$k 3"
			echo "kmain;ci_round;ci_$k;ci_t_$k 3"
		done
		echo "kmain;ci_round;ci_farpc 3"
		echo "kmain;ci_round;ci_farpc;ci_t_farpc 3"
		echo "kmain;ci_round;ci_farpc;ci_t_farpc;ci_t_farpc+0x5 3"
		echo "kmain;ci_round;ci_farpc;ci_t_reg 3"
	} | sort
}

# check GUEST SYMBOLS WHAT STACK_TYPE KIND...: run the guest, compare
check() {
	local syms=$2 what=$3 st=$4 counts
	export GUEST=$1
	shift 4
	qemu_start watch=off load=cs_cons "cs_cons.out=$T/counts" \
		"callstack_instr.stack_type=$st" \
		"callstack_instr.symbols=$syms" "callstack_instr.folded=$T/folded"
	wait "$QEMU_PID"
	is "$?" 1 "$what, $st stacks: the guest ran to its end (exit status 0)"
	QEMU_PID=
	is "$(grep ';ci_round' "$T/folded" | sed 's/^.*;\?kmain;/kmain;/' | sort)" \
		"$(expected "$@")" "$what, $st stacks: folded stacks name every callee"
	nm "$syms" | awk '$2 ~ /^[Tt]$/ { printf "0x%s %s\n", $1, $3 }' |
		sed 's/^0x0*/0x/' >"$T/syms"
	counts=$(awk 'NR == FNR { n[$1] = $2; next }
		      ($1 in n) && n[$1] ~ /^ci_t_/ { print n[$1], $2, $3 }' \
		"$T/syms" "$T/counts" | sort)
	is "$counts" "$({ for k in "$@"; do echo "ci_t_$k 3 3"; done
			 echo "ci_t_farpc 3 3"; } | sed 's/^ci_t_reg 3 3$/ci_t_reg 6 6/' | sort)" \
		"$what, $st stacks: each callee's on_call and on_ret counts are exact"
}

check csind "$BUILD/tests/guest/csind.elf" i386 asid \
	reg mem abs sp ovl far
stats=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
	jq -r .text)
echo "# $stats"
[[ $stats == *" unresolved=0 "* ]]
ok $? "i386: every call's callee was seen (unresolved=0)"

LM64="reg r12 mem abs sp ovl rip fs gs a32 far farq"
check lm64-csind "$BUILD/tests/guest/lm64-csind.elf.64" x86_64 asid $LM64
stats=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
	jq -r .text)
echo "# $stats"
[[ $stats == *" unresolved=0 "* ]]
ok $? "x86_64: every call's callee was seen (unresolved=0)"
check lm64-csind "$BUILD/tests/guest/lm64-csind.elf.64" x86_64 heuristic $LM64

# The trace agrees: each far call is one call and one ret event.
export GUEST=lm64-csind
qemu_start watch=off load=callstack_instr \
	"callstack_instr.symbols=$BUILD/tests/guest/lm64-csind.elf.64" \
	"callstack_instr.trace=$T/trace"
wait "$QEMU_PID"
QEMU_PID=
is "$(jq -r 'select(.name=="ci_t_far" or .name=="ci_t_farq") | "\(.name) \(.event)"' \
	"$T/trace" | sort | uniq -c | awk '{print $2 "/" $3 "=" $1}' | paste -sd' ')" \
	"ci_t_far/call=3 ci_t_far/ret=3 ci_t_farq/call=3 ci_t_farq/ret=3" \
	"x86_64: the far calls and their lret/lretq are in the trace, 3 each"
