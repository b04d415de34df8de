#!/bin/bash
# The loader's private directory (modhost-PID-XXXXXX in $TMPDIR): a QEMU
# killed without its atexit leaves it behind; the next host removes it,
# and only those whose owner is gone, never a live QEMU's.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so"
plan 9

export TMPDIR=$T/tmp
mkdir "$TMPDIR"
# As a dead host leaves it (no process has pid 2^31-1), with a private
# copy in it; one named for a live process (this shell); one of an older
# naming that says nothing about its owner.
mkdir "$TMPDIR/modhost-2147483647-AbC123" "$TMPDIR/modhost-$$-XyZ789" \
	"$TMPDIR/modhost-Qw12Er"
cp "$TMOD/counter-v1.so" "$TMPDIR/modhost-2147483647-AbC123/counter.1.so"
own_dirs() { ls -d "$TMPDIR"/modhost-"$1"-?????? 2>/dev/null | wc -l; }

drop "$TMOD/counter-v1.so" counter
qemu_start load=counter
wait_event '.event=="load" and .module=="counter"'
[ ! -e "$TMPDIR/modhost-2147483647-AbC123" ]
ok $? "a dead host's directory and its copy are removed at start"
[ -d "$TMPDIR/modhost-$$-XyZ789" ]
ok $? "a live process's directory is kept"
[ -d "$TMPDIR/modhost-Qw12Er" ]
ok $? "a directory naming no owner is kept"
is "$(own_dirs "$QEMU_PID")" "1" "the running host has its own directory, named for its pid"

qemu_kill
# What the killed host left: any directory but the three made above.
left=$(ls -d "$TMPDIR"/modhost-* | grep -v -e AbC123 -e XyZ789 -e Qw12Er)
[ -n "$left" ] && [ -d "$left" ]
ok $? "SIGKILL leaves the host's directory behind (${left##*/})"

qemu_start load=counter
wait_event '.event=="load" and .module=="counter"'
[ -n "$left" ] && [ ! -e "$left" ]
ok $? "the next host removes the killed one's directory"
is "$(own_dirs "$QEMU_PID")" "1" "and has its own"
[ -d "$TMPDIR/modhost-$$-XyZ789" ]
ok $? "the live process's directory is still kept"
second=$QEMU_PID
qemu_stop
is "$(own_dirs "$second")" "0" "a clean exit removes its own directory"
