#!/bin/bash
# The handler's module is reloaded 100 times while the guest issues
# hypercalls without pause: every call reaches exactly one version, none
# lost, none doubled.  Each call carries its sequence number; hcrec checks
# it against the number it expects next, which it hands to its next
# version with its count.
. "$(dirname "$0")/../lib.sh"
set -- $HC_GUESTS
need "$BUILD/modhost.so" "$TMOD/hcrec-v1.so" "$TMOD/hcrec-v2.so" \
	$(for g in $HC_GUESTS; do guest_elf $g; done)
plan $((3 * $#))

N=${RELOADS:-100}
msg() { events ".event==\"message\" and .module==\"hcrec\" and (.text|test(\"$1\"))"; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

for g in $HC_GUESTS; do
	: > "$EVENTS"
	rm -f "$MODDIR/hcrec.so"
	drop "$TMOD/hcrec-v1.so" hcrec
	GUEST=$g qemu_start load=hcrec -- -append "mode=3 enc=1 magic=0x12345600"
	wait_ticks 1
	fail=0
	for i in $(seq 1 "$N"); do
		if [ $((i % 2)) -eq 1 ]; then drop "$TMOD/hcrec-v2.so" hcrec
		else drop "$TMOD/hcrec-v1.so" hcrec; fi
		wait_event '.event=="reload" and .module=="hcrec"' "$i" || { fail=1; break; }
	done
	ok $fail "$g: hcrec reloaded $N times while the guest makes hypercalls"
	wait_ticks 1
	qemu_stop
	x=$(msg '^exit' | tail -1 | jq -r .text)
	echo "# $x"
	calls=$(field calls "$x")
	[ "${calls:-0}" -gt $((N * 100)) ] 2>/dev/null
	ok $? "$g: $calls hypercalls handled across the reloads"
	is "$(field bad "$x") $(field next "$x")" "0 $calls" \
		"$g: each one exactly once, in order: none lost or doubled"
done
