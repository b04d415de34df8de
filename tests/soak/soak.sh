#!/bin/bash
# soak.sh - reload cycles under load, at -smp 4: the guest (hcall.elf,
# mode=9) streams routed hypercalls, each carrying its sequence number,
# while hcrec is reloaded SOAK_CYCLES times through the control socket,
# alternating two builds.  hcrec hands its count and the next number it
# expects to each new version, so at the end both sides have counted: the
# guest prints how many calls it made, hcrec how many it received, and
# they must agree with no call out of sequence.
#
# With SOAK_PPP=1 the registry test modules run too: prov runs its PPP
# point's handlers on every block and cons calls prov's export from every
# block; each cycle also reloads prov (odd cycles) or cons (even ones),
# and their handed-over counts must agree at the end.
#
# Every SOAK_SAMPLE cycles (default 1,000, or a quarter of a shorter run)
# QEMU's resident set, open fds and mappings are sampled (written to
# SOAK_OUT if set).  After the first sample (warm-up) the fds must come
# back to that count, the mappings must not grow by more than
# SOAK_MAPS_SLACK and, when SOAK_RSS_SLACK_KB is set, the resident set by
# no more than that.  tests/integration/soak.t runs this briefly in
# `make check`; `make soak` runs it long (Documentation/hot-reload.rst).
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$MODHOST_SO" "$MODCTL" "$BUILD/tests/guest/hcall.elf" \
	"$TMOD/hcrec-v1.so" "$TMOD/hcrec-v2.so" "$TMOD/prov-v1.so" \
	"$TMOD/prov-v2.so" "$TMOD/cons-v1.so" "$TMOD/cons-v2.so"
command -v mkfifo >/dev/null || skip_all "no mkfifo"

CYCLES=${SOAK_CYCLES:-200}
# Every 1,000 cycles, or four samples in a shorter run.
SAMPLE=${SOAK_SAMPLE:-$((CYCLES / 4 < 1000 ? CYCLES / 4 : 1000))}
PPP=${SOAK_PPP:-0}
MAPS_SLACK=${SOAK_MAPS_SLACK:-64}
RSS_SLACK=${SOAK_RSS_SLACK_KB:-}
[ "$CYCLES" -ge $((2 * SAMPLE)) ] 2>/dev/null ||
	bail "SOAK_CYCLES ($CYCLES) must be at least twice SOAK_SAMPLE ($SAMPLE)"
plan $((8 + 2 * PPP))

SOCK=$T/ctl.sock
mc() { timeout 60 "$MODCTL" -s "$SOCK" "$@"; }
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))" | tail -1; }
# field NAME LINE: the value of NAME=... in a message line
field() { jq -r .text <<<"$2" | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }

# The guest stops streaming when a byte arrives on its second serial port.
mkfifo "$T/stop.in" "$T/stop.out"
drop "$TMOD/hcrec-v1.so" hcrec
load=hcrec
if [ "$PPP" = 1 ]; then
	drop "$TMOD/prov-v1.so" prov
	drop "$TMOD/cons-v1.so" cons
	load=hcrec:cons
fi
GUEST=hcall qemu_start load=$load watch=off "ctl=$SOCK" -- -smp 4 \
	-append "mode=9 enc=1 magic=0x12345600" \
	-chardev "pipe,id=stop,path=$T/stop" \
	-device isa-serial,chardev=stop,iobase=0x2f8,irq=3

fds() { find "/proc/$QEMU_PID/fd" -mindepth 1 | wc -l; }
# sample CYCLE: one line "cycle rss_kb fds maps" for QEMU now
sample() {
	local p=/proc/$QEMU_PID
	printf '%s %s %s %s\n' "$1" \
		"$(awk '/^VmRSS:/ { print $2 }' "$p/status")" \
		"$(fds)" "$(wc -l < "$p/maps")"
}
SAMPLES=$T/samples
: > "$SAMPLES"

# reload_next MODULE CYCLE: the other build of MODULE, through the socket
reload_next() {
	drop "$TMOD/$1-v$(($2 % 2 + 1)).so" "$1"
	mc reload "$1" >/dev/null
}

