#!/bin/bash
# The symbol registry end to end: a consumer calls a provider's export and
# handles its PPP point from vCPU callbacks while both are reloaded over
# and over; every call reaches a live provider, no stale handler runs, the
# import pointer never changes; incompatible versions roll back.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/prov-v1.so" "$TMOD/cons-v1.so" \
	"$TMOD/counter-v1.so"
plan 39

SOCK=$T/ctl.sock
mc() { timeout 60 "$MODCTL" -s "$SOCK" "$@"; }

N=${RELOADS:-100}
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))"; }
# field NAME LINE: the value of NAME=... in a message line
field() { jq -r .text <<<"$2" | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }

drop "$TMOD/prov-v1.so" prov
drop "$TMOD/cons-v1.so" cons
qemu_start load=cons "ctl=$SOCK"

is "$(events '.event=="load"' | jq -r .module | paste -sd' ')" "prov cons" \
	"importing from prov makes prov load first"
init=$(msg cons '^init' | head -1)
ptr=$(field ptr "$init")
[ -n "$ptr" ] && [ "$ptr" != "(nil)" ]
ok $? "the static import is bound before init ($ptr)"
is "$(field again "$init")" "$ptr" "api->import returns the same stable pointer"

# reload_n MODULE N V1 V2: reload N times, alternating two builds
reload_n() {
	local m=$1 n=$2 i
	local base
	base=$(count_events ".event==\"reload\" and .module==\"$m\"")
	for i in $(seq 1 "$n"); do
		if [ $((i % 2)) -eq 1 ]; then drop "$3" "$m"; else drop "$4" "$m"; fi
		wait_event ".event==\"reload\" and .module==\"$m\"" $((base + i)) || return 1
	done
}
wait_ticks 1
reload_n prov "$N" "$TMOD/prov-v2.so" "$TMOD/prov-v1.so"
ok $? "prov reloaded $N times while cons calls it from every block"
reload_n cons 1 "$TMOD/cons-v2.so"
is "$(field ptr "$(msg cons '^init' | tail -1)")" "$ptr" \
	"after $N provider reloads the import pointer is the same"
reload_n cons "$N" "$TMOD/cons-v1.so" "$TMOD/cons-v2.so"
ok $? "cons reloaded $N times while prov runs its handlers from every block"

# -- what cannot replace what is live -------------------------------------------
nfail() { count_events '.event=="reject" or .event=="rollback"'; }
# try_bad FILE MODULE EVENT PATTERN DESCRIPTION
try_bad() {
	local n ev
	n=$(nfail)
	drop "$1" "$2"
	wait_event '.event=="reject" or .event=="rollback"' $((n + 1))
	ev=$(events '.event=="reject" or .event=="rollback"' | tail -1)
	is "$(jq -r '[.event,.module]|join(" ")' <<<"$ev")" "$3 $2" "$5: $3"
	jq -e --arg p "$4" '.error|test($p)' <<<"$ev" >/dev/null
	ok $? "$5: $(jq -r .error <<<"$ev")"
}
try_bad "$TMOD/cons-badsig.so" cons reject \
	"prov.prov_add is u64\\(u64\\), imported as u64\\(u32\\)" "signature mismatch"
try_bad "$TMOD/cons-missing.so" cons reject "required module 'nosuch'" "missing provider"
try_bad "$TMOD/prov-drop.so" prov rollback "export 'prov_add' is gone, but cons imports it" \
	"provider drops an export"
try_bad "$TMOD/prov-sig.so" prov rollback \
	"export 'prov_add' changes from u64\\(u64\\) to u64\\(u32\\)" "provider changes a signature"
try_bad "$TMOD/prov-pppsig.so" prov rollback \
	"PPP point prov.on_block is v\\(u32,u64\\), now declared as v\\(u32\\)" \
	"provider changes a PPP point's signature"

rm "$MODDIR/prov.so"
wait_event '.event=="reject" and .module=="prov" and (.error|test("in use"))'
jq -e '.error|test("unload refused: in use by cons")' \
	<<<"$(events '.event=="reject" and .module=="prov"' | tail -1)" >/dev/null
ok $? "prov refuses to unload while cons imports from it"

sym=$(mc --json symbols | jq -c '.symbols[] | select(.name=="prov.prov_add")')
is "$(jq -r '[.kind,.signature,.provider,(.users|join(","))]|join(" ")' <<<"$sym")" \
	"export u64(u64) prov cons" "modctl symbols shows the export and who imports it"
is "$(mc --json symbols | jq -r '.symbols[] | select(.name=="prov.on_block") | [.kind,.handlers]|join(" ")')" \
	"ppp 1" "and the PPP point with its one handler"

