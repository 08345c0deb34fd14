"""POP3 over TLS (issue 6): STLS (RFC 2595) on the pop3 port and implicit
TLS on pop3s (port base + 995), with poplib and curl; the login process
keeps TLS and proxies the session's bytes."""

import poplib
import shutil
import ssl
import subprocess
import unittest

from postern_harness import HOST, SCALE, PosternTestCase
from test_pop3_commands import RawPOP3


def tls_context(tree):
    """Trust exactly the tree's self-signed certificate (no host name: we
    connect by address)."""
    ctx = ssl.create_default_context(cafile=tree.cert_path())
    ctx.check_hostname = False
    return ctx


class Pop3Tls(PosternTestCase):

    def start_with_mail(self, **conf):
        t = self.start_tree(start=False)
        if conf:
            t.set_conf(**conf)
        t.start()
        body = b"over tls\r\n" + b"x" * 200 + b"\r\n"
        # One at a time: parallel local deliveries may finish in either
        # order, and the tests below expect t1 to be message 1.
        for i in ("t1", "t2"):
            t.send(t.addr("alice"), i, body=body * 100)     # ~20 KB: several TLS records
            self.assertIn(i, t.wait_ids("alice", [i]))
        return t

    def test_stls_then_plaintext_policy_no_allows_login(self):
        t = self.start_with_mail(pop3_plaintext_auth="no")
        p = poplib.POP3(HOST, t.port("pop3"), timeout=30 * SCALE)
        self.assertIn("STLS", p.capa())
        self.assertNotIn("USER", p.capa())
        p.stls(context=tls_context(t))
        caps = p.capa()
        self.assertIn("USER", caps)                         # offered once encrypted
        self.assertNotIn("STLS", caps)
        p.user(t.addr("alice"))
        p.pass_(t.passwords["alice"])
        self.assertEqual(p.stat()[0], 2)
        _, lines, _ = p.retr(1)
        self.assertIn(b"X-Test-Id: t1", lines)
        self.assertEqual(lines.count(b"over tls"), 100)
        _, uidl, _ = p.uidl()
        self.assertEqual(len(uidl), 2)
        p.dele(1)
        p.quit()
        p = poplib.POP3_SSL(HOST, t.port("pop3s"), context=tls_context(t), timeout=30 * SCALE)
        p.user(t.addr("alice"))
        p.pass_(t.passwords["alice"])
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_pop3s_implicit_tls_with_poplib_and_pipelining(self):
        t = self.start_with_mail()
        p = poplib.POP3_SSL(HOST, t.port("pop3s"), context=tls_context(t), timeout=30 * SCALE)
        caps = p.capa()
        self.assertIn("SASL", caps)
        self.assertNotIn("STLS", caps)
        p.user(t.addr("alice"))
        p.pass_(t.passwords["alice"])
        # Several commands in one TLS write: the proxy keeps their order.
        p.sock.sendall(b"STAT\r\nLIST\r\nNOOP\r\n")
        self.assertTrue(p._getresp().startswith(b"+OK 2 "))
        self.assertTrue(p._getlongresp()[0].startswith(b"+OK"))
        self.assertTrue(p._getresp().startswith(b"+OK"))
        _, lines, _ = p.retr(2)
        self.assertIn(b"X-Test-Id: t2", lines)
        p.quit()

    def test_stls_refused_twice_and_plain_bytes_before_tls_are_dropped(self):
        t = self.start_with_mail()
        r = RawPOP3(t.port("pop3"))
        r.line()
        # CVE-2011-0411 style injection: a command sent in plaintext after
        # STLS must not be executed inside TLS.
        r.send(b"STLS\r\nCAPA\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        ctx = tls_context(t)
        s = ctx.wrap_socket(r.sock, server_hostname=None)
        s.sendall(b"NOOP\r\n")
        data = b""
        while b"\r\n" not in data:
            data += s.recv(4096)
        self.assertTrue(data.startswith(b"-ERR"), data)      # NOOP before login; no CAPA listing
        s.sendall(b"STLS\r\n")
        data = b""
        while b"\r\n" not in data:
            data += s.recv(4096)
        self.assertTrue(data.startswith(b"-ERR"), data)
        s.close()

    def test_curl_over_stls_and_pop3s(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl is not installed (Debian package curl)")
        t = self.start_with_mail()
        user = "%s:%s" % (t.addr("alice"), t.passwords["alice"])
        for url, extra in (("pop3://%s:%d/1" % (HOST, t.port("pop3")), ["--ssl-reqd"]),
                           ("pop3s://%s:%d/2" % (HOST, t.port("pop3s")), [])):
            out = subprocess.run([curl, "-s", "-S", "-k", "--user", user, url] + extra,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SCALE)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(b"over tls", out.stdout)


if __name__ == "__main__":
    unittest.main()
