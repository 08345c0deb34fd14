#!/usr/bin/env python3
"""bench/mailauth.py: SMTP with DKIM signing and with SPF+DKIM+DMARC checks (issue 13, "Benchmark").

    nice -n 10 python3 bench/mailauth.py [-b BUILD] [-n 5000] [-c 10] [-l 2048] [-r 1]
                                         [--sample 50] [-P PEERS_STATE] [-o bench/RESULTS.md] [-s] [-k]

As root (the peers, OpenDKIM and Postern's services need it).  Not a
test and not part of `make test` or CI: run by hand, one benchmark at a
time.  Needs python3-dkim (Debian's dkimpy: when the python3 that runs
this cannot import it, the script runs itself again with
/usr/bin/python3), dnsmasq, and for the Postfix runs the peers' packages
(../shared/peers/README.md) and opendkim, opendkim-tools.

Every run: -c (10) client processes, one SMTP session each, opened (and
on submission authenticated) before the clock starts, then together -n
messages of about -l bytes (before any signature) to alice@example.test,
many messages per session (the same Python smtplib client for every
system); the clock stops when the last message is in alice's Maildir.
msg/s = messages / that time, accepted and delivered (the log also
gives the rate of acceptance alone).  Between runs the server restarts
with the next setting and the Maildir is emptied.

  inbound     port 25 (Postern's smtp port, Postfix's 2525) from
              127.0.0.2, HELO client.mailauth.example, MAIL FROM
              bounce@mailauth.example, each message From
              alice@mailauth.example and signed once beforehand by
              python3-dkim (RSA-2048, relaxed/relaxed,
              d=mailauth.example s=bench).  dnsmasq on loopback
              publishes mailauth.example's SPF record (127.0.0.2 may
              send), the key and _dmarc.mailauth.example (p=reject), so
              SPF, DKIM and DMARC all pass.  "checks": Postern with
              spf_check, dkim_verify, dmarc_check (and dmarc_enforce)
              on, 127.0.0.2 in no skip list; Postfix with OpenDKIM
              verifying as its milter (smtpd_milters; DKIM only: Postfix
              checks neither SPF nor DMARC).  "none": Postern with the
              three off, Postfix without a milter.
  submission  the submission port (Postern's base + 587, Postfix's 2587),
              STARTTLS and AUTH PLAIN as alice once per session, each
              message From alice@example.test, unsigned.  "signing":
              Postern's dkim_signing (enqueue and dkim-sign, one
              RSA-2048 key from `postern dkim keygen`); Postfix with
              OpenDKIM signing (RSA-2048 from opendkim-genkey); both
              relaxed/relaxed.  "none": Postern's dkim_signing = no,
              Postfix without a milter.

The work is checked on every delivered message of a run (the run fails
otherwise): with checks, each has an Authentication-Results field with
dkim=pass (Postern's also spf=pass and dmarc=pass); without, none says
dkim=pass; with signing, each has one DKIM-Signature of d=example.test
and --sample of them (spread over the run) verify with python3-dkim
against the published key; without, none has a DKIM-Signature.

-r runs every measurement that many times (the report gives the
median); -s skips Postfix; -k keeps the run's directories; -P is the
peers' STATE_DIR (default /tmp/postern-bench-mailauth-peers); with -o
the "## SMTP: DKIM, SPF, DMARC" section of that file is replaced
(put_section.py).  The systems: bench/mailauth_systems.py."""

import argparse
import base64
import multiprocessing
import os
import re
import smtplib
import ssl
import statistics
import sys
import time

DEBIAN_PYTHON = "/usr/bin/python3"
try:
    import dkim
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
    sys.exit("python3-dkim is not installed (apt-get install python3-dkim)")

from mailauth_systems import (CLIENT_IP, DOMAIN, PASSWORD, SELECTOR, SENDER_DOMAIN, Dns, Postern, Postfix,
                              add_common_options, empty_maildir, log, maildir_files, prepare, put_section, run_dir,
                              stop_all)

TITLE = "SMTP: DKIM, SPF, DMARC"
# (kind, setting): what each run sends and what the server does
RUNS = [("inbound", "none"), ("inbound", "checks"), ("submission", "none"), ("submission", "signing")]


# ---------------------------------------------------------------- messages

