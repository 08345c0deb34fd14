#!/bin/sh
# bench/queue.sh: qmgr with a big queue (issue 4, "Benchmark").
#
#   sh bench/queue.sh [-b BUILD] [-n COUNT] [-m wait|due] [-o RESULTS.md] [-s] [-k]
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
# In "wait" mode, and as root, the same is measured for Postfix's qmgr (-s
# skips it): a private Postfix instance under /tmp defers one message (its
# relayhost is a closed port), the script clones that queue file COUNT
# times into deferred/ (fresh queue IDs, mode 0700, mtime a day ahead),
# starts Postfix and watches its qmgr.  Postfix logs nothing at the end of
# a deferred/ pass, so for both systems the script also samples qmgr's CPU
# time (utime+stime, 10 ms ticks) every 50 ms; "pass done" for Postfix is
# the last CPU tick before 3 s without any.  With -o the table replaces
# the "## Queue" section of that file.
# -k keeps the tree.  Not a test: it prints figures for bench/RESULTS.md.
# Runs as root or as any user (then everything runs as that user).
set -eu

BUILD=build
COUNT=100000
MODE=wait
KEEP=0
OUT=
SKIP_PEER=0
[ "$(id -u)" = 0 ] || SKIP_PEER=1
while getopts b:n:m:o:sk opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	n) COUNT=$OPTARG ;;
	m) MODE=$OPTARG ;;
	o) OUT=$OPTARG ;;
	s) SKIP_PEER=1 ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [-b BUILD] [-n COUNT] [-m wait|due] [-o FILE] [-s] [-k]" >&2; exit 2 ;;
	esac
done
[ "$MODE" = wait ] || SKIP_PEER=1
case $MODE in wait|due) ;; *) echo "mode must be wait or due" >&2; exit 2 ;; esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
POSTERN=$(cd "$SRC/$BUILD/bin" && pwd)/postern
DIR=$(mktemp -d /tmp/postern-bench-queue.XXXXXX)
chmod 755 "$DIR"
PORT_BASE=$(( 20000 + $$ % 30000 ))

