#!/bin/bash
# Broken files in place of a live module: only a missing file unloads.  A
# dangling symlink, a symlink loop, a FIFO or a directory where counter.so
# was is a reject saying what is wrong, and the live version keeps
# counting; the host never blocks on the FIFO.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so" "$TMOD/counter-v3.so"
command -v perl >/dev/null || skip_all "perl not found"
plan 14

HB=$T/heartbeat
still_counting() { hb_grows; ok $? "$1: the live version still counts"; }
nrej() { count_events '.event=="reject"'; }
# expect_reject N PATTERN WHAT: the N-th reject names counter.so and says PATTERN.
expect_reject() {
	wait_event '.event=="reject"' "$1"
	local ev
	ev=$(events '.event=="reject"' | sed -n "$1p")
	[ -n "$ev" ] && jq -e --arg p "$2" '.module=="counter" and (.file|endswith("/counter.so")) and
		(.error|test($p))' <<<"$ev" >/dev/null
	ok $? "$3: reject saying '$2' ($(jq -r .error <<<"$ev"))"
	still_counting "$3"
}
# put: rename $MODDIR/.new (a symlink, a FIFO ...) over counter.so.
put() { mv -T "$MODDIR/.new" "$MODDIR/counter.so"; }

drop "$TMOD/counter-v1.so" counter
qemu_start load=counter "counter.heartbeat=$HB"
wait_event '.event=="load" and .module=="counter"'
wait_for "heartbeat" hb_above 0

n=$(nrej)
ln -s "$T/nowhere.so" "$MODDIR/.new" && put
expect_reject $((n + 1)) "dangling symbolic link" "dangling symlink"

n=$(nrej)
ln -s counter.so "$MODDIR/.new" && put
expect_reject $((n + 1)) "symbolic link loop" "symlink loop"

n=$(nrej)
mkfifo "$MODDIR/.new" && put
expect_reject $((n + 1)) "not a regular file \\(a FIFO\\)" "FIFO"

# The host is not stuck on the FIFO: a good file reloads over it.
drop "$TMOD/counter-v2.so" counter
wait_event '.event=="reload" and .version=="2"'
ok $? "a good file after the FIFO reloads (1 -> 2)"

# A directory cannot be renamed over a file: unlinked and made at once,
# one change, as a rebuild would.
n=$(nrej)
perl -e 'unlink $ARGV[0] or die "$!"; mkdir $ARGV[0] or die "$!"' "$MODDIR/counter.so"
expect_reject $((n + 1)) "not a regular file \\(a directory\\)" "directory counter.so"

# A directory for a module never loaded: a reject too, nothing loads.
mkdir "$MODDIR/other.so"
wait_event '.event=="reject" and .module=="other"'
is "$(events '.event=="reject" and .module=="other"' | jq -r .error)" \
	"not a regular file (a directory)" "directory other.so: reject"

is "$(count_events '.event=="unload"')" "0" "no broken file unloaded the module"
is "$(events '.event=="load" or .event=="reload"' | jq -r .version | tail -1)" "2" \
	"version 2 is still the live one"

# Only a missing file unloads.
rmdir "$MODDIR/counter.so"
wait_event '.event=="unload" and .from=="watch"'
ok $? "the directory removed: missing, unloaded"
qemu_alive
ok $? "QEMU still running"
