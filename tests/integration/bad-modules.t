#!/bin/bash
# A corpus of bad module files, each put in place of a live, counting
# version 1 of counter and reloaded over the control socket: every one is
# one clear error (a reject, or a rollback once its code has run), the
# control socket answers it with one error line, version 1 keeps counting,
# and QEMU survives them all.  The files are placed by hand and reloaded
# with `modctl reload` (watch=off), so the watcher's view of odd files
# (symlink loops, directories) plays no part.
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
V1=$TMOD/counter-v1.so
need "$BUILD/modhost.so" "$MODCTL" "$V1" "$TMOD/counter-v2.so" \
	"$TMOD/counter-abimajor.so" "$TMOD/counter-initfail.so" \
	"$TMOD/counter-crash.so" "$TMOD/counter-abort.so" \
	"$TMOD/counter-exit.so" "$TMOD/counter-hang.so" \
	"$TMOD/counter-mallochang.so" "$TMOD/dep_user.so"

export LC_ALL=C
C=$T/corpus
mkdir -p "$C"
size=$(stat -c %s "$V1")

# -- the corpus ---------------------------------------------------------------
: > "$C/empty"
# Pseudo-random, but the same bytes on every run.
awk 'BEGIN { srand(7); for (i = 0; i < 8192; i++) printf "%c", int(rand() * 256) }' \
	> "$C/random"
# An ELF magic, then noise.
{ printf '\177ELF\002\001\001'; cat "$C/random"; } > "$C/elf-noise"
for at in 16 64 1024 $((size / 2)) $((size - 1)); do
	head -c "$at" "$V1" > "$C/trunc-$at"
done
# patch FILE OFFSET BYTES(printf format): a copy of version 1, patched.
patch() {
	cp "$V1" "$C/$1"
	# shellcheck disable=SC2059
	printf "$3" | dd of="$C/$1" bs=1 seek="$2" conv=notrunc status=none
}
patch aarch64 18 '\267\000'	# e_machine EM_AARCH64
patch elfclass32 4 '\001'	# EI_CLASS ELFCLASS32, the rest 64-bit
patch big-endian 5 '\002'	# EI_DATA ELFDATA2MSB

NOTOURS="expected a 64-bit x86-64 shared object"
# name|how counter.so is made (a shell command)|event|what the error says
CASES=(
	"empty file|cp $C/empty|reject|not an ELF file"
	"random bytes|cp $C/random|reject|not an ELF file"
	"ELF magic then noise|cp $C/elf-noise|reject|$NOTOURS"
	"truncated at 16 bytes|cp $C/trunc-16|reject|not an ELF file"
	"truncated at 64 bytes|cp $C/trunc-64|reject|truncated or corrupt"
	"truncated at 1 KiB|cp $C/trunc-1024|reject|truncated or corrupt"
	"truncated at half|cp $C/trunc-$((size / 2))|reject|truncated or corrupt"
	"truncated by one byte|cp $C/trunc-$((size - 1))|reject|truncated or corrupt"
	"an aarch64 ELF|cp $C/aarch64|reject|machine 183, $NOTOURS"
	"a 32-bit class byte|cp $C/elfclass32|reject|ELF class 1 .*$NOTOURS"
	"big-endian data byte|cp $C/big-endian|reject|$NOTOURS"
	"ABI major + 1|cp $TMOD/counter-abimajor.so|reject|ABI $((ABI_MAJOR + 1))\\..*host has ABI $ABI"
	"init returns -EINVAL|cp $TMOD/counter-initfail.so|rollback|init failed: -22"
	"init segfaults|cp $TMOD/counter-crash.so|rollback|init crashed \\(Segmentation fault\\)"
	"init calls abort()|cp $TMOD/counter-abort.so|rollback|init called abort\\(\\)"
	"init calls exit(3)|cp $TMOD/counter-exit.so|rollback|init called exit\\(3\\)"
	"init never returns|cp $TMOD/counter-hang.so|rollback|init did not return within 1 s"
	"init loops in malloc()|cp $TMOD/counter-mallochang.so|rollback|init did not return within 1 s"
	"a symlink loop|ln -s counter.so|reject|symbolic link"
	"a directory named counter.so|mkdir|reject|not a regular file|directory"
	"a file without read permission|unreadable|reject|Permission denied"
)
plan $((${#CASES[@]} * 3 + 7))

SOCK=$T/ctl.sock
HB=$T/heartbeat
nfail() { count_events '.event=="reject" or .event=="rollback"'; }
# place HOW: make $MODDIR/counter.so as the case says.
place() {
	local f=$MODDIR/counter.so
	rm -rf "$f"
	case $1 in
	mkdir) mkdir "$f" ;;
	unreadable) cp "$V1" "$f" && chmod 000 "$f" ;;
	"ln -s counter.so") ln -s counter.so "$f" ;;
	*) $1 "$f" ;;
	esac
}

drop "$V1" counter
qemu_start "ctl=$SOCK" watch=off hook_timeout=1 load=counter "counter.heartbeat=$HB"
wait_for "heartbeat" hb_above 0
ok $? "version 1 loaded and counting"

for c in "${CASES[@]}"; do
	IFS='|' read -r name how event pat <<<"$c"
	if [ "$how" = unreadable ] && [ "$(id -u)" -eq 0 ]; then
		for _ in 1 2 3; do
			ok 0 "$name # SKIP running as root, which reads any file"
		done
		continue
	fi
	n=$(nfail)
	place "$how"
	reply=$(timeout 60 "$MODCTL" -s "$SOCK" --raw <<<"reload counter")
	wait_event '.event=="reject" or .event=="rollback"' $((n + 1))
	ev=$(events '.event=="reject" or .event=="rollback"' | tail -1)
	[ -n "$ev" ] && jq -e --arg e "$event" --arg p "$pat" \
		'.event==$e and (.error|test($p))' <<<"$ev" >/dev/null
	ok $? "$name: $event ($(jq -r .error <<<"$ev" 2>/dev/null))"
	[ -n "$reply" ] && [ "$(wc -l <<<"$reply")" -eq 1 ] &&
		jq -e '.ok==false and (.error|length>0)' <<<"$reply" >/dev/null
	ok $? "$name: one error reply on the control socket"
	hb_grows
	ok $? "$name: version 1 still live and counting"
done

is "$(events '.event=="rollback"' | jq -r .version | sort -u)" "1" \
	"every rollback kept version 1"
is "$("$MODCTL" -s "$SOCK" --json info counter | jq -r .version)" "1" \
	"version 1 is the live one"

# A module whose required module is missing: a reject naming it.
cp "$TMOD/dep_user.so" "$MODDIR/dep_user.so"
reply=$(timeout 60 "$MODCTL" -s "$SOCK" --raw <<<"load dep_user")
[ -n "$reply" ] &&
	jq -e '.ok==false and (.error|test("dep_base"))' <<<"$reply" >/dev/null &&
	events '.event=="reject" and .module=="dep_user"' | tail -1 |
	grep -q "required module 'dep_base'"
ok $? "a missing required module: reject naming it ($(jq -r .error <<<"$reply"))"

# After all of them, a good version 2 still reloads with the count.
place "cp $TMOD/counter-v2.so"
reply=$(timeout 60 "$MODCTL" -s "$SOCK" --raw <<<"reload counter")
[ -n "$reply" ] && jq -e .ok <<<"$reply" >/dev/null
ok $? "a good version 2 reloads after the corpus"
is "$(events '.event=="state_handoff"' | jq -r '[.from_version,.version]|join(" ")')" \
	"1 2" "with version 1's state"
qemu_alive
ok $? "QEMU survived every one"
