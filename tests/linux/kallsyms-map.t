#!/bin/bash
# Kernel symbols without the debug package: osi-profile --system-map
# writes a System.map of the kernel image QEMU boots from the kernel's own
# kallsyms tables.  Its functions are exactly the -dbg package's System.map
# functions (when that package is cached, make linux-dbg; a skip line
# otherwise), and callstack_instr.symbols= given it names at least 99% of
# the kernel frames of a boot's folded stacks, KASLR on.  An image without
# kallsyms tables is refused with a line that says so.  symbols= also takes
# the image itself (the bzImage QEMU boots) and reads the same functions;
# symbols=kernel is the -kernel QEMU was started with; a broken image is
# refused at load with what is wrong with it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$BUILD/bin/osi-profile"
need_linux_guest
plan 12

MAP=$T/kallsyms.map
"$BUILD/bin/osi-profile" --system-map "$LX/vmlinuz" "$MAP" 2>"$T/map.err"
nfun=$(awk '$2 ~ /^[Tt]$/' "$MAP" | wc -l)
[ "$nfun" -gt 40000 ] && LC_ALL=C sort -c -s -k1,1 "$MAP" 2>/dev/null
ok $? "osi-profile --system-map writes the image's symbols in address order ($(wc -l < "$MAP") symbols, $nfun functions) $(cat "$T/map.err")"

if linux_dbg_cached; then
	funcs() { awk '$2 ~ /^[Tt]$/ { print $1, $3 }' "$1" | sort; }
	is "$(diff <(funcs "$LXDBG/System.map") <(funcs "$MAP") | head -5)" "" \
		"its functions (address and name) are the -dbg package's System.map's, every one"
else
	ok 0 "# skip the kernel's debug package is not cached (make linux-dbg)"
fi

"$BUILD/bin/osi-profile" --system-map "$BUILD/tests/guest/spin.elf" "$T/none.map" 2>"$T/none.err"
r=$?
grep -q "spin.elf: no kallsyms tables" "$T/none.err" && [ "$r" = 1 ] && [ ! -e "$T/none.map" ]
ok $? "an image without kallsyms tables is refused: $(cat "$T/none.err")"

# A symbolic link or a FIFO given as OUT is written through, not replaced.
# (The reader gives up after 30 s: a FIFO replaced by a file never opens.)
ln -s map.real "$T/map.link"
mkfifo "$T/map.fifo"
timeout 30 cat "$T/map.fifo" > "$T/map.fromfifo" &
reader=$!
"$BUILD/bin/osi-profile" --system-map "$LX/vmlinuz" "$T/map.fifo" 2>"$T/fifo.err" &&
	wait $reader &&
	"$BUILD/bin/osi-profile" --system-map "$LX/vmlinuz" "$T/map.link" 2>"$T/link.err" &&
	[ -L "$T/map.link" ] && [ -p "$T/map.fifo" ] &&
	cmp -s "$MAP" "$T/map.real" && cmp -s "$MAP" "$T/map.fromfifo"
ok $? "osi-profile writes through a symbolic link and a FIFO, leaving each in place $(cat "$T/fifo.err" "$T/link.err")"
wait $reader 2>/dev/null

cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
linux_boot "" "watch=off,hook_timeout=0,load=callstack_instr,callstack_instr.stack_type=heuristic,callstack_instr.symbols=$MAP,callstack_instr.folded=$T/boot.folded"
ok $? "Linux boots and powers off with callstack_instr and that map"

off=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^symbols: offset"))' |
	jq -r .text | sed -n 's/^symbols: offset \(-*0x[0-9a-f]*\) .*/\1/p')
[ -n "$off" ] && [ $((off % (2 << 20))) -eq 0 ]
ok $? "the KASLR offset was found under it: ${off:-none}"

# Upper-half frames in hex against named ones (user space stays in hex).
read -r named hex < <(awk '{ n = split($1, f, ";")
		for (i = 1; i <= n; i++)
			if (f[i] ~ /^0xffff[89a-f]/) h++
			else if (f[i] !~ /^0x/ && f[i] !~ /^\[/) k++ }
	END { print k + 0, h + 0 }' "$T/boot.folded")
[ "$named" -gt 1000000 ] && [ $((hex * 100)) -le $((named + hex)) ] &&
	grep -q ';kernel_init_freeable;' "$T/boot.folded"
ok $? "at least 99% of the kernel frames are named ($named named, $hex in hex)"

# kstart ARGS: QEMU with ARGS until callstack_instr loads or is refused.
kstart() { start_loaded callstack_instr -M pc -m 64 "$@"; }
funcs_line() { grep -o 'symbols: [0-9]* functions ([^)]*)' "$T/start.log"; }
nmap=$(grep -o 'symbols: [0-9]* functions (System.map)' "$QLOG" | grep -o '[0-9]*')
PL="$MODHOST_SO,dir=$MODDIR,load=callstack_instr,callstack_instr.symbols"

kstart -kernel "$LX/vmlinuz" -plugin "$PL=$LX/vmlinuz"
is "$(funcs_line)" "symbols: ${nmap:-?} functions (the kernel image's kallsyms)" \
	"callstack_instr.symbols= takes the bzImage itself: the map's functions, from its kallsyms"
kstart -kernel "$LX/vmlinuz" -plugin "$PL=kernel"
is "$(funcs_line)" "symbols: ${nmap:-?} functions (the kernel image's kallsyms)" \
	"symbols=kernel: the image QEMU was started with, no file given"
kstart -kernel "$BUILD/tests/guest/spin.elf" -plugin "$PL=kernel"
is "$(funcs_line | sed 's/[0-9][0-9]*/N/')" "symbols: N functions (ELF symbol table)" \
	"symbols=kernel with another -kernel: that file's symbols"
kstart -plugin "$PL=kernel"
grep -q "callstack_instr: symbols=kernel: this QEMU was started without -kernel" "$T/start.log"
ok $? "symbols=kernel without -kernel is refused, saying so"
head -c 4096 "$LX/vmlinuz" > "$T/cut.bz"
kstart -plugin "$PL=$T/cut.bz"
grep -q "callstack_instr: symbols=$T/cut.bz: bzImage payload out of the file\$" "$T/start.log"
ok $? "a bzImage cut short is refused at load, once named: $(grep -m1 -o 'symbols=.*' "$T/start.log")"
