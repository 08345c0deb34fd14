"""SPF (RFC 7208) in smtpd and its Authentication-Results header (RFC 8601).

A dnsmasq on a loopback port serves the SPF records of the .test
domains; the SMTP clients connect from different loopback addresses
(127.0.0.2, 127.0.0.3, ...), so each record can name the ones it allows.
Each test checks the Authentication-Results field of the delivered
message (or the 550 5.7.23 of spf_reject_fail), and one compares our
results with pyspf (python3-spf, which policyd-spf uses) for the same
records.  Without dnsmasq the tests are skipped and say so.
"""

import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, make_message, wait_for
from test_remote_delivery import DNSMASQ, Dnsmasq, have

MYHOST = "mx.postern.test"
PASS_IP, FAIL_IP, OTHER_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4"

# One argv word each: quotes would end up in the TXT data.
RECORDS = [
    "--txt-record=pass.test,v=spf1 ip4:%s -all" % PASS_IP,
    "--txt-record=fail.test,v=spf1 ip4:192.0.2.1 -all",
    "--txt-record=soft.test,v=spf1 ip4:192.0.2.1 ~all",
    "--txt-record=neutral.test,v=spf1 ?all",
    "--host-record=none.test,192.0.2.1",
    "--txt-record=inc.test,v=spf1 include:pass.test -all",
    "--txt-record=redir.test,v=spf1 redirect=pass.test",
    "--txt-record=mac.test,v=spf1 exists:%{i}.%{l}._spf.mac.test -all",
    "--host-record=%s.alice._spf.mac.test,127.0.0.1" % PASS_IP,
    "--txt-record=amx.test,v=spf1 a:host.amx.test/32 mx -all",
    "--host-record=host.amx.test,%s" % OTHER_IP,
    "--mx-host=amx.test,mail.amx.test,10",
    "--host-record=mail.amx.test,%s" % PASS_IP,
    "--txt-record=many.test,v=spf1 a:h1.many.test a:h2.many.test a:h3.many.test a:h4.many.test "
    "a:h5.many.test a:h6.many.test a:h7.many.test a:h8.many.test a:h9.many.test a:h10.many.test "
    "a:h11.many.test -all",
    "--txt-record=void.test,v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test ip4:%s -all" % PASS_IP,
    "--txt-record=expl.test,v=spf1 -all exp=why.expl.test",
    "--txt-record=why.expl.test,%{i} may not send for %{d}",
    "--txt-record=badhelo.test,v=spf1 -all",
    "--txt-record=goodhelo.test,v=spf1 ip4:%s -all" % PASS_IP,
    "--txt-record=syntax.test,v=spf1 ip4:300.1.1.1 -all",
] + ["--host-record=h%d.many.test,192.0.2.%d" % (i, i) for i in range(1, 12)]

# pyspf's view of the same records, for the interop test.
PYSPF = """import sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
import spf
for line in sys.stdin:
    ip, sender, helo = line.split()
    print(spf.check2(i=ip, s=sender, h=helo, querytime=20)[0])
"""


