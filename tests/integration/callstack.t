#!/bin/bash
# callstack_instr on a guest with a known call graph (tests/guest/callgraph.c):
# direct and indirect calls, recursion, a function-pointer table, a longjmp,
# calls at page boundaries, a call as a function's first instruction, get-PC,
# a tail call, "ret $8".  Every function's on_call/on_ret count (seen by the
# cs_cons consumer) and the folded stacks are exact; the trace agrees; bad
# stack types are refused.
. "$(dirname "$0")/../lib.sh"
ELF=$BUILD/tests/guest/callgraph.elf
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$ELF"
plan 18

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
export GUEST=callgraph

# name of each function symbol, by address
nm "$ELF" | awk '$2 ~ /^[Tt]$/ { printf "0x%s %s\n", $1, $3 }' |
	sed 's/^0x0*/0x/' >"$T/syms"
named() {	# COUNTS: "name calls rets" for cg_* and kmain
	awk 'NR == FNR { n[$1] = $2; next }
	     ($1 in n) && n[$1] ~ /^(cg_|kmain$)/ { print n[$1], $2, $3 }' \
		"$T/syms" "$1" | sort
}

# run_guest PLUGIN_ARG...: boot callgraph.elf and wait for it to exit
run_guest() {
	qemu_start watch=off load=cs_cons "cs_cons.out=$T/counts" "$@"
	wait "$QEMU_PID"
	GUEST_RC=$?
	QEMU_PID=
}

. "$(dirname "$0")/callgraph-expected.sh"

# -- asid stacks, with symbols, folded output and trace ----------------------
run_guest "callstack_instr.symbols=$ELF" "callstack_instr.folded=$T/folded" \
	"callstack_instr.trace=$T/trace"
is "$GUEST_RC" 1 "the guest ran to its end (exit status 0)"
is "$(named "$T/counts")" "$EXPECTED_COUNTS" \
	"on_call/on_ret counts per function are exact (asid stacks)"
is "$(grep '^top_mismatch' "$T/counts")" "top_mismatch 0" \
	"every handler found its own frame on top of get_functions()"
# Frames under kmain are the firmware's (hex): cut them off.
is "$(grep ';cg_round' "$T/folded" | sed 's/^.*;kmain;/kmain;/')" "$EXPECTED_FOLDED" \
	"folded stacks are exact"
grep -q '^\(0x[0-9a-f]*;\)*kmain 1$' "$T/folded"
ok $? "kmain is called once, from the firmware's frames (hex)"
grep -v '^#' "$T/folded" | grep -qv '^[^ ]* [1-9][0-9]*$'
ok $((! $?)) "every folded line is 'frame;frame COUNT'"
jq -e . "$T/trace" >/dev/null
ok $? "the trace is JSON lines"
is "$(jq -r 'select(.name=="cg_leaf") | .event' "$T/trace" | sort | uniq -c | awk '{print $2 $1}' | paste -sd' ')" \
	"call18 ret18" "the trace has cg_leaf's 18 calls and 18 returns"
lj=$(jq -c 'select(.event=="ret" and (.name|test("^cg_l[oj]")))' "$T/trace" | head -4 |
	jq -r '"\(.name):\(.depth)"' | paste -sd' ')
d=$(jq -r 'select(.event=="call" and .name=="cg_lj_try") | .depth' "$T/trace" | head -1)
is "$lj" "cg_longjmp:$((d + 3)) cg_lj_deep:$((d + 2)) cg_lj_mid:$((d + 1)) cg_lj_try:$d" \
	"after the longjmp, cg_lj_try's ret pops 4 frames, one on_ret each, innermost first"

# -- symbol names that are not text: the trace stays UTF-8 JSON ---------------
objcopy --redefine-sym "cg_leaf=cg_\"le\\af$(printf '\377\001')" "$ELF" "$T/odd.elf"
run_guest "callstack_instr.symbols=$T/odd.elf" "callstack_instr.trace=$T/trace3"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1],encoding="utf-8")]' \
	"$T/trace3" 2>/dev/null
ok $? "a symbol name with quotes, a backslash and bytes that are not UTF-8: the trace parses (python3 json)"
is "$(jq -r 'select(.name=="cg_\"le\\af\ufffd\u0001") | .event' "$T/trace3" | sort | uniq -c |
	awk '{print $2 $1}' | paste -sd' ')" "call18 ret18" \
	"and carries the name escaped, invalid bytes as U+FFFD"

# -- heuristic stacks, no symbols: hex names -----------------------------------
run_guest callstack_instr.stack_type=heuristic "callstack_instr.folded=$T/folded2"
is "$(named "$T/counts")" "$EXPECTED_COUNTS" \
	"on_call/on_ret counts per function are exact (heuristic stacks)"
leaf=$(awk '$2=="cg_leaf" {print $1}' "$T/syms")
rec=$(awk '$2=="cg_rec" {print $1}' "$T/syms")
grep -q ";$rec;$rec;$rec;$rec;$leaf 3\$" "$T/folded2"
ok $? "without symbols=, folded frames are hex addresses ($rec ... $leaf)"
kmain=$(awk '$2=="kmain" {print $1}' "$T/syms")
# kmain starts its own heuristic stack: the firmware's sp was far away.
is "$(grep -E "(^|;)$kmain;" "$T/folded2" | sed -E "s/^(.*;)?$kmain;/$kmain;/" |
	awk 'NR == FNR { n[$1] = $2; next }
	     { k = split($1, f, ";"); s = n[f[1]]
	       for (i = 2; i <= k; i++) s = s ";" n[f[i]]
	       print s, $2 }' "$T/syms" - | grep ';cg_round' | sort)" "$EXPECTED_FOLDED" \
	"heuristic stacks: the same folded stacks, named from the hex"

# -- refusals --------------------------------------------------------------------
refuse() {	# refuse ARG: QEMU must not start; prints its stderr
	timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-kernel "$ELF" -plugin "$MODHOST_SO,dir=$MODDIR,watch=off,load=callstack_instr,$1" \
		-d plugin 2>&1 >/dev/null
}
out=$(refuse callstack_instr.stack_type=threaded)
[ $? -ne 0 ]
ok $? "stack_type=threaded: QEMU refuses to start (no introspection provider)"
grep -q "stack_type=threaded needs an OS-introspection provider" <<<"$out"
ok $? "and says what is missing: $(grep -o 'threaded needs[^:]*' <<<"$out")"
refuse callstack_instr.stack_type=tls >/dev/null
[ $? -ne 0 ]
ok $? "stack_type=tls: refused"
out=$(refuse callstack_instr.symbols=/nonexistent)
grep -q "symbols=/nonexistent: cannot open: No such file" <<<"$out"
ok $? "symbols= naming a missing file: refused with the reason"
