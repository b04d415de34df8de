#!/bin/bash
# The control socket under abuse: clients that connect and never send
# (more of them than the host serves), a client over the limit, half a line
# then a disconnect, a 1 MB line, random bytes, 200 clients at once, and a
# second QEMU started on the same ctl= path.  Every client gets an answer
# (a reply, "too many clients (64)", or "no request for 10 s: closing"),
# never silence; the socket keeps answering; nothing crashes; the second
# QEMU refuses to start with one line and leaves the socket to the first.
# The clients are python3 (tests wait for answers with long timeouts: a
# timeout only means "never").
. "$(dirname "$0")/../lib.sh"
MODCTL=$BUILD/bin/modctl
need "$BUILD/modhost.so" "$MODCTL" "$TMOD/counter-v1.so"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 17

SOCK=$T/ctl.sock
MAX=64 IDLE=10
drop "$TMOD/counter-v1.so" counter
qemu_start "ctl=$SOCK" load=counter watch=off

# client SCENARIO: run one of the python clients below against $SOCK.
client() {
	python3 - "$SOCK" "$@" <<'EOF'
import json, os, random, socket, sys, threading, time

path, what = sys.argv[1], sys.argv[2]
WAIT = 60	# "never"

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Blocking: with a timeout, a full listen backlog fails with EAGAIN
    # instead of waiting for the host to accept.
    s.connect(path)
    s.settimeout(WAIT)
    return s

def lines(s, n=None):
    """Reply lines until EOF (or n of them); a reset counts as EOF."""
    buf, out = b"", []
    while n is None or len(out) < n:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        buf += d
        while b"\n" in buf and (n is None or len(out) < n):
            l, buf = buf.split(b"\n", 1)
            out.append(l.decode("utf-8", "replace"))
    return out

def error(line):
    try:
        o = json.loads(line)
    except ValueError:
        return "not JSON: " + line[:80]
    return "ok" if o.get("ok") is True else o.get("error", "no error member")

def request(s, req):
    try:
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        pass	# refused: the host's reason is there to read
    return lines(s, 1)

if what == "idle":
    # MAX+6 clients that never send (some a half line), then one more
    # that asks for a list; then what every idle one was told.
    n = int(sys.argv[3])
    idle = []
    for i in range(n):
        s = conn()
        if i % 4 == 1:
            try:
                s.sendall(b"li")	# half a line, never finished
            except (BrokenPipeError, ConnectionResetError):
                pass		# one over the limit, refused already
        idle.append(s)
    time.sleep(0.5)	# let the host accept them all (not a pass/fail wait)
    s = conn()
    t = time.monotonic()
    r = request(s, b"list\n")
    print("late", error(r[0]) if r else "silence", "%.1f" % ((time.monotonic() - t) * 1000))
    t = time.monotonic()
    told = {}
    for c in idle:
        # One deadline for all of them: "never" costs WAIT, not n * WAIT.
        c.settimeout(max(0.1, t + WAIT - time.monotonic()))
        got = lines(c)
        key = error(got[0]) if got else "closed without a word"
        told[key] = told.get(key, 0) + 1
    for k, v in sorted(told.items()):
        print("idle", v, k)
    print("after %.1f" % (time.monotonic() - t))

elif what == "halfline":
    s = conn()
    s.sendall(b"load coun")
    s.close()
    print("sent")

elif what == "bigline":
    s = conn()
    s.sendall(b"info " + b"x" * (1 << 20) + b"\nlist\n")
    s.shutdown(socket.SHUT_WR)
    print(" | ".join(error(l) for l in lines(s)))

elif what == "random":
    rnd = random.Random(1234)
    s = conn()
    data = bytes(rnd.getrandbits(8) for _ in range(200000))
    # Close with a newline, then a list, so the last reply is known.
    threading.Thread(target=lambda: (s.sendall(data + b"\nlist\n"),
                                     s.shutdown(socket.SHUT_WR))).start()
    got = lines(s)
    bad = [l for l in got if error(l).startswith("not JSON")]
    print(len(got), "replies,", len(bad), "not JSON, last:", error(got[-1]) if got else "none")

elif what == "many":
    # N clients connect at once, each sends list: each gets one reply.
    n = int(sys.argv[3])
    res, lock = {}, threading.Lock()
    start = threading.Barrier(n)	# all connected before any sends
    def one():
        try:
            s = conn()
            start.wait(WAIT)
            r = request(s, b"list\n")
            key = error(r[0]) if r else "silence"
        except Exception as e:
            key = "client failed: %s" % e
        with lock:
            res[key] = res.get(key, 0) + 1
    t = time.monotonic()
    ts = [threading.Thread(target=one) for _ in range(n)]
    for x in ts: x.start()
    for x in ts: x.join()
    for k, v in sorted(res.items()):
        print(v, k)
    print("took %.1f ms" % ((time.monotonic() - t) * 1000))

elif what == "list-while":
    # A list while N-1 other clients are connected and idle: its time.
    n = int(sys.argv[3])
    others = [conn() for _ in range(n - 1)]
    time.sleep(0.5)
    s = conn()
    t = time.monotonic()
    r = request(s, b"list\n")
    print(error(r[0]) if r else "silence", "%.2f ms" % ((time.monotonic() - t) * 1000))
EOF
}
listed() { timeout 30 "$MODCTL" -s "$SOCK" list 2>&1 | grep -q '^counter '; }

