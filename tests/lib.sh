# shellcheck shell=bash
# tests/lib.sh - TAP output and a real QEMU for the end-to-end tests.
#
# A test script sources this file, says `plan N`, then starts QEMU with
# `qemu_start`, drives it (drop module files into $MODDIR, wait for events)
# and checks the event log with jq filters.  Waits are bounded but generous:
# nothing here passes or fails on timing, a timeout only means "never".

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# TARGET: what the guests are.  x86_64 (the default: the i386 and
# long-mode multiboot guests under qemu-system-x86_64), aarch64 (-M virt
# under qemu-system-aarch64), arm (-M virt, ARM state) or thumb (the arm
# guests in Thumb state).  guest_elf NAME is guest NAME for the target;
# QEMU and QEMU_MACHINE are its emulator and machine; guest_status CODE is
# QEMU's exit status when the guest ends with CODE.  The Arm guests leave
# through semihosting, which also gives a guest the host's files: fine
# for these guests of our own, not for a guest one does not trust.
TARGET=${TARGET:-x86_64}
case $TARGET in
x86_64)
	QEMU=${QEMU:-qemu-system-x86_64}
	GUEST_PREFIX=
	QEMU_MACHINE=(-M pc -m 64 -device isa-debug-exit,iobase=0xf4,iosize=4) ;;
aarch64)
	QEMU=qemu-system-aarch64
	GUEST_PREFIX=a64-
	QEMU_MACHINE=(-M virt -cpu max -m 64 -semihosting) ;;
arm|thumb)
	QEMU=qemu-system-arm
	[ "$TARGET" = arm ] && GUEST_PREFIX=a32- || GUEST_PREFIX=t32-
	QEMU_MACHINE=(-M virt -cpu cortex-a15 -m 64 -semihosting) ;;
*)
	echo "Bail out! TARGET=$TARGET: not x86_64, aarch64, arm or thumb"
	exit 1 ;;
esac
guest_elf() { echo "$BUILD/tests/guest/$GUEST_PREFIX$1.elf"; }
# The target's builds of tests/guest/hcall.c, one per guest width.
[ "$TARGET" = x86_64 ] && HC_GUESTS="hcall lm64-hcall" || HC_GUESTS=hcall
guest_status() {
	if [ "$TARGET" = x86_64 ]; then
		echo $(($1 << 1 | 1))	# isa-debug-exit
	else
		echo "$1"		# semihosting's exit
	fi
}
TMOD=$BUILD/tests/modules
WAIT_SECS=${WAIT_SECS:-60}

T=$(mktemp -d "${TMPDIR:-/tmp}/modhost-test.XXXXXX")
MODDIR=$T/modules
mkdir -p "$MODDIR"
# Caches (osi_linux's kernel profiles) in the test's own directory.
export XDG_CACHE_HOME=$T/cache
EVENTS=$T/events.jsonl
SERIAL=$T/serial.txt
QLOG=$T/qemu.log
QEMU_PID=
MODHOST_SO=${MODHOST_SO:-$BUILD/modhost.so}

# The host's module ABI version, from the header it was built with.
ABI_MAJOR=$(sed -n 's/^#define MODHOST_ABI_MAJOR //p' "$TOP/include/modhost/module.h")
ABI_MINOR=$(sed -n 's/^#define MODHOST_ABI_MINOR //p' "$TOP/include/modhost/module.h")
ABI=$ABI_MAJOR.$ABI_MINOR

_tap_n=0
_tap_failed=0

