#!/bin/bash
# QEMU plugin compatibility, the plugin's life under a running guest
# (tests/qplugins/ built natively and with obj-q, Documentation/
# qemu-plugins.rst): load, reload and unload through the watched directory
# and guest control (qplugins.t does modctl), qemu_plugin_uninstall from a callback (same output as
# native: its cb, no atexit; the module unloaded, the guest running on), a
# reset at run time, flush callbacks at a quiesce, vCPU idle callbacks
# (-smp 1), vcpu_init for existing vCPUs at a late load run on each vCPU's
# own thread (-smp 2), reload and unload of each test plugin, and what is
# refused: an uninstall from install, time control, idle callbacks with
# two vCPUs.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
Q=$BUILD/tests/qplugins
PLUGINS="qcount qregs qmem qlife"
for p in $PLUGINS; do
	need "$Q/$p.so" "$Q/native/$p.so"
done
need "$MODHOST_SO" "$MODCTL" "$BUILD/tests/guest/spin.elf" "$BUILD/tests/guest/hcall.elf"
command -v "$QEMU" >/dev/null || skip_all "no $QEMU"
command -v nm >/dev/null || skip_all "no nm"
plan 48

# The guest's own code, up to guest_exit (see qplugins.t).
EXIT_AT=$(nm "$BUILD/tests/guest/spin.elf" | awk '$3 == "guest_exit" { print $1 }')
[ -n "$EXIT_AT" ] || bail "no guest_exit in spin.elf"
RANGE="lo=0x100000 hi=0x$EXIT_AT"

SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
log_count() { cat "$2" 2>/dev/null | grep -c -- "$1"; }
_log_has() { [ "$(log_count "$1" "$2")" -ge "$3" ]; }

# native_start LOG PLUGIN_SPEC [QEMU_ARG...]: the spin guest, forever, under
# QEMU with a plain QEMU plugin; NATIVE_PID.
native_start() {
	local log=$1 spec=$2
	shift 2
	"$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
		-serial none -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$BUILD/tests/guest/spin.elf" -append "tick=3000" \
		-plugin "$spec" -d plugin -D "$log" "$@" 2>>"$T/stderr" &
	NATIVE_PID=$!
}
native_stop() {
	kill -TERM "$NATIVE_PID" 2>/dev/null
	wait "$NATIVE_PID" 2>/dev/null
}

# -- uninstall from a callback: the same as native ---------------------------
ARGS="$RANGE uninstall=500"
native_start "$T/un.native" "$Q/native/qlife.so$(printf ',%s' $ARGS)"
wait_for "native uninstall" _log_has '^qlife: uninstalled' "$T/un.native" 1
ok $? "native: qlife uninstalls itself from a block callback"
native_stop
cp "$Q/qlife.so" "$MODDIR/"
qemu_start "ctl=$SOCK" watch=off load=qlife $(printf ' qlife.%s' $ARGS)
wait_event '.event=="unload" and .module=="qlife" and .from=="self"'
ok $? "obj-q: the uninstall is an unload of the module (event from=self)"
wait_for "uninstall cb" _log_has '^qlife: uninstalled' "$QLOG" 1
grep -v '^modhost: ' "$QLOG" > "$T/un.compat"
cmp -s "$T/un.native" "$T/un.compat"
ok $? "same output as native: flush, its cb, no atexit report" ||
	diff "$T/un.native" "$T/un.compat" | head -10 | diag
mc list | grep -q '^qlife '
[ $? -ne 0 ]
ok $? "modctl list no longer shows it"
wait_ticks 2
ok $? "the guest runs on"
qemu_stop

# -- loaded at run time, reloaded and unloaded ---------------------------------
cp "$Q/qregs.so" "$Q/qmem.so" "$MODDIR/"
qemu_start "ctl=$SOCK" watch=off
for p in qlife qmem; do
	# shellcheck disable=SC2086
	mc load $p $RANGE >/dev/null
	ok $? "modctl load $p under the running guest"
done
wait_for "qlife init" _log_has '^qlife: vcpu 0 init' "$QLOG" 1
ok $? "qlife's vcpu_init ran for the running vCPU"
is "$(log_count '^qlife: flush$' "$QLOG")" 1 \
	"qlife's flush callback ran at the quiesce that loaded qmem"