def body(size, seq):
    """Plain text lines up to about size bytes."""
    line = "Message %d of the mail authentication benchmark: some words to fill the body.\r\n" % seq
    return (line * (size // len(line) + 1))[:size].rsplit("\r\n", 1)[0] + "\r\n"


def message(seq, author, size):
    head = ("From: Alice <%s>\r\nTo: <alice@%s>\r\nSubject: mailauth bench %d\r\n"
            "Date: Fri, 04 Dec 2026 12:00:00 +0000\r\nMessage-ID: <%d.mailauth@%s>\r\n"
            "X-Bench-Seq: %d\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            % (author, DOMAIN, seq, seq, author.split("@")[1], seq))
    return (head + body(max(100, size - len(head)), seq)).encode()


def rsa_key():
    """A new RSA-2048 key: (PEM private key, DKIM key record)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption())
    spki = k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()


def signed_messages(n, size, key):
    out = []
    for i in range(n):
        m = message(i, "alice@" + SENDER_DOMAIN, size)
        out.append(dkim.sign(m, SELECTOR.encode(), SENDER_DOMAIN.encode(), key,
                             canonicalize=(b"relaxed", b"relaxed"),
                             include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + m)
    return out


# ---------------------------------------------------------------- client

def open_session(target, kind, user):
    """(session ready for MAIL, sender): inbound from CLIENT_IP; on the
    submission port ("submission", "relay") after STARTTLS and AUTH PLAIN
    as user."""
    if kind == "inbound":
        s = smtplib.SMTP(target[0], target[1], local_hostname="client." + SENDER_DOMAIN, timeout=300,
                         source_address=(CLIENT_IP, 0))
        return s, "bounce@" + SENDER_DOMAIN
    s = smtplib.SMTP(target[0], target[1], local_hostname="client." + DOMAIN, timeout=300)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo()
    plain = base64.b64encode(("\0%s\0%s" % user).encode()).decode()
    code, text = s.docmd("AUTH", "PLAIN " + plain)
    if code != 235:
        raise RuntimeError("AUTH PLAIN: %d %s" % (code, text.decode("utf-8", "replace")))
    return s, user[0]


def session(k, sessions, msgs, target, kind, user, barrier, results):
    """Client process k: messages k, k + sessions, ... in one session,
    or for kind "relay" (bench/submission_auth.py) a session each."""
    try:
        each = kind == "relay"
        s, mail_from = (None, None) if each else open_session(target, kind, user)
        rcpt = "alice@" + DOMAIN
        barrier.wait(600)
        sent = 0
        for m in msgs[k::sessions]:
            if each:
                s, mail_from = open_session(target, kind, user)
            s.sendmail(mail_from, [rcpt], m)
            if each:
                s.quit()
            sent += 1
        if not each:
            s.quit()
        results.put((k, sent, None))
    except Exception as e:   # reported to the parent, which fails the run
        barrier.abort()
        results.put((k, 0, "%s: %s" % (type(e).__name__, e)))


def send_all(msgs, sessions, target, kind, user):
    """Every message sent by sessions processes; (t0, t_accepted), t0
    taken when every session is ready."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(sessions + 1), ctx.Queue()
    procs = [ctx.Process(target=session, args=(k, sessions, msgs, target, kind, user, barrier, results))
             for k in range(sessions)]
    for p in procs:
        p.start()
    try:
        barrier.wait(600)
        t0 = time.monotonic()
    except Exception:
        t0 = None
    got = [results.get(timeout=3600) for _ in procs]
    t1 = time.monotonic()
    for p in procs:
        p.join()
    errors = [e for _, _, e in got if e]
    if errors or t0 is None:
        raise RuntimeError("client: %s" % "; ".join(errors or ["a session did not start"]))
    if sum(n for _, n, _ in got) != len(msgs):
        raise RuntimeError("client: %d of %d messages sent" % (sum(n for _, n, _ in got), len(msgs)))
    return t0, t1


def wait_delivered(maildir, n, seconds):
    end = time.monotonic() + seconds
    while True:
        have = len(maildir_files(maildir))
        if have >= n:
            return time.monotonic(), have
        if time.monotonic() > end:
            raise RuntimeError("%d of %d messages in %s after %ds" % (have, n, maildir, seconds))
        time.sleep(0.05)


# ---------------------------------------------------------------- checks

def header_fields(path):
    """The header fields of a delivered message, unfolded."""
    from test_smtpd_dkim_verify import unfold   # late: postern_harness reads POSTERN_BUILD
    with open(path, "rb") as f:
        return unfold(f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace"))


def named(fields, name):
    return [f for f in fields if f.lower().startswith(name + ":")]


def check_run(system, kind, setting, files, sample):
    """The proof that the work was done (or not done) on every message:
    a sentence for the report; RuntimeError when a message lacks it."""
    bad = []
    if kind == "inbound":
        want = ("spf=pass", "dkim=pass", "dmarc=pass") if system.name == "Postern" else ("dkim=pass",)
        for path in files:
            ar = " ".join(named(header_fields(path), "authentication-results"))
            has = [re.search(r"\b%s\b" % re.escape(w), ar) is not None for w in want]
            if (setting == "checks" and not all(has)) or (setting == "none" and "dkim=pass" in ar):
                bad.append(path)
        if setting == "checks":
            proof = "%d/%d with %s in Authentication-Results" % (len(files) - len(bad), len(files),
                                                                ", ".join(want))
        else:
            proof = "%d/%d without dkim=pass" % (len(files) - len(bad), len(files))
    else:
        for path in files:
            sigs = named(header_fields(path), "dkim-signature")
            ok = (len(sigs) == 1 and re.search(r"\bd=%s;" % re.escape(DOMAIN), sigs[0])) if setting == "signing" \
                else not sigs
            if not ok:
                bad.append(path)
        if setting == "signing":
            picked = files[::max(1, len(files) // sample)][:sample] if sample > 0 else []
            record = system.sign_record.encode()
            name = ("%s._domainkey.%s." % (SELECTOR, DOMAIN)).encode()
            dnsfunc = lambda q, timeout=5: record if q == name else None
            verified = 0
            for path in picked:
                with open(path, "rb") as f:
                    data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                if dkim.verify(data, dnsfunc=dnsfunc):
                    verified += 1
                else:
                    bad.append(path + " (python3-dkim: does not verify)")
            proof = "%d/%d with one DKIM-Signature d=%s; %d/%d of a sample verified by python3-dkim" % (
                len(files) - len(bad), len(files), DOMAIN, verified, len(picked))
        else:
            proof = "%d/%d without DKIM-Signature" % (len(files) - len(bad), len(files))
    if bad:
        raise RuntimeError("%s %s/%s: %d messages fail the check, e.g. %s" % (system.name, kind, setting,
                                                                             len(bad), bad[0]))
    return proof


# ---------------------------------------------------------------- runs

def measure(system, kind, setting, msgs, args, results, proofs, loads):
    system.configure(checks=setting == "checks", signing=setting == "signing")
    empty_maildir(system.maildir)
    user = (system.user, PASSWORD if system.name == "Postern" else system.password)
    loads.append(float(open("/proc/loadavg").read().split()[0]))
    t0, t1 = send_all(msgs, args.sessions, system.target(kind), kind, user)
    t2, have = wait_delivered(system.maildir, len(msgs), max(300, len(msgs) // 5))
    files = maildir_files(system.maildir)
    if have != len(msgs):
        raise RuntimeError("%s: %d messages in the Maildir, %d sent" % (system.name, have, len(msgs)))
    proofs[(system.name, kind, setting)] = check_run(system, kind, setting, files, args.sample)
    rate = len(msgs) / (t2 - t0)
    results.setdefault((system.name, kind, setting), []).append(rate)
    log("%s %s %s: %d messages accepted in %.2fs (%.0f/s), in the Maildir after %.2fs: %.0f msg/s; %s" % (
        system.name, kind, setting, len(msgs), t1 - t0, len(msgs) / (t1 - t0), t2 - t0, rate,
        proofs[(system.name, kind, setting)]))
    empty_maildir(system.maildir)


def run_system(system, msgs, args, results, proofs, loads):
    for _ in range(args.repeat):
        for kind, setting in RUNS:
            measure(system, kind, setting, msgs[kind], args, results, proofs, loads)


# ---------------------------------------------------------------- report

def report(args, results, proofs, loads, started, ended, commit, dirty):
    med = lambda key: statistics.median(results[key]) if key in results else None
    fmt = lambda v: "%.0f" % v if v is not None else "-"
    ratio = lambda a, b: "%.2f" % (a / b) if a is not None and b else "-"
    out = ["## " + TITLE, "",
           "`%s` (as root) on %s, %s–%s UTC; %d CPUs, %.0f GB RAM, Linux %s." % (
               args.command, time.strftime("%Y-%m-%d", time.gmtime(started)),
               time.strftime("%H:%M", time.gmtime(started)), time.strftime("%H:%M", time.gmtime(ended)),
               os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
               os.uname().release),
           "Postern built from commit %s%s." % (commit, " (with uncommitted changes)" if dirty else ""),
           "Load average (1 min) at the start of the runs: %.1f–%.1f (median %.1f)." % (
               min(loads), max(loads), statistics.median(loads)),
           "%d sessions (Python smtplib, one process each, many messages per session), %d messages of about "
           "%d bytes to one local Maildir; msg/s = messages / seconds until the last is in the Maildir%s." % (
               args.sessions, args.n, args.size, "; median of %d runs" % args.repeat if args.repeat > 1 else ""),
           "Inbound: port 25 from 127.0.0.2, every message DKIM-signed beforehand (RSA-2048), SPF, DKIM and "
           "DMARC passing (dnsmasq on loopback); Postern checks SPF (MAIL FROM and HELO), DKIM and DMARC, "
           "Postfix + OpenDKIM checks DKIM only.",
           "Submission: STARTTLS + AUTH PLAIN once per session; every message signed with one RSA-2048 key "
           "(relaxed/relaxed) by Postern (enqueue + dkim-sign) or by OpenDKIM as Postfix's milter.", "",
           "| run | Postern msg/s | Postfix msg/s | Postern/Postfix |", "|---|---|---|---|"]
    rows = [("inbound, no checks (Postfix: no milter)", "inbound", "none"),
            ("inbound, SPF+DKIM+DMARC (Postfix: OpenDKIM verifying)", "inbound", "checks"),
            ("submission, unsigned (Postfix: no milter)", "submission", "none"),
            ("submission, DKIM-signed (Postfix: OpenDKIM signing)", "submission", "signing")]
    for label, kind, setting in rows:
        p, f = med(("Postern", kind, setting)), med(("Postfix", kind, setting))
        out.append("| %s | %s | %s | %s |" % (label, fmt(p), fmt(f), ratio(p, f)))
    out += ["", "| cost: with / without | Postern | Postfix |", "|---|---|---|"]
    for label, kind, setting in (("inbound checks", "inbound", "checks"), ("signing", "submission", "signing")):
        out.append("| %s | %s | %s |" % (label, ratio(med(("Postern", kind, setting)), med(("Postern", kind, "none"))),
                                         ratio(med(("Postfix", kind, setting)), med(("Postfix", kind, "none")))))
    out += ["", "Checked on every delivered message (the run fails otherwise):"]
    for (name, kind, setting), proof in sorted(proofs.items()):
        out.append("- %s %s, %s: %s." % (name, kind, setting, proof))
    if args.skip_postfix:
        out += ["", "Postfix skipped (-s)."]
    out += ["", "A ratio above 1 means the first is faster; with / without is the share of the rate kept."]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_options(ap, 5000, "/tmp/postern-bench-mailauth-peers")
    ap.add_argument("-c", "--sessions", type=int, default=10, help="concurrent sessions")
    ap.add_argument("--sample", type=int, default=50, help="signed messages verified by python3-dkim per run")
    args = ap.parse_args()
    build, commit, dirty, peers, top = prepare(args, "mailauth.py", "postern-bench-mailauth.")
    rundir = None
    systems, dns = [], None
    results, proofs, loads = {}, {}, []
    started = time.time()
    try:
        log("signing %d inbound messages with python3-dkim" % args.n)
        pem, record = rsa_key()
        msgs = {"inbound": signed_messages(args.n, args.size, pem),
                "submission": [message(i, "alice@" + DOMAIN, args.size) for i in range(args.n)]}
        dns = Dns(build, top, record)
        pn = Postern(build, top, dns.port)
        systems.append(pn)
        run_system(pn, msgs, args, results, proofs, loads)
        pn.stop()
        if not args.skip_postfix:
            rundir = run_dir()
            pf = Postfix(build, peers, args.peers_state, rundir, dns.port)
            systems.append(pf)
            run_system(pf, msgs, args, results, proofs, loads)
    finally:
        stop_all(systems, dns, top, rundir, args.keep)
    section = report(args, results, proofs, loads, started, time.time(), commit, dirty)
    print(section)
    if args.out:
        put_section(args.out, section)


if __name__ == "__main__":
    main()
