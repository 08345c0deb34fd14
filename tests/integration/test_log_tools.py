"""Logs that existing tools read (issue 12, section 3; docs/operator.md,
"Logs").

One scripted run of mail through a tree whose log_file is a file:
accepted (local delivery to bob over SMTP and by sendmail, remote
delivery to a peer), deferred
(the peer answers 451 to the recipient), bounced (the peer answers 550;
the non-delivery notification comes back to alice) and rejected (RCPT to
an unknown local user, 550 at SMTP).  Then the tools operators run on
Postfix logs read the file: pflogsumm (Debian package) must count the
messages right, and prometheus-postfix-exporter (Debian package) must
expose the matching counters.  The exporter only knows the syslog name
"postfix" (no option in 0.3.0), so its run sets syslog_name = postfix,
as docs/operator.md tells operators to; the default run is read by
pflogsumm --syslog-name=postern and by `postern log QUEUEID`.

The peer is a small SMTP server in this file on a free loopback port,
reached through relayhost = [127.0.0.1]:PORT."""

import os
import re
import shutil
import socketserver
import subprocess
import threading
import unittest
import urllib.request

from postern_harness import (BIN, POSTERN, SANITIZER_PATTERNS, SCALE, PosternTestCase, daemon_env, free_port,
                             wait_for)

PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"
EXPORTER = shutil.which("prometheus-postfix-exporter") or "/usr/bin/prometheus-postfix-exporter"
SENDMAIL = os.path.join(BIN, "sendmail")
QUEUE_ID = r"[0-9A-F]{10,}"
SENDER = "alice@example.test"


class PeerHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP: defer* recipients get 451, bounce* get 550."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 peer.test ESMTP")
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250 peer.test")
            elif verb == b"RCPT":
                local = line.split(b"<", 1)[-1].lower()
                if local.startswith(b"defer"):
                    self.reply("451 4.2.0 <%s> try again later" % local.split(b">")[0].decode())
                elif local.startswith(b"bounce"):
                    self.reply("550 5.1.1 <%s> no such user here" % local.split(b">")[0].decode())
                else:
                    self.reply("250 2.1.5 ok")
            elif verb == b"DATA":
                self.reply("354 go ahead")
                while True:
                    body = self.rfile.readline(65536)
                    if not body or body in (b".\r\n", b".\n"):
                        break
                self.reply("250 2.0.0 queued as PEER1")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:   # MAIL, RSET, NOOP
                self.reply("250 2.0.0 ok")


class Peer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def pflogsumm_totals(path, syslog_name):
    """The "Grand Totals" message counts pflogsumm prints for path."""
    argv = [PFLOGSUMM, path] + (["--syslog-name=" + syslog_name] if syslog_name else [])
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SCALE)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError("pflogsumm failed:\n" + out)
    totals = {}
    for key in ("received", "delivered", "deferred", "bounced", "rejected", "senders"):
        m = re.search(r"^\s*(\d+)\s+%s\b" % key, out, re.M)
        if m is None:
            raise AssertionError("no %r in pflogsumm's output:\n%s" % (key, out))
        totals[key] = int(m.group(1))
    # The bytes and the senders pflogsumm takes from the first from=,
    # size= line of a message whose smtpd client= or pickup uid= line it
    # has seen before (so a message counts as received only once, and
    # in that order: docs/operator.md "Lines that Postfix log tools read").
    m = re.search(r"^\s*(\d+)([kmg]?)\s+bytes received\b", out, re.M)
    if m is None:
        raise AssertionError("no bytes received in pflogsumm's output:\n" + out)
    totals["bytes received"] = int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20, "g": 1 << 30}[m.group(2)]
    m = re.search(r"^Senders by message count\n-+\n\s*(\d+)\s+(\S+)$", out, re.M)
    totals["top sender"] = (int(m.group(1)), m.group(2)) if m else None
    return totals, out


