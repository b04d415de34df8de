#!/bin/bash
# dwarfp's own DIE walk (modules/dwarfp/dies.c) builds the index libdwarf's
# walk builds, without QEMU: for every DWARF binary the suite has (the
# stpi guests: gcc's DWARF 5 for i386 and x86_64, clang's DWARF 4 for the
# Arm states; modhost.so and modules) and small libraries built here by
# gcc and clang at -O0 and -O2 with DWARF 3, 4 and 5 (type units too),
# and for the Linux guest kernel's vmlinux when its debug package is
# cached, `dwarfp-query dump` (every function, inlined ones too, with its
# ranges, outer function, compile unit, post-prologue line and the lookup
# of its entry, then the globals with their locations) and the variables
# read late (every function's, or on the vmlinux those at a few function
# starts) are the same with DWARFP_QUERY_WALK=libdwarf as without, and
# the own walk read every unit.  A broken .debug_info or
# .debug_abbrev gives an error line and no crash.
. "$(dirname "$0")/../lib.sh"
Q=$BUILD/tests/stpi/dwarfp-query
S=$BUILD/tests/stpi
need "$Q" "$S/sguest-O2.elf" "$S/sguest64-O2.elf.64" "$MODHOST_SO"

# The binaries built here: C with inlining, structures and globals.
SRCS=("$TOP/tests/stpi/sguest.c" "$TOP/tests/guest/libguest.c"
	"$TOP/modules/dwarfp/addrmap.c" "$TOP/modules/dwarfp/lines.c"
	"$TOP/modules/dwarfp/index.c" "$TOP/modules/dwarfp/dies.c")
INC=(-I"$TOP/tests/guest" -I"$TOP/include" -I"$TOP/modules/include"
	-I/usr/include/libdwarf $(pkg-config --cflags glib-2.0))
# With one text section (no hot/cold split) a unit has a base address
# and its ranges are offsets from it (DWARF 5's offset_pair entries).
VARIANTS=("gcc -gdwarf-5 -O0" "gcc -gdwarf-5 -O2"
	"gcc -gdwarf-5 -O2 -fno-reorder-blocks-and-partition" "gcc -gdwarf-4 -O2"
	"gcc -gdwarf-4 -O2 -fno-reorder-blocks-and-partition" "gcc -gdwarf-3 -O2"
	"clang -gdwarf-5 -O0" "clang -gdwarf-5 -O2" "clang -gdwarf-4 -O2"
	"clang -gdwarf-5 -O2 -fdebug-types-section")
bins=()
for f in "$S"/sguest-O{0,2}.elf "$S"/sguest64-O{0,2}.elf.64 \
	"$S"/{a64,a32,t32}-sguest-O{0,2}.elf "$MODHOST_SO" \
	"$BUILD"/modules/{dwarfp,callstack_instr,stpi}.so; do
	[ -e "$f" ] && bins+=("$f")
done
n=0
for v in "${VARIANTS[@]}"; do
	cc=${v%% *}
	command -v "$cc" >/dev/null || continue
	n=$((n + 1))
	# shellcheck disable=SC2086 # the variant's words are the flags
	$v -w -shared -fPIC -nostdlib -ffreestanding -fno-stack-protector \
		"${INC[@]}" -o "$T/lib$n.so" "${SRCS[@]}" &&
		bins+=("$T/lib$n.so") && echo "# lib$n.so: $v"
done
# i386: the guest's own sources only (the others assume 64-bit pointers).
gcc -m32 -gdwarf-4 -O2 -w -shared -fPIC -nostdlib -ffreestanding \
	-fno-stack-protector -I"$TOP/tests/guest" -o "$T/lib32.so" "${SRCS[@]:0:2}" &&
	bins+=("$T/lib32.so") && echo "# lib32.so: gcc -m32 -gdwarf-4 -O2"
