"""Recipients of LMTP domains are verified at RCPT time (issue 9, item 9).

etc/transport sends lmtp.test to the LMTP server of test_lmtp_delivery,
answering RCPT by the local part: `unknown*` 550 5.1.1, `busy*` 450
4.2.1, anything else 250; it counts connections and records every RCPT
with the MAIL FROM it came in, and every transaction that reached DATA.  smtpd
asks the verify service, which probes the server (LHLO, MAIL FROM:<>,
RCPT, QUIT) or answers from its cache; so an unknown user is refused with
550 at RCPT, nothing is queued and nobody gets a bounce.  With
`lmtp_verify_recipients = no` every recipient is taken, as before.
"""

import os
import smtplib
import time
import unittest

from postern_harness import HOST, is_root, wait_for
from test_lmtp_delivery import LMTP_DOMAIN, LmtpCase, LmtpRecorder, LmtpServer, free_port


class ProbeLog(LmtpRecorder):
    """The recorder of test_lmtp_delivery with this file's RCPT answers."""

    def rcpt_answer(self, rcpt):
        local = rcpt.split("@", 1)[0].lower()
        if local.startswith("unknown"):
            return False, b"550 5.1.1 <%s> User unknown\r\n" % rcpt.encode()
        if local.startswith("busy"):
            return False, b"450 4.2.1 <%s> try again later\r\n" % rcpt.encode()
        return True, b"250 2.1.5 ok\r\n"

    def probes(self, rcpt):
        """The RCPTs for rcpt that came with the null sender (probes)."""
        with self.lock:
            return [r for r in self.rcpts if r[1] == rcpt and r[0] == ""]


def rcpt(t, addr, sender="sender@example.org"):
    """(code, text) that smtpd answers RCPT TO:<addr> on a new session."""
    s = t.smtp()
    try:
        s.mail(sender)
        code, text = s.rcpt(addr)
        return code, text.decode("utf-8", "replace")
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


