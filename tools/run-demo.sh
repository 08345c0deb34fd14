#!/bin/sh
# run-demo.sh BUILD -- `make run`: a demo Postern in ./run, in the foreground.
#
# The first run initialises ./run (domain example.test) and adds the users
# alice@example.test and bob@example.test with random passwords, printed
# once and stored nowhere but as hashes.  Later runs reuse the tree.  The
# script then lists the ports and execs `postern start -f`, so Ctrl-C
# (SIGINT to the foreground process group) stops the whole system.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD" >&2
    exit 2
fi
BIN=$(cd "$1/bin" && pwd)
POSTERN="$BIN/postern"
mkdir -p run
DIR=$(cd run && pwd)

# 12 random bytes are exactly 16 base64 characters.
random_password() {
    head -c 12 /dev/urandom | base64 | tr -d '\n'
}

if [ ! -e "$DIR/etc/postern.conf" ]; then
    "$POSTERN" init -d "$DIR" --domain example.test
    echo
    for user in alice@example.test bob@example.test; do
        pw=$(random_password)
        # The password goes in on stdin, never on a command line (ps).
        printf '%s\n' "$pw" | "$POSTERN" user add -d "$DIR" "$user" >/dev/null
        echo "$user password: $pw"
    done
    echo "(shown only now; change one with: $POSTERN user passwd -d $DIR USER)"
else
    echo "Reusing the demo tree $DIR."
    echo "The passwords of alice@example.test and bob@example.test were printed at its"
    echo "first run; change one with: $POSTERN user passwd -d $DIR USER"
fi

echo
echo "Listening (from $DIR/etc/master.conf):"
awk '!/^#/ && $2 == "inet" { printf "  %-8s %-22s %s\n", $1, $3, $7 }' "$DIR/etc/master.conf"

# host and port of the first inet service running the given command
endpoint() {
    awk -v cmd="$1" '!/^#/ && $2 == "inet" && $7 == cmd { print $3; exit }' "$DIR/etc/master.conf"
}
SMTP=$(endpoint smtpd)
POP3=$(endpoint popd)
SMTP_HOST=${SMTP%:*}
SMTP_PORT=${SMTP##*:}

echo
echo "Try it:"
if [ -n "$SMTP" ]; then
    echo "  swaks --server '$SMTP_HOST' --port $SMTP_PORT --from bob@example.test --to alice@example.test"
fi
if [ -n "$POP3" ]; then
    echo "  curl -u 'alice@example.test:PASSWORD' pop3://$POP3/1"
fi
echo
echo "Starting Postern in the foreground; Ctrl-C stops it."
exec "$POSTERN" start -d "$DIR" -f
