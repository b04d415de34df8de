#!/bin/bash
# callstack_instr.rets=counted on a Linux boot (Debian's cloud kernel,
# -smp 2, threaded stacks): the kernel's rets carry an inline count
# instead of a callback, and the next call settles them.  Two boots, one
# with rets=exact: the counted boot's folded stacks keep the kernel's call
# edges (at least 99% of its calls are on caller;callee edges the exact
# boot has too, error_entry's frames left out: 99.96% measured; a count
# that pops one frame too many or too few makes edges no boot has), its
# stacks do not grow, and the entries from user space start their own
# paths (under rets=exact a ret that no frame matches leaves
# error_entry's frame below them).
# rets= takes counted or exact only, counted with threaded stacks only.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so"
need_linux_guest
plan 8

use_modules osi osi_linux callstack_instr

# boot RETS: a boot to power-off with threaded stacks and rets=RETS; the
# folded stacks in $T/RETS.folded, QEMU's log in $T/RETS.log.
boot() {
	linux_boot "run=bin/busybox,true" "watch=off,hook_timeout=0,load=osi_linux:callstack_instr,callstack_instr.stack_type=threaded,callstack_instr.rets=$1,callstack_instr.symbols=kernel,callstack_instr.folded=$T/$1.folded"
	local st=$?
	cp "$QLOG" "$T/$1.log"
	return $st
}
# exit_count RETS NAME: a count callstack_instr logged at its exit.
exit_count() { grep -o " $2=[0-9]*" "$T/$1.log" | tail -1 | cut -d= -f2; }
# edges FOLDED: its caller;callee pairs (each line's last frame and the
# nearest frame below it that is not error_entry's), with the calls made
# on them.  Under rets=exact error_entry's frame stays below what the
# entry ran (see below), and where an interrupt lands in a loop of calls
# differs from boot to boot: once 2% of a boot's calls, the indirect calls
# of btf_check_all_metas, had error_entry for their caller there.
edges() {
	awk '{ n = split($1, f, ";"); k = n - 1
	       while (k > 0 && f[k] == "error_entry") k--
	       w[(k > 0 ? f[k] : "-") ";" f[n]] += $NF }
	     END { for (e in w) print e, w[e] }' "$1" | sort
}

boot exact
ok $? "a boot with rets=exact powers off"
boot counted
st=$?
grep -q "callstack_instr: stack_type=threaded max_depth=1024 rets=counted" "$T/counted.log"
ok $((st || $?)) "a boot with rets=counted powers off, its rets counted"

calls=$(exit_count counted calls) popped=$(exit_count counted popped) depth=$(exit_count counted max_depth)
[ "${calls:-0}" -gt 1000000 ] && [ $((popped * 1000)) -ge $((calls * 999)) ] &&
	[ "$depth" -le 64 ] && [ "$(exit_count counted dropped)" = 0 ]
ok $? "its stacks do not grow: $popped frames popped of $calls calls, deepest $depth"

edges "$T/exact.folded" >"$T/exact.edges"
edges "$T/counted.folded" >"$T/counted.edges"
read -r on total < <(awk 'NR == FNR { e[$1] = 1; next }
	{ t += $2; if ($1 in e) a += $2 } END { print a + 0, t + 0 }' \
	"$T/exact.edges" "$T/counted.edges")
[ "$total" -gt 1000000 ] && [ $((on * 100)) -ge $((total * 99)) ]
ok $? "$on of its $total calls are on caller;callee edges the rets=exact boot has"

# Entries from user space: a syscall's or page fault's handler is the
# first named frame of its path.  Under rets=exact the frame of
# error_entry (the entry code calls it on one stack, it returns on the
# task's: no frame matches that ret) stays below the handlers it runs.
roots() {
	awk '{ n = split($1, f, ";"); r = ""
	       for (i = 1; i <= n; i++) if (f[i] !~ /^0x/) { r = f[i]; break }
	       c[r] += $NF } END { for (r in c) print r, c[r] }' "$1"
}
under_entry() {	# calls on paths with two frames or more above error_entry
	awk '{ n = split($1, f, ";")
	       for (i = 1; i <= n; i++)
		       if (f[i] == "error_entry" && n - i >= 2) { s += $NF; break } }
	     END { print s + 0 }' "$1"
}
user=$(roots "$T/counted.folded" | awk '$1 ~ /^(do_syscall_64|exc_page_fault)$/ { s += $2 } END { print s + 0 }')
stale=$(under_entry "$T/counted.folded") stale_exact=$(under_entry "$T/exact.folded")
[ "$user" -gt 10000 ] && [ $((stale * 1000)) -le "$calls" ]
ok $? "syscalls and page faults from user space start their paths ($user calls); $stale calls above error_entry (rets=exact: $stale_exact)"

start_loaded callstack_instr -M pc -m 64 -plugin "$MODHOST_SO,dir=$MODDIR,load=callstack_instr,callstack_instr.rets=lazy"
grep -q "callstack_instr: rets=lazy: expected counted or exact" "$T/start.log" &&
	! grep -q "callstack_instr: loaded" "$T/start.log"
ok $? "rets=lazy is refused with a line: $(grep -o 'rets=lazy:.*' "$T/start.log" | head -1)"

start_loaded callstack_instr -M pc -m 64 -plugin "$MODHOST_SO,dir=$MODDIR,load=callstack_instr,callstack_instr.rets=counted"
grep -q "callstack_instr: rets=counted needs stack_type=threaded" "$T/start.log" &&
	! grep -q "callstack_instr: loaded" "$T/start.log"
ok $? "rets=counted with asid stacks is refused with a line"

grep -q "callstack_instr: stack_type=threaded max_depth=1024 folded=" "$T/exact.log" &&
	[ "$(exit_count exact calls)" -gt 1000000 ]
ok $? "rets=exact logs no rets=counted and follows $(exit_count exact calls) calls"
