#!/bin/bash
# Signature strings (host/signature.c) under libFuzzer with ASan and UBSan:
# FUZZ_SECS (default 10) seconds from a few seeds.  A crash, a sanitizer
# report or a broken contract (tests/fuzz/sig-parse.c: an accepted string
# prints back exactly) fails; the input is kept in build/tests/fuzz/.
. "$(dirname "$0")/../lib.sh"
FUZZ=$BUILD/tests/fuzz/sig-parse
[ -x "$FUZZ" ] || skip_all "no $FUZZ (it needs clang and libclang-rt-14-dev: tools/install-deps)"
plan 1

mkdir "$T/seeds" "$T/corpus"
n=0
for s in "v()" "u32(p,u32,p)" "i64(i8,i16,i32,u8,u16,u64,b,g,s)" "p(" "u32(v)"; do
	n=$((n + 1))
	printf '%s' "$s" > "$T/seeds/$n"
done
"$FUZZ" -artifact_prefix="$T/" -timeout=10 -max_len=512 \
	-max_total_time="${FUZZ_SECS:-10}" "$T/corpus" "$T/seeds" >"$T/fuzz.log" 2>&1
status=$?
if [ $status -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|runtime error' "$T/fuzz.log" | head -20 | sed 's/^/# /'
	for f in "$T"/crash-* "$T"/leak-* "$T"/timeout-*; do
		[ -e "$f" ] && cp "$f" "$BUILD/tests/fuzz/" && echo "# kept $BUILD/tests/fuzz/${f##*/}"
	done
fi
ok $status "${FUZZ_SECS:-10} s of fuzzing signatures: no crash, every accepted one prints back"
grep -E '^Done [0-9]+ runs' "$T/fuzz.log" | sed 's/^/# /'
