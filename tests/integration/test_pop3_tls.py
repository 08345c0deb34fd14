"""POP3 over TLS (issue 6): STLS (RFC 2595) on the pop3 port and implicit
TLS on pop3s (port base + 995), with poplib and curl; the login process
keeps TLS and proxies the session's bytes."""

import os
import poplib
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from postern_harness import BIN, HOST, SCALE, PosternTestCase, daemon_env
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

    def test_pop3s_long_pipelined_burst_completes_promptly(self):
        # Review finding 4: bytes OpenSSL has decrypted but not handed over
        # are invisible to poll(); the proxy must not wait on the socket
        # while it holds them.  One TLS record of ~10 KB of commands, with
        # line ends at every read size the login's buffer may have, so a
        # read ends exactly at a line end with the rest still in OpenSSL.
        t = self.start_with_mail()
        s = tls_context(t).wrap_socket(socket.create_connection((HOST, t.port("pop3s")),
                                                                timeout=30 * SCALE))
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        for cmd in (b"USER " + t.addr("alice").encode(), b"PASS " + t.passwords["alice"].encode()):
            s.sendall(cmd + b"\r\n")
            self.assertTrue(f.readline().startswith(b"+OK"))
        burst, n = b"", 0
        for boundary in (4096, 4351, 6144, 8192, 8702, 10240):
            gap = boundary - len(burst)
            while gap > 0:
                # "UIDL 1" is 8 bytes; leading zeros make a line longer.
                take = gap if gap < 16 else 8
                burst += b"UIDL " + b"0" * (take - 8) + b"1\r\n"
                gap -= take
                n += 1
            self.assertEqual(len(burst), boundary)
        s.settimeout(15 * SCALE)
        start = time.monotonic()
        s.sendall(burst)                      # < 16 KB: one TLS record
        for i in range(n):
            line = f.readline()
            self.assertTrue(line.startswith(b"+OK 1 "), "reply %d of %d: %r" % (i + 1, n, line))
        # Margin: the replies need milliseconds; a proxy that stalls waits
        # for the 15 s socket timeout (x SCALE), so 10 s tells them apart.
        self.assertLess(time.monotonic() - start, 10 * SCALE)
        s.sendall(b"QUIT\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))

    def test_unknown_client_address_is_not_loopback(self):
        # Review finding 8: when the peer address cannot be learnt (here:
        # stdin is a pipe), plaintext login is not allowed as if loopback.
        t = self.start_tree()
        p = subprocess.run([os.path.join(BIN, "popd"), "-c", os.path.join(t.dir, "etc"), "-i"],
                           input=b"CAPA\r\nUSER " + t.addr("alice").encode() + b"\r\nQUIT\r\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=daemon_env(),
                           timeout=30 * SCALE)
        lines = p.stdout.split(b"\r\n")
        self.assertTrue(lines[0].startswith(b"+OK"), p.stdout + p.stderr)
        capa = lines[1:lines.index(b".")]
        self.assertNotIn(b"USER", capa)
        self.assertNotIn(b"SASL PLAIN", capa)
        user = lines[lines.index(b".") + 1]
        self.assertTrue(user.startswith(b"-ERR"), p.stdout)

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
