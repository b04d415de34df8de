#!/bin/bash
# QEMU plugin compatibility: QEMU plugin sources (tests/qplugins/, written
# against QEMU's plugin API alone) built twice, as plain QEMU plugins and as
# modhost modules with obj-q.  The same deterministic guest run (spin,
# single vCPU, interrupts off) under each gives byte-identical plugin
# output in QEMU's log, the host's own "modhost: " lines aside.  Then the
# obj-q build's run-time life under a running guest: load with KEY=VALUE
# arguments in order, vCPU init at a load after start, the atexit report
# at reload and unload, a refused install (load rejected, reload rolled
# back), and a build that uses a function the layer lacks fails naming it.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
Q=$BUILD/tests/qplugins
PLUGINS="qcount qregs qmem qlife"
for p in $PLUGINS; do
	need "$Q/$p.so" "$Q/native/$p.so"
done
need "$BUILD/modhost.so" "$MODCTL" "$BUILD/tests/guest/spin.elf"
command -v "$QEMU" >/dev/null || skip_all "no $QEMU"
command -v nm >/dev/null || skip_all "no nm"
plan 56

# The guest's code: SeaBIOS, which runs before it, is not deterministic;
# nor is its exit: the block after the write to isa-debug-exit may or may
# not run before QEMU ends, so the range stops at guest_exit.
EXIT_AT=$(nm "$BUILD/tests/guest/spin.elf" | awk '$3 == "guest_exit" { print $1 }')
[ -n "$EXIT_AT" ] && EXIT_AT=$(printf '0x%x' "0x$EXIT_AT")
[ -n "$EXIT_AT" ] || bail "no guest_exit in spin.elf"
RANGE="lo=0x100000 hi=$EXIT_AT"

# run_to_end LOG PLUGIN_SPEC: the spin guest for $TICKS ticks, then QEMU
# exits (isa-debug-exit); the plugins' output goes to LOG.
TICKS=4
run_to_end() {
	timeout "$WAIT_SECS" "$QEMU" -M pc -m 64 -display none -monitor none \
		-no-reboot -serial none ${RUN_SMP:--smp 1} \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$BUILD/tests/guest/spin.elf" -append "tick=3000 ticks=$TICKS" \
		-plugin "$2" -d plugin -D "$1" 2>>"$T/stderr"
	# The guest's exit status 0 comes back as 1.
	[ $? -eq 1 ]
}

# -- the same output, native and obj-q ---------------------------------------
for p in $PLUGINS; do
	case $p in
	qcount) args="$RANGE mark=500 mem=on" ;;
	qlife) args="$RANGE reset=1000" ;;
	*) args=$RANGE ;;
	esac
	run_to_end "$T/$p.native" "$Q/native/$p.so,${args// /,}"
	ok $? "$p: runs as a plain QEMU plugin (-plugin native/$p.so)"
	mkdir -p "$T/dir-$p"
	cp "$Q/$p.so" "$T/dir-$p/"
	run_to_end "$T/$p.log" \
		"$MODHOST_SO,dir=$T/dir-$p,load=$p,watch=off$(printf ",$p.%s" $args)" &&
		grep -q "^modhost: $p: loaded version" "$T/$p.log"
	ok $? "$p: runs as a modhost module (obj-q, load=$p, $p.KEY=VALUE)"
	grep -v '^modhost: ' "$T/$p.log" > "$T/$p.compat"
	cmp -s "$T/$p.native" "$T/$p.compat"
	ok $? "$p: plugin output byte-identical to QEMU's own loading" ||
		diff "$T/$p.native" "$T/$p.compat" | head -20 | diag
	# The plain plugin binary itself, loaded by modhost as module $p.
	mkdir -p "$T/bin-$p"
	cp "$Q/native/$p.so" "$T/bin-$p/"
	run_to_end "$T/$p.binlog" \
		"$MODHOST_SO,dir=$T/bin-$p,load=$p,watch=off$(printf ",$p.%s" $args)"
	grep -v '^modhost: ' "$T/$p.binlog" | cmp -s "$T/$p.native" -
	ok $? "$p: the plain plugin binary, loaded by modhost, prints the same"
