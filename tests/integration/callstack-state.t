#!/bin/bash
# callstack_instr's state carries its format's version ("CSI" and a
# digit): reloaded over a version whose state is in a newer format, it
# starts fresh and says so; over one whose state is not callstack_instr's
# at all, it refuses the state, and the old version goes on.  The old
# versions are stand-ins (tests/modules/csi_fake.c) that hand over those
# bytes; the guest keeps running throughout.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" \
	"$TMOD/csi_fake-newer.so" "$TMOD/csi_fake-alien.so"
plan 6

CSI='.module=="callstack_instr"'
msg() { events ".event==\"message\" and $CSI and (.text|test(\"$1\"))" | wc -l; }

cp "$TMOD/csi_fake-newer.so" "$MODDIR/callstack_instr.so"
qemu_start load=callstack_instr
wait_event ".event==\"load\" and $CSI"
ok $? "the stand-in loads as callstack_instr"

# A newer format: the real version starts fresh.
drop "$BUILD/modules/callstack_instr.so" callstack_instr
wait_event ".event==\"reload\" and $CSI and .version!=\"0-fake\""
ok $? "callstack_instr replaces a version whose state is in a newer format"
is "$(msg 'state from 0-fake is in format 9, this version reads 1 to 3: starting fresh')" 1 \
	"it starts fresh, and says why"

# Not callstack_instr's state: refused, the stand-in kept.
drop "$TMOD/csi_fake-alien.so" callstack_instr
wait_event ".event==\"reload\" and $CSI and .version==\"0-fake\""
drop "$BUILD/modules/callstack_instr.so" callstack_instr
wait_event ".event==\"rollback\" and $CSI"
ok $? "a state that is not callstack_instr's is refused"
is "$(msg "state from 0-fake: not callstack_instr's \\\\(magic 0x20746f6e\\\\): refused")" 1 \
	"the refusal names the state's first bytes"
is "$(msg 'fake: took back the state of 0-fake')" 1 \
	"the stand-in goes on with its own state"
qemu_stop
