"""smtpd as a milter client (issue 13, "Milter client"): the Sendmail
milter protocol 6 at every stage, with a scripted test milter
(milter_peer.py) for every reply and modification, milter_default_action
when the milter is down, and the real peers rspamd (proxy worker in
milter mode) and OpenDKIM (test_smtpd_milter_peers.py)."""

import os
import smtplib
import struct

import milter_peer as mp
from postern_harness import HOST, PosternTestCase, RawSMTP, free_port, make_message, wait_for

SENDER = "sender@example.org"


class SmtpdMilter(mp.MilterTestMixin, PosternTestCase):

    def test_stages_macros_and_header_changes(self):
        m = self.milter(answers={"E": [mp.add_header("X-Milter", "checked")
                                       + mp.insert_header(0, "X-Top", "first")
                                       + mp.change_header(1, "Subject", "changed by milter")
                                       + mp.change_header(1, "X-Remove", "")
                                       + mp.add_header("X-Folded", "one\r\n\ttwo")
                                       + mp.CONTINUE]})
        t = self.start_tree_with(smtpd_milters=m.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        msg = make_message("mil-1", SENDER, bob, b"line one\r\n.dot\r\nlast\r\n",
                           extra_headers=[b"X-Remove: me"])
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        self.assertIn(b"queued as", text)
        got = self.delivered(t, "bob", "mil-1")
        head, body = got.split(b"\n\n", 1)
        self.assertEqual(body, b"line one\n.dot\nlast\n")
        lines = head.split(b"\n")
        # Local delivery puts Return-Path and Delivered-To on top; then
        # the milter's inserted field comes before our Received.
        top = [l for l in lines if not l.startswith((b"Return-Path:", b"Delivered-To:"))]
        self.assertEqual(top[0], b"X-Top: first")
        self.assertTrue(top[1].startswith(b"Received: from "), top[:3])
        self.assertIn(b"Subject: changed by milter", lines)
        self.assertNotIn(b"X-Remove: me", lines)
        self.assertEqual(lines[-3:], [b"X-Milter: checked", b"X-Folded: one", b"\ttwo"])

        s.quit()
        conv = m.last()
        wait_for(lambda: conv.codes().endswith("Q"), 30, "QUIT to the milter", detail=conv.codes)
        # Negotiation, connect, HELO, MAIL, RCPT, DATA, headers, EOH, body, EOM, quit.
        codes = conv.codes()
        self.assertTrue(codes.startswith("OCHMRTL"), codes)
        self.assertTrue(codes.endswith("NBEQ"), codes)
        version, actions, steps = struct.unpack(">III", conv.first("O")[0])
        self.assertEqual(version, 6)
        self.assertEqual(actions, 0x1FF)
        data, macros = conv.first("C")
        host, rest = data.split(b"\0", 1)
        self.assertEqual(host, b"unknown")
        self.assertEqual(rest[0:1], b"4")
        self.assertEqual(rest[3:], HOST.encode() + b"\0")
        self.assertTrue(macros["j"])
        self.assertEqual(macros["{daemon_name}"], "smtp")
        self.assertEqual(macros["_"], "unknown [%s]" % HOST)
        self.assertEqual(macros["{client_addr}"], HOST)
        self.assertEqual(macros["{if_addr}"], HOST)
        self.assertEqual(conv.first("H")[0], b"client.example\0")
        data, macros = conv.first("M")
        self.assertEqual(data, b"<" + SENDER.encode() + b">\0")
        self.assertEqual(macros["{mail_addr}"], SENDER)
        data, macros = conv.first("R")
        self.assertEqual(data, b"<" + bob.encode() + b">\0")
        self.assertEqual(macros["{rcpt_addr}"], bob)
        self.assertEqual(macros["{rcpt_host}"], t.domain)
        names = [n for n, _ in conv.headers()]
        self.assertEqual(names[0], "Received")
        self.assertIn(("Subject", "test mil-1"), conv.headers())
        self.assertEqual(conv.body(), b"line one\r\n.dot\r\nlast\r\n")
        t.wait_log(r"disconnect from unknown\[")

    def test_envelope_and_body_changes(self):
        alice_body = b"a new body\r\nwith two lines\r\n"
        m = self.milter()
        t = self.start_tree_with(smtpd_milters=m.spec())
        alice, bob = t.addr("alice"), t.addr("bob")
        m.answers["E"] = [mp.change_from("<changed@example.org>") + mp.add_rcpt("<%s>" % alice)
                          + mp.del_rcpt("<%s>" % bob) + mp.replace_body(alice_body[:13])
                          + mp.replace_body(alice_body[13:]) + mp.CONTINUE]
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        code, text = s.data(make_message("mil-env", SENDER, bob, b"original body\r\n"))
        self.assertEqual(code, 250, text)
        got = self.delivered(t, "alice", "mil-env")
        head, body = got.split(b"\n\n", 1)
        self.assertEqual(body, b"a new body\nwith two lines\n")
        self.assertIn(b"Return-Path: <changed@example.org>", head)
        self.assertEqual(t.test_ids("bob"), {}, "bob was removed")
        t.wait_log(r"sender <%s> changed to <changed@example\.org>" % SENDER.replace(".", r"\."))

    def test_quarantine_puts_the_message_on_hold(self):
        m = self.milter(answers={"E": [mp.quarantine("suspicious") + mp.CONTINUE]})
        t = self.start_tree_with(smtpd_milters=m.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.data(make_message("mil-q", SENDER, bob, b"hi\r\n"))[0], 250)
        q = t.wait_queue(lambda q: len(q) == 1 and q[0]["state"] == "hold", 30, "one held message")
        t.wait_log(r"quarantine \(into hold/\) the message from unknown\[.*\]: suspicious")
        self.assertEqual(t.test_ids("bob"), {})
        t.run("queue", "-d", t.dir, "release", q[0]["id"])
        self.assertEqual(t.wait_ids("bob", {"mil-q"}), {"mil-q": 1})

    def test_rejects_reply_codes_and_discard(self):
        m = self.milter(answers={
            "M": [mp.TEMPFAIL, mp.CONTINUE, mp.CONTINUE, mp.CONTINUE],
            "R": [mp.replycode("550 5.7.1 Not this one %% sorry"), mp.REJECT, mp.CONTINUE,
                  mp.CONTINUE, mp.CONTINUE],
            "E": [mp.replycode("554-5.7.1 first line\r\n554 5.7.1 second line"), mp.DISCARD],
        })
        t = self.start_tree_with(smtpd_milters=m.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER), (451, b"4.7.1 Service unavailable - try again later"))
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob), (550, b"5.7.1 Not this one % sorry"))
        self.assertEqual(s.rcpt(bob), (550, b"5.7.1 Command rejected"))
        self.assertEqual(s.rcpt(bob)[0], 250)
        code, text = s.data(make_message("mil-r1", SENDER, bob, b"hi\r\n"))
        self.assertEqual((code, text), (554, b"5.7.1 first line\n5.7.1 second line"))
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        code, text = s.data(make_message("mil-r2", SENDER, bob, b"hi\r\n"))
        self.assertEqual((code, text), (250, b"2.0.0 Ok: discarded"))
        # A message after them all goes through.
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.data(make_message("mil-r3", SENDER, bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"mil-r3"}), {"mil-r3": 1})
        s.quit()
        codes = m.last().codes()
        self.assertIn("A", codes, "the refused transactions were aborted")
        t.wait_log(r"NOQUEUE: reject: RCPT from unknown\[.*\]: 550 5\.7\.1 Not this one")

    def test_accept_skips_the_milter_and_no_reply_steps(self):
        # A milter that wants no reply to headers and body, and skips EOH.
        m = self.milter(steps=0x80 | 0x80000 | 0x40, answers={"R": [mp.ACCEPT]})
        t = self.start_tree_with(smtpd_milters=m.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        for n in (1, 2):
            self.assertEqual(s.mail(SENDER)[0], 250)
            self.assertEqual(s.rcpt(bob)[0], 250)
            self.assertEqual(s.data(make_message("mil-a%d" % n, SENDER, bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"mil-a1", "mil-a2"}), {"mil-a1": 1, "mil-a2": 1})
        s.quit()
        wait_for(lambda: m.last().codes().endswith("Q"), 30, "QUIT to the milter", detail=m.last().codes)
        codes = m.last().codes()
        # The first message: accepted at RCPT, so no content (an abort
        # ends it for the filter); the second in full, without EOH.
        self.assertTrue(codes.startswith("OCHMRAMRTL"), codes)
        self.assertNotIn("N", codes)
        self.assertTrue(codes.endswith("BEQ"), codes)

    def test_bdat_goes_through_the_milter(self):
        m = self.milter(answers={"E": [mp.add_header("X-Bdat", "seen") + mp.CONTINUE]})
        t = self.start_tree_with(smtpd_milters=m.spec())
        bob = t.addr("bob")
        raw = RawSMTP(t.port("smtp"))
        self.addCleanup(raw.close)
        self.assertEqual(raw.read_reply()[0], 220)
        raw.send(b"EHLO client.example\r\n")
        self.assertEqual(raw.read_reply()[0], 250)
        raw.send(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (SENDER.encode(), bob.encode()))
        self.assertEqual(raw.read_reply()[0], 250)
        self.assertEqual(raw.read_reply()[0], 250)
        msg = make_message("mil-bdat", SENDER, bob, b"chunked\r\n")
        raw.send(b"BDAT %d\r\n" % 20 + msg[:20])
        self.assertEqual(raw.read_reply()[0], 250)
        raw.send(b"BDAT %d LAST\r\n" % (len(msg) - 20) + msg[20:])
        self.assertEqual(raw.read_reply()[0], 250)
        got = self.delivered(t, "bob", "mil-bdat")
        self.assertIn(b"\nX-Bdat: seen\n", got)

    def test_protocol_error_takes_the_default_action(self):
        m = self.milter(answers={"R": [mp.packet("Z")]})
        t = self.start_tree_with(smtpd_milters=m.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob), (451, b"4.7.1 Service unavailable - try again later"))
        # The rest of the session gets the same answer.
        self.assertEqual(s.rcpt(bob)[0], 451)
        s.rset()
        self.assertEqual(s.mail(SENDER)[0], 451)
        t.wait_log(r"milter inet:.*: unknown reply code")


    def test_silent_milter_times_out(self):
        m = self.milter(answers={"R": ["silence"]})
        t = self.start_tree_with(smtpd_milters=m.spec(), milter_command_timeout="2s", milter_default_action="reject")
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob), (550, b"5.7.1 Command rejected"))
        t.wait_log(r"milter inet:.*: no answer within the timeout")

    def test_two_milters_in_turn(self):
        first = self.milter(answers={"E": [mp.add_header("X-First", "1") + mp.CONTINUE],
                                     "R": [mp.CONTINUE, mp.REJECT]})
        second = self.milter(answers={"E": [mp.add_header("X-Second", "2") + mp.CONTINUE]})
        t = self.start_tree_with(smtpd_milters="%s, %s" % (first.spec(), second.spec()))
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.rcpt(t.addr("alice"))[0], 550)   # the first refuses: the second is not asked
        self.assertEqual(s.data(make_message("mil-two", SENDER, bob, b"hi\r\n"))[0], 250)
        got = self.delivered(t, "bob", "mil-two")
        self.assertIn(b"\nX-First: 1\nX-Second: 2\n", got)
        # The second filter saw the message as the first left it.
        self.assertIn(("X-First", "1"), second.last().headers())
        self.assertEqual(len(second.last().all("R")), 1)