fail=0
for i in $(seq 1 "$CYCLES"); do
	# QEMU gone (a crash): stop at once, the checks below fail.
	qemu_alive || { fail=$((fail + 1)); echo "# cycle $i: QEMU is gone"; break; }
	reload_next hcrec "$i" || { fail=$((fail + 1)); echo "# cycle $i: hcrec reload failed"; }
	if [ "$PPP" = 1 ]; then
		m=cons
		[ $((i % 2)) -eq 1 ] && m=prov
		reload_next $m $(((i + 1) / 2)) ||
			{ fail=$((fail + 1)); echo "# cycle $i: $m reload failed"; }
	fi
	if [ $((i % SAMPLE)) -eq 0 ]; then
		sample "$i" | tee -a "$SAMPLES" | sed 's/^/# cycle rss_kb fds maps: /'
	fi
done
is "$fail" 0 "$CYCLES cycles: every reload through the socket succeeded"
[ -n "${SOAK_OUT:-}" ] && { echo "cycle rss_kb fds maps"; cat "$SAMPLES"; } > "$SOAK_OUT"

expect=$CYCLES
[ "$PPP" = 1 ] && expect=$((2 * CYCLES))
is "$(count_events '.event=="reload"') $(count_events '.event=="rollback" or .event=="reject"')" \
	"$expect 0" "$expect reload events, no rollback, no reject"

# Warm-up is the first sample; compare the last with it.
first=$(head -1 "$SAMPLES")
last=$(tail -1 "$SAMPLES")
read -r _ rss0 fd0 maps0 <<<"$first"
read -r _ rss1 fd1 maps1 <<<"$last"
# A control connection's fd may outlive modctl by a moment: wait for the
# count to come back (a leak never does).
_fds_back() { [ "$(fds)" -le "$fd0" ]; }
qemu_alive && wait_for "open fds back to $fd0" _fds_back
ok $? "open fds after warm-up: $fd0, at the last sample $fd1, now $(fds)"
[ "$((maps1 - maps0))" -le "$MAPS_SLACK" ] 2>/dev/null
ok $? "mappings after warm-up: $maps0 -> $maps1 (at most +$MAPS_SLACK)"
rss_max=$(awk 'NR > 1 && $2 > m { m = $2 } END { print m + 0 }' "$SAMPLES")
if [ -n "$RSS_SLACK" ]; then
	[ "$((rss_max - rss0))" -le "$RSS_SLACK" ] 2>/dev/null
	ok $? "resident set after warm-up: $rss0 kB, at most $rss_max kB (at most +$RSS_SLACK kB)"
else
	ok 0 "resident set after warm-up: $rss0 kB, at most $rss_max kB # SKIP no SOAK_RSS_SLACK_KB bound"
fi

# Stop the stream; the guest reports its count and ends QEMU itself.
echo q > "$T/stop.in"
wait_for "the guest's count" serial_has "hcall: sent"
# Exited (a zombie until waited for, which kill -0 still finds).
qemu_exited() { ! grep -qs '^[0-9]* (.*) [^Z]' "/proc/$QEMU_PID/stat"; }
wait_for "QEMU to exit" qemu_exited
wait "$QEMU_PID"
rc=$?
QEMU_PID=
is "$rc" 1 "QEMU ended by the guest (status 1), no crash"
sent=$(sed -n 's/^hcall: sent \([0-9]*\)$/\1/p' "$SERIAL")
x=$(msg hcrec '^exit')
echo "# guest sent $sent; $(jq -r .text <<<"$x")"
[ "${sent:-0}" -gt "$CYCLES" ] 2>/dev/null
ok $? "the guest streamed hypercalls through the reloads ($sent)"
is "$(field calls "$x") $(field bad "$x") $(field next "$x")" "$sent 0 $sent" \
	"hcrec received each of the guest's $sent calls exactly once, in order"

if [ "$PPP" = 1 ]; then
	p=$(msg prov '^exit')
	c=$(msg cons '^exit')
	echo "# $(jq -r .text <<<"$p"); $(jq -r .text <<<"$c")"
	is "$(field received "$p")" "$(field calls "$c")" \
		"every call cons made to prov's export reached a live prov"
	is "$(field handler_calls "$p")" "$(field handled "$c")" \
		"every PPP handler call prov made reached a live cons"
fi
