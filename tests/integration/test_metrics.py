"""The metrics service (docs/metrics.md) and `postern status` (issue 12,
section 4): with the metrics line of master.conf enabled on a free
loopback port, mail delivered, a recipient refused at RCPT, a failed SMTP
AUTH, a POP3 and an IMAP login are counted exactly; a killed process shows in its
service's restarts; the queue directories are counted and aged by the IDs
in them; the master's service states come back after the metrics process
itself is killed, and its counts live on, also through a reload; bad requests
get 400, 404 and 405; and `promtool check metrics` (Debian package
prometheus) accepts a scrape."""
import base64
import grp
import http.client
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from postern_harness import (HOST, RESIDENT, SCALE, SERVICES, PosternTestCase, check_privsep, free_port, is_root,
                             wait_for)

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\d+)$")


def enable_metrics(t):
    """Uncomment the metrics line of master.conf on a free port; the port."""
    port = free_port()
    path = os.path.join(t.dir, "etc", "master.conf")
    with open(path) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^#metrics(\s+inet\s+)\S+", r"metrics\g<1>%s:%d" % (HOST, port), text)
    if n != 1:
        raise AssertionError("master.conf has no commented-out metrics line:\n" + text)
    with open(path, "w") as f:
        f.write(text)
    return port


def scrape(port, openmetrics=False, method="GET", path="/metrics"):
    """(status, content type, body) of one request."""
    c = http.client.HTTPConnection(HOST, port, timeout=10 * SCALE)
    try:
        headers = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
                   if openmetrics else "*/*"}
        c.request(method, path, headers=headers)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode("utf-8")
    finally:
        c.close()