# -- idle clients over the limit -------------------------------------------
client idle $((MAX + 6)) > "$T/idle"
grep -q "^late too many clients ($MAX) " "$T/idle"
ok $? "$((MAX + 6)) idle clients: one more at once gets 'too many clients ($MAX)', not silence"
grep -q "^idle 6 too many clients ($MAX)$" "$T/idle"
ok $? "the 6 idle ones over the limit were told so too"
grep -q "^idle $MAX no request for $IDLE s: closing$" "$T/idle"
ok $? "the $MAX served idle ones (some with half a line) are told and closed"
grep -q "^idle" "$T/idle" && ! grep -q "^idle .* closed without a word\|not JSON" "$T/idle"
ok $? "no client was closed without a word ($(grep -c ^idle "$T/idle") kinds of answer)"
echo "# $(grep ^late "$T/idle" | cut -d' ' -f6) ms for the refusal; $(grep ^after "$T/idle")s for the idle ones to go"
listed
ok $? "then list is served again"

# -- broken input ------------------------------------------------------------
is "$(client halfline)" sent "half a line, then disconnect"
listed
ok $? "list answered after it"
is "$(client bigline)" "request longer than 4096 bytes | ok" \
	"a 1 MB line: one error, then the next request on the connection is served"
out=$(client random)
[[ "$out" == *" replies, 0 not JSON, last: ok" ]]
ok $? "200 KB of random bytes: every reply valid JSON, the list after them ok ($out)"
listed
ok $? "list answered after it"

# -- many at once -------------------------------------------------------------
client many 200 > "$T/many"
sed 's/^/# /' "$T/many"
is "$(awk '/ ok$| too many clients/ { n += $1 } END { print n }' "$T/many")" 200 \
	"200 clients at once: each gets one reply, a list or 'too many clients ($MAX)'"
grep -q ' ok$' "$T/many"
ok $? "and lists are served among them"
out=$(client list-while $MAX)
echo "# list with $((MAX - 1)) idle clients connected: $out"
[[ "$out" == "ok "* ]]
ok $? "a list is served while $((MAX - 1)) others sit idle"

# -- a second QEMU on the same path --------------------------------------------
out=$(timeout 30 "$QEMU" -M pc -m 64 -display none -monitor none -no-reboot \
	-serial null -kernel "$BUILD/tests/guest/spin.elf" \
	-plugin "$MODHOST_SO,dir=$MODDIR,ctl=$SOCK" 2>&1)
status=$?
[ $status -ne 0 ] && [ $status -ne 124 ] &&
	[ "$(grep -c "ctl=$SOCK: another process serves this socket" <<<"$out")" -ge 1 ]
ok $? "a second QEMU on the live socket refuses to start: $(grep -m1 modhost: <<<"$out")"
listed
ok $? "the first one still serves it"

qemu_alive
ok $? "QEMU still running"
qemu_stop
[ ! -e "$SOCK" ]
ok $? "QEMU exits cleanly and removes its socket"