class LmtpVerify(LmtpCase):

    def server(self):
        srv = LmtpServer(recorder=ProbeLog())
        srv.port = srv.server_address[1]
        srv.log = srv.recorder
        self.addCleanup(srv.close)
        return srv

    def test_unknown_user_gets_550_at_rcpt_and_nothing_is_queued(self):
        srv = self.server()
        t = self.lmtp_tree(srv.port)
        code, text = rcpt(t, "unknown1@" + LMTP_DOMAIN)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.1.1 "), text)
        # The probe: the null sender, no DATA.
        self.assertEqual(srv.log.probes("unknown1@lmtp.test"), [("", "unknown1@lmtp.test", 550)])
        # In one transaction with a known recipient, only that one is taken.
        s = t.smtp()
        try:
            s.mail("sender@example.org")
            self.assertEqual(s.rcpt("unknown2@" + LMTP_DOMAIN)[0], 550)
            self.assertEqual(s.rcpt("ok1@" + LMTP_DOMAIN)[0], 250)
            code, _ = s.data(b"Subject: verify\r\nX-Test-Id: verify-1\r\n\r\nhello\r\n")
            self.assertEqual(code, 250)
        finally:
            s.quit()
        self.wait_for(lambda: srv.log.transactions, "the delivery of ok1", t)
        self.wait_for(lambda: not t.queue_json(), "an empty queue", t)
        with srv.log.lock:
            self.assertEqual([x["rcpts"] for x in srv.log.transactions], [["ok1@lmtp.test"]])
        # Nothing was bounced: no DSN was made for anyone.
        self.assertFalse(self.log_has(t, r"status=bounced"), t.log_tail())
        self.assertFalse(self.log_has(t, r"unknown[12]@lmtp\.test.*queued"), t.log_tail())
        self.assertTrue(self.log_has(t, r"verify\[\d+\]: <unknown1@lmtp\.test>: status=fail dsn=5\.1\.1"),
                        t.log_tail())

    def test_known_user_is_accepted_and_delivered(self):
        srv = self.server()
        t = self.lmtp_tree(srv.port)
        s = t.smtp()
        try:
            s.sendmail("sender@example.org", ["ok2@" + LMTP_DOMAIN],
                       b"Subject: known\r\nX-Test-Id: verify-2\r\n\r\nhello\r\n")
        finally:
            s.quit()
        self.wait_for(lambda: srv.log.transactions, "the delivery of ok2", t)
        with srv.log.lock:
            tx = list(srv.log.transactions)
        self.assertEqual(tx[0]["mail"], "sender@example.org")
        self.assertEqual(tx[0]["rcpts"], ["ok2@lmtp.test"])
        self.assertIn(b"X-Test-Id: verify-2", tx[0]["data"])
        self.assertEqual(srv.log.probes("ok2@lmtp.test"), [("", "ok2@lmtp.test", 250)])
        self.wait_for(lambda: self.log_has(t, r"to=<ok2@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=\S+, status=sent"), "ok2 sent", t)

    def test_lmtp_down_or_busy_is_a_temporary_refusal(self):
        down = free_port()
        t = self.lmtp_tree(down)
        code, text = rcpt(t, "ok3@" + LMTP_DOMAIN)
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith("4.4.1 "), text)
        self.assertFalse(t.queue_json())
        # A 4xx answer of a running server: 450 4.1.1, and not remembered.
        srv = self.server()
        t2 = self.lmtp_tree(srv.port)
        for _ in range(2):
            code, text = rcpt(t2, "busy1@" + LMTP_DOMAIN)
            self.assertEqual(code, 450, text)
            self.assertTrue(text.startswith("4.1.1 "), text)
        self.assertEqual(len(srv.log.probes("busy1@lmtp.test")), 2)

    def test_cache_answers_the_second_probe_without_a_connection(self):
        srv = self.server()
        t = self.lmtp_tree(srv.port)
        for addr, want in (("ok4@lmtp.test", 250), ("unknown4@lmtp.test", 550)):
            for _ in range(2):
                self.assertEqual(rcpt(t, addr)[0], want)
        # Two probes, one connection each; the second RCPTs came from the cache.
        self.assertEqual(srv.log.connections, 2)
        self.assertEqual(len(srv.log.probes("ok4@lmtp.test")), 1)
        self.assertEqual(len(srv.log.probes("unknown4@lmtp.test")), 1)
        self.assertTrue(self.log_has(t, r"verify\[\d+\]: <ok4@lmtp\.test>: status=ok dsn=2\.1\.5 cached"),
                        t.log_tail())
        self.assertTrue(self.log_has(t, r"verify\[\d+\]: <unknown4@lmtp\.test>: status=fail dsn=5\.1\.1 cached"),
                        t.log_tail())

    def test_negative_answers_expire_by_their_own_ttl(self):
        srv = self.server()
        t = self.lmtp_tree(srv.port, lmtp_verify_negative_ttl="1s", lmtp_verify_positive_ttl="1h")
        self.assertEqual(rcpt(t, "unknown5@lmtp.test")[0], 550)
        self.assertEqual(rcpt(t, "ok5@lmtp.test")[0], 250)
        # Past the 1 s of the refusal (second resolution: wait for 2 s of clock).
        # The event is the wall clock itself passing the TTL.
        end = time.time() + 2.1
        wait_for(lambda: time.time() >= end, 10, "the negative TTL to pass")
        self.assertEqual(rcpt(t, "unknown5@lmtp.test")[0], 550)
        self.assertEqual(rcpt(t, "ok5@lmtp.test")[0], 250)
        self.assertEqual(len(srv.log.probes("unknown5@lmtp.test")), 2)
        self.assertEqual(len(srv.log.probes("ok5@lmtp.test")), 1)

    def test_postmaster_is_never_probed(self):
        srv = self.server()
        t = self.lmtp_tree(srv.port)
        self.assertEqual(rcpt(t, "postmaster@" + LMTP_DOMAIN)[0], 250)
        self.assertEqual(srv.log.connections, 0)

    def test_key_off_restores_blind_acceptance(self):
        srv = self.server()
        t = self.lmtp_tree(srv.port, lmtp_verify_recipients="no")
        code, text = rcpt(t, "unknown6@" + LMTP_DOMAIN)
        self.assertEqual(code, 250, text)
        self.assertEqual(srv.log.connections, 0)
        self.assertEqual(srv.log.probes("unknown6@lmtp.test"), [])

    def test_a_tree_without_the_verify_service_accepts_unverified(self):
        # A master.conf written before the service existed: no socket link,
        # so smtpd takes the recipient as it did then, and says so.
        srv = self.server()
        t = self.start_tree(start=False)
        t.drop_service("verify")
        with open(os.path.join(t.dir, "etc", "domains"), "a") as f:
            f.write(LMTP_DOMAIN + "\n")
        t.run("map", "-d", t.dir, "domains")
        with open(os.path.join(t.dir, "etc", "transport"), "a") as f:
            f.write("%s  lmtp:%s:%d\n" % (LMTP_DOMAIN, HOST, srv.port))
        t.run("map", "-d", t.dir, "transport")
        t.start()
        self.assertEqual(rcpt(t, "unknown8@" + LMTP_DOMAIN)[0], 250)
        self.wait_for(lambda: self.log_has(t, r"smtpd\[\d+\]: warning: lmtp_verify_recipients: no verify service"),
                      "the warning", t)
        self.assertEqual(srv.log.connections, 0)

    def test_only_smtpd_may_call_verify(self):
        if not is_root():
            self.skipTest("needs root: started by another user every process runs as that user")
        from test_peer_checks import closed_unanswered, exchange, record, run_as
        srv = self.server()
        t = self.lmtp_tree(srv.port)
        path = os.path.join(t.dir, "private", "verify")
        request = record([("addr", "ok7@lmtp.test")])
        _, refused = run_as("postern-login", closed_unanswered, path, request)
        self.assertEqual(refused, "closed")
        _, (answer, _) = run_as("postern-smtpd", exchange, path, request)
        self.assertEqual(answer.get("status"), "ok", answer)
        self.assertEqual(answer.get("dsn"), "2.1.5", answer)
        self.assertEqual(srv.log.probes("ok7@lmtp.test"), [("", "ok7@lmtp.test", 250)])
        # smtpd's root holds the link; the other roots do not.
        self.assertTrue(os.path.exists(os.path.join(t.dir, "run", "jail", "private", "verify")))
        self.assertFalse(os.path.exists(os.path.join(t.dir, "queue", "private", "verify")))


if __name__ == "__main__":
    unittest.main()