PF_ETC=
cleanup() {
	"$POSTERN" stop -d "$DIR" >/dev/null 2>&1 || true
	[ -n "$PF_ETC" ] && postfix -c "$PF_ETC" stop >/dev/null 2>&1
	[ "$KEEP" = 1 ] && echo "tree kept at $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

qmgr_pid() {   # $1: the parent (a master) pid; $2: argv[0] of the qmgr
	for p in /proc/[0-9]*; do
		[ "$( { tr '\0' '\n' < "$p/cmdline"; } 2>/dev/null | head -n1)" = "$2" ] || continue
		grep -q "^PPid:[[:space:]]*$1\$" "$p/status" 2>/dev/null && { basename "$p"; return; }
	done
}
mem() { awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { print r, h }' "/proc/$1/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now_ms() { date +%s%3N; }

# Sample qmgr's CPU ticks until they stay put for 3 s (or until done_cmd
# succeeds and they stay put): prints "ms_of_last_tick total_ticks".
watch_cpu() {   # pid t0_ms
	last=$(ticks "$1"); last_ms=$(now_ms); quiet_since=$last_ms
	while :; do
		sleep 0.05
		t=$(ticks "$1") || break
		n=$(now_ms)
		if [ "$t" != "$last" ]; then last=$t; last_ms=$n; quiet_since=$n
		elif [ $(( n - quiet_since )) -ge 3000 ]; then break; fi
		[ $(( n - $2 )) -lt 900000 ] || { echo "qmgr still busy after 15 minutes" >&2; break; }
	done
	echo "$(( last_ms - $2 )) $last"
}

T0=$(now_ms)
"$POSTERN" start -d "$DIR" -f > "$DIR/master.log" 2>&1 &
MASTER=$!
QMGR=""
while [ -z "$QMGR" ]; do sleep 0.05; QMGR=$(qmgr_pid "$MASTER" postern/qmgr || true); done

RESULTS=$DIR/results
if [ "$MODE" = wait ]; then
	until grep -q "deferred/ scanned" "$DIR/master.log"; do sleep 0.05; done
	T1=$(now_ms)
	set -- $(watch_cpu "$QMGR" "$T0")
	echo "postern $(( T1 - T0 )) $2 $(mem "$QMGR")" > "$RESULTS"
	echo "Postern: $COUNT deferred, none due"
	echo "  load time:   $(( T1 - T0 )) ms from start to the end of qmgr's first pass (log line below)"
	grep "deferred/ scanned" "$DIR/master.log" | head -n1
	echo "  qmgr CPU:    $2 ticks; memory (VmRSS VmHWM kB): $(mem "$QMGR")"
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
	echo "qmgr memory (VmRSS VmHWM kB): $PEAK"
	exit 0
fi
"$POSTERN" stop -d "$DIR" >/dev/null 2>&1 || true
wait "$MASTER" 2>/dev/null || true

# ---- Postfix's qmgr with the same number of deferred messages
if [ "$SKIP_PEER" = 0 ]; then
	PF=$DIR/postfix
	mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
	chown postfix "$PF/data"
	: > "$PF/etc/main.cf"
	PF_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	sed 's/^smtp\( *\)inet.*/'"127.0.0.1:$PF_PORT"' inet n - n - - smtpd/' /usr/share/postfix/master.cf.dist > "$PF/etc/master.cf"
	postconf -c "$PF/etc" -e \
		"queue_directory = $PF/spool" "data_directory = $PF/data" \
		"myhostname = bench-postfix.test" "mydestination =" "inet_interfaces = 127.0.0.1" \
		"inet_protocols = ipv4" "mynetworks = 127.0.0.0/8" "relayhost = [127.0.0.1]:$DEAD_PORT" \
		"maillog_file = $PF/maillog" "maillog_file_prefixes = $DIR" "compatibility_level = 3.6" \
		"alias_maps =" "alias_database =" "local_recipient_maps =" \
		"smtpd_relay_restrictions = permit_mynetworks, reject"
	PF_ETC=$PF/etc
	postfix -c "$PF_ETC" start >/dev/null 2>&1 || { tail -n 5 "$PF/maillog" >&2; exit 1; }
	i=0
	until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),2); sys.exit(0 if s.recv(3)==b"220" else 1)' "$PF_PORT" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "Postfix did not start" >&2; exit 1; }; sleep 0.1
	done
	smtp-source -m 1 -l 1000 -f bench@example.org -t alice@bench.test "127.0.0.1:$PF_PORT"
	i=0
	until [ -n "$(find "$PF/spool/deferred" -type f 2>/dev/null | head -n1)" ]; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo "Postfix did not defer the seed message" >&2; exit 1; }; sleep 0.1
	done
	postfix -c "$PF_ETC" stop >/dev/null 2>&1
	# stop returns before the master is gone; a start meanwhile fails.
	i=0
	while postfix -c "$PF_ETC" status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "Postfix did not stop" >&2; exit 1; }; sleep 0.1
	done
	echo "cloning Postfix's deferred queue file $COUNT times ..."
	python3 - "$PF/spool" "$COUNT" <<'PYEOF'
import os, random, sys, time
spool, n = sys.argv[1], int(sys.argv[2])
seed = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(spool, "deferred")) for f in fs][0]
st = os.stat(seed)
data = open(seed, "rb").read()
sid = os.path.basename(seed)
for dp, _, fs in os.walk(os.path.join(spool, "defer")):
    for f in fs:
        os.unlink(os.path.join(dp, f))