def can_bind(addr):
    s = socket.socket()
    try:
        s.bind((addr, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def dns_tree(case, dns_port, **conf):
    """A started tree named MYHOST whose resolver is the dnsmasq on
    dns_port; SPF skips only 127.0.0.1, so 127.0.0.2... are checked."""
    t = case.start_tree(start=False)
    path = os.path.join(t.dir, "etc", "postern.conf")
    with open(path) as f:
        lines = [l for l in f.read().split("\n") if not l.startswith("myhostname =")]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    settings = {"myhostname": MYHOST, "dns_servers": "127.0.0.1:%d" % dns_port,
                "dns_timeout": "2s", "spf_skip_addresses": "127.0.0.1/32"}
    settings.update(conf)
    t.set_conf(**settings)
    t.start()
    return t


def start_dnsmasq(records, work, probe):
    """A Dnsmasq answering for probe; work is removed when it cannot
    start.  The free port may be taken before dnsmasq binds it (other
    tests run on this machine): a few tries."""
    for attempt in range(3):
        dns = Dnsmasq(records, work)
        try:
            return dns.wait(probe)
        except BaseException:
            dns.stop()
            with open(dns.log) as f:
                taken = "Address already in use" in f.read()
            if attempt == 2 or not taken:
                shutil.rmtree(work, True)
                raise


def delivered_head(case, t, user, test_id):
    """The header section of the one copy of test_id user got."""
    case.assertEqual(t.wait_ids(user, {test_id}).get(test_id), 1, t.log_tail())
    for path in t.message_paths(user):
        with open(path, "rb") as f:
            head = f.read().split(b"\n\n", 1)[0]
        if b"\nX-Test-Id: " + test_id.encode() + b"\n" in head + b"\n":
            return head.decode()
    case.fail("message %s not found" % test_id)


@unittest.skipUnless(have(DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
class SmtpdSpf(PosternTestCase):

    @classmethod
    def setUpClass(cls):
        if not can_bind(FAIL_IP):
            raise unittest.SkipTest("cannot bind client sockets to 127.0.0.x addresses")
        cls.work = tempfile.mkdtemp(prefix="postern-it-spf-")
        cls.dns = start_dnsmasq(RECORDS, cls.work, "pass.test")

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.work, True)

    def tree(self, **conf):
        return dns_tree(self, self.dns.port, **conf)

    def session(self, t, src, helo="client.example"):
        s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname=helo, timeout=60 * SCALE,
                         source_address=(src, 0))
        self.addCleanup(s.close)
        s.ehlo()
        return s

    def send(self, t, src, sender, test_id, helo="client.example", extra=()):
        """Send one message to bob from src; its delivered header section."""
        bob = t.addr("bob")
        s = self.session(t, src, helo)
        s.sendmail(sender, [bob], make_message(test_id, sender or "x@client.example", bob, b"hi\r\n",
                                               extra))
        s.quit()
        return delivered_head(self, t, "bob", test_id)

    def ar(self, head):
        """Our Authentication-Results field, unfolded (it comes right
        after our Received), and all of them."""
        lines = head.split("\n")
        fields, cur = [], None
        for line in lines:
            if line[:1] in (" ", "\t") and cur is not None:
                cur += " " + line.strip()
                continue
            if cur is not None:
                fields.append(cur)
            cur = line
        fields.append(cur)
        names = [f.split(":", 1)[0].lower() for f in fields]
        # Return-Path and Delivered-To come from local delivery.
        self.assertEqual(names[:4], ["return-path", "delivered-to", "received", "authentication-results"],
                         head)
        return fields[3], [f for f in fields if f.lower().startswith("authentication-results:")]

    def assert_mailfrom_results(self, t, cases):
        """Send each (test id, client address, sender, SPF result) and
        check the delivered message's Authentication-Results."""
        for test_id, src, sender, want in cases:
            field, _ = self.ar(self.send(t, src, sender, test_id))
            self.assertEqual(field, "Authentication-Results: %s; spf=%s smtp.mailfrom=%s"
                             % (MYHOST, want, sender), test_id)

    def test_results_pass_fail_softfail_neutral_none(self):
        t = self.tree()
        self.assert_mailfrom_results(t, [
            ("spf-pass", PASS_IP, "alice@pass.test", "pass"),
            ("spf-fail", FAIL_IP, "alice@pass.test", "fail"),
            ("spf-fail2", PASS_IP, "x@fail.test", "fail"),
            ("spf-soft", PASS_IP, "x@soft.test", "softfail"),
            ("spf-neutral", FAIL_IP, "x@neutral.test", "neutral"),
            ("spf-none", PASS_IP, "x@none.test", "none"),
        ])
        self.assertIn("SPF fail: client=unknown[%s], identity=mailfrom" % FAIL_IP, t.log_text())

    def test_include_redirect_macros_a_and_mx(self):
        t = self.tree()
        self.assert_mailfrom_results(t, [
            ("inc-pass", PASS_IP, "x@inc.test", "pass"),
            ("inc-fail", FAIL_IP, "x@inc.test", "fail"),
            ("redir-pass", PASS_IP, "x@redir.test", "pass"),
            ("redir-fail", FAIL_IP, "x@redir.test", "fail"),
            ("mac-pass", PASS_IP, "alice@mac.test", "pass"),
            ("mac-user", PASS_IP, "bob@mac.test", "fail"),
            ("mac-ip", FAIL_IP, "alice@mac.test", "fail"),
            ("a-pass", OTHER_IP, "x@amx.test", "pass"),
            ("mx-pass", PASS_IP, "x@amx.test", "pass"),
            ("amx-fail", FAIL_IP, "x@amx.test", "fail"),
        ])

    def test_permerror_on_limits_and_syntax(self):
        t = self.tree()
        field, _ = self.ar(self.send(t, PASS_IP, "x@many.test", "perm-many"))
        self.assertEqual(field, 'Authentication-Results: %s; spf=permerror reason="more than 10 DNS lookups" '
                         'smtp.mailfrom=x@many.test' % MYHOST)
        field, _ = self.ar(self.send(t, PASS_IP, "x@void.test", "perm-void"))
        self.assertEqual(field, 'Authentication-Results: %s; spf=permerror reason="more than 2 void DNS '
                         'lookups" smtp.mailfrom=x@void.test' % MYHOST)
        field, _ = self.ar(self.send(t, PASS_IP, "x@syntax.test", "perm-syntax"))
        self.assertTrue(field.startswith("Authentication-Results: %s; spf=permerror reason=\"bad SPF record"
                                         % MYHOST), field)

    def test_helo_identity_decides_and_null_sender(self):
        t = self.tree()
        # A failing HELO decides, whatever the sender's domain says.
        field, _ = self.ar(self.send(t, PASS_IP, "x@pass.test", "helo-fail", helo="badhelo.test"))
        self.assertEqual(field, "Authentication-Results: %s; spf=fail smtp.helo=badhelo.test" % MYHOST)
        # <> is postmaster@HELO (RFC 7208 2.4).
        field, _ = self.ar(self.send(t, PASS_IP, "", "helo-null", helo="goodhelo.test"))
        self.assertEqual(field, "Authentication-Results: %s; spf=pass smtp.helo=goodhelo.test" % MYHOST)
        field, _ = self.ar(self.send(t, FAIL_IP, "", "helo-null-fail", helo="goodhelo.test"))
        self.assertEqual(field, "Authentication-Results: %s; spf=fail smtp.helo=goodhelo.test" % MYHOST)

    def test_reject_fail_answers_550_with_the_explanation(self):
        t = self.tree(spf_reject_fail="yes")
        bob = t.addr("bob")
        s = self.session(t, FAIL_IP)
        self.assertEqual(s.mail("x@fail.test")[0], 250)
        code, text = s.rcpt(bob)
        self.assertEqual(code, 550, text)
        self.assertEqual(text.decode(), "5.7.23 <%s>: Recipient address rejected: SPF fail: "
                         "%s not permitted for the sender domain" % (bob, FAIL_IP))
        s.rset()
        self.assertEqual(s.mail("x@expl.test")[0], 250)
        code, text = s.rcpt(bob)
        self.assertEqual((code, text.decode()), (550, "5.7.23 <%s>: Recipient address rejected: SPF fail: "
                                                      "%s may not send for expl.test" % (bob, FAIL_IP)))
        s.rset()
        # softfail and pass are accepted.
        self.assertEqual(s.mail("x@soft.test")[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        s.rset()
        s.quit()
        field, _ = self.ar(self.send(t, PASS_IP, "x@pass.test", "reject-pass"))
        self.assertIn("spf=pass", field)

    def test_temperror_with_a_dead_dns_server(self):
        quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        quiet.bind(("127.0.0.1", 0))   # takes the queries, never answers
        self.addCleanup(quiet.close)
        t = self.tree(dns_servers="127.0.0.1:%d" % quiet.getsockname()[1], dns_timeout="1s", dns_tries="1")
        field, _ = self.ar(self.send(t, PASS_IP, "x@pass.test", "temp-1"))
        self.assertTrue(field.startswith("Authentication-Results: %s; spf=temperror reason=\"DNS: "
                                         % MYHOST), field)
        self.assertTrue(field.endswith(" smtp.mailfrom=x@pass.test"), field)

    def test_forged_authentication_results_removed_foreign_kept(self):
        t = self.tree()
        extra = (b"Authentication-Results: " + MYHOST.upper().encode() + b";\r\n\tspf=pass smtp.mailfrom=x@fail.test",
                 b"Authentication-Results: other.example; dkim=pass header.d=fail.test",
                 b"Authentication-Results: (forged) " + MYHOST.encode() + b" 1; dmarc=pass")
        head = self.send(t, PASS_IP, "x@fail.test", "forged", extra=extra)
        field, all_ar = self.ar(head)
        self.assertEqual(field, "Authentication-Results: %s; spf=fail smtp.mailfrom=x@fail.test" % MYHOST)
        self.assertEqual(all_ar[1:], ["Authentication-Results: other.example; dkim=pass header.d=fail.test"])
        self.assertIn("removed 2 Authentication-Results header(s) claiming authserv-id %s" % MYHOST, t.log_text())

    def test_not_checked_for_skipped_and_mynetworks_clients(self):
        t = self.tree(mynetworks="%s/32" % FAIL_IP)
        head = self.send(t, "127.0.0.1", "x@fail.test", "skip-1",
                         extra=(b"Authentication-Results: " + MYHOST.encode() + b"; spf=pass",))
        # not checked: "none" (RFC 8601 2.2), the forged field removed
        self.assertEqual(self.ar(head), ("Authentication-Results: %s; none" % MYHOST,
                                         ["Authentication-Results: %s; none" % MYHOST]))
        head = self.send(t, FAIL_IP, "x@fail.test", "mynet-1")
        self.assertEqual(self.ar(head)[1], ["Authentication-Results: %s; none" % MYHOST])

    def test_same_results_as_pyspf(self):
        if not os.path.exists("/usr/bin/python3") or subprocess.run(
                ["/usr/bin/python3", "-c", "import spf, dns.resolver"], capture_output=True).returncode != 0:
            self.skipTest("pyspf is not installed (Debian package python3-spf)")
        cases = [(PASS_IP, "a@pass.test"), (FAIL_IP, "a@pass.test"), (PASS_IP, "a@soft.test"),
                 (FAIL_IP, "a@neutral.test"), (PASS_IP, "a@none.test"), (FAIL_IP, "a@inc.test"),
                 (PASS_IP, "a@redir.test"), (PASS_IP, "alice@mac.test"), (PASS_IP, "bob@mac.test"),
                 (OTHER_IP, "a@amx.test"), (PASS_IP, "a@amx.test"), (FAIL_IP, "a@amx.test"),
                 (PASS_IP, "a@many.test"), (PASS_IP, "a@void.test"), (PASS_IP, "a@syntax.test"),
                 (FAIL_IP, "a@expl.test")]
        script = os.path.join(self.work, "pyspf_check.py")
        with open(script, "w") as f:
            f.write(PYSPF)
        out = subprocess.run(["/usr/bin/python3", script, str(self.dns.port)], capture_output=True, check=True,
                             input="".join("%s %s client.example\n" % c for c in cases).encode(),
                             timeout=120 * SCALE).stdout.decode().split()
        t = self.tree()
        ours = []
        for i, (src, sender) in enumerate(cases):
            field, _ = self.ar(self.send(t, src, sender, "interop-%d" % i))
            ours.append(field.split("spf=", 1)[1].split()[0])
        self.assertEqual(ours, out)


if __name__ == "__main__":
    unittest.main()
