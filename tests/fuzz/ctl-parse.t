#!/bin/bash
# The control socket's request parser (host/ctlparse.c) under libFuzzer
# with ASan and UBSan: seeds of every command, then FUZZ_SECS (default 15)
# seconds of fuzzing, inputs up to 8 KiB (the limit is 4 KiB).  Any crash,
# sanitizer report, leak or broken contract (tests/fuzz/ctl-parse.c) fails
# the test; the input that did it is kept in build/tests/fuzz/ to replay
# with  build/tests/fuzz/ctl-parse FILE
. "$(dirname "$0")/../lib.sh"
FUZZ=$BUILD/tests/fuzz/ctl-parse
[ -x "$FUZZ" ] || skip_all "no $FUZZ (it needs clang and libclang-rt-14-dev: tools/install-deps)"
plan 2

run_fuzz() {	# run_fuzz LOG ARGS...: keep a failing input, show the report
	local log=$1 status
	shift
	"$FUZZ" -artifact_prefix="$T/" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-dict="$TOP/tests/fuzz/ctl-parse.dict" "$@" >"$log" 2>&1
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

mkdir "$T/seeds" "$T/corpus"
n=0
for req in "list" "info counter" "load counter start=5 heartbeat=/tmp/x" \
	"unload dep_base force" "reload counter" "symbols" "routes" "stats" \
	"param counter start=0x10" "load  counter	a=1\r" "unload counter now" \
	"bogus" "" "load ../x" "param counter start" "load dwarfp tag=a tag= tag=b" \
	"route 0x12340001:hcsym.hc_greet" "unroute 0x12340001" \
	"route 0x4d480001:a.b" "unroute 0x1:x.y"; do
	n=$((n + 1))
	printf '%b' "$req" > "$T/seeds/$n"
done
head -c 4097 /dev/zero | tr '\0' x > "$T/seeds/long"

run_fuzz "$T/seeds.log" "$T/seeds"/*
ok $? "every seed is parsed without a crash or a broken contract"
run_fuzz "$T/fuzz.log" -max_total_time="${FUZZ_SECS:-15}" "$T/corpus" "$T/seeds"
ok $? "${FUZZ_SECS:-15} s of fuzzing: no crash, no sanitizer report, no broken contract"
grep -E '^Done [0-9]+ runs' "$T/fuzz.log" | sed 's/^/# /'
