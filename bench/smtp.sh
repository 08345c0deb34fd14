#!/bin/sh
# bench/smtp.sh: the SMTP receiver against Postfix (issue 3, "Benchmark").
#
#   sh bench/smtp.sh [-b BUILD] [-n MESSAGES] [-c "1 10 50"] [-l BYTES]
#                    [-P PEERS_STATE] [-C "KEY=VALUE ..."] [-F] [-o RESULTS.md] [-s] [-k]
#
# Postfix's smtp-source (Debian package postfix) sends MESSAGES messages
# (default 20000) of about BYTES (default 2048) to one local user over
# loopback, at each concurrency in turn, first to Postern (a fresh tree
# under /tmp, delivery into its Maildir), then to the reference Postfix
# of ../shared/peers (virtual(8) into STATE/mail/alice/Maildir).  For
# each run it reports messages accepted per second (smtp-source's wall
# time) and the seconds until every message is in the Maildir, and once
# the resident memory (VmRSS) of an idle smtpd of each system.  The
# table and the Postern/Postfix ratios go to stdout and, with -o, into
# that file (its "## SMTP" section is replaced).  -s skips Postfix (a
# smoke run of Postern alone); -k keeps the Postern tree.  Needs root for
# the peers (up.sh); Postern runs as whoever starts it.
#
# -C adds postern.conf settings (e.g. -C group_commit=yes).  -F puts both
# systems (Postern's tree, the peers' state) on one fresh ext4 file system
# in an image file under /tmp, mounted through a loop device (root), so
# that a whole-file-system flush (group_commit) flushes only mail.  Each
# run also reports the device's flush requests per message (the
# /proc/diskstats flush counter of the device under the tree, which counts
# whatever else writes there too), and the device's own limit is measured
# first: 4 KiB writes with O_DSYNC (dd oflag=dsync) per second.
#
# Not a test and not for CI: the lead runs it on a quiet machine, one
# benchmark at a time.
set -eu

BUILD=build
COUNT=20000
CONCURRENCY="1 10 50"
SIZE=2048
PEERS_STATE=/tmp/postern-bench-peers
OUT=
SKIP_PEER=0
KEEP=0
CONF=
OWN_FS=0
while getopts b:n:c:l:P:C:Fo:sk opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	n) COUNT=$OPTARG ;;
	c) CONCURRENCY=$OPTARG ;;
	l) SIZE=$OPTARG ;;
	P) PEERS_STATE=$OPTARG ;;
	C) CONF=$OPTARG ;;
	F) OWN_FS=1 ;;
	o) OUT=$OPTARG ;;
	s) SKIP_PEER=1 ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [-b BUILD] [-n MESSAGES] [-c LIST] [-l BYTES] [-P STATE] [-C SETTINGS] [-F] [-o FILE] [-s] [-k]" >&2
	   exit 2 ;;
	esac
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$(cd "$SRC/../shared/peers" 2>/dev/null && pwd || true)
POSTERN=$(cd "$SRC/$BUILD/bin" && pwd)/postern
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
[ -x "$SMTP_SOURCE" ] || { echo "smtp-source not found (Debian package postfix)" >&2; exit 1; }
FS_IMG= FS_MNT=
if [ "$OWN_FS" = 1 ]; then
	FS_IMG=$(mktemp /tmp/postern-bench-fs.XXXXXX)
	FS_MNT=$(mktemp -d /tmp/postern-bench-mnt.XXXXXX)
	truncate -s 8G "$FS_IMG"
	mkfs.ext4 -q -F "$FS_IMG"
	mount -o loop "$FS_IMG" "$FS_MNT"
	chmod 755 "$FS_MNT"
	DIR=$FS_MNT/postern
	mkdir "$DIR"
	PEERS_STATE=$FS_MNT/peers
else
	DIR=$(mktemp -d /tmp/postern-bench-smtp.XXXXXX)
fi
chmod 755 "$DIR"
PORT_BASE=$(( 20000 + $$ % 30000 ))
RESULTS=$(mktemp /tmp/postern-bench-smtp-results.XXXXXX)

