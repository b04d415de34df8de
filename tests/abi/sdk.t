#!/bin/bash
# The conformance suite against an installed SDK, as a third party runs it:
# make install PREFIX=..., then make -C tests/abi SDK=PREFIX/lib/modhost/sdk
# (the test modules built with the installed SDK alone, run by the
# installed host), and the installed headers checked against the manifest.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so"
command -v gdb >/dev/null || skip_all "gdb is missing (tools/install-deps)"
plan 3

P=$T/prefix
SDK=$P/lib/modhost/sdk
make -s -C "$TOP" install PREFIX="$P" >"$T/install.log" 2>&1
ok $? "make install PREFIX=..."
[ -f "$SDK/Makefile" ] || { sed 's/^/# /' "$T/install.log"; bail "no SDK installed"; }

out=$("$TOP/tools/abi-check" --include "$P/include" --older-ok 2>&1)
ok $? "the installed headers declare the ABI abi/ records"
sed 's/^/# /' <<<"$out" | grep -v ': added: '

make -s -C "$TOP/tests/abi" check SDK="$SDK" O="$T/abi" >"$T/suite.log" 2>&1
status=$?
ok $status "make -C tests/abi SDK=<installed sdk>: the conformance suite passes"
grep -E '^(not ok|Result|Files=)' "$T/suite.log" | sed 's/^/# /'
[ $status -eq 0 ] || tail -30 "$T/suite.log" | sed 's/^/# /'
