#!/bin/bash
# ABI conformance, under a real QEMU: a module built against each minor of
# the host's major loads and runs; a module built before the API table and
# the ops struct grew keeps working; every module the host must refuse
# (wrong ABI, metadata missing, truncated or inconsistent) is refused with
# a message naming the difference, and none of its code runs: the test
# module's constructor appends to $MODHOST_TEST_MARKER, which must stay
# absent.  The limits come from the ABI manifest (abi/vN.manifest): the
# host is checked against the ABI as recorded, not against its own code.
#
# Run by make check against the tree, or by make -C tests/abi SDK=DIR
# against an installed SDK ($ABI_O names the built test modules).
. "$(dirname "$0")/../lib.sh"
ABI_O=${ABI_O:-$BUILD/tests/abi/tree}
need "$ABI_O/info"
. "$ABI_O/info"
MODHOST_SO=$ABI_HOST
MANIFEST=$TOP/abi/v$ABI_MAJOR.manifest
need "$MODHOST_SO" "$MANIFEST" "$ABI_O/elfpatch" "$ABI_O/current/abimod.so" \
	"$ABI_O/old/oldmod.so" "$TMOD/prov-v1.so" "$TMOD/cons-badsig.so"
command -v objcopy >/dev/null || skip_all "objcopy (binutils) is missing"

MAJ=$ABI_MAJOR MIN=$ABI_MINOR
# A reason here turns the "no code ran" checks of that kind into TAP TODO
# tests; empty, they must pass (the host checks mh_module_ops in the file
# and plans required modules before dlopen).
AFTER_DLOPEN=
DEPS_AFTER_DLOPEN=

# minors, oldmod, 23 refusals of 3 tests, the lying oldmod, imports, the end
plan $((2 * $(wc -w <<<"$ABI_SNAPSHOTS") + 3 + 6 + 3 * 23 + 2 + 3 + 4))

# ok_todo STATUS DESCRIPTION REASON: a TAP TODO test (never fails the
# run), or a plain one when REASON is empty.
ok_todo() {
	[ -n "$3" ] || { ok "$1" "$2"; return; }
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2 # TODO $3"
	else
		echo "not ok $_tap_n - $2 # TODO $3"
	fi
}

limit() {
	awk -v k="$1" '$1 == "meta" && $2 == "limit." k { print $4 }' "$MANIFEST"
}

export MODHOST_TEST_MARKER=$T/marker
HB=$T/heartbeat
HB_OLD=$T/heartbeat-old
hb_above() { [ "$(heartbeat "$1")" -gt "$2" ] 2>/dev/null; }
# counting FILE: the module that counts into FILE is live and its
# callbacks run.
counting() {
	local h
	h=$(heartbeat "$1")
	wait_for "heartbeat $1 to grow" hb_above "$1" "${h:-0}"
}

qemu_start "abimod.heartbeat=$HB" "oldmod.heartbeat=$HB_OLD"

# -- every minor of this major loads ---------------------------------------
# Oldest first, each replacing the one before (the first is a load, the
# others reloads); "current" is built against the headers under test.
for v in $ABI_SNAPSHOTS current; do
	[ "$v" = current ] && f=$ABI_O/current/abimod.so || f=$ABI_O/minor-$v/abimod.so
	[ "$v" = current ] && ver=current || ver=minor-$v
	drop "$f" abimod
	wait_event "(.event==\"load\" or .event==\"reload\") and .module==\"abimod\" and .version==\"$ver\""
	ok $? "built against ${v/current/the headers under test ($MAJ.$MIN)}: loaded"
	[ "$v" = current ] && continue
	counting "$HB"
	ok $? "built against $v: its callbacks run"
done
counting "$HB"
ok $? "built against the headers under test: its callbacks run"
grep -qx "abimod current" "$MODHOST_TEST_MARKER"
ok $? "the marker shows code that ran (a loaded module's constructor)"

# -- an older, smaller API table and ops struct -----------------------------
drop "$ABI_O/old/oldmod.so" oldmod
wait_event '.event=="load" and .module=="oldmod"'
ok $? "a module whose ops end after init (16 bytes) loads"
counting "$HB_OLD"
ok $? "and runs, using only the first members of the API table"
drop "$ABI_O/old/oldmod.so" oldmod
wait_event '.event=="reload" and .module=="oldmod"'
ok $? "and reloads (no save_state, exit or prepare hook is called)"
rm "$MODDIR/oldmod.so"
wait_event '.event=="unload" and .module=="oldmod"'
ok $? "and unloads"
! grep -q poison "$MODHOST_TEST_MARKER"
ok $? "the host read nothing past its ops' size (no poison hook called)"
table=$(events '.event=="message" and .module=="abimod"' | jq -r .text |
	sed -n 's/.* of \([0-9]*\) bytes$/\1/p' | tail -1)
