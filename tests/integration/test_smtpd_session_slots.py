"""smtpd: the per-client session limit (smtpd_client_connection_limit)
spares the networks of smtpd_client_limit_exceptions (by default
$mynetworks), and a session stops counting as soon as its client is gone
or has sent QUIT (issue 9, item 7)."""

import socket
import time

from postern_harness import HOST, PosternTestCase, deadline, make_message, wait_for

OTHER = "127.0.0.2"   # a loopback address outside mynetworks below


class Client:
    """A raw SMTP client bound to a chosen source address."""

    def __init__(self, port, source=HOST):
        self.sock = socket.create_connection((HOST, port), timeout=30, source_address=(source, 0))
        self.f = self.sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("connection closed after %r" % lines)
            lines.append(line.rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.f.close()
        finally:
            self.sock.close()


class SmtpdSessionSlots(PosternTestCase):

    def tree_with(self, **conf):
        t = self.start_tree(start=False)
        t.set_conf(**conf)
        t.start()
        return t

    def open(self, t, source=HOST):
        c = Client(t.port("smtp"), source)
        self.addCleanup(c.close)
        return c

    def test_mynetworks_clients_never_get_421(self):
        t = self.tree_with(smtpd_client_connection_limit="1", mynetworks="127.0.0.1/32")
        held = self.open(t)
        self.assertEqual(held.reply()[0], 220)
        # One session is open, the limit is 1: every further session from
        # 127.0.0.1 is still served, message after message.
        for i in range(60):
            c = Client(t.port("smtp"))
            try:
                code, text = c.reply()
                self.assertEqual(code, 220, (i, text))
                self.assertEqual(c.cmd(b"EHLO client.example")[0], 250)
                self.assertEqual(c.cmd(b"MAIL FROM:<s@example.org>")[0], 250)
                self.assertEqual(c.cmd(b"RCPT TO:<%s>" % t.addr("bob").encode())[0], 250)
                self.assertEqual(c.cmd(b"DATA")[0], 354)
                c.sock.sendall(make_message("slot-%d" % i, "s@example.org", t.addr("bob"), b"hi\r\n")
                               + b"\r\n.\r\n")
                self.assertEqual(c.reply()[0], 250)
                self.assertEqual(c.cmd(b"QUIT")[0], 221)
            finally:
                c.close()
        ids = t.wait_ids("bob", {"slot-%d" % i for i in range(60)})
        self.assertEqual(len(ids), 60)
        self.assertEqual(held.cmd(b"QUIT")[0], 221)

    def test_clients_outside_the_exceptions_still_limited(self):
        t = self.tree_with(smtpd_client_connection_limit="1", mynetworks="127.0.0.1/32")
        held = self.open(t, OTHER)
        self.assertEqual(held.reply()[0], 220)
        c = self.open(t, OTHER)
        code, text = c.reply()
        self.assertEqual(code, 421, text)
        self.assertTrue(text[-1].startswith(b"421 4.7.0 "), text)
        self.assertIn(b"too many connections from " + OTHER.encode(), text[-1])
        self.assertIn(b"too many sessions from this address", t.log_bytes())

    def test_empty_exceptions_limit_mynetworks_too(self):
        t = self.tree_with(smtpd_client_connection_limit="1", mynetworks="127.0.0.0/8",
                           smtpd_client_limit_exceptions="")
        held = self.open(t)
        self.assertEqual(held.reply()[0], 220)
        c = self.open(t)
        self.assertEqual(c.reply()[0], 421)

    def test_explicit_exception_network(self):
        t = self.tree_with(smtpd_client_connection_limit="1",
                           smtpd_client_limit_exceptions="$mynetworks 127.0.0.2")
        for source, want in ((OTHER, 220), (HOST, 421)):
            first = self.open(t, source)
            self.assertEqual(first.reply()[0], 220)
            second = self.open(t, source)
            self.assertEqual(second.reply()[0], want, source)

    def test_reconnect_after_quit_never_421(self):
        """A client under its limit that reconnects the moment QUIT is
        answered must never find its old session still counted."""
        t = self.tree_with(smtpd_client_connection_limit="1")
        # Margin: 400 sessions take a few seconds; 120 s (x SCALE) is a
        # budget for a busy machine, not a check of speed.
        end = deadline(120)
        for i in range(400):
            c = Client(t.port("smtp"), OTHER)
            try:
                code, text = c.reply()
                self.assertEqual(code, 220, "session %d: %r" % (i, text))
                self.assertEqual(c.cmd(b"QUIT")[0], 221)
            finally:
                c.close()
            self.assertLess(time.monotonic(), end, "400 sessions took too long")

    def test_reconnect_after_disconnect_counted_free(self):
        """A client that just closes (no QUIT) frees its slot as soon as
        smtpd sees the end of its stream: waiting for the log line of the
        lost connection, the next session is served."""
        t = self.tree_with(smtpd_client_connection_limit="1")
        for i in range(20):
            c = Client(t.port("smtp"), OTHER)
            self.assertEqual(c.reply()[0], 220, i)
            self.assertEqual(c.cmd(b"EHLO client.example")[0], 250)
            c.close()
            self.wait_lost(t, b"lost connection after EHLO from unknown[" + OTHER.encode() + b"]", i + 1)
            c = Client(t.port("smtp"), OTHER)
            code, text = c.reply()
            c.close()
            self.assertEqual(code, 220, "session %d: %r" % (i, text))
            self.wait_lost(t, b"lost connection after CONNECT from unknown[" + OTHER.encode() + b"]", i + 1)

    def wait_lost(self, t, line, n):
        """Until line (a lost connection) is in the log n times."""
        wait_for(lambda: t.log_bytes().count(line) >= n, 20, "%d x %r in the log" % (n, line),
                 detail=t.log_tail, interval=0.02)
