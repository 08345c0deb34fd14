"""The TLS policy of every server port (common/tls.c, docs/tls.md; issue
14, the testssl.sh review): what testssl.sh checked, asserted with
Python's ssl on the implicit-TLS ports SMTPS, POP3S and IMAPS (the
STARTTLS ports use the same server context).

- TLS 1.0 and 1.1 are refused (RFC 8996).
- The server keeps its own suite order (TLS 1.2): a client that lists
  AES-256 first still gets the AES-128 suite Postern puts first.
- No session resumption: no session ID to resume (no cache) and no
  session ticket, TLS 1.2 or 1.3.  Before the fix, SSL_OP_NO_TICKET
  alone still let OpenSSL send TLS 1.3 tickets (stateful ones naming a
  cache entry that never existed), which no client could redeem and
  which testssl.sh reported as a connect problem."""

import socket
import ssl

from postern_harness import HOST, SCALE, PosternTestCase, unverified_tls_context

IMPLICIT_TLS = ("smtps", "pop3s", "imaps")
GREETING = {"smtps": b"220 ", "pop3s": b"+OK", "imaps": b"* OK"}


class TlsPolicy(PosternTestCase):

    def setUp(self):
        self.tree = self.start_tree(users=())

    def connect(self, service, ctx):
        """A TLS session on service with ctx, its greeting read (so that
        TLS 1.3 post-handshake messages such as tickets have arrived)."""
        raw = socket.create_connection((HOST, self.tree.port(service)), timeout=10 * SCALE)
        s = ctx.wrap_socket(raw)
        greeting = s.recv(200)
        self.assertTrue(greeting.startswith(GREETING[service]), "%s greeting %r" % (service, greeting))
        return s

    def test_tls_1_0_and_1_1_refused_on_every_implicit_tls_port(self):
        ctx = unverified_tls_context()
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as e:
            self.skipTest("this OpenSSL cannot offer TLS 1.1: %r" % e)
        for service in IMPLICIT_TLS:
            with self.subTest(service=service):
                raw = socket.create_connection((HOST, self.tree.port(service)), timeout=10 * SCALE)
                try:
                    with self.assertRaises((ssl.SSLError, OSError)):
                        ctx.wrap_socket(raw).recv(10)
                finally:
                    raw.close()

    def test_server_suite_order_wins_in_tls_1_2(self):
        ctx = unverified_tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        # postern init's certificate is ECDSA P-256.
        ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
        for service in IMPLICIT_TLS:
            with self.subTest(service=service):
                s = self.connect(service, ctx)
                try:
                    self.assertEqual(s.version(), "TLSv1.2")
                    self.assertEqual(s.cipher()[0], "ECDHE-ECDSA-AES128-GCM-SHA256")
                finally:
                    s.close()

    def test_no_session_ticket_and_no_session_id_to_resume(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx = unverified_tls_context()
            ctx.minimum_version = ctx.maximum_version = version
            for service in IMPLICIT_TLS:
                with self.subTest(service=service, version=version.name):
                    s = self.connect(service, ctx)
                    try:
                        self.assertEqual(s.version(), version.name.replace("v1_", "v1."))
                        self.assertFalse(s.session.has_ticket, "the server sent a session ticket")
                        self.assertEqual(s.session.id, b"", "the server gave a session ID to resume")
                    finally:
                        s.close()
