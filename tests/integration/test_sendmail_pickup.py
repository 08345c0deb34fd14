"""Local submission: the sendmail front-end and the pickup service.

A real mail program (mutt) sends through BIN/sendmail; plain `sendmail -t`
with Bcc; an ordinary user (nobody) submits without any privilege and
pickup names it as the sender from SO_PEERCRED.
"""

import os
import pwd
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, PosternTestCase, as_user, daemon_env, header_value, is_root  # noqa: E402

SENDMAIL = os.path.join(BIN, "sendmail")


class TestSendmail(PosternTestCase):

    def env(self, t):
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir
        return env

    def only_message(self, t, user, test_id):
        t.wait_ids(user, {test_id})
        for p in t.message_paths(user):
            data = open(p, "rb").read()
            if test_id.encode() in data:
                return data
        self.fail("message %s not found" % test_id)

    @unittest.skipUnless(shutil.which("mutt"), "mutt is not installed (apt-get install mutt)")
    def test_mutt_sends_through_sendmail(self):
        t = self.start_tree()
        p = subprocess.run(["mutt", "-n", "-F", "/dev/null", "-e", "set sendmail=\"%s -oi\"" % SENDMAIL,
                            "-e", "set from=carol@example.org", "-e", "set use_from=yes",
                            "-s", "mutt-1 hello", "alice@example.test"],
                           input=b"body from mutt\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env(t), timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        t.wait_count("alice", 1)
        data = open(t.message_paths("alice")[0], "rb").read()
        self.assertEqual(header_value(data, "Subject"), "mutt-1 hello")
        self.assertIn(b"body from mutt", data)
        self.assertIsNotNone(header_value(data, "Message-ID"))
        self.assertIn(b"(Postern pickup, from userid %d)" % os.getuid(), data)

    def test_dash_t_takes_to_cc_bcc_and_removes_bcc(self):
        t = self.start_tree()
        msg = (b"To: Alice <alice@example.test>\nBcc: bob@example.test\nSubject: t-1\n"
               b"X-Test-Id: t-1\n\nhello\n.\nnot the end\n")
        p = subprocess.run([SENDMAIL, "-t", "-i"], input=msg, env=self.env(t), timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        a = self.only_message(t, "alice", "t-1")
        b = self.only_message(t, "bob", "t-1")
        for data in (a, b):
            self.assertNotIn(b"Bcc:", data)
            self.assertIn(b"\nnot the end\n", data)     # -i: a lone dot does not end it
            self.assertIsNotNone(header_value(data, "Date"))
            self.assertIsNotNone(header_value(data, "From"))

    def test_lone_dot_ends_input_without_i(self):
        t = self.start_tree()
        p = subprocess.run([SENDMAIL, "-f", "me@example.org", "bob@example.test"],
                           input=b"X-Test-Id: dot-1\nSubject: d\n\nkept\n.\ndropped\n", env=self.env(t),
                           timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        data = self.only_message(t, "bob", "dot-1")
        self.assertIn(b"Return-Path: <me@example.org>", data)
        self.assertIn(b"kept\n", data)
        self.assertNotIn(b"dropped", data)

    @unittest.skipUnless(is_root(), "needs root to submit as another user")
    def test_ordinary_user_is_the_default_sender(self):
        t = self.start_tree()
        nobody = pwd.getpwnam("nobody")
        # The copy in the tree: nobody may not reach the build directory.
        p = subprocess.run([os.path.join(t.bin_for_others(), "sendmail"), "-F", "No Body", "alice@example.test"],
                           input=b"X-Test-Id: nb-1\nSubject: from nobody\n\nhi\n", env=self.env(t),
                           timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           **as_user("nobody"))
        self.assertEqual(p.returncode, 0, p.stdout)
        data = self.only_message(t, "alice", "nb-1")
        host = header_value(data, "Return-Path")
        self.assertRegex(host, r"^<nobody@[^>]+>$")
        self.assertRegex(header_value(data, "From"), r'^"No Body" <nobody@')
        self.assertIn(b"from userid %d" % nobody.pw_uid, data)

    def test_unreachable_pickup_is_a_temporary_failure(self):
        t = self.start_tree(start=False)
        p = subprocess.run([SENDMAIL, "alice@example.test"], input=b"Subject: x\n\nx\n",
                           env=self.env(t), timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 75, p.stdout)

    def test_bounce_to_a_local_sender_stays_on_this_host(self):
        # pickup's default sender is LOGIN@myhostname: myhostname is a
        # local domain, so that sender's bounce is delivered here (through
        # a bare-local-part alias), not sent to whatever the DNS says about
        # this host's name.
        t = self.start_tree(start=False)
        t.run("conf", "-d", t.dir, "myhostname=Box.Example.test")
        login = pwd.getpwuid(os.getuid()).pw_name
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write("%s: alice@%s\n" % (login, t.domain))
        t.run("map", "-d", t.dir, "aliases")
        t.start()
        p = subprocess.run([SENDMAIL, "nobody-here@example.test"], input=b"X-Test-Id: lb-1\nSubject: x\n\nx\n",
                           env=self.env(t), timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        t.wait_count("alice", 1)
        data = open(t.message_paths("alice")[0], "rb").read()
        self.assertEqual(header_value(data, "Return-Path"), "<>")
        self.assertIn(b"Final-Recipient: rfc822; nobody-here@example.test", data)
        self.assertIn(b"X-Test-Id: lb-1", data)
        self.assertEqual(header_value(data, "To"), "<%s@Box.Example.test>" % login)
        # smtpd answers for myhostname as for any local domain.
        s = t.smtp()
        self.addCleanup(s.close)
        s.mail("x@example.org")
        self.assertEqual(s.rcpt("%s@BOX.example.test" % login)[0], 250)
        self.assertEqual(s.rcpt("nobody-here@box.example.test")[0], 550)


if __name__ == "__main__":
    unittest.main()
