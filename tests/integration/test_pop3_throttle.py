"""Failed POP3 logins are throttled (issue 6): authd counts failures per
client address and per user (shared by every login process), the login
process waits longer after each, and once a limit is reached the client
is told [AUTH] and disconnected, even with the right password."""

import time
import unittest

from postern_harness import SCALE, PosternTestCase
from test_pop3_commands import RawPOP3


class Pop3Throttle(PosternTestCase):

    def attempt(self, t, user, password):
        """(reply line to PASS, seconds it took, whether the server closed)."""
        r = RawPOP3(t.port("pop3"))
        r.line()
        r.send(b"USER " + t.addr(user).encode() + b"\r\n")
        r.line()
        start = time.monotonic()
        r.send(b"PASS " + password.encode() + b"\r\n")
        reply = r.line()
        took = time.monotonic() - start
        closed = False
        if reply.startswith(b"-ERR"):
            r.send(b"NOOP\r\n")
            try:
                closed = r.closed() or r.line() == b""
            except (EOFError, OSError):
                closed = True
        else:
            r.send(b"QUIT\r\n")
        r.close()
        return reply, took, closed

    def test_growing_delay_then_disconnect_per_client_address(self):
        t = self.start_tree(start=False)
        t.set_conf(auth_failure_limit_client="3", auth_failure_limit_user="0",
                 pop3_auth_failure_delay="1s", pop3_auth_failure_delay_max="2s")
        t.start()
        reply, took1, closed = self.attempt(t, "alice", "wrong1")
        self.assertTrue(reply.startswith(b"-ERR [AUTH]"), reply)
        self.assertFalse(closed)
        # Margin: the delays are 1 s, then 2 s; 0.1 s below them for timer
        # rounding (a busy machine only makes them longer).
        self.assertGreaterEqual(took1, 0.9)
        reply, took2, closed = self.attempt(t, "bob", "wrong2")             # same address, other user
        self.assertTrue(reply.startswith(b"-ERR [AUTH]"), reply)
        self.assertGreaterEqual(took2, 1.9)                                  # doubled
        reply, _, closed = self.attempt(t, "alice", "wrong3")
        self.assertTrue(reply.startswith(b"-ERR [AUTH] Too many"), reply)
        self.assertTrue(closed, "disconnected at the limit")
        reply, _, closed = self.attempt(t, "alice", t.passwords["alice"])   # right password, still refused
        self.assertTrue(reply.startswith(b"-ERR [AUTH] Too many"), reply)
        self.assertTrue(closed)
        log = t.log_bytes()
        self.assertIn(b"login failed user=alice@example.test client=127.0.0.1 failures=3 throttled", log)
        self.assertIn(b"result=throttled", log)

    def test_per_user_limit_spares_other_users(self):
        t = self.start_tree(start=False)
        t.set_conf(auth_failure_limit_client="0", auth_failure_limit_user="2",
                 pop3_auth_failure_delay="0s")
        t.start()
        for pw in ("bad1", "bad2"):
            reply, _, _ = self.attempt(t, "alice", pw)
            self.assertTrue(reply.startswith(b"-ERR [AUTH]"), reply)
        reply, _, closed = self.attempt(t, "alice", t.passwords["alice"])
        self.assertTrue(reply.startswith(b"-ERR [AUTH] Too many"), reply)
        reply, _, _ = self.attempt(t, "bob", t.passwords["bob"])
        self.assertTrue(reply.startswith(b"+OK"), reply)
        # Unknown users are not counted (they would fill run/auth/).
        for _ in range(3):
            reply, _, _ = self.attempt(t, "nosuchuser", "x")
            self.assertTrue(reply.startswith(b"-ERR [AUTH] Invalid"), reply)

    def test_success_resets_the_counters(self):
        t = self.start_tree(start=False)
        t.set_conf(auth_failure_limit_client="2", pop3_auth_failure_delay="0s")
        t.start()
        self.attempt(t, "alice", "bad")
        reply, _, _ = self.attempt(t, "alice", t.passwords["alice"])
        self.assertTrue(reply.startswith(b"+OK"), reply)
        reply, _, _ = self.attempt(t, "alice", "bad again")
        self.assertTrue(reply.startswith(b"-ERR [AUTH] Invalid"), reply)   # 1 of 2, not throttled


if __name__ == "__main__":
    unittest.main()
