#!/bin/bash
# Bad input on the control socket: each bad request gets exactly one JSON
# error line, the same connection answers the next request, and nothing
# changes.  The requests go over one connection (modctl --raw), each bad
# one followed by "list", so a server that dropped the connection, skipped
# a line or answered twice would shift every reply after it.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so" "$TMOD/dep_base.so" \
	"$TMOD/dep_user.so"

# name|request (printf format)|pattern the error must match
CASES=(
	"unknown command|frobnicate counter|unknown command 'frobnicate'"
	"missing word|info|missing argument: usage: info NAME"
	"missing word (param)|param counter|missing argument"
	"extra word|list all|too many arguments: usage: list"
	"extra word (reload)|reload counter now|too many arguments"
	"a word that is not 'force'|unload counter now|'now': usage: unload NAME"
	"not a module name|load ../counter|not a module name"
	"a parameter with no name|load counter =1|expected KEY=VALUE"
	"binary junk|\\x01\\x02\\x00\\xff\\xfe\\x80junk|control characters or invalid UTF-8"
	"a name not in dir|load nosuch|nosuch.so: No such file or directory"
	"info on a name not in dir|info nosuch|no module 'nosuch'"
	"reload of a module not loaded|reload dep_base_not_here|not loaded"
	"unknown parameter|param counter nope=1|no parameter 'nope'"
	"unload of a module in use, without force|unload dep_base|in use by dep_user"
	"route without its spec|route|missing argument: usage: route 0xMAGIC:MODULE.SYMBOL"
	"route, not a route|route 12345:a.b|expected 0xMAGIC:module.symbol"
	"route to a cpuid leaf|route 0x80000001:a.b|real cpuid leaf range"
	"route, no symbol|route 0x12340000:mod|is not module.symbol"
	"unroute with a target|unroute 0x12340000:a.b|usage: unroute 0xMAGIC"
	"unroute, not a magic|unroute banana|expected 0xMAGIC \\(1 to 8 hex digits\\)"
	"unroute of nothing|unroute 0x12340000|no route for hypercall magic 0x12340000"
	"empty line||empty request"
)
plan $((${#CASES[@]} * 2 + 11))

SOCK=$T/ctl.sock
drop "$TMOD/counter-v1.so" counter
drop "$TMOD/dep_base.so" dep_base
drop "$TMOD/dep_user.so" dep_user
qemu_start "ctl=$SOCK" load=counter:dep_user watch=off
before=$("$MODCTL" -s "$SOCK" --json list)
nchanges() { count_events '.event=="load" or .event=="unload" or .event=="reload" or .event=="rollback"'; }
changes=$(nchanges)

for c in "${CASES[@]}"; do
	IFS='|' read -r _ req _ <<<"$c"
	# shellcheck disable=SC2059
	printf "$req\\nlist\\n"
done > "$T/requests"
timeout 30 "$MODCTL" -s "$SOCK" --raw < "$T/requests" > "$T/replies"
i=0
for c in "${CASES[@]}"; do
	IFS='|' read -r name _ pat <<<"$c"
	i=$((i + 1))
	reply=$(sed -n "$((2 * i - 1))p" "$T/replies")
	jq -e --arg p "$pat" '.ok == false and (.error | test($p))' <<<"$reply" >/dev/null
	ok $? "$name: one error line ($(jq -r .error <<<"$reply" 2>/dev/null || echo "$reply"))"
	is "$(sed -n "$((2 * i))p" "$T/replies")" "$before" \
		"$name: the connection answers the next request, nothing changed"
done
is "$(wc -l < "$T/replies")" "$((2 * ${#CASES[@]}))" "one reply per request line, no more"

# Over-long lines: a line just over 4 KiB, and one of 1 MiB, which the
# host must not buffer whole; each is one error, then the line after it.
{
	head -c 4097 /dev/zero | tr '\0' a; printf '\nlist\n'
	head -c $((1 << 20)) /dev/zero | tr '\0' b; printf '\nlist\n'
} | timeout 30 "$MODCTL" -s "$SOCK" --raw > "$T/long"
is "$(jq -c '[.ok, .error]' "$T/long" | paste -sd' ')" \
	'[false,"request longer than 4096 bytes"] [true,null] [false,"request longer than 4096 bytes"] [true,null]' \
	"lines over 4 KiB: one error each, the connection goes on"
printf 'list\r\n' | timeout 30 "$MODCTL" -s "$SOCK" --raw > "$T/crlf"
is "$(cat "$T/crlf")" "$before" "a line ending in CRLF is a request like any"

# A client that goes away mid-request: the partial line is dropped.  Were
# it taken as a request at EOF, this would unload counter.
printf 'unload counter' | timeout 30 "$MODCTL" -s "$SOCK" --raw > "$T/cut"
is "$(wc -c < "$T/cut")" 0 "a request cut off by EOF gets no reply"
# Many requests sent at once, replies read only at the end.
for _ in $(seq 200); do printf 'stats\nbogus\n'; done |
	timeout 30 "$MODCTL" -s "$SOCK" --raw > "$T/many"
is "$(jq -c .ok "$T/many" | sort | uniq -c | awk '{print $1, $2}' | paste -sd' ')" \
	"200 false 200 true" "400 pipelined requests, 400 replies in order"
is "$(jq -c .ok "$T/many" | head -2 | paste -sd' ')" "true false" "in request order"

is "$("$MODCTL" -s "$SOCK" --json list)" "$before" "after it all, the same modules"
is "$(nchanges)" "$changes" "no load, unload, reload or rollback happened"
is "$(events '.event=="reject"' | jq -r .module | paste -sd' ')" "nosuch dep_base" \
	"the refused load and unload are logged as rejects"
qemu_alive
ok $? "guest still running"
is "$(count_events '.event=="quiesce"')" "0" \
	"nothing reached the vCPUs: even the refused unload paused no one"