mc reload qmem >/dev/null && wait_for "qmem report" _log_has '^qmem: loads [1-9]' "$QLOG" 1
ok $? "reload qmem: the old version's report"
wait_for "qmem again" _log_has '^qmem: insn 0x' "$QLOG" 2
ok $? "the new version instruments again"
# qmem defines modhost's state hooks (under MODHOST_QCOMPAT): its totals
# go to the new version.
first=$(sed -n 's/^qmem: loads \([0-9]*\) stores \([0-9]*\) .*/\1 \2/p' "$QLOG" | head -1)
wait_for "restore" _log_has '^qmem: restored ' "$QLOG" 1
is "$(sed -n 's/^qmem: restored \([0-9]*\) loads, \([0-9]*\) stores from version 0$/\1 \2/p' "$QLOG")" \
	"$first" "its state hooks hand the old version's totals to the new one"
is "$(events '.event=="state_handoff" and .module=="qmem"' | jq -r '.bytes')" 40 \
	"a state_handoff event with the blob's size"
mc reload qlife >/dev/null && wait_for "qlife report" _log_has '^qlife: atexit, reset not done' "$QLOG" 1
ok $? "reload qlife: the old version's atexit report"
mc unload qmem >/dev/null && wait_for "qmem report" _log_has '^qmem: loads [1-9]' "$QLOG" 2
ok $? "unload qmem: its report"
second=$(sed -n 's/^qmem: loads \([0-9]*\) .*/\1/p' "$QLOG" | tail -1)
[ "$second" -gt "${first%% *}" ]
ok $? "its report at unload counts on from the old version's ($second > ${first%% *} loads)"
mc unload qlife >/dev/null && wait_for "qlife report" _log_has '^qlife: atexit' "$QLOG" 2
ok $? "unload qlife: its report"

# A reset at run time: its callbacks go, its cb registers them again.
# shellcheck disable=SC2086
mc load qlife $RANGE reset=2000 >/dev/null &&
	wait_for "reset" _log_has '^qlife: reset done$' "$QLOG" 1
ok $? "qemu_plugin_reset from a callback of a module loaded at run time"
n=$(log_count '^qlife: vcpu 0 at exit: counted yes, after reset yes' "$QLOG")
mc unload qlife >/dev/null &&
	wait_for "report" _log_has '^qlife: vcpu 0 at exit: counted yes, after reset yes' "$QLOG" $((n + 1))
ok $? "after the reset it counted again, and its atexit (registered again) reports at unload"

# What cannot be honoured fails the load, naming why.
mc load qlife time=on >/dev/null 2>&1
[ $? -ne 0 ] && grep -q '^modhost: qlife: load refused: the plugin called qemu_plugin_request_time_control$' "$QLOG"
ok $? "time control: the load is refused, naming the function"
mkdir "$T/early"
printf 'obj-q := early.so\n' > "$T/early/Makefile"
cat > "$T/early/early.c" <<'C'
#include <qemu-plugin.h>
QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	(void)info; (void)argc; (void)argv;
	qemu_plugin_uninstall(id, NULL);
	return 0;
}
C
make -C "$TOP" M="$T/early" >"$T/early.log" 2>&1 && cp "$T/early/early.so" "$MODDIR/"
ok $? "a plugin that uninstalls itself from install builds"
! mc load early >/dev/null 2>&1 &&
	grep -q '^modhost: early: qemu_plugin_uninstall called from qemu_plugin_install' "$QLOG"
ok $? "its load is refused (QEMU aborts there), naming the call"
qemu_alive
ok $? "QEMU and the guest kept running throughout"
qemu_stop

# -- the watched directory: drop, rewrite, delete ------------------------------
qemu_start
drop "$Q/qcount.so" qcount
wait_event '.event=="load" and .module=="qcount" and .from=="watch"'
ok $? "watch: dropping qcount.so loads it"
wait_for "install" _log_has '^qcount: x86_64, ' "$QLOG" 1
drop "$Q/qcount.so" qcount
wait_event '.event=="reload" and .module=="qcount" and .from=="watch"' &&
	wait_for "report and install" _log_has '^qcount: x86_64, ' "$QLOG" 2
