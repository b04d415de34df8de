#!/bin/bash
# Kernel symbols on a real Linux boot: callstack_instr.symbols= given the
# System.map of Debian's -dbg package (make linux-dbg; the test skips
# without it), KASLR on.  The module finds the kernel's offset from the
# call targets and reports it; then the folded stacks of the boot name at
# least 99% of the kernel's frames, counted both per frame and per call,
# and show the kernel's own entry points by name.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux-lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so"
need_linux_guest
need_linux_dbg
plan 5

cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
# heuristic stacks: a third of asid's folded file, the same frames.
linux_boot "hcuser=10" "watch=off,hook_timeout=0,load=callstack_instr,callstack_instr.stack_type=heuristic,callstack_instr.symbols=$LXDBG/System.map,callstack_instr.folded=$T/boot.folded"
ok $? "Linux boots and powers off with callstack_instr and the System.map"

msg=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^symbols: offset"))' |
	jq -r .text)
echo "# $msg"
off=$(sed -n 's/^symbols: offset \(-*0x[0-9a-f]*\) .*/\1/p' <<<"$msg")
[ -n "$off" ] && [ $((off % (2 << 20))) -eq 0 ]
ok $? "the KASLR offset was found and reported: ${off:-none}, a multiple of 2 MiB"

# Kernel frames: upper-half addresses left in hex, or names.  User space
# (busybox, no symbols) is in hex in the lower half; [unknown] is a frame
# whose callee was never seen.
read -r fnamed fhex cnamed chex < <(awk '
	function kind(x) {
		if (x ~ /^0xffff[89a-f]/) return "hex"
		if (x ~ /^0x/ || x ~ /^\[/) return ""
		return "named"
	}
	{
		n = split($1, f, ";")
		for (i = 1; i <= n; i++) {
			k = kind(f[i])
			if (k == "") continue
			frames[k]++
			if (i == n) calls[k] += $2
		}
	}
	END { print frames["named"] + 0, frames["hex"] + 0, calls["named"] + 0, calls["hex"] + 0 }' \
	"$T/boot.folded")
echo "# kernel frames: $fnamed named, $fhex in hex; calls: $cnamed named, $chex in hex"
[ "$fnamed" -gt 1000000 ] && [ $((fhex * 100)) -le $(((fnamed + fhex) * 1)) ]
ok $? "at least 99% of the kernel frames in the folded stacks are named"
[ "$cnamed" -gt 1000000 ] && [ $((chex * 100)) -le $(((cnamed + chex) * 1)) ]
ok $? "at least 99% of the kernel's calls are to named functions"
grep -q ';kernel_init_freeable;' "$T/boot.folded" && grep -q ';do_syscall_64;' "$T/boot.folded"
ok $? "the boot's stacks show kernel_init_freeable and do_syscall_64 by name"
