#!/bin/bash
# Hot reload end to end: load at start, reload with state handoff, every
# kind of broken file rejected or rolled back while the old version keeps
# counting, unload flushes the module's callbacks, then the whole cycle
# again.  A real QEMU boots the spin guest; the counter module counts
# executed blocks into a heartbeat file we read from outside.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so" "$TMOD/counter-crash.so"
plan 41

HB=$T/heartbeat
export MODHOST_TEST_MARKER=$T/marker
# still_counting WHAT: the live version's callbacks still run.
still_counting() { hb_grows; ok $? "$1: old version still live and counting"; }
last_text() { events ".event==\"message\" and (.text|test(\"$1\"))" | tail -1 | jq -r .text; }

drop "$TMOD/counter-v1.so" counter
qemu_start load=counter "counter.heartbeat=$HB" -- -smp "${SMP:-1}"

wait_event '.event=="load" and .module=="counter"'
is "$(events '.event=="start"' | jq -r .vcpus)" "${SMP:-1}" "host sees ${SMP:-1} vCPU(s)"
is "$(events '.event=="load"' | jq -r '[.version,.from]|join(" ")')" "1 start" \
	"load=counter loads version 1 at start"
wait_for "heartbeat" hb_above 0
ok $? "the module's block callback runs"

# -- reload with state handoff --------------------------------------------
wait_ticks 1
drop "$TMOD/counter-v2.so" counter
wait_event '.event=="reload" and .version=="2"'
ok $? "a changed file is reloaded"
is "$(events '.event=="reload"' | jq -r '[.old_version,.version,.from]|join(" ")')" \
	"1 2 watch" "reload event names both versions"
saved=$(last_text '^save count=' | sed 's/save count=//')
restored=$(last_text '^restore count=' | sed 's/restore count=\([0-9]*\) from \(.*\)/\1 \2/')
[ "${saved:-0}" -gt 0 ]
ok $? "old version saved a non-zero count ($saved)"
is "$restored" "$saved 1" "new version restored exactly that count, told the old version"
is "$(events '.event=="state_handoff"' | jq -r '[.from_version,.version,.bytes]|join(" ")')" \
	"1 2 8" "state_handoff event with the blob size"
[ "$(events '.event=="quiesce"' | jq -r '.pause_us' | tail -1)" -ge 0 ] 2>/dev/null
ok $? "quiesce event reports pause_us"

# -- broken files: rejected before any code runs ---------------------------
nfail() { count_events '.event=="reject" or .event=="rollback"'; }
# try_broken FILE EVENT PATTERN DESCRIPTION
try_broken() {
	local n
	n=$(nfail)
	drop "$1" counter
	wait_event '.event=="reject" or .event=="rollback"' $((n + 1))
	local ev
	ev=$(events '.event=="reject" or .event=="rollback"' | tail -1)
	is "$(jq -r .event <<<"$ev")" "$2" "$4: $2 event"
	jq -e --arg p "$3" '.error|test($p)' <<<"$ev" >/dev/null
	ok $? "$4: error says '$3' ($(jq -r .error <<<"$ev"))"
	still_counting "$4"
}

echo "this is not a module" > "$T/notelf.so"
try_broken "$T/notelf.so" reject "not an ELF file" "not ELF"

size=$(stat -c %s "$TMOD/counter-v2.so")
head -c $((size / 2)) "$TMOD/counter-v2.so" > "$T/trunc.so"
try_broken "$T/trunc.so" reject "truncated|outside the file|corrupt" "truncated ELF"

try_broken "$TMOD/counter-abimajor.so" reject \
	"ABI $((ABI_MAJOR + 1))\\.$ABI_MINOR.*host has ABI $ABI_MAJOR\\.$ABI_MINOR" "ABI major + 1"
try_broken "$TMOD/counter-abiminor.so" reject \
	"ABI $ABI_MAJOR\\.$((ABI_MINOR + 1)).*host has ABI $ABI_MAJOR\\.$ABI_MINOR" "ABI minor newer"
! grep -q 'abimajor\|abiminor' "$MODHOST_TEST_MARKER" 2>/dev/null
ok $? "no code of the ABI-refused modules ran (constructor marker absent)"

try_broken "$TMOD/counter-initfail.so" rollback "init failed: -22" "init returns -EINVAL"
grep -q 'counter initfail' "$MODHOST_TEST_MARKER"
ok $? "the marker does show code that ran (init-failing module's constructor)"
try_broken "$TMOD/counter-crash.so" rollback "init crashed \\(Segmentation fault\\)" "init segfaults"

is "$(events '.event=="rollback"' | jq -r .version | sort -u)" "2" \
	"every rollback kept version 2"

# -- delete: unload, and the callbacks stop ---------------------------------
rm "$MODDIR/counter.so"
wait_event '.event=="unload" and .from=="watch"'
ok $? "a deleted file is unloaded"
h1=$(heartbeat "$HB")
wait_ticks 3
h2=$(heartbeat "$HB")
is "$h2" "$h1" "no callback of the unloaded module runs (translated code flushed)"
qemu_alive
ok $? "guest still running"

# -- load, reload, unload, load again ----------------------------------------
drop "$TMOD/counter-v3.so" counter
wait_event '.event=="load" and .version=="3"'
ok $? "loaded again (version 3) from the watched directory"
wait_for "heartbeat" hb_above "$h2"
ok $? "counting again"
drop "$TMOD/counter-v1.so" counter
wait_event '.event=="reload" and .version=="1" and .old_version=="3"'
ok $? "reloaded 3 -> 1"
rm "$MODDIR/counter.so"
wait_event '.event=="unload" and .from=="watch"' 2
ok $? "unloaded again"
drop "$TMOD/counter-v2.so" counter
wait_event '.event=="load" and .version=="2"'
ok $? "and loaded once more"

qemu_stop
is "$(events '.event=="unload"' | tail -1 | jq -r '[.version,.from]|join(" ")')" \
	"2 exit" "QEMU exit unloads the live module"
is "$(count_events '.event=="load"')" "3" "three loads in all"
is "$(count_events '.event=="reload"')" "2" "two reloads in all"
