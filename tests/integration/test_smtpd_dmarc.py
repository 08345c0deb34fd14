"""DMARC (RFC 7489) in smtpd (docs/operator.md, "DMARC").

A dnsmasq on a loopback port serves the _dmarc policy records, the SPF
records and an Ed25519 DKIM key (python3-dkim makes it and signs, as in
test_smtpd_dkim_verify.py) for several .test domains; the clients
connect from 127.0.0.2 on the SMTP port, which SPF allows for the
domains that have an SPF record.  .test is in no public suffix list, so
the Organizational Domain of sub.org.test is org.test.  Each test
checks the dmarc result of the Authentication-Results field of the
delivered message, the 550 5.7.1 of an enforced p=reject with nothing
queued, or the hold queue for an enforced p=quarantine.  Without
dnsmasq or python3-dkim the tests are skipped and say so."""

import re
import smtplib
import unittest

import milter_peer as mp
from postern_harness import HOST, SCALE, RawSMTP
from test_remote_delivery import DNSMASQ, free_udp_port, have
from test_smtpd_dkim_verify import CLIENT_IP, SignedMailCase, dkim_sign, signing_keys, txt_option
from test_smtpd_spf import MYHOST, delivered_head, start_dnsmasq

SPF_OK = "v=spf1 ip4:%s -all" % CLIENT_IP

# One argv word each: quotes would end up in the TXT data.
RECORDS = [
    "--txt-record=_dmarc.aligned.test,v=DMARC1; p=reject",
    "--txt-record=_dmarc.spf.test,v=DMARC1; p=reject; aspf=s",
    "--txt-record=spf.test," + SPF_OK,
    "--txt-record=other.test," + SPF_OK,
    "--txt-record=_dmarc.reject.test,v=DMARC1; p=reject",
    "--txt-record=_dmarc.quar.test,v=DMARC1; p=quarantine",
    "--txt-record=_dmarc.org.test,v=DMARC1; p=none; sp=reject",
    "--txt-record=norec.test," + SPF_OK,
]


