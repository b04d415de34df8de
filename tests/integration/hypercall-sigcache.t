#!/bin/bash
# A symbol route's call follows its export's signature as it is now.  The
# guest calls hcsym.hc_greet through route= without pause while hcsym is
# reloaded with the export's signature changed (u32(s,u32,g) becomes
# u32(g,u32,g)), then unloaded and loaded fresh with the first signature
# again: after each change every call is made with the new signature (the
# host prepares a route's call once per signature, never reusing one made
# for another), and none fails but while hcsym is not loaded.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$BUILD/tests/guest/hcall.elf" \
	"$TMOD/hcsym.so" "$TMOD/hcsym-sig2.so"
plan 9

SOCK=$T/ctl.sock
M=0x12340010
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
# since EVENT: the line of the last event matching EVENT (a jq filter)
since() { jq -c "select($1) | input_line_number" "$EVENTS" | tail -1; }
# greets LINE: hcsym's messages after line LINE of the log
greets() { tail -n +$(($1 + 1)) "$EVENTS" |
	jq -r 'select(.event=="message" and .module=="hcsym") | .text'; }
_greets_after() { [ "$(greets "$1" | grep -c "$2")" -ge 3 ]; }

drop "$TMOD/hcsym.so" hcsym
GUEST=hcall qemu_start load=hcsym "route=$M:hcsym.hc_greet" "ctl=$SOCK" -- \
	-append "mode=6 magic=$M enc=1"
wait_event '.event=="load" and .module=="hcsym"'
wait_for "3 greets" _greets_after "$(since '.event=="load"')" "^greet s='tick'"
ok $? "the route calls hc_greet with the guest's string"

drop "$TMOD/hcsym-sig2.so" hcsym
wait_event '.event=="reload" and .module=="hcsym" and .version=="sig2"'
ok $? "hcsym reloaded with hc_greet's signature changed"
after=$(since '.event=="reload" and .module=="hcsym"')
wait_for "3 greets of sig2" _greets_after "$after" "^greet2 "
ok $? "calls reach the new version"
is "$(greets "$after" | grep -v '^greet2 first=guest-address n=[0-9]* g=set$')" "" \
	"every call after the reload is made with the new signature"

is "$(mc unload hcsym force)" "hcsym: unloaded version sig2" "hcsym unloaded"
drop "$TMOD/hcsym.so" hcsym
wait_event '.event=="load" and .module=="hcsym" and .version=="1"' 2
ok $? "hcsym loaded fresh with the first signature"
after=$(since '.event=="load" and .module=="hcsym"')
wait_for "3 greets of v1" _greets_after "$after" "^greet s="
ok $? "calls reach it"
is "$(greets "$after" | grep -v "^greet s='tick' n=[0-9]* g=set$")" "" \
	"every call after the fresh load is made with the first signature again"
is "$(count_events '.event=="hypercall_fault" and (.error|test("is not live")|not)')" 0 \
	"no call failed but those made while hcsym was not loaded"
qemu_stop
