"""mailq / sendmail -bp / sendmail -q for ordinary users, through pickup.

The queue directories belong to the queue owner (0700), so an ordinary
user's mailq asks pickup (cmd=list), which answers with the envelope of
every queued message unless mailq_restrict = yes; flush (cmd=flush) is
for root and the queue owner only.
"""

import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, PosternTestCase, as_user, daemon_env, is_root, parse_record  # noqa: E402

SENDMAIL = os.path.join(BIN, "sendmail")
MAILQ = os.path.join(BIN, "mailq")
SENDER = "carol@example.org"


@unittest.skipUnless(is_root(), "needs root to run commands as nobody")
class TestMailq(PosternTestCase):

    def held_tree(self, **conf):
        """A running tree with one message on hold (local delivery is
        dropped, so it cannot leave first); returns (tree, queue id)."""
        t = self.start_tree(start=False)
        t.drop_service("local")
        t.set_conf(qmgr_local_retry_time="300s", minimal_backoff_time="300s",
                   maximal_backoff_time="300s", **conf)
        t.start()
        p = subprocess.run([SENDMAIL, "-f", SENDER, "alice@%s" % t.domain],
                           input=b"Subject: held\nX-Test-Id: mq-1\n\nhello\n", env=self.env(t),
                           timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        q = t.wait_queue(lambda q: q and q[0]["state"] in ("deferred", "hold"), 20,
                         "the message deferred (no local agent)")
        self.assertEqual(len(q), 1, q)
        qid = q[0]["id"]
        t.run("queue", "-d", t.dir, "hold", qid)
        self.assertEqual(t.queue_json()[0]["state"], "hold")
        return t, qid

    def env(self, t):
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir
        return env

    def as_nobody(self, t, argv):
        # The copy in the tree: nobody may not reach the build directory.
        argv = [os.path.join(t.bin_for_others(), os.path.basename(argv[0]))] + list(argv[1:])
        return subprocess.run(argv, env=self.env(t), timeout=60, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, **as_user("nobody"))

    def test_nobody_lists_the_queue_through_pickup(self):
        t, qid = self.held_tree()
        for argv in ([MAILQ], [SENDMAIL, "-bp"]):
            p = self.as_nobody(t, argv)
            out = p.stdout.decode()
            self.assertEqual(p.returncode, 0, p.stderr)
            # Postfix's format: "!" marks a held message
            self.assertRegex(out, r"^-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
                             r"%s! +\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  %s\n" % (qid, SENDER))
            self.assertIn("\n%s%s\n\n" % (" " * 41, "alice@%s" % t.domain), out)
            self.assertRegex(out, r"\n-- \d+ Kbytes in 1 Request\.\n$")
        # the same as the operator's own listing in that format (and as
        # root's mailq, which does not ask pickup)
        root = t.run("queue", "-d", t.dir, "list", "--mailq").stdout.decode()
        self.assertEqual(self.as_nobody(t, [MAILQ]).stdout.decode(), root)

    def test_mailq_restrict_refuses_nobody(self):
        t, qid = self.held_tree(mailq_restrict="yes")
        p = self.as_nobody(t, [MAILQ])
        self.assertEqual(p.returncode, 69, p.stdout)
        self.assertIn(b"restricted", p.stderr)
        self.assertNotIn(qid.encode(), p.stdout)
        # root still lists (by itself, without pickup)
        p = subprocess.run([MAILQ], env=self.env(t), timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(qid.encode(), p.stdout)

    def test_flush_is_refused_to_nobody_and_allowed_to_root(self):
        t, qid = self.held_tree()
        p = self.as_nobody(t, [SENDMAIL, "-q"])
        self.assertEqual(p.returncode, 69, p.stdout)
        self.assertIn(b"sendmail: refused: only root and the queue owner may flush the queue", p.stderr)
        p = subprocess.run([SENDMAIL, "-q"], env=self.env(t), timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"due now", p.stdout)
        # root through pickup itself (cmd=flush)
        self.assertEqual(self.pickup_raw(t, "flush")[-1], {"status": "ok", "count": "0"})

    def test_pickup_list_records(self):
        t, qid = self.held_tree()
        recs = self.pickup_raw(t, "list")
        self.assertEqual(recs[-1], {"status": "ok", "count": "1"})
        self.assertEqual(recs[0]["queue_id"], qid)
        self.assertEqual(recs[0]["state"], "hold")
        self.assertEqual(recs[0]["sender"], SENDER)
        self.assertEqual(recs[0]["kind"], "mail")
        self.assertEqual(recs[0]["rcpt"], "pending alice@%s" % t.domain)
        # why it waits (defer/ID): the local agent was dropped
        self.assertIn("reason", recs[0])
        self.assertEqual(self.pickup_raw(t, "bogus")[-1]["status"], "fail")

    def pickup_raw(self, t, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        buf = b""
        try:
            s.connect(os.path.join(t.dir, "public", "pickup"))
            s.sendall(b"cmd=%s\n\n" % cmd.encode())
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return [parse_record(block) for block in buf.decode().split("\n\n") if block]


if __name__ == "__main__":
    unittest.main()
