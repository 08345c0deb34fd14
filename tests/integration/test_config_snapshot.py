"""Processes run with the configuration the master last accepted (issue 9,
item 12).  An edited postern.conf, even a broken one, changes nothing until
a reload accepts it: a process the master starts afterwards (a restart
after a crash, a spare for a new client) reads the master's snapshot, not
the file.  `postern check` and `postern reload` name the bad line."""

import os
import signal

from postern_harness import PosternTestCase

RESTARTED = ("smtp", "enqueue", "qmgr", "local", "authd", "pop3", "pop3-session")


class ConfigSnapshot(PosternTestCase):

    def edit_conf(self, t, text):
        with open(os.path.join(t.dir, "etc", "postern.conf"), "a") as f:
            f.write(text)

    def kill_and_wait_restarted(self, t, services):
        old = {s: set(t.wake(s)) for s in services}
        for s in services:
            for pid in old[s]:
                os.kill(pid, signal.SIGKILL)
        for s in services:
            self.assertTrue(t.wake(s, exclude=old[s], seconds=30),
                            "%s not restarted\n%s" % (s, t.log_tail()))

    def assert_no_config_fatal(self, t):
        log = t.log_bytes()
        self.assertNotIn(b"unknown key", log, t.log_tail())
        self.assertNotIn(b"fatal", log, t.log_tail())

    def test_broken_file_does_not_reach_restarted_processes(self):
        t = self.start_tree()
        self.edit_conf(t, "\nno_such_key = 1\n")
        # Every service restarted after the edit, as after a crash.
        self.kill_and_wait_restarted(t, RESTARTED)
        t.send(t.addr("alice"), "after-bad-edit")
        self.assertIn("after-bad-edit", t.wait_ids("alice", {"after-bad-edit"}))
        p = t.pop3_retrying("alice")
        self.assertGreaterEqual(p.stat()[0], 1)
        p.quit()
        # The restarted processes did come up, and only then: nothing
        # fatal was logged (before the snapshot, each one died on the
        # unknown key and the master backed off up to 60 s).
        self.assert_no_config_fatal(t)

    def test_valid_edit_waits_for_the_reload(self):
        t = self.start_tree()
        s = t.smtp()
        before = s.esmtp_features.get("size")
        s.quit()
        self.assertNotEqual(before, "123456")
        self.edit_conf(t, "\nmessage_size_limit = 123456\n")
        # A new smtpd started without a reload keeps the accepted settings.
        self.kill_and_wait_restarted(t, ("smtp",))
        s = t.smtp()
        self.assertEqual(s.esmtp_features.get("size"), before)
        s.quit()
        # The reload accepts the file; new processes then use it.
        # A process of the old generation that was told to stop may still
        # serve a client already in the listener's backlog, so ask new
        # sessions until one comes from the new generation.
        t.run("reload", "-d", t.dir)
        t.wait_smtp_size("123456")

    def test_check_and_reload_name_the_bad_line(self):
        t = self.start_tree()
        with open(os.path.join(t.dir, "etc", "postern.conf")) as f:
            lines = f.read().count("\n")
        self.edit_conf(t, "no_such_key = 1\n")
        bad = "postern.conf:%d:" % (lines + 1)
        p = t.run("check", "-d", t.dir, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(bad, p.stdout.decode())
        self.assertIn("no_such_key", p.stdout.decode())
        p = t.run("reload", "-d", t.dir, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(bad, p.stdout.decode())
        self.assertIsNone(t.master.poll())
        t.send(t.addr("bob"), "after-refused-reload")
        self.assertIn("after-refused-reload", t.wait_ids("bob", {"after-refused-reload"}))
