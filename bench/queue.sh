#!/bin/sh
# bench/queue.sh: qmgr with a big queue (issue 4, "Benchmark").
#
#   sh bench/queue.sh [-b BUILD] [-n COUNT] [-m wait|due] [-k]
#
# Writes COUNT queue files (default 100000) straight into
# DIR/queue/deferred/ of a fresh tree under /tmp (as enqueue would, in the
# version 2 format), starts Postern and measures:
#   wait  (default) every message is due in a day: the time qmgr needs to
#         load the queue at start (its one pass over deferred/, from
#         `postern start` to the "deferred/ scanned" log line) and qmgr's
#         memory afterwards (VmRSS and peak VmHWM);
#   due   every message is due now, for a local user: the time until the
#         queue is empty (all delivered) and qmgr's peak memory meanwhile,
#         which qmgr_active_limit bounds whatever COUNT is.
# -k keeps the tree.  Not a test: it prints figures for bench/RESULTS.md.
# Runs as root or as any user (then everything runs as that user).
set -eu

BUILD=build
COUNT=100000
MODE=wait
KEEP=0
while getopts b:n:m:k opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	n) COUNT=$OPTARG ;;
	m) MODE=$OPTARG ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [-b BUILD] [-n COUNT] [-m wait|due] [-k]" >&2; exit 2 ;;
	esac
done
case $MODE in wait|due) ;; *) echo "mode must be wait or due" >&2; exit 2 ;; esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
POSTERN=$(cd "$SRC/$BUILD/bin" && pwd)/postern
DIR=$(mktemp -d /tmp/postern-bench-queue.XXXXXX)
chmod 755 "$DIR"
PORT_BASE=$(( 20000 + $$ % 30000 ))

cleanup() {
	"$POSTERN" stop -d "$DIR" >/dev/null 2>&1 || true
	[ "$KEEP" = 1 ] && echo "tree kept at $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

"$POSTERN" init -d "$DIR" --domain example.test --listen 127.0.0.1 --port-base "$PORT_BASE" >/dev/null
echo "bench-password" | "$POSTERN" user add -d "$DIR" alice@example.test >/dev/null
# No remote agent needed; nothing is due before the pass in "wait" mode.
printf 'queue_run_delay = 3600s\n' >> "$DIR/etc/postern.conf"

echo "writing $COUNT queue files into $DIR/queue/deferred ($MODE) ..."
python3 - "$DIR/queue/deferred" "$COUNT" "$MODE" <<'EOF'
import os, sys, time
d, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
now = int(time.time())
due = now - 60 if mode == "due" else now + 86400
body = b"Subject: queue bench\nFrom: <bench@example.org>\n\n" + b"x" * 1000 + b"\n"
uid = gid = None
if os.geteuid() == 0:
    import pwd
    pw = pwd.getpwnam("postern-queue")
    uid, gid = pw.pw_uid, pw.pw_gid
for i in range(n):
    qid = "%08X%05X%X" % (now, i % 100000, 0x100000 + i)
    head = ("POSTERN-QUEUE 2\nid=%s\ntime=%d\nsender=bench@example.org\nproto=bench\n"
            "attempts=000001\nwarned=0\nrcpt=Palice@example.test\nsize=%020d\n\n"
            % (qid, now, len(body))).encode()
    p = os.path.join(d, qid)
    with open(p, "wb") as f:
        f.write(head + body)
    if uid is not None:
        os.chown(p, uid, gid)
    os.utime(p, (due, due))
EOF

qmgr_pid() {
	for p in /proc/[0-9]*; do
		[ "$( { tr '\0' '\n' < "$p/cmdline"; } 2>/dev/null | head -n1)" = "postern/qmgr" ] || continue
		grep -q "^PPid:[[:space:]]*$MASTER\$" "$p/status" 2>/dev/null && { basename "$p"; return; }
	done
}
mem() { grep -E '^(VmRSS|VmHWM)' "/proc/$1/status" | tr -s ' \t' ' ' | tr '\n' ' '; }
now_ms() { date +%s%3N; }

T0=$(now_ms)
"$POSTERN" start -d "$DIR" -f > "$DIR/master.log" 2>&1 &
MASTER=$!
QMGR=""
while [ -z "$QMGR" ]; do sleep 0.05; QMGR=$(qmgr_pid || true); done

if [ "$MODE" = wait ]; then
	until grep -q "deferred/ scanned" "$DIR/master.log"; do sleep 0.05; done
	T1=$(now_ms)
	echo "messages:        $COUNT deferred, none due"
	echo "load time:       $(( T1 - T0 )) ms from start to the end of qmgr's first pass"
	grep "deferred/ scanned" "$DIR/master.log" | head -n1
	echo "qmgr memory:     $(mem "$QMGR")"
else
	PEAK=""
	while [ "$(find "$DIR/queue/incoming" "$DIR/queue/active" "$DIR/queue/deferred" -type f | head -n1)" ]; do
		sleep 1
		PEAK=$(mem "$QMGR")
	done
	T1=$(now_ms)
	echo "messages:        $COUNT due now, to alice@example.test"
	echo "drain time:      $(( T1 - T0 )) ms until the queue was empty"
	echo "delivered:       $(ls "$DIR/mail/example.test/alice/new" | wc -l)"
	echo "qmgr memory:     $PEAK"
fi
