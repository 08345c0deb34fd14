#!/bin/sh
# bench/remote.sh -- outbound SMTP throughput: Postern against Postfix.
#
#   sh bench/remote.sh [BUILD] [MESSAGES] [CONCURRENCY]
#
# Defaults: build/, 20000 messages, 20 parallel deliveries.  Needs root,
# postfix (smtp-sink, smtp-source, postfix), dnsmasq; everything listens on
# loopback addresses only and is torn down at the end.
#
# Same run, same sink, same load for both systems:
#   - Postfix's smtp-sink on 127.0.0.2:SINK is the MX of bench.test
#     (dnsmasq on 127.0.0.1:DNS; Postern asks it through dns_servers).
#     Postfix's resolver cannot be pointed at another port, so Postfix
#     reaches the sink through relayhost [127.0.0.2]:SINK; one more
#     Postern run with the same relayhost shows what the MX lookup costs.
#   - smtp-source injects MESSAGES messages for u@bench.test over SMTP,
#     CONCURRENCY sessions at a time, into each system in turn.
#   - The time measured is from the start of injection until the sink
#     has accepted every message (its -c counter); the ratio Postern /
#     Postfix (messages per second) is printed and appended to
#     bench/RESULTS.md.
set -eu

BUILD=${1:-build}
N=${2:-20000}
C=${3:-20}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=$HERE/$BUILD/bin
WORK=$(mktemp -d /tmp/postern-bench-remote.XXXXXX)
chmod 755 "$WORK"
PIDS=""

