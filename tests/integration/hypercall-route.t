#!/bin/bash
# Symbol routes added and removed at run time over the control socket
# (modctl route / unroute), on both guest widths: a magic the guest is
# already calling starts reaching the symbol, is counted for the module
# that exports it, and stops when the route goes.  Every bad request is
# one error and changes nothing.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/hcsym.so" "$TMOD/hcrec-v1.so"
plan 38

SOCK=$T/ctl.sock
M=0x12340010
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
greets() { count_events '.event=="message" and .module=="hcsym" and (.text|startswith("greet s='"'"'tick'"'"'"))'; }
route_calls() { mc --json routes | jq -r --arg m "$1" '.routes[] | select(.magic==$m) | .calls'; }
_greets_ge() { [ "$(greets)" -ge "$1" ]; }
last() { events ".event==\"$1\"" | tail -1; }
hcsym_hypercalls() { mc --json stats | jq -r '.modules[] | select(.name=="hcsym") | .hypercalls'; }
drop "$TMOD/hcsym.so" hcsym
drop "$TMOD/hcrec-v1.so" hcrec

for g in hcall lm64-hcall; do
	rm -f "$SOCK"
	GUEST=$g qemu_start load=hcsym "ctl=$SOCK" -- -append "mode=6 magic=$M enc=1"
	wait_event '.event=="hypercall_unknown" and .magic=="'$M'"'
	ok $? "$g: before any route, the guest's magic is unknown"

	is "$(mc route $M:hcsym.hc_greet)" "$M -> hcsym.hc_greet" \
		"$g: modctl route 0xMAGIC:hcsym.hc_greet says what it routed"
	last route | jq -e '.magic=="'$M'" and .to=="hcsym.hc_greet" and .from=="ctl"' >/dev/null
	ok $? "$g: a route event is logged"
	wait_event '.event=="message" and .module=="hcsym" and (.text|test("^greet s='"'"'tick'"'"' n=[0-9]+ g=set$"))'
	ok $? "$g: the symbol is called with the guest's string and arguments"
	wait_for "3 calls" _greets_ge 3
	n=$(greets)
	[ "$(route_calls $M)" -ge "$n" ]
	ok $? "$g: modctl routes counts the symbol route's calls ($(route_calls $M) >= $n)"
	[ "$(hcsym_hypercalls)" -ge "$n" ]
	ok $? "$g: stats counts them for hcsym, the module that exports the symbol ($(hcsym_hypercalls))"

	# Bad requests: one error line each, the route table unchanged.
	before=$(mc --json routes | jq -c '[.routes[] | del(.calls)]')
	out=$(mc route $M:hcsym.hc_greet 2>&1)
	is "$?:$out" "1:modctl: hypercall magic $M is already routed to hcsym.hc_greet (a symbol route)" \
		"$g: the same magic again: refused, naming the route that has it"
	out=$(mc route 0x12340011:hcsym.nosuch 2>&1)
	is "$?:$out" "1:modctl: module hcsym exports no 'nosuch' (see modctl symbols)" \
		"$g: a symbol the live module does not export: refused"
	out=$(mc route 0x12340011:hcsym.hc_hostptr 2>&1)
	grep -q "^modctl: hcsym.hc_hostptr is v(p): a host pointer (p) cannot come from a guest$" <<<"$out"
	ok $? "$g: a symbol taking a host pointer: refused ($out)"
	out=$(mc route 0x4d480001:hcsym.hc_greet 2>&1)
	grep -q "host-reserved" <<<"$out"
	ok $? "$g: a host-reserved magic: refused ($out)"
	out=$(mc unroute 0x12349999 2>&1)
	is "$?:$out" "1:modctl: no route for hypercall magic 0x12349999" \
		"$g: unroute of a magic nobody routes: refused"
	is "$(mc --json routes | jq -c '[.routes[] | del(.calls)]')" "$before" \
		"$g: the refused requests changed no route"

	# A provider that is not loaded yet: the route waits for it.
	is "$(mc route 0x12340012:hcrec.fn)" \
		"0x12340012 -> hcrec.fn (not loaded yet: calls fail until it is)" \
		"$g: a route to a module not loaded is taken, and says so"
	mc unroute 0x12340012 >/dev/null

	# A module's own handler route is not the control socket's to remove.
	mc load hcrec >/dev/null
	out=$(mc unroute 0x12345600 2>&1)
	grep -q "^modctl: hypercall magic 0x12345600 is hcrec's own handler" <<<"$out"
	ok $? "$g: unroute of a module's handler route: refused ($out)"

	is "$(mc unroute $M)" "$M: route removed" "$g: modctl unroute removes the route"
	last unroute | jq -e '.magic=="'$M'" and .from=="ctl"' >/dev/null
	ok $? "$g: an unroute event is logged"
	is "$(route_calls $M)" "" "$g: modctl routes no longer lists it"
	n=$(greets)
	u=$(count_events '.event=="hypercall_unknown" and .magic=="'$M'"')
	wait_event '.event=="hypercall_unknown" and .magic=="'$M'"' $((u + 1))
	ok $? "$g: the guest's magic is unknown again"
	m=$(greets)
	[ "$m" -le $((n + 1)) ]
	ok $? "$g: and the symbol is no longer called ($n then $m)"
	qemu_stop
done
