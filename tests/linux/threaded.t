#!/bin/bash
# callstack_instr.stack_type=threaded on a real Linux guest (Debian's
# cloud kernel, -smp 2): tests/linux/cs2threads.c runs two threads at once,
# A looping worker_a -> a1 -> a2 -> a3 and B worker_b -> b1 -> b2 -> b3 ->
# b4, N times each.  With threaded stacks (osi_linux's on_task_change) the
# folded stacks show each chain alone, N times; with asid stacks, one per
# address space, the same run mixes them or cuts them short.  cs2threads asks for the load of
# callstack_instr itself (guest_control=on), so the boot runs without it.
# Skips only if the Debian packages cannot be fetched.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so"
need_linux_guest
plan 7

use_modules osi osi_linux callstack_instr
N=10000

# run TYPE: boot, cs2threads loads callstack_instr with stack_type=TYPE.
run() {
	linux_boot "run=cs2threads,$N" "guest_control=on,load=osi_linux,callstack_instr.stack_type=$1,callstack_instr.symbols=$LX/cs2threads,callstack_instr.folded=$T/folded-$1"
}

# chains FOLDED [LEAF]: each folded line's frames among the two threads'
# chains and main (other frames dropped), with its count: "worker_a;a1
# 20000".  With LEAF, only the lines whose innermost frame is one of them:
# calls of that function, not of what it called (an interrupt's handlers).
chains() {
	awk -v leaf="${2:-}" '
	     function ours(x) { return x ~ /^(main|worker_[ab]|a[1-3]|b[1-4])$/ }
	     { n = split($1, f, ";"); s = ""
	       for (i = 1; i <= n; i++)
		       if (ours(f[i]))
			       s = s (s == "" ? "" : ";") f[i]
	       if (s != "" && (leaf == "" || ours(f[n]))) print s, $2 }' "$1"
}

# mixed: the lines whose frames are not one piece of one thread's chain.
mixed() {
	chains "$1" | awk '{ s = ";" $1 ";" }
		index(";main;", s) || index(";worker_a;a1;a2;a3;", s) ||
		index(";worker_b;b1;b2;b3;b4;", s) { next } { print }'
}

# count FOLDED CHAIN: how many calls of CHAIN's last function had CHAIN
# as their whole named stack.
count() { chains "$1" leaf | awk -v c="$2" '$1 == c { n += $2 } END { print n + 0 }'; }

run threaded
ok $? "threaded: Linux boots, cs2threads loads callstack_instr and runs its threads"
grep -q "cs2threads: done $N" "$SERIAL" && [ -s "$T/folded-threaded" ]
ok $? "threaded: both threads ran $N times and the folded stacks were written"
is "$(mixed "$T/folded-threaded" | wc -l)/$(count "$T/folded-threaded" "worker_a;a1" | sed 's/^[1-9][0-9]*$/some/')" 0/some \
	"threaded: no folded stack mixes the two threads' chains (or main's)"
a=$(count "$T/folded-threaded" "worker_a;a1;a2;a3")
b=$(count "$T/folded-threaded" "worker_b;b1;b2;b3;b4")
echo "# worker_a;a1;a2;a3 $a, worker_b;b1;b2;b3;b4 $b of $N"
# An interrupt that lands between a call and its callee's first block
# costs that call its place; nothing else may.
[ "$a" -ge $((N * 99 / 100)) ] && [ "$b" -ge $((N * 99 / 100)) ] &&
	[ "$a" -le "$N" ] && [ "$b" -le "$N" ]
ok $? "threaded: each thread's whole chain, $N times each (within 1%)"
is "$(events '.event=="load" and .module=="callstack_instr"' | jq -r .from)" guest \
	"callstack_instr was loaded by the guest's hypercall"

run asid
ok $? "asid: the same run"
# One stack per address space: what one thread pushes lands on the other's
# frames or main's (a mixed stack), or its returns pop them (a chain cut
# short, its callers gone): either way the chains are not each thread's.
m=$(mixed "$T/folded-asid" | wc -l)
a=$(count "$T/folded-asid" "worker_a;a1;a2;a3")
b=$(count "$T/folded-asid" "worker_b;b1;b2;b3;b4")
echo "# asid: $m mixed stacks; worker_a;a1;a2;a3 $a, worker_b;b1;b2;b3;b4 $b of $N"
mixed "$T/folded-asid" | sort -k2 -n -r | head -3 | sed 's/^/#   /'
[ "$m" -gt 0 ] || [ "$a" -lt $((N * 99 / 100)) ] || [ "$b" -lt $((N * 99 / 100)) ]
ok $? "asid: the same threads' chains are mixed or cut short (one stack per address space)"
