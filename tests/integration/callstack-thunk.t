#!/bin/bash
# callstack_instr's memory-callback paths (near calls and rets in 32- and
# 64-bit code) on tests/guest/csthunk.c, built for i386 and for x86_64: a
# retpoline-style thunk (its ret pops the thunk's own frame with another
# address), a callee-pops "ret $N", an indirect call to a function whose
# first instruction is a call, and indirect calls through a register at a
# page's end and across a page boundary.  Every function's on_call/on_ret
# count and the folded stacks are exact, in both modes.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" \
	"$BUILD/tests/guest/csthunk.elf" "$BUILD/tests/guest/lm64-csthunk.elf"
plan 10

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"

# th_target is entered by the thunk's ret, never called: no count of its
# own, and its call of th_leaf shows under th_retpoline.
EXPECTED_COUNTS="kmain 1 0
th_entry_call 3 3
th_ind_page_end 3 3
th_ind_straddle 3 3
th_indirect 3 3
th_leaf 15 15
th_pop_args 3 3
th_pop_caller 3 3
th_retpoline 3 3
th_round 3 3
th_rp_body 3 3"

EXPECTED_FOLDED="kmain;th_round 3
kmain;th_round;th_ind_page_end 3
kmain;th_round;th_ind_page_end;th_leaf 3
kmain;th_round;th_ind_straddle 3
kmain;th_round;th_ind_straddle;th_leaf 3
kmain;th_round;th_indirect 3
kmain;th_round;th_indirect;th_entry_call 3
kmain;th_round;th_indirect;th_entry_call;th_leaf 3
kmain;th_round;th_pop_caller 3
kmain;th_round;th_pop_caller;th_pop_args 3
kmain;th_round;th_pop_caller;th_pop_args;th_leaf 3
kmain;th_round;th_retpoline 3
kmain;th_round;th_retpoline;th_leaf 3
kmain;th_round;th_retpoline;th_rp_body 3"

# check GUEST SYMBOLS WHAT: run the guest, compare counts and folded stacks
check() {
	local syms=$2 what=$3
	export GUEST=$1
	qemu_start watch=off load=cs_cons "cs_cons.out=$T/counts" \
		"callstack_instr.symbols=$syms" "callstack_instr.folded=$T/folded"
	wait "$QEMU_PID"
	is "$?" 1 "$what: the guest ran to its end (exit status 0)"
	QEMU_PID=
	nm "$syms" | awk '$2 ~ /^[Tt]$/ { printf "0x%s %s\n", $1, $3 }' |
		sed 's/^0x0*/0x/' >"$T/syms"
	is "$(awk 'NR == FNR { n[$1] = $2; next }
		   ($1 in n) && n[$1] ~ /^(th_|kmain$)/ { print n[$1], $2, $3 }' \
		"$T/syms" "$T/counts" | sort)" "$EXPECTED_COUNTS" \
		"$what: on_call/on_ret counts per function are exact"
	is "$(grep '^top_mismatch' "$T/counts")" "top_mismatch 0" \
		"$what: every handler found its own frame on top"
	is "$(grep ';th_round' "$T/folded" | sed 's/^.*;\?kmain;/kmain;/')" \
		"$EXPECTED_FOLDED" "$what: folded stacks are exact"
	stats=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
		jq -r .text)
	echo "# $stats"
	# The firmware has no such ret: the three are the thunk's.
	grep -q ' redirected=3 ' <<<"$stats"
	ok $? "$what: the thunk's 3 rets through a rewritten slot are counted as redirected"
}

check csthunk "$BUILD/tests/guest/csthunk.elf" i386
check lm64-csthunk "$BUILD/tests/guest/lm64-csthunk.elf.64" x86_64
