#!/bin/bash
# The host under AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer inside QEMU, through reload, rollback, forced unload, bad
# modules, contained hooks and hostile guests (tests/soak/check-asan,
# also `make check-asan`): every test passes and no report concerns the
# host or a module.  The planted-leak canary runs first, so a check that
# cannot see a leak fails.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ASAN_SO=${ASAN_SO:-$TOP/build-asan/modhost.so}
SAN_CC=${SAN_CC:-clang}
if [ ! -e "$ASAN_SO" ]; then
	echo "1..0 # SKIP $ASAN_SO not built (needs $SAN_CC: make check builds it)"
	exit 0
fi
if [ ! -e "$("$SAN_CC" -print-file-name=libclang_rt.asan-x86_64.so)" ]; then
	echo "1..0 # SKIP no ASan runtime from $SAN_CC (libclang-rt-14-dev)"
	exit 0
fi
echo "1..1"
log=$(mktemp "${TMPDIR:-/tmp}/modhost-asan.XXXXXX")
if ASAN_SO=$ASAN_SO SAN_CC=$SAN_CC "$TOP/tests/soak/check-asan" >"$log" 2>&1; then
	echo "ok 1 - sanitizers: $(tail -1 "$log")"
else
	echo "not ok 1 - sanitizers: a test failed or a report concerns modhost"
	tail -60 "$log" | sed 's/^/# /'
fi
rm -f "$log"
