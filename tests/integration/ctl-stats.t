#!/bin/bash
# Per-module accounting (modctl stats): loads, reloads and rollbacks as the
# event log has them, the pause of the quiesce that last changed a module,
# the callbacks and inline operations it registered, and, with
# accounting=on only, the time spent in its callbacks.  counter registers
# an exec callback per block; example only inline operations.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so" \
	"$TMOD/counter-initfail.so" "$BUILD/modules/example.so" \
	"$TMOD/prov-v1.so" "$TMOD/cons-ppp.so"
plan 18

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
# stat_of MODULE FILTER: a jq filter on one module's object in stats --json.
stat_of() { mc --json stats | jq -c --arg m "$1" ".modules[] | select(.name == \$m) | $2"; }

drop "$TMOD/counter-v1.so" counter
drop "$BUILD/modules/example.so" example

# -- default: no timing ------------------------------------------------------
qemu_start "ctl=$SOCK" load=counter:example watch=off
wait_ticks 1
is "$(mc --json stats | jq -c '[.accounting, (.modules | map(.name))]')" \
	'[false,["counter","example"]]' "stats lists every module; accounting is off by default"
is "$(stat_of counter '[.cb_calls, .cb_ns]')" "[null,null]" \
	"without accounting=on, no callback time (null, not 0)"
mc stats | awk '$1 == "counter" { exit !($10 == "-" && $11 == "-") }'
ok $? "and the table shows '-' for it"
[ "$(stat_of counter .callbacks)" -gt 0 ] && [ "$(stat_of counter .inline_ops)" = 0 ]
ok $? "counter registered exec callbacks ($(stat_of counter .callbacks)), no inline ops"
[ "$(stat_of example .inline_ops)" -gt 0 ] && [ "$(stat_of example .callbacks)" = 0 ]
ok $? "example registered inline ops ($(stat_of example .inline_ops)), no callbacks"
is "$(stat_of counter .last_pause_us)" 0 "loaded at start: no pause yet"

drop "$TMOD/counter-v2.so" counter
mc reload counter >/dev/null
pause=$(events '.event=="quiesce"' | tail -1 | jq .pause_us)
is "$(stat_of counter .last_pause_us)" "$pause" \
	"after a reload: the pause_us of its quiesce ($pause us)"
is "$(stat_of example .last_pause_us)" 0 "the module left alone keeps none"
drop "$TMOD/counter-initfail.so" counter
mc reload counter 2>"$T/err"
grep -q "reload failed, version 2 kept: init failed: -22" "$T/err"
ok $? "a failed reload says why: $(cat "$T/err")"
is "$(stat_of counter '[.loads, .reloads, .rollbacks]')" \
	"[$(count_events '.event=="load" and .module=="counter"'),$(count_events '.event=="reload"'),$(count_events '.event=="rollback"')]" \
	"loads, reloads, rollbacks match the event log ([1,1,1])"
is "$(stat_of counter .hypercalls)" 0 "no hypercalls handled"
qemu_stop

# -- accounting=on ---------------------------------------------------------
drop "$TMOD/counter-v1.so" counter
qemu_start "ctl=$SOCK" load=counter:example watch=off accounting=on
wait_ticks 2
is "$(mc --json stats | jq .accounting)" true "accounting=on is reported"
calls=$(stat_of counter .cb_calls)
ns=$(stat_of counter .cb_ns)
[ "$calls" -gt 1000 ] && [ "$ns" -gt 0 ]
ok $? "counter's callbacks are timed: $calls calls, $ns ns"
[ "$(stat_of counter .cb_calls)" -gt "$calls" ]
ok $? "and the count grows while the guest runs"
is "$(stat_of example '[.cb_calls, .cb_ns]')" "[0,0]" \
	"example has no callbacks to time (inline ops cost no call)"
mc reload counter >/dev/null
[ "$(stat_of counter .cb_calls)" -gt "$calls" ]
ok $? "timing goes on across a reload"
qemu_stop

# -- accounting=on: PPP handlers are charged to their owner ------------------
# cons-ppp has no callback of its own: its on_block handler runs from
# prov's exec callback, one call per block.
drop "$TMOD/prov-v1.so" prov
drop "$TMOD/cons-ppp.so" cons
qemu_start "ctl=$SOCK" load=cons watch=off accounting=on
wait_ticks 2
pcalls=$(stat_of prov .cb_calls)
ccalls=$(stat_of cons .cb_calls)
cns=$(stat_of cons .cb_ns)
[ "$ccalls" -gt 1000 ] && [ "$cns" -gt 0 ] 2>/dev/null
ok $? "the handler's owner is charged: cons $ccalls calls, $cns ns (prov $pcalls calls)"
[ "$pcalls" -gt 1000 ] 2>/dev/null
ok $? "prov is charged for its own callback ($pcalls calls, $(stat_of prov .cb_ns) ns)"