class SmtpdMilterDown(PosternTestCase):
    """milter_default_action with no milter listening."""

    def attempt(self, action):
        t = self.start_tree(start=False)
        t.set_conf(smtpd_milters="inet:%s:%d" % (HOST, free_port()), milter_default_action=action,
                   milter_connect_timeout="5s")
        t.start()
        s = t.smtp(timeout=60)
        self.addCleanup(s.close)
        bob = t.addr("bob")
        t.wait_log(r"milter inet:.*: cannot connect")
        return t, s, bob

    def test_tempfail(self):
        t, s, bob = self.attempt("tempfail")
        self.assertEqual(s.mail(SENDER), (451, b"4.7.1 Service unavailable - try again later"))

    def test_reject(self):
        t, s, bob = self.attempt("reject")
        self.assertEqual(s.mail(SENDER), (550, b"5.7.1 Command rejected"))

    def test_accept(self):
        t, s, bob = self.attempt("accept")
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.data(make_message("mil-down", SENDER, bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"mil-down"}), {"mil-down": 1})

    def test_unix_socket_inside_the_jail(self):
        t = self.start_tree(start=False)
        d = os.path.join(t.dir, "run", "jail", "milter")
        os.makedirs(d)
        os.chmod(d, 0o755)
        m = mp.FakeMilter(answers={"M": [mp.replycode("550 5.7.1 from the jail")]},
                          unix_path=os.path.join(d, "fake"))
        self.addCleanup(m.stop)
        t.set_conf(smtpd_milters="unix:milter/fake")
        t.start()
        s = t.smtp(timeout=60)
        self.addCleanup(s.close)
        self.assertEqual(s.mail(SENDER), (550, b"5.7.1 from the jail"))
        try:
            s.quit()
        except smtplib.SMTPException:
            pass

    def test_postern_check_refuses_bad_settings(self):
        t = self.start_tree(start=False)
        t.set_conf(smtpd_milters="tcp:127.0.0.1:1", milter_default_action="maybe", milter_protocol="7")
        p = t.run("check", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("smtpd_milters: bad service (expected inet:HOST:PORT or unix:PATH)", out)
        self.assertIn("milter_default_action: must be tempfail, reject or accept", out)
        self.assertIn("milter_protocol: must be between 2 and 6", out)
