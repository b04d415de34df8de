#!/bin/bash
# Variables of inlined functions: tests/stpi/inline-guest.c at -O2 has an
# always_inline function whose parameters live in registers across a
# loop.  Without QEMU, dwarfp's index lists them with the out-of-line
# function that holds the instance, visible only inside it, named and
# typed by the abstract origin; on a real run, the function-variables
# query at the first pc of a line in the instance reports them with the
# guest's values.
#
# The guest is built here with the flags of tests/stpi.mk's guests.
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
Q=$S/dwarfp-query
G=$TOP/tests/guest
need "$Q" "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so"
GUEST_CC=${GUEST_CC:-${CC:-cc}}
plan 5

E=$T/inline-guest.elf
CF=(-m32 -march=i686 -ffreestanding -fno-pic -fno-pie -fno-stack-protector
    -fno-asynchronous-unwind-tables -nostdlib -g -O2 -Wall -Wextra -Werror)
for s in "$G/crt0.S" "$G/libguest.c" "$TOP/tests/stpi/inline-guest.c"; do
	o=$T/$(basename "${s%.*}").o
	"$GUEST_CC" "${CF[@]}" -c -o "$o" "$s" || bail "cannot build $s"
done
"$GUEST_CC" -m32 -nostdlib -static -no-pie -Wl,-T,"$G/link.ld" \
	-Wl,--build-id=none -o "$E" "$T/crt0.o" "$T/inline-guest.o" \
	"$T/libguest.o" || bail "cannot link $E"

# The loop's line in spread(), and a pc of it inside outer().
L=$(grep -n 'g_sink = v + i;' "$TOP/tests/stpi/inline-guest.c" | cut -d: -f1)
pc=$("$Q" rows "$E" | "$Q" lookup "$E" | paste - - |
	grep -n "^spread	.*inline-guest.c:$L\$" | head -1 | cut -d: -f1)
[ -n "$pc" ] && pc=$("$Q" rows "$E" | sed -n "${pc}p")
[ -n "$pc" ]
ok $? "line $L is in the inlined instance of spread() (pc ${pc:-none})"

in_scope=$("$Q" vars "$E" "${pc:-0}" | awk '$1 == "outer" { print $2, $3, $4, $5 }')
echo "$in_scope" | grep -qx 'param v unsigned int' &&
	echo "$in_scope" | grep -qx 'param n unsigned int' &&
	echo "$in_scope" | grep -qx 'param x unsigned int'
ok $? "at $pc, outer()'s variables include spread()'s parameters v and n ($(echo $in_scope | tr '\n' ','))"

entry=$("$Q" funcs "$E" | awk '$1 == "outer" { print $2 }')
out=$("$Q" vars "$E" "${entry:-0}" | awk '$1 == "outer" { print $3 }' | paste -sd' ')
is "$out" "x y" "at outer()'s entry ($entry), outside the instance, only its own x and y are in scope"

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so" "$MODDIR/"
timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
	-serial "file:$SERIAL" -device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$E" -plugin "$MODHOST_SO,dir=$MODDIR,watch=off,load=dwarfp:stpi_probe,dwarfp.binary=$E,stpi_probe.bp_line=$L,stpi_probe.bp_file=inline-guest.c" \
	-d plugin -D "$QLOG" 2>"$T/stderr"
# g_seed is 37: outer(37) calls spread(42, 5), which first stores v + 0.
grep -q '^inline-guest: ' "$SERIAL"
ok $? "the guest ran to its end: $(tr -d '\n' < "$SERIAL")"
vars=$(sed -n 's/^modhost: stpi_probe: probe: var \([a-z]*\) [a-z]* = \(-\?[0-9?]*\) .*/\1=\2/p' \
	"$QLOG" | paste -sd' ')
echo "$vars" | grep -qw 'v=42' && echo "$vars" | grep -qw 'n=5' &&
	echo "$vars" | grep -qw 'x=37'
ok $? "stpi's function-variables query in the instance reports v=42 n=5 x=37 ($vars)"