def samples(body):
    """{"name{labels}": value} of a text scrape."""
    out = {}
    for line in body.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise AssertionError("not a sample line: %r" % line)
        out[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return out


def raw_request(port, data):
    """The status line the service answers to the bytes data."""
    with socket.create_connection((HOST, port), timeout=10 * SCALE) as s:
        s.sendall(data)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    return got.split(b"\r\n", 1)[0].decode("latin-1")


class Metrics(PosternTestCase):

    def start_with_metrics(self):
        t = self.start_tree(start=False)
        t.set_conf(smtpd_auth_failure_delay="0")
        port = enable_metrics(t)
        t.start()
        # the master's state of every service has reached the service: a
        # count for each, a process of each resident one (the others are
        # started when a client comes)
        resident = set(RESIDENT) | {"metrics"}   # metrics: off in the default master.conf

        def reported():
            got = samples(scrape(port)[2])
            return all(got.get('postern_service_processes{service="%s"}' % s, -1) >= (s in resident)
                       for s in set(SERVICES) | resident)
        wait_for(reported, 20, "every service in the scrape", ignore=(OSError,),
                 detail=lambda: t.log_tail())
        return t, port

    def wait_values(self, port, want, what):
        """Until every sample of want has exactly its value (absent: 0 for
        an unlabelled counter); the last scrape."""
        def check():
            got = samples(scrape(port)[2])
            return got if all(got.get(k) == v for k, v in want.items()) else None
        def detail():
            got = samples(scrape(port)[2])
            return {k: got.get(k) for k in want}
        return wait_for(check, 30, what, ignore=(OSError,), detail=detail)

    def test_counts_restarts_queue_and_status(self):
        t, port = self.start_with_metrics()
        if is_root():
            check_privsep(self, t, "metrics", "postern-metrics", "run/jail")

        # delivered
        t.send(t.addr("alice"), "metrics-1")
        t.wait_count("alice", 1)
        # refused at RCPT: one 550 (smtplib then sends RSET, answered 250)
        s = t.smtp()
        code, _ = s.mail("sender@example.org")
        self.assertEqual(code, 250)
        code, _ = s.rcpt("nosuchuser@" + t.domain)
        self.assertEqual(code, 550, "RCPT of an unknown user")
        s.quit()
        # AUTH fails once on submission (after STARTTLS): one 535
        s = t.submission()
        token = base64.b64encode(b"\0" + t.addr("alice").encode() + b"\0wrong-password").decode()
        code, _ = s.docmd("AUTH", "PLAIN " + token)
        self.assertEqual(code, 535)
        s.quit()
        # a POP3 login
        p = t.pop3("alice")
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        # an IMAP login
        i = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        i.login(t.addr("alice"), t.passwords["alice"])
        i.logout()

        want = {
            "postern_messages_received_total": 1,
            "postern_recipients_delivered_total": 1,
            "postern_recipients_deferred_total": 0,
            "postern_recipients_bounced_total": 0,
            'postern_smtp_rejects_total{service="smtp",class="5xx"}': 1,
            'postern_smtp_rejects_total{service="submission",class="5xx"}': 1,
            'postern_tls_handshakes_total{service="submission",result="ok"}': 1,
            'postern_auth_attempts_total{service="submission",result="failed"}': 1,
            'postern_auth_attempts_total{service="pop3",result="ok"}': 1,
            'postern_login_sessions_total{service="pop3",protocol="pop3"}': 1,
            'postern_auth_attempts_total{service="imap",result="ok"}': 1,
            'postern_login_sessions_total{service="imap",protocol="imap"}': 1,
            "postern_metrics_records_refused_total": 0,
        }
        got = self.wait_values(port, want, "the counts of one delivery, one RCPT refusal, "
                               "one AUTH failure, one POP3 and one IMAP login")
        # nothing else was counted: no other reject, TLS, AUTH or login sample
        others = {k: v for k, v in got.items() if k not in want and
                  k.split("{")[0] in ("postern_smtp_rejects_total", "postern_tls_handshakes_total",
                                      "postern_auth_attempts_total", "postern_login_sessions_total")}
        self.assertEqual(others, {}, "samples nobody caused")
        for state in ("incoming", "active", "deferred", "hold"):
            self.assertEqual(got['postern_queue_messages{state="%s"}' % state], 0, state)

        # a process killed: its service's restarts
        remote = t.wake("remote", seconds=5)
        self.assertTrue(remote, "no postern/remote process")
        for pid in remote:
            os.kill(pid, signal.SIGKILL)
        self.wait_values(port, {'postern_service_restarts_total{service="remote"}': len(remote),
                                'postern_service_restarts_total{service="smtp"}': 0},
                         "the restart of remote in the scrape")
        t.wake("remote", exclude=remote, seconds=10)

        # the queue, counted by the IDs in its directories: a held message an hour old
        arrived = int(time.time()) - 3600
        qid = "%08X%05X%d" % (arrived, 0, 1)
        held = os.path.join(t.dir, "queue", "hold", qid)
        open(held, "w").close()
        got = self.wait_values(port, {'postern_queue_messages{state="hold"}': 1}, "the held message")
        age = got['postern_queue_oldest_message_age_seconds{state="hold"}']
        self.assertGreaterEqual(age, 3600)
        self.assertLess(age, 3600 + 60 * SCALE)

        # postern status: every service with processes and restarts, and the queue
        st = t.run("status", "-d", t.dir)
        out = st.stdout.decode()
        self.assertRegex(out, r"(?m)^postern is running \(pid %d\)$" % t.master_pid)
        self.assertRegex(out, r"(?m)^SERVICE\s+PROCESSES\s+RESTARTS$")
        # resident: a process at all times; the others since a client came
        # (warm: a spare stays), none for those nobody used
        unused = ("smtps", "verify", "pickup", "dkim-sign", "pop3s", "imaps", "imap-hibernate")
        for name in set(SERVICES) | {"metrics"}:
            m = re.search(r"(?m)^%s\s+(\d+)\s+(\d+)$" % re.escape(name), out)
            self.assertIsNotNone(m, "%s missing from postern status:\n%s" % (name, out))
            if name in unused:
                self.assertEqual(int(m.group(1)), 0, name)
            else:
                self.assertGreaterEqual(int(m.group(1)), 1, name)
            self.assertEqual(int(m.group(2)), len(remote) if name == "remote" else 0, name)
        for state, n in (("incoming", 0), ("active", 0), ("deferred", 0)):
            self.assertRegex(out, r"(?m)^%s\s+%d\s+-$" % (state, n))
        m = re.search(r"(?m)^hold\s+1\s+(\d+)s$", out)
        self.assertIsNotNone(m, "the held message in postern status:\n" + out)
        self.assertGreaterEqual(int(m.group(1)), 3600)
        os.unlink(held)

        # the metrics process killed, then replaced by a reload: the
        # counts live on (the master's memfd), as do the master's states
        metrics = t.wait_pids("metrics", seconds=5)
        for pid in metrics:
            os.kill(pid, signal.SIGKILL)
        restarted = t.wait_pids("metrics", exclude=metrics, seconds=10)
        kept = dict(want, **{'postern_service_restarts_total{service="metrics"}': len(metrics),
                             'postern_service_restarts_total{service="remote"}': len(remote),
                             'postern_service_processes{service="metrics"}': 1})
        self.wait_values(port, kept, "the counts after the metrics process was killed")
        t.run("reload", "-d", t.dir)
        wait_for(lambda: t.wait_pids("metrics", exclude=metrics + restarted, seconds=10), 10,
                 "a metrics process started by the reload")
        t.send(t.addr("alice"), "metrics-2")
        t.wait_count("alice", 2)
        kept.update({"postern_messages_received_total": 2, "postern_recipients_delivered_total": 2})
        self.wait_values(port, kept, "the counts after a reload, and one more delivery")

    def test_openmetrics_and_http_errors(self):
        t, port = self.start_with_metrics()
        t.send(t.addr("alice"), "metrics-om")
        self.wait_values(port, {"postern_recipients_delivered_total": 1}, "one delivery")
        status, ctype, body = scrape(port, openmetrics=True)
        self.assertEqual((status, ctype), (200, OPENMETRICS))
        self.assertTrue(body.endswith("\n# EOF\n"), body[-200:])
        self.assertIn("# TYPE postern_recipients_delivered counter\n", body)
        self.assertIn("\npostern_recipients_delivered_total 1\n", body)
        # every family once, each sample after its family's metadata
        families = re.findall(r"(?m)^# TYPE (\S+) ", body)
        self.assertEqual(len(families), len(set(families)), families)
        status, ctype, body = scrape(port)
        self.assertEqual((status, ctype), (200, "text/plain; version=0.0.4; charset=utf-8"))
        self.assertIn("# TYPE postern_recipients_delivered_total counter\n", body)
        self.assertNotIn("# EOF", body)
        status, _, body = scrape(port, method="HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(scrape(port, path="/")[0], 404)
        self.assertEqual(scrape(port, method="POST")[0], 405)
        self.assertEqual(raw_request(port, b"GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 Bad Request")
        self.assertEqual(raw_request(port, b"GET /metrics HTTP/1.0\r\nX: " + b"a" * 9000 + b"\r\n\r\n"),
                         "HTTP/1.1 400 Bad Request")
        self.assertEqual(raw_request(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\n" * 3),
                         "HTTP/1.1 400 Bad Request")
        # and the service still answers
        self.assertEqual(scrape(port)[0], 200)

    @unittest.skipUnless(is_root(), "needs root: the scrapers run as another user, in group postern or not")
    def test_unix_line_serves_the_group_postern(self):
        """A unix metrics line (docs/metrics.md) serves DIR/private/metrics
        to whoever its directory lets in (0750 root:postern): a member of
        group postern scrapes it, another user cannot reach it."""
        t = self.start_tree(start=False)
        path = os.path.join(t.dir, "etc", "master.conf")
        with open(path) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^#metrics\s+inet\s+\S+", "metrics    unix  metrics", text)
        self.assertEqual(n, 1, text)
        with open(path, "w") as f:
            f.write(text)
        t.start()
        sock = os.path.join(t.dir, "private", "metrics")
        nobody = pwd.getpwnam("nobody")
        postern_gid = grp.getgrnam("postern").gr_gid
        def scrape_as(groups):
            """What a process of user nobody with these groups reads from
            the socket ("EACCES" if it cannot reach it): forked, as
            nobody may not run this Python."""
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.close(r)
                    os.setgroups(groups)
                    os.setgid(nobody.pw_gid)
                    os.setuid(nobody.pw_uid)
                    got = b""
                    with socket.socket(socket.AF_UNIX) as c:
                        c.settimeout(10 * SCALE)
                        try:
                            c.connect(sock)
                        except PermissionError:
                            got = b"EACCES"
                        else:
                            c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                            while True:
                                chunk = c.recv(65536)
                                if not chunk:
                                    break
                                got += chunk
                    os.write(w, got)
                    code = 0
                finally:
                    os._exit(code)
            os.close(w)
            got = b""
            with os.fdopen(r, "rb") as f:
                got = f.read()
            _, status = os.waitpid(pid, 0)
            if status != 0:
                raise OSError("the scraper failed (status %d)" % status)
            return got.decode("utf-8", "replace")

        def served():
            out = scrape_as([postern_gid])
            return out if out.startswith("HTTP/1.1 200 ") else None
        out = wait_for(served, 20, "a scrape of DIR/private/metrics by a member of group postern",
                       ignore=(OSError,), detail=lambda: t.log_tail())
        self.assertRegex(out, r"(?m)^postern_service_processes\{service=\"metrics\"\} 1$")
        self.assertEqual(scrape_as([]), "EACCES")
        self.assertNotIn(b"not a caller of metrics", t.log_bytes())

    def test_promtool_check_metrics_accepts_a_scrape(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool is not installed (Debian package prometheus, in DEPS_PKGS: make deps)")
        t, port = self.start_with_metrics()
        t.send(t.addr("alice"), "metrics-promtool")
        s = t.smtp()
        s.mail("sender@example.org")
        s.rcpt("nosuchuser@" + t.domain)
        s.quit()
        self.wait_values(port, {"postern_recipients_delivered_total": 1,
                                'postern_smtp_rejects_total{service="smtp",class="5xx"}': 1},
                         "a delivery and a refusal")
        body = scrape(port)[2]
        p = subprocess.run([promtool, "check", "metrics"], input=body.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60 * SCALE)
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n%s\n--- the scrape:\n%s"
                         % (p.stdout.decode("utf-8", "replace"), body))


if __name__ == "__main__":
    unittest.main()
