"""The operator commands around the master: start (lock), status, stop,
config-defaults (DESIGN.md "Operator interface"; issue 2, items 6, 12)."""

import imaplib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from postern_harness import (HOST, POSTERN, SCALE, SOURCE, PosternTestCase, daemon_env, pid_alive_as,
                             postern_children, read_greeting, wait_for)


class MasterControl(PosternTestCase):

    def test_second_master_refused(self):
        # Margin: a refusal needs no more than taking the lock and exiting
        # (milliseconds); the 5 s bound (x SCALE) is slack for a busy
        # machine, and a second master that runs on is stopped after 10 s.
        t = self.start_tree()
        first = t.master_pid
        rc, text, elapsed = self.second_start(t)
        self.assertIsNotNone(rc, "a second master on the same tree kept running:\n" + text)
        self.assertNotEqual(rc, 0, "second master exited 0:\n" + text)
        self.assertLess(elapsed, 5 * SCALE, "refusal took %.1fs" % elapsed)
        self.assertRegex(text, r"(?i)(lock|already running)", "the refusal does not say why:\n" + text)
        self.check_first_master_undisturbed(t, first)

        # Without run/master.pid (deleted by hand, say) the master's own
        # lock on run/master.lock must refuse it.
        pidfile = os.path.join(t.dir, "run", "master.pid")
        os.rename(pidfile, pidfile + ".saved")
        try:
            rc, text, elapsed = self.second_start(t)
        finally:
            if os.path.exists(pidfile):
                os.unlink(pidfile)   # written by the second master before it failed
            os.rename(pidfile + ".saved", pidfile)
        self.assertIsNotNone(rc, "without run/master.pid a second master kept running:\n" + text)
        self.assertNotEqual(rc, 0, "second master exited 0:\n" + text)
        self.assertLess(elapsed, 5 * SCALE, "refusal took %.1fs" % elapsed)
        self.assertRegex(text, r"(?i)lock", "the refusal does not mention the lock:\n" + text)
        self.check_first_master_undisturbed(t, first)

    def second_start(self, t):
        """(exit status or None if it kept running, output, seconds)."""
        started = time.monotonic()
        p = subprocess.Popen([POSTERN, "start", "-d", t.dir, "-f"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=daemon_env(),
                             start_new_session=True)
        try:
            out, _ = p.communicate(timeout=10 * SCALE)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)   # our own second master and its group
            out, _ = p.communicate(timeout=10)
            rc = None
        return rc, out.decode("utf-8", "replace"), time.monotonic() - started

    def check_first_master_undisturbed(self, t, first):
        self.assertIsNone(t.master.poll(), "the first master exited")
        self.assertEqual(t.master_pid, first)
        self.assertEqual(t.pidfile_pid(), first, "run/master.pid was changed by the refused master")
        self.assertTrue(read_greeting(t.port("smtp"), b"220", timeout=10 * SCALE), "SMTP no longer answers")

    def test_postern_status_and_stop(self):
        t = self.start_tree()
        pid = t.master_pid
        self.assertEqual(t.pidfile_pid(), pid, "run/master.pid")

        st = t.run("status", "-d", t.dir, check=False)
        out = st.stdout.decode("utf-8", "replace")
        self.assertEqual(st.returncode, 0, "status of a running master:\n" + out)
        self.assertRegex(out, r"(?i)\brunning\b", out)
        self.assertNotRegex(out, r"(?i)not running", out)
        self.assertRegex(out, r"\b%d\b" % pid, "status does not name the master's pid %d:\n%s" % (pid, out))

        children = postern_children(pid)
        services = {a0 for a0 in children.values()}
        for s in ("postern/smtp", "postern/pop3"):
            self.assertTrue(any(a == s or a.startswith(s + ":") or a.startswith(s + " ") for a in services),
                            "%s not running before stop: %r" % (s, sorted(services)))

        # `postern stop` waits until the master is gone; the master is our
        # child, so reap it meanwhile (else it stays a zombie, "alive").
        sp = subprocess.Popen([POSTERN, "stop", "-d", t.dir], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=daemon_env())
        try:
            rc = t.master.wait(30 * SCALE)
        except subprocess.TimeoutExpired:
            rc = None
        try:
            stop_out, _ = sp.communicate(timeout=60 * SCALE)
        except subprocess.TimeoutExpired:
            sp.kill()
            stop_out, _ = sp.communicate()
        stop_out = stop_out.decode("utf-8", "replace")
        self.assertIsNotNone(rc, "the master still runs 30s after `postern stop`:\n" + stop_out)
        self.assertEqual(sp.returncode, 0, "postern stop:\n" + stop_out)
        self.assertEqual(rc, 0, "the master's exit status after a graceful stop")

        wait_for(lambda: not [p for p, a0 in children.items() if pid_alive_as(p, a0)], 10,
                 "the master's processes to be gone after stop",
                 detail=lambda: {p: a0 for p, a0 in children.items() if pid_alive_as(p, a0)})
        self.assertFalse(os.path.exists(os.path.join(t.dir, "run", "master.pid")),
                         "run/master.pid left behind after stop")

        st = t.run("status", "-d", t.dir, check=False)
        self.assertNotEqual(st.returncode, 0, "status after stop: " + st.stdout.decode("utf-8", "replace"))

    def test_config_defaults_equal_committed_postern_conf(self):
        p = subprocess.run([POSTERN, "config-defaults"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=daemon_env(), timeout=30 * SCALE)
        self.assertEqual(p.returncode, 0, "postern config-defaults: " + p.stderr.decode("utf-8", "replace"))
        with open(os.path.join(SOURCE, "etc", "postern.conf"), "rb") as f:
            committed = f.read()
        if p.stdout != committed:
            import difflib
            diff = difflib.unified_diff(committed.decode("utf-8", "replace").splitlines(),
                                        p.stdout.decode("utf-8", "replace").splitlines(),
                                        "etc/postern.conf", "postern config-defaults", lineterm="")
            self.fail("etc/postern.conf differs from `postern config-defaults`:\n" + "\n".join(list(diff)[:60]))

    def test_help_is_output_and_a_usage_error_is_not(self):
        cwd = tempfile.mkdtemp(prefix="postern-help-")
        self.addCleanup(shutil.rmtree, cwd)

        def run(*args):
            p = subprocess.run([POSTERN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30 * SCALE, cwd=cwd)
            return p.returncode, p.stdout.decode(), p.stderr.decode()

        for args in (["help"], ["-h"], ["--help"], ["init", "--help"], ["queue", "list", "--help"]):
            code, out, err = run(*args)
            self.assertEqual((code, err), (0, ""), args)
            self.assertTrue(out.startswith("usage: postern init "), (args, out))
            self.assertIn("\n       postern dkim keygen ", out)
        # Asked for nothing sensible: the usage is the error, on stderr.
        for args in ([], ["frobnicate"], ["init", "--frobnicate"]):
            code, out, err = run(*args)
            self.assertEqual((code, out), (2, ""), args)
            self.assertIn("usage: postern init ", err)
        # After "--" it is an argument, not a request for help: the map
        # file "--help" (in cwd, not there).
        code, out, err = run("map", "--", "--help")
        self.assertEqual((code, out, err), (1, "", "postern: --help: No such file or directory\n"))

    def test_status_counts_processes_still_serving_after_a_reload(self):
        # A reload lets the old processes finish their clients outside the
        # new generation's maxproc; status (and the metrics) still count
        # them: they showed 0 while users were connected.
        t = self.start_tree()
        t.send(t.addr("alice"), "first")            # makes the Maildir
        t.wait_ids("alice", {"first"})

        def processes(service):
            out = t.run("status", "-d", t.dir).stdout.decode()
            for line in out.splitlines():
                f = line.split()
                if len(f) == 3 and f[0] == service:
                    return int(f[1])
            raise AssertionError("no %s in postern status:\n%s" % (service, out))

        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.select("INBOX")[0], "OK")
        wait_for(lambda: processes("imap-session") >= 1, 20, "an imap-session process in postern status")
        mark = t.log_mark()
        t.run("reload", "-d", t.dir)
        t.wait_log(r"reload: rereading configuration", after=mark)
        self.assertEqual(c.noop()[0], "OK")          # the old process still serves
        self.assertGreaterEqual(processes("imap-session"), 1)
        c.logout()
        # once it has finished, it is not counted any more
        wait_for(lambda: processes("imap-session") == 0, 30, "imap-session back to 0 in postern status")


if __name__ == "__main__":
    unittest.main()
