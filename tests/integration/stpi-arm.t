#!/bin/bash
# stpi + dwarfp on real QEMU runs of the Arm builds of the stpi test guest
# (tests/stpi/sguest.c; TARGET aarch64, arm or thumb, each at -O0 and -O2;
# tests/integration/arm/ runs each), as stpi.t does for x86, against the
# cross addr2line and gdb-multiarch driving the same guest through QEMU's
# gdbstub: every line-table address looked up through stpi answers as
# addr2line -f; line events pair up and, in a function, are gdb's "next"
# steps; function starts are where gdb's "break FUNC" stops; the live
# variables and their values (read where dwarfp says they are: Arm DWARF
# registers, the stack through the frame base and CFA, constants) equal
# gdb's "info args" + "info locals".
. "$(dirname "$0")/../lib.sh"
[ "$TARGET" = x86_64 ] && skip_all "Arm only (stpi.t covers x86)"
S=$BUILD/tests/stpi
Q=$S/dwarfp-query
case $TARGET in
aarch64) P=a64 A2L=aarch64-linux-gnu-addr2line MACHINE=183 ;;
arm) P=a32 A2L=arm-linux-gnueabihf-addr2line MACHINE=40 ;;
thumb) P=t32 A2L=arm-linux-gnueabihf-addr2line MACHINE=40 ;;
esac
need "$S/$P-sguest-O0.elf" "$S/$P-sguest-O2.elf" "$Q" "$BUILD/modules/stpi.so" \
	"$BUILD/modules/dwarfp.so" "$BUILD/modules/dwarf_simple.so" "$TMOD/stpi_probe.so"
for t in "$A2L" gdb-multiarch; do
	command -v "$t" >/dev/null || skip_all "no $t (tools/install-deps)"
done
plan 15

cp "$BUILD/modules/stpi.so" "$BUILD/modules/dwarfp.so" \
	"$BUILD/modules/dwarf_simple.so" "$TMOD/stpi_probe.so" "$MODDIR/"

# run KERNEL PLUGIN_ARGS...: the guest to its end under modhost; log in $QLOG
run() {
	local elf=$1 args
	shift
	args=$(IFS=,; echo "$*")
	: > "$QLOG"
	: > "$SERIAL"
	timeout 60 "$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -kernel "$elf" \
		-plugin "$MODHOST_SO,dir=$MODDIR,watch=off,$args" -d plugin -D "$QLOG" 2>>"$T/stderr"
}
# gdb_ref CMD...: gdb-multiarch's batch output for $KERNEL stopped at its
# first instruction
gdb_ref() {
	local sock=$T/gdb.sock a=()
	for c in "$@"; do a+=(-ex "$c"); done
	rm -f "$sock"
	"$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none -no-reboot \
		-serial null -kernel "$KERNEL" -S -gdb "unix:$sock,server,wait=off" 2>/dev/null &
	local qp=$!
	wait_for "gdbstub" test -S "$sock" >/dev/null
	timeout 60 gdb-multiarch -nx -batch -ex "file $KERNEL" -ex "target remote $sock" \
		"${a[@]}" -ex kill 2>/dev/null
	kill "$qp" 2>/dev/null
	wait "$qp" 2>/dev/null
}
probe() { sed -n 's/^modhost: stpi_probe: probe: //p' "$QLOG"; }
stat() { probe | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | tail -1; }
gdb_break() { gdb-multiarch -nx -batch -ex "break $2" "$1" | sed -n 's/^Breakpoint 1 at \(0x[0-9a-f]*\).*/\1/p'; }
q_args() { "$Q" rows "$1" | while read -r a; do printf 'stpi_probe.q=0x%x\n' $((0x$a)); done; }
q_answers() { probe | sed -n 's/^q=[^ ]* rc=0 fn=\([^ ]*\) file=\([^ ]*\) line=\([0-9]*\)$/\1\n\2:\3/p'; }
. "$(dirname "$0")/stpi-vars.sh"

for L in O0 O2; do
	KERNEL=$S/$P-sguest-$L.elf
	A="$TARGET -$L"
	mapfile -t qs < <(q_args "$KERNEL")
	DS=$T/ds-$L.out
	run "$KERNEL" load=dwarfp:stpi_probe:dwarf_simple "dwarfp.binary=$KERNEL" \
		"dwarf_simple.out=$DS" "stpi_probe.machine=$MACHINE" stpi_probe.bp_line=52 \
		"${qs[@]}"
	grep -q 'sguest: total' "$SERIAL"
	ok $? "$A: the guest ran to its end under dwarfp"
	"$Q" rows "$KERNEL" | sed 's/^/0x/' | "$A2L" -f -e "$KERNEL" |
		sed -e 's/ (discriminator [0-9]*)//' -e 's/:?$/:0/' > "$T/ref"
	q_answers > "$T/ours"
	diff "$T/ref" "$T/ours" > "$T/diff" && [ ${#qs[@]} -ge 100 ]
	ok $? "$A: stpi_get_pc_source_info equals $A2L -f for all ${#qs[@]} line-table addresses"
	head -4 "$T/diff" | diag

	nb=$(stat before); na=$(stat after)
	[ "${nb:-0}" -gt 100 ] && [ "$na" -eq $((nb - 1)) ] && [ "$(stat bad)" = 0 ]
	ok $? "$A: each line change is after(prev) then before(cur): before=$nb after=$na bad=$(stat bad)"
	bad=0
	for f in add3 scan blocks area; do
		g=$(gdb_break "$KERNEL" $f)
		got=$(probe | awk -v f="$f" '$1=="fn-start" && $2==f {print $3}' | sort | uniq -c | awk '{print $1, $2}')
		[ "$got" = "3 $g" ] || { echo "# $f: got '$got', gdb break at $g, 3 calls"; bad=1; }
	done
	ok $bad "$A: on_fn_start fires at gdb-multiarch's 'break FUNC' address, once per call"
	ours=$(blocks_lines_ours "$DS")
	is "$ours" "$(blocks_lines_gdb)" "$A: line events in blocks() equal gdb-multiarch's next steps ($ours)"

	for line in 52 23; do
		[ "$line" = 23 ] && run "$KERNEL" load=dwarfp:stpi_probe "dwarfp.binary=$KERNEL" \
			"stpi_probe.machine=$MACHINE" stpi_probe.bp_line=23
		ref=$(vars_gdb "$line")
		[ -n "$ref" ] && [ "$ref" = "$(vars_ours)" ]
		ok $? "$A at line $line: variables and values equal gdb-multiarch's ($(echo $ref | tr '\n' ' '))"
		[ "$ref" = "$(vars_ours)" ] || diff <(echo "$ref") <(vars_ours) | diag
	done
	if [ $L = O2 ]; then
		probe | grep -q 'var [a-z_0-9]* reg = [0-9-]* (int, reg [xr][0-9]*)$'
		ok $? "$A: variables in Arm DWARF registers (LocReg) named as QEMU names them ($(probe |
			sed -n 's/^var \([a-z_0-9]*\) reg = .*, reg \(.*\))$/\1:\2/p' | paste -sd' '))"
	fi
done
