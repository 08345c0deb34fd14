"""POP3 (issue 6) with Python's poplib and raw sockets: every command,
UIDL from the mailbox store, DELE semantics, [IN-USE], a delivery during
a session, SASL PLAIN, the plaintext policy and pipelining across the
login -> session handoff."""

import base64
import poplib
import socket
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, deadline


class RawPOP3:
    """Byte-level POP3 for what poplib hides (pipelining, exact replies)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection((HOST, port), timeout=timeout * SCALE)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; unread %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def multi(self):
        out = []
        while True:
            l = self.line()
            if l == b".":
                return out
            out.append(l)

    def send(self, data):
        self.sock.sendall(data)

    def closed(self):
        """True if the server closed the connection (reads EOF)."""
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()


def login(tree, user):
    return tree.pop3(user)


class Pop3Commands(PosternTestCase):

    def deliver(self, t, user, ids, body=b"hello\r\n"):
        for i in ids:
            t.send(t.addr(user), i, body=body)
        got = t.wait_ids(user, ids)
        self.assertTrue(set(ids) <= set(got), "delivered: %r" % got)

    def test_every_command_and_uidl_stable_across_sessions_and_deliveries(self):
        t = self.start_tree()
        body = b"line one\r\n.starts with a dot\r\n..two dots\r\nlast\r\n"
        for i in ("c1", "c2", "c3"):                       # one by one: numbers follow arrival
            self.deliver(t, "alice", [i], body=body)
        p = login(t, "alice")
        caps = p.capa()
        for c in ("TOP", "UIDL", "RESP-CODES", "PIPELINING"):
            self.assertIn(c, caps)
        count, size = p.stat()
        self.assertEqual(count, 3)
        _, listing, _ = p.list()
        sizes = [int(e.split()[1]) for e in listing]
        self.assertEqual(sum(sizes), size)
        self.assertEqual(p.list(2).split()[2], str(sizes[1]).encode())
        _, uidl, _ = p.uidl()
        uids = [e.split()[1] for e in uidl]
        self.assertEqual(len(set(uids)), 3)
        self.assertEqual(p.uidl(2).split()[2], uids[1])
        _, lines, octets = p.retr(2)
        self.assertIn(b".starts with a dot", lines)        # unstuffed by poplib
        self.assertIn(b"..two dots", lines)
        self.assertIn(b"X-Test-Id: c2", lines)
        _, top0, _ = p.top(1, 0)
        self.assertIn(b"X-Test-Id: c1", top0)
        self.assertNotIn(b"line one", top0)
        _, top1, _ = p.top(1, 1)
        self.assertEqual(top1[-1], b"line one")
        self.assertTrue(p.dele(3).startswith(b"+OK"))
        with self.assertRaises(poplib.error_proto):
            p.retr(3)                                      # deleted
        self.assertEqual(p.stat()[0], 2)
        p.rset()
        self.assertEqual(p.stat()[0], 3)
        self.assertTrue(p.noop().startswith(b"+OK"))
        with self.assertRaises(poplib.error_proto):
            p.retr(4)
        p.dele(1)
        p.quit()
        # UIDL stable for the rest across sessions and new deliveries.
        self.deliver(t, "alice", ["c4"])
        p = login(t, "alice")
        _, uidl2, _ = p.uidl()
        uids2 = [e.split()[1] for e in uidl2]
        self.assertEqual(uids2[:2], uids[1:])
        self.assertEqual(len(uids2), 3)
        self.assertNotIn(uids2[2], uids)                   # never reused
        p.quit()

    def test_dele_then_dropped_connection_keeps_the_message(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["d1"])
        p = login(t, "alice")
        p.dele(1)
        p.sock.shutdown(socket.SHUT_RDWR)                  # dropped: no QUIT
        p.file.close()
        p.sock.close()
        t.wait_log(r"pop3-session\[\d+\]: logout user=alice@")   # the session saw the drop
        p = t.pop3_retrying("alice")
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_second_session_gets_in_use_and_delivery_during_session(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["u1"])
        p = login(t, "alice")
        self.assertEqual(p.stat()[0], 1)
        second = poplib.POP3(HOST, t.port("pop3"), timeout=30 * SCALE)
        second.user(t.addr("alice"))
        with self.assertRaises(poplib.error_proto) as cm:
            second.pass_(t.passwords["alice"])
        self.assertIn(b"[IN-USE]", cm.exception.args[0])
        second.close()
        self.deliver(t, "alice", ["u2"])                   # arrives while the session is open
        self.assertEqual(p.stat()[0], 1)                   # RFC 1939: fixed listing
        p.quit()
        p = login(t, "alice")
        self.assertEqual(p.stat()[0], 2)
        p.quit()
        p = login(t, "bob")                                # other mailboxes are not locked
        p.quit()

    def test_reconnect_right_after_quit_never_finds_the_maildrop_in_use(self):
        # The session releases its lock before QUIT's +OK goes out: a
        # client that logs in again at once (fetchmail polling in a loop,
        # a second account pass) must get the maildrop, not [IN-USE].
        # Once caught in CI under reloads, when the old session process
        # was descheduled between its reply and its unlock.
        t = self.start_tree()
        self.deliver(t, "alice", ["q1"])
        for i in range(60):
            p = login(t, "alice")
            self.assertEqual(p.stat()[0], 1, "session %d" % i)
            p.quit()

    def test_sasl_plain_with_and_without_initial_response(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["s1"])
        cred = base64.b64encode(b"\0" + t.addr("alice").encode() + b"\0" + t.passwords["alice"].encode())
        r = RawPOP3(t.port("pop3"))
        self.assertTrue(r.line().startswith(b"+OK"))
        r.send(b"CAPA\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertIn(b"SASL PLAIN", r.multi())
        r.send(b"AUTH PLAIN " + cred + b"\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        r.send(b"STAT\r\n")
        self.assertTrue(r.line().startswith(b"+OK 1 "))
        r.send(b"QUIT\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        r.close()
        r = RawPOP3(t.port("pop3"))
        r.line()
        r.send(b"AUTH PLAIN\r\n")
        self.assertEqual(r.line(), b"+ ")
        r.send(b"*\r\n")                                   # RFC 5034: cancel
        self.assertTrue(r.line().startswith(b"-ERR"))
        r.send(b"AUTH PLAIN\r\n")
        self.assertEqual(r.line(), b"+ ")
        r.send(cred + b"\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        r.send(b"QUIT\r\n")
        r.line()
        r.close()
        bad = base64.b64encode(b"\0" + t.addr("alice").encode() + b"\0wrong")
        r = RawPOP3(t.port("pop3"))
        r.line()
        r.send(b"AUTH PLAIN " + bad + b"\r\n")
        self.assertTrue(r.line().startswith(b"-ERR [AUTH]"))
        r.close()

    def test_pipelined_login_and_commands_cross_the_handoff(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["p1", "p2"])
        r = RawPOP3(t.port("pop3"))
        r.line()
        r.send(b"USER " + t.addr("alice").encode() + b"\r\nPASS " + t.passwords["alice"].encode() +
               b"\r\nSTAT\r\nUIDL\r\nLIST 2\r\nQUIT\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))       # USER
        self.assertTrue(r.line().startswith(b"+OK"))       # PASS (from the session process)
        self.assertTrue(r.line().startswith(b"+OK 2 "))    # STAT
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertEqual(len(r.multi()), 2)
        self.assertTrue(r.line().startswith(b"+OK 2 "))
        self.assertTrue(r.line().startswith(b"+OK"))       # QUIT
        self.assertTrue(r.closed())
        r.close()

    def test_plaintext_login_refused_when_policy_says_no(self):
        t = self.start_tree(start=False)
        t.set_conf(pop3_plaintext_auth="no")
        t.start()
        r = RawPOP3(t.port("pop3"))
        r.line()
        r.send(b"CAPA\r\n")
        r.line()
        caps = r.multi()
        self.assertNotIn(b"USER", caps)
        self.assertNotIn(b"SASL PLAIN", caps)
        self.assertIn(b"STLS", caps)
        r.send(b"USER " + t.addr("alice").encode() + b"\r\n")
        self.assertTrue(r.line().startswith(b"-ERR [AUTH]"))
        r.send(b"STAT\r\n")
        self.assertTrue(r.line().startswith(b"-ERR"))
        r.close()


if __name__ == "__main__":
    unittest.main()