V=$BUILD/linux-dbg/vmlinux
plan $((${#bins[@]} + 4))

# same FILE [ADDR...]: the index each way (dump: every function with the
# lookup of its entry, the globals; the variables in scope at each ADDR),
# and without ADDR every function's variables.
same() {
	local f=$1 own ld
	shift
	"$Q" dump "$f" "$@" >"$T/own" 2>"$T/own.err"
	DWARFP_QUERY_WALK=libdwarf "$Q" dump "$f" "$@" >"$T/ld" 2>"$T/ld.err"
	own=$(head -1 "$T/own") ld=$(head -1 "$T/ld")
	case "$own/$ld" in
	"units walked: own "[1-9]*" libdwarf 0/units walked: own 0 libdwarf "[1-9]*) ;;
	*) echo "# own walk: $own; libdwarf walk: $ld"; return 1 ;;
	esac
	[ -s "$T/own.err" ] && { diag <"$T/own.err"; return 1; }
	diff <(tail -n +2 "$T/ld") <(tail -n +2 "$T/own") >"$T/diff" ||
		{ head -5 "$T/diff" | diag; return 1; }
	if [ $# -eq 0 ]; then
		"$Q" vars "$f" >"$T/own.v"
		DWARFP_QUERY_WALK=libdwarf "$Q" vars "$f" >"$T/ld.v"
		diff "$T/ld.v" "$T/own.v" >"$T/diff" ||
			{ head -5 "$T/diff" | diag; return 1; }
	fi
	echo "# $(grep -c ' func cu' "$T/own") functions, $(grep -c ' inlined cu' "$T/own") inlined, $(grep -c '^global ' "$T/own") globals${1:+, variables at $# addresses}"
}

for f in "${bins[@]}"; do
	name=${f#"$BUILD"/}
	same "$f"
	ok $? "${name#"$T"/}: the own walk's index is libdwarf's"
done

if [ -s "$V" ] && [ -s "$BUILD/linux-dbg/System.map" ]; then
	# shellcheck disable=SC2046 # a few function addresses, one word each
	same "$V" $(awk '$2 ~ /^[Tt]$/ && NR % 4999 == 1 { print $1 }' \
		"$BUILD/linux-dbg/System.map")
	ok $? "the vmlinux: the own walk's index is libdwarf's"
else
	ok 0 "# SKIP the kernel's debug package is not cached ($V)"
fi

# -- broken files ------------------------------------------------------------
E=$S/sguest64-O2.elf.64
# sect NAME: its file offset and size, in decimal
sect() {
	readelf -SW "$E" | sed 's/^ *\[ *[0-9]*\]//' |
		awk -v n="$1" '$1 == n { print $4, $5 }' | { read -r o s; echo $((16#$o)) $((16#$s)); }
}
# put FILE OFFSET COUNT BYTE: COUNT bytes BYTE (octal escape) at OFFSET
put() { head -c "$3" /dev/zero | tr '\0' "$4" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
read -r io is < <(sect .debug_info)
read -r ao as < <(sect .debug_abbrev)

# A unit's DIEs overwritten past its unit DIE: that unit is skipped.
cp "$E" "$T/bad"
put "$T/bad" $((io + 0x80)) 64 '\377'
timeout 20 "$Q" dump "$T/bad" >"$T/out" 2>"$T/err"
rc=$? own=$(head -1 "$T/out")
sed 's/^/# /' "$T/err"
[ $rc -eq 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'skipped' "$T/err" &&
	[ "${own#units walked: own }" != "$own" ] && [ "$(awk '$3 == "func"' "$T/out" | wc -l)" -ge 5 ]
ok $? "garbage in .debug_info: one line says which unit was skipped, the rest is indexed"

# .debug_abbrev garbage, then cut short (zeros): an error line each, no crash.
bad=0
for fill in '\377' '\0'; do
	cp "$E" "$T/bad"
	put "$T/bad" $((ao + 16)) $((as - 16)) "$fill"
	timeout 20 "$Q" dump "$T/bad" >/dev/null 2>"$T/err"
	rc=$?
	sed 's/^/# /' "$T/err"
	{ [ $rc -le 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ]; } || bad=1
done
ok $bad "a broken .debug_abbrev gives one error line, no crash"

# Pieces of the file itself written over .debug_info here and there.
bad=0
for k in $(seq 1 40); do
	cp "$E" "$T/bad"
	dd if="$E" bs=1 skip=$((k * 131)) count=$((8 + k % 24)) status=none |
		dd of="$T/bad" bs=1 seek=$((io + (k * 7919) % is)) conv=notrunc status=none
	timeout 20 "$Q" dump "$T/bad" >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -le 1 ] && [ "$(wc -l <"$T/err")" -le 1 ] ||
		{ echo "# case $k: exit $rc, $(wc -l <"$T/err") lines"; bad=1; }
done
ok $bad "40 files with .debug_info overwritten in places: at most an error line each, no crash or hang"
