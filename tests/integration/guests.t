#!/bin/bash
# The test guests of TARGET (tests/lib.sh; tests/integration/arm/ runs
# this for the aarch64, arm and Thumb guests of tests/guest/arm/): each
# program runs to its end under the host with the example module, which
# counts its blocks, and leaves QEMU with the status it returned; the
# debugger the callstack tests use as their oracle (gdb for x86,
# gdb-multiarch for Arm) reads the call-graph guest's lines and symbols.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/example.so" "$(guest_elf callgraph)" \
	"$(guest_elf spin)"
[ "$TARGET" = x86_64 ] && GDB=gdb || GDB=gdb-multiarch
command -v "$GDB" >/dev/null || skip_all "$GDB not installed (tools/install-deps)"
plan 4

drop "$BUILD/modules/example.so" example
for prog in "callgraph rounds=2" "spin tick=1000 ticks=3"; do
	set -- $prog
	: > "$EVENTS"
	timeout 60 "$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none \
		-no-reboot -serial "file:$SERIAL" -kernel "$(guest_elf "$1")" \
		-append "$2${3:+ $3}" \
		-plugin "$MODHOST_SO,dir=$MODDIR,load=example,log=$EVENTS" \
		2>>"$T/stderr" </dev/null
	rc=$?
	count=$(events '.event=="message" and (.text|test("^count="))' |
		jq -r .text | sed 's/count=//')
	[ "$rc" = "$(guest_status 0)" ] && serial_has "^$1: start" &&
		[ "${count:-0}" -gt 0 ]
	ok $? "$TARGET $1: ran to its end (QEMU status $rc), example counted ${count:-nothing}"
done
elf=$(guest_elf callgraph)
"$GDB" -batch -ex "info line cg_leaf" "$elf" 2>&1 |
	grep -q 'Line [0-9]* of "tests/guest/callgraph.c"'
ok $? "$GDB reads $(basename "$elf")'s line table"
"$GDB" -batch -ex "info symbol cg_stdcall" "$elf" 2>&1 | grep -q "^cg_stdcall in section .text"
ok $? "$GDB finds its assembly functions"
