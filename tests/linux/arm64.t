#!/bin/bash
# An aarch64 Linux guest end to end: Debian's arm64 cloud kernel and a
# busybox-static initramfs for arm64 (tools/linux-guest --arch arm64,
# cached under build/linux-arm64), booted on qemu-system-aarch64 -M virt
# -cpu max -smp 2 with the host, callstack_instr and hcrec loaded.  The
# static user program tests/linux/hcuser-a64.c makes N hypercalls from
# EL0, half in the marked (hint) form and half in PANDA's form, whose
# undefined-instruction trap the kernel delivers as SIGILL and the
# program steps over.  Checks: user space is reached, hcrec sees every
# call with its 64-bit arguments in both forms, callstack_instr follows
# calls (kernel and the user program's, named from its symbols), and the
# guest powers off.  Skips only if the arm64 packages cannot be fetched.
# shellcheck disable=SC2034  # read by lib.sh: QEMU is qemu-system-aarch64
TARGET=aarch64
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" \
	"$TMOD/hcrec-v1.so"
for tool in clang aarch64-linux-gnu-ld; do
	command -v $tool >/dev/null || skip_all "no $tool (tools/install-deps)"
done

LX=$BUILD/linux-arm64
"$TOP/tools/linux-guest" --arch arm64 "$LX" >"$T/build.log" 2>&1
case $? in
0) ;;
2) skip_all "cannot fetch the arm64 Debian packages: $(tail -1 "$T/build.log")" ;;
*) bail "tools/linux-guest --arch arm64 failed: $(tail -3 "$T/build.log")" ;;
esac
plan 7

N=1000
cp "$BUILD/modules/callstack_instr.so" "$MODDIR/"
cp "$TMOD/hcrec-v1.so" "$MODDIR/hcrec.so"
# hook_timeout=0: callstack_instr writes its folded stacks at exit.  A
# boot that hangs with an RCU stall is made again (stall_retried).
stall_retried "$QEMU" -M virt -cpu max -smp 2 -m 256 -display none \
	-monitor none -no-reboot -serial "file:$SERIAL" -kernel "$LX/vmlinuz" \
	-initrd "$LX/initramfs.cpio" \
	-append "console=ttyAMA0 panic=-1 quiet hcuser=$N" \
	-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,hook_timeout=0,load=callstack_instr:hcrec,hcrec.width=64,callstack_instr.stack_type=heuristic,callstack_instr.symbols=$LX/hcuser,callstack_instr.folded=$T/boot.folded" \
	-d plugin -D "$QLOG"
ok $? "Linux boots on -M virt -cpu max, runs the user program and powers off"
tr -d '\r' <"$SERIAL" >"$T/console"	# the PL011 console ends lines with CR LF
grep -qx "init: start" "$T/console"
ok $? "user space is reached (init's line on the serial console)"
grep -qx "hcuser: sent $N, stepped over $((N / 2))" "$T/console"
ok $? "the user program made its $N hypercalls and stepped over each PANDA-form SIGILL"
x=$(events '.event=="message" and .module=="hcrec" and (.text|test("^exit"))' |
	jq -r .text)
echo "# $x"
grep -q "calls=$N bad=0 next=$N cpuid=$((N / 2)) nop=$((N / 2))" <<<"$x"
ok $? "hcrec saw all $N calls from EL0, 64-bit arguments right, in both forms"
is "$(count_events '.event=="hypercall_unknown"')" 0 \
	"no other instruction was taken for a hypercall"
x=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
	jq -r .text)
echo "# $x"
calls=$(sed -n 's/^calls=\([0-9]*\) .*/\1/p' <<<"$x")
[ "${calls:-0}" -gt 0 ] && [ -s "$T/boot.folded" ]
ok $? "callstack_instr counted calls ($calls) and wrote folded stacks"
# _start calls hcuser_main, which calls say(): a stack through both,
# named from the program's own symbols (it is linked away from busybox).
grep -Eq '(^|;)hcuser_main;say ' "$T/boot.folded"
ok $? "the folded stacks follow the user program's calls (hcuser_main;say)"