PEERS_UP=0
cleanup() {
	"$POSTERN" stop -d "$DIR" >/dev/null 2>&1 || true
	[ "$PEERS_UP" = 1 ] && "$PEERS/down.sh" "$PEERS_STATE" >/dev/null 2>&1
	[ "$KEEP" = 1 ] && echo "Postern tree kept at $DIR" || rm -rf "$DIR"
	rm -f "$RESULTS"
	if [ -n "$FS_MNT" ]; then
		umount "$FS_MNT" 2>/dev/null || umount -l "$FS_MNT"
		rmdir "$FS_MNT"
		rm -f "$FS_IMG"
	fi
}
trap cleanup EXIT
# A signal ends the run (the EXIT trap cleans up); sh would otherwise
# resume the script after the handler.
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }
rate() { echo "$1 $2" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }'; }

# Flush requests completed by the device under the tree so far
# (/proc/diskstats: the 16th field after the name, Linux 5.5 and later).
DEV_MAJ=$(stat -c %Hd "$DIR") DEV_MIN=$(stat -c %Ld "$DIR")
flushes() {
	awk -v ma="$DEV_MAJ" -v mi="$DEV_MIN" '$1 == ma && $2 == mi { print (NF >= 19 ? $19 : 0); f = 1 }
		END { if (!f) print 0 }' /proc/diskstats
}

# The device's own limit: 4 KiB O_DSYNC writes per second, and flushes
# per write, on the tree's file system.
DD_N=2000
f0=$(flushes); t0=$(date +%s.%N)
dd if=/dev/zero of="$DIR/dsync-test" bs=4k count=$DD_N oflag=dsync 2>/dev/null
t1=$(date +%s.%N); f1=$(flushes)
rm -f "$DIR/dsync-test"
DSYNC_RATE=$(echo "$DD_N $t0 $t1" | awk '{ printf "%.0f", $1 / ($3 - $2) }')
DSYNC_FLUSHES=$(echo "$DD_N $f0 $f1" | awk '{ printf "%.2f", ($3 - $2) / $1 }')
echo "device: $DSYNC_RATE O_DSYNC 4 KiB writes/s, $DSYNC_FLUSHES flushes per write"

# Messages in a Maildir (new/ and cur/).
maildir_count() {
	find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l
}

# Wait until the Maildir holds want messages (at most 30 minutes).
wait_maildir() {
	end=$(( $(date +%s) + 1800 ))
	while [ "$(maildir_count "$1")" -lt "$2" ]; do
		[ "$(date +%s)" -lt "$end" ] || { echo "timeout waiting for $1" >&2; return 1; }
		sleep 0.2
	done
}

# VmRSS in kB of the first process whose argv[0] is $1 (an idle one:
# started fresh, it has served nobody yet or is between clients).
rss_of() {
	for p in /proc/[0-9]*; do
		a0=$( { tr '\0' '\n' < "$p/cmdline"; } 2>/dev/null | head -n1) || continue
		case $a0 in
		$1) awk '/^VmRSS:/ { print $2; exit }' "$p/status" 2>/dev/null && return ;;
		esac
	done
	echo "?"
}

# One system at every concurrency: label host:port maildir
run_system() {
	label=$1 target=$2 maildir=$3
	for c in $CONCURRENCY; do
		before=$(maildir_count "$maildir")
		f0=$(flushes)
		t0=$(now)
		"$SMTP_SOURCE" -s "$c" -m "$COUNT" -l "$SIZE" -M bench.example \
			-f bench@example.org -t "$RCPT" "$target"
		t1=$(now)
		wait_maildir "$maildir" $(( before + COUNT ))
		t2=$(now)
		f1=$(flushes)
		acc=$(elapsed "$t0" "$t1")
		all=$(elapsed "$t0" "$t2")
		fpm=$(echo "$COUNT $f0 $f1" | awk '{ printf "%.2f", ($3 - $2) / $1 }')
		echo "$label $c $(rate "$COUNT" "$acc") $all $fpm" >> "$RESULTS"
		echo "$label: $c sessions: $COUNT messages accepted in ${acc}s ($(rate "$COUNT" "$acc")/s), all in the Maildir after ${all}s, $fpm flushes per message"
	done
}

