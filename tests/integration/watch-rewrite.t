#!/bin/bash
# A module rebuilt in place, as GNU ld writes its output: unlink, create,
# write the body in pieces and the ELF header last, close.  The watcher
# acts once the writer has closed the file: one reload, never a reject of
# the half-written file nor an unload for the unlink.  A plain delete
# still unloads.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/counter-v1.so" "$TMOD/counter-v2.so" "$TMOD/counter-v3.so"
command -v perl >/dev/null || skip_all "perl not found"
plan 8

HB=$T/heartbeat

# ld_write SRC DST: rewrite DST with SRC's bytes the way ld does, the
# pieces 15 ms apart, the first 64 bytes (the ELF header) last.
ld_write() {
	perl -e '
		use Fcntl;
		my ($src, $dst) = @ARGV;
		open(my $in, "<:raw", $src) or die "$src: $!";
		my $img = do { local $/; <$in> };
		my $n = length $img;
		my $piece = int(($n - 64) / 4) + 1;
		unlink $dst;
		sysopen(my $out, $dst, O_WRONLY | O_CREAT | O_TRUNC, 0755)
			or die "$dst: $!";
		for (my $off = 64; $off < $n; $off += $piece) {
			select(undef, undef, undef, 0.015);
			sysseek($out, $off, 0);
			syswrite($out, substr($img, $off, $piece)) or die "write: $!";
		}
		select(undef, undef, undef, 0.015);
		sysseek($out, 0, 0);
		syswrite($out, substr($img, 0, 64)) == 64 or die "write: $!";
		close($out) or die "close: $!";' "$1" "$2"
}

drop "$TMOD/counter-v1.so" counter
qemu_start load=counter "counter.heartbeat=$HB"
wait_event '.event=="load" and .module=="counter"'
wait_for "heartbeat" hb_above 0

ld_write "$TMOD/counter-v2.so" "$MODDIR/counter.so"
ok $? "counter.so rewritten in place as ld does"
wait_event '.event=="reload" and .version=="2"'
ok $? "reloaded to version 2"
# A later change the watcher sees after everything the rewrite caused.
drop "$TMOD/counter-v3.so" counter
wait_event '.event=="reload" and .version=="3"'
is "$(count_events '.event=="reload"')" "2" \
	"exactly one reload for the rewrite (and one for the next drop)"
is "$(count_events '.event=="reject" or .event=="rollback" or .event=="unload"')" "0" \
	"no reject, rollback or unload: the half-written file was never read"
is "$(events '.event=="reload"' | head -1 | jq -r '[.old_version,.version]|join(" ")')" \
	"1 2" "the rewrite's reload went 1 -> 2"

rm "$MODDIR/counter.so"
wait_event '.event=="unload" and .from=="watch"'
ok $? "a plain delete unloads"
h1=$(heartbeat "$HB")
wait_ticks 3
is "$(heartbeat "$HB")" "$h1" "the unloaded module's callbacks no longer run"
qemu_stop
is "$(count_events '.event=="reject"')" "0" "no reject in the whole run"
