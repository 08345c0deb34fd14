#!/bin/sh
# bench/pop3.sh: the POP3 server against Dovecot (issue 6, "Benchmark").
#
#   sh bench/pop3.sh [-b BUILD] [-n MESSAGES] [-l BYTES] [-P PEERS_STATE]
#                    [-o RESULTS.md] [-s] [-k]
#
# Makes one Maildir of MESSAGES (default 5000) messages of about BYTES
# (default 4096) and copies it into alice's mailbox of a fresh Postern
# tree (under /tmp) and of the reference Dovecot of ../shared/peers
# (STATE/mail/alice/Maildir, Debian package dovecot-pop3d).  Then, for
# each server, a Python poplib client logs in, LISTs, RETRieves every
# message (no DELE) and QUITs, twice: the first ("cold") session includes
# each server's one-time indexing of the new mail, the second ("warm")
# answers from the index.  It reports messages per second of each
# session, and the resident memory (VmRSS) of the server process serving
# one logged-in session (Postern: the pop3-session process; Dovecot: its
# pop3 process).  The table and the Postern/Dovecot ratios go to stdout
# and, with -o, into that file (its "## POP3" section is replaced).
# -s skips Dovecot (a smoke run of Postern alone); -k keeps the tree.
# Needs root for the peers (up.sh).
#
# Not a test and not for CI: the lead runs it on a quiet machine, one
# benchmark at a time.
set -eu

BUILD=build
COUNT=5000
SIZE=4096
PEERS_STATE=/tmp/postern-bench-peers
OUT=
SKIP_PEER=0
KEEP=0
while getopts b:n:l:P:o:sk opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	n) COUNT=$OPTARG ;;
	l) SIZE=$OPTARG ;;
	P) PEERS_STATE=$OPTARG ;;
	o) OUT=$OPTARG ;;
	s) SKIP_PEER=1 ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [-b BUILD] [-n MESSAGES] [-l BYTES] [-P STATE] [-o FILE] [-s] [-k]" >&2
	   exit 2 ;;
	esac
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$(cd "$SRC/../shared/peers" 2>/dev/null && pwd || true)
POSTERN=$(cd "$SRC/$BUILD/bin" && pwd)/postern
DIR=$(mktemp -d /tmp/postern-bench-pop3.XXXXXX)
chmod 755 "$DIR"
PORT_BASE=$(( 20000 + $$ % 30000 ))
WORK=$(mktemp -d /tmp/postern-bench-pop3-work.XXXXXX)

PEERS_UP=0
cleanup() {
	"$POSTERN" stop -d "$DIR" >/dev/null 2>&1 || true
	# Only what this run brought up is taken down again.
	[ "$PEERS_UP" = 1 ] && "$PEERS/down.sh" "$PEERS_STATE" >/dev/null 2>&1
	[ "$KEEP" = 1 ] && echo "Postern tree kept at $DIR" || rm -rf "$DIR"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the mailbox, made once

python3 - "$WORK/Maildir" "$COUNT" "$SIZE" <<'EOF'
import os, sys
root, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, sub))
line = b"abcdefghijklmnopqrstuvwxyz0123456789 the quick brown fox jumps over\n"
for i in range(count):
    head = (b"From: <bench@example.org>\nTo: <alice@example.test>\nSubject: bench %d\n"
            b"Message-ID: <bench-%d@example.org>\nDate: Thu, 01 Jan 2026 00:00:00 +0000\n\n" % (i, i))
    body = line * max(1, (size - len(head)) // len(line))
    data = head + body
    name = "%d.M%dP1Q%d.bench,S=%d" % (1767225600 + i, i, i, len(data))
    with open(os.path.join(root, "new", name), "wb") as f:
        f.write(data)
EOF

# ---- the client: one session, every message RETRieved; reports
# "SECONDS RSS_KB" where RSS is read by the callback while logged in.
cat > "$WORK/client.py" <<'EOF'
import poplib, subprocess, sys, time
port, user, password, rss_cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
start = time.monotonic()
p = poplib.POP3("127.0.0.1", port, timeout=600)
p.user(user)
p.pass_(password)
rss = subprocess.run(["sh", "-c", rss_cmd], stdout=subprocess.PIPE).stdout.decode().strip() or "0"
_, listing, _ = p.list()
n = 0
for entry in listing:
    p.retr(int(entry.split()[0]))
    n += 1
rss2 = subprocess.run(["sh", "-c", rss_cmd], stdout=subprocess.PIPE).stdout.decode().strip() or "0"
p.quit()
print("%d %.3f %s %s" % (n, time.monotonic() - start, rss, rss2))
EOF

# VmRSS (kB) of the largest process whose comm is $1 and that has $2 open.
rss_of() {
	echo "for p in \$(pgrep -x '$1'); do if ls -l /proc/\$p/fd 2>/dev/null | grep -q '$2'; then \
grep VmRSS /proc/\$p/status | awk '{print \$2}'; fi; done | sort -n | tail -1"
}

run_client() {   # port user password rss-command -> "N SECONDS RSS"
	python3 "$WORK/client.py" "$1" "$2" "$3" "$4"
}

# ---- Postern

"$POSTERN" init -d "$DIR" --domain example.test --listen 127.0.0.1 --port-base "$PORT_BASE" >/dev/null
PW=bench-$$-pw
"$POSTERN" user add -d "$DIR" alice@example.test "$PW" >/dev/null
MD="$DIR/mail/example.test/alice"
cp "$WORK/Maildir/new/"* "$MD/new/"
[ "$(id -u)" = 0 ] && chown -R postern-vmail: "$MD"
"$POSTERN" start -d "$DIR" >/dev/null
for _ in $(seq 1 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT_BASE + 110), 1).close()" \
		2>/dev/null && break
	sleep 0.1