# ---- Postern
"$POSTERN" init -d "$DIR" --domain example.test --listen 127.0.0.1 --port-base "$PORT_BASE" >/dev/null
echo "bench-password" | "$POSTERN" user add -d "$DIR" alice@example.test >/dev/null
# The benchmark opens 50 sessions from one address.  The log goes to a
# file, as the reference Postfix writes its maillog_file.
printf 'smtpd_client_connection_limit = 0\nlog_file = maillog\n' >> "$DIR/etc/postern.conf"
for kv in $CONF; do
	printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >> "$DIR/etc/postern.conf"
done
"$POSTERN" start -d "$DIR" >/dev/null
i=0
until python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),2); sys.exit(0 if s.recv(3)==b"220" else 1)' $(( PORT_BASE + 25 )) 2>/dev/null; do
	i=$(( i + 1 ))
	[ $i -lt 100 ] || { echo "Postern did not start" >&2; exit 1; }
	sleep 0.1
done
sleep 1
POSTERN_RSS=$(rss_of "postern/smtp")
RCPT=alice@example.test
run_system postern "127.0.0.1:$(( PORT_BASE + 25 ))" "$DIR/mail/example.test/alice"
"$POSTERN" stop -d "$DIR" >/dev/null

# ---- Postfix
POSTFIX_RSS="-"
if [ "$SKIP_PEER" = 0 ]; then
	[ -n "$PEERS" ] || { echo "../shared/peers not found" >&2; exit 1; }
	PEERS_UP=1
	"$PEERS/up.sh" "$PEERS_STATE" >/dev/null
	# shellcheck disable=SC1091
	eval "$("$PEERS/env.sh")"
	sleep 1
	POSTFIX_RSS=$(rss_of "smtpd")
	RCPT=$USER1
	run_system postfix "$MAIL_HOST:$SMTP_PORT" "$PEERS_STATE/mail/${USER1%%@*}/Maildir"
	"$PEERS/down.sh" "$PEERS_STATE" >/dev/null
	PEERS_UP=0
fi

# ---- report
report() {
	echo "## SMTP"
	echo
	echo "\`sh bench/smtp.sh -b $BUILD -n $COUNT -c \"$CONCURRENCY\" -l $SIZE${CONF:+ -C \"$CONF\"}$([ "$OWN_FS" = 1 ] && echo " -F")\` (as root) on $(date -u +%Y-%m-%d);"
	echo "$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r), $(df -T "$DIR" | awk 'NR == 2 { print $2 }') file system$([ "$OWN_FS" = 1 ] && echo " of its own (loop device), both systems on it")."
	echo "The device: $DSYNC_RATE O_DSYNC 4 KiB writes/s ($DSYNC_FLUSHES flushes per write)."
	echo "smtp-source, one message per connection, loopback; Postern: Maildir delivery by local;"
	echo "Postfix: the reference system of ../shared/peers (virtual(8) into a Maildir)."
	echo
	echo "| sessions | Postern msg/s | Postfix msg/s | ratio | Postern s to Maildir | Postfix s to Maildir | ratio (Postfix/Postern) | flushes/msg Postern | Postfix |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for c in $CONCURRENCY; do
		awk -v c="$c" '
			$1 == "postern" && $2 == c { pr = $3; pt = $4; pf = $5 }
			$1 == "postfix" && $2 == c { fr = $3; ft = $4; ff = $5 }
			END {
				r1 = (fr > 0) ? sprintf("%.2f", pr / fr) : "-"
				r2 = (pt > 0 && ft > 0) ? sprintf("%.2f", ft / pt) : "-"
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c, pr, (fr ? fr : "-"), r1, pt, (ft ? ft : "-"), r2, pf, (ff != "" ? ff : "-")
			}' "$RESULTS"
	done
	echo
	echo "Idle smtpd resident memory: Postern $POSTERN_RSS kB, Postfix $POSTFIX_RSS kB."
	echo "A ratio above 1 means Postern is better."
}
report
if [ -n "$OUT" ]; then
	report > "$DIR/section"
	python3 "$SRC/bench/put_section.py" "$OUT" "$DIR/section"
	echo "written to $OUT"
fi
