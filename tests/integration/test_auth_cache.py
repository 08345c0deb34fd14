"""authd remembers recent successful logins (issue 15, auth_cache_size /
auth_cache_ttl): a user logging in again with the same password is
answered without the password hash (its log line ends in cache=hit),
while a wrong password, a changed password and a deleted user are never
answered from the cache, and auth_cache_size = 0 turns it off.  The
cache is shared: a success checked by one authd process answers the
same login in another."""

import imaplib
import os
import re
import socket
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, read_record, wait_for


class AuthCache(PosternTestCase):

    def login(self, t, user, password):
        """True when IMAP LOGIN succeeded."""
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        try:
            c.login(t.addr(user), password)
        except imaplib.IMAP4.error:
            return False
        finally:
            try:
                c.logout()
            except (imaplib.IMAP4.abort, OSError):
                pass
        return True

    def results(self, t, user, after):
        """authd's answers for user since log offset after: [(result, hit)]."""
        pat = re.compile(r"user=%s service=imap client=\S+ result=(\w+)( ticket=yes)?( cache=hit)?$"
                         % re.escape(t.addr(user)), re.M)
        return [(m.group(1), m.group(3) is not None) for m in pat.finditer(t.log_text(after))]

    def logins(self, t, user, password, n):
        """n logins, each answered by authd (its line waited for); the
        answers [(result, hit)]."""
        mark = t.log_mark()
        oks = [self.login(t, user, password) for _ in range(n)]
        wait_for(lambda: len(self.results(t, user, mark)) >= n, 30, "%d authd lines for %s" % (n, user),
                 detail=t.log_tail)
        got = self.results(t, user, mark)
        self.assertEqual(len(got), n, got)
        self.assertEqual([r == "ok" for r, _ in got], oks)
        return got

    def test_repeat_login_is_answered_from_the_cache_and_only_for_the_same_password(self):
        t = self.start_tree()
        got = self.logins(t, "alice", t.passwords["alice"], 6)
        self.assertEqual([r for r, _ in got], ["ok"] * 6)
        self.assertFalse(got[0][1], "the first login is hashed")
        self.assertTrue(any(hit for _, hit in got[1:]), got)
        # A wrong password after a remembered success is checked, and fails.
        got = self.logins(t, "alice", t.passwords["alice"] + "x", 2)
        self.assertEqual(got, [("fail", False)] * 2)
        # Another user is not let in by alice's entry.
        got = self.logins(t, "bob", t.passwords["alice"], 1)
        self.assertEqual(got, [("fail", False)])

    def test_changed_password_and_deleted_user_void_the_entries(self):
        t = self.start_tree()
        old = t.passwords["alice"]
        got = self.logins(t, "alice", old, 4)
        self.assertTrue(any(hit for _, hit in got), got)
        t.run("user", "passwd", "-d", t.dir, t.addr("alice"), "a-new-password-1")
        got = self.logins(t, "alice", old, 3)
        self.assertEqual(got, [("fail", False)] * 3)
        got = self.logins(t, "alice", "a-new-password-1", 4)
        self.assertEqual([r for r, _ in got], ["ok"] * 4)
        self.assertFalse(got[0][1])
        self.assertTrue(any(hit for _, hit in got[1:]), got)
        got = self.logins(t, "bob", t.passwords["bob"], 3)
        self.assertTrue(any(hit for _, hit in got), got)
        t.run("user", "del", "-d", t.dir, t.addr("bob"))
        got = self.logins(t, "bob", t.passwords["bob"], 2)
        self.assertEqual(got, [("fail", False)] * 2)

    def test_a_success_in_one_authd_process_answers_in_another(self):
        t = self.start_tree()
        request = "".join("%s=%s\n" % kv for kv in [
            ("cmd", "auth"), ("user", t.addr("alice")), ("password", t.passwords["alice"]),
            ("service", "smtp"), ("client", "127.0.0.1")]).encode() + b"\n"
        pat = re.compile(r"authd\[(\d+)\]: user=%s service=smtp client=\S+ result=(\w+)( cache=hit)?$"
                         % re.escape(t.addr("alice")), re.M)
        mark = t.log_mark()
        conns = []
        try:
            # An authd process serves one connection at a time: while the
            # first stays open, the second is another process's.
            for _ in range(2):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conns.append(s)
                s.settimeout(30 * SCALE)
                s.connect(os.path.join(t.dir, "private", "authd"))
                s.sendall(request)
                self.assertEqual(read_record(s).get("status"), "ok")
        finally:
            for s in conns:
                s.close()
        wait_for(lambda: len(pat.findall(t.log_text(mark))) >= 2, 30, "two authd lines", detail=t.log_tail)
        (pid1, r1, hit1), (pid2, r2, hit2) = pat.findall(t.log_text(mark))
        self.assertNotEqual(pid1, pid2)
        self.assertEqual((r1, hit1, r2, hit2), ("ok", "", "ok", " cache=hit"))

    def test_size_zero_turns_the_cache_off(self):
        t = self.start_tree(start=False)
        t.set_conf(auth_cache_size="0")
        t.start()
        got = self.logins(t, "alice", t.passwords["alice"], 4)
        self.assertEqual(got, [("ok", False)] * 4)


if __name__ == "__main__":
    unittest.main()
