#!/bin/bash
# The doorbell is answered from a guest that loops forever in one block
# (a backward jmp to itself, no call or return): load, reload and unload
# must all go through.  A host that left the doorbell off backward
# branches would wait forever here.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$(guest_elf tight)" "$TMOD/counter-v1.so"
plan 4

GUEST=tight qemu_start
wait_for "the tight loop" serial_has "tight: looping"
drop "$TMOD/counter-v1.so" counter
wait_event '.event=="load" and .module=="counter"'
ok $? "a module dropped in loads while the guest loops in one block"
drop "$TMOD/counter-v2.so" counter
wait_event '.event=="reload" and .version=="2"'
ok $? "and reloads"
rm "$MODDIR/counter.so"
wait_event '.event=="unload" and .module=="counter"'
ok $? "and unloads"
is "$(count_events '.event=="quiesce"')" "3" "one quiesce per change"