cleanup() {
	qemu_kill
	if [ "$_tap_failed" -ne 0 ] && [ -z "${KEEP:-}" ]; then
		# Show what the host said, to explain the failure.
		for f in "$EVENTS" "$QLOG"; do
			[ -s "$f" ] && tail -40 "$f" | diag
		done
	fi
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

plan() { echo "1..$1"; }
# diag [LINE...]: why a check failed (the LINEs, else stdin's), on
# stderr, which prove shows even without -v (a test's stdout comments it
# shows only with -v).
diag() {
	{ if [ $# -gt 0 ]; then printf '%s\n' "$@"; else cat; fi; } | sed 's/^/# /' >&2
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

ok() {	# ok STATUS DESCRIPTION: STATUS 0 passes; returns 1 on a failure,
	# so "ok $? ... || diff ..." shows why
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
		return 1
	fi
}

is() {	# is GOT EXPECTED DESCRIPTION
	local r=0
	[ "$1" = "$2" ] || r=1
	ok $r "$3"
	[ $r -eq 0 ] || diag "  got: '$1'" "  expected: '$2'"
}

bail() { echo "Bail out! $*"; exit 1; }

need() {	# skip the whole script when a file is missing
	command -v "$QEMU" >/dev/null || skip_all "no $QEMU (tools/install-deps)"
	for f in "$@"; do
		[ -e "$f" ] || skip_all "missing $f (run make)"
	done
}

# -- QEMU -------------------------------------------------------------

# qemu_start [PLUGIN_ARG...] [-- QEMU_ARG...]: boot the $GUEST (spin) guest
# of $TARGET with the host watching $MODDIR and logging to $EVENTS.
qemu_start() {
	local pargs="" qargs=() guest
	guest=$(guest_elf "${GUEST:-spin}")
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		pargs="$pargs,$1"
		shift
	done
	[ "${1:-}" = "--" ] && shift
	qargs=("$@")
	: > "$EVENTS"
	: > "$SERIAL"
	"$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none -no-reboot \
		-serial "file:$SERIAL" -kernel "$guest" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS$pargs" \
		-d plugin -D "$QLOG" "${qargs[@]}" 2>>"$T/stderr" &
	QEMU_PID=$!
	wait_for "guest started" serial_has ": start" ||
		bail "QEMU did not start: $(cat "$T/stderr")"
}

qemu_alive() { [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; }

# Stop QEMU the way a user does (SIGTERM: a clean exit, atexit runs).
qemu_stop() {
	[ -n "$QEMU_PID" ] || return 0
	kill -TERM "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	QEMU_PID=
}

qemu_kill() {
	[ -n "$QEMU_PID" ] || return 0
	kill -KILL "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	QEMU_PID=
}

# -- waiting and looking ------------------------------------------------

# wait_for WHAT CMD...: run CMD until it succeeds, for at most WAIT_SECS.
wait_for() {
	local what=$1 deadline=$((SECONDS + WAIT_SECS))
	shift
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			echo "# timed out waiting for $what"
			return 1
		fi
		sleep 0.02
	done
}

# start_loaded MODULE QEMU_ARG...: QEMU with the arguments at -S (the
# guest never runs), until MODULE says it loaded or QEMU has ended (a
# refused start ends it), then stopped.  Its log in $T/start.log, its
# output in $T/start.
start_loaded() {
	local mod=$1 pid
	shift
	rm -f "$T/start.log"
	timeout 60 "$QEMU" -display none -monitor none -S "$@" \
		-d plugin -D "$T/start.log" >"$T/start" 2>&1 &
	pid=$!
	wait_for "$mod's load or refusal" loaded_or_gone "$mod" $pid
	kill -TERM $pid 2>/dev/null
	wait $pid 2>/dev/null
}
# loaded_or_gone MODULE PID: MODULE said it loaded, or QEMU PID has ended.
loaded_or_gone() { grep -qs "$1: loaded" "$T/start.log" || ! kill -0 "$2" 2>/dev/null; }

serial_has() { grep -q -- "$1" "$SERIAL" 2>/dev/null; }

# events FILTER: the event lines that match a jq condition, compact.
events() { jq -c "select($1)" "$EVENTS" 2>/dev/null; }
count_events() { events "$1" | wc -l; }
_has_n() { [ "$(count_events "$1")" -ge "$2" ]; }
# wait_event FILTER [N]: until at least N (default 1) events match.
wait_event() { wait_for "event $1 (x${2:-1})" _has_n "$1" "${2:-1}"; }

# The number of the last "tick K" line the guest printed.
ticks() { grep -o 'tick [0-9]*' "$SERIAL" | tail -1 | cut -d' ' -f2; }
_ticks_past() { [ "$(ticks)" -ge "$1" ] 2>/dev/null; }
# wait_ticks N: until the guest has run N more ticks.
wait_ticks() { local t; t=$(ticks); wait_for "$1 ticks" _ticks_past $((${t:-0} + $1)); }

# drop SRC NAME: put SRC in the module directory as NAME.so, atomically.
drop() {
	cp "$1" "$MODDIR/.$2.so.tmp"
	mv "$MODDIR/.$2.so.tmp" "$MODDIR/$2.so"
}

# heartbeat FILE: the count a counter module keeps in FILE.
heartbeat() { od -An -t u8 -N 8 "$1" 2>/dev/null | tr -d ' '; }
# hb_above N: the count in $HB is above N.
hb_above() { [ "$(heartbeat "$HB")" -gt "$1" ] 2>/dev/null; }
# hb_grows: wait until the count in $HB grows (a live version's callbacks run).
hb_grows() {
	local h
	h=$(heartbeat "$HB")
	wait_for "heartbeat to grow" hb_above "${h:-0}"
}

# -- Linux guests (tests/linux/) -----------------------------------------

# use_modules NAME...: the project's modules NAME (build/modules/NAME.so)
# into $MODDIR, where the host finds them.
use_modules() {
	local m

	for m; do
		cp "$BUILD/modules/$m.so" "$MODDIR/"
	done
}

LX=$BUILD/linux

# need_linux_guest: build the Linux guest (tools/linux-guest: Debian's
# cloud kernel and a busybox initramfs, cached under $LX), or skip the
# whole script when its Debian packages cannot be fetched.
need_linux_guest() {
	"$TOP/tools/linux-guest" "$LX" >"$T/build.log" 2>&1
	case $? in
	0) ;;
	2) skip_all "cannot fetch the Debian packages: $(tail -1 "$T/build.log")" ;;
	*) bail "tools/linux-guest failed: $(tail -3 "$T/build.log")" ;;
	esac
}

. "$TOP/tests/stall.sh"

# stall_watched COMMAND...: run it (a QEMU whose console is $SERIAL) under
# a 300 s timeout, ending it early when $SERIAL shows the kernel's RCU
# stall warning (tests/stall.sh); its status, 125 when it was ended so.
stall_watched() {
	local qpid rc

	rm -f "$T/stalled"
	timeout 300 "$@" &
	qpid=$!
	stall_watch "$SERIAL" "$qpid" "$T/stalled"
	wait "$qpid"
	rc=$?
	stall_unwatch
	[ -e "$T/stalled" ] && rc=125
	return $rc
}

# stall_retried COMMAND...: a guest's boot, run with stall_watched on an
# emptied console and event log, its stderr added to $T/stderr, until it
# ends; its status.  A boot that hangs with an RCU stall (tests/stall.sh)
# is said in a diag line and made once more, from the start; a second
# stall is the boot's result (125).
stall_retried() {
	local try rc

	for try in 1 2; do
		: > "$EVENTS"
		: > "$SERIAL"
		stall_watched "$@" 2>>"$T/stderr"
		rc=$?
		[ $rc = 125 ] || break
		diag "the guest hung with an RCU stall at boot $try of 2:" \
			"$(tr -d '\r' < "$SERIAL" | grep -m1 -A2 -e "$STALL_RE")"
	done
	return $rc
}

# linux_boot CMDLINE PLUGIN_ARGS [QEMU_ARG...]: boot it at -smp 2 with the
# host watching $MODDIR and logging to $EVENTS, until it powers off;
# QEMU's status (stall_retried).  CMDLINE is added to the kernel's command
# line (run=PROGRAM,ARGS ...).
linux_boot() {
	local cmdline=$1 pargs=$2

	shift 2
	stall_retried "$QEMU" -M pc -m 256 -smp 2 -display none -monitor none \
		-no-reboot -serial "file:$SERIAL" -kernel "$LX/vmlinuz" \
		-initrd "$LX/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 quiet $cmdline" \
		-plugin "$MODHOST_SO,dir=$MODDIR,log=$EVENTS,$pargs" \
		-d plugin -D "$QLOG" "$@"
}
