#!/bin/sh
# bench/remote.sh -- outbound SMTP throughput: Postern against Postfix
# (issue 5, "Benchmark").
#
#   sh bench/remote.sh [-b BUILD] [-n MESSAGES] [-c CONCURRENCY] [-l BYTES]
#                      [-o RESULTS.md] [-s] [-q]
#
# Defaults: build/, 20000 messages of about 2048 bytes, 20 parallel
# deliveries.  Needs root, postfix (smtp-sink, smtp-source, postfix) and
# dnsmasq; everything listens on loopback addresses only and is torn down
# at the end (every process by pid, Postfix with `postfix stop`).  -s skips
# Postfix.  Bounded: each wait gives up after 15 minutes.
#
# Same run, same sink, same load for both systems:
#   - Postfix's smtp-sink on 127.0.0.2:SINK is the MX of bench.test
#     (dnsmasq on 127.0.0.1:DNS; Postern asks it through dns_servers).
#     Postfix's resolver cannot be pointed at another port, so Postfix
#     reaches the sink through relayhost [127.0.0.2]:SINK; Postern runs
#     both ways (MX lookup, and the same relayhost), and the ratio uses
#     the same route (relayhost).
#   - Each system gets the same concurrency: Postern qmgr_remote_concurrency
#     = qmgr_destination_concurrency = remote_destination_concurrency_limit
#     = C; Postfix smtp_destination_concurrency_limit = C.
#   - smtp-source injects MESSAGES messages for u@bench.test over SMTP
#     (C sessions) into each system in turn while the sink takes them.
#   - Measured: from the start of injection until the sink has received
#     every message (its -c counter "mesg=N"); also when injection ended.
#   - -q ("queued first"): the sink is down while the messages are
#     injected, so every one ends up in the deferred queue; then the sink
#     is started and the queue flushed (`postern queue flush`, `postfix
#     flush`), and the time is from the flush until the sink has them all:
#     the delivery agent alone, without injection.
set -eu

BUILD=build
N=20000
C=20
SIZE=2048
OUT=
SKIP_PEER=0
QUEUED=0
while getopts b:n:c:l:o:sq opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	n) N=$OPTARG ;;
	c) C=$OPTARG ;;
	l) SIZE=$OPTARG ;;
	o) OUT=$OPTARG ;;
	s) SKIP_PEER=1 ;;
	q) QUEUED=1 ;;
	*) echo "usage: $0 [-b BUILD] [-n MESSAGES] [-c CONCURRENCY] [-l BYTES] [-o FILE] [-s] [-q]" >&2
	   exit 2 ;;
	esac
done

HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=$HERE/$BUILD/bin
WORK=$(mktemp -d /tmp/postern-bench-remote.XXXXXX)
chmod 755 "$WORK"
DNS_PID=
SINK_PID=
PT_DIR=
PF_ETC=

