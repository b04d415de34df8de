# Shared by stpi.t and stpi-arm.t: the live variables at a line and the
# lines of a call, as modhost's clients saw them and as gdb sees them.  The test
# defines probe (the probe's log lines) and gdb_ref CMD... (gdb's batch
# output for the guest stopped at its first instruction).
#
# vars_ours / vars_gdb LINE: "name = value" lines, sorted, scalars only.
# A variable that only has an entry value at the pc (DW_OP_entry_value)
# is LocErr for dwarfp, which does not index call sites; gdb recovers it
# through the caller's call site, or says "<optimized out>" where it
# cannot (clang's Thumb code at -O2).  Both sides show it as
# "name = <entry>": ours when dwarfp says LocErr, gdb's when its location
# there is one.  Globals are left out (g_*, and the Arm start-up's
# cmdline buffer).
vars_ours() { probe | sed -n -e 's/^var \([^ ]*\) [a-z]* = \(-\?[0-9]*\) (\(.*\))$/\1 = \2/p' \
	-e 's/^var \([^ ]*\) err = ? .*/\1 = <entry>/p' | grep -v '^g_\|^cmdline ' | sort; }
vars_gdb() {
	local errs=() v
	for v in $(probe | sed -n 's/^var \([^ ]*\) err = .*/\1/p'); do
		errs+=("info address $v")
	done
	gdb_ref "break sguest.c:$1" continue 'info args' 'info locals' 'p $pc' "${errs[@]}" > "$T/gdbvars"
	# Addresses compare as zero-padded hex strings (mawk has no strtonum).
	awk 'function h(x) { sub(/^0x/, "", x); x = sprintf("%16s", x); gsub(/ /, "0", x); return x }
	     /^\$[0-9]+ = .* 0x/ { pc = h($(NF - 1)); next }
	     /^Symbol "/ { split($0, q, "\""); v = q[2]; next }
	     /^  Range 0x/ { split($2, r, "-"); sub(/:$/, "", r[2]); in_r = pc >= h(r[1]) && pc < h(r[2]) }
	     /DW_OP_entry_value|DW_OP_GNU_entry_value/ && in_r { entry[v] = 1 }
	     /^[a-z_0-9]+ = -?[0-9]+$/ { val[$1] = $0 }
	     /^[a-z_0-9]+ = <optimized out>$/ { val[$1] = "" }
	     END { for (n in val)
		     if (n in entry) print n " = <entry>"
		     else if (val[n] != "") print val[n] }' "$T/gdbvars" | sort
}

# blocks_lines_ours DS: the lines of the first call of blocks() in
# dwarf_simple's output DS (at least 4, or a note that says too few);
# blocks_lines_gdb: the lines gdb's "next" steps through in that call.
blocks_lines_ours() {
	local l
	l=$(awk '/^fn-start: blocks\(\)/ && !d {d=1; sub(/.*ln: */,""); sub(/,.*/,""); print; next}
		d && /^\[/ { if ($0 !~ /\] blocks\(\)/) exit; sub(/.*ln: */,""); sub(/,.*/,""); print }' "$1" | paste -sd' ')
	[ "$(wc -w <<<"$l")" -ge 4 ] || l="(too few: $l)"
	echo "$l"
}
blocks_lines_gdb() {
	local nexts=() i
	for i in $(seq 12); do nexts+=(next); done
	gdb_ref 'break blocks' continue "${nexts[@]}" |
		awk '/^kmain|in kmain/ {exit} /^[0-9]+\t/ {print $1}' | paste -sd' '
}
