#!/bin/bash
# What a guest with guest_control=on can put in the event log
# (Documentation/hypercall-abi.rst, "Events"): module names that are not
# text arrive as valid UTF-8 JSON, and a guest flooding guest control
# cannot flood the log: every kind it causes stays near 10 events a
# second, and what was dropped is counted.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$(guest_elf hcall)" \
	"$TMOD/hcrec-v1.so"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 14

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
# Strict: the file must be UTF-8, and each line one JSON value.
py_parses() {
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1],encoding="utf-8")]' "$1" 2>>"$T/py.err"
}
jq_parses() { jq -c . "$1" >/dev/null 2>>"$T/jq.err"; }
denied() { events ".event==\"guest_denied\" and .op==\"$1\"" | jq -c "$2"; }
last_ts() { tail -n 1 "$EVENTS" | jq -r .ts 2>/dev/null; }
_log_past() { [ "$(last_ts)" -ge "$1" ] 2>/dev/null; }

drop "$TMOD/hcrec-v1.so" hcrec

# -- names that are not text -------------------------------------------------
GUEST=hcall qemu_start guest_control=on "ctl=$SOCK" -- -append "mode=7"
wait_for "guest done" serial_has "hcall: done"
wait_event '.event=="guest_denied"' 3
mc --json routes > "$T/routes.json"
mc --json stats > "$T/stats.json"
qemu_stop
py_parses "$EVENTS"
ok $? "every line of the event log parses as UTF-8 JSON (python3 json)"
jq_parses "$EVENTS"
ok $? "and with jq"
is "$(denied load '.name == "f\ufffd\ufffd?f\ufffd\u0380"')" true \
	"bytes that are not UTF-8 are logged as U+FFFD, the rest kept"
is "$(denied unload '.name == "q\"b\\s\u0001\u007f\n\u001b"')" true \
	"quotes, backslashes and control characters are escaped"
is "$(denied reload '.name == "hc\u0000rec"')" true \
	"a name with a NUL is logged whole, the NUL escaped"
py_parses "$T/routes.json" && py_parses "$T/stats.json"
ok $? "modctl --json routes and stats parse as UTF-8 JSON"

# -- a guest flooding guest control --------------------------------------------
# Loads and unloads hcrec, loads a module not in dir and sends a bad name,
# without pause.  Run until the log spans a few seconds: counting lines, not
# timing anything.
GUEST=hcall qemu_start guest_control=on -- -append "mode=8"
wait_for "the log spans 3 s" _log_past 3000000
qemu_stop
py_parses "$EVENTS"
ok $? "flood: every line parses as UTF-8 JSON"
lines=$(wc -l < "$EVENTS")
# 10 a second per kind; 20 where a window of the limiter straddles a
# second of the log, and queued requests finishing late: allow 30.
worst=$(jq -rs '[.[] | select(.event | IN("guest_request", "guest_denied",
	"load", "unload", "reload", "reject", "rollback", "quiesce"))] |
	group_by([.event, (.ts / 1000000 | floor)]) |
	map({n: length, k: (.[0].event + " in second " + (.[0].ts / 1000000 | floor | tostring))}) |
	max_by(.n) // {n: 0, k: "none"} | "\(.n) \(.k)"' "$EVENTS")
[ "${worst%% *}" -le 30 ]
ok $? "no guest-caused kind has more than 30 lines in any second of the log (worst: $worst; $lines lines)"
secs=$(( $(last_ts) / 1000000 + 1 ))
[ "$lines" -le $((secs * 8 * 30 + 10)) ]
ok $? "the whole log stays small: $lines lines over $secs s"
is "$(count_events '.event=="guest_request" and .op=="load" and .module=="hcrec" and .result=="ok"' |
	awk '{ print ($1 >= 1) }')" 1 "good requests are still carried out"
is "$(count_events '.event=="guest_denied" and (.error|test("more than 10 guest requests a second"))' |
	awk '{ print ($1 >= 1) }')" 1 "requests over 10 a second are refused, with guest_denied"
sum=$(events '.event=="guest_denied"' | jq -s 'map(.count) | add')
total=$(events '.event=="guest_denied"' | jq -s 'map(.total) | max')
n=$(count_events '.event=="guest_denied"')
is "$sum" "$total" "the guest_denied counts add up to the last total ($total)"
[ "$total" -gt "$n" ]
ok $? "and report the refusals no line was written for ($total refusals in $n lines)"
is "$(count_events '.event=="hypercall_unknown" or .event=="hypercall_fault"')" 0 \
	"(the flood is guest control only)"
