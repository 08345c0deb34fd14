"""The master's reload and graceful stop (issue 2, item 6): SIGHUP rereads
the configuration and replaces every child without dropping a session;
SIGTERM lets a client finish its transaction before the services exit,
and ends idle IMAP and POP3 sessions at once with their goodbye."""

import imaplib
import os
import poplib
import signal
import time

from postern_harness import HOST, RESIDENT, SCALE, PosternTestCase, RawSMTP, wait_for
from test_imap_two_sessions import Session
from test_pop3_tls import tls_context

SERVICES = ("smtp", "enqueue", "qmgr", "local", "authd", "pop3")


class MasterLifecycle(PosternTestCase):

    def wait_replaced(self, t, service, old, seconds=15):
        """Until no pid of old serves service and a new one does."""
        def replaced():
            now = set(t.pids(service))
            return now if now and not (now & old) else None
        now = wait_for(replaced, seconds, "service %s replaced after reload (old pids %s)" % (service, sorted(old)),
                       detail=t.log_tail, interval=0.1)
        t.note_children()
        return now

    def test_services_start_when_a_client_waits(self):
        t = self.start_tree(start=False)
        t.set_conf(daemon_idle_timeout="2s")
        t.start()
        # Started: qmgr, resident; smtp and pop3, whose greetings the
        # harness waited for.  Nobody has used these yet:
        unused = ("submission", "smtps", "remote", "verify", "pickup", "dkim-sign", "imaps", "imap-hibernate")
        self.assertEqual({s: t.pids(s) for s in unused}, {s: [] for s in unused})
        self.assertEqual(RESIDENT, ("qmgr",))
        self.assertEqual(len(t.pids("qmgr")), 1)
        # A client waiting starts a process; from then on the service
        # keeps a spare ready, so a second client while the first holds
        # its process is served at once, and a third finds a spare too.
        clients = []
        for n in range(1, 4):
            c = RawSMTP(t.port("submission"))
            self.addCleanup(c.close)
            self.assertEqual(c.read_reply()[0], 220)
            clients.append(c)
            wait_for(lambda: len(t.pids("submission")) == n + 1, 10, "%d busy submission processes and a spare" % n,
                     detail=lambda: t.pids("submission"))
        # Idle processes leave after daemon_idle_timeout, and a process
        # that left idle makes the service cold again: no spare is
        # started to replace them (as one would be, for ever).
        for c in clients:
            c.send(b"QUIT\r\n")
            self.assertEqual(c.read_reply()[0], 221)
        wait_for(lambda: t.pids("submission") == [], 20 * SCALE, "the idle submission processes to leave",
                 detail=lambda: t.pids("submission"))
        self.assertEqual(len(t.pids("qmgr")), 1, "qmgr, resident, stays")
        c = RawSMTP(t.port("submission"))
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220, "a client after the service went cold")

    def test_a_process_leaving_at_max_use_keeps_a_spare_ready(self):
        # daemon_max_use = 1: every process leaves after its client.  It
        # leaves busy (no idle report), so the service stays warm and the
        # master starts the next spare at once; a process that left idle
        # would make the service cold, with no process until a client came.
        t = self.start_tree(start=False)
        t.set_conf(daemon_max_use="1")
        t.start()
        for _ in range(3):
            c = RawSMTP(t.port("submission"))
            self.addCleanup(c.close)
            self.assertEqual(c.read_reply()[0], 220)
            during = set(t.pids("submission"))       # the one serving us, and any spare
            c.send(b"QUIT\r\n")
            self.assertEqual(c.read_reply()[0], 221)
            c.close()
            # one of them has left, and a process is still there
            wait_for(lambda: during - set(t.pids("submission")) and t.pids("submission"), 10 * SCALE,
                     "a spare submission process after a process left at daemon_max_use",
                     detail=lambda: (during, t.pids("submission"), t.log_tail()))

    def test_reload_replaces_every_child_and_mail_still_flows(self):
        t = self.start_tree()
        before = {s: set(t.wake(s)) for s in SERVICES}
        for s in SERVICES:
            self.assertTrue(before[s], "no %s process before reload" % s)
        t.run("reload", "-d", t.dir)
        # The new processes start as clients come (qmgr, resident, at once):
        # a delivery and a POP3 login use every service of SERVICES.  A
        # client that came before an old process saw its stop is still
        # served by it (docs/master.md), so again until each service has
        # a new process.
        sent = []

        def new_everywhere():
            sent.append("after-reload-%d" % len(sent))
            t.send(t.addr("alice"), sent[-1])
            self.assertLessEqual(set(sent), set(t.wait_ids("alice", set(sent))))
            t.pop3("alice").quit()
            return all(set(t.pids(s)) - before[s] for s in SERVICES)
        wait_for(new_everywhere, 60, "a new process of every service after the reload", detail=t.log_tail)
        for s in SERVICES:
            self.wait_replaced(t, s, before[s])
        self.assertRegex(t.log_bytes().decode("utf-8", "replace"), r"reload")

    def test_reload_applies_a_changed_setting(self):
        t = self.start_tree()
        s = t.smtp()
        self.assertNotEqual(s.esmtp_features.get("size"), "123456")
        s.quit()
        conf = os.path.join(t.dir, "etc", "postern.conf")
        with open(conf, "a") as f:
            f.write("\nmessage_size_limit = 123456\n")
        old = set(t.pids("smtp"))
        t.run("reload", "-d", t.dir)
        t.wait_smtp_size("123456")
        self.wait_replaced(t, "smtp", old)

    def test_idle_timeout_zero_means_processes_wait_for_ever(self):
        # 0 once made every service poll(..., 0), exit at once and be
        # restarted in a loop.
        t = self.start_tree(start=False)
        t.set_conf(daemon_idle_timeout="0")
        t.start()
        before = {s: set(t.wake(s)) for s in SERVICES}
        for s in SERVICES:
            self.assertTrue(before[s], "no %s process\n%s" % (s, t.log_tail()))
        # No waiting to see that nothing exits: with a poll timeout of 0 a
        # process leaves at its first idle wait, and the master starts the
        # next one at once, so the pids turn over within milliseconds.  A
        # round trip (SMTP in, local delivery, a POP3 login) takes every
        # service through work and back to its idle wait; the processes
        # seen before it must all be there after it.
        t.send(t.addr("alice"), "idle-zero")
        self.assertIn("idle-zero", t.wait_ids("alice", {"idle-zero"}))
        t.pop3("alice").quit()
        t.wait_log(r"pop3-session\[\d+\]: logout user=alice@")
        after = {s: set(t.pids(s)) for s in SERVICES}
        for s in SERVICES:
            self.assertLessEqual(before[s], after[s], "%s processes exited while idle" % s)

    def test_reload_with_a_broken_config_keeps_the_services(self):
        t = self.start_tree()
        conf = os.path.join(t.dir, "etc", "master.conf")
        with open(conf, "a") as f:
            f.write("\nbroken inet 127.0.0.1:1 nobody - 0 smtpd\n")   # maxproc 0 is invalid
        old = set(t.pids("smtp"))
        t.run("reload", "-d", t.dir)
        t.wait_log(r"reload failed", seconds=5)
        # A spare may have been added meanwhile; none may have been replaced.
        self.assertLessEqual(old, set(t.pids("smtp")), "a failed reload must not replace the services")
        t.send(t.addr("bob"), "after-bad-reload")
        self.assertIn("after-bad-reload", t.wait_ids("bob", {"after-bad-reload"}))

    def test_reload_with_a_broken_postern_conf_keeps_the_master(self):
        t = self.start_tree()
        conf = os.path.join(t.dir, "etc", "postern.conf")
        with open(conf, "a") as f:
            f.write("\nno_such_key = 1\n")
        old = set(t.pids("smtp"))
        # postern reload names the line and does not signal; the master,
        # told directly, refuses the file as well.
        p = t.run("reload", "-d", t.dir, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"postern\.conf:\d+: .*no_such_key")
        os.kill(t.master_pid, signal.SIGHUP)
        t.wait_log(r"reload failed", seconds=5)
        self.assertIn(b"no_such_key", t.log_bytes())
        self.assertIsNone(t.master.poll(), "the master died on a broken postern.conf")
        # Nothing was replaced: every process of before still serves.  (A
        # spare may have been added since: the start-up probe's session
        # made one process busy for a moment, and the master keeps an idle
        # one ready.)
        self.assertLessEqual(old, set(t.pids("smtp")))
        t.send(t.addr("alice"), "after-bad-conf")
        self.assertIn("after-bad-conf", t.wait_ids("alice", {"after-bad-conf"}))

    def test_stop_lets_an_open_transaction_finish(self):
        self.stop_during_a_transaction(self.start_tree())

    def test_stop_lets_an_open_transaction_through_the_front_finish(self):
        # smtpd fed by the connection front listens on a Unix socket, yet
        # faces a client: it finishes before enqueue is stopped, as an
        # inet smtpd does (it once got 451: enqueue stopped beside it).
        t = self.start_tree(start=False)
        t.use_front("smtp", "smtp")
        t.start()
        self.stop_during_a_transaction(t)

    def stop_during_a_transaction(self, t):
        c = RawSMTP(t.port("smtp"))
        self.assertEqual(c.read_reply()[0], 220)
        for cmd, code in ((b"EHLO client.example", 250), (b"MAIL FROM:<s@example.org>", 250),
                          (b"RCPT TO:<%s>" % t.addr("alice").encode(), 250), (b"DATA", 354)):
            c.send(cmd + b"\r\n")
            reply = c.read_reply()
            self.assertEqual(reply[0], code, (cmd, reply))
        c.send(b"X-Test-Id: during-stop\r\nSubject: stop\r\n\r\nfirst half\r\n")
        mark = t.log_mark()
        os.kill(t.master_pid, signal.SIGTERM)
        t.wait_log(r"master\[\d+\]: stopping", after=mark)
        # The busy smtpd (and the enqueue it talks to) keep serving us.
        c.send(b"second half\r\n.\r\n")
        reply = c.read_reply()
        self.assertEqual(reply[0], 250, reply)
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        c.close()
        t.master.wait(40 * SCALE)
        self.assertEqual(t.master.returncode, 0, t.log_tail())
        for s in SERVICES:
            self.assertEqual(t.pids(s), [], "%s still running after stop" % s)
        # Accepted before the stop: delivered once the system runs again.
        t.start()
        self.assertIn("during-stop", t.wait_ids("alice", {"during-stop"}))

    def test_stop_of_an_idle_system_is_quick(self):
        # Margin: idle services exit as soon as the master tells them
        # (well under 1 s on a quiet machine); QUICK is 5 s (x SCALE), so
        # a busy machine has 4 s of slack, and a stop that waits for
        # master_stop_timeout (30 s) still fails.  The master gets 30 s
        # (x SCALE) to exit at all before the test gives up on it, so
        # that "slow" and "never" are told apart in the failure.
        quick = 5 * SCALE
        t = self.start_tree()
        started = time.monotonic()
        os.kill(t.master_pid, signal.SIGTERM)
        wait_for(lambda: t.master.poll() is not None, 30, "the master to exit after SIGTERM",
                 detail=t.log_tail, interval=0.02)
        took = time.monotonic() - started
        self.assertLess(took, quick, "an idle stop took %.2fs (bound %.1fs)\n%s" % (took, quick, t.log_tail()))
        self.assertEqual(t.master.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(t.dir, "run", "master.pid")),
                         "run/master.pid left behind")

    def test_stop_ends_idle_imap_and_pop3_sessions_with_a_goodbye(self):
        # Logged-in clients that send nothing (IDLE, a selected folder, a
        # POP3 maildrop, one over TLS through the login relay) must not
        # hold a stop up until master_stop_timeout: each gets its
        # protocol's goodbye at once, nothing half done is cut.
        t = self.start_tree(start=False)
        t.set_conf(master_stop_timeout="300s")
        t.start()
        t.deliver_ids("alice", ["s1"])
        idle = Session(t)
        idle.ok("SELECT INBOX")
        idle.s.sendall(b"i1 IDLE\r\n")
        self.assertTrue(idle.line().startswith(b"+"))
        selected = Session(t)
        selected.ok("SELECT INBOX")
        tls = imaplib.IMAP4_SSL(HOST, t.port("imaps"), ssl_context=tls_context(t), timeout=30 * SCALE)
        tls.login(t.addr("alice"), t.passwords["alice"])
        pop = poplib.POP3(HOST, t.port("pop3"), timeout=30 * SCALE)
        pop.user(t.addr("bob"))
        pop.pass_(t.passwords["bob"])
        started = time.monotonic()
        os.kill(t.master_pid, signal.SIGTERM)
        wait_for(lambda: t.master.poll() is not None, 60, "the master to exit with sessions open",
                 detail=t.log_tail, interval=0.05)
        took = time.monotonic() - started
        self.assertLess(took, 30 * SCALE, "the stop took %.1fs\n%s" % (took, t.log_tail()))
        self.assertNotIn("killing them", t.log_text())
        self.assertEqual(idle.line(), b"* BYE Server shutting down\r\n")
        self.assertEqual(selected.line(), b"* BYE Server shutting down\r\n")
        self.assertIn(b"BYE Server shutting down", tls.readline())
        self.assertTrue(pop.file.readline().startswith(b"-ERR [SYS/TEMP] Server shutting down"))
        for c in (idle, selected):
            c.s.close()
        tls.shutdown()
        pop.close()

    def test_children_exit_when_the_master_is_killed(self):
        t = self.start_tree()
        for s in SERVICES:
            self.assertTrue(t.wake(s), "no %s process" % s)
        t.note_children()
        os.kill(t.master_pid, signal.SIGKILL)
        t.master.wait(10 * SCALE)
        # Idle services notice at once (the lifeline pipe reaches EOF);
        # qmgr at its next wake-up, bounded by its timers.
        wait_for(lambda: not [s for s in SERVICES if s != "qmgr" and t.pids(s)], 15,
                 "the orphaned services to exit without their master",
                 detail=lambda: {s: t.pids(s) for s in SERVICES if t.pids(s)}, interval=0.1)