die() { echo "bench/remote.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (Postfix and Postern want their system users)"
for t in smtp-sink smtp-source postfix postconf dnsmasq; do
	command -v $t >/dev/null || die "$t missing: apt-get install postfix dnsmasq-base"
done
[ -x "$BIN/postern" ] && [ -x "$BIN/remote" ] || die "build first: make BUILD=$BUILD all"

free_port() {
	python3 -c 'import socket,sys
s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}

stop_pid() {   # kill one pid we started and reap it
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	set +e
	[ -n "$PF_ETC" ] && postfix -c "$PF_ETC" stop >/dev/null 2>&1
	[ -n "$PT_DIR" ] && "$BIN/postern" stop -d "$PT_DIR" >/dev/null 2>&1
	stop_pid "$SINK_PID"
	stop_pid "$DNS_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SINK_PORT=$(free_port 127.0.0.2)
DNS_PORT=$(free_port 127.0.0.1)
SINK_LOG=$WORK/sink.out
RESULTS=$WORK/results

# ---- the shared peers
dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 \
	--port="$DNS_PORT" --local=/test/ --mx-host=bench.test,mx.bench.test,10 \
	--host-record=mx.bench.test,127.0.0.2 >"$WORK/dnsmasq.log" 2>&1 &
DNS_PID=$!

start_sink() {
	: >"$SINK_LOG"
	# -c: counters "sess=S quit=Q mesg=M" separated by CR; 1000 = backlog.
	smtp-sink -c -u nobody "127.0.0.2:$SINK_PORT" 1000 >"$SINK_LOG" 2>&1 &
	SINK_PID=$!
	i=0
	until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.2",int(sys.argv[1])),2); sys.exit(0 if s.recv(3)==b"220" else 1)' "$SINK_PORT" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 50 ] || die "smtp-sink did not start"; sleep 0.1
	done
}
stop_sink() { stop_pid "$SINK_PID"; SINK_PID=; }

# Messages the sink has received: the last counter's mesg=.  (The probe
# connection above counts as a session, not as a message.)
sink_count() {
	tail -c 200 "$SINK_LOG" | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1 | awk '{ print $1 + 0 } END { if (NR == 0) print 0 }'
}

wait_sink() {   # want, what
	end=$(( $(date +%s) + 900 ))
	while [ "$(sink_count)" -lt "$1" ]; do
		[ "$(date +%s)" -lt "$end" ] || { echo "timeout: the sink has $(sink_count) of $1 messages ($2)" >&2; return 1; }
		sleep 0.1
	done
}

now() { date +%s.%N; }

# Files under the deferred queue ($1) once nothing is in flight ($2...).
queue_settled() {   # want deferred_dir busy_dir...
	want=$1 dq=$2; shift 2
	end=$(( $(date +%s) + 900 ))
	while :; do
		if [ "$(find "$dq" -type f | wc -l)" -ge "$want" ] &&
		   [ -z "$(find "$@" -type f 2>/dev/null | head -n1)" ]; then
			return 0
		fi
		[ "$(date +%s)" -lt "$end" ] || { echo "timeout: $(find "$dq" -type f | wc -l) of $want deferred" >&2; return 1; }
		sleep 0.2
	done
}

# queued label port flush-command deferred-dir busy-dirs...: inject with the
# sink down, wait until all are deferred, start the sink, flush, time it.
queued_and_wait() {
	label=$1 port=$2 flush=$3; shift 3
	t0=$(now)
	smtp-source -s "$C" -m "$N" -l "$SIZE" -M bench.example -f bench@local.test -t u@bench.test "127.0.0.1:$port"
	t1=$(now)
	queue_settled "$N" "$@"
	start_sink
	t2=$(now)
	sh -c "$flush" >/dev/null
	wait_sink "$N" "$label"
	t3=$(now)
	echo "$label $t0 $t1 $t2 $t3" | awk -v n="$N" '{ printf "%s %.2f %.2f %.1f\n", $1, $3 - $2, $5 - $4, n / ($5 - $4) }' >>"$RESULTS"
	tail -n 1 "$RESULTS" | awk '{ printf "%s: injected in %ss; after the flush all %s at the sink in %ss: %s msg/s\n", $1, $2, "'"$N"'", $3, $4 }'
}

# inject label port; appends "label secs_inject secs_all msg_per_s" to RESULTS
inject_and_wait() {
	t0=$(now)
	smtp-source -s "$C" -m "$N" -l "$SIZE" -M bench.example -f bench@local.test -t u@bench.test "127.0.0.1:$2"
	t1=$(now)
	wait_sink "$N" "$1"
	t2=$(now)
	echo "$1 $t0 $t1 $t2" | awk -v n="$N" '{ printf "%s %.2f %.2f %.1f\n", $1, $3 - $2, $4 - $2, n / ($4 - $2) }' >>"$RESULTS"
	tail -n 1 "$RESULTS" | awk '{ printf "%s: injected in %ss, all %s at the sink after %ss: %s msg/s\n", $1, $2, "'"$N"'", $3, $4 }'
}

# ---- Postern
run_postern() {   # $1 = label, $2 = relayhost ("" = MX)
	PT_DIR=$WORK/postern-$1
	PT_BASE=$(python3 -c 'import random; print(random.randrange(20000, 40000))')
	"$BIN/postern" init -d "$PT_DIR" --domain local.test --listen 127.0.0.1 --port-base "$PT_BASE" >/dev/null
	cat >>"$PT_DIR/etc/postern.conf" <<EOF
mynetworks = 127.0.0.0/8
smtpd_client_connection_limit = 0
dns_servers = 127.0.0.1:$DNS_PORT
remote_smtp_port = $SINK_PORT
relayhost = $2
qmgr_remote_concurrency = $C
qmgr_destination_concurrency = $C
remote_destination_concurrency_limit = $C
remote_tls_security_level = none
EOF
	"$BIN/postern" check -d "$PT_DIR" >/dev/null || die "postern check failed for $PT_DIR/etc/postern.conf"
	# remote's maxproc must allow C parallel deliveries.
	awk -v c="$C" '$1 == "remote" && $6 < c { $6 = c } { print }' "$PT_DIR/etc/master.conf" >"$PT_DIR/etc/master.conf.new"
	mv "$PT_DIR/etc/master.conf.new" "$PT_DIR/etc/master.conf"
	"$BIN/postern" start -d "$PT_DIR" >/dev/null
	i=0
	until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),2); sys.exit(0 if s.recv(3)==b"220" else 1)' $((PT_BASE + 25)) 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || die "Postern did not start"; sleep 0.1
	done
	if [ "$QUEUED" = 1 ]; then
		queued_and_wait "postern-$1" $((PT_BASE + 25)) "'$BIN/postern' queue -d '$PT_DIR' flush" \
			"$PT_DIR/queue/deferred" "$PT_DIR/queue/incoming" "$PT_DIR/queue/active"
	else
		start_sink
		inject_and_wait "postern-$1" $((PT_BASE + 25))
	fi
	stop_sink
	"$BIN/postern" stop -d "$PT_DIR" >/dev/null
	PT_DIR=
}

