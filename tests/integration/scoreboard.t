#!/bin/bash
# api->scoreboard_free frees: a module that makes and frees scoreboards
# in a loop does not make QEMU grow (measured as QEMU's resident memory,
# which a kept scoreboard's written pages stay in).
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/sbloop.so"
[ -r /proc/self/status ] || skip_all "no /proc/PID/status to read the RSS from"
plan 3

SOCK=$T/ctl.sock
mc() { timeout 60 "$MODCTL" -s "$SOCK" "$@"; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$QEMU_PID/status"; }

N=64 KIB=256
drop "$TMOD/sbloop.so" sbloop
qemu_start "ctl=$SOCK" watch=off
wait_ticks 1
before=$(rss_kib)
mc load sbloop n=$N kib=$KIB >/dev/null
ok $? "sbloop loads with n=$N kib=$KIB"
wait_event '.event=="message" and .module=="sbloop" and (.text|test("^made and freed"))'
ok $? "its init made and freed $N scoreboards of $KIB KiB"
after=$(rss_kib)
grown=$((after - before))
echo "# RSS $before KiB -> $after KiB (+$grown); kept, they would be $((N * KIB)) KiB or more"
[ "$grown" -lt $((N * KIB / 2)) ]
ok $? "QEMU did not keep them: grew $grown KiB, less than half of $((N * KIB)) KiB"
