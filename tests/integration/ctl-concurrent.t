#!/bin/bash
# Several clients at once: eight clients list in a loop while a ninth
# reloads the module over and over (each reload a quiesce), on four vCPUs.
# Every reply must be whole, valid and ok; every reload must land once.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so"
plan 6

SOCK=$T/ctl.sock
LISTERS=8 LISTS=25 RELOADS=12
drop "$TMOD/counter-v1.so" counter
qemu_start "ctl=$SOCK" load=counter watch=off -- -smp 4

lister() {	# lister N: LISTS list requests, one reply line each
	for _ in $(seq $LISTS); do
		timeout 30 "$MODCTL" -s "$SOCK" --json list || echo "failed $?"
	done > "$T/list.$1" 2>&1
}
reloader() {	# alternate versions 1 and 2, one reload each
	for i in $(seq $RELOADS); do
		drop "$TMOD/counter-v$((i % 2 + 1)).so" counter
		timeout 30 "$MODCTL" -s "$SOCK" reload counter || echo "failed $?"
	done > "$T/reloads" 2>&1
}

pids=()
for n in $(seq $LISTERS); do lister "$n" & pids+=($!); done
reloader & pids+=($!)
wait "${pids[@]}"

cat "$T"/list.* > "$T/lists"
is "$(wc -l < "$T/lists")" $((LISTERS * LISTS)) "$LISTERS clients x $LISTS lists: one reply each"
is "$(jq -c 'select(.ok == true and (.modules | map(.name)) == ["counter"])' "$T/lists" 2>/dev/null | wc -l)" \
	$((LISTERS * LISTS)) "every list reply is valid JSON, ok, and shows counter"
! grep -q failed "$T/reloads"
ok $? "every reload succeeded"
is "$(count_events '.event=="reload" and .from=="ctl"')" "$RELOADS" \
	"$RELOADS reload events, one per request"
is "$(timeout 30 "$MODCTL" -s "$SOCK" --json stats | jq '.modules[0].reloads')" "$RELOADS" \
	"stats counts them"
qemu_alive
ok $? "guest still running"