ok $? "watch: rewriting it reloads it, the new version installs"
rm -f "$MODDIR/qcount.so"
wait_event '.event=="unload" and .module=="qcount" and .from=="watch"'
ok $? "watch: deleting it unloads it"
is "$(count_events '.event=="state_handoff"')" 0 \
	"qcount has no state hooks: each reload starts fresh"
is "$(grep -o -e '^qcount: blocks' -e '^qcount: x86_64' "$QLOG" | tr '\n' ';')" \
	"qcount: x86_64;qcount: blocks;qcount: x86_64;qcount: blocks;" \
	"watch: an atexit report before the reload and at the unload"
qemu_stop

# -- guest control: the guest loads, reloads, unloads a QEMU-API module --------
# hcall mode=4 asks for module hcrec: qcount's source built under that name.
mkdir "$T/hcrec"
cp "$TOP/tests/qplugins/qcount.c" "$T/hcrec/"
printf 'obj-q := hcrec.so\nhcrec-y := qcount.o\n' > "$T/hcrec/Makefile"
rm -f "$MODDIR"/*.so
make -C "$TOP" M="$T/hcrec" >"$T/hcrec.log" 2>&1 && cp "$T/hcrec/hcrec.so" "$MODDIR/"
ok $? "qcount's source builds as module hcrec"
GUEST=hcall qemu_start guest_control=on -- -append "mode=4"
wait_for "guest done" serial_has "hcall: done"
wait_event '.event=="unload" and .module=="hcrec" and .from=="guest"'
is "$(events '.from=="guest" and (.event=="load" or .event=="reload" or .event=="unload")' |
	jq -r '.event + " " + .module' | paste -sd,)" "load hcrec,reload hcrec,unload hcrec" \
	"guest control: the guest loads, reloads and unloads it"
wait_for "reports" _log_has '^qcount: blocks' "$QLOG" 2
is "$(grep -o -e '^qcount: blocks' -e '^qcount: x86_64' "$QLOG" | tr '\n' ';')" \
	"qcount: x86_64;qcount: blocks;qcount: x86_64;qcount: blocks;" \
	"guest control: an atexit report before the reload and at the unload"
qemu_stop

# -- plain plugin binaries, as QEMU's build makes them --------------------------
rm -f "$MODDIR"/*.so
cp "$Q/native/qcount.so" "$Q/native/qmem.so" "$MODDIR/"
mkdir "$T/v5"
cat > "$T/v5/v5.c" <<'C'
/* Built against a newer QEMU's header: declared by hand here. */
#include <stdint.h>
typedef uint64_t qemu_plugin_id_t;
__attribute__((visibility("default"))) int qemu_plugin_version = 4;
int qemu_plugin_write_register(void *reg, void *buf);
void qemu_plugin_outs(const char *s);
__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
	(void)id; (void)info; (void)argc; (void)argv;
	qemu_plugin_outs("v5: installed\n");
	return qemu_plugin_write_register(0, 0);
}
C
cc -shared -fPIC -o "$MODDIR/v5.so" "$T/v5/v5.c"
ok $? "a plugin binary that calls a version 5 function builds (-shared -fPIC)"
qemu_start "ctl=$SOCK" watch=off
# shellcheck disable=SC2086
mc load qcount $RANGE mark=20000 >/dev/null && mc load qmem $RANGE >/dev/null
ok $? "modctl loads two plain plugin binaries (tests/qplugins/native/) at once"
mc info qcount | grep -q '^description: QEMU plugin qcount (QEMU plugin API, plugin binary)$'
ok $? "modctl info says what it is"
wait_for "mark" _log_has '^qcount: vcpu 0 reached block 20000 ' "$QLOG" 1 &&
	wait_for "qmem" _log_has '^qmem: vcpu 0 pc ' "$QLOG" 1
ok $? "both instrument the running guest"
mc reload qcount >/dev/null && wait_for "report" _log_has '^qcount: blocks [1-9]' "$QLOG" 1 &&
	wait_for "mark again" _log_has '^qcount: vcpu 0 reached block 20000 ' "$QLOG" 2
ok $? "reload: the old one reports, the new one starts fresh"
mc unload qmem >/dev/null && wait_for "qmem report" _log_has '^qmem: loads [1-9]' "$QLOG" 1
ok $? "unload: its report; qcount stays"
! mc load v5 >/dev/null 2>&1 &&
	events '.event=="reject" and .module=="v5"' | grep -q 'qemu_plugin_write_register' &&
	! grep -q '^v5: installed' "$QLOG"