def scrape(port):
    """{metric line key: value} from the exporter's /metrics."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5 * SCALE) as r:
        text = r.read().decode("utf-8", "replace")
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        try:
            values[key] = float(value)
        except ValueError:
            pass
    return values


@unittest.skipUnless(os.access(PFLOGSUMM, os.X_OK) and os.access(EXPORTER, os.X_OK),
                     "pflogsumm or prometheus-postfix-exporter is not installed (make deps)")
class LogTools(PosternTestCase):

    def setUp(self):
        self.peer = Peer(("127.0.0.1", 0), PeerHandler)
        threading.Thread(target=self.peer.serve_forever, daemon=True).start()
        self.addCleanup(self.peer.server_close)
        self.addCleanup(self.peer.shutdown)

    def tree(self, syslog_name):
        t = self.start_tree(start=False)
        os.mkdir(os.path.join(t.dir, "log"))
        self.path = os.path.join(t.dir, "log", "maillog")
        open(self.path, "wb").close()   # the exporter wants it before it starts
        t.set_conf(log_file="log/maillog", syslog_name=syslog_name, mynetworks="127.0.0.0/8",
                   relayhost="[127.0.0.1]:%d" % self.peer.server_address[1])
        self.addCleanup(self.assert_no_sanitizer_reports)
        return t

    def assert_no_sanitizer_reports(self):
        hits = [l for l in read_text(self.path).splitlines() if any(p.decode() in l for p in SANITIZER_PATTERNS)]
        self.assertEqual(hits, [], "sanitizer reports in %s" % self.path)

    def script(self, t, name):
        """The scripted run: the queue ID of the bounced message, the log,
        and the SMTP sessions in all (the harness's readiness probe too)."""
        # The readiness probe got its 220 (so at least one session), but
        # its lines may still be on their way to the log: wait until every
        # session begun there has ended there before counting them.
        def probe_sessions():
            text = read_text(self.path)
            begun, ended = (len(re.findall(r"\]: %s from " % w, text)) for w in ("connect", "disconnect"))
            return begun if begun >= 1 and begun == ended else None
        sessions = 5 + wait_for(probe_sessions, 30, "the readiness probe's SMTP session in the log")
        t.send("bob@example.test", "accepted-local", sender=SENDER)
        t.send("ok@remote.test", "accepted-remote", sender=SENDER)
        t.send("defer@remote.test", "deferred", sender=SENDER)
        t.send("bounce@remote.test", "bounced", sender=SENDER)
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir
        p = subprocess.run([SENDMAIL, "-f", SENDER, "bob@example.test"], input=b"Subject: local\n\nhello\n",
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SCALE)
        self.assertEqual(p.returncode, 0, p.stdout)
        s = t.smtp()
        try:
            s.mail(SENDER)
            code, _ = s.rcpt("nosuch@example.test")
            self.assertEqual(code, 550, "RCPT to an unknown local user")
            s.rset()
        finally:
            s.quit()

        tag = re.escape(name)
        counts = {
            "sent": r"%s/(?:local|smtp)\[\d+\]: %s: to=<[^>]*>, relay=\S+, delay=[\d.]+, delays=[\d./]+, "
                    r"dsn=2\.\d\.\d, status=sent " % (tag, QUEUE_ID),
            "deferred": r"%s/smtp\[\d+\]: %s: to=<defer@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, "
                        r"delay=[\d.]+, delays=[\d./]+, dsn=4\.2\.0, status=deferred " % (tag, QUEUE_ID),
            "bounced": r"%s/smtp\[\d+\]: %s: to=<bounce@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, "
                       r"delay=[\d.]+, delays=[\d./]+, dsn=5\.1\.1, status=bounced " % (tag, QUEUE_ID),
            "removed": r"%s/qmgr\[\d+\]: %s: removed$" % (tag, QUEUE_ID),
            "disconnect": r"%s/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\]" % tag,
        }
        # bob twice, ok@remote and the notification to alice; five
        # finished messages (the deferred one stays); every SMTP session ended.
        want = {"sent": 4, "deferred": 1, "bounced": 1, "removed": 5, "disconnect": sessions}

        def have():
            text = read_text(self.path)
            return {k: len(re.findall(p, text, re.M)) for k, p in counts.items()}
        wait_for(lambda: have() == want, 60, "the scripted run in the log", fail=False)
        text = read_text(self.path)
        self.assertEqual(have(), want, "the log after the scripted run:\n" + text[-6000:])
        m = re.search(r"^.*\]: (%s): to=<bounce@remote\.test>" % QUEUE_ID, text, re.M)
        return m.group(1), text, sessions

    def test_pflogsumm_counts_and_postern_log_follow_a_message(self):
        t = self.tree("postern")
        t.start()
        bounced, text, _ = self.script(t, "postern")

        totals, out = pflogsumm_totals(self.path, "postern")
        self.assertGreater(totals.pop("bytes received"), 5 * 100, out)   # five messages of some 300 bytes
        self.assertEqual(totals, {"received": 5, "delivered": 4, "deferred": 1, "bounced": 1, "rejected": 1,
                                  "senders": 1, "top sender": (5, SENDER)},
                         "pflogsumm --syslog-name=postern:\n" + out)

        # Postfix's line shapes that the tools rely on.
        self.assertRegex(text, r"postern/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 "
                               r"<nosuch@example\.test>: Recipient address rejected: User unknown; "
                               r"from=<alice@example\.test> to=<nosuch@example\.test> proto=ESMTP helo=<client\.example>")
        self.assertRegex(text, r"postern/qmgr\[\d+\]: %s: from=<alice@example\.test>, size=\d+, nrcpt=1 \(queue active\)"
                         % bounced)
        self.assertRegex(text, r"postern/local\[\d+\]: %s: to=<bob@example\.test>, relay=local, delay=[\d.]+, "
                               r"delays=[\d.]+/[\d.]+/0/[\d.]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)"
                         % QUEUE_ID)
        self.assertRegex(text, r"postern/smtpd\[\d+\]: %s: message-id=<[^>]+>" % bounced)

        # postern log: the message, its session, and the notification it led to.
        p = subprocess.run([POSTERN, "log", "-d", t.dir, bounced], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60 * SCALE)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        shown = p.stdout.decode("utf-8", "replace")
        m = re.search(r"%s: sender non-delivery notification: (%s)$" % (bounced, QUEUE_ID), shown, re.M)
        self.assertTrue(m, "no notification line in postern log's output:\n" + shown)
        notice = m.group(1)
        pid = re.search(r"postern/smtpd\[(\d+)\]: %s: client=" % bounced, shown).group(1)
        for pattern in (r"postern/smtpd\[%s\]: connect from unknown\[127\.0\.0\.1\]" % pid,
                        r"postern/smtpd\[%s\]: %s: client=unknown\[127\.0\.0\.1\]" % (pid, bounced),
                        r"postern/enqueue\[\d+\]: %s: from=<alice@example\.test>" % bounced,
                        r"postern/qmgr\[\d+\]: %s: from=<alice@example\.test>, size=\d+, nrcpt=1" % bounced,
                        r"postern/smtp\[\d+\]: %s: to=<bounce@remote\.test>, .*status=bounced" % bounced,
                        r"postern/qmgr\[\d+\]: %s: removed" % bounced,
                        r"postern/qmgr\[\d+\]: %s: from=<>, size=\d+, nrcpt=1 \(queue active\)" % notice,
                        r"postern/local\[\d+\]: %s: to=<alice@example\.test>, relay=local, .*status=sent" % notice,
                        r"postern/qmgr\[\d+\]: %s: removed" % notice):
            self.assertRegex(shown, pattern)
        # Nothing about the other messages.
        ids = set(re.findall(r"\]: (%s): " % QUEUE_ID, shown))
        self.assertEqual(ids, {bounced, notice}, shown)
        # Every line shown is a line of the file, in the file's order.
        lines = text.splitlines()
        idx = [lines.index(l) for l in shown.splitlines()]
        self.assertEqual(idx, sorted(idx))

        p = subprocess.run([POSTERN, "log", "-f", self.path, "ABCDEF0123"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60 * SCALE)
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertIn(b"no line about this message", p.stderr)

    def test_prometheus_postfix_exporter_counts(self):
        t = self.tree("postfix")
        port = free_port()
        # Its own log goes to a file: it writes a line per scrape (no
        # showq socket here), and a full pipe would stop it.
        out = os.path.join(t.dir, "exporter.log")
        with open(out, "wb") as f:
            exporter = subprocess.Popen([EXPORTER, "--web.listen-address=127.0.0.1:%d" % port,
                                         "--postfix.logfile_path=" + self.path,
                                         "--postfix.showq_path=" + os.path.join(t.dir, "no-showq")],
                                        stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.addCleanup(exporter.wait, 10)
        self.addCleanup(exporter.kill)

        def answers():
            if exporter.poll() is not None:
                raise AssertionError("the exporter exited: " + read_text(out))
            try:
                return "postfix_smtpd_connects_total" in scrape(port)
            except OSError:
                return False
        wait_for(answers, 20, "prometheus-postfix-exporter to answer", interval=0.2)
        t.start()
        _, _, sessions = self.script(t, "postfix")

        totals, out = pflogsumm_totals(self.path, None)
        self.assertGreater(totals.pop("bytes received"), 5 * 100, out)
        self.assertEqual(totals, {"received": 5, "delivered": 4, "deferred": 1, "bounced": 1, "rejected": 1,
                                  "senders": 1, "top sender": (5, SENDER)},
                         "pflogsumm on syslog_name = postfix:\n" + out)
        want = {
            "postfix_smtpd_connects_total": sessions,
            "postfix_smtpd_disconnects_total": sessions,
            'postfix_smtpd_messages_processed_total{sasl_method=""}': 4,
            'postfix_smtpd_messages_rejected_total{code="550"}': 1,
            "postfix_qmgr_messages_inserted_receipients_count": 6,   # five, and the notification
            "postfix_qmgr_messages_removed_total": 5,
            # Three smtp lines with delays=a/b/c/d, four observations each
            # (0.3.0 puts the stage name where the label should be: "").
            'postfix_smtp_delivery_delay_seconds_count{stage=""}': 12,
            "postfix_smtp_status_deferred": 1,
        }

        def have():
            got = scrape(port)
            return {k: got.get(k) for k in want}
        wait_for(lambda: have() == want, 30, "the exporter's counters", interval=0.2, fail=False)
        self.assertEqual(have(), want, "exporter metrics:\n%s" % sorted(scrape(port).items()))


if __name__ == "__main__":
    unittest.main()
