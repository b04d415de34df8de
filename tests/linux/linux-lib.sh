# shellcheck shell=bash
# tests/linux/linux-lib.sh - the Linux guest for tests/linux/*.t, sourced
# after tests/lib.sh: Debian's cloud kernel and the busybox initramfs
# (tools/linux-guest, cached under build/linux), and the kernel's debug
# package (tools/linux-dbg, make linux-dbg, cached under build/linux-dbg).

LX=$BUILD/linux
LXDBG=$BUILD/linux-dbg

# need_linux_guest: build (or reuse) the guest; skip if Debian's packages
# cannot be fetched.
need_linux_guest() {
	"$TOP/tools/linux-guest" "$LX" >"$T/build.log" 2>&1
	case $? in
	0) ;;
	2) skip_all "cannot fetch the Debian packages: $(tail -1 "$T/build.log")" ;;
	*) bail "tools/linux-guest failed: $(tail -3 "$T/build.log")" ;;
	esac
}

# need_linux_dbg: the booted kernel's System.map and vmlinux, if cached;
# never fetched here (280 MB): skip with how to get them.
need_linux_dbg() {
	local kver
	kver=$(basename "$(ls "$LX"/debs/linux-image-*_*.deb 2>/dev/null | head -1)" |
		sed -n 's/^linux-image-\([^_]*\)_.*/\1/p')
	[ -s "$LXDBG/System.map" ] && [ -s "$LXDBG/vmlinux" ] ||
		skip_all "the kernel's debug package is not cached (make linux-dbg)"
	[ "$(cat "$LXDBG/version" 2>/dev/null)" = "$kver" ] ||
		skip_all "the cached debug package is not for kernel $kver (make linux-dbg)"
}

# linux_boot APPEND PLUGIN_ARGS [QEMU_ARG...]: boot the guest to power-off
# (bounded: 300 s means never), serial to $SERIAL, events to $EVENTS.
linux_boot() {
	local append=$1 pargs=$2
	shift 2
	: >"$EVENTS"
	timeout 300 "$QEMU" -M pc -m 256 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -kernel "$LX/vmlinuz" \
		-initrd "$LX/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 quiet $append" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS${pargs:+,$pargs}" \
		-d plugin -D "$QLOG" "$@" 2>>"$T/stderr"
}
