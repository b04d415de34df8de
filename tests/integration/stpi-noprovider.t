#!/bin/bash
# stpi without a provider of debug information (dwarfp) answers "not
# found" and never runs line or function callbacks: it says so, once, in
# the log, rather than let a client count nothing in silence.  With dwarfp
# loaded it says nothing.
. "$(dirname "$0")/../lib.sh"
S=$BUILD/tests/stpi
need "$S/sguest-O0.elf" "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$TMOD/stpi_probe.so"
plan 4

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" "$TMOD/stpi_probe.so" \
	"$MODDIR/"
# run PLUGIN_ARGS...: the guest to its end under modhost
run() {
	local args
	args=$(IFS=,; echo "$*")
	: > "$EVENTS"
	timeout 60 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$S/sguest-O0.elf" \
		-plugin "$MODHOST_SO,dir=$MODDIR,watch=off,log=$EVENTS,$args" \
		-d plugin -D "$QLOG" 2>>"$T/stderr"
}
warnings() { events '.module=="stpi" and .level=="warn"' | jq -r .text; }

run load=stpi:stpi_probe
is "$(count_events '.event=="load" and .module=="stpi_probe"')" 1 \
	"stpi and a client load without a provider"
w=$(warnings)
is "$(grep -c 'no provider of debug information' <<<"$w")" 1 \
	"stpi warns once that no provider is loaded"
echo "# $w"

run load=dwarfp:stpi_probe "dwarfp.binary=$S/sguest-O0.elf"
is "$(count_events '.event=="load" and .module=="dwarfp"')" 1 "dwarfp loads"
is "$(warnings)" "" "with dwarfp loaded stpi warns of nothing"
