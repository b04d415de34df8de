# shellcheck shell=bash
# tests/stall.sh - the Linux guest's rare hang at -smp 2, seen on its
# console; sourced by tests/lib.sh and tests/bench/run-all.
#
# At -smp 2 under TCG a boot can hang before /init while both vCPU
# threads wait in QEMU for a timer interrupt that does not come
# (Documentation/linux-guests.rst, "The test guest", says what is
# known).  The kernel then prints its RCU stall warning, about 21 s after
# the hang.
STALL_RE='rcu: INFO: .*detected stall'

# stall_watch SERIAL PID FLAG: in the background, once the console file
# SERIAL shows $STALL_RE, create FLAG and end PID (a timeout running
# QEMU).  stall_unwatch ends the watch.
stall_watch() {
	( while sleep 1; do
		if grep -q -e "$STALL_RE" "$1" 2>/dev/null; then
			: >"$3"
			kill "$2" || true
			exit
		fi
	  done ) &
	STALL_WPID=$!
}
stall_unwatch() {
	kill "$STALL_WPID" 2>/dev/null || true
	wait "$STALL_WPID" 2>/dev/null || true
}