@unittest.skipUnless(have(DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
class SmtpdDmarc(SignedMailCase):

    @classmethod
    def setUpClass(cls):
        cls.work, _, ed_rec = signing_keys("postern-it-dmarc-")
        keys = [txt_option("ed._domainkey.%s" % d, ed_rec) for d in ("aligned.test", "other.test", "org.test")]
        cls.dns = start_dnsmasq(RECORDS + keys, cls.work, "other.test")

    def message(self, test_id, author, extra=()):
        head = [b"X-Test-Id: " + test_id.encode(),
                b"Message-ID: <" + test_id.encode() + b"@dmarc.test>",
                b"From: Alice <" + author.encode() + b">",
                b"To: <bob@example.net>",
                b"Subject: dmarc " + test_id.encode(),
                b"Date: Thu, 01 Jan 2026 00:00:00 +0000"]
        head.extend(extra)
        return b"\r\n".join(head) + b"\r\n\r\nHello,\r\nthis is about DMARC.\r\n"

    def signed(self, test_id, author, domain):
        """The message of author signed with the Ed25519 key for domain."""
        return dkim_sign(self, self.work, self.message(test_id, author), domain, "ed:ed25519")

    def session(self, t):
        s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname="client.dmarc.test", timeout=60 * SCALE,
                         source_address=(CLIENT_IP, 0))
        self.addCleanup(s.close)
        return s

    def send(self, t, test_id, data, mail_from):
        """Send data to bob; the dmarc result of the delivered copy."""
        s = self.session(t)
        s.sendmail(mail_from, [t.addr("bob")], data)
        s.quit()
        return self.dmarc(delivered_head(self, t, "bob", test_id))

    def dmarc(self, head):
        """The dmarc result of our Authentication-Results field, unfolded."""
        ours = [f for f in self.fields(head) if f.startswith("Authentication-Results: %s;" % MYHOST)]
        self.assertEqual(len(ours), 1, head)
        found = [p.strip() for p in ours[0].split(";")[1:] if p.strip().startswith("dmarc=")]
        self.assertEqual(len(found), 1, ours[0])
        return found[0]

    def logged(self, t, text):
        """Wait for a log line holding text (literally)."""
        return t.wait_log(re.escape(text))

    def refused(self, t, data, mail_from):
        """Send data; the error of the end of data (it must be one)."""
        s = self.session(t)
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            s.sendmail(mail_from, [t.addr("bob")], data)
        return cm.exception.smtp_code, cm.exception.smtp_error.decode()

    def test_aligned_dkim_signature_passes(self):
        t = self.tree(dmarc_enforce="yes")
        got = self.send(t, "dm-dkim", self.signed("dm-dkim", "alice@aligned.test", "aligned.test"),
                        "bounce@other.test")
        self.assertEqual(got, "dmarc=pass (p=reject dis=none) header.from=aligned.test")
        self.logged(t, "DMARC pass: client=unknown[%s], header.from=aligned.test, policy=reject, "
                   "requested=none, aligned=dkim, action=accept" % CLIENT_IP)

    def test_aligned_spf_alone_passes(self):
        t = self.tree(dmarc_enforce="yes")
        got = self.send(t, "dm-spf", self.message("dm-spf", "alice@spf.test"), "alice@spf.test")
        self.assertEqual(got, "dmarc=pass (p=reject dis=none) header.from=spf.test")
        self.logged(t, "DMARC pass: client=unknown[%s], header.from=spf.test, policy=reject, "
                   "requested=none, aligned=spf, action=accept" % CLIENT_IP)

    def test_unaligned_fails_and_is_delivered_without_enforcement(self):
        t = self.tree()
        # SPF and DKIM pass, but for other.test
        data = self.signed("dm-unaligned", "alice@reject.test", "other.test")
        got = self.send(t, "dm-unaligned", data, "bounce@other.test")
        self.assertEqual(got, "dmarc=fail (p=reject dis=none) header.from=reject.test")
        self.logged(t, "DMARC fail: client=unknown[%s], header.from=reject.test, policy=reject, "
                   "requested=reject, aligned=none, action=accept" % CLIENT_IP)

    def test_reject_enforced_is_550_and_nothing_is_queued(self):
        t = self.tree(dmarc_enforce="yes")
        data = self.signed("dm-reject", "alice@reject.test", "other.test")
        code, text = self.refused(t, data, "bounce@other.test")
        self.assertEqual((code, text), (550, "5.7.1 Message rejected: it fails the DMARC policy of reject.test"))
        self.logged(t, "DMARC fail: client=unknown[%s], header.from=reject.test, policy=reject, "
                   "requested=reject, aligned=none, action=reject" % CLIENT_IP)
        self.assertEqual(t.queue_json(), [])
        # BDAT LAST is answered the same, and the session goes on.
        c = RawSMTP(t.port("smtp"), timeout=60 * SCALE, source=CLIENT_IP)
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        c.send(b"EHLO client.dmarc.test\r\n")
        self.assertEqual(c.read_reply()[0], 250)
        c.send(b"MAIL FROM:<bounce@other.test>\r\nRCPT TO:<%s>\r\n" % t.addr("bob").encode())
        self.assertEqual(c.read_reply()[0], 250)
        self.assertEqual(c.read_reply()[0], 250)
        data = self.signed("dm-reject-bdat", "alice@reject.test", "other.test")
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        self.assertEqual(c.read_reply(), (550, [b"5.7.1 Message rejected: it fails the DMARC policy of reject.test"]))
        c.send(b"MAIL FROM:<alice@spf.test>\r\nRCPT TO:<%s>\r\n" % t.addr("bob").encode())
        self.assertEqual(c.read_reply()[0], 250)
        self.assertEqual(c.read_reply()[0], 250)
        data = self.message("dm-after-reject", "alice@spf.test")
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        self.assertEqual(c.read_reply()[0], 250)
        self.assertEqual(self.dmarc(delivered_head(self, t, "bob", "dm-after-reject")),
                         "dmarc=pass (p=reject dis=none) header.from=spf.test")
        self.assertEqual(t.test_ids("bob"), {"dm-after-reject": 1})

    def test_quarantine_enforced_goes_to_the_hold_queue(self):
        t = self.tree(dmarc_enforce="yes")
        s = self.session(t)
        s.sendmail("bounce@other.test", [t.addr("bob")], self.signed("dm-quar", "alice@quar.test", "other.test"))
        q = t.wait_queue(lambda q: len(q) == 1 and q[0]["state"] == "hold", 30, "the message in hold/")
        self.logged(t, "DMARC fail: client=unknown[%s], header.from=quar.test, policy=quarantine, "
                   "requested=quarantine, aligned=none, action=hold" % CLIENT_IP)
        self.assertEqual(t.count("bob"), 0)
        t.run("queue", "-d", t.dir, "release", q[0]["id"])
        got = self.dmarc(delivered_head(self, t, "bob", "dm-quar"))
        self.assertEqual(got, "dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test")

    def test_quarantine_marked_only(self):
        t = self.tree(dmarc_enforce="yes", dmarc_quarantine="mark")
        got = self.send(t, "dm-mark", self.signed("dm-mark", "alice@quar.test", "other.test"), "bounce@other.test")
        self.assertEqual(got, "dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test")
        self.logged(t, "action=mark")
        self.assertEqual(t.queue_json(), [])

    def test_with_a_milter_reject_and_hold_still_apply(self):
        # the message is held in a memfd for the milter: DMARC answers
        # before the milter's end of message, and its hold rides the trailer
        m = mp.FakeMilter(answers={"E": [mp.add_header("X-Milter", "seen") + mp.CONTINUE]})
        self.addCleanup(m.stop)
        t = self.tree(dmarc_enforce="yes", smtpd_milters=m.spec())
        code, text = self.refused(t, self.signed("dm-m-rej", "alice@reject.test", "other.test"), "bounce@other.test")
        self.assertEqual((code, text), (550, "5.7.1 Message rejected: it fails the DMARC policy of reject.test"))
        s = self.session(t)
        s.sendmail("bounce@other.test", [t.addr("bob")], self.signed("dm-m-quar", "alice@quar.test", "other.test"))
        q = t.wait_queue(lambda q: len(q) == 1 and q[0]["state"] == "hold", 30, "the message in hold/")
        t.run("queue", "-d", t.dir, "release", q[0]["id"])
        head = delivered_head(self, t, "bob", "dm-m-quar")
        self.assertEqual(self.dmarc(head), "dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test")
        self.assertIn("\nX-Milter: seen", head)
        self.assertEqual(t.test_ids("bob"), {"dm-m-quar": 1})

    def test_organizational_domain_record_and_sp(self):
        t = self.tree(dmarc_enforce="yes")
        # sub.org.test has no record: org.test's applies, with sp=reject
        code, text = self.refused(t, self.signed("dm-sub", "alice@sub.org.test", "other.test"),
                                  "bounce@other.test")
        self.assertEqual((code, text), (550, "5.7.1 Message rejected: it fails the DMARC policy of sub.org.test"))
        self.logged(t, "DMARC fail: client=unknown[%s], header.from=sub.org.test, policy=reject, "
                   "requested=reject, aligned=none, action=reject" % CLIENT_IP)
        # relaxed alignment: org.test's signature aligns with sub.org.test
        got = self.send(t, "dm-sub-ok", self.signed("dm-sub-ok", "alice@sub.org.test", "org.test"),
                        "bounce@other.test")
        self.assertEqual(got, "dmarc=pass (p=none sp=reject dis=none) header.from=sub.org.test")
        # org.test itself: p=none
        got = self.send(t, "dm-org", self.signed("dm-org", "alice@org.test", "other.test"), "bounce@other.test")
        self.assertEqual(got, "dmarc=fail (p=none sp=reject dis=none) header.from=org.test")

    def test_no_record_is_none(self):
        t = self.tree(dmarc_enforce="yes")
        got = self.send(t, "dm-none", self.message("dm-none", "alice@norec.test"), "bounce@other.test")
        self.assertEqual(got, "dmarc=none header.from=norec.test")

    def test_dns_failure_is_temperror_and_accepted(self):
        t = self.tree(dmarc_enforce="yes", dns_servers="127.0.0.1:%d" % free_udp_port(), dns_timeout="1s",
                      dns_tries="1", spf_check="no")
        got = self.send(t, "dm-temp", self.message("dm-temp", "alice@reject.test"), "bounce@other.test")
        self.assertEqual(got, 'dmarc=temperror reason="DNS error looking up the DMARC record" '
                              'header.from=reject.test')
        self.logged(t, "DMARC temperror: client=unknown[%s], header.from=reject.test, policy=-, requested=-, "
                       "aligned=none, action=accept, reason=DNS error looking up the DMARC record" % CLIENT_IP)

    def test_two_from_fields_are_permerror_and_accepted(self):
        t = self.tree(dmarc_enforce="yes")
        data = self.message("dm-two", "alice@reject.test", extra=[b"From: <mallory@reject.test>"])
        got = self.send(t, "dm-two", data, "bounce@other.test")
        self.assertEqual(got, 'dmarc=permerror reason="more than one From field"')

    def test_dmarc_check_off_adds_no_result(self):
        t = self.tree(dmarc_enforce="yes", dmarc_check="no")
        s = self.session(t)
        s.sendmail("bounce@other.test", [t.addr("bob")], self.signed("dm-off", "alice@reject.test", "other.test"))
        head = delivered_head(self, t, "bob", "dm-off")
        self.assertIn("dkim=pass", head)
        self.assertNotIn("dmarc=", head)
