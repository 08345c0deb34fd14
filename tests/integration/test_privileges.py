"""As root, each daemon runs as its own user in its own root, as DESIGN.md's
table "Processes and privileges" says, and with no_new_privs set (issue 14:
nothing it executes may gain privileges); the master keeps root and may
(read from /proc)."""

import os
import pwd
import unittest

from postern_harness import (PRIVILEGES, SERVICES, PosternTestCase, is_root, postern_children, proc_ids,
                             proc_root, proc_status, wait_for)


def groups_of(pid):
    st = proc_status(pid)
    if not st:
        return None
    return [int(g) for g in st.get("Groups", "").split()]


class Privileges(PosternTestCase):

    def observe(self, t):
        """[problem, ...] of the running tree (empty when all is right)."""
        problems = []
        if proc_ids(t.master_pid, "Uid") != [0, 0, 0, 0]:
            problems.append("master %d Uid %r, want root" % (t.master_pid, proc_ids(t.master_pid, "Uid")))
        for service in SERVICES:
            user, root = PRIVILEGES[service]
            pw = pwd.getpwnam(user)
            pids = t.wake(service)
            if not pids:
                problems.append("no process postern/%s under the master" % service)
            want_root = os.path.realpath(os.path.join(t.dir, root)) if root else None
            for pid in pids:
                uid, gid, groups = proc_ids(pid, "Uid"), proc_ids(pid, "Gid"), groups_of(pid)
                if uid is None:
                    continue    # exited meanwhile
                if uid != [pw.pw_uid] * 4:
                    problems.append("%s pid %d: Uid (real, effective, saved, fs) %r, want %d (%s)"
                                    % (service, pid, uid, pw.pw_uid, user))
                if gid != [pw.pw_gid] * 4:
                    problems.append("%s pid %d: Gid %r, want %d (primary group of %s)"
                                    % (service, pid, gid, pw.pw_gid, user))
                if groups is not None and 0 in groups and pw.pw_gid != 0:
                    problems.append("%s pid %d keeps supplementary group 0: %r" % (service, pid, groups))
                allowed = set(os.getgrouplist(user, pw.pw_gid))
                if groups is not None and not set(groups) <= allowed:
                    problems.append("%s pid %d: supplementary groups %r, want a subset of %s's %r"
                                    % (service, pid, groups, user, sorted(allowed)))
                if want_root is not None:
                    r = proc_root(pid)
                    if r is not None and r != want_root:
                        problems.append("%s pid %d: root %r, want chroot %r" % (service, pid, r, want_root))
        # Whatever else the master runs (DESIGN.md: only the master keeps root).
        for pid, argv0 in postern_children(t.master_pid).items():
            uid = proc_ids(pid, "Uid")
            if uid is not None and 0 in uid:
                problems.append("%s pid %d runs with root ids: Uid %r" % (argv0, pid, uid))
            nnp = (proc_status(pid) or {}).get("NoNewPrivs")
            if nnp is not None and nnp.strip() != "1":
                problems.append("%s pid %d: NoNewPrivs %r, want 1" % (argv0, pid, nnp))
        master_nnp = (proc_status(t.master_pid) or {}).get("NoNewPrivs", "").strip()
        if master_nnp == "1" and (proc_status(os.getpid()) or {}).get("NoNewPrivs", "").strip() != "1":
            problems.append("master %d has NoNewPrivs set: it could not start what it must" % t.master_pid)
        return problems

    def test_each_daemon_runs_as_its_user_in_its_root(self):
        if not is_root():
            self.skipTest("needs root: started by another user every process runs as that user, unchrooted")
        t = self.start_tree()
        for service in SERVICES:
            user = PRIVILEGES[service][0]
            try:
                pwd.getpwnam(user)
            except KeyError:
                self.fail("system user %s missing (postern init creates it as root)" % user)
        # A freshly forked child (a spare of a service just woken) is root
        # until it drops; look again briefly, and judge the last look.
        last = []

        def clean():
            last[:] = self.observe(t)
            return not last
        wait_for(clean, 5, "every daemon as its user in its root", fail=False, interval=0.2)
        self.assertEqual(last, [])


if __name__ == "__main__":
    unittest.main()
