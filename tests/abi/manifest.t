#!/bin/bash
# The module ABI the headers declare is the one abi/ records: tools/abi-check
# on the tree (make abi-check), the snapshot of the manifest's own minor
# against the manifest, and abidiff (Debian's abigail-tools, optional) as a
# second opinion on the layouts.
. "$(dirname "$0")/../lib.sh"
command -v gdb >/dev/null || skip_all "gdb is missing (tools/install-deps)"
VER=$(sed -n 's/^abi //p' "$TOP"/abi/v*.manifest | sort -V | tail -1)
need "$TOP/abi/headers/$VER/modhost/module.h"
plan 3

out=$("$TOP/tools/abi-check" 2>&1)
status=$?
ok $status "include/modhost declares the ABI abi/ records (tools/abi-check)"
sed 's/^/# /' <<<"$out"
exact=0
grep -q ': ok: include/modhost matches' <<<"$out" && exact=1

out=$("$TOP/tools/abi-check" --include "$TOP/abi/headers/$VER" 2>&1)
grep -q ": ok: abi/headers/$VER/modhost matches" <<<"$out"
ok $? "abi/headers/$VER, the headers of the manifest's minor, match it"
[ $? -eq 0 ] || diag <<<"$out"

# abidiff compares two shared objects' DWARF.  Each probe exports one
# variable of every public type (a pointer for an opaque one), built from
# the manifest's minor's headers and from the tree's.
probe_so() {	# probe_so INCLUDE_DIR OUT
	"$TOP/tools/abi-check" --print --include "$1" | awk '
		$1 == "struct" && $3 == "opaque" { print "struct " $2 " *mh_probe_" $2 ";"; next }
		$1 == "struct" && / typedef/ { print $2 " mh_probe_" $2 ";"; next }
		$1 == "struct" || $1 == "union" { print $1 " " $2 " mh_probe_" $2 ";"; next }
		$1 == "enum" { print "enum " $2 " mh_probe_enum_" $2 ";"; next }
		$1 == "typedef" && $3 != "struct" { print $2 " mh_probe_t_" $2 ";" }' \
		> "$T/probe-vars.c"
	{
		for h in "$1"/modhost/*.h; do echo "#include <modhost/${h##*/}>"; done
		cat "$T/probe-vars.c"
	} > "$T/probe.c"
	${CC:-cc} -shared -fPIC -g -O0 -I"$1" -o "$2" "$T/probe.c"
}
if ! command -v abidiff >/dev/null; then
	echo "ok 3 # SKIP abidiff not installed (apt-get install abigail-tools for a second opinion)"
elif [ $exact -eq 0 ]; then
	echo "ok 3 # SKIP abi-check reports differences: abidiff only double-checks an exact match"
else
	probe_so "$TOP/abi/headers/$VER" "$T/old.so" && probe_so "$TOP/include" "$T/new.so"
	abidiff "$T/old.so" "$T/new.so" > "$T/abidiff.txt" 2>&1
	status=$?
	ok $status "abidiff agrees: no layout change since ABI $VER (exit $status)"
	[ $status -eq 0 ] || sed 's/^/# /' "$T/abidiff.txt" | head -40
fi
