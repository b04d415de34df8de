#!/bin/bash
# A reload of callstack_instr in the middle of deep recursion keeps every
# frame: csrec.elf recurses 300 frames deep and waits at the bottom for a
# byte on COM2; meanwhile callstack_instr is reloaded twice.  Then the
# guest returns all the way: every one of the 301 calls of cs_deep gets
# its on_ret (the cs_cons consumer is not reloaded and keeps counting),
# and the folded stacks still see the whole depth.
#
# Then nothing is kept across unloads and reloads: with max_depth=1048576
# each stack's ring is 32 MiB, a block of its own that the C library maps
# and unmaps whole (too big for its heap), so a stack left behind shows in
# QEMU's mapped size (VmSize) however little of it the guest touched.
. "$(dirname "$0")/../lib.sh"
ELF=$BUILD/tests/guest/csrec.elf
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" \
	"$ELF" "$MODCTL"
plan 12

DEPTH=300	# x 32 bytes a frame: well inside crt0.S's 16 KiB stack
cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
mkfifo "$T/com2.in" "$T/com2.out"
# QEMU writes COM2's output to com2.out: drain it so it never blocks.
cat "$T/com2.out" >/dev/null &
DRAIN=$!
export GUEST=csrec
qemu_start load=cs_cons "cs_cons.out=$T/counts" "callstack_instr.symbols=$ELF" \
	"callstack_instr.folded=$T/folded" -- -append "deep=$DEPTH" \
	-serial "pipe:$T/com2"

wait_for "the bottom of the recursion" serial_has "csrec: bottom"
ok $? "the guest is $DEPTH frames deep"
for i in 1 2; do
	drop "$BUILD/modules/callstack_instr.so" callstack_instr
	wait_event '.event=="reload" and .module=="callstack_instr"' "$i"
done
ok $? "callstack_instr reloaded twice while the guest waits at the bottom"
is "$(events '.event=="state_handoff" and .module=="callstack_instr"' | wc -l)" 2 \
	"each reload handed the stacks over"
msg=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^restored"))' |
	tail -1 | jq -r .text)
echo "# $msg"
[[ $msg =~ ^restored\ [0-9]+\ stacks,\ ([0-9]+)\ frames ]] &&
	[ "${BASH_REMATCH[1]}" -gt "$DEPTH" ]
ok $? "the restored stack holds more than $DEPTH frames"

echo x >"$T/com2.in"
wait "$QEMU_PID"
rc=$?
QEMU_PID=
kill "$DRAIN" 2>/dev/null
is "$rc" 1 "the guest returned all the way and exited with status 0"

nm "$ELF" | awk '$2 ~ /^[Tt]$/ { printf "0x%s %s\n", $1, $3 }' |
	sed 's/^0x0*/0x/' >"$T/syms"
counts=$(awk 'NR == FNR { n[$1] = $2; next }
	      ($1 in n) && n[$1] ~ /^cs_(deep|bottom)$/ { print n[$1], $2, $3 }' \
	"$T/syms" "$T/counts" | sort | paste -sd' ')
is "$counts" "cs_bottom 1 1 cs_deep $((DEPTH + 1)) $((DEPTH + 1))" \
	"every frame pushed before the reloads got its on_ret after them"
is "$(grep '^top_mismatch' "$T/counts")" "top_mismatch 0" \
	"each on_ret found its frame on top"
line=$(grep ';cs_bottom ' "$T/folded")
is "$(tr ';' '\n' <<<"${line% *}" | grep -c '^cs_deep$') ${line##* }" "$((DEPTH + 1)) 1" \
	"folded: cs_bottom was called once, under all $((DEPTH + 1)) cs_deep frames"

# -- unloads and reloads free everything --------------------------------
SOCK=$T/ctl.sock
CYCLES=8
RING_KB=$((32 * 1024))	# one stack's ring at max_depth=1048576
mc() { timeout 60 "$MODCTL" -s "$SOCK" "$@"; }
vmsize() { awk '/^VmSize:/ { print $2 }' "/proc/$QEMU_PID/status"; }
: >"$T/stderr"
GUEST=spin qemu_start "ctl=$SOCK" watch=off load=callstack_instr \
	callstack_instr.max_depth=1048576
wait_ticks 2
before=$(vmsize)
unloaded=0 reloaded=0
for i in $(seq "$CYCLES"); do
	mc unload callstack_instr >/dev/null && unloaded=$((unloaded + 1))
	mc load callstack_instr >/dev/null || break
	wait_ticks 1	# the guest calls again: a new stack, a new ring
	mc reload callstack_instr >/dev/null && reloaded=$((reloaded + 1))
	wait_ticks 1
done
after=$(vmsize)
is "$unloaded $reloaded" "$CYCLES $CYCLES" \
	"callstack_instr unloaded, loaded and reloaded $CYCLES times"
echo "# VmSize ${before} kB -> ${after} kB after $CYCLES unload/load/reload cycles"
[ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) -lt "$RING_KB" ]
ok $? "QEMU's mapped size grew by less than one stack's ring (no stack kept)"
qemu_stop
msg=$(grep -c 'callstack_instr: calls=' "$QLOG")
[ "$msg" -ge $((2 * CYCLES + 1)) ]
ok $? "every version logged its counts at exit ($msg exit lines)"
is "$(grep -ci 'assert\|segmentation\|abort' "$T/stderr")" 0 \
	"QEMU ended cleanly"
