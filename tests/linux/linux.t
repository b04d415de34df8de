#!/bin/bash
# A real Linux guest end to end: Debian's cloud kernel and a busybox
# initramfs (tools/linux-guest, cached under build/linux).  A static user
# program asks the host by hypercall to load hcrec, then makes 1000
# hypercalls in both encodings from user space; the event log shows the
# load it asked for and hcrec saw every call with the right 64-bit
# arguments.  Skips only if the Debian packages cannot be fetched.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/hcrec-v1.so"

LX=$BUILD/linux
"$TOP/tools/linux-guest" "$LX" >"$T/build.log" 2>&1
case $? in
0) ;;
2) skip_all "cannot fetch the Debian packages: $(tail -1 "$T/build.log")" ;;
*) bail "tools/linux-guest failed: $(tail -3 "$T/build.log")" ;;
esac
plan 6

N=1000
drop "$TMOD/hcrec-v1.so" hcrec
: > "$EVENTS"
timeout 300 "$QEMU" -M pc -m 256 -display none -monitor none -no-reboot \
	-serial "file:$SERIAL" -kernel "$LX/vmlinuz" -initrd "$LX/initramfs.cpio" \
	-append "console=ttyS0 panic=-1 quiet hcuser=$N" \
	-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,guest_control=on,hcrec.width=64" \
	-d plugin -D "$QLOG" 2>>"$T/stderr"
ok $? "Linux boots, runs the user program and powers off"
grep -q "hcuser: sent $N" "$SERIAL"
ok $? "the user program made its $N hypercalls"
is "$(events '.event=="load"' | jq -r '.module + " from " + .from')" "hcrec from guest" \
	"the load it asked for by hypercall happened (from guest)"
is "$(events '.event=="guest_request"' | jq -r .result)" ok "guest_request: ok"
x=$(events '.event=="message" and .module=="hcrec" and (.text|test("^exit"))' | jq -r .text)
echo "# $x"
grep -q "calls=$N bad=0 next=$N cpuid=$((N / 2)) nop=$((N / 2))" <<<"$x"
ok $? "hcrec saw all $N calls from user space, 64-bit arguments right, both encodings"
is "$(count_events '.event=="hypercall_unknown"')" 0 \
	"the kernel's own cpuid leaves were never taken for hypercalls"
