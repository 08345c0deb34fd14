"""A stalled TLS handshake is cut off by tls_handshake_timeout (issue 9,
item 10) on every TLS port: SMTPS, SMTP STARTTLS, POP3S and POP3 STLS.

A client sends the first bytes of a ClientHello and then nothing.  Before
the fix only the per-read timeout (smtpd_timeout 300 s, pop3_timeout
600 s) ended it, so a few such clients held every process of a service.
Here tls_handshake_timeout is 2 s: the server must close the connection
within a small margin of that, log why, and serve a real TLS client
right after, also when the stalled clients had taken every process of
the service (maxproc 2)."""

import os
import poplib
import re
import smtplib
import socket
import time
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, unverified_tls_context, wait_for

HANDSHAKE_S = 2
# Generous for a busy machine, and still far below smtpd_timeout (300 s)
# and pop3_timeout (600 s), which were the only bound before.
CLOSE_WITHIN_S = HANDSHAKE_S + 10 * SCALE

# A TLS record header (handshake, 512 bytes announced) and the
# ClientHello type byte: a real start that never completes.
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            raise AssertionError("connection closed in the plaintext part: %r" % data)
        data += c
    return data


def smtp_starttls_preamble(sock):
    assert read_line(sock).startswith(b"220")
    sock.sendall(b"EHLO client.example\r\n")
    while True:
        line = read_line(sock)
        if line[:4] == b"250 ":
            break
    sock.sendall(b"STARTTLS\r\n")
    line = read_line(sock)
    assert line.startswith(b"220"), line


def pop3_stls_preamble(sock):
    assert read_line(sock).startswith(b"+OK")
    sock.sendall(b"STLS\r\n")
    line = read_line(sock)
    assert line.startswith(b"+OK"), line


def stalled_client(port, preamble=None):
    """Connect, run the plaintext preamble, send half a ClientHello and
    stop: the socket, and the time the stall began."""
    s = socket.create_connection((HOST, port), timeout=30 * SCALE)
    if preamble is not None:
        preamble(s)
    s.sendall(PARTIAL_HELLO)
    return s, time.monotonic()


def wait_closed(sock, began, limit):
    """Seconds until the server closed sock (EOF or reset), reading
    whatever it sends (a TLS alert at most); None if still open at limit."""
    sock.settimeout(0.5)
    end = began + limit
    while time.monotonic() < end:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - began
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - began
    return None


class TlsHandshakeTimeout(PosternTestCase):

    def tree(self, maxproc=None):
        t = self.start_tree(start=False)
        t.set_conf(tls_handshake_timeout="%ds" % HANDSHAKE_S)
        if maxproc is not None:
            t.set_maxproc(("smtps", "pop3s"), maxproc)
        t.start()
        return t

    def assert_cut_off(self, t, port, preamble, log_pattern):
        s, began = stalled_client(port, preamble)
        try:
            took = wait_closed(s, began, CLOSE_WITHIN_S)
        finally:
            s.close()
        self.assertIsNotNone(took, "the server kept a stalled handshake open for %.0f s\n%s"
                             % (CLOSE_WITHIN_S, t.log_tail()))
        # Closed by the handshake bound, not at once for some other reason.
        self.assertGreaterEqual(took, HANDSHAKE_S - 0.5, "closed after %.2f s" % took)
        self.assertLess(took, CLOSE_WITHIN_S)
        self.wait_log(t, log_pattern)

    def wait_log(self, t, pattern):
        wait_for(lambda: re.search(pattern.encode(), t.log_bytes()), 10, "log line %r" % pattern,
                 detail=t.log_tail)

    def smtps_served(self, t):
        s = smtplib.SMTP_SSL(HOST, t.port("smtps"), local_hostname="client.example",
                             context=unverified_tls_context(), timeout=30 * SCALE)
        try:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
        finally:
            s.quit()

    def pop3s_served(self, t):
        p = poplib.POP3_SSL(HOST, t.port("pop3s"), context=unverified_tls_context(), timeout=30 * SCALE)
        try:
            p.user(t.addr("alice"))
            p.pass_(t.passwords["alice"])
            self.assertEqual(p.stat()[0], 0)
        finally:
            p.quit()

    def test_failed_handshake_is_logged_with_its_reason(self):
        # OpenSSL's reason was cleared before it was read: the log said
        # "TLS handshake failed: TLS handshake failed"; then the phrase
        # came twice, the caller's and stream_start_tls's.
        t = self.tree()
        with socket.create_connection((HOST, t.port("smtps")), timeout=30 * SCALE) as c:
            c.sendall(b"EHLO plain.example\r\n")
            try:
                while c.recv(4096):
                    pass
            except ConnectionResetError:
                pass   # the server's alert, then its close
        m = t.wait_log(r"smtpd\[\d+\]: unknown\[127\.0\.0\.1\]: TLS handshake failed: (.+)$")
        self.assertNotIn("TLS handshake failed", m.group(1))
        self.assertIn("version", m.group(1))   # OpenSSL: "wrong version number"
        self.smtps_served(t)

    def test_smtps_stalled_handshake_is_cut_off_and_logged(self):
        t = self.tree()
        self.assert_cut_off(t, t.port("smtps"), None,
                            r"smtpd\[\d+\]: unknown\[127\.0\.0\.1\]: TLS handshake timed out")
        self.smtps_served(t)

    def test_smtp_starttls_stalled_handshake_is_cut_off_and_logged(self):
        t = self.tree()
        self.assert_cut_off(t, t.port("smtp"), smtp_starttls_preamble,
                            r"smtpd\[\d+\]: unknown\[127\.0\.0\.1\]: TLS handshake timed out")
        s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname="client.example", timeout=30 * SCALE)
        try:
            s.starttls(context=unverified_tls_context())
            self.assertEqual(s.ehlo()[0], 250)
        finally:
            s.quit()

    def test_pop3s_stalled_handshake_is_cut_off_and_logged(self):
        t = self.tree()
        self.assert_cut_off(t, t.port("pop3s"), None,
                            r"client=127\.0\.0\.1: TLS handshake timed out")
        self.pop3s_served(t)

    def test_pop3_stls_stalled_handshake_is_cut_off_and_logged(self):
        t = self.tree()
        self.assert_cut_off(t, t.port("pop3"), pop3_stls_preamble,
                            r"client=127\.0\.0\.1: STLS failed: TLS handshake timed out")
        p = poplib.POP3(HOST, t.port("pop3"), timeout=30 * SCALE)
        try:
            p.stls(context=unverified_tls_context())
            p.user(t.addr("alice"))
            p.pass_(t.passwords["alice"])
            self.assertEqual(p.stat()[0], 0)
        finally:
            p.quit()

    def test_stalled_clients_holding_every_process_do_not_lock_out_others(self):
        # The attack of the issue, scaled down: as many stalled clients as
        # the service has processes.  A real client is served once the
        # bound has freed them, not after smtpd_timeout / pop3_timeout.
        t = self.tree(maxproc=2)
        for service, served in (("smtps", self.smtps_served), ("pop3s", self.pop3s_served)):
            stalled = [stalled_client(t.port(service)) for _ in range(2)]
            try:
                began = time.monotonic()
                served(t)
                self.assertLess(time.monotonic() - began, CLOSE_WITHIN_S,
                                "%s: a real client waited for the stalled ones" % service)
            finally:
                for s, _ in stalled:
                    s.close()


if __name__ == "__main__":
    unittest.main()
