#!/bin/bash
# The leak check of `make check-asan` can fail: leaky.so, loaded and
# reloaded, loses its allocations, and tests/soak/san-scan must report
# them once QEMU (under tests/soak/asan-qemu) has exited.  Run by
# tests/soak/check-asan before the real tests, with a log dir of its own.
. "$(dirname "$0")/../lib.sh"
need "$MODHOST_SO" "$TMOD/leaky.so"
[ -n "${SAN_LOG_DIR:-}" ] || skip_all "run by tests/soak/check-asan (SAN_LOG_DIR)"
plan 3

drop "$TMOD/leaky.so" leaky
qemu_start load=leaky leaky.bytes=12345
drop "$TMOD/leaky.so" leaky
wait_event '.event=="reload" and .module=="leaky"'
ok $? "leaky reloaded"
qemu_stop
out=$("$(dirname "$0")/san-scan" "$SAN_LOG_DIR")
ok $((! $?)) "san-scan fails on the planted leak"
echo "$out" | sed 's/^/# /' | head -20
n=$(grep -c '^.*: Direct leak of 12345 byte(s) in 1 object(s)' <<<"$out")
is "$n" 2 "both of leaky's lost allocations (one per init) are reported"
