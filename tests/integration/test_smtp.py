"""SMTP behaviour of the receiver as seen by real clients (issue 2, items 7, 13)."""

import shutil
import subprocess
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, RawSMTP, make_message

class SmtpReceiver(PosternTestCase):

    def setUp(self):
        self.tree = self.start_tree()

    def assertReply(self, reply, code, enhanced):
        got_code, text = reply
        if isinstance(text, list):
            text = text[-1]
        self.assertEqual(got_code, code, "reply %r" % (reply,))
        self.assertTrue(text.startswith(enhanced.encode() + b" "),
                        "reply %d %r lacks enhanced status %s" % (got_code, text, enhanced))

    def test_unknown_recipient_gets_550_5_1_1(self):
        s = self.tree.smtp()
        try:
            self.assertEqual(s.mail("sender@example.org")[0], 250)
            self.assertReply(s.rcpt("nobody@example.test"), 550, "5.1.1")
            # The transaction goes on for a valid recipient.
            self.assertEqual(s.rcpt(self.tree.addr("bob"))[0], 250)
        finally:
            s.quit()

    def test_relay_to_other_domain_denied_554_5_7_1(self):
        s = self.tree.smtp()
        try:
            self.assertEqual(s.mail("sender@example.org")[0], 250)
            self.assertReply(s.rcpt("someone@elsewhere.example"), 554, "5.7.1")
        finally:
            s.quit()

    def test_ehlo_lists_pipelining_size_8bitmime_enhancedstatuscodes(self):
        s = self.tree.smtp()
        try:
            code, _ = s.ehlo("client.example")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes"):
                self.assertTrue(s.has_extn(ext), "EHLO lacks %s: %r" % (ext.upper(), s.esmtp_features))
            size = s.esmtp_features["size"].strip()
            self.assertRegex(size, r"^[1-9][0-9]*$", "SIZE announces the limit in octets")
            self.assertGreaterEqual(int(size), 2 * 1024 * 1024 + 100000, "SIZE limit below the 2 MB the issue requires")
        finally:
            s.quit()

    def test_pipelined_transaction_gets_all_replies_in_order(self):
        t = self.tree
        c = RawSMTP(t.port("smtp"))
        try:
            self.assertEqual(c.read_reply()[0], 220)
            c.send(b"EHLO client.example\r\n")
            code, lines = c.read_reply()
            self.assertEqual(code, 250)
            self.assertIn(b"PIPELINING", [l.upper() for l in lines])

            # RFC 2920: MAIL, RCPTs and DATA in one write.
            c.send(b"MAIL FROM:<pipe@example.org>\r\n"
                   b"RCPT TO:<" + t.addr("alice").encode() + b">\r\n"
                   b"RCPT TO:<nobody@example.test>\r\n"
                   b"RCPT TO:<" + t.addr("bob").encode() + b">\r\n"
                   b"DATA\r\n")
            codes = [c.read_reply()[0] for _ in range(5)]
            self.assertEqual(codes, [250, 250, 550, 250, 354])

            # The content, the end of data and a second transaction, one write.
            msg = make_message("pipe-1", "pipe@example.org", t.addr("alice"), b"pipelined\r\n.dot\r\n")
            c.send(msg.replace(b"\r\n.", b"\r\n..") + b".\r\n"
                   b"MAIL FROM:<pipe@example.org>\r\n"
                   b"RCPT TO:<" + t.addr("bob").encode() + b">\r\n"
                   b"RSET\r\n"
                   b"NOOP\r\n"
                   b"QUIT\r\n")
            replies = [c.read_reply() for _ in range(6)]
            self.assertEqual([r[0] for r in replies], [250, 250, 250, 250, 250, 221], replies)
        finally:
            c.close()
        for user in ("alice", "bob"):
            ids = t.wait_ids(user, {"pipe-1"}, seconds=30)
            self.assertEqual(ids, {"pipe-1": 1}, "%s's Maildir" % user)

    def test_bad_sequence_gets_503(self):
        c = RawSMTP(self.tree.port("smtp"))
        try:
            self.assertEqual(c.read_reply()[0], 220)
            c.send(b"RCPT TO:<bob@example.test>\r\n")       # before HELO and MAIL
            code, text = c.read_reply()
            self.assertEqual(code, 503, text)
            c.send(b"EHLO client.example\r\n")
            self.assertEqual(c.read_reply()[0], 250)
            c.send(b"DATA\r\n")                              # before MAIL
            code, text = c.read_reply()
            self.assertEqual(code, 503, text)
            self.assertRegex(text[-1], rb"^5\.5\.\d{1,3} ", "503 carries an enhanced status 5.5.x")
            c.send(b"RCPT TO:<bob@example.test>\r\n")       # before MAIL
            self.assertEqual(c.read_reply()[0], 503)
            c.send(b"MAIL FROM:<a@example.org>\r\n")
            self.assertEqual(c.read_reply()[0], 250)
            c.send(b"MAIL FROM:<a@example.org>\r\n")         # nested MAIL
            self.assertEqual(c.read_reply()[0], 503)
            c.send(b"DATA\r\n")                              # no valid recipient yet
            self.assertIn(c.read_reply()[0], (503, 554))
            c.send(b"QUIT\r\n")
            self.assertEqual(c.read_reply()[0], 221)
        finally:
            c.close()

    def test_swaks_message_arrives(self):
        swaks = shutil.which("swaks")
        if not swaks:
            self.skipTest("swaks not installed (Debian package swaks; `make deps` installs it)")
        t = self.tree
        p = subprocess.run([swaks, "--server", HOST, "--port", str(t.port("smtp")),
                            "--helo", "client.example", "--from", "swaks@example.org",
                            "--to", t.addr("alice"), "--header", "X-Test-Id: swaks-1",
                            "--body", "hello from swaks", "--timeout", "30"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60 * SCALE)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "swaks failed:\n" + out)
        self.assertRegex(out, r"(?m)^ *-> \.\r?\n<-+ +250 ", "swaks transcript lacks a 250 after the data")
        ids = t.wait_ids("alice", {"swaks-1"}, seconds=30)
        self.assertEqual(ids.get("swaks-1"), 1, "swaks message in alice's Maildir")


if __name__ == "__main__":
    unittest.main()