done
grep -q '^qcount: blocks [1-9][0-9]* insns [1-9]' "$T/qcount.native" &&
	grep -q '^qcount: loads [1-9][0-9]* stores [1-9]' "$T/qcount.native" &&
	grep -q '^qcount: vcpu 0 reached block 500 ' "$T/qcount.native"
ok $? "qcount counted blocks, instructions and memory, and its mark fired"
grep -q '^qcount: x86_64, API 2 to 4, system, 1 of 1 vCPUs, 4 args$' "$T/qcount.compat" &&
	grep -q '^qcount: arg 2 mark=500$' "$T/qcount.compat" &&
	grep -q '^qcount: 0x[0-9a-f]* ([0-9]* bytes) [a-z]' "$T/qcount.compat"
ok $? "qemu_info_t, argv in order and QEMU's disassembly reach the module"
grep -q '^qregs: vcpu 0: [1-9][0-9]* registers, first in .* rax .* eflags' "$T/qregs.compat" &&
	grep -q '^qregs: call at 0x1[0-9a-f]* esp 0x[0-9a-f]* \[esp\] 0x[0-9a-f]* eax' "$T/qregs.compat" &&
	grep -q '^qregs: [1-9][0-9]* calls in range$' "$T/qregs.compat"
ok $? "qregs listed registers at vcpu_init and read registers and memory"
grep -q '^qmem: insn 0x10000c _start \[fc\] cld' "$T/qmem.compat" &&
	grep -q '^qmem: vcpu 0 pc 0x[0-9a-f]* store 1 bytes at 0x[0-9a-f]* value 0x00 little-endian phys 0x[0-9a-f]* RAM$' "$T/qmem.compat" &&
	grep -q '^qmem: loads [1-9][0-9]* stores [1-9][0-9]* io 0 ' "$T/qmem.compat"
ok $? "qmem logged accesses: values, endianness, physical addresses, and the first block's symbol, bytes and disassembly"
is "$(tr '\n' ';' < "$T/qlife.compat")" "qlife: install, 0 vCPUs, binary none, code 0x0-0x0 entry 0x0;qlife: vcpu 0 init, 1 vCPUs;qlife: vcpu 0 asks for a reset at block 1000;qlife: flush;qlife: reset done;qlife: atexit, reset done, syscalls 0;qlife: vcpu 0 at exit: counted yes, after reset yes;" \
	"qlife: vCPU init, a reset from a callback (flush, then its callbacks gone and registered again), atexit walking the vCPUs"

# -- modules together: each one's output is its own ---------------------------
# A native module and three QEMU-API modules in one run, one of which
# uninstalls itself early: the other two print what each prints alone.
TICKS=60
QCOUNT_ARGS="$RANGE mark=500 mem=on"
run_to_end "$T/qcount.alone" "$Q/native/qcount.so,${QCOUNT_ARGS// /,}" &&
	run_to_end "$T/qmem.alone" "$Q/native/qmem.so,${RANGE// /,}"
ok $? "qcount and qmem, each alone under QEMU (-plugin)"
mkdir -p "$T/dir-all"
cp "$Q/qcount.so" "$Q/qmem.so" "$Q/qlife.so" "$BUILD/modules/example.so" "$T/dir-all/"
# shellcheck disable=SC2086
run_to_end "$T/all.log" "$MODHOST_SO,dir=$T/dir-all,load=example:qcount:qmem:qlife,watch=off$(
	printf ',qcount.%s' $QCOUNT_ARGS; printf ',qmem.%s' $RANGE;
	printf ',qlife.%s' $RANGE uninstall=500)"