qemu_stop
c=$(msg cons '^exit' | tail -1)
p=$(msg prov '^exit' | tail -1)
echo "# $(jq -r .text <<<"$c") / $(jq -r .text <<<"$p")"
[ "$(field calls "$c")" -gt 0 ] 2>/dev/null
ok $? "cons made calls ($(field calls "$c"))"
is "$(field received "$p")" "$(field calls "$c")" \
	"every call cons made reached a live prov (counts equal)"
is "$(field handler_calls "$p")" "$(field handled "$c")" \
	"every handler prov ran was cons's live one (counts equal)"

# -- refused and forced unloads: a second run ----------------------------------
drop "$TMOD/prov-v1.so" prov
drop "$TMOD/cons-v1.so" cons
qemu_start load=cons "ctl=$SOCK" watch=off
wait_ticks 1

# A refused unload is refused before any quiesce: it neither pauses the
# guest nor becomes prov's last pause.  (A quiesce's event is logged before
# the next quiesce starts: the counter load below orders them.)
last_pause() { mc --json stats | jq '.modules[] | select(.name=="prov") | .last_pause_us'; }
mc reload prov >/dev/null && wait_event '.event=="quiesce"'
ok $? "prov reloaded: one quiesce"
pause=$(events '.event=="quiesce"' | tail -1 | jq .pause_us)
is "$(last_pause)" "$pause" "prov's last pause is that reload's ($pause us)"
nq=$(count_events '.event=="quiesce"')
mc unload prov 2>"$T/err"
grep -q "unload refused: in use by cons" "$T/err"
ok $? "unload prov without force is refused: $(cat "$T/err")"
drop "$TMOD/counter-v1.so" counter
mc load counter >/dev/null && wait_event '.event=="quiesce"' $((nq + 1))
ok $? "another module loads (a quiesce)"
is "$(count_events '.event=="quiesce"')" "$((nq + 1))" \
	"the refused unload asked for no quiesce (only counter's load did)"
is "$(last_pause)" "$pause" "prov's last pause is still its reload's"

mc unload prov force >/dev/null
ok $? "modctl unload prov force"
is "$(events '.event=="unload" and .module=="prov"' | tail -1 | jq -r .forced_users)" "cons" \
	"the forced unload names the user it left behind"
wait_event '.event=="import_dead" and .module=="prov" and .symbol=="prov_add"'
ok $? "cons's next call reaches the stand-in: import_dead"
wait_ticks 2
is "$(count_events '.event=="import_dead"')" "1" "import_dead is logged once"
qemu_alive
ok $? "no crash: the guest runs on, cons calling a dead import"
[ "$(mc --json symbols | jq -r '.symbols[] | select(.name=="prov.prov_add") | .dead_calls')" -gt 1 ] 2>/dev/null
ok $? "modctl symbols counts the dead calls"

# A provider back with another signature for what cons still imports must
# not be wired into cons's stub: its load is refused, naming cons.
drop "$TMOD/prov-sig.so" prov
mc load prov 2>"$T/err"
[ $? -ne 0 ] && grep -q "export 'prov_add' changes from u64(u64) to u64(u32), but cons imports it" "$T/err"
ok $? "prov with prov_add as u64(u32) is refused while cons imports u64(u64): $(cat "$T/err")"
is "$(events '.event=="reject" and .module=="prov"' | tail -1 | jq -r .error)" \
	"export 'prov_add' changes from u64(u64) to u64(u32), but cons imports it" \
	"the reject event names the export and its importer"
dead() { mc --json symbols | jq -r '.symbols[] | select(.name=="prov.prov_add") | [.signature,.live,.dead_calls]|join(" ")'; }
d1=$(dead)
wait_ticks 1
d2=$(dead)
[ "${d1% *}" = "u64(u64) false" ] && [ "${d2% *}" = "u64(u64) false" ] &&
	[ "${d2##* }" -gt "${d1##* }" ] 2>/dev/null
ok $? "cons's calls still reach the stand-in ($d1 -> $d2)"

drop "$TMOD/prov-v1.so" prov
mc load prov >/dev/null && wait_event '.event=="load" and .module=="prov" and .from=="ctl"'
ok $? "prov loads again with the signature cons imported; cons's pointer reaches it again"
wait_ticks 1
qemu_stop
p=$(msg prov '^exit' | tail -1)
[ "$(field received "$p")" -gt 0 ] && [ "$(field handler_calls "$p")" -gt 0 ] 2>/dev/null
ok $? "the new prov receives cons's calls and runs its surviving handler ($(jq -r .text <<<"$p"))"