done
# The session process's comm is its program name; the title says postern/pop3-session.
P_COLD=$(run_client $((PORT_BASE + 110)) alice@example.test "$PW" "$(rss_of popd "$MD")")
P_WARM=$(run_client $((PORT_BASE + 110)) alice@example.test "$PW" "$(rss_of popd "$MD")")

# ---- Dovecot

D_COLD="- - - -"
D_WARM="- - - -"
if [ "$SKIP_PEER" = 0 ]; then
	[ -n "$PEERS" ] || { echo "../shared/peers not found (use -s to skip Dovecot)" >&2; exit 1; }
	if [ ! -f "$PEERS_STATE/READY" ]; then
		PEERS_UP=1
		"$PEERS/up.sh" "$PEERS_STATE" >/dev/null
	fi
	eval "$("$PEERS/env.sh")"
	DMD="$PEERS_STATE/mail/alice/Maildir"
	OWNER=$(stat -c %u:%g "$DMD" 2>/dev/null || stat -c %u:%g "$PEERS_STATE/mail")
	rm -rf "$DMD"
	cp -r "$WORK/Maildir" "$DMD"
	chown -R "$OWNER" "$DMD"
	D_COLD=$(run_client "$POP3_PORT" "$USER1" "$PASS1" "$(rss_of pop3 "$DMD")")
	D_WARM=$(run_client "$POP3_PORT" "$USER1" "$PASS1" "$(rss_of pop3 "$DMD")")
fi

# ---- report
BENCH_CMD="sh bench/pop3.sh -b $BUILD -n $COUNT -l $SIZE"
BENCH_DATE=$(date -u +%Y-%m-%d)
BENCH_MACHINE="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
export BENCH_CMD BENCH_DATE BENCH_MACHINE

report() {
	python3 - "$COUNT" "$SIZE" "$P_COLD" "$P_WARM" "$D_COLD" "$D_WARM" <<'EOF'
import sys
count, size = sys.argv[1], sys.argv[2]
def parse(s):
    n, t, rss, rss2 = s.split()
    return (None, None, None, None) if n == "-" else (int(n), float(t), int(rss), int(rss2))
pc, pw, dc, dw = (parse(a) for a in sys.argv[3:7])
def rate(r):
    return "%.0f" % (r[0] / r[1]) if r[0] else "-"
def ratio(a, b):
    return "%.2f" % ((a[0] / a[1]) / (b[0] / b[1])) if a[0] and b[0] else "-"
import os, subprocess
print("## POP3\n")
print("`%s` (as root) on %s; %s." % (os.environ["BENCH_CMD"], os.environ["BENCH_DATE"], os.environ["BENCH_MACHINE"]))
print("%s messages of about %s bytes, every one RETRieved in one session (Python poplib, loopback)." % (count, size))
print("cold = first session after the mail arrived (each server indexes it), warm = the next.\n")
print("Session RSS: VmRSS of the process serving the logged-in session (Postern: pop3-session,")
print("Dovecot: pop3), read after PASS and again after the last RETR (warm session).\n")
print("| server | cold msg/s | warm msg/s | session RSS after login (kB) | after all RETRs (kB) |")
print("|---|---|---|---|---|")
print("| Postern | %s | %s | %s | %s |" % (rate(pc), rate(pw), pw[2], pw[3]))
print("| Dovecot | %s | %s | %s | %s |" % (rate(dc), rate(dw), dw[2] if dw[0] else "-", dw[3] if dw[0] else "-"))
print("| Postern / Dovecot | %s | %s | %s | %s |" % (ratio(pc, dc), ratio(pw, dw),
      "%.2f" % (pw[2] / dw[2]) if dw[0] and dw[2] else "-",
      "%.2f" % (pw[3] / dw[3]) if dw[0] and dw[3] else "-"))
print("\nmsg/s ratio above 1: Postern faster; RSS ratio below 1: Postern smaller.")
EOF
}
report
if [ -n "$OUT" ]; then
	report > "$DIR/section"
	python3 "$SRC/bench/put_section.py" "$OUT" "$DIR/section"
fi
