"""smtpd: every limit answered with its reply, relay control, and SMTP
smuggling attempts (issue 3, items 4-6, 8), with raw sockets, smtplib and
swaks; 50 concurrent sessions."""

import os
import shutil
import smtplib
import subprocess
import threading
import time

from postern_harness import (BIN, HOST, SCALE, PosternTestCase, RawSMTP, daemon_env, make_message,
                             wait_for, wait_peer_read)


class SmtpdLimits(PosternTestCase):

    def tree_with(self, **conf):
        t = self.start_tree(start=False)
        t.set_conf(**conf)
        t.start()
        return t

    def session(self, t, service="smtp"):
        c = RawSMTP(t.port(service))
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        c.send(b"EHLO client.example\r\n")
        self.assertEqual(c.read_reply()[0], 250)
        return c

    def cmd(self, c, line):
        c.send(line + b"\r\n")
        return c.read_reply()

    def assertCode(self, reply, code, enhanced):
        self.assertEqual(reply[0], code, reply)
        self.assertTrue(reply[1][-1].startswith(enhanced.encode() + b" "), reply)

    def messages_of_session(self, t, after=0):
        """After QUIT: wait for smtpd's disconnect line of the session
        that said EHLO client.example and return its messages= count.
        smtpd answers 250 only once enqueue has the message, so once the
        session has ended, what it queued is all it will ever queue."""
        m = t.wait_log(r"disconnect from \S+ service=smtp helo=<client\.example> .*\bmessages=(\d+)",
                       after=after)
        return int(m.group(1))

    def test_size_limit_at_mail_and_after_data_552(self):
        t = self.tree_with(message_size_limit="2000")
        c = self.session(t)
        self.assertCode(self.cmd(c, b"MAIL FROM:<a@example.org> SIZE=5000"), 552, "5.3.4")
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
        self.assertEqual(self.cmd(c, b"DATA")[0], 354)
        c.send(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" + (b"y" * 70 + b"\r\n") * 50 + b".\r\n")
        self.assertCode(c.read_reply(), 552, "5.3.4")
        self.assertEqual(self.cmd(c, b"NOOP")[0], 250, "session goes on")
        # The message had its ID (and its client= line, which log tools
        # count as received) from the DATA on: its refusal is logged under
        # it, as Postfix does, so that the message's lines tell why.
        qid = t.wait_log(r"smtpd\[\d+\]: ([0-9A-F]+): client=unknown\[127\.0\.0\.1\]$").group(1)
        t.wait_log(r"smtpd\[\d+\]: %s: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 " % qid)
        self.assertNotIn("NOQUEUE: reject: DATA", t.log_text())

    def test_recipient_limit_452(self):
        t = self.tree_with(smtpd_recipient_limit="2")
        c = self.session(t)
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        for u in ("alice", "bob"):
            self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr(u).encode())[0], 250)
        self.assertCode(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice+x").encode()), 452, "4.5.3")
        # One the transaction has, named again: its 250, as below the limit.
        self.assertCode(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode()), 250, "2.1.5")

    def test_overlong_command_and_text_lines_500_5_5_2(self):
        t = self.tree_with(smtpd_line_limit="1000")
        c = self.session(t)
        self.assertCode(self.cmd(c, b"NOOP " + b"a" * 1200), 500, "5.5.2")
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
        self.assertEqual(self.cmd(c, b"DATA")[0], 354)
        c.send(b"Subject: long\r\n\r\n" + b"z" * 1500 + b"\r\n.\r\n")
        self.assertCode(c.read_reply(), 500, "5.5.2")
        self.assertEqual(self.cmd(c, b"NOOP")[0], 250)

    def test_header_size_limit_552(self):
        t = self.tree_with(smtpd_header_size_limit="2k")
        c = self.session(t)
        for body, want in ((b"X-Big: " + b"h" * 60 + b"\r\n", 552), (b"", 250)):
            self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
            self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
            self.assertEqual(self.cmd(c, b"DATA")[0], 354)
            head = b"X-Test-Id: hdr-%d\r\n" % want + body * 40
            c.send(head + b"\r\n" + b"body line that is long enough\r\n" * 200 + b".\r\n")
            reply = c.read_reply()
            self.assertEqual(reply[0], want, reply)
            if want == 552:
                self.assertTrue(reply[1][-1].startswith(b"5.3.4 "))
        self.assertEqual(t.wait_ids("alice", {"hdr-250"}), {"hdr-250": 1})

    def test_too_many_errors_421_4_7_0(self):
        t = self.tree_with(smtpd_hard_error_limit="3")
        c = self.session(t)
        self.assertCode(self.cmd(c, b"BOGUS"), 500, "5.5.2")
        self.assertCode(self.cmd(c, b"MAIL FROM:<not an address>"), 501, "5.1.3")
        c.send(b"RCPT TO:<x@example.test>\r\n")
        self.assertCode(c.read_reply(), 503, "5.5.1")
        self.assertCode(c.read_reply(), 421, "4.7.0")
        with self.assertRaises(EOFError):
            c.read_reply()

    def test_idle_timeout_421_4_4_2(self):
        t = self.tree_with(smtpd_timeout="1s")
        c = self.session(t)
        started = time.monotonic()
        self.assertCode(c.read_reply(), 421, "4.4.2")
        # Margin: the timeout is 1 s; the bound leaves 9 s (x SCALE) for a
        # busy machine, and still fails a timeout that is not applied.
        self.assertLess(time.monotonic() - started, 10 * SCALE)

    def test_session_time_limit_421_4_4_2(self):
        t = self.tree_with(smtpd_session_time_limit="2s")
        c = self.session(t)
        # A NOOP now and then until the 2 s limit ends the session: 15 s
        # (x SCALE) leaves 13 s of margin for a busy machine.
        replies = []
        wait_for(lambda: replies.append(self.cmd(c, b"NOOP")) or replies[-1][0] != 250, 15,
                 "smtpd_session_time_limit (2s) to end the session", interval=0.3)
        self.assertCode(replies[-1], 421, "4.4.2")

    def test_sessions_per_client_ip_limited_421_4_7_0(self):
        t = self.tree_with(smtpd_client_connection_limit="2")
        first = self.session(t)
        self.session(t, "submission")   # the limit spans the services
        c = RawSMTP(t.port("smtp"))
        try:
            self.assertCode(c.read_reply(), 421, "4.7.0")
        finally:
            c.close()
        first.send(b"QUIT\r\n")
        self.assertEqual(first.read_reply()[0], 221)

        def greeting():
            c = RawSMTP(t.port("smtp"))
            try:
                return c.read_reply()[0]
            finally:
                c.close()
        # The slot comes back once that session has ended.
        wait_for(lambda: greeting() == 220, 10, "a 220 once the first session has ended", interval=0.1)

    def test_mynetworks_may_relay_others_may_not(self):
        t = self.tree_with(mynetworks="10.0.0.0/8, 127.0.0.0/8 [::1]/128")
        c = self.session(t)
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<someone@elsewhere.example>")[0], 250)
        t2 = self.tree_with(mynetworks="10.0.0.0/8")
        c2 = self.session(t2)
        self.assertEqual(self.cmd(c2, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertCode(self.cmd(c2, b"RCPT TO:<someone@elsewhere.example>"), 554, "5.7.1")

    def smuggle(self, t, c, test_id):
        """DATA with an <LF>.<LF> 'end' and a second transaction after it."""
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
        self.assertEqual(self.cmd(c, b"DATA")[0], 354)
        c.send(b"X-Test-Id: " + test_id + b"\r\n\r\nfirst\r\n"
               b"\n.\n"
               b"MAIL FROM:<evil@example.org>\n"
               b"RCPT TO:<" + t.addr("bob").encode() + b">\n"
               b"DATA\n"
               b"X-Test-Id: smuggled\n\nevil\n"
               b"\r\n.\r\n")
        return c.read_reply()

    def test_lf_dot_lf_smuggling_refused_550_5_5_2(self):
        t = self.start_tree()
        c = self.session(t)
        self.assertCode(self.smuggle(t, c, b"smug-1"), 550, "5.5.2")
        self.assertEqual(self.cmd(c, b"NOOP")[0], 250, "exactly one reply for the whole attempt")
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        self.assertEqual(self.messages_of_session(t), 0, "a message was queued")
        self.assertEqual(t.queue_json(), [])
        self.assertEqual(t.count("alice") + t.count("bob"), 0)

    def test_bare_lf_allowed_by_config_still_never_ends_data(self):
        t = self.tree_with(smtpd_forbid_bare_newline="no")
        c = self.session(t)
        reply = self.smuggle(t, c, b"smug-2")
        self.assertEqual(reply[0], 250, reply)
        self.assertEqual(self.cmd(c, b"NOOP")[0], 250)
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        self.assertEqual(self.messages_of_session(t), 1, "the smuggled transaction was run")
        self.assertEqual(t.wait_ids("alice", {"smug-2"}), {"smug-2": 1})
        t.wait_queue(lambda q: q == [], what="an empty queue (the one message delivered)")
        self.assertEqual(t.count("bob"), 0, "the smuggled message was delivered")

    def test_overlong_line_then_lf_dot_crlf_does_not_end_data(self):
        # Review finding 2: "<long line><LF>.<CRLF>" is no end of data for
        # a relay that passed it through, so what follows must stay data,
        # never run as commands.
        t = self.tree_with(smtpd_line_limit="1000")
        c = self.session(t)
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
        self.assertEqual(self.cmd(c, b"DATA")[0], 354)
        c.send(b"X-Test-Id: smug-long\r\n\r\n" + b"z" * 1500 + b"\n.\r\n"
               b"MAIL FROM:<evil@example.org>\r\n"
               b"RCPT TO:<" + t.addr("bob").encode() + b">\r\n"
               b"DATA\r\n"
               b"X-Test-Id: smuggled\r\n\r\nevil\r\n"
               b".\r\n")
        self.assertCode(c.read_reply(), 500, "5.5.2")
        # The very next reply is QUIT's: no MAIL, RCPT or DATA was run.
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        self.assertEqual(self.messages_of_session(t), 0, "a message was queued")
        self.assertEqual(t.queue_json(), [])
        self.assertEqual(t.count("alice") + t.count("bob"), 0)
        self.assertNotIn(b"evil@example.org", t.log_bytes())

    def test_overlong_crlf_line_then_dot_ends_data_500(self):
        t = self.tree_with(smtpd_line_limit="1000")
        c = self.session(t)
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
        self.assertEqual(self.cmd(c, b"DATA")[0], 354)
        # CR and LF in different reads of smtpd: the LF goes out only
        # once smtpd has read everything up to the CR.
        c.send(b"Subject: long\r\n\r\n" + b"z" * 5000 + b"\r")
        wait_peer_read(c.sock)
        c.send(b"\n.\r\n")
        self.assertCode(c.read_reply(), 500, "5.5.2")
        self.assertEqual(self.cmd(c, b"NOOP")[0], 250)

    def test_message_size_limit_0_refused_by_check_and_smtpd(self):
        # Review finding 5: every limit explicit, 0 is no "unlimited".
        t = self.start_tree(start=False)
        self.assertEqual(t.run("check", "-d", t.dir).returncode, 0)
        t.set_conf(message_size_limit="0")
        p = t.run("check", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("message_size_limit: must be at least 1", out)
        p = subprocess.run([os.path.join(BIN, "smtpd"), "-c", os.path.join(t.dir, "etc"), "-i"],
                           input=b"EHLO x\r\nQUIT\r\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=daemon_env(), timeout=30 * SCALE)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn(b"SIZE 0", p.stdout)
        self.assertIn(b"message_size_limit: must be at least 1", p.stderr)

    def test_bare_cr_refused(self):
        t = self.start_tree()
        c = self.session(t)
        self.assertEqual(self.cmd(c, b"MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(self.cmd(c, b"RCPT TO:<%s>" % t.addr("alice").encode())[0], 250)
        self.assertEqual(self.cmd(c, b"DATA")[0], 354)
        c.send(b"Subject: cr\r\n\r\nline\r.\r\nmore\r\n.\r\n")
        self.assertCode(c.read_reply(), 550, "5.5.2")

    def test_swaks_pipelined_transaction(self):
        exe = shutil.which("swaks")
        if exe is None:
            self.skipTest("swaks not installed (Debian package swaks)")
        t = self.start_tree()
        p = subprocess.run([exe, "--server", HOST, "--port", str(t.port("smtp")), "--pipeline",
                            "--from", "p@example.org", "--to", t.addr("alice") + "," + t.addr("bob"),
                            "--header", "X-Test-Id: swaks-pipe", "--timeout", "30"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60 * SCALE)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("PIPELINING", out)
        for u in ("alice", "bob"):
            self.assertEqual(t.wait_ids(u, {"swaks-pipe"}), {"swaks-pipe": 1})

    def test_50_concurrent_sessions_all_delivered(self):
        t = self.start_tree()
        n = 50
        results = [None] * n
        ready = threading.Barrier(n)

        def one(i):
            try:
                s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname="client.example", timeout=120 * SCALE)
                try:
                    s.ehlo()
                    ready.wait(60 * SCALE)   # all 50 sessions open at once
                    s.sendmail("c@example.org", [t.addr("alice")],
                               make_message("conc-%d" % i, "c@example.org", t.addr("alice"), b"x\r\n"))
                    results[i] = "ok"
                finally:
                    s.quit()
            except Exception as e:  # reported below
                results[i] = repr(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(180 * SCALE)
        self.assertEqual([r for r in results if r != "ok"], [])
        wanted = {"conc-%d" % i for i in range(n)}
        ids = t.wait_ids("alice", wanted, seconds=60)
        self.assertEqual({k: v for k, v in ids.items() if k in wanted}, {k: 1 for k in wanted})
