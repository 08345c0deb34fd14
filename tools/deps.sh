#!/bin/sh
# deps.sh PKG... -- install the Debian packages the build and tests need.
# As root, missing packages are installed with apt-get; otherwise the
# command to run is printed and the build goes on (it fails later, clearly,
# if something is really missing).
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # postfix (for its smtp-sink test peer) must not set up a system MTA.
    echo 'postfix postfix/main_mailer_type select No configuration' \
        | debconf-set-selections 2>/dev/null || true
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
        echo "deps: apt-get install$missing failed" >&2; exit 1; }
else
    echo "deps: missing packages:$missing" >&2
    echo "deps: run: sudo apt-get install$missing" >&2
fi
exit 0
