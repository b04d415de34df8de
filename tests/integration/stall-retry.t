#!/bin/bash
# linux_boot's stall watch (tests/lib.sh): a -smp 2 Linux boot whose
# console shows the kernel's RCU stall warning is ended at once, not after
# 300 s, with what it started, and made once more from the start, saying
# so; a second stall is the boot's result (125); a boot that ends by
# itself keeps its own status.  QEMU is stood in for by a script that
# writes the console as a guest would.
. "$(dirname "$0")/../lib.sh"
plan 7

LX=$T MODHOST_SO=$T/none.so
# The stand-in: each run appends to $T/runs; run N writes the console line
# given by $T/console.N, then either exits with 7 or waits for ever (a
# child of its own, as QEMU's threads).
cat >"$T/qemu" <<'Q'
#!/bin/bash
d=$(dirname "$0")
serial=$(printf '%s\n' "$@" | sed -n 's/^file://p')
echo run >>"$d/runs"
n=$(wc -l <"$d/runs")
cat "$d/console.$n" >>"$serial" 2>/dev/null
[ -e "$d/hang.$n" ] || exit 7
sleep 1000 &
echo $! >"$d/child.$n"
wait
Q
chmod +x "$T/qemu"
QEMU=$T/qemu
STALL='[   31.5] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:'

printf 'booted\n' >"$T/console.1"
linux_boot x y 2>"$T/diag"
is "$?/$(wc -l <"$T/runs")/$(wc -c <"$T/diag")" 7/1/0 \
	"a boot that ends by itself: its status, one run, nothing said"

rm -f "$T"/runs "$T"/console.* "$T"/hang.*
printf '%s\n' "$STALL" >"$T/console.1"
: >"$T/hang.1"
printf 'booted\n' >"$T/console.2"
s=$SECONDS
linux_boot x y 2>"$T/diag"
r=$?
is "$r/$(wc -l <"$T/runs")" 7/2 "a stalled boot is made once more: the second run's status"
ok $((SECONDS - s > 20)) "the stalled run was ended within seconds ($((SECONDS - s)) s), not at the 300 s timeout"
grep -q "^# the guest hung with an RCU stall at boot 1 of 2:" "$T/diag" &&
	grep -qF "# $STALL" "$T/diag"
ok $? "a diag line says so, with the console's warning"
# gone PID: true once PID has ended (within 10 s; a zombie has ended).
gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		case $(ps -o stat= -p "$1") in "" | Z*) return 0 ;; esac
		sleep 0.1
	done
	return 1
}
gone "$(cat "$T/child.1")"
ok $? "what the stalled run started was ended with it"
is "$(cat "$SERIAL")" booted "the console is the second run's alone"

rm -f "$T"/runs "$T"/console.* "$T"/hang.*
for n in 1 2; do printf '%s\n' "$STALL" >"$T/console.$n"; : >"$T/hang.$n"; done
linux_boot x y 2>"$T/diag"
is "$?/$(wc -l <"$T/runs")/$(grep -c 'hung with an RCU stall' "$T/diag")" 125/2/2 \
	"two stalls: status 125, two runs, each said"