ok $? "example (native), qcount, qmem and qlife loaded together"
for p in qcount qmem; do
	grep "^$p: " "$T/all.log" > "$T/$p.together"
	cmp -s "$T/$p.alone" "$T/$p.together"
	ok $? "$p: the same output as alone" ||
		diff "$T/$p.alone" "$T/$p.together" | head -10 | diag
done
grep -q '^modhost: example: count=[1-9]' "$T/all.log"
ok $? "example counted beside them"
if grep -q '^modhost: qlife: unloaded' "$T/all.log"; then
	grep -q '^qlife: uninstalled' "$T/all.log"
	ok $? "qlife uninstalled itself (unloaded) while the others ran"
else
	ok 0 "# SKIP the guest ended before qlife's uninstall was applied"
fi

# -- run-time life ------------------------------------------------------------
SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
log_count() { grep -c -- "$1" "$QLOG" 2>/dev/null; }
_log_has() { [ "$(log_count "$1")" -ge "$2" ]; }
cp "$Q/qcount.so" "$Q/qregs.so" "$MODDIR/"
qemu_start "ctl=$SOCK" watch=off
wait_ticks 1

# shellcheck disable=SC2086
mc load qcount $RANGE mark=20000 mem=off >/dev/null
ok $? "modctl load qcount KEY=VALUE... while the guest runs"
wait_for "install" _log_has '^qcount: arg 3' 1
grep '^qcount: arg' "$QLOG" | tr '\n' ';' > "$T/args"
is "$(cat "$T/args")" "qcount: arg 0 lo=0x100000;qcount: arg 1 hi=$EXIT_AT;qcount: arg 2 mark=20000;qcount: arg 3 mem=off;" \
	"argv holds every KEY=VALUE in the order given"
wait_for "mark" _log_has '^qcount: vcpu 0 reached block 20000 ' 1
ok $? "its callbacks and inline counters run after a load at run time"

mc reload qcount >/dev/null
ok $? "modctl reload qcount"
wait_for "new install" _log_has '^qcount: x86_64, ' 2
ok $? "the new version's install ran"
is "$(grep -o -e '^qcount: blocks' -e '^qcount: x86_64' "$QLOG" | tr '\n' ';')" \
	"qcount: x86_64;qcount: blocks;qcount: x86_64;" \
	"the old version's atexit report is printed before the new one installs"
wait_for "second mark" _log_has '^qcount: vcpu 0 reached block 20000 ' 2
ok $? "the new version starts fresh: its counter reaches the mark again"

mc load qregs >/dev/null
ok $? "a second QEMU-API module loads beside the first"
wait_for "qregs init" _log_has '^qregs: vcpu 0: [1-9][0-9]* registers' 1
ok $? "its vcpu_init ran for the vCPU that already existed"
cp "$BUILD/modules/example.so" "$MODDIR/"
mc load example >/dev/null
ok $? "and a native module beside them"
is "$(mc list --json | jq -r '[.modules[] | select(.state=="live") | .name] | join(",")')" \
	"qcount,qregs,example" "modctl list shows the three, live, in load order"
wait_for "qregs calls" _log_has '^qregs: call at' 1
mc stats --json > "$T/stats"
jq -e '[.modules[] | select(.name=="qcount" or .name=="qregs") | .callbacks > 0] == [true, true]' "$T/stats" >/dev/null &&
	jq -e '.modules[] | select(.name=="qcount") | .inline_ops > 0' "$T/stats" >/dev/null
ok $? "modctl stats charges each QEMU-API module its own callbacks and inline ops"
is "$(mc info qcount | sed -n 's/^arg: *//p' | paste -sd' ')" "$RANGE mark=20000 mem=off" \
	"modctl info shows a QEMU-API module's arguments, in order"
mc unload example >/dev/null
ok $? "unload the native module"
mc reload qregs >/dev/null && wait_for "qregs report" _log_has '^qregs: [0-9]* calls in range$' 1 &&
	wait_for "qregs init again" _log_has '^qregs: vcpu 0: [1-9][0-9]* registers' 2
