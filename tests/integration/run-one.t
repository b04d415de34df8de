#!/bin/bash
# tests/run-one, through which tests/run-all runs every test: a test's
# output and exit status pass through unchanged; a test still running
# after TEST_TIMEOUT seconds is ended with the processes it started (a
# guest's QEMU, say), also one that ignores SIGTERM, and fails (status
# 124) with a line that names it, instead of holding the whole run.
. "$(dirname "$0")/../lib.sh"
RUN_ONE=$TOP/tests/run-one
plan 8

cat >"$T/quick.t" <<'T'
#!/bin/bash
echo "1..1"
echo "ok 1 - $1"
exit "$2"
T
# A test that hangs: a child of its own, then waits for ever; with an
# argument, it also ignores SIGTERM (as a QEMU stuck in a hook would).
cat >"$T/hang.t" <<'T'
#!/bin/bash
[ -n "${1:-}" ] && trap '' TERM
echo "1..1"
sleep 1000 &
echo $! >"$(dirname "$0")/child.pid"
wait
T
chmod +x "$T/quick.t" "$T/hang.t"

out=$("$RUN_ONE" "$T/quick.t" hello 3)
is "$?" 3 "a test's exit status passes through"
is "$out" "1..1
ok 1 - hello" "and its output"

# alive PID: true while PID runs (a zombie is not running).
alive() { case $(ps -o stat= -p "$1") in "" | Z*) false ;; *) true ;; esac; }

TEST_TIMEOUT=2 "$RUN_ONE" "$T/hang.t" >/dev/null 2>"$T/err"
is "$?" 124 "a test past TEST_TIMEOUT fails with status 124"
grep -q "^run-one: $T/hang.t still running after 2 s (TEST_TIMEOUT): ended$" "$T/err"
ok $? "a line names it ($(cat "$T/err"))"
! alive "$(cat "$T/child.pid")"
ok $? "the process it started is gone too"

rm -f "$T/child.pid"
TEST_TIMEOUT=1 "$RUN_ONE" "$T/hang.t" ignore-term >/dev/null 2>&1
is "$?" 124 "one that ignores SIGTERM is killed"
! alive "$(cat "$T/child.pid")"
ok $? "with the process it started"

TEST_TIMEOUT=soon "$RUN_ONE" "$T/quick.t" x 0 >/dev/null 2>"$T/err"
is "$?" 2 "a TEST_TIMEOUT that is not a number is refused: $(cat "$T/err")"
