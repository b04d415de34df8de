#!/bin/bash
# callstack_instr on a real Linux guest (Debian's cloud kernel and the
# busybox initramfs of tests/linux/, built and cached by tools/linux-guest)
# with asid stacks: Linux boots, runs its user program and powers off; the
# module logs no error and saw millions of calls in several address spaces;
# a consumer's handlers always found their frame on top.  With threaded
# stacks and rets=counted the consumer's on_ret handler still sees every
# ret: while on_ret has handlers, the kernel's rets keep their callbacks.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so"
[ -x "$TOP/tools/linux-guest" ] || skip_all "no tools/linux-guest in this tree"

LX=$BUILD/linux
"$TOP/tools/linux-guest" "$LX" >"$T/build.log" 2>&1
case $? in
0) ;;
2) skip_all "cannot fetch the Debian packages: $(tail -1 "$T/build.log")" ;;
*) bail "tools/linux-guest failed: $(tail -3 "$T/build.log")" ;;
esac
plan 7

cp "$BUILD/modules/callstack_instr.so" "$TMOD/cs_cons.so" "$MODDIR/"
cp "$BUILD/modules/osi.so" "$BUILD/modules/osi_linux.so" "$MODDIR/"
# boot LOG PLUGIN_ARGS: Linux to power-off, one vCPU, the host logging to
# $EVENTS and QEMU to LOG; QEMU's status.
boot() {
	timeout 300 "$QEMU" -M pc -m 256 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -kernel "$LX/vmlinuz" -initrd "$LX/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 quiet hcuser=10" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,watch=off,$2" \
		-d plugin -D "$1" 2>>"$T/stderr"
}
boot "$QLOG" "load=cs_cons,cs_cons.out=$T/counts"
ok $? "Linux boots and powers off with callstack_instr loaded (asid stacks)"
grep -q "init: done" "$SERIAL"
ok $? "its user space ran to the end"
is "$(count_events '.module=="callstack_instr" and (.level=="error" or .level=="warn")')" 0 \
	"callstack_instr logged no error or warning"
stats=$(events '.event=="message" and .module=="callstack_instr" and (.text|test("^calls="))' |
	jq -r .text)
echo "# $stats"
calls=$(sed -n 's/^calls=\([0-9]*\).*/\1/p' <<<"$stats")
stacks=$(sed -n 's/.*stacks=\([0-9]*\)$/\1/p' <<<"$stats")
[ "${calls:-0}" -gt 1000000 ] && [ "${stacks:-0}" -gt 2 ]
ok $? "it saw $calls calls in $stacks address spaces"
is "$(grep '^top_mismatch' "$T/counts")" "top_mismatch 0" \
	"every on_call/on_ret handler found its frame on top of get_functions()"

# The same with threaded stacks and rets=counted asked for: on_ret's
# handler makes the rets exact.
rets_total() { awk '/^0x/ { s += $3 } END { print s + 0 }' "$1"; }
cp "$T/counts" "$T/counts.exact"
boot "$T/counted.log" "load=osi_linux:cs_cons,cs_cons.out=$T/counts,callstack_instr.stack_type=threaded,callstack_instr.rets=counted"
st=$?
grep -q "callstack_instr: stack_type=threaded max_depth=1024 rets=counted" "$T/counted.log"
ok $((st || $?)) "Linux boots and powers off with rets=counted and the consumer"
# Counted rets would reach the handler too, at the next call; only a ret's
# own callback sees a retpoline's rewritten slot ("redirected").
rets=$(rets_total "$T/counts")
redirected=$(grep -o 'redirected=[0-9]*' "$T/counted.log" | tail -1 | cut -d= -f2)
[ "$rets" -gt 1000000 ] && [ $((rets * 10)) -ge $(($(rets_total "$T/counts.exact") * 9)) ] &&
	grep -qx "top_mismatch 0" "$T/counts" && [ "${redirected:-0}" -gt 1000 ]
ok $? "its on_ret handler saw $rets rets (rets=exact: $(rets_total "$T/counts.exact")), each frame on top, $redirected through a rewritten slot: each ret had its callback"
