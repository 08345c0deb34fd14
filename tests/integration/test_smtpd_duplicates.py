"""smtpd and enqueue: a recipient named many times is stored and
delivered once (issue 9, item 8), a quoted local part is the same mailbox
as its unquoted form (RFC 5321 4.1.2), and every duplicate ESMTP
parameter on MAIL or RCPT is answered 501 (issue 9, item 11)."""

import os
import subprocess

from postern_harness import BIN, PosternTestCase, daemon_env, make_message

SENDER = "sender@example.org"


class SmtpdDuplicates(PosternTestCase):

    def wait_queue_empty(self, t, seconds=60):
        """Every accepted message has its final result (nothing queued)."""
        t.wait_queue(lambda q: q == [], seconds, "an empty queue")

    def session(self, t):
        """An smtplib session after EHLO (s.docmd sends one raw command)."""
        return self.smtp_session(t, timeout=120)

    def test_same_recipient_1000_times_and_variants_delivered_once(self):
        t = self.start_tree()
        bob = t.addr("bob")
        variants = ["BOB@%s" % t.domain, "bob@%s" % t.domain.upper(), "@x.test:" + bob,
                    "@x.test,@y.test:BoB@%s" % t.domain.title(), '"bob"@%s' % t.domain,
                    '"\\b\\o\\b"@%s' % t.domain]
        s = self.session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        for i in range(1000):
            code, text = s.rcpt(bob)
            self.assertEqual(code, 250, (i, text))
        for v in variants:
            # smtplib would quote these itself; a source route goes inside the brackets.
            code, text = s.docmd("RCPT TO:<%s>" % v)
            self.assertEqual(code, 250, (v, text))
        self.assertEqual(s.rcpt("alice@%s" % t.domain.upper())[0], 250)
        msg = make_message("dup-1000", SENDER, bob, b"x" * 2000 + b"\r\n")
        self.assertEqual(s.data(msg)[0], 250)
        s.quit()
        self.assertEqual(t.wait_ids("bob", {"dup-1000"}), {"dup-1000": 1})
        self.wait_queue_empty(t)
        self.assertEqual(t.test_ids("bob"), {"dup-1000": 1})
        self.assertEqual(t.test_ids("alice"), {"dup-1000": 1})
        self.assertIn(b"nrcpt=2,", t.log_bytes(), "one queue entry per distinct recipient")

    def test_quoted_local_part_is_the_unquoted_mailbox(self):
        t = self.start_tree()
        s = self.session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        reply = s.docmd('RCPT TO:<"bob"@%s>' % t.domain)
        self.assertEqual(reply[0], 250, reply)
        self.assertEqual(s.data(make_message("quoted-1", SENDER, "bob", b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"quoted-1"}), {"quoted-1": 1})
        # A quoted local part that is no dot-string stays what it is: unknown.
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.docmd('RCPT TO:<"bob smith"@%s>' % t.domain)[0], 550)

    def test_duplicate_dsn_requests_merged(self):
        """NOTIFY=NEVER then NOTIFY=SUCCESS for the same mailbox: one
        delivery and one success notice (the requests are merged)."""
        t = self.start_tree()
        alice, bob = t.addr("alice"), t.addr("bob")
        s = self.session(t)
        self.assertEqual(s.mail(alice)[0], 250)
        self.assertEqual(s.docmd("RCPT TO:<%s> NOTIFY=NEVER" % bob)[0], 250)
        self.assertEqual(s.docmd("RCPT TO:<BOB@%s> NOTIFY=SUCCESS ORCPT=rfc822;x+40y" % t.domain)[0], 250)
        self.assertEqual(s.data(make_message("dsn-merge", alice, bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"dsn-merge"}), {"dsn-merge": 1})
        self.assertEqual(t.wait_count("alice", 1), 1)
        self.wait_queue_empty(t)
        self.assertEqual(t.count("alice"), 1, "exactly one success notice")
        self.assertEqual(t.test_ids("bob"), {"dsn-merge": 1})
        notice = open(t.message_paths("alice")[0], "rb").read()
        self.assertIn(b"Action: delivered", notice)
        self.assertIn(b"Original-Recipient: rfc822;x@y", notice)

    def test_recipient_limit_counts_distinct_recipients(self):
        t = self.start_tree(start=False)
        t.set_conf(smtpd_recipient_limit="2")
        t.start()
        s = self.session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        for _ in range(5):
            self.assertEqual(s.rcpt(t.addr("bob"))[0], 250)
        self.assertEqual(s.rcpt(t.addr("alice"))[0], 250)
        reply = s.rcpt("postmaster@" + t.domain)
        self.assertEqual(reply[0], 452, reply)

    def test_sendmail_duplicate_recipients_delivered_once(self):
        t = self.start_tree()
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir
        d = t.domain
        msg = b"To: bob@example.test\nSubject: pickup dups\nX-Test-Id: pickup-dup\n\nhello\n"
        # The same mailbox four times over: domain case and quoting differ.
        rcpts = ["bob@" + d, "bob@" + d.upper(), '"bob"@' + d, "bob@" + d]
        p = subprocess.run([os.path.join(BIN, "sendmail"), "-i"] + rcpts,
                           input=msg, env=env, timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(t.wait_ids("bob", {"pickup-dup"}), {"pickup-dup": 1})
        self.wait_queue_empty(t)
        self.assertEqual(t.test_ids("bob"), {"pickup-dup": 1})

    def test_every_duplicate_parameter_501(self):
        t = self.start_tree()
        s = self.session(t)
        bob = t.addr("bob")
        for params in ("BODY=8BITMIME BODY=7BIT", "SIZE=1 SIZE=2", "SMTPUTF8 SMTPUTF8",
                       "body=7bit BODY=7BIT", "RET=HDRS RET=FULL", "ENVID=a ENVID=b", "AUTH=<> AUTH=<>"):
            reply = s.docmd("MAIL FROM:<a@example.org> " + params)
            self.assertEqual(reply[0], 501, (params, reply))
            self.assertTrue(reply[1].startswith(b"5.5.4 "), reply)
        self.assertEqual(s.docmd("MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=10 SMTPUTF8")[0], 250)
        for params in ("NOTIFY=NEVER NOTIFY=NEVER", "ORCPT=rfc822;a@b ORCPT=rfc822;a@b",
                       "notify=SUCCESS NOTIFY=FAILURE"):
            reply = s.docmd("RCPT TO:<%s> %s" % (bob, params))
            self.assertEqual(reply[0], 501, (params, reply))
        self.assertEqual(s.docmd("RCPT TO:<%s> NOTIFY=NEVER ORCPT=rfc822;a@b" % bob)[0], 250)
