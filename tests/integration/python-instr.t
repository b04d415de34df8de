#!/bin/bash
# Instrumentation from Python (Documentation/python.rst): @modhost.on_block_exec,
# on_insn_exec and on_mem_access on tests/guest/callgraph.c, whose cg_leaf
# (three instructions, two 4-byte loads) runs 18 times: the script sees
# exactly 18 block entries, 54 instructions and 36 loads there, reads rip
# in the block callback and the loaded bytes with cpu.read().
. "$(dirname "$0")/../lib.sh"
PY=$TOP/tests/python
ELF=$BUILD/tests/guest/callgraph.elf
need "$BUILD/modhost.so" "$BUILD/modhost-python.so" "$ELF"
plan 3

cp "$PY/pyinstr.py" "$MODDIR/"
leaf=0x$(nm "$ELF" | awk '$3 == "cg_leaf" { print $1 }')
GUEST=callgraph qemu_start watch=off load=pyinstr "pyinstr.leaf=$leaf"
wait "$QEMU_PID"
is "$?" 1 "the guest runs to its end under the three callbacks"
QEMU_PID=
x=$(events '.event=="message" and .module=="pyinstr"' | jq -r .text)
is "$x" "blocks=18 insns=54 loads=36 stores=0 sizes=[4] regbad=0 reads=36" \
	"cg_leaf: 18 blocks (rip = the block's pc), 54 instructions, 36 loads of 4 bytes, each read back"
is "$(count_events '.event=="script_error"')" 0 "no exception"