os.unlink(seed)
due = int(time.time()) + 86400
seen = set()
made = 0
while made < n:
    # Postfix short queue IDs: upper-case hex; deferred/ is hashed by the first character.
    qid = "%010X" % random.getrandbits(40)
    if qid in seen or qid[0] == "0":
        continue
    seen.add(qid)
    d = os.path.join(spool, "deferred", qid[0])
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chown(d, st.st_uid, st.st_gid)
    p = os.path.join(d, qid)
    with open(p, "wb") as f:
        f.write(data)
    os.chown(p, st.st_uid, st.st_gid)
    os.chmod(p, 0o700)
    os.utime(p, (due, due))
    made += 1
PYEOF
	sync
	T0=$(now_ms)
	# The first start after the cloning sometimes fails postfix-script's
	# integrity check (and a second one does not): try a few times.
	i=0
	until postfix -c "$PF_ETC" start >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 5 ] || { tail -n 5 "$PF/maillog" >&2; exit 1; }; sleep 1
		T0=$(now_ms)
	done
	PFM=""
	while [ -z "$PFM" ]; do sleep 0.02; PFM=$(cat "$PF/spool/pid/master.pid" 2>/dev/null | tr -d ' ' || true); done
	PQ=""
	while [ -z "$PQ" ]; do sleep 0.02; PQ=$(qmgr_pid "$PFM" qmgr || true); done
	set -- $(watch_cpu "$PQ" "$T0")
	echo "postfix $1 $2 $(mem "$PQ")" >> "$RESULTS"
	echo "Postfix: $COUNT deferred, none due"
	echo "  load time:   ~$1 ms from start to qmgr's last CPU tick of the pass"
	echo "  qmgr CPU:    $2 ticks; memory (VmRSS VmHWM kB): $(mem "$PQ")"
	postfix -c "$PF_ETC" stop >/dev/null 2>&1
	PF_ETC=
fi

report() {
	awk -v n="$COUNT" -v cmd="sh bench/queue.sh -b $BUILD -n $COUNT" -v date="$(date -u +%Y-%m-%d)" \
	    -v mach="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)" '
	{ t[$1] = $2; c[$1] = $3; r[$1] = $4; h[$1] = $5 }
	END {
		print "## Queue"
		print ""
		printf "`%s` (as root) on %s; %s.\n", cmd, date, mach
		printf "%d messages in deferred/, none due (next try in a day); each system started with that queue.\n", n
		print "Load time: Postern from `postern start` to qmgr'"'"'s \"deferred/ scanned\" log line; Postfix (which logs"
		print "nothing at the end of a pass) from `postfix start` to its qmgr'"'"'s last CPU tick before 3 quiet seconds."
		print ""
		print "| | Postern | Postfix | ratio Postfix/Postern |"
		print "|---|---|---|---|"
		printf "| load time (ms) | %s | %s | %s |\n", t["postern"], ("postfix" in t) ? t["postfix"] : "-", ("postfix" in t && t["postern"] > 0) ? sprintf("%.2f", t["postfix"] / t["postern"]) : "-"
		printf "| qmgr CPU (10 ms ticks) | %s | %s | %s |\n", c["postern"], ("postfix" in c) ? c["postfix"] : "-", ("postfix" in c && c["postern"] > 0) ? sprintf("%.2f", c["postfix"] / c["postern"]) : "-"
		printf "| qmgr VmRSS (kB) | %s | %s | %s |\n", r["postern"], ("postfix" in r) ? r["postfix"] : "-", ("postfix" in r && r["postern"] > 0) ? sprintf("%.2f", r["postfix"] / r["postern"]) : "-"
		printf "| qmgr VmHWM (kB) | %s | %s | %s |\n", h["postern"], ("postfix" in h) ? h["postfix"] : "-", ("postfix" in h && h["postern"] > 0) ? sprintf("%.2f", h["postfix"] / h["postern"]) : "-"
		print ""
		print "A ratio above 1 means Postern is better (faster, smaller)."
	}' "$RESULTS"
}
report
if [ -n "$OUT" ]; then
	report > "$DIR/section"
	python3 "$SRC/bench/put_section.py" "$OUT" "$DIR/section"
	echo "written to $OUT"
fi