is "$(events '.event=="message" and .module=="oldmod"' | jq -r .text | sort -u)" \
	"up: oldmod, host table ${table:-?} bytes, mine 128" \
	"it sees the host's whole table and reads its own members"

# -- refusals ---------------------------------------------------------------
nrej() { count_events ".event==\"reject\" and .module==\"$1\""; }
# refused FILE NAME PATTERN DESCRIPTION [TODO]: dropping FILE as NAME.so is
# refused with an error matching PATTERN, no code of it runs, and the live
# abimod keeps running.
refused() {
	local file=$1 name=$2 pat=$3 what=$4 todo=${5:-} n ev
	rm -f "$MODHOST_TEST_MARKER"
	n=$(nrej "$name")
	drop "$file" "$name"
	wait_event ".event==\"reject\" and .module==\"$name\"" $((n + 1))
	ev=$(events ".event==\"reject\" and .module==\"$name\"" | tail -1)
	jq -e --arg p "$pat" '.error|test($p)' <<<"$ev" >/dev/null
	ok $? "$what: refused: $(jq -r .error <<<"$ev")"
	[ ! -e "$MODHOST_TEST_MARKER" ]
	ok_todo $? "$what: none of its code ran" "$todo"
	[ -e "$MODHOST_TEST_MARKER" ] && sed 's/^/#   marker: /' "$MODHOST_TEST_MARKER"
	counting "$HB"
	ok $? "$what: the live version keeps running"
}

sec_size() {
	objcopy --dump-section .modhost="$T/sec" "$1" "$T/discard" && stat -c %s "$T/sec"
}
# craft NAME BASE: $T/NAME.so, BASE with its metadata section replaced by
# $T/content (stdin), padded with NULs to the section's size so that the
# file's layout does not move.
craft() {
	local size
	cat > "$T/content"
	size=$(sec_size "$2")
	[ "$(stat -c %s "$T/content")" -le "$size" ] || bail "$1: content larger than $2's section"
	truncate -s "$size" "$T/content"
	objcopy --update-section .modhost="$T/content" "$2" "$T/$1.so" ||
		bail "objcopy failed on $1"
}
CUR=$ABI_O/current/abimod.so
CRAFT=$ABI_O/craft/abimod.so
# Valid metadata, the heartbeat param included: a crafted module fails
# only for what the test put in.
HEAD="abi=$MAJ.$MIN\0name=abimod\0version=crafted\0param=heartbeat:str:h\0paramdefault=heartbeat:\0"

refused "$ABI_O/newminor/abimod.so" abimod \
	"ABI $MAJ\\.$((MIN + 1)),.*host has ABI $MAJ\\.$MIN" "minor newer than the host's"
refused "$ABI_O/newmajor/abimod.so" abimod \
	"ABI $((MAJ + 1))\\.0,.*host has ABI $MAJ\\.$MIN" "major newer than the host's"
refused "$ABI_O/oldmajor/abimod.so" abimod \
	"ABI $((MAJ - 1))\\.0,.*host has ABI $MAJ\\.$MIN" "major older than the host's"

objcopy --remove-section .modhost "$CUR" "$T/nometa.so"
refused "$T/nometa.so" abimod "no \\.modhost section" "metadata missing"
objcopy --update-section .modhost=/dev/null "$CUR" "$T/emptymeta.so"
refused "$T/emptymeta.so" abimod "empty" "metadata section empty"
printf "abi=$MAJ.$MIN\0name=abimod\0" | craft short "$CRAFT"
refused "$T/short.so" abimod "no 'version' entry" "metadata too short (no version)"
cp "$CUR" "$T/cut.so"
"$ABI_O/elfpatch" "$T/cut.so" .modhost size -3 >/dev/null
refused "$T/cut.so" abimod "not NUL-terminated" "section cut short by 3 bytes"
size=$(sec_size "$CRAFT")
{ printf "$HEAD"; head -c "$size" /dev/zero | tr '\0' x; } | head -c "$size" |
	craft unterminated "$CRAFT"
refused "$T/unterminated.so" abimod "not NUL-terminated" "last string not terminated"
cp "$CUR" "$T/outside.so"
"$ABI_O/elfpatch" "$T/outside.so" .modhost offset "$(stat -c %s "$CUR")" >/dev/null
refused "$T/outside.so" abimod "outside the file" "section header past the end of the file"
head -c $(($(stat -c %s "$CUR") / 2)) "$CUR" > "$T/halved.so"
refused "$T/halved.so" abimod "truncated|outside the file|corrupt" "file cut in half"

n=$(limit depends)
{ printf "$HEAD"; for i in $(seq 0 "$n"); do printf 'depends=dep%d\0' "$i"; done; } |
	craft depends "$CRAFT"
