#!/bin/bash
# dwarfp's own .debug_line decoder (modules/dwarfp/lines.c) against
# libdwarf's, without QEMU: on every DWARF binary the build makes (the
# test guests: gcc's i386 and x86_64, clang's aarch64, arm and Thumb;
# modhost.so and the modules), on a small program built here by gcc and
# by clang at -O0 and -O2 with DWARF 2, 3, 4 and 5, and on the Linux
# guest kernel's vmlinux when its debug package is cached, the merged
# line table (every row: address, file:line, flags, statement line) and
# every function's post-prologue address (`dwarfp-query lines`) are the same byte for byte when
# libdwarf decodes the tables (DWARFP_LINES=libdwarf).  Then broken
# tables: each gives one line on stderr naming .debug_line, the other
# units' rows stay, and nothing crashes or hangs.
. "$(dirname "$0")/../lib.sh"
Q=$BUILD/tests/stpi/dwarfp-query
S=$BUILD/tests/stpi
need "$Q" "$S/sguest64-O2.elf.64"

bins=()
for f in "$S"/*.elf "$S"/*.elf.64 "$BUILD"/tests/guest/*.elf "$BUILD"/modhost.so \
	"$BUILD"/modules/*.so "$BUILD"/linux/upprog-O0 "$BUILD"/linux/upprog-O2; do
	[ -f "$f" ] && readelf -S "$f" 2>/dev/null | grep -q '\.debug_line ' && bins+=("$f")
done
# The same program from each compiler, level and DWARF version.
progs=0
for cc in gcc clang; do
	command -v $cc >/dev/null || continue
	for v in 2 3 4 5; do
		for o in O0 O2; do
			$cc -g -gdwarf-$v -$o -I"$TOP/include" -o "$T/up-$cc-dwarf$v-$o" \
				"$TOP/tests/linux/upprog.c" 2>"$T/cc.err" &&
				bins+=("$T/up-$cc-dwarf$v-$o") && progs=$((progs + 1))
		done
	done
done
V=$BUILD/linux-dbg/vmlinux
plan $((${#bins[@]} + 2 + 5))

# same FILE: the rows and post-prologue addresses of FILE both ways.
same() {
	"$Q" lines "$1" >"$T/own" 2>&1 &&
		DWARFP_LINES=libdwarf "$Q" lines "$1" >"$T/lib" 2>&1 &&
		cmp -s "$T/own" "$T/lib"
}
for f in "${bins[@]}"; do
	same "$f"
	name=${f#"$TOP"/}
	ok $? "${name#"$T"/} ($(readelf --debug-dump=rawline "$f" 2>/dev/null |
		awk '/DWARF Version/ { v[$3] = 1 } END { for (k in v) printf "v%s ", k }')$(grep -c . "$T/own") lines): the same as libdwarf's"
	cmp -s "$T/own" "$T/lib" || diff "$T/lib" "$T/own" | head -4 | diag
done
[ "$progs" -ge 8 ]
ok $? "the program built by gcc and clang at DWARF 2-5 ($progs builds)"
if [ -s "$V" ]; then
	same "$V"
	ok $? "the Linux kernel's vmlinux ($(grep -c . "$T/own") lines): the same as libdwarf's"
	cmp -s "$T/own" "$T/lib" || diff "$T/lib" "$T/own" | head -4 | diag
else
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n # SKIP no $V (make linux-dbg)"
fi

# -- broken tables ----------------------------------------------------------
E=$S/sguest64-O2.elf.64
read -r loff lsize < <(readelf -SW "$E" | sed 's/^ *\[ *[0-9]*\]//' |
	awk '$1 == ".debug_line" { print $4, $5 }')
LOFF=$((16#$loff)) LSIZE=$((16#$lsize))
"$Q" lines "$E" >"$T/good" 2>/dev/null
good=$(wc -l <"$T/good")

# poke FILE OFFSET HEXBYTES...: write the bytes at OFFSET of FILE.
poke() {
	local f=$1 off=$2
	shift 2
	printf "$(printf '\\x%s' "$@")" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
# u32 FILE OFFSET: the little-endian 32-bit value there.
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
# broken NAME: run on $T/bad; one stderr line about .debug_line, some
# rows of the other units kept, fewer than all.
broken() {
	timeout 60 "$Q" lines "$T/bad" >"$T/out" 2>"$T/err"
	local rc=$? n
	n=$(wc -l <"$T/out")
	echo "# $1: exit $rc, $n of $good rows; $(head -1 "$T/err")"
	[ $rc -eq 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '\.debug_line at 0x' "$T/err" &&
		[ "$n" -gt 0 ] && [ "$n" -lt "$good" ]
}
# The first unit (crt0's): its length, the header_length field (DWARF 5).
len0=$(u32 "$E" "$LOFF")
hlen0=$(u32 "$E" $((LOFF + 8)))

cp "$E" "$T/bad"
poke "$T/bad" "$LOFF" f0 ff ff ff
broken "reserved unit length"
ok $? "a reserved unit length: the unit is skipped, said once"

cp "$E" "$T/bad"
poke "$T/bad" $((LOFF + 8)) ff ff ff 7f
broken "header_length past the unit"
ok $? "a header_length past the unit's end: skipped, said once"

cp "$E" "$T/bad"
# The unit cut 5 bytes into its program: inside its first set_address.
cut=$((2 + 2 + 4 + hlen0 + 5))
[ "$cut" -lt "$len0" ] && poke "$T/bad" "$LOFF" $(printf '%08x' $cut |
	sed 's/\(..\)\(..\)\(..\)\(..\)/\4 \3 \2 \1/')
broken "program cut short"
ok $? "a program cut inside an extended opcode: skipped, said once"

cp "$E" "$T/bad"
poke "$T/bad" $((LOFF + 4)) 09 00
broken "version 9"
ok $? "an unknown version: skipped, said once"

# Garbage over the whole section, and over the first unit's program only:
# an error or rows, never a crash or a hang.
bad=0
for seed in $(seq 1 12); do
	cp "$E" "$T/bad"
	if [ $((seed % 2)) -eq 0 ]; then
		off=$LOFF n=$LSIZE
	else
		off=$((LOFF + 12 + hlen0)) n=$((len0 - 8 - hlen0))
	fi
	awk -v s="$seed" -v n="$n" 'BEGIN { srand(s); for (i = 0; i < n; i++)
		printf "%02x ", int(rand() * 256) }' >"$T/bytes"
	# shellcheck disable=SC2046
	poke "$T/bad" "$off" $(cat "$T/bytes")
	timeout 60 "$Q" lines "$T/bad" >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -le 1 ] || { echo "# seed $seed: exit $rc"; bad=1; }
done
ok $bad "garbage in .debug_line (12 patterns): an error line or rows, no crash, no hang"
