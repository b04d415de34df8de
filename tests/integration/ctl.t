#!/bin/bash
# modctl against a running guest: list, load, info, reload, param and
# unload through the control socket, each checked against the event log.
# modctl returns once its request is applied, so the event must already be
# in the log when it does: no waiting.  Also: --json, failures (exit 1, the
# host's error on stderr) and "modctl info FILE.so" offline.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so" \
	"$TMOD/dep_base.so" "$TMOD/dep_user.so" "$TMOD/counter-abimajor.so"
plan 44

SOCK=$T/ctl.sock
HB=$T/heartbeat
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
# last EVENT: the last event of that kind, compact.
last() { events ".event==\"$1\"" | tail -1; }

drop "$TMOD/counter-v1.so" counter
drop "$TMOD/dep_base.so" dep_base
drop "$TMOD/dep_user.so" dep_user
# watch=off: every change below comes from the socket alone.
qemu_start "ctl=$SOCK" watch=off

[ -S "$SOCK" ] && [ "$(stat -c %a "$SOCK")" = 600 ]
ok $? "ctl= makes a unix socket with mode 0600 ($(stat -c '%F %a' "$SOCK"))"
is "$(mc list)" "Module  Version  State  Used by  Loads  Reloads  Rollbacks" \
	"list with nothing loaded: the header alone"

mc --json info dep_user |
	jq -e '.state == "unformed" and .version == "1" and .depends == ["dep_base"]' >/dev/null
ok $? "info on a module not loaded reads its file in dir"

# -- load ---------------------------------------------------------------
out=$(mc load counter "heartbeat=$HB" tag=x tag=y)
ok $? "modctl load counter heartbeat=FILE succeeds"
is "$out" "counter: loaded version 1" "and says what it loaded"
is "$(last load | jq -r '[.module,.version,.from]|join(" ")')" "counter 1 ctl" \
	"the load event is logged before modctl returns, from ctl"
wait_for "heartbeat" hb_above 0
ok $? "the loaded module runs (its callback counts blocks)"
is "$(mc list | awk '$1=="counter" { print $2, $3, $4, $5, $6 }')" "1 live - 1 0" \
	"list: counter version 1, live, unused, loaded once"
mc --json list | jq -e '.ok == true and (.modules | map(.name)) == ["counter"]' >/dev/null
ok $? "list --json: one JSON object that jq reads"
is "$(mc --json info counter | jq -r '.params[] | select(.name=="heartbeat").value')" "$HB" \
	"info: the heartbeat parameter given to load is the module's"
mc info counter | grep -q '^description: *test module: counts blocks$'
ok $? "info: modinfo-style lines (description)"
is "$(events '.event=="message" and (.text|startswith("tag "))' | jq -r .text | paste -sd,)" \
	"tag x,tag y" "load with a list parameter given twice: the module gets both values"

# -- failures: exit 1, the host's error on stderr, nothing changes -------
mc load counter >/dev/null 2>"$T/err"
is "$?" 1 "load of a live module fails (exit 1)"
grep -q "^modctl: 'counter' is already loaded" "$T/err"
ok $? "with the host's error on stderr: $(cat "$T/err")"
mc --json reload nosuch >"$T/out" 2>/dev/null
is "$?" 1 "reload of a module not loaded fails"
jq -e '.ok == false and (.error | test("not loaded"))' "$T/out" >/dev/null
ok $? "--json prints the error reply as it is: $(cat "$T/out")"
is "$(count_events '.event=="load" or .event=="unload" or .event=="reload"')" 1 \
	"neither failure changed anything"

# -- reload ---------------------------------------------------------------
h=$(heartbeat "$HB")
drop "$TMOD/counter-v2.so" counter
is "$(mc reload counter)" "counter: reloaded 1 -> 2" "modctl reload counter: 1 -> 2"
is "$(last reload | jq -r '[.old_version,.version,.from]|join(" ")')" "1 2 ctl" \
	"the reload event, from ctl"
