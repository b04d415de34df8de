# shellcheck shell=bash
# tests/linux/linux-lib.sh - more for tests/linux/*.t, sourced after
# tests/lib.sh (whose need_linux_guest and linux_boot build and boot the
# guest): the kernel's debug package (tools/linux-dbg, make linux-dbg,
# fetched on first use and cached under build/linux-dbg), and a boot with
# QEMU options of its own.

LXDBG=$BUILD/linux-dbg

# linux_kver: the version of the kernel the guest boots (its image package).
linux_kver() {
	basename "$(ls "$LX"/debs/linux-image-*_*.deb 2>/dev/null | head -1)" |
		sed -n 's/^linux-image-\([^_]*\)_.*/\1/p'
}

# linux_dbg_cached: the booted kernel's debug package is in $LXDBG already
# (make linux-dbg, or a test that fetched it), without fetching it.
linux_dbg_cached() {
	[ -s "$LXDBG/System.map" ] && [ "$(cat "$LXDBG/version" 2>/dev/null)" = "$(linux_kver)" ]
}

# need_linux_dbg: the booted kernel's System.map and vmlinux, fetched
# (tools/linux-dbg: 283 MB, seconds from Debian's mirror) and cached on
# first use, as need_linux_guest does the guest; skip when they cannot be
# fetched.
need_linux_dbg() {
	local kver
	kver=$(linux_kver)
	"$TOP/tools/linux-dbg" "$LXDBG" >"$T/dbg.log" 2>&1
	case $? in
	0) ;;
	2) skip_all "cannot fetch the kernel's debug package: $(tail -1 "$T/dbg.log")" ;;
	*) bail "tools/linux-dbg failed: $(tail -3 "$T/dbg.log")" ;;
	esac
	[ "$(cat "$LXDBG/version" 2>/dev/null)" = "$kver" ] ||
		skip_all "the debug package is not for kernel $kver (make linux-dbg)"
}

# linux_run CMDLINE PLUGIN_ARGS [QEMU_ARG...]: as linux_boot, at -smp 1 and
# with more QEMU options (record/replay, a monitor); QEMU's status.
linux_run() {
	local cmdline=$1 pargs=$2
	shift 2
	: >"$EVENTS"
	: >"$SERIAL"
	timeout 300 "$QEMU" -M pc -m 256 -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -kernel "$LX/vmlinuz" \
		-initrd "$LX/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 quiet $cmdline" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,$pargs" \
		-d plugin -D "$QLOG" "$@" 2>>"$T/stderr"
}
