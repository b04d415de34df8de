#!/bin/bash
# The host API table against a real guest: register reads by name,
# memory callbacks, guest memory reads, conditional and inline callbacks,
# module_of() (which module holds an address) from init, a vCPU and exit.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/probe.so"
plan 10

drop "$TMOD/probe.so" probe
qemu_start load=probe
wait_ticks 2
qemu_stop
line=$(events '.event=="message" and .module=="probe"' | tail -1 | jq -r .text)
echo "# $line"
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$line"; }

[ "$(field rip_ok)" -gt 1000 ] 2>/dev/null
ok $? "rip read by name in R_REGS callbacks ($(field rip_ok) reads)"
is "$(field rip_bad)" "0" "rip always equals the instruction's address"
[ "$(field stores)" -gt 0 ] 2>/dev/null
ok $? "store callbacks fire ($(field stores))"
is "$(field loads_as_stores)" "0" "a MH_MEM_W callback sees only stores"
[ "$(field fires)" -gt 0 ] 2>/dev/null
ok $? "conditional callback on an inline-fed scoreboard fires ($(field fires))"
is "$(field magic)" "0x1badb002" "guest memory read returns the multiboot magic at 1 MiB"
is "$(field missing_reg)" "-2" "an unknown register reads as -ENOENT"
is "$(field of_init)" "probe,probe,-,-,-,-" \
	"module_of in init: its own code and data are probe's; the host, libc, the heap and NULL no module's"
is "$(field of_vcpu)" "probe" "module_of from a vCPU callback: probe"
is "$(field of_exit)" "probe" "module_of from exit at QEMU exit: probe (no deadlock)"