die() { echo "bench/remote.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (Postfix and Postern want their system users)"
for t in smtp-sink smtp-source postfix dnsmasq; do
    command -v $t >/dev/null || die "$t missing: apt-get install postfix dnsmasq-base"
done
[ -x "$BIN/postern" ] && [ -x "$BIN/remote" ] || die "build first: make BUILD=$BUILD all"

free_port() {
    python3 -c 'import socket,sys
s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}

cleanup() {
    set +e
    [ -n "${PF_ETC:-}" ] && postfix -c "$PF_ETC" stop >/dev/null 2>&1
    [ -n "${PT_DIR:-}" ] && "$BIN/postern" stop -d "$PT_DIR" >/dev/null 2>&1
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 1
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

SINK_PORT=$(free_port 127.0.0.2)
DNS_PORT=$(free_port 127.0.0.1)
SINK_LOG=$WORK/sink.out

# ---- the shared peers
dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 \
    --port="$DNS_PORT" --local=/test/ --mx-host=bench.test,mx.bench.test,10 \
    --host-record=mx.bench.test,127.0.0.2 >"$WORK/dnsmasq.log" 2>&1 &
PIDS="$PIDS $!"

start_sink() {
    : >"$SINK_LOG"
    # -c: counters on stdout; 1000 = listen backlog.
    smtp-sink -c -u nobody "127.0.0.2:$SINK_PORT" 1000 >"$SINK_LOG" 2>&1 &
    SINK_PID=$!
    sleep 0.5
}
stop_sink() { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null || true; }

# Messages the sink has taken: the last counter line's message count.
sink_count() {
    tr '\r' '\n' <"$SINK_LOG" | awk '$1 ~ /^[0-9]+$/ { last = $2 } END { print last + 0 }'
}

wait_sink() {
    want=$1
    while [ "$(sink_count)" -lt "$want" ]; do sleep 0.2; done
}

now() { date +%s.%N; }

# ---- Postern
run_postern() {   # $1 = label, $2 = relayhost ("" = MX)
    PT_DIR=$WORK/postern-$1
    PT_BASE=$(python3 -c 'import random; print(random.randrange(20000, 40000))')
    "$BIN/postern" init -d "$PT_DIR" --domain local.test --listen 127.0.0.1 --port-base "$PT_BASE" >/dev/null
    cat >>"$PT_DIR/etc/postern.conf" <<EOF
mynetworks = 127.0.0.0/8
dns_servers = 127.0.0.1:$DNS_PORT
remote_smtp_port = $SINK_PORT
relayhost = $2
qmgr_remote_concurrency = $C
EOF
    # postern check refuses unknown keys: drop one the tree does not know.
    "$BIN/postern" check -d "$PT_DIR" >/dev/null 2>&1 ||
        sed -i '/^qmgr_remote_concurrency/d' "$PT_DIR/etc/postern.conf"
    "$BIN/postern" start -d "$PT_DIR" >/dev/null
    sleep 1
    start_sink
    t0=$(now)
    smtp-source -s "$C" -m "$N" -f bench@local.test -t u@bench.test "127.0.0.1:$((PT_BASE + 25))"
    wait_sink "$N"
    t1=$(now)
    stop_sink
    "$BIN/postern" stop -d "$PT_DIR" >/dev/null
    PT_DIR=
    echo "$t0 $t1" | awk -v n="$N" '{ printf "%.1f\n", n / ($2 - $1) }'
}

# ---- Postfix (a private instance under $WORK)
run_postfix() {
    PF_ETC=$WORK/postfix/etc
    PF_PORT=$(free_port 127.0.0.1)
    mkdir -p "$PF_ETC" "$WORK/postfix/spool" "$WORK/postfix/data"
    chown postfix "$WORK/postfix/data"
    cp /usr/share/postfix/main.cf.dist "$PF_ETC/main.cf" 2>/dev/null || : >"$PF_ETC/main.cf"
    cp /etc/postfix/master.cf "$PF_ETC/master.cf" 2>/dev/null ||
        cp /usr/share/postfix/master.cf.dist "$PF_ETC/master.cf"
    sed -i 's/^smtp\( *\)inet.*/'"127.0.0.1:$PF_PORT"' inet n - n - - smtpd/' "$PF_ETC/master.cf"
    postconf -c "$PF_ETC" -e \
        "queue_directory = $WORK/postfix/spool" "data_directory = $WORK/postfix/data" \
        "myhostname = bench-postfix.test" "mydestination =" "inet_interfaces = 127.0.0.1" \
        "inet_protocols = ipv4" "mynetworks = 127.0.0.0/8" "relayhost = [127.0.0.2]:$SINK_PORT" \
        "default_destination_concurrency_limit = $C" "smtp_destination_concurrency_limit = $C" \
        "default_process_limit = $((C + 10))" "maillog_file = $WORK/postfix/maillog" \
        "compatibility_level = 3.6" "alternate_config_directories = $PF_ETC" \
        "smtpd_relay_restrictions = permit_mynetworks, reject"
    postfix -c "$PF_ETC" check >/dev/null 2>&1 || true
    postfix -c "$PF_ETC" start >/dev/null
    sleep 1
    start_sink
    t0=$(now)
    smtp-source -s "$C" -m "$N" -f bench@local.test -t u@bench.test "127.0.0.1:$PF_PORT"
    wait_sink "$N"
    t1=$(now)
    stop_sink
    postfix -c "$PF_ETC" stop >/dev/null
    PF_ETC=
    echo "$t0 $t1" | awk -v n="$N" '{ printf "%.1f\n", n / ($2 - $1) }'
}

echo "bench/remote.sh: $N messages, concurrency $C"
PT_MX=$(run_postern mx "")
echo "postern (MX via dnsmasq):      $PT_MX msg/s"
PT_RELAY=$(run_postern relay "[127.0.0.2]:$SINK_PORT")
echo "postern (relayhost):           $PT_RELAY msg/s"
PF=$(run_postfix)
echo "postfix (relayhost):           $PF msg/s"
RATIO=$(echo "$PT_RELAY $PF" | awk '{ printf "%.2f", $1 / $2 }')
echo "ratio postern/postfix (same route): $RATIO"

{
    echo ""
    echo "## remote delivery, $(date -u +%Y-%m-%d) ($N messages, concurrency $C, $(nproc) cores)"
    echo ""
    echo "| system | route | msg/s |"
    echo "|---|---|---|"
    echo "| Postern | MX lookup (dnsmasq) | $PT_MX |"
    echo "| Postern | relayhost | $PT_RELAY |"
    echo "| Postfix | relayhost | $PF |"
    echo ""
    echo "Ratio Postern / Postfix (relayhost): $RATIO (target: >= 1)."
} >>"${RESULTS:-$HERE/bench/RESULTS.md}"
