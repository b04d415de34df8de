#!/bin/bash
# Changes inotify alone does not show.  When the kernel's event queue
# overflows (more changes than fs.inotify.max_queued_events while the
# watcher is held by a load), the events are lost: the watcher looks at
# the whole directory again, loads what is new, reloads what changed since
# its live version was read, unloads what has no file, and leaves the rest
# alone.  A hard link made in the directory loads at once (no writer will
# close it).
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modhost-python.so" "$TMOD/prov-v1.so" \
	"$TMOD/prov-v2.so" "$TMOD/dep_base.so" "$TMOD/hcrec-v1.so" \
	"$TMOD/hcsym.so" "$TMOD/cons-v1.so"
command -v python3 >/dev/null || skip_all "python3 not found"
max=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
[ "$max" -le 200000 ] || skip_all "max_queued_events is $max: too many to overflow"
plan 9

# Renamed while the watcher is held, N files make 2N events (moved from,
# moved to): more than the queue holds.  Made before the host starts, so
# their creation makes no event.
N=$((max / 2 + 1000))
python3 -c 'import sys
for i in range(int(sys.argv[2])): open("%s/j%d" % (sys.argv[1], i), "w").close()' "$MODDIR" "$N"

drop "$TMOD/prov-v1.so" prov
drop "$TMOD/dep_base.so" dep_base
drop "$TMOD/cons-v1.so" cons
qemu_start load=prov:dep_base:cons
wait_event '.event=="load" and .module=="cons"'

# Hold the watcher: a script whose import, run on the watcher's thread,
# waits for the file $T/go.
cat >"$T/hold.py" <<PY
import os, time
import modhost
modhost.log("holding")
while not os.path.exists("$T/go"):
    time.sleep(0.02)
raise RuntimeError("let go")
PY
cp "$T/hold.py" "$MODDIR/.hold.py.tmp"
mv "$MODDIR/.hold.py.tmp" "$MODDIR/hold.py"
wait_event '.event=="message" and .module=="hold" and .text=="holding"'
python3 -c 'import os, sys
for i in range(int(sys.argv[2])):
    os.rename("%s/j%d" % (sys.argv[1], i), "%s/k%d" % (sys.argv[1], i))' "$MODDIR" "$N"
# Lost in the overflow: a new module, a rebuilt one, a deleted one.
rm "$MODDIR/hold.py"
drop "$TMOD/hcrec-v1.so" hcrec
drop "$TMOD/prov-v2.so" prov
rm "$MODDIR/dep_base.so"
touch "$T/go"

wait_event '.event=="reject" and .module=="hold"'
ok $? "the held load ends"
wait_event '.event=="load" and .module=="hcrec" and .from=="watch"'
ok $? "a module dropped during the overflow loads"
wait_event '.event=="reload" and .module=="prov" and .version=="2"'
ok $? "a module rebuilt during the overflow reloads"
wait_event '.event=="unload" and .module=="dep_base" and .from=="watch"'
ok $? "a module deleted during the overflow unloads"
grep -q "too many changes at once (the kernel's event queue overflowed): looking at every module file again" "$QLOG"
ok $? "the host says why it looks again"
is "$(count_events '(.event=="load" or .event=="reload" or .event=="unload") and .module=="cons" and .from=="watch"')" 0 \
	"a module whose file did not change is left alone"
is "$(count_events '.event=="load" and .module=="hold"')" 0 \
	"the file deleted during the overflow is not loaded"

# -- a hard link -----------------------------------------------------------
cp "$TMOD/hcsym.so" "$T/hcsym.so"
ln "$T/hcsym.so" "$MODDIR/hcsym.so"
wait_event '.event=="load" and .module=="hcsym" and .from=="watch"'
ok $? "a hard link made in the directory loads"
qemu_alive
ok $? "QEMU and the guest run on"
qemu_stop
