#!/bin/bash
# The metadata reader (host/loader.c) under libFuzzer with ASan and UBSan:
# the seeds, then FUZZ_SECS (default 20) seconds of fuzzing from them.  Any
# crash, sanitizer report, leak or broken contract fails the test; the
# input that did it is kept in build/tests/fuzz/ to replay with
#   build/tests/fuzz/fuzz-meta FILE
. "$(dirname "$0")/../lib.sh"
FUZZ=$BUILD/tests/fuzz/fuzz-meta
SEEDS=$TOP/tests/fuzz/corpus-meta
[ -x "$FUZZ" ] || skip_all "no $FUZZ (it needs clang and libclang-rt-14-dev: tools/install-deps)"
plan 3

# run_fuzz LOG ARGS...: keep a crashing input, show the report on failure.
run_fuzz() {
	local log=$1 status
	shift
	"$FUZZ" -artifact_prefix="$T/" -timeout=10 -rss_limit_mb=2048 "$@" >"$log" 2>&1
	status=$?
	if [ $status -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 | sed 's/^/# /'
		for f in "$T"/crash-* "$T"/leak-* "$T"/timeout-* "$T"/oom-*; do
			[ -e "$f" ] || continue
			cp "$f" "$BUILD/tests/fuzz/" && echo "# kept $BUILD/tests/fuzz/${f##*/}"
		done
	fi
	return $status
}

run_fuzz "$T/seeds.log" "$SEEDS"/*
ok $? "every seed is read without a crash or a sanitizer report"

mkdir "$T/corpus"
run_fuzz "$T/fuzz.log" -max_total_time="${FUZZ_SECS:-20}" "$T/corpus" "$SEEDS"
ok $? "${FUZZ_SECS:-20} s of fuzzing: no crash, no sanitizer report, no broken contract"
grep -E '^Done [0-9]+ runs' "$T/fuzz.log" | sed 's/^/# /'

# A refusal is one line: keys and values a file holds must not reach the
# message raw (a newline in a key, a tab in a name).
printf '\0abi=1.0\0name=a\0version=1\0bad\nentry\0' > "$T/newline-entry"
printf '\0abi=1.0\0name=a\0version=1\0ke\ty=value\0' > "$T/tab-in-key"
MH_FUZZ_ONE_LINE=1 run_fuzz "$T/oneline.log" "$T/newline-entry" "$T/tab-in-key"
ok $? "refusals of entries with control characters are one line"
