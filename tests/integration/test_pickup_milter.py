"""pickup as a milter client (issue 13, non_smtpd_milters): mail sent
with sendmail(1) goes through the scripted milter (milter_peer.py) as
from localhost [127.0.0.1] with no HELO; each verdict and modification
reaches what sendmail answers and what is queued; milter_default_action
when the milter is down; OpenDKIM as a non_smtpd milter signing
sendmail mail, verified by python3-dkim."""

import os
import subprocess

import milter_peer as mp
from postern_harness import BIN, HOST, SCALE, PosternTestCase, daemon_env, free_port, make_message
from test_smtpd_milter_peers import SmtpdMilterPeers

SENDER = "sender@example.org"


def sendmail(t, test_id, rcpt, body=b"hello\n", sender=SENDER):
    env = daemon_env()
    env["POSTERN_DIR"] = t.dir
    msg = make_message(test_id, sender, rcpt, body).replace(b"\r\n", b"\n")
    return subprocess.run([os.path.join(BIN, "sendmail"), "-f", sender, rcpt], input=msg, env=env,
                          timeout=60 * SCALE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class PickupMilter(mp.MilterTestMixin, PosternTestCase):

    def test_accept_sees_local_client_and_pickup_headers(self):
        m = self.milter(answers={"E": [mp.add_header("X-Milter", "checked") + mp.ACCEPT]})
        t = self.start_tree_with(non_smtpd_milters=m.spec())
        bob = t.addr("bob")
        p = sendmail(t, "pm-1", bob, b"line one\n.dot\n")
        self.assertEqual(p.returncode, 0, p.stdout)
        got = self.delivered(t, "bob", "pm-1")
        self.assertIn(b"\nX-Milter: checked\n", got)
        self.assertTrue(got.endswith(b"\n\nline one\n.dot\n"), got)
        conv = m.last()
        codes = conv.codes()
        self.assertNotIn("H", codes)   # no HELO for non-SMTP mail
        for c in "CMRTLNBE":
            self.assertIn(c, codes)
        connect = conv.first("C")
        self.assertEqual(connect[0], b"localhost\x004\x00\x00127.0.0.1\x00")
        self.assertEqual(conv.first("M")[0], b"<" + SENDER.encode() + b">\x00")
        self.assertEqual(conv.first("R")[0], b"<" + bob.encode() + b">\x00")
        self.assertEqual(conv.macros.get("{client_addr}"), "127.0.0.1")
        self.assertEqual(conv.macros.get("{daemon_name}"), "pickup")
        names = [h[0] for h in conv.headers()]
        self.assertEqual(names[0], "Received")   # pickup's own header comes first
        self.assertIn("Message-ID", names)
        self.assertEqual(conv.body(), b"line one\r\n.dot\r\n")

    def test_reject_and_tempfail_reach_sendmail(self):
        m = self.milter(answers={"E": [mp.replycode("550 5.7.1 no thanks"), mp.TEMPFAIL],
                                 "R": [mp.CONTINUE, mp.CONTINUE, mp.REJECT]})
        t = self.start_tree_with(non_smtpd_milters=m.spec())
        bob = t.addr("bob")
        p = sendmail(t, "pm-rej", bob)
        self.assertEqual(p.returncode, 69, p.stdout)   # EX_UNAVAILABLE
        self.assertIn(b"refused: 550 5.7.1 no thanks", p.stdout)
        p = sendmail(t, "pm-tmp", bob)
        self.assertEqual(p.returncode, 75, p.stdout)   # EX_TEMPFAIL
        self.assertIn(b"temporary failure: 451 4.7.1", p.stdout)
        p = sendmail(t, "pm-rrej", bob)
        self.assertEqual(p.returncode, 69, p.stdout)
        self.assertIn(b"refused: 550 5.7.1 Command rejected", p.stdout)
        self.assertEqual(t.queue_json(), [])
        self.assertEqual(t.message_paths("bob"), [])

    def test_discard_accepts_and_drops(self):
        m = self.milter(answers={"E": [mp.DISCARD]})
        t = self.start_tree_with(non_smtpd_milters=m.spec())
        p = sendmail(t, "pm-disc", t.addr("bob"))
        self.assertEqual(p.returncode, 0, p.stdout)
        t.wait_log(r"discarded submission uid=\d+ user=\S+ from=<%s> nrcpt=1 \(milter discard\)" % SENDER)
        self.assertEqual(t.message_paths("bob"), [])

    def test_quarantine_puts_the_message_on_hold(self):
        m = self.milter(answers={"E": [mp.quarantine("suspicious") + mp.CONTINUE]})
        t = self.start_tree_with(non_smtpd_milters=m.spec())
        p = sendmail(t, "pm-hold", t.addr("bob"))
        self.assertEqual(p.returncode, 0, p.stdout)
        q = t.wait_queue(lambda q: len(q) == 1 and q[0]["state"] == "hold", 30, "one held message")
        t.wait_log(r"quarantine \(into hold/\) the message from localhost\[127\.0\.0\.1\] \(pickup\): suspicious")
        t.run("queue", "-d", t.dir, "release", q[0]["id"])
        self.delivered(t, "bob", "pm-hold")

    def test_recipient_sender_and_body_changes(self):
        m = self.milter()
        t = self.start_tree_with(non_smtpd_milters=m.spec())
        bob, alice = t.addr("bob"), t.addr("alice")
        m.answers["E"] = [mp.del_rcpt("<%s>" % bob) + mp.add_rcpt("<%s>" % alice)
                          + mp.change_from("<changed@example.org>")
                          + mp.replace_body(b"new body\r\nline two\r\n") + mp.CONTINUE]
        p = sendmail(t, "pm-env", bob)
        self.assertEqual(p.returncode, 0, p.stdout)
        got = self.delivered(t, "alice", "pm-env")
        self.assertTrue(got.endswith(b"\n\nnew body\nline two\n"), got)
        self.assertTrue(got.startswith(b"Return-Path: <changed@example.org>\n"), got[:200])
        self.assertEqual(t.message_paths("bob"), [])


    def test_silent_milter_times_out_into_the_default_action(self):
        m = self.milter(answers={"E": ["silence"]})
        t = self.start_tree_with(non_smtpd_milters=m.spec(), milter_content_timeout="2s",
                                 milter_default_action="reject")
        p = sendmail(t, "pm-slow", t.addr("bob"))
        self.assertEqual(p.returncode, 69, p.stdout)
        self.assertIn(b"refused: 550 5.7.1 Command rejected", p.stdout)
        t.wait_log(r"milter inet:.*: no answer within the timeout \(client localhost\[127\.0\.0\.1\] \(pickup\)\)")
        self.assertEqual(t.queue_json(), [])


class PickupMilterDown(PosternTestCase):
    """milter_default_action for sendmail mail with no milter listening."""

    def attempt(self, action):
        t = self.start_tree(start=False)
        t.set_conf(non_smtpd_milters="inet:%s:%d" % (HOST, free_port()), milter_default_action=action,
                   milter_connect_timeout="5s")
        t.start()
        return t, sendmail(t, "pm-down-" + action, t.addr("bob"))

    def test_tempfail(self):
        t, p = self.attempt("tempfail")
        self.assertEqual(p.returncode, 75, p.stdout)
        self.assertIn(b"temporary failure: 451 4.7.1 Service unavailable - try again later", p.stdout)
        t.wait_log(r"milter inet:.*: cannot connect")

    def test_reject(self):
        t, p = self.attempt("reject")
        self.assertEqual(p.returncode, 69, p.stdout)
        self.assertIn(b"refused: 550 5.7.1 Command rejected", p.stdout)

    def test_accept(self):
        t, p = self.attempt("accept")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(t.wait_ids("bob", {"pm-down-accept"}), {"pm-down-accept": 1})

    def test_unix_socket_inside_the_queue_root(self):
        t = self.start_tree(start=False)
        d = os.path.join(t.dir, "queue", "milter")
        os.makedirs(d)
        os.chmod(d, 0o755)
        m = mp.FakeMilter(answers={"M": [mp.replycode("550 5.7.1 from the queue root")]},
                          unix_path=os.path.join(d, "fake"))
        self.addCleanup(m.stop)
        os.chmod(os.path.join(d, "fake"), 0o666)
        # DIR/queue is pickup's root (chrooted as root, its directory otherwise).
        t.set_conf(non_smtpd_milters="unix:milter/fake")
        t.start()
        p = sendmail(t, "pm-unix", t.addr("bob"))
        self.assertEqual(p.returncode, 69, p.stdout)
        self.assertIn(b"refused: 550 5.7.1 from the queue root", p.stdout)


class PickupMilterOpenDKIM(PosternTestCase):
    """OpenDKIM as a non_smtpd milter signs mail sent with sendmail(1)."""

    user = SmtpdMilterPeers.user
    start_opendkim = SmtpdMilterPeers.start_opendkim
    assert_opendkim_signed = SmtpdMilterPeers.assert_opendkim_signed

    def test_opendkim_signs_sendmail_mail(self):
        t = self.start_tree(start=False)
        spec, d = self.start_opendkim(t)
        t.set_conf(non_smtpd_milters=spec)
        t.start()
        alice, bob = t.addr("alice"), t.addr("bob")
        r = sendmail(t, "pdkim-1", bob, b"Signed by OpenDKIM, I hope.\n", sender=alice)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(t.wait_ids("bob", {"pdkim-1"}), {"pdkim-1": 1})
        with open(t.message_paths("bob")[0], "rb") as f:
            got = f.read()
        self.assert_opendkim_signed(t, d, got)


class PickupMilterCheck(PosternTestCase):

    def test_postern_check_refuses_a_bad_non_smtpd_milters(self):
        t = self.start_tree(start=False)
        t.set_conf(non_smtpd_milters="tcp:127.0.0.1:1")
        p = t.run("check", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("non_smtpd_milters: bad service (expected inet:HOST:PORT or unix:PATH)", out)
