#!/bin/bash
# A module declares the QEMU targets it serves (metadata key "targets");
# on any other target the host refuses it before any of its code runs,
# naming both.  A module without the key serves every target.  Runs on
# the target TARGET says (tests/integration/arm/ runs it on aarch64).
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/bin/modctl" "$TMOD/counter-x86.so" "$TMOD/counter-arm.so" \
	"$TMOD/counter-v1.so" "$BUILD/modules/callstack_instr.so" \
	"$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so"
# QEMU's name for its target (qemu_info_t.target_name).
case $TARGET in
x86_64) qtarget=x86_64 native=x86 foreign=arm foreign_list=aarch64,arm ;;
aarch64) qtarget=aarch64 native=arm foreign=x86 foreign_list=x86_64,i386 ;;
*) qtarget=arm native=arm foreign=x86 foreign_list=x86_64,i386 ;;
esac
plan 8

export MODHOST_TEST_MARKER=$T/marker
why="serves targets $foreign_list, not this QEMU's target $qtarget"

# -- at start: load= of a module for another target refuses the start ---------
drop "$TMOD/counter-$foreign.so" counter
out=$(timeout 30 "$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none \
	-no-reboot -serial null -kernel "$(guest_elf spin)" \
	-plugin "$MODHOST_SO,dir=$MODDIR,load=counter" 2>&1 </dev/null)
[ $? -ne 0 ] && grep -qF "counter.so: $why" <<<"$out"
ok $? "load= of a module for $foreign_list: QEMU refuses to start ($(grep -m1 modhost: <<<"$out"))"
rm -f "$MODDIR/counter.so"

# -- while running: a reject naming the target, no code run --------------------
qemu_start
drop "$TMOD/counter-$foreign.so" counter
wait_event '.event=="reject" and .module=="counter"'
is "$(events '.event=="reject" and .module=="counter"' | jq -r .error)" "$why" \
	"the watcher's load is a reject naming both"
[ ! -e "$MODHOST_TEST_MARKER" ]
ok $? "no code of the refused module ran (constructor marker absent)"
is "$(count_events '.event=="load"')" 0 "nothing loaded"
drop "$TMOD/counter-$native.so" counter
wait_event '.event=="load" and .module=="counter"'
is "$(events '.event=="load"' | jq -r .version)" "$native" \
	"the same module built for this target ($qtarget) loads"
rm -f "$MODDIR/counter.so"
wait_event '.event=="unload" and .module=="counter"'
drop "$TMOD/counter-v1.so" counter
wait_event '.event=="load" and .module=="counter"' 2
ok $? "a module without the key serves every target"

qemu_stop

# The SDK's NAME-targets (tools/module.mk) becomes the metadata entry.
readelf -p .modhost "$BUILD/modules/callstack_instr.so" | grep -q "targets=x86_64,i386,aarch64,arm$"
ok $? "callstack_instr-targets := x86_64 i386 aarch64 arm in its Makefile: the same targets= in its metadata"
is "$("$BUILD/bin/modctl" info "$BUILD/modules/callstack_instr.so" --json | jq -c .targets)" \
	'["x86_64","i386","aarch64","arm"]' "modctl info FILE.so lists the targets it serves"
