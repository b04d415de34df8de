#!/bin/bash
# Guest hypercalls end to end (Documentation/hypercall-abi.rst), on the
# i386 guest and the x86_64 long-mode guest (TARGET=aarch64, arm, thumb:
# that target's guest, tests/integration/arm/), in both encodings: every call
# delivered once with its six arguments; refused magics; routes that leave
# with their owner; a route to an exported symbol with a guest string;
# guest load/unload/reload and every refused request; unknown magics
# counted exactly with a bounded log.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
# The target's hypercall guests, their widths, and the names of the two
# encodings (PANDA's form, the marked form) in events.
GUESTS=$HC_GUESTS
if [ "$TARGET" = x86_64 ]; then
	WIDTHS="32 64" ENCS="cpuid nop"
else
	ENCS="panda hint"
	[ "$TARGET" = aarch64 ] && WIDTHS=64 || WIDTHS=32
fi
set -- $GUESTS
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/hcrec-v1.so" "$TMOD/hcdup.so" \
	"$TMOD/hcsym.so" "$TMOD/hccons.so" "$BUILD/modules/hypercaller.so" \
	$(for g in $GUESTS; do guest_elf $g; done)
[ "$TARGET" = x86_64 ] && arm_only=0 || arm_only=1
plan $((24 + 20 * $# + arm_only))

N=${HCALLS:-5000}
SOCK=$T/ctl.sock
mc() { timeout 30 "$MODCTL" -s "$SOCK" "$@"; }
# The guest ends QEMU itself: wait for it (guest_status).
qemu_wait() { wait "$QEMU_PID"; local rc=$?; QEMU_PID=; return $rc; }
msg() { events ".event==\"message\" and .module==\"$1\" and (.text|test(\"$2\"))" | tail -1 | jq -r .text; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

drop "$TMOD/hcrec-v1.so" hcrec
drop "$TMOD/hcdup.so" hcdup
drop "$TMOD/hcsym.so" hcsym
drop "$TMOD/hccons.so" hccons
drop "$BUILD/modules/hypercaller.so" hypercaller

# -- deliveries: per width, per encoding --------------------------------------
set -- $WIDTHS
for GUEST in $GUESTS; do
	w=$1
	shift
	for enc in 0 1; do
		# hcrec counts per encoding as "cpuid=" (PANDA's) and "nop=".
		[ $enc = 0 ] && f=cpuid || f=nop
		e=$(cut -d' ' -f$((enc + 1)) <<<"$ENCS")
		GUEST=$GUEST qemu_start load=hcrec hcrec.width=$w -- \
			-append "mode=1 n=$N enc=$enc magic=0x12345600"
		qemu_wait
		is "$?" "$(guest_status 0)" "$w-bit guest, $e form: $N hypercalls sent, guest exits 0"
		x=$(msg hcrec '^exit')
		is "$(field calls "$x") $(field bad "$x") $(field next "$x") $(field $f "$x")" \
			"$N 0 $N $N" "$w-bit $e: exactly $N deliveries, six arguments right, in order, width $w"
	done
done

# -- Arm: only the exact marked form, in the state the code runs in ------------
if [ "$TARGET" != x86_64 ]; then
	GUEST=hcall qemu_start load=hcrec -- -append "mode=10 magic=0x12345600"
	wait_for "guest done" serial_has "hcall: done"
	qemu_stop
	x=$(msg hcrec '^exit')
	is "$(field calls "$x") $(field bad "$x") $(field nop "$x")" "2 0 2" \
		"near misses (a hint missing, out of order, interrupted; the mark in constants; Thumb's form in ARM state) are no hypercalls; a marked call split by a page boundary is one"
fi

# -- refused magics, routes and their owners (guest_control off) ------------
GUEST=hcall qemu_start load=hcrec:hcdup "ctl=$SOCK" -- -append "mode=4"
x=$(msg hcdup '^dup=')
is "$x" "dup=-17 own=0 own_again=-17 unregister_other=-2" \
	"another module's magic: -EEXIST; own magic twice: -EEXIST; cannot unregister another's"
events '.event=="message" and .module=="hcdup"' | jq -r .text |
	grep -q "hypercall magic 0x12345600 is already routed to hcrec (-EEXIST)"
ok $? "the refusal names the owner: $(events '.module=="hcdup" and (.text|test("already routed"))' | head -1 | jq -r .text)"
is "$(events '.module=="hcdup" and (.text|test("^refuse"))' | jq -r .text | grep -c -- '-> -22$')" 12 \
	"all 12 host-reserved and real-leaf magics refused with -EINVAL"
events '.module=="hcdup"' | jq -r .text | grep -q "0x4d480001 is reserved for the host"
ok $? "the log says why (reserved)"
events '.module=="hcdup"' | jq -r .text | grep -q "0x80000001 is a real cpuid leaf range"
ok $? "the log says why (cpuid leaf)"
r=$(mc --json routes)
is "$(jq -r '[.routes[] | select(.kind=="handler") | .magic + "=" + .owner] | join(" ")' <<<"$r")" \
	"0x12345600=hcrec 0x4d480100=hcdup" "modctl routes lists each route with its owner"
is "$(jq -r '[.routes[] | select(.kind|startswith("guest_control")) | .handler] | join(" ")' <<<"$r")" \
	"load unload reload" "and the guest-control magics"
mc unload hcdup >/dev/null
is "$(mc --json routes | jq -r '[.routes[] | select(.kind=="handler") | .owner] | join(" ")')" \
	"hcrec" "hcdup's route left with it"
wait_for "guest done" serial_has "hcall: done"
is "$(count_events '.event=="guest_denied" and .error=="guest_control=off"')" 10 \
	"guest_control=off: all 10 guest requests refused (guest_denied)"
is "$(count_events '.from=="guest" or .event=="guest_request"')" 0 "and none was acted on"
qemu_stop

# -- guest control on: load, reload, unload, and every refusal ----------------
for g in $GUESTS; do
	rm -f "$MODDIR/hcrec.so"
	drop "$TMOD/hcrec-v1.so" hcrec
	cp "$TMOD/hcrec-v1.so" "$T/hcrec.so"	# outside dir: must never load
	GUEST=$g qemu_start guest_control=on -- -append "mode=4"
	wait_for "guest done" serial_has "hcall: done"
	wait_event '.event=="guest_request" and .module=="nosuch"'
	is "$(events '.from=="guest" and (.event=="load" or .event=="reload" or .event=="unload")' |
		jq -r '.event + " " + .module' | paste -sd,)" "load hcrec,reload hcrec,unload hcrec" \
		"$g: the guest loads, reloads and unloads hcrec, in order"
	is "$(events '.event=="guest_request"' | jq -r '.op + "=" + .result' | head -3 | paste -sd' ')" \
		"load=ok reload=ok unload=ok" "$g: each guest_request says ok"
	is "$(events '.event=="reject" and .module=="nosuch"' | jq -r .error)" \
		"No such file or directory" "$g: a name not in dir: tried there only, rejected"
	d=$(events '.event=="guest_denied"' | jq -r '[.op, (.name // "-"), .error] | join("|")')
	for want in "load|../hcrec|not a module name" "load|sub/hcrec|not a module name" \
		"load|-|name length 65 is not 1..64" "load|-|name length 0 is not 1..64" \
		"reload|-|cannot read the name at 0xc0000000: not mapped" \
		"unload|hc rec|not a module name"; do
		grep -qF "$want" <<<"$d"
		ok $? "$g: refused with an event: $want"
	done
	is "$(count_events '.event=="load" and .file!=null and (.file|test("^'"$T"'/hcrec"))')" 0 \
		"$g: nothing outside dir was loaded"
	qemu_stop
done

# -- route to an exported symbol ----------------------------------------------
for g in $GUESTS; do
	GUEST=$g qemu_start load=hcsym route=0x12340001:hcsym.hc_greet \
		route=0x12340002:hcsym.hc_hostptr route=0x12340003:nosuch.fn -- \
		-append "mode=5 magic=0x12340001 enc=1"
	wait_for "guest done" serial_has "hcall: done"
	is "$(msg hcsym '^greet')" "greet s='hello, host' n=42 g=set" \
		"$g: route=0xMAGIC:hcsym.hc_greet: called with the guest's string copied in, u32 and g"
	f=$(events '.event=="hypercall_fault"' | jq -r '[.magic, .error] | join(" ")')
	grep -q "^0x12340001 argument 1: no string at 0xc0000000 (not mapped)" <<<"$f"
	ok $? "$g: an unmapped string: the call is refused with hypercall_fault"
	grep -q "^0x12340002 .*a host pointer (p) cannot come from a guest" <<<"$f"
	ok $? "$g: a symbol taking a host pointer is never called from a guest"
	[ -z "$(msg hcsym '^hostptr')" ]
	ok $? "$g: (it was not called)"
	grep -q "^0x12340003 nosuch.fn is not live" <<<"$f"
	ok $? "$g: a route to a module not loaded: hypercall_fault, not a crash"
	qemu_stop
done

# -- the hypercaller module: PANDA's API -------------------------------------
for g in $GUESTS; do
	GUEST=$g qemu_start load=hccons -- -append "mode=1 n=$N enc=0 magic=0x12345600"
	qemu_wait
	is "$(msg hccons '^exit')" "exit calls=$N bad=0" \
		"$g: register_hypercall(): $N calls reach the hypercall_t, arguments right"
done
GUEST=hcall qemu_start load=hccons "ctl=$SOCK" -- -append "mode=3 enc=1 magic=0x12345600"
wait_ticks 1
is "$(mc --json routes | jq -r '.routes[] | select(.magic=="0x12345600") | .owner')" \
	hypercaller "modctl routes: the magic is routed through hypercaller"
mc unload hccons >/dev/null
wait_event '.event=="message" and .module=="hypercaller" and (.text|test("gone"))'
ok $? "the consumer unloaded without unregistering: hypercaller drops its route, no stale call"
wait_event '.event=="hypercall_unknown" and .magic=="0x12345600"'
wait_ticks 1
qemu_alive
ok $? "the guest runs on; its hypercalls are now unknown magics"
drop "$TMOD/hccons.so" hccons
wait_event '.event=="load" and .module=="hccons"' 2
is "$(mc --json routes | jq -r '.routes[] | select(.magic=="0x12345600") | .owner')" \
	hypercaller "a consumer loaded again registers the magic again"
qemu_stop
# A consumer whose exit crashes: the host keeps its tainted copy mapped
# (never dlclose()d), but it is no longer a live module: never called again.
GUEST=hcall qemu_start load=hccons hccons.crash_exit=on "ctl=$SOCK" -- \
	-append "mode=3 enc=1 magic=0x12345600"
wait_ticks 1
mc unload hccons >/dev/null
wait_event '.event=="message" and .module=="hypercaller" and (.text|test("gone"))'
ok $? "a consumer whose copy stays mapped after its unload (exit crashed): route dropped, no stale call"
wait_event '.event=="hypercall_unknown" and .magic=="0x12345600"'
ok $? "its magic is unknown from then on"
qemu_stop

# -- route= at start: checked ------------------------------------------------
refused() {	# refused ARG PATTERN: QEMU refuses to start, saying PATTERN
	local out
	out=$(timeout 20 "$QEMU" "${QEMU_MACHINE[@]}" -display none -monitor none \
		-no-reboot -kernel "$(guest_elf hcall)" \
		-plugin "$MODHOST_SO,dir=$MODDIR,$1" 2>&1 </dev/null)
	[ $? -ne 0 ] && grep -q -- "$2" <<<"$out"
	ok $? "$1: refused at start ($(grep modhost <<<"$out" | head -1))"
}
refused route=0x4d480001:hcsym.hc_greet "host-reserved"
refused route=0x80000002:hcsym.hc_greet "real cpuid leaf range"
refused route=0x12340001:hcsym "not module.symbol"
refused "route=0x12340001:hcsym.hc_greet,route=0x12340001:hcsym.hc_hostptr" \
	"already routed to hcsym.hc_greet"

# -- 1,000,000 unknown magics -----------------------------------------------------
GUEST=hcall qemu_start -- -append "mode=2 n=1000000 enc=0 magic=0x22220000"
qemu_wait
u=$(events '.event=="hypercall_unknown"')
n=$(wc -l <<<"$u")
[ "$n" -ge 1 ] && [ "$n" -le 40 ]
ok $? "1,000,000 unknown hypercalls: $n log lines"
is "$(jq -s 'map(.count) | add' <<<"$u")" 1000000 "the counts add up to exactly 1,000,000"
is "$(tail -1 <<<"$u" | jq .total)" 1000000 "the last line's total is 1,000,000"
is "$(jq -r 'select(.magic != null) | .magic' <<<"$u" | sort -u)" 0x22220000 \
	"every reported magic is the guest's: the BIOS's real cpuid leaves are not hypercalls"
