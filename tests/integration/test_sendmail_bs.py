"""sendmail -bs: an SMTP dialogue on stdin/stdout for the invoking user.

A Python subprocess speaks SMTP to `sendmail -bs` (POSTERN_DIR set); each
message goes through pickup like the other modes and lands in the Maildir.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, SCALE, PosternTestCase, daemon_env  # noqa: E402


class BsClient:
    def __init__(self, tree):
        env = daemon_env()
        env["POSTERN_DIR"] = tree.dir
        self.p = subprocess.Popen([os.path.join(BIN, "sendmail"), "-bs"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env)

    def reply(self):
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise EOFError("sendmail -bs closed its output")
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.p.stdin.write(text + b"\r\n")
        self.p.stdin.flush()
        return self.reply()

    def close(self):
        self.p.stdin.close()
        return self.p.wait(timeout=30 * SCALE)


class TestSendmailBs(PosternTestCase):

    def test_two_messages_in_one_session_are_delivered(self):
        t = self.start_tree()
        c = BsClient(t)
        code, lines = c.reply()
        self.assertEqual(code, 220)
        self.assertIn(b"sendmail -bs", lines[0])
        code, lines = c.cmd(b"EHLO localhost")
        self.assertEqual(code, 250)
        self.assertIn(b"250-PIPELINING\r\n", lines)
        self.assertEqual(c.cmd(b"MAIL FROM:<bob@example.test>")[0], 250)
        self.assertEqual(c.cmd(b"RCPT TO:<alice@example.test>")[0], 250)
        self.assertEqual(c.cmd(b"DATA")[0], 354)
        c.p.stdin.write(b"X-Test-Id: bs-1\r\nSubject: one\r\n\r\n..leading dot\r\nplain\r\n.\r\n")
        c.p.stdin.flush()
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        # The queue ID, as smtpd gives it, is the one pickup logged.
        m = re.fullmatch(rb"250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)\r\n", lines[0])
        self.assertIsNotNone(m, lines)
        t.wait_log(r"pickup\[\d+\]: %s: uid=\d+ " % m.group(1).decode())
        # A second transaction in the same session, LF line ends this time.
        self.assertEqual(c.cmd(b"MAIL FROM:<>")[0], 250)
        self.assertEqual(c.cmd(b"RCPT TO:<bob@example.test>")[0], 250)
        self.assertEqual(c.cmd(b"DATA")[0], 354)
        c.p.stdin.write(b"X-Test-Id: bs-2\nSubject: two\n\nsecond\n.\n")
        c.p.stdin.flush()
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(c.cmd(b"QUIT")[0], 221)
        self.assertEqual(c.close(), 0)
        t.wait_ids("alice", {"bs-1"})
        t.wait_ids("bob", {"bs-2"})
        msg = open(t.message_paths("alice")[0], "rb").read()
        self.assertIn(b"\n.leading dot\nplain\n", msg)
        self.assertIn(b"Return-Path: <bob@example.test>", msg)

    def test_sequence_and_syntax_errors_get_smtp_replies(self):
        t = self.start_tree()
        c = BsClient(t)
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd(b"HELO localhost")[0], 250)
        self.assertEqual(c.cmd(b"RCPT TO:<alice@example.test>")[0], 503)
        self.assertEqual(c.cmd(b"DATA")[0], 503)
        self.assertEqual(c.cmd(b"MAIL FROM:<not an address>")[0], 501)
        self.assertEqual(c.cmd(b"MAIL FROM:<bob@example.test>")[0], 250)
        self.assertEqual(c.cmd(b"MAIL FROM:<bob@example.test>")[0], 503)
        self.assertEqual(c.cmd(b"RCPT TO:<>")[0], 501)
        self.assertEqual(c.cmd(b"RSET")[0], 250)
        self.assertEqual(c.cmd(b"RCPT TO:<alice@example.test>")[0], 503)
        self.assertEqual(c.cmd(b"XYZZY")[0], 502)
        self.assertEqual(c.cmd(b"QUIT")[0], 221)
        self.assertEqual(c.close(), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