ok $? "a binary calling a function QEMU 10.0 lacks is refused, naming it; none of its code ran"
mc unload qcount >/dev/null && qemu_alive
ok $? "QEMU and the guest kept running"
qemu_stop

# -- time control natively: granted (modhost refuses it, above) ---------------
native_start "$T/time.native" "$Q/native/qlife.so,time=on"
wait_for "native time" _log_has '^qlife: time control granted' "$T/time.native" 1
ok $? "native: the same plugin gets time control from QEMU"
native_stop

# -- idle callbacks -------------------------------------------------------------
# One vCPU: with no isa-debug-exit device the hcall guest halts at its end
# (cli; hlt), and its vCPU goes idle.
idle_guest=(-kernel "$BUILD/tests/guest/hcall.elf" -append "mode=2 n=10")
"$QEMU" -M pc -m 64 -display none -monitor none -no-reboot -serial none \
	"${idle_guest[@]}" -plugin "$Q/native/qlife.so,events=on" \
	-d plugin -D "$T/idle1.native" 2>>"$T/stderr" &
NATIVE_PID=$!
wait_for "native idle" _log_has '^qlife: vcpu 0 idle$' "$T/idle1.native" 1
ok $? "native, -smp 1: vCPU 0's idle callback once the guest halts"
native_stop
cp "$Q/qlife.so" "$Q/qregs.so" "$MODDIR/"
saved_machine=("${QEMU_MACHINE[@]}")
QEMU_MACHINE=(-M pc -m 64)
GUEST=hcall qemu_start "ctl=$SOCK" watch=off load=qlife qlife.events=on -- \
	-append "mode=2 n=10"
QEMU_MACHINE=("${saved_machine[@]}")
wait_for "idle" _log_has '^qlife: vcpu 0 idle$' "$QLOG" 1
ok $? "obj-q, -smp 1: the same idle callback"
qemu_stop

# Two vCPUs: QEMU 10.0 may free an idle or resume callback's entry in a
# reset while a halting vCPU calls through it, so modhost refuses them
# (Documentation/qemu-plugins.rst).  vCPU 1 never starts (the guest sends
# no INIT/SIPI): halted, idle; natively its callback runs.
native_start "$T/idle.native" "$Q/native/qlife.so,events=on" -smp 2
wait_for "native idle" _log_has '^qlife: vcpu 1 idle$' "$T/idle.native" 1
ok $? "native, -smp 2: vCPU 1's idle callback"
native_stop
qemu_start "ctl=$SOCK" watch=off -- -smp 2
! mc load qlife events=on >/dev/null 2>"$T/idle.err" &&
	grep -q 'load refused: the plugin called qemu_plugin_register_vcpu_idle_cb$' "$T/idle.err" &&
	events '.event=="reject" and .module=="qlife"' |
	grep -q 'qemu_plugin_register_vcpu_idle_cb' &&
	grep -q '^modhost: qlife: vCPU idle callbacks need a single vCPU (-smp 1): with 2,' "$QLOG"
ok $? "obj-q, -smp 2: a plugin registering an idle callback is refused, naming the function and why"
! grep -q '^qlife: vcpu' "$QLOG" && qemu_alive
ok $? "none of its callbacks ran; QEMU and the guest run on"

# A late load: vcpu_init for each existing vCPU, on that vCPU's thread.
# vCPU 0 runs the guest's code; vCPU 1 is halted at its reset state.
mc load qregs >/dev/null
ok $? "modctl load qregs with two vCPUs running"
wait_for "vcpu 0 init" _log_has '^qregs: vcpu 0 pc 0x1[0-9a-f]\{5\}$' "$QLOG" 1
ok $? "vCPU 0's vcpu_init reads vCPU 0's pc (in the guest's code)"
wait_ticks 2
! grep -q '^qregs: vcpu 1 pc 0x1[0-9a-f]\{5\}$' "$QLOG"
ok $? "vCPU 1's vcpu_init does not read vCPU 0's registers (it runs on vCPU 1, when vCPU 1 runs)"
qemu_stop
