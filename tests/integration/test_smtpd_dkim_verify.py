"""DKIM verification in smtpd (docs/dkim.md, "Verification").

python3-dkim (Debian's dkimpy, run by /usr/bin/python3 as in
test_dkim_keygen.py) makes an RSA-2048 and an Ed25519 key and signs the
messages; a dnsmasq on a loopback port serves the key records under
sig.test.  The clients connect from 127.0.0.2 (127.0.0.1 is in
dkim_verify_skip_addresses here, as spf_skip_addresses), on the SMTP
port.  Each test reads the Authentication-Results field of the
delivered message: it comes from the queue file's prepend slot, above
our Received header, one field with the spf result and one dkim result
per signature.  Without dnsmasq or python3-dkim the tests are skipped
and say so."""

import re
import shutil
import smtplib
import subprocess
import tempfile
import unittest

import milter_peer as mp
from postern_harness import HOST, SCALE, PosternTestCase, RawSMTP
from test_dkim_keygen import DEBIAN_PYTHON, dkimpy_missing
from test_remote_delivery import DNSMASQ, free_udp_port, have
from test_smtpd_spf import MYHOST, can_bind, delivered_head, dns_tree, start_dnsmasq

CLIENT_IP = "127.0.0.2"

# Prints two lines: the RSA and the Ed25519 key records (the value only).
# Keys go to files in the directory argv[1].
KEYGEN = r'''
import base64, os, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
d = sys.argv[1]
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
open(os.path.join(d, "rsa.pem"), "wb").write(r.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
spki = r.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
e = ed25519.Ed25519PrivateKey.generate()
raw = e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
open(os.path.join(d, "ed.key"), "wb").write(base64.b64encode(raw))
pub = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
print("v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode())
print("v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode())
'''

# Signs the message on stdin for the domain argv[2] with each
# "selector:kind[:l]" of argv[3:] (keys in argv[1]; ":l" adds l=); the
# signed message on stdout.  test_smtpd_dmarc.py signs with it too.
SIGN = r'''
import os, sys
import dkim
d = sys.argv[1]
domain = sys.argv[2].encode()
msg = sys.stdin.buffer.read()
out = msg
for spec in sys.argv[3:]:
    sel, kind = spec.split(":")[:2]
    key = open(os.path.join(d, "rsa.pem" if kind == "rsa" else "ed.key"), "rb").read()
    sig = dkim.sign(msg, sel.encode(), domain, key, signature_algorithm=(kind + "-sha256").encode(),
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                    length=spec.endswith(":l"))
    out = sig + out
sys.stdout.buffer.write(out)
'''


def txt_option(name, value):
    """dnsmasq --txt-record with the value in strings of at most 255
    bytes (RFC 1035 3.3.14); the value has no commas."""
    parts = [value[i:i + 255] for i in range(0, len(value), 255)]
    return "--txt-record=%s,%s" % (name, ",".join(parts))


def unfold(head):
    """The header fields of a header section (LF line ends), unfolded, in
    order (bench/mailauth.py reads delivered mail with it too)."""
    out = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def signing_keys(prefix):
    """For a class that signs with python3-dkim and connects from
    CLIENT_IP (SkipTest when it cannot): a new work directory, which the
    caller removes, with an RSA and an Ed25519 key: (work, RSA record,
    Ed25519 record)."""
    why = dkimpy_missing()
    if why:
        raise unittest.SkipTest(why)
    if not can_bind(CLIENT_IP):
        raise unittest.SkipTest("cannot bind client sockets to 127.0.0.x addresses")
    work = tempfile.mkdtemp(prefix=prefix)
    p = subprocess.run([DEBIAN_PYTHON, "-c", KEYGEN, work], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120 * SCALE)
    if p.returncode != 0:
        shutil.rmtree(work, True)
        raise AssertionError(p.stdout.decode("utf-8", "replace"))
    rsa_rec, ed_rec = p.stdout.decode().split("\n")[:2]
    return work, rsa_rec, ed_rec


def dkim_sign(case, work, msg, domain, *specs):
    """msg signed for domain with the keys of work (SIGN's specs)."""
    p = subprocess.run([DEBIAN_PYTHON, "-c", SIGN, work, domain] + list(specs), input=msg,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SCALE)
    case.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
    return p.stdout