# ---- Postfix (a private instance under $WORK)
run_postfix() {
	PF_ETC=$WORK/postfix/etc
	PF_PORT=$(free_port 127.0.0.1)
	mkdir -p "$PF_ETC" "$WORK/postfix/spool" "$WORK/postfix/data"
	chown postfix "$WORK/postfix/data"
	: >"$PF_ETC/main.cf"
	cp /usr/share/postfix/master.cf.dist "$PF_ETC/master.cf"
	sed -i 's/^smtp\( *\)inet.*/'"127.0.0.1:$PF_PORT"' inet n - n - - smtpd/' "$PF_ETC/master.cf"
	postconf -c "$PF_ETC" -e \
		"queue_directory = $WORK/postfix/spool" "data_directory = $WORK/postfix/data" \
		"myhostname = bench-postfix.test" "mydestination =" "inet_interfaces = 127.0.0.1" \
		"inet_protocols = ipv4" "mynetworks = 127.0.0.0/8" "relayhost = [127.0.0.2]:$SINK_PORT" \
		"smtp_destination_concurrency_limit = $C" "relay_destination_concurrency_limit = $C" \
		"default_process_limit = $((C + 100))" "maillog_file = $WORK/postfix/maillog" \
		"maillog_file_prefixes = $WORK" \
		"compatibility_level = 3.6" "smtp_tls_security_level = none" \
		"smtpd_client_event_limit_exceptions = 127.0.0.0/8" \
		"alias_maps =" "alias_database =" "local_recipient_maps =" \
		"smtpd_relay_restrictions = permit_mynetworks, reject"
	postfix -c "$PF_ETC" check >/dev/null 2>&1 || true
	postfix -c "$PF_ETC" start >/dev/null 2>&1 || { tail -n 5 "$WORK/postfix/maillog" >&2; die "postfix did not start"; }
	i=0
	until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),2); sys.exit(0 if s.recv(3)==b"220" else 1)' "$PF_PORT" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || die "Postfix did not start"; sleep 0.1
	done
	if [ "$QUEUED" = 1 ]; then
		queued_and_wait postfix-relay "$PF_PORT" "postfix -c '$PF_ETC' flush" \
			"$WORK/postfix/spool/deferred" "$WORK/postfix/spool/incoming" "$WORK/postfix/spool/active" \
			"$WORK/postfix/spool/maildrop"
	else
		start_sink
		inject_and_wait postfix-relay "$PF_PORT"
	fi
	stop_sink
	postfix -c "$PF_ETC" stop >/dev/null 2>&1
	PF_ETC=
}

echo "bench/remote.sh: $N messages of $SIZE bytes, concurrency $C"
run_postern mx ""
run_postern relay "[127.0.0.2]:$SINK_PORT"
[ "$SKIP_PEER" = 1 ] || run_postfix

report() {
	if [ "$QUEUED" = 1 ]; then Q=" -q"; SECTION="Remote delivery, queued first"; else Q=; SECTION="Remote delivery"; fi
	awk -v n="$N" -v c="$C" -v size="$SIZE" -v cmd="sh bench/remote.sh -b $BUILD -n $N -c $C -l $SIZE$Q" -v q="$QUEUED" -v section="$SECTION" \
	    -v date="$(date -u +%Y-%m-%d)" -v mach="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)" '
	{ inj[$1] = $2; all[$1] = $3; rate[$1] = $4 }
	END {
		print "## " section
		print ""
		printf "`%s` (as root) on %s; %s.\n", cmd, date, mach
		printf "%d messages of about %d bytes for u@bench.test, injected with smtp-source (%d sessions)\n", n, size, c
		if (q) {
			print "while the sink is down (so all of them are deferred); then Postfix'"'"'s smtp-sink is started"
			printf "and the queue flushed: time from the flush until the sink has every message, %d deliveries in parallel.\n", c
			print ""
			print "| system | route | injection (s) | flush to all at the sink (s) | msg/s |"
		} else {
			printf "while the system delivers them to Postfix'"'"'s smtp-sink, %d deliveries in parallel;\n", c
			print "time from the start of injection until the sink has received every message."
			print ""
			print "| system | route | injection done (s) | all at the sink (s) | msg/s |"
		}
		print "|---|---|---|---|---|"
		split("postern-mx postern-relay postfix-relay", k, " ")
		split("Postern|Postern|Postfix", s, "|")
		split("MX lookup (dnsmasq)|relayhost|relayhost", r, "|")
		for (i = 1; i <= 3; i++)
			if (k[i] in rate)
				printf "| %s | %s | %s | %s | %s |\n", s[i], r[i], inj[k[i]], all[k[i]], rate[k[i]]
		print ""
		if (("postfix-relay" in rate) && rate["postfix-relay"] > 0)
			printf "Ratio Postern / Postfix (msg/s, same route: relayhost): **%.2f** (target: >= 1).\n", rate["postern-relay"] / rate["postfix-relay"]
	}' "$RESULTS"
}
report
if [ -n "$OUT" ]; then
	NEW=$WORK/section
	report >"$NEW"
	python3 "$HERE/bench/put_section.py" "$OUT" "$NEW"
	echo "written to $OUT"
fi