ok $? "reloading it prints its report, and the new version's vcpu_init runs"
mc unload qregs >/dev/null && wait_for "qregs report" _log_has '^qregs: [0-9]* calls in range$' 2
ok $? "unloading it prints its report"

mc unload qcount >/dev/null
ok $? "modctl unload qcount"
wait_for "second report" _log_has '^qcount: blocks [1-9]' 2
ok $? "unload prints the atexit report"

# A refused install: reject (load), rollback (reload), the value logged.
n=$(count_events '.event=="reject"')
mc load qcount fail=7 >/dev/null 2>&1
[ $? -ne 0 ] && [ "$(count_events '.event=="reject"')" -gt "$n" ]
ok $? "install returning 7: the load is rejected"
events '.event=="message" and .module=="qcount"' | grep -q 'qemu_plugin_install returned 7'
ok $? "the event log has install's return value"
wait_for "install's value" _log_has '^modhost: qcount: qemu_plugin_install returned 7$' 1
ok $? "so does QEMU's log"
mc load qcount >/dev/null
ok $? "loaded again without fail="
mc param qcount fail=3 >/dev/null && ! mc reload qcount >/dev/null 2>&1
ok $? "a reload whose install returns 3 fails"
is "$(events '.event=="rollback"' | tail -1 | jq -r .module)" qcount "rollback event"
mc list | grep -q '^qcount .* live'
ok $? "the old version is still live"
qemu_alive
ok $? "the guest and QEMU kept running throughout"
qemu_stop

# -- two vCPUs on one thread: inline code becomes plain callbacks -----------
# QEMU 10.0's inline code corrupts the guest when one thread runs several
# vCPUs (host/api.c, inline_unsafe()): there the host registers qcount's
# inline adds and its conditional callback as plain callbacks, which must
# count the same: an add per block as a callback per block, instructions
# by block as by instruction, the mark once.
RUN_SMP="-smp 2 -accel tcg,thread=single" run_to_end "$T/qcount.one" \
	"$MODHOST_SO,dir=$T/dir-qcount,load=qcount,watch=off$(printf ',qcount.%s' $RANGE mark=500 mem=on)"
ok $? "qcount under -smp 2 -accel tcg,thread=single runs to the guest's end"
grep -q "inline operations and conditional callbacks, which QEMU 10.0 compiles wrongly here" "$T/qcount.one" &&
	awk '/^qcount: blocks / { b = $3; i = $5; e = $7; c = $9; m = $11 }
	     END { sub(/\)/, "", e); exit !(b > 0 && b == c && i == e && m == 1) }' "$T/qcount.one"
ok $? "there, qcount's inline counts and mark agree with its callbacks" ||
	grep -E "^qcount: (blocks|vcpu)|one thread" "$T/qcount.one" | diag

# -- a function of a newer API: the build fails naming it and its version ----
mkdir "$T/newer"
printf 'obj-q := newer.so\n' > "$T/newer/Makefile"
cat > "$T/newer/newer.c" <<'C'
#include <qemu-plugin.h>
QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;
static void on_insn(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	qemu_plugin_write_register(udata, NULL);
}
static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	qemu_plugin_register_vcpu_insn_exec_cb(qemu_plugin_tb_get_insn(tb, 0), on_insn,
					       QEMU_PLUGIN_CB_RW_REGS, NULL);
}
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	(void)info; (void)argc; (void)argv;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	return 0;
}
C
! make -C "$TOP" M="$T/newer" >"$T/newer.log" 2>&1 &&
	grep -q "error: call to .qemu_plugin_write_register. declared with attribute error: qemu_plugin_write_register is QEMU plugin API version 5 (QEMU 10.1)" "$T/newer.log" &&
	[ ! -f "$T/newer/newer.so" ]
ok $? "obj-q build of a plugin calling a v5 function fails naming it and the API version" ||
	head -5 "$T/newer.log" | diag
