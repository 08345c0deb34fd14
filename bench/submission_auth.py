#!/usr/bin/env python3
"""bench/submission_auth.py: submission with STARTTLS and AUTH for every message (issue 15).

    python3 bench/submission_auth.py [-b BUILD] [-n 2000] [-c 10] [-l 2048] [-r 1]
                                     [-P PEERS_STATE] [-o bench/RESULTS.md] [-s] [-k]

As root.  Not a test and not part of `make test` or CI: run by hand, one
benchmark at a time.

Every message is a session of its own on the submission port: connect,
EHLO, STARTTLS, EHLO, AUTH PLAIN as alice, MAIL, RCPT, DATA, QUIT, as a
client that relays through its provider sends (msmtp, git send-email, a
web form), to alice's own Maildir.  Each server checks the password at
every AUTH against the same kind of hash, yescrypt: Postern's authd
against etc/users as `postern user add` wrote it, Postfix through
Dovecot SASL against the peers' yescrypt passdb (../shared/peers, whose
Dovecot keeps its auth_cache off, its default).  Postern runs twice: at
its defaults (authd remembers a success, auth_cache_size 1000, and skips
the hash when the same password comes again) and with auth_cache_size
= 0 (every AUTH hashes, as Dovecot does); then Postfix.  -c client
processes (Python smtplib) share -n messages; the clock runs from when
every client is ready until the last message is in the Maildir.  -r
repeats each run (median); -s skips Postfix; -o replaces this script's
section of that file.  The systems and the message are those of
bench/mailauth.py (bench/mailauth_systems.py)."""

import argparse
import os
import statistics
import time

from mailauth import message, rsa_key, send_all, wait_delivered
from mailauth_systems import (DOMAIN, PASSWORD, Dns, Postern, Postfix, add_common_options, empty_maildir, log,
                              prepare, put_section, run_dir, stop_all)

TITLE = "Submission: STARTTLS + AUTH per message"


def measure(system, label, msgs, args, results, loads):
    empty_maildir(system.maildir)
    user = (system.user, PASSWORD if system.name == "Postern" else system.password)
    loads.append(float(open("/proc/loadavg").read().split()[0]))
    t0, t1 = send_all(msgs, args.clients, system.target("submission"), "relay", user)
    t2, have = wait_delivered(system.maildir, len(msgs), max(300, len(msgs) // 5))
    if have != len(msgs):
        raise RuntimeError("%s: %d messages in the Maildir, %d sent" % (label, have, len(msgs)))
    rate = len(msgs) / (t2 - t0)
    results.setdefault(label, []).append(rate)
    log("%s: %d messages accepted in %.2fs (%.1f/s), in the Maildir after %.2fs: %.1f msg/s" % (
        label, len(msgs), t1 - t0, len(msgs) / (t1 - t0), t2 - t0, rate))
    empty_maildir(system.maildir)


POSTERN, POSTERN_NO_CACHE, POSTFIX = "Postern", "Postern, auth_cache_size = 0", "Postfix + Dovecot SASL"


def report(args, results, loads, started, ended, commit, dirty):
    med = lambda key: statistics.median(results[key]) if key in results else None
    fmt = lambda v: "%.1f" % v if v is not None else "-"
    ratio = lambda a, b: "%.2f" % (a / b) if a is not None and b else "-"
    pf = med(POSTFIX)
    out = ["## " + TITLE, "",
           "`%s` (as root) on %s, %s-%s UTC; %d CPUs, Linux %s; Postern built from commit %s%s." % (
               args.command, time.strftime("%Y-%m-%d", time.gmtime(started)),
               time.strftime("%H:%M", time.gmtime(started)), time.strftime("%H:%M", time.gmtime(ended)),
               os.cpu_count(), os.uname().release, commit, " (with uncommitted changes)" if dirty else ""),
           "Load average (1 min) at the start of the runs: %.1f-%.1f." % (min(loads), max(loads)),
           "%d client processes, %d messages of about %d bytes, every message its own session: STARTTLS, "
           "AUTH PLAIN as alice (a yescrypt hash on both sides), one message to alice's Maildir, QUIT; "
           "msg/s = messages / seconds until the last is in the Maildir%s." % (
               args.clients, args.n, args.size, "; median of %d runs" % args.repeat if args.repeat > 1 else ""),
           "", "| system | msg/s | / Postfix + Dovecot SASL |", "|---|---|---|"]
    for label in (POSTERN, POSTERN_NO_CACHE, POSTFIX):
        out.append("| %s | %s | %s |" % (label, fmt(med(label)), ratio(med(label), pf)))
    if args.skip_postfix:
        out += ["", "Postfix skipped (-s)."]
    out += ["", "A ratio above 1 means Postern is faster."]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_options(ap, 2000, "/tmp/postern-bench-submission-peers")
    ap.add_argument("-c", "--clients", type=int, default=10, help="client processes")
    args = ap.parse_args()
    build, commit, dirty, peers, top = prepare(args, "submission_auth.py", "postern-bench-submission.")
    rundir = None
    systems, dns = [], None
    results, loads = {}, []
    started = time.time()
    try:
        msgs = [message(i, "alice@" + DOMAIN, args.size) for i in range(args.n)]
        dns = Dns(build, top, rsa_key()[1])   # the systems' resolver; no check asks it here
        pn = Postern(build, top, dns.port)
        systems.append(pn)
        for label, cache in ((POSTERN, None), (POSTERN_NO_CACHE, "0")):
            if cache is not None:
                pn.conf(auth_cache_size=cache)
            pn.configure()
            for _ in range(args.repeat):
                measure(pn, label, msgs, args, results, loads)
        pn.stop()
        if not args.skip_postfix:
            rundir = run_dir()
            pf = Postfix(build, peers, args.peers_state, rundir, dns.port)
            systems.append(pf)
            pf.configure()
            for _ in range(args.repeat):
                measure(pf, POSTFIX, msgs, args, results, loads)
    finally:
        stop_all(systems, dns, top, rundir, args.keep)
    section = report(args, results, loads, started, time.time(), commit, dirty)
    print(section)
    if args.out:
        put_section(args.out, section)


if __name__ == "__main__":
    main()
