#!/bin/bash
# dwarfp's function= filter: line and function-start events only in the
# functions named (globs, repeatable).  sguest calls each of its four test
# functions (add3, scan, blocks, area) three times; stpi_probe counts the
# starts and the line events.
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
need "$S/sguest-O0.elf" "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$TMOD/stpi_probe.so"
plan 5

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so" "$MODDIR/"

run() {
	local args
	args=$(IFS=,; echo "$*")
	: > "$QLOG"
	timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$S/sguest-O0.elf" \
		-plugin "$MODHOST_SO,dir=$MODDIR,watch=off,load=dwarfp:stpi_probe,dwarfp.binary=$S/sguest-O0.elf${args:+,$args}" \
		-d plugin -D "$QLOG" 2>>"$T/stderr"
}
probe() { sed -n 's/^modhost: stpi_probe: probe: //p' "$QLOG"; }
stat() { probe | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | tail -1; }
# starts: how many times each of the four test functions started, and
# how many starts there were of any function
starts() { for f in add3 scan blocks area; do
	probe | awk -v f=$f '$1 == "fn-start" && $2 == f' | wc -l; done | paste -sd' '
	probe | awk '$1 == "fn-start"' | wc -l; }

run
all=$(stat before)
echo "# no function=: $(starts | tr '\n' ' '), $all line events"
run dwarfp.function=add3
is "$(starts | tr '\n' ' ')" "3 0 0 0 3 " "function=add3: add3's three starts only"
add3=$(stat before)
[ "${add3:-0}" -gt 0 ] && [ "$add3" -lt "${all:-0}" ] && [ "$(stat bad)" = 0 ]
ok $? "... and its line events only: $add3 of $all, paired"
run "dwarfp.function=a*"
is "$(starts | tr '\n' ' ')" "3 0 0 3 6 " "function=a* (a glob): add3 and area"
run dwarfp.function=add3 dwarfp.function=blocks
is "$(starts | tr '\n' ' ')" "3 0 3 0 6 " "function= twice: add3 and blocks"
run dwarfp.function=no_such_function
[ "$(stat before)" = 0 ] && [ "$(stat fn)" = 0 ]
ok $? "a function= that names nothing: no events"
