"""The login layer's TLS relay with POP3 (issue 10, section 1: one login
layer): after a login over TLS the login process relays the session on a
thread of its own (common/login_proxy.c) and goes on taking clients, so
idle TLS sessions do not cost a login process each; the relay forwards
bytes, not lines, so a message of megabytes arrives intact; the bytes a
client sent past PASS travel once, in the hand-off record."""

import hashlib
import os
import poplib
import socket
import ssl
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, wait_for


def tls_context(tree):
    ctx = ssl.create_default_context(cafile=tree.cert_path())
    ctx.check_hostname = False
    return ctx


def set_maxproc(tree, service, n):
    """Set the maxproc column of service in etc/master.conf (before start)."""
    path = os.path.join(tree.dir, "etc", "master.conf")
    with open(path) as f:
        lines = f.read().splitlines(True)
    found = False
    with open(path, "w") as f:
        for line in lines:
            fields = line.split()
            if fields[:1] == [service]:
                fields[5] = str(n)
                line = "  ".join(fields) + "\n"
                found = True
            f.write(line)
    if not found:
        raise AssertionError("no service %s in %s" % (service, path))


class Pop3LoginRelay(PosternTestCase):

    def pop3s(self, t, user, timeout=20):
        p = poplib.POP3_SSL(HOST, t.port("pop3s"), context=tls_context(t), timeout=timeout * SCALE)
        p.user(t.addr(user))
        p.pass_(t.passwords[user])
        return p

    def open_sessions(self, t, users):
        sessions = []
        for u in users:
            p = self.pop3s(t, u)
            sessions.append(p)
            self.addCleanup(p.close)
        return sessions

    def test_many_idle_pop3s_sessions_share_few_login_processes(self):
        users = ["u%02d" % i for i in range(12)]
        t = self.start_tree(users=users, start=False)
        set_maxproc(t, "pop3s", 2)       # fewer login processes than sessions
        t.start()
        sessions = self.open_sessions(t, users)
        # Every session is logged in and answers, all at the same time.
        for p in sessions:
            self.assertEqual(p.stat(), (0, 0))
        login_pids = t.pids("pop3s")
        self.assertTrue(login_pids)
        self.assertLessEqual(len(login_pids), 2, "login processes: %r" % login_pids)
        self.assertGreaterEqual(len(t.pids("pop3-session")), len(users))   # one per user
        # Each is still relayed after the others, and ends cleanly.
        for p in sessions:
            self.assertTrue(p.noop().startswith(b"+OK"))
            self.assertTrue(p.quit().startswith(b"+OK"))
        # A new client still gets in through the same few processes.
        p = self.pop3s(t, users[0])
        self.assertEqual(p.stat(), (0, 0))
        p.quit()
        self.assertLessEqual(len(t.pids("pop3s")), 2)

    def test_relay_limit_spreads_clients_over_login_processes(self):
        users = ["v%d" % i for i in range(7)]
        t = self.start_tree(users=users, start=False)
        t.set_conf(login_proxy_limit=3)
        set_maxproc(t, "pop3s", 5)
        t.start()
        sessions = self.open_sessions(t, users)
        for p in sessions:
            self.assertEqual(p.stat(), (0, 0))
        # 7 relays at most 3 per process: at least 3 processes, and the
        # master never starts more than maxproc.
        n = len(t.pids("pop3s"))
        self.assertGreaterEqual(n, 3)
        self.assertLessEqual(n, 5)
        for p in sessions:
            p.quit()

    def test_large_message_retr_over_pop3s_arrives_intact(self):
        t = self.start_tree()
        # About 6 MB of lines, some of them starting with a dot (RFC 1939
        # byte-stuffing on the way out, through the relay).
        lines = []
        for i in range(80000):
            lead = b"." if i % 997 == 0 else b""
            lines.append(lead + b"%07d " % i + hashlib.sha256(b"%d" % i).hexdigest().encode())
        body = b"\r\n".join(lines) + b"\r\n"
        self.assertGreater(len(body), 5 * 1024 * 1024)
        t.send(t.addr("alice"), "big1", body=body)
        self.assertIn("big1", t.wait_ids("alice", ["big1"], seconds=60))
        p = self.pop3s(t, "alice", timeout=60)
        count, size = p.stat()
        self.assertEqual(count, 1)
        resp, got, octets = p.retr(1)
        self.assertTrue(resp.startswith(b"+OK"))
        start = got.index(b"") + 1                      # the body after the header
        self.assertEqual(got[start:], lines)
        self.assertEqual(octets, size)                  # un-stuffed, as STAT counts it
        p.quit()

    def test_commands_sent_with_pass_over_tls_are_answered_once(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "pl1")
        t.wait_ids("alice", ["pl1"])
        s = tls_context(t).wrap_socket(socket.create_connection((HOST, t.port("pop3s")),
                                                                timeout=20 * SCALE))
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        # One TLS write: the login reads past PASS; STAT and UIDL reach
        # the session through the hand-off record, before the relay's bytes.
        s.sendall(b"USER " + t.addr("alice").encode() + b"\r\nPASS " + t.passwords["alice"].encode() +
                  b"\r\nSTAT\r\nUIDL 1\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))            # USER
        self.assertTrue(f.readline().startswith(b"+OK Logged in"))  # PASS
        self.assertTrue(f.readline().startswith(b"+OK 1 "))         # STAT
        self.assertTrue(f.readline().startswith(b"+OK 1 "))         # UIDL 1
        s.sendall(b"NOOP\r\nQUIT\r\n")                               # then through the relay
        self.assertEqual(f.readline(), b"+OK\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertEqual(f.readline(), b"")                         # and nothing twice

    def test_reload_keeps_relayed_sessions(self):
        t = self.start_tree()
        p = self.pop3s(t, "alice")
        self.addCleanup(p.close)
        self.assertEqual(p.stat(), (0, 0))
        old = set(t.pids("pop3s"))
        t.run("reload", "-d", t.dir)
        # New login processes take new clients (started for them) ... A
        # client that came before the old process saw its stop may still
        # be served by it (docs/master.md: a connected client is not
        # dropped), so clients come until one has a new process.
        def new_login():
            q = self.pop3s(t, "bob")
            self.assertEqual(q.stat(), (0, 0))
            pids = set(t.pids("pop3s")) - old
            q.quit()
            return pids
        wait_for(new_login, 20, "a new login process for a new client", detail=t.log_tail)
        # ... while the old one still relays alice's session to its end,
        # and exits once it holds none.
        self.assertTrue(p.noop().startswith(b"+OK"))
        self.assertTrue(p.quit().startswith(b"+OK"))
        wait_for(lambda: not (old & set(t.pids("pop3s"))), 20,
                 "the old login processes to exit after their last relay")


if __name__ == "__main__":
    unittest.main()