class SignedMailCase(PosternTestCase):
    """The base of the classes whose setUpClass makes cls.work
    (signing_keys) and cls.dns (start_dnsmasq): their trees use that
    dnsmasq and verify the mail of CLIENT_IP."""

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.work, True)

    def tree(self, **conf):
        settings = {"dkim_verify_skip_addresses": "127.0.0.1/32"}
        settings.update(conf)
        return dns_tree(self, self.dns.port, **settings)

    def fields(self, head):
        return unfold(head)


@unittest.skipUnless(have(DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
class SmtpdDkimVerify(SignedMailCase):

    @classmethod
    def setUpClass(cls):
        cls.work, rsa_rec, ed_rec = signing_keys("postern-it-dkimv-")
        records = [txt_option("rsa._domainkey.sig.test", rsa_rec),
                   txt_option("ed._domainkey.sig.test", ed_rec),
                   "--txt-record=revoked._domainkey.sig.test,v=DKIM1; k=rsa; p=",
                   "--txt-record=sig.test,v=spf1 ip4:%s -all" % CLIENT_IP]
        cls.dns = start_dnsmasq(records, cls.work, "sig.test")

    def message(self, test_id, body=b"Hello,\r\nthis is signed.\r\n", extra=()):
        head = [b"X-Test-Id: " + test_id.encode(),
                b"Message-ID: <" + test_id.encode() + b"@sig.test>",
                b"From: Alice <alice@sig.test>",
                b"To: <bob@example.net>",
                b"Subject: dkim " + test_id.encode(),
                b"Date: Thu, 01 Jan 2026 00:00:00 +0000"]
        head.extend(extra)
        return b"\r\n".join(head) + b"\r\n\r\n" + body

    def sign(self, msg, *specs):
        return dkim_sign(self, self.work, msg, "sig.test", *specs)

    def send(self, t, test_id, data, src=CLIENT_IP):
        """Send data to bob from src; its delivered header section."""
        bob = t.addr("bob")
        s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname="client.sig.test", timeout=60 * SCALE,
                         source_address=(src, 0))
        self.addCleanup(s.close)
        s.sendmail("alice@sig.test", [bob], data)
        s.quit()
        return delivered_head(self, t, "bob", test_id)

    def results(self, head):
        """Our Authentication-Results field (right above our Received):
        its spf result and its list of dkim results, each a dict."""
        fields = self.fields(head)
        names = [f.split(":", 1)[0].lower() for f in fields]
        self.assertEqual(names[:4], ["return-path", "delivered-to", "authentication-results", "received"], head)
        self.assertEqual(names.count("authentication-results"), 1, head)
        value = fields[2].split(":", 1)[1]
        parts = [p.strip() for p in value.split(";")]
        self.assertEqual(parts[0], MYHOST)
        spf, dkim = None, []
        for p in parts[1:]:
            words = dict(w.split("=", 1) for w in re.sub(r'reason="[^"]*"', "", p).split() if "=" in w)
            reason = re.search(r'reason="([^"]*)"', p)
            words["reason"] = reason.group(1) if reason else None
            if "spf" in words:
                spf = words["spf"]
            if "dkim" in words:
                dkim.append(words)
        return spf, dkim

    def test_signed_messages_pass_rsa_and_ed25519(self):
        t = self.tree()
        signed = self.sign(self.message("dkim-pass"), "rsa:rsa", "ed:ed25519")
        spf, dkim = self.results(self.send(t, "dkim-pass", signed))
        self.assertEqual(spf, "pass")
        self.assertEqual(len(dkim), 2, dkim)
        by_sel = {r["header.s"]: r for r in dkim}
        self.assertEqual(by_sel["rsa"]["dkim"], "pass", dkim)
        self.assertEqual(by_sel["rsa"]["header.d"], "sig.test")
        self.assertEqual(by_sel["rsa"]["header.a"], "rsa-sha256")
        self.assertEqual(by_sel["ed"]["dkim"], "pass", dkim)
        self.assertEqual(by_sel["ed"]["header.a"], "ed25519-sha256")
        # RFC 6008: the first 8 characters of b=
        b_values = re.findall(rb"\bb=([A-Za-z0-9+/]{8})", signed.split(b"\r\n\r\n", 1)[0])
        self.assertEqual(sorted(r["header.b"].strip('"') for r in dkim), sorted(b.decode() for b in b_values))
        log = t.log_text()
        self.assertIn("DKIM pass: client=unknown[%s], d=sig.test, s=ed" % CLIENT_IP, log)

    def test_tampered_body_and_header_fail(self):
        t = self.tree()
        signed = self.sign(self.message("dkim-body"), "ed:ed25519")
        tampered = signed.replace(b"this is signed", b"this is forged")
        _, dkim = self.results(self.send(t, "dkim-body", tampered))
        self.assertEqual([(r["dkim"], r["reason"]) for r in dkim], [("fail", "body hash did not verify")])
        signed = self.sign(self.message("dkim-head"), "rsa:rsa")
        tampered = signed.replace(b"Subject: dkim dkim-head", b"Subject: dkim dkim-HEAD")
        _, dkim = self.results(self.send(t, "dkim-head", tampered))
        self.assertEqual([(r["dkim"], r["reason"]) for r in dkim], [("fail", "signature did not verify")])

    def test_unknown_selector_and_revoked_key_are_permerror(self):
        t = self.tree()
        signed = self.sign(self.message("dkim-nokey"), "nokey:ed25519")
        _, dkim = self.results(self.send(t, "dkim-nokey", signed))
        self.assertEqual([(r["dkim"], r["reason"], r["header.s"]) for r in dkim],
                         [("permerror", "no key for signature", "nokey")])
        signed = self.sign(self.message("dkim-revoked"), "revoked:rsa")
        _, dkim = self.results(self.send(t, "dkim-revoked", signed))
        self.assertEqual([(r["dkim"], r["reason"]) for r in dkim], [("permerror", "key revoked")])

    def test_unsigned_is_none_and_forged_results_are_removed(self):
        t = self.tree()
        forged = ("Authentication-Results: %s; dkim=pass header.d=sig.test" % MYHOST).encode()
        head = self.send(t, "dkim-none", self.message("dkim-none", extra=[forged]))
        spf, dkim = self.results(head)
        self.assertEqual(spf, "pass")
        self.assertEqual([r["dkim"] for r in dkim], ["none"])

    def test_signature_limit_reports_the_rest_neutral(self):
        t = self.tree(dkim_verify_signature_limit="1")
        signed = self.sign(self.message("dkim-limit"), "rsa:rsa", "ed:ed25519")
        _, dkim = self.results(self.send(t, "dkim-limit", signed))
        # dkimpy prepends: the Ed25519 signature is the first field.
        self.assertEqual([(r["dkim"], r["header.s"], r["reason"]) for r in dkim],
                         [("pass", "ed", None), ("neutral", "rsa", "too many signatures")])

    def test_body_beyond_l_is_neutral(self):
        t = self.tree()
        signed = self.sign(self.message("dkim-l"), "ed:ed25519:l")
        self.assertIn(b" l=", signed.split(b"\r\n\r\n", 1)[0])
        _, dkim = self.results(self.send(t, "dkim-l", signed + b"appended by a list\r\n"))
        self.assertEqual([(r["dkim"], r["reason"]) for r in dkim], [("neutral", "l= shorter than the body")])
        signed = self.sign(self.message("dkim-l-ok"), "ed:ed25519:l")
        _, dkim = self.results(self.send(t, "dkim-l-ok", signed))
        self.assertEqual([r["dkim"] for r in dkim], ["pass"])

    def test_bdat_chunks_split_in_header_and_body_pass(self):
        t = self.tree()
        signed = self.sign(self.message("dkim-bdat"), "rsa:rsa", "ed:ed25519")
        cut1, cut2 = signed.index(b"Subject:") + 3, signed.index(b"this is") + 2
        c = RawSMTP(t.port("smtp"), timeout=60 * SCALE, source=CLIENT_IP)
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        c.send(b"EHLO client.sig.test\r\n")
        self.assertEqual(c.read_reply()[0], 250)
        c.send(b"MAIL FROM:<alice@sig.test>\r\nRCPT TO:<%s>\r\n" % t.addr("bob").encode())
        self.assertEqual(c.read_reply()[0], 250)
        self.assertEqual(c.read_reply()[0], 250)
        parts = [signed[:cut1], signed[cut1:cut2], signed[cut2:]]
        for i, part in enumerate(parts):
            c.send(b"BDAT %d%s\r\n" % (len(part), b" LAST" if i == 2 else b"") + part)
            code, text = c.read_reply()
            self.assertEqual(code, 250, text)
        _, dkim = self.results(delivered_head(self, t, "bob", "dkim-bdat"))
        self.assertEqual(sorted(r["dkim"] + ":" + r["header.s"] for r in dkim), ["pass:ed", "pass:rsa"])

    def test_with_a_milter_the_field_still_comes_from_the_trailer(self):
        m = mp.FakeMilter(answers={"E": [mp.add_header("X-Milter", "checked") + mp.CONTINUE]})
        self.addCleanup(m.stop)
        t = self.tree(smtpd_milters=m.spec())
        signed = self.sign(self.message("dkim-milter"), "ed:ed25519")
        head = self.send(t, "dkim-milter", signed)
        _, dkim = self.results(head)
        self.assertEqual([r["dkim"] for r in dkim], ["pass"])
        self.assertIn("\nX-Milter: checked", head)

    def test_dead_dns_server_is_temperror(self):
        t = self.tree(dns_servers="127.0.0.1:%d" % free_udp_port(), dns_timeout="1s", dns_tries="1",
                      spf_check="no")
        signed = self.sign(self.message("dkim-temp"), "ed:ed25519")
        spf, dkim = self.results(self.send(t, "dkim-temp", signed))
        self.assertIsNone(spf)
        self.assertEqual([(r["dkim"], r["reason"]) for r in dkim], [("temperror", "key lookup failed")])

    def test_skipped_client_and_dkim_verify_off_keep_spf_field_below_received(self):
        t = self.tree(dkim_verify="no")
        signed = self.sign(self.message("dkim-off"), "ed:ed25519")
        fields = self.fields(self.send(t, "dkim-off", signed))
        self.assertTrue(fields[2].startswith("Received: "), fields[:4])
        self.assertEqual(fields[3], "Authentication-Results: %s; spf=pass smtp.mailfrom=alice@sig.test" % MYHOST)
        self.assertNotIn("dkim=", "\n".join(fields))


class EnqueueTrailer(PosternTestCase):
    """The enqueue trailer (docs/protocols.md): header fields after the
    end chunk go into the prepend slot, hold=1 into hold/; bad ones
    refuse the message."""

    def test_trailer_fields_are_prepended_and_bad_ones_refused(self):
        t = self.start_tree()
        bob = t.addr("bob")
        env = [("sender", "a@example.org"), ("rcpt", bob), ("trailer", "1")]
        field = "Authentication-Results: x.test;\n\tdkim=none\n"
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-1\nSubject: t\n\nbody\n", trailer=[("prepend", field)])
        self.assertEqual(a.get("status"), "ok", a)
        self.assertEqual(t.wait_ids("bob", {"trailer-1"}).get("trailer-1"), 1, t.log_tail())
        found = [p for p in t.message_paths("bob") if b"X-Test-Id: trailer-1\n" in open(p, "rb").read()]
        self.assertEqual(len(found), 1)
        for path in found:
            with open(path, "rb") as f:
                data = f.read().decode()
            if "X-Test-Id: trailer-1\n" in data:
                lines = data.split("\n")
                self.assertTrue(lines[0].startswith("Return-Path: ") and lines[1].startswith("Delivered-To: "),
                                lines[:4])
                self.assertEqual(lines[2:5], ["Authentication-Results: x.test;", "\tdkim=none", "X-Test-Id: trailer-1"])
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-2\n\nbody\n", trailer=[])
        self.assertEqual(a.get("status"), "ok", a)
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-3\n\nbody\n", trailer=[("prepend", "no colon here\n")])
        self.assertEqual((a.get("status"), a.get("reason")), ("fail", "bad prepend in trailer"), a)
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-4\n\nbody\n", trailer=[("prepend", field), ("prepend", field)])
        self.assertEqual((a.get("status"), a.get("reason")), ("fail", "duplicate prepend"), a)
        self.assertEqual(t.wait_ids("bob", {"trailer-2"}).get("trailer-2"), 1, t.log_tail())

    def test_trailer_hold_commits_into_hold(self):
        t = self.start_tree()
        env = [("sender", "a@example.org"), ("rcpt", t.addr("bob")), ("trailer", "1")]
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-hold\n\nbody\n", trailer=[("hold", "1")])
        self.assertEqual(a.get("status"), "ok", a)
        q = t.wait_queue(lambda q: len(q) == 1 and q[0]["state"] == "hold", 30, "the message in hold/")
        self.assertEqual(q[0]["id"], a.get("queue_id"))
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-hold-2\n\nbody\n", trailer=[("hold", "yes")])
        self.assertEqual((a.get("status"), a.get("reason")), ("fail", "bad hold in trailer"), a)
        a = t.enqueue_raw(env, b"X-Test-Id: trailer-hold-3\n\nbody\n", trailer=[("hold", "1"), ("hold", "1")])
        self.assertEqual((a.get("status"), a.get("reason")), ("fail", "duplicate hold in trailer"), a)
        self.assertEqual(len(t.queue_json()), 1)