is "$(last state_handoff | jq -r '[.from_version,.version]|join(" ")')" "1 2" \
	"the state was handed over"
wait_for "heartbeat" hb_above "$h"
ok $? "version 2 counts on"
is "$(mc list | awk '$1=="counter" { print $2, $6 }')" "2 1" "list: version 2, reloaded once"

# -- dependencies and unload ------------------------------------------------
is "$(mc load dep_user)" "dep_user: loaded version 1" "load dep_user"
is "$(events '.event=="load" and .from=="ctl"' | jq -r .module | tail -2 | paste -sd' ')" \
	"dep_base dep_user" "its required module dep_base was loaded first"
is "$(mc list | awk '$1=="dep_base" { print $4 }')" "dep_user" "list: dep_base used by dep_user"
mc unload dep_base 2>"$T/err"
is "$?" 1 "unload of a module in use fails"
grep -q "in use by dep_user" "$T/err"
ok $? "naming its user: $(cat "$T/err")"
mc list | grep -q '^dep_base '
ok $? "and dep_base stays loaded"
is "$(mc unload dep_base force)" "dep_base: unloaded version 1" "unload dep_base force"
is "$(last unload | jq -r '[.module,.from,.forced_users]|join(" ")')" "dep_base ctl dep_user" \
	"the unload event names the users it was forced past"
mc unload dep_user >/dev/null && mc unload counter >/dev/null
ok $? "unload dep_user, unload counter"
is "$(events '.event=="unload"' | jq -r .module | paste -sd' ')" "dep_base dep_user counter" \
	"three unload events"
is "$(mc stats | awk '$1=="dep_base" { print $2 }')" "unloaded" \
	"stats: a module loaded before and not now shows as unloaded (JSON unformed)"
is "$(mc info dep_base | awk '$1=="state:" { print $2, $3 }')" "not loaded" \
	"info on a module not loaded: state not loaded"
is "$(mc routes | awk '$1=="0x4d480001" { print $3, $4, $5 }')" "load no (guest_control=off)" \
	"routes: the guest-control magics are shown disabled with guest_control=off"
is "$(mc --json routes | jq -c '[.routes[] | select(.owner=="modhost") | .enabled]')" \
	"[false,false,false]" "routes --json: enabled false for the three of them"
h1=$(heartbeat "$HB")
wait_ticks 3
is "$(heartbeat "$HB")" "$h1" "the unloaded module's callbacks no longer run"

# -- param ------------------------------------------------------------------
is "$(mc param counter start=1000)" "counter.start=1000: applies at the next load" \
	"param sets a value for the next load"
mc load counter >/dev/null
is "$(mc --json info counter | jq -r '.params[] | select(.name=="start").value')" "1000" \
	"the next load gets it"
mc param counter start=-1 2>"$T/err"
grep -q "not a valid uint" "$T/err"
ok $? "a value of the wrong type is refused: $(cat "$T/err")"

qemu_alive
ok $? "the guest ran throughout"
qemu_stop
[ ! -e "$SOCK" ]
ok $? "QEMU exit removes the socket"

# -- info FILE.so, offline ------------------------------------------------------
out=$(env -u MODHOST_CTL "$MODCTL" info "$TMOD/counter-v1.so")
grep -q '^name: *counter$' <<<"$out" && grep -q '^version: *1$' <<<"$out" &&
	grep -q '^parm: *start:initial count (uint, default "0")$' <<<"$out"
ok $? "modctl info FILE.so reads the file's metadata with no host running"
env -u MODHOST_CTL "$MODCTL" --json info "$TMOD/counter-abimajor.so" |
	jq -e --arg abi "$((ABI_MAJOR + 1)).$ABI_MINOR" --arg host "host has ABI $ABI" \
		'.abi == $abi and (.abi_error | contains($host))' >/dev/null
ok $? "info FILE.so --json says when the file's ABI does not fit this host"
