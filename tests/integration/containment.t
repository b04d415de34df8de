#!/bin/bash
# Containment of module hooks: an init that calls abort(), calls exit(3)
# or never returns is a failed hook like any other.  On a first load it is
# a reject; over a live version 1 it is a rollback and version 1 keeps
# counting.  QEMU survives each, its control socket still answers, and
# SIGTERM still ends it cleanly.  hook_timeout=1 bounds the hanging init.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so" "$TMOD/counter-abort.so" \
	"$TMOD/counter-exit.so" "$TMOD/counter-hang.so"
plan 24

# variant|what the error must say
CASES=(
	"abort|init called abort\\(\\)"
	"exit|init called exit\\(3\\)"
	"hang|init did not return within 1 s"
)
HB=$T/heartbeat
SOCK=$T/ctl.sock
nfail() { count_events '.event=="reject" or .event=="rollback"'; }

# try VARIANT EVENT PATTERN: drop counter-VARIANT.so, expect one EVENT
# whose error matches PATTERN, and a QEMU that still answers.
try() {
	local n ev
	n=$(nfail)
	drop "$TMOD/counter-$1.so" counter
	wait_event '.event=="reject" or .event=="rollback"' $((n + 1))
	ev=$(events '.event=="reject" or .event=="rollback"' | tail -1)
	[ -n "$ev" ] && jq -e --arg e "$2" --arg p "$3" \
		'.event==$e and (.error|test($p))' <<<"$ev" >/dev/null
	ok $? "$1, $4: $2 ($(jq -r .error <<<"$ev"))"
	timeout 30 "$MODCTL" -s "$SOCK" --json list >/dev/null
	ok $? "$1, $4: QEMU survives and the control socket answers"
}

# A bad hook_timeout refuses the start, naming it.
out=$(timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
	-serial null -kernel "$BUILD/tests/guest/spin.elf" \
	-plugin "$MODHOST_SO,dir=$MODDIR,hook_timeout=soon" 2>&1)
[ $? -ne 0 ] && grep -q "hook_timeout=soon: expected whole seconds" <<<"$out"
ok $? "hook_timeout=soon refused: $(grep -m1 modhost: <<<"$out")"

qemu_start "ctl=$SOCK" hook_timeout=1 "counter.heartbeat=$HB"

# -- first load: reject ---------------------------------------------------
for c in "${CASES[@]}"; do
	IFS='|' read -r v pat <<<"$c"
	try "$v" reject "$pat" "first load"
done
is "$("$MODCTL" -s "$SOCK" --json list | jq -c '[.modules[]?.name]')" "[]" \
	"nothing loaded after three contained inits"

# -- reload over a live version 1: rollback ----------------------------------
drop "$TMOD/counter-v1.so" counter
wait_event '.event=="load" and .version=="1"'
ok $? "version 1 loads after them"
for c in "${CASES[@]}"; do
	IFS='|' read -r v pat <<<"$c"
	try "$v" rollback "$pat" "reload over v1"
	hb_grows
	ok $? "$v, reload over v1: version 1 still counting"
done
is "$(events '.event=="rollback"' | jq -r .version | sort -u)" "1" \
	"every rollback kept version 1"
is "$("$MODCTL" -s "$SOCK" --json info counter | jq -r '[.version,.tainted]|join(" ")')" \
	"1 false" "the live version 1 is not tainted"

# Version 1 still reloads normally, with its state.
drop "$TMOD/counter-v2.so" counter
wait_event '.event=="reload" and .version=="2"'
ok $? "a good version still reloads after the contained ones"
is "$(events '.event=="state_handoff"' | jq -r '[.from_version,.version]|join(" ")')" \
	"1 2" "with its state handed over"

# SIGTERM still ends QEMU, cleanly.
kill -TERM "$QEMU_PID"
wait "$QEMU_PID"
is "$?" "0" "SIGTERM ends QEMU with status 0"
QEMU_PID=
is "$(events '.event=="unload"' | tail -1 | jq -r '[.version,.from]|join(" ")')" \
	"2 exit" "and QEMU's exit unloads version 2"
