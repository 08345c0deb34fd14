"""Confinement in the kernel (issue 14, section 1; docs/confinement.md):
every daemon but the master runs with no_new_privs and a seccomp filter,
and a forbidden system call kills the process with a log line that names
the call, after which the master restarts it and no queued mail is lost.
The forbidden call is made on command by the test builds' SIGUSR2 hook
(make TEST_HOOKS=1, common/sandbox.c)."""

import imaplib
import os
import poplib
import re
import signal
import unittest

from postern_harness import (HOST, SCALE, SERVICES, PosternTestCase, is_root, postern_descendants, proc_argv0,
                             proc_status, wait_for)
from test_metrics import enable_metrics


def confinement(pid):
    st = proc_status(pid)
    if st is None:
        return None
    return st.get("NoNewPrivs"), st.get("Seccomp")


@unittest.skipUnless(is_root(), "needs root: the tree must drop to its users and chroot as installed")
class Sandbox(PosternTestCase):

    def exercise(self, t):
        """Mail through SMTP, local delivery, POP3 and IMAP, so that every
        confined program has done its job once."""
        rcpt = t.addr("alice")
        t.send(rcpt, "sandbox-1")
        t.wait_ids("alice", {"sandbox-1"})
        p = poplib.POP3(HOST, t.port("pop3"), timeout=30 * SCALE)
        p.user(rcpt)
        p.pass_(t.passwords["alice"])
        self.assertEqual(p.stat()[0], 1)
        p.retr(1)
        p.quit()
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(rcpt, t.passwords["alice"])
        c.select("INBOX")
        typ, _ = c.fetch("1", "(BODY[])")
        self.assertEqual(typ, "OK")
        c.logout()

    def test_every_daemon_but_the_master_has_no_new_privs_and_a_seccomp_filter(self):
        t = self.start_tree()
        self.exercise(t)
        # The services the round trip did not use are started on demand.
        for service in SERVICES:
            self.assertTrue(t.wake(service), "no process of %s" % service)
        master = t.master_pid
        self.assertEqual(confinement(master), ("0", "0"), "the master is not confined")
        seen = self.assert_confined(master)
        for service in SERVICES:
            self.assertIn("postern/" + service, seen)
        self.assertNotIn("forbidden system call", t.log_text())

    def assert_confined(self, master):
        """Every postern/ process below the master (its services and
        theirs, such as local's command helper) confined; the argv[0]s seen."""
        kids = postern_descendants(master)
        self.assertGreater(len(kids), 0)
        seen = set()
        for pid in kids:
            argv0 = proc_argv0(pid)
            # A spare the master has just started may still be in its
            # setup (confined once it has dropped privileges); one that
            # is gone was ordinary turnover.
            wait_for(lambda: confinement(pid) in (None, ("1", "2")), 10,
                     "%s (pid %d) confined: NoNewPrivs 1, Seccomp 2" % (argv0, pid),
                     detail=lambda: confinement(pid))
            if confinement(pid) is not None:
                seen.add(re.split(r"[: ]", argv0)[0])   # a title may append ": state"
        return seen

    def test_front_metrics_and_delivery_commands_are_confined_too(self):
        """The services the default master.conf leaves off (the front,
        metrics), local's command helper and a |command it runs."""
        t = self.start_tree(start=False)
        out = os.path.join(t.dir, "cmd-out")
        os.mkdir(out)
        os.chmod(out, 0o777)   # the command runs as local_command_user
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write('confined@%s "|grep -e NoNewPrivs -e Seccomp /proc/self/status > %s/status"\n'
                    % (t.domain, out))
        t.run("map", "-d", t.dir, "aliases")
        t.use_front("smtp", "smtp")
        enable_metrics(t)
        t.start()
        t.send("confined@" + t.domain, "cmd-confined")
        t.wait_log(r"to=<confined@%s>, relay=local, .*status=sent \(delivered to command" % re.escape(t.domain),
                   seconds=30 * SCALE)
        with open(os.path.join(out, "status")) as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines())
        self.assertEqual(status["NoNewPrivs"].strip(), "1", status)
        self.assertEqual(status["Seccomp"].strip(), "2", status)
        self.assertTrue(t.wait_pids("smtp-front"), "the front")
        self.assertTrue(t.wait_pids("metrics"), "metrics")
        local = t.pids("local")
        self.assertTrue(local)
        seen = self.assert_confined(t.master_pid)
        for argv0 in ("postern/smtp-front", "postern/metrics", "postern/local"):
            self.assertIn(argv0, seen)
        # local's helper: a postern/local process whose parent is local
        helpers = [pid for pid, a0 in postern_descendants(t.master_pid).items()
                   if a0 == "postern/local" and proc_status(pid) and int(proc_status(pid)["PPid"]) in local]
        self.assertTrue(helpers, "local's command helper")
        for pid in helpers:
            self.assertEqual(confinement(pid), ("1", "2"), "command helper %d" % pid)
        self.assertNotIn("forbidden system call", t.log_text())

    def test_forbidden_call_kills_with_its_name_and_the_master_restarts_without_losing_mail(self):
        t = self.start_tree()
        t.forbidden_calls_expected = 1
        rcpt = t.addr("alice")
        t.send(rcpt, "before-0")
        t.wait_ids("alice", {"before-0"})
        old = t.pids("qmgr")
        self.assertEqual(len(old), 1)
        mark = t.log_mark()
        # Mail queued around the death of the queue manager.
        t.send(rcpt, "during-1")
        os.kill(old[0], signal.SIGUSR2)
        t.send(rcpt, "during-2")
        t.wait_log(r"qmgr\[%d\]: warning: killed: forbidden system call ptrace \(101\), first argument 0," % old[0],
                   seconds=30, after=mark)
        t.wait_log(r"service qmgr: pid %d killed by signal %d" % (old[0], signal.SIGSYS),
                   seconds=30, after=mark)
        t.wait_pids("qmgr", exclude=old, seconds=30)
        t.send(rcpt, "after-3")
        t.wait_ids("alice", {"before-0", "during-1", "during-2", "after-3"}, seconds=60)
        # The new qmgr is confined as the old one was.
        new = t.pids("qmgr")
        wait_for(lambda: confinement(new[0]) == ("1", "2"), 10, "the restarted qmgr confined")
        self.assertEqual(len(re.findall(r"forbidden system call", t.log_text(after=mark))), 1)


if __name__ == "__main__":
    unittest.main()
