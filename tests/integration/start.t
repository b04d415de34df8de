#!/bin/bash
# Start-up: what QEMU does with good and bad plugin arguments.  A bad
# argument makes QEMU refuse to start, with one line that names it.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so" "$BUILD/modules/example.so"

# refuse PATTERN DESCRIPTION PLUGIN_ARGS...: QEMU must exit non-zero, at
# once, saying PATTERN on stderr.
refuse() {
	local pat=$1 what=$2 args=$3 out status
	out=$(timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none \
		-no-reboot -serial null -kernel "$BUILD/tests/guest/spin.elf" \
		-plugin "$BUILD/modhost.so,dir=$MODDIR$args" 2>&1)
	status=$?
	[ $status -ne 0 ] && [ $status -ne 124 ] && grep -q -- "$pat" <<<"$out"
	ok $? "$what refused: $(grep -m1 modhost: <<<"$out")"
}

plan 19
drop "$TMOD/counter-v1.so" counter

refuse "unknown argument 'bogus=1'" "unknown argument" ",bogus=1"
refuse "dir=: expected a directory" "empty dir=" ",dir="
refuse "watch=maybe: expected on or off" "bad watch value" ",watch=maybe"
refuse "dir=/nonexistent: not a directory" "missing dir" ",dir=/nonexistent"
refuse "load=a/b" "bad module name in load=" ",load=a/b"
refuse "could not load 'nosuch'" "load= of a module not in dir" ",load=nosuch"
refuse "counter.start: 'abc' is not a valid uint" "bad parameter value" ",counter.start=abc"
refuse "counter.nope: module has no such parameter" "unknown parameter" ",counter.nope=1"
refuse "accounting=maybe: expected on or off" "bad accounting value" ",accounting=maybe"
refuse "log=/nonexistent/x" "unwritable log" ",log=/nonexistent/x"

# Good arguments: parameters reach the module, watch=off watches nothing.
drop "$BUILD/modules/example.so" example
qemu_start load=counter:example counter.start=7 counter.start=1000 \
	example.insns=on counter.tag=a counter.tag=b@0x10 counter.tag=a watch=off
is "$(events '.event=="load"' | jq -r .module | paste -sd' ')" "counter example" \
	"load=A:B loads in the order given"
wait_event '.event=="message" and .text=="counting executed instructions"'
ok $? "example.insns=on reaches the module (bool parameter)"
is "$(events '.event=="message" and (.text|startswith("tag "))' | jq -r .text | paste -sd,)" \
	"tag a,tag b@0x10,tag a" "a list parameter given three times: every value, in order"
drop "$TMOD/counter-v2.so" counter
wait_ticks 3
is "$(count_events '.event=="reload"')" "0" "watch=off: a changed file is not reloaded"
qemu_stop
exit_count=$(events '.event=="message" and (.text|test("^exit version 1 count="))' |
	jq -r '.text|sub(".*count=";"")')
[ "${exit_count:-0}" -gt 1000 ]
ok $? "counter.start=7 then =1000: the last value reaches the module (uint parameter): count $exit_count"

# Parameters for a module that never loads are not dropped without a word.
qemu_start watch=off nosuch.depth=3 counter.start=5
is "$(events '.event=="param_unused" and (.waiting|not)' | jq -r '[.module,.param]|join(" ")')" "nosuch depth" \
	"a parameter for a module neither loaded nor in dir: param_unused"
is "$(events '.event=="param_unused" and .waiting' | jq -r '[.module,.param]|join(" ")')" "counter start" \
	"one for a module in dir but not loaded: param_unused, waiting for its load"
grep -q "modhost: warning: parameters for module 'nosuch' (depth) are unused" "$T/stderr"
ok $? "and a line on stderr: $(grep -m1 nosuch "$T/stderr")"
grep -q "modhost: counter is not loaded: its parameters (start) apply when it is" "$QLOG"
ok $? "counter (in dir, not loaded): its parameters wait for its load (a plugin output line)"
qemu_stop
