# Shared by callstack-gdb.t (x86, gdb) and callstack-gdb-arm.t (Arm,
# gdb-multiarch): both sides of the comparison.
#
# gdb_stops GDB ELF SOCK OUT BREAK...: GDB attaches to the gdbstub at SOCK,
# breaks at each address BREAK and, until the guest exits, writes one line
# per stop to OUT: the functions from the innermost out to kmain, "|", the
# pcs of the frames above the innermost (their return addresses).
gdb_stops() {
	local gdb=$1 elf=$2 sock=$3 out=$4 bps=() a
	shift 4
	for a in "$@"; do bps+=(-ex "break *$a"); done
	cat >"$T/bt.py" <<'EOF'
import gdb

def stop_line():
    f = gdb.newest_frame()
    names, pcs = [], []
    while f is not None:
        names.append(f.name() or "?")
        pcs.append(f.pc())
        if names[-1] == "kmain":
            break
        f = f.older()
    return "%s | %s" % (" ".join(names),
                        " ".join("0x%x" % p for p in pcs[1:]))

with open(OUT, "w") as out:
    while True:
        try:
            gdb.execute("continue", to_string=True)
        except gdb.error:
            break           # the guest exited: QEMU closed the connection
        if not gdb.selected_inferior().threads():
            break
        out.write(stop_line() + "\n")
        out.flush()
EOF
	timeout 120 "$gdb" -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
		-ex "file $elf" -ex "target remote $sock" "${bps[@]}" \
		-ex "python OUT = '$out'" -ex "source $T/bt.py" >"$T/gdb.log" 2>&1
}

# consumer_stops SYMS PROBES: cs_cons's probe lines named like gdb's:
# functions up to kmain, then the return addresses of the frames above it.
consumer_stops() {
	awk 'NR == FNR { n[$1] = $2; next }
	     /^F / { s = ""; k = 0
		     for (i = 2; $i != "|"; i++) {
			     s = s (k++ ? " " : "") (($i in n) ? n[$i] : $i)
			     if (n[$i] == "kmain") break
		     }
		     while ($i != "|") i++
		     c = ""
		     for (j = 1; j < k; j++) c = c (j > 1 ? " " : "") $(i + 1 + j)
		     print s " | " c }' "$1" "$2"
}