refused "$T/depends.so" abimod "more than $n depends" "$((n + 1)) depends (limit $n)"
n=$(limit params)
{ printf "$HEAD"; for i in $(seq 0 "$n"); do printf 'param=p%d:uint:h\0paramdefault=p%d:0\0' "$i" "$i"; done; } |
	craft params "$CRAFT"
refused "$T/params.so" abimod "more than $n params" "$((n + 1)) params (limit $n)"
n=$(limit size)
printf "$HEAD" | craft big "$ABI_O/craftbig/abimod.so"
refused "$T/big.so" abimod "more than $n" "section over $n bytes"

printf "${HEAD}name=abimod\0" | craft twice "$CRAFT"
refused "$T/twice.so" abimod "'name' given twice" "inconsistent: name given twice"
printf "abi=$MAJ\0name=abimod\0version=1\0" | craft badabi "$CRAFT"
refused "$T/badabi.so" abimod "abi '$MAJ' is not MAJOR.MINOR" "inconsistent: abi is not MAJOR.MINOR"
printf "${HEAD}param=n:uint:help\0paramdefault=n:minus one\0" | craft baddefault "$CRAFT"
refused "$T/baddefault.so" abimod "default of param 'n'" "inconsistent: default not of the param's type"
printf "${HEAD}paramdefault=nosuch:1\0" | craft orphan "$CRAFT"
refused "$T/orphan.so" abimod "names no declared param" "inconsistent: default of an undeclared param"
printf "${HEAD}description=tab\there\0" | craft control "$CRAFT"
refused "$T/control.so" abimod "control characters" "a value with a control character"
printf "${HEAD}depends=nosuchmod\0" | craft nodep "$CRAFT"
refused "$T/nodep.so" abimod "required module 'nosuchmod'" \
	"requires a module that is not there" "$DEPS_AFTER_DLOPEN"
refused "$CUR" abimod2 "names module 'abimod', the file is abimod2\\.so" \
	"name not matching the file name"

refused "$ABI_O/opsminor/abimod.so" abimod \
	"metadata says ABI $MAJ\\.$MIN, mh_module_ops says $MAJ\\.$((MIN + 1))" \
	"ops symbol's minor disagrees with the metadata" "$AFTER_DLOPEN"
refused "$ABI_O/opsmajor/abimod.so" abimod \
	"metadata says ABI $MAJ\\.$MIN, mh_module_ops says $((MAJ + 1))\\.$MIN" \
	"ops symbol's major disagrees with the metadata" "$AFTER_DLOPEN"
refused "$ABI_O/opssmall/abimod.so" abimod "mh_module_ops is 8 bytes, less than 16" \
	"ops symbol smaller than its init hook's end" "$AFTER_DLOPEN"

# Ops that claim more bytes than their symbol has: the host would copy
# the poison after it as hooks.  Before the host checks the symbol's size
# (pending) it loads it: then unload it again, the test TODO.
rm -f "$MODHOST_TEST_MARKER"
drop "$ABI_O/oldliar/oldmod.so" oldmod
wait_event '(.event=="reject" or .event=="load") and .module=="oldmod" and (.version=="old" or .version==null)' 2
ev=$(events '(.event=="reject" or .event=="load") and .module=="oldmod"' | tail -1)
jq -e '.event=="reject" and (.error|test("says it is 48 bytes, the symbol is 16"))' <<<"$ev" >/dev/null
ok_todo $? "ops claiming more bytes than their symbol has: refused ($(jq -r '.error // .event' <<<"$ev"))" \
	"$AFTER_DLOPEN"
if [ "$(jq -r .event <<<"$ev")" = load ]; then
	rm "$MODDIR/oldmod.so"
	wait_event '.event=="unload" and .module=="oldmod"' 2
fi
[ ! -e "$MODHOST_TEST_MARKER" ]
ok_todo $? "... and none of its code ran" "$AFTER_DLOPEN"

# -- imports ----------------------------------------------------------------
# A consumer importing prov.prov_add with another signature than prov
# exports: refused naming both, before any of its code runs.
drop "$TMOD/prov-v1.so" prov
refused "$TMOD/cons-badsig.so" cons \
	"prov\\.prov_add is u64\\(u64\\), imported as u64\\(u32\\)" \
	"import with a wrong signature"
rm -f "$MODDIR/prov.so" "$MODDIR/cons.so"

# -- still the same host ------------------------------------------------------
qemu_alive
ok $? "QEMU and the guest survived every refusal"
is "$(count_events '(.event=="load" or .event=="reload") and .module=="abimod" and .version!="old"')" \
	"$(($(wc -w <<<"$ABI_SNAPSHOTS") + 1))" "only the valid abimod builds were loaded"
is "$(events '.event=="reject"' | jq -r .error | grep -c 'dlopen' || true)" "0" \
	"no refusal came from dlopen"
qemu_stop
is "$(events '.event=="unload"' | tail -1 | jq -r '[.module,.version]|join(" ")')" \
	"abimod current" "the last valid version was live to the end"
