"""The POP3 privilege split, read from /proc as root (issue 6): the login
process runs as postern-login chrooted into the empty run/jail, the
session process as postern-vmail in the mail root, and neither has the
password file open, while a client is logged in."""

import os
import poplib
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, check_one_session_holds, check_privsep, is_root


class Pop3Privsep(PosternTestCase):

    def test_login_in_jail_as_postern_login_session_as_vmail(self):
        if not is_root():
            self.skipTest("needs root: started by another user every process runs as that user, unchrooted")
        t = self.start_tree()
        t.send(t.addr("alice"), "v1")
        t.wait_ids("alice", ["v1"])
        jail = os.path.join(t.dir, "run", "jail")
        self.assertEqual(sorted(os.listdir(jail)), ["private"])           # empty but for the sockets
        p = poplib.POP3(HOST, t.port("pop3"), timeout=30 * SCALE)
        p.user(t.addr("alice"))
        p.pass_(t.passwords["alice"])
        self.assertEqual(p.stat()[0], 1)
        # While alice's session is open: both kinds of process exist.
        logins = check_privsep(self, t, "pop3", "postern-login", "run/jail")
        logins += check_privsep(self, t, "pop3s", "postern-login", "run/jail")
        sessions = check_privsep(self, t, "pop3-session", "postern-vmail", "mail")
        # One of the session processes holds alice's client socket and
        # her maildrop lock; no login process holds anything under it.
        check_one_session_holds(self, t.maildir("alice"), sessions, logins)
        p.quit()


if __name__ == "__main__":
    unittest.main()
