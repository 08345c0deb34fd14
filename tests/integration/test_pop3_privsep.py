"""The POP3 privilege split, read from /proc as root (issue 6): the login
process runs as postern-login chrooted into the empty run/jail, the
session process as postern-vmail in the mail root, and neither has the
password file open, while a client is logged in."""

import os
import poplib
import pwd
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, is_root, proc_ids, proc_root, wait_for


def open_files(pid):
    out = []
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for n in names:
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, n)))
        except OSError:
            pass
    return out


class Pop3Privsep(PosternTestCase):

    def check(self, t, service, user, root):
        pw = pwd.getpwnam(user)
        want_root = os.path.realpath(os.path.join(t.dir, root))
        users_file = os.path.realpath(os.path.join(t.dir, "etc", "users"))
        pids = t.pids(service)
        self.assertTrue(pids, "no postern/%s process" % service)
        for pid in pids:
            # A process forked a moment ago may still be dropping privileges.
            wait_for(lambda: proc_ids(pid, "Uid") != [0, 0, 0, 0], 5, "%s pid %d to drop root" % (service, pid),
                     fail=False)
            self.assertEqual(proc_ids(pid, "Uid"), [pw.pw_uid] * 4, "%s pid %d" % (service, pid))
            self.assertEqual(proc_ids(pid, "Gid"), [pw.pw_gid] * 4, "%s pid %d" % (service, pid))
            self.assertEqual(proc_root(pid), want_root, "%s pid %d chroot" % (service, pid))
            files = open_files(pid)
            self.assertFalse([f for f in files if f.endswith("/etc/users") or f == users_file],
                             "%s pid %d has the password file open: %r" % (service, pid, files))
        return pids

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
        self.check(t, "pop3", "postern-login", "run/jail")
        self.check(t, "pop3s", "postern-login", "run/jail")
        sessions = self.check(t, "pop3-session", "postern-vmail", "mail")
        # One of the session processes holds alice's client socket and
        # her maildrop lock; no login process holds anything under mail/.
        maildir = os.path.realpath(t.maildir("alice"))
        holders = [pid for pid in sessions if any(f.startswith(maildir) for f in open_files(pid))]
        self.assertEqual(len(holders), 1, "exactly one session process has alice's Maildir open")
        for pid in t.pids("pop3"):
            self.assertFalse([f for f in open_files(pid) if f.startswith(maildir)])
        p.quit()


if __name__ == "__main__":
    unittest.main()
