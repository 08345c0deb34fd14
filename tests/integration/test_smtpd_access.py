"""smtpd access control (issue 13, "Access control"): the access maps of
the client, the HELO name, the sender and the recipient, each action at
its stage (OK, DUNNO, REJECT, DEFER, HOLD into hold/ and out again with
`postern queue release`, DISCARD); the pregreet test; the per-client
rate limits of connections, messages and recipients, reached and
released when their window ends, with mynetworks exempt; DNS block and
allow lists with weights and answer filters, served by dnsmasq on
loopback."""

import os
import smtplib
import socket
import tempfile
import time
import unittest

from postern_harness import HOST, PosternTestCase, RawSMTP, make_message, wait_for
from test_remote_delivery import DNSMASQ, Dnsmasq, have

SENDER = "sender@example.org"


class Raw(RawSMTP):
    """The harness's raw client, from a chosen loopback address, with
    replies as (code, text lines joined by LF)."""

    def reply(self):
        code, texts = self.read_reply()
        return code, b"\n".join(texts)

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            self.read_line()
        except EOFError:
            return True
        return False


class SmtpdAccess(PosternTestCase):

    def tree(self, maps=None, **conf):
        t = self.start_tree(start=False)
        for name, lines in (maps or {}).items():
            with open(os.path.join(t.dir, "etc", name), "w") as f:
                f.write("".join(l.replace("{D}", t.domain) + "\n" for l in lines))
            t.run("map", "-d", t.dir, name)
            # the map's name (test_bad_value_in_map...: its .cdb, also taken)
            conf["smtpd_%s" % name] = name
        t.set_conf(**conf)
        t.start()
        return t

    def raw(self, t, source=HOST, service="smtp"):
        c = Raw(t.port(service), source=source)
        self.addCleanup(c.close)
        return c

    def smtp(self, t, source=HOST, helo="client.example"):
        s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname=helo, timeout=60,
                         source_address=(source, 0))
        self.addCleanup(s.close)
        self.assertEqual(s.ehlo()[0], 250)
        return s

    def send(self, s, test_id, rcpt, sender=SENDER):
        """One message on an open session: the DATA reply."""
        self.assertEqual(s.mail(sender)[0], 250)
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        return s.data(make_message(test_id, sender, rcpt, b"hi\r\n"))

    def release_held(self, t, n):
        """Wait for n messages in hold/, release them all."""
        q = t.wait_queue(lambda q: len(q) == n and all(m["state"] == "hold" for m in q), 30,
                         "%d held messages" % n)
        for m in q:
            t.run("queue", "-d", t.dir, "release", m["id"])

    def test_client_access_actions(self):
        t = self.tree({"client_access": [
            "127.0.0.2 REJECT no entry", "127.0.0.3 DEFER come back later",
            "127.0.0.4 HOLD", "127.0.0.5 DISCARD",
            "127.0.1 REJECT", "127.0.2.1 DUNNO", "127.0.2 521 5.7.2 network closed",
            "127.0.3.1 OK", "127.0.3 DEFER"]})
        bob = t.addr("bob")
        c = self.raw(t, "127.0.0.2")
        self.assertEqual(c.reply(), (554, b"5.7.1 <unknown[127.0.0.2]>: Client host rejected: no entry"))
        # RFC 5321 3.1: after a 554 greeting only QUIT is served.
        self.assertEqual(c.cmd(b"EHLO client.example")[0], 503)
        self.assertEqual(c.cmd(b"MAIL FROM:<a@example.org>")[0], 503)
        self.assertEqual(c.cmd(b"QUIT")[0], 221)
        c = self.raw(t, "127.0.0.3")
        self.assertEqual(c.reply(), (421, b"4.7.1 <unknown[127.0.0.3]>: Client host rejected: come back later"))
        self.assertTrue(c.closed())
        # Network prefixes; DUNNO stops the walk before the shorter key.
        self.assertEqual(self.raw(t, "127.0.1.9").reply(),
                         (554, b"5.7.1 <unknown[127.0.1.9]>: Client host rejected: Access denied"))
        self.assertEqual(self.raw(t, "127.0.2.2").reply(),
                         (521, b"5.7.2 <unknown[127.0.2.2]>: Client host rejected: network closed"))
        self.assertEqual(self.raw(t, "127.0.2.1").reply()[0], 220)
        self.assertEqual(self.raw(t, "127.0.3.1").reply()[0], 220)
        self.assertEqual(self.raw(t, HOST).reply()[0], 220)
        # HOLD: every message of the session goes to hold/.
        s = self.smtp(t, "127.0.0.4")
        for n in (1, 2):
            self.assertEqual(self.send(s, "acc-hold-%d" % n, bob)[0], 250)
        s.quit()
        s = self.smtp(t, "127.0.0.5")
        self.assertEqual(self.send(s, "acc-discard", bob), (250, b"2.0.0 Ok: discarded"))
        s.quit()
        t.wait_log(r"NOQUEUE: discard: CONNECT from unknown\[127\.0\.0\.5\]")
        self.release_held(t, 2)
        self.assertEqual(t.wait_ids("bob", {"acc-hold-1", "acc-hold-2"}),
                         {"acc-hold-1": 1, "acc-hold-2": 1})
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        self.assertNotIn("acc-discard", t.test_ids("bob"))
        t.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1")

    def test_helo_sender_recipient_access_actions(self):
        t = self.tree({
            "helo_access": ["bad.example REJECT go away", "slow.example DEFER", "held.example HOLD",
                            "drop.example DISCARD"],
            "sender_access": ["spammer@example.org REJECT", "example.com DEFER",
                              "ok@example.com OK", "hold@ HOLD", "<> DISCARD"],
            "recipient_access": ["alice@{D} REJECT mailbox closed", "relay.example DEFER",
                                 "bob+held@{D} HOLD", "bob+drop@{D} DISCARD"]})
        bob = t.addr("bob")
        # HELO: refused names are not taken (MAIL still wants a HELO).
        c = self.raw(t)
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd(b"EHLO bad.example"),
                         (554, b"5.7.1 <bad.example>: Helo command rejected: go away"))
        self.assertEqual(c.cmd(b"MAIL FROM:<a@example.org>")[0], 503)
        self.assertEqual(c.cmd(b"HELO mx.slow.example"),
                         (450, b"4.7.1 <mx.slow.example>: Helo command rejected: Access denied"))
        self.assertEqual(c.cmd(b"EHLO fine.example")[0], 250)
        # Sender: full address, parent domain, OK before the domain's DEFER.
        self.assertEqual(c.cmd(b"MAIL FROM:<spammer@example.org>"),
                         (554, b"5.7.1 <spammer@example.org>: Sender address rejected: Access denied"))
        self.assertEqual(c.cmd(b"MAIL FROM:<x@mail.example.com>"),
                         (450, b"4.7.1 <x@mail.example.com>: Sender address rejected: Access denied"))
        self.assertEqual(c.cmd(b"MAIL FROM:<ok@example.com>")[0], 250)
        # Recipient: REJECT, DEFER before the relay check.
        self.assertEqual(c.cmd(b"RCPT TO:<%s>" % t.addr("alice").encode()),
                         (554, b"5.7.1 <%s>: Recipient address rejected: mailbox closed"
                          % t.addr("alice").encode()))
        self.assertEqual(c.cmd(b"RCPT TO:<x@relay.example>"),
                         (450, b"4.7.1 <x@relay.example>: Recipient address rejected: Access denied"))
        self.assertEqual(c.cmd(b"QUIT")[0], 221)
        # HOLD and DISCARD of each stage.
        s = self.smtp(t, helo="mx.held.example")
        self.assertEqual(self.send(s, "acc-helo-hold", bob)[0], 250)
        s.quit()
        s = self.smtp(t, helo="drop.example")
        self.assertEqual(self.send(s, "acc-helo-drop", bob), (250, b"2.0.0 Ok: discarded"))
        s.quit()
        s = self.smtp(t)
        self.assertEqual(self.send(s, "acc-sender-hold", bob, sender="hold@example.net")[0], 250)
        self.assertEqual(self.send(s, "acc-sender-drop", bob, sender="<>"),
                         (250, b"2.0.0 Ok: discarded"))
        self.assertEqual(self.send(s, "acc-rcpt-hold", "bob+held@%s" % t.domain)[0], 250)
        self.assertEqual(self.send(s, "acc-rcpt-drop", "bob+drop@%s" % t.domain),
                         (250, b"2.0.0 Ok: discarded"))
        self.assertEqual(self.send(s, "acc-plain", bob)[0], 250)
        s.quit()
        self.assertEqual(t.wait_ids("bob", {"acc-plain"}), {"acc-plain": 1})
        self.release_held(t, 3)
        want = {"acc-plain", "acc-helo-hold", "acc-sender-hold", "acc-rcpt-hold"}
        self.assertEqual(t.wait_ids("bob", want), dict.fromkeys(want, 1))
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        self.assertEqual(set(t.test_ids("bob")), want, "DISCARD not delivered")

    def test_bad_value_in_map_is_a_temporary_error(self):
        t = self.start_tree(start=False)
        # Written as a cdb by hand-made text that `postern map` refuses:
        # the map compiler checks the values of *access maps.
        path = os.path.join(t.dir, "etc", "sender_access")
        with open(path, "w") as f:
            f.write("a@example.org REDIRECT b@example.org\n")
        p = t.run("map", "-d", t.dir, "sender_access", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"sender_access:1: not an access action", p.stdout)
        # Under another name it compiles; smtpd then answers 451.
        os.rename(path, os.path.join(t.dir, "etc", "senders"))
        t.run("map", "-d", t.dir, "senders")
        t.set_conf(smtpd_sender_access="senders.cdb")
        t.start()
        c = self.raw(t)
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd(b"EHLO client.example")[0], 250)
        self.assertEqual(c.cmd(b"MAIL FROM:<a@example.org>"), (451, b"4.3.5 Server configuration error"))
        self.assertEqual(c.cmd(b"MAIL FROM:<b@example.org>")[0], 250)
        t.wait_log(r"smtpd_sender_access: bad access action in map")

    def test_pregreeting_client_refused(self):
        t = self.tree(smtpd_pregreet_wait="2s", mynetworks="127.0.0.1/32")
        c = self.raw(t, "127.0.0.2")
        c.sock.sendall(b"EHLO early.example\r\n")
        self.assertEqual(c.reply()[0], 554)
        self.assertTrue(c.closed())
        t.wait_log(r"PREGREET 20 after \d+ ms from unknown\[127\.0\.0\.2\]: EHLO early\.example\\x0d\\x0a")
        # A patient client is greeted after the wait; mynetworks at once.
        start = time.monotonic()
        c = self.raw(t, "127.0.0.2")
        self.assertEqual(c.reply()[0], 220)
        self.assertGreaterEqual(time.monotonic() - start, 1.9)
        self.assertEqual(c.cmd(b"QUIT")[0], 221)
        c = self.raw(t, HOST)
        c.sock.sendall(b"EHLO trusted.example\r\n")
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.reply()[0], 250)

    def test_rate_limits_reached_and_released(self):
        t = self.tree(smtpd_client_connection_rate_limit="3", smtpd_client_message_rate_limit="2",
                      smtpd_client_recipient_rate_limit="3", smtpd_client_rate_window="5s",
                      mynetworks="127.0.0.1/32")
        bob = t.addr("bob").encode()
        # Connections: three in the window, the fourth refused.
        for i in range(3):
            c = self.raw(t, "127.0.0.2")
            self.assertEqual(c.reply()[0], 220, i)
            self.assertEqual(c.cmd(b"QUIT")[0], 221)
        c = self.raw(t, "127.0.0.2")
        code, text = c.reply()
        self.assertEqual(code, 421)
        self.assertTrue(text.startswith(b"4.7.0 ") and
                        text.endswith(b" Error: too many connections from 127.0.0.2"), text)

        def greeted():
            c = Raw(t.port("smtp"), source="127.0.0.2")
            try:
                return c.reply()[0] == 220 and c.cmd(b"QUIT")[0] == 221
            finally:
                c.close()
        wait_for(greeted, 30, "the connection rate window to end", detail=t.log_tail, interval=0.5)
        # Messages and recipients of another address, in one window.
        c = self.raw(t, "127.0.0.3")
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd(b"EHLO client.example")[0], 250)
        for i in range(2):
            self.assertEqual(c.cmd(b"MAIL FROM:<a@example.org>")[0], 250, i)
            self.assertEqual(c.cmd(b"RSET")[0], 250)
        self.assertEqual(c.cmd(b"MAIL FROM:<a@example.org>"),
                         (450, b"4.7.1 Error: too much mail from 127.0.0.3"))
        c2 = self.raw(t, "127.0.0.4")
        self.assertEqual(c2.reply()[0], 220)
        self.assertEqual(c2.cmd(b"EHLO client.example")[0], 250)
        self.assertEqual(c2.cmd(b"MAIL FROM:<a@example.org>")[0], 250)
        for i in range(3):
            self.assertEqual(c2.cmd(b"RCPT TO:<%s>" % bob)[0], 250, i)
        self.assertEqual(c2.cmd(b"RCPT TO:<%s>" % bob),
                         (450, b"4.7.1 Error: too many recipients from 127.0.0.4"))
        wait_for(lambda: c.cmd(b"MAIL FROM:<a@example.org>")[0] == 250, 30,
                 "the message rate window to end", detail=t.log_tail, interval=0.5)
        wait_for(lambda: c2.cmd(b"RCPT TO:<%s>" % bob)[0] == 250, 30,
                 "the recipient rate window to end", detail=t.log_tail, interval=0.5)
        # mynetworks is exempt.
        s = self.smtp(t, HOST)
        for i in range(6):
            self.assertEqual(s.mail(SENDER)[0], 250, i)
            self.assertEqual(s.rset()[0], 250)
        s.quit()

    def test_user_rate_limits_follow_the_login_not_the_address(self):
        # 127.0.0.1 is in mynetworks (exempt from the client limits), but
        # a user's limits count whatever the address.
        t = self.tree(smtpd_user_message_rate_limit="2", smtpd_user_recipient_rate_limit="2",
                      smtpd_client_rate_window="5s", mynetworks="127.0.0.1/32")
        alice, bob = t.addr("alice"), t.addr("bob")
        s = t.submission("alice")
        self.addCleanup(s.close)
        self.assertEqual(s.mail(alice)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.rcpt(bob), (450, b"4.7.1 Error: too many recipients from %s" % alice.encode()))
        self.assertEqual(s.rset()[0], 250)
        self.assertEqual(s.mail(alice)[0], 250)   # the second message of the window
        self.assertEqual(s.rset()[0], 250)
        # A second session of the same user shares the count.
        s2 = t.submission("alice")
        self.addCleanup(s2.close)
        self.assertEqual(s2.mail(alice),
                         (450, b"4.7.1 Error: too much mail from %s" % alice.encode()))
        # Another user is not affected; the window's end lets alice in again.
        s3 = t.submission("bob")
        self.addCleanup(s3.close)
        self.assertEqual(s3.mail(bob)[0], 250)
        wait_for(lambda: s2.mail(alice)[0] == 250, 30, "the user's rate window to end",
                 detail=t.log_tail, interval=0.5)

    @unittest.skipUnless(have(DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
    def test_dnsbl_weights_filters_and_allowlist(self):
        work = tempfile.mkdtemp(prefix="postern-it-dnsbl-", dir="/tmp")
        self.addCleanup(lambda: __import__("shutil").rmtree(work, ignore_errors=True))
        dns = Dnsmasq(["--host-record=2.0.0.127.bl.test,127.0.0.2",
                       "--host-record=3.0.0.127.bl.test,127.0.0.2",
                       "--host-record=3.0.0.127.wl.test,127.0.0.1",
                       "--host-record=4.0.0.127.filtered.test,127.0.0.9",
                       "--host-record=5.0.0.127.small.test,127.0.0.2",
                       "--host-record=1.0.0.127.bl.test,127.0.0.2"], work)
        self.addCleanup(dns.stop)
        dns.wait("2.0.0.127.bl.test")
        t = self.tree(smtpd_dnsbl_sites="bl.test*2, filtered.test=127.0.0.[2..4]*2 wl.test*-2 small.test",
                      smtpd_dnsbl_threshold="2", dns_servers="127.0.0.1:%d" % dns.port,
                      dns_timeout="2s", mynetworks="127.0.0.1/32")
        c = self.raw(t, "127.0.0.2")
        self.assertEqual(c.reply(), (554, b"5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test"))
        self.assertEqual(c.cmd(b"EHLO client.example")[0], 503)
        self.assertEqual(c.cmd(b"QUIT")[0], 221)
        t.wait_log(r"DNSBL rank 2 for unknown\[127\.0\.0\.2\]")
        # Listed, but the allow list takes its weight away.
        self.assertEqual(self.raw(t, "127.0.0.3").reply()[0], 220)
        t.wait_log(r"DNSBL rank 0 for unknown\[127\.0\.0\.3\]")
        # An answer outside the filter does not count; under the threshold.
        self.assertEqual(self.raw(t, "127.0.0.4").reply()[0], 220)
        self.assertEqual(self.raw(t, "127.0.0.5").reply()[0], 220)
        t.wait_log(r"DNSBL rank 1 for unknown\[127\.0\.0\.5\]")
        # mynetworks is not looked up, though listed.
        self.assertEqual(self.raw(t, HOST).reply()[0], 220)
        self.assertNotIn("unknown[127.0.0.4]", "".join(
            l for l in t.log_text().splitlines() if "DNSBL" in l))
        self.assertNotIn("DNSBL rank 2 for unknown[127.0.0.1]", t.log_text())

    def test_postern_check_names_access_and_dnsbl_problems(self):
        t = self.start_tree(start=False)
        with open(os.path.join(t.dir, "etc", "client_access"), "w") as f:
            f.write("192.0.2.1 REJECT\n")
        t.set_conf(smtpd_client_access="client_access.cdb", smtpd_dnsbl_sites="bl.example*2 bad..zone")
        p = t.run("check", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("client_access.cdb is missing: run postern map", out)
        self.assertIn("smtpd_dnsbl_sites: bad zone", out)
