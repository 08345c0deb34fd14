"""IMAP hibernation (issue 11): a session in IDLE with nothing to send is
handed, after imap_hibernate_timeout (1s here), to imap-hibernate, the
one process that holds idle sessions, and its session process is free;
when the folder changes or the client speaks, a session process takes it
back and answers as if it had never left (docs/protocols.md, "IMAP
hibernation").

Each test waits for the hand-off itself (the session's "hibernated" log
line) before it acts, so what follows happens while the session is held
by imap-hibernate: a delivery (EXISTS), another session's flag change
(FETCH FLAGS, with MODSEQ under CONDSTORE), its expunge (EXPUNGE;
VANISHED under QRESYNC), DONE and then a command, over imap and over
imaps (the login process relays the TLS, imap-hibernate holds the
plaintext end); a client that hangs up while hibernated; kill -9 of
imap-hibernate (its clients are dropped, the master starts another, new
sessions hibernate there); `postern stop` with hibernated sessions (each
gets BYE, the stop is quick); 50 hibernated sessions leave no more than
the spare session processes (the service table's `spares` of
imap-session) running; a login process cannot pass a session off as a
resume (only imap-hibernate's uid may)."""

import os
import pwd
import re
import signal
import socket
import time

from postern_harness import HOST, SCALE, PosternTestCase, is_root, service_table, wait_for
from test_peer_checks import run_as
from test_imap_two_sessions import Session
from test_pop3_tls import tls_context

USER = "alice"


class Client(Session):
    """A raw IMAP session (test_imap_two_sessions) over imap or imaps,
    its lines without CRLF, with IDLE."""

    def __init__(self, t, user=USER, tls=False):
        sock = socket.create_connection((HOST, t.port("imaps" if tls else "imap")), timeout=30 * SCALE)
        self.s = tls_context(t).wrap_socket(sock) if tls else sock
        self.f = self.s.makefile("rb")
        self.n = 0
        self.line()                                            # greeting
        self.ok("LOGIN %s %s" % (t.addr(user), t.passwords[user]))

    def line(self):
        return Session.line(self)[:-2]

    def send(self, data):
        self.s.sendall(data)

    def close(self):
        """Hang up (no LOGOUT: it may be in IDLE)."""
        for x in (self.f, self.s):
            try:
                x.close()
            except OSError:
                pass

    def after_fetches(self):
        """The next line that is not a FETCH: a flag change may be told
        before the expunge that follows it (when the STORE woke us)."""
        l = self.line()
        while re.match(rb"^\* \d+ FETCH \(", l):
            l = self.line()
        return l

    def idle(self):
        self.send(b"i IDLE\r\n")
        l = self.line()
        assert l.startswith(b"+ "), l

    def done(self):
        """DONE: the untagged lines before IDLE's tagged OK."""
        self.send(b"DONE\r\n")
        out = []
        while True:
            l = self.line()
            if l.startswith(b"i "):
                assert l.startswith(b"i OK"), (l, out)
                return out
            out.append(l)


class ImapHibernate(PosternTestCase):

    def tree(self, **conf):
        return self.start_tree_with(imap_hibernate_timeout="1s", **conf)

    def client(self, t, **kw):
        c = Client(t, **kw)
        self.addCleanup(c.close)
        return c

    def hibernated(self, t, mark, n=1, user=USER):
        """Wait until n sessions of user have been hibernated since mark."""
        pat = re.compile(r"user=%s@\S+ client=\S+: hibernated$" % user, re.M)
        wait_for(lambda: len(pat.findall(t.log_text(mark))) >= n, 20,
                 "%d hibernated session(s) of %s" % (n, user), detail=t.log_tail)

    def idle_hibernated(self, t, c, select="SELECT INBOX"):
        """SELECT, IDLE, and wait for the hand-off."""
        c.ok(select)
        mark = t.log_mark()
        c.idle()
        self.hibernated(t, mark)

    def told(self, t, mark, n=1):
        """imap-hibernate told n sessions of new mail itself (in one look
        at the folder, or more when one was still being handed over): none
        was woken."""
        pat = re.compile(r": (\d+) hibernated session\(s\) told of new mail, (\d+) woken$", re.M)
        wait_for(lambda: sum(int(a) for a, _ in pat.findall(t.log_text(mark))) >= n, 30,
                 "%d session(s) told of new mail by imap-hibernate" % n, detail=t.log_tail)
        self.assertEqual([w for _, w in pat.findall(t.log_text(mark)) if w != "0"], [])
        self.assertNotIn("resumed", t.log_text(mark))

    def deliver(self, t, test_id, have):
        t.send(t.addr(USER), test_id)
        t.wait_count(USER, have)

    # ---- what a hibernated session is told

    def test_delivery_reaches_a_hibernated_session(self):
        t = self.tree()
        self.deliver(t, "d1", 1)
        c = self.client(t)
        self.idle_hibernated(t, c)
        mark = t.log_mark()
        self.deliver(t, "d2", 2)
        self.assertEqual(c.line(), b"* 2 EXISTS")
        # Both are \Recent to it: the first since its SELECT (kept through
        # the hibernation), the second claimed for it by imap-hibernate.
        self.assertEqual(c.line(), b"* 2 RECENT")
        self.told(t, mark)
        # The session goes on: DONE, then a command, answered as usual.
        self.assertEqual(c.done(), [])
        out = c.ok("UID FETCH 1:* (FLAGS)")
        self.assertEqual(len(out), 2, out)
        self.assertTrue(all(b"\\Recent" in l for l in out), out)

    def test_two_deliveries_told_while_hibernated(self):
        """imap-hibernate tells new mail itself: the session stays held
        through both, and its state (the UIDs it knows, their \\Recent)
        is what the session process takes up after DONE."""
        t = self.tree()
        self.deliver(t, "w1", 1)
        c = self.client(t)
        self.idle_hibernated(t, c)
        mark = t.log_mark()
        self.deliver(t, "w2", 2)
        self.assertEqual(c.line(), b"* 2 EXISTS")
        self.assertEqual(c.line(), b"* 2 RECENT")
        self.deliver(t, "w3", 3)
        self.assertEqual(c.line(), b"* 3 EXISTS")
        self.assertEqual(c.line(), b"* 3 RECENT")
        wait_for(lambda: len(re.findall(r"told of new mail, 0 woken$", t.log_text(mark), re.M)) >= 2, 20,
                 "two deliveries told by imap-hibernate", detail=t.log_tail)
        self.assertNotIn("resumed", t.log_text(mark))
        self.assertEqual(c.done(), [])                          # nothing told twice
        out = c.ok("FETCH 1:* (UID FLAGS)")
        self.assertEqual([re.match(rb"^\* (\d+) FETCH \(UID (\d+) ", l).groups() for l in out],
                         [(b"1", b"1"), (b"2", b"2"), (b"3", b"3")])
        self.assertTrue(all(b"\\Recent" in l for l in out), out)
        self.assertEqual(c.ok("NOOP"), [])
        self.assertEqual(c.ok("UID SEARCH RECENT"), [b"* SEARCH 1 2 3"])

    def test_recent_of_new_mail_to_one_imap4rev1_session(self):
        """\\Recent of a message told by imap-hibernate goes to one
        session, an IMAP4rev1 read-write one before an IMAP4rev2 one (which
        cannot show it, RFC 9051 Appendix E) even when that one came first;
        IMAP4rev2 gets no RECENT, EXAMINE gets RECENT 0."""
        t = self.tree()
        rev2, rev1, ro = self.client(t), self.client(t), self.client(t)
        rev2.ok("ENABLE IMAP4rev2")
        mark = t.log_mark()
        for c, sel in ((rev2, "SELECT INBOX"), (rev1, "SELECT INBOX"), (ro, "EXAMINE INBOX")):
            c.ok(sel)
            c.idle()
        self.hibernated(t, mark, n=3)
        mark = t.log_mark()
        self.deliver(t, "r2", 1)
        self.assertEqual([rev1.line(), rev1.line()], [b"* 1 EXISTS", b"* 1 RECENT"])
        self.assertEqual([ro.line(), ro.line()], [b"* 1 EXISTS", b"* 0 RECENT"])
        self.assertEqual(rev2.line(), b"* 1 EXISTS")
        self.told(t, mark, n=3)
        self.assertEqual(rev2.done(), [])                       # no RECENT line
        self.assertEqual(rev1.done(), [])
        self.assertEqual(ro.done(), [])
        self.assertIn(b"\\Recent", rev1.ok("FETCH 1 (FLAGS)")[0])
        self.assertNotIn(b"\\Recent", rev2.ok("FETCH 1 (FLAGS)")[0])
        self.assertNotIn(b"\\Recent", ro.ok("FETCH 1 (FLAGS)")[0])

    def test_flag_change_after_told_mail_wakes(self):
        """New mail is told by imap-hibernate; a flag change or an expunge
        of a message the client knows (the one just told among them)
        still wakes the session, which tells it."""
        t = self.tree()
        self.deliver(t, "x1", 1)
        other = self.client(t)
        other.ok("SELECT INBOX")
        c = self.client(t)
        self.idle_hibernated(t, c)
        mark = t.log_mark()
        self.deliver(t, "x2", 2)
        # UID 1 is \Recent in other (it selected first), UID 2 in c.
        self.assertEqual([c.line(), c.line()], [b"* 2 EXISTS", b"* 1 RECENT"])
        self.told(t, mark)
        self.assertEqual(other.ok("NOOP"), [b"* 2 EXISTS", b"* 1 RECENT"])
        mark = t.log_mark()
        other.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
        self.assertRegex(c.line(), rb"^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\)\)$")
        t.wait_log(r"resumed \(the folder changed\)", after=mark)
        self.hibernated(t, mark)                                # set aside again at once
        mark = t.log_mark()
        other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        self.assertEqual(c.after_fetches(), b"* 1 EXPUNGE")
        t.wait_log(r"resumed \(the folder changed\)", after=mark)
        self.assertEqual(c.done(), [])
        self.assertEqual(c.ok("UID SEARCH ALL"), [b"* SEARCH 2"])

    def test_done_and_a_command_after_hibernation(self):
        t = self.tree()
        self.deliver(t, "c1", 1)
        c = self.client(t)
        self.idle_hibernated(t, c)
        mark = t.log_mark()
        # DONE and the next command in one packet: both read by the
        # session process that takes the session back.
        c.send(b"DONE\r\nx99 FETCH 1 (UID FLAGS)\r\n")
        self.assertEqual(c.line(), b"i OK IDLE terminated")
        self.assertRegex(c.line(), rb"^\* 1 FETCH \(UID 1 FLAGS \([^)]*\)\)$")
        self.assertRegex(c.line(), rb"^x99 OK")
        t.wait_log(r"resumed \(the client spoke\)", after=mark)
        self.assertEqual(c.ok("NOOP"), [])

    def test_flag_change_with_modseq_under_condstore(self):
        t = self.tree()
        self.deliver(t, "f1", 1)
        self.deliver(t, "f2", 2)
        other = self.client(t)
        other.ok("SELECT INBOX")
        c = self.client(t)
        c.ok("ENABLE CONDSTORE")
        self.idle_hibernated(t, c)
        out = other.ok("STORE 2 +FLAGS (\\Flagged)")
        modseq = re.search(rb"MODSEQ \((\d+)\)", b"".join(out))
        l = c.line()
        self.assertRegex(l, rb"^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$")
        if modseq:
            self.assertIn(b"MODSEQ (%s)" % modseq.group(1), l)
        self.assertEqual(c.done(), [])

    def test_flag_change_without_condstore(self):
        t = self.tree()
        self.deliver(t, "g1", 1)
        other = self.client(t)
        other.ok("SELECT INBOX")
        c = self.client(t)
        self.idle_hibernated(t, c)
        other.ok("STORE 1 +FLAGS.SILENT (\\Seen $Work)")
        lines = [c.line()]
        while b" FETCH " not in lines[-1]:
            lines.append(c.line())
        # The new keyword first (RFC 9051 7.3.5), then the change.
        self.assertTrue(any(l.startswith(b"* FLAGS (") and b"$Work" in l for l in lines[:-1]), lines)
        self.assertRegex(lines[-1], rb"^\* 1 FETCH \(UID 1 FLAGS \([^)]*\)\)$")
        # (\Recent went to the other session, which selected first.)
        self.assertEqual(sorted(re.search(rb"FLAGS \(([^)]*)\)", lines[-1]).group(1).split()),
                         [b"$Work", b"\\Seen"])
        self.assertEqual(c.done(), [])

    def test_expunge_by_another_session(self):
        t = self.tree()
        for i in range(3):
            self.deliver(t, "e%d" % i, i + 1)
        other = self.client(t)
        other.ok("SELECT INBOX")
        c = self.client(t)
        self.idle_hibernated(t, c)
        other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        self.assertEqual(c.after_fetches(), b"* 2 EXPUNGE")
        self.assertEqual(c.done(), [])
        self.assertEqual(c.ok("UID SEARCH ALL"), [b"* SEARCH 1 3"])

    def test_vanished_under_qresync(self):
        t = self.tree()
        for i in range(4):
            self.deliver(t, "v%d" % i, i + 1)
        other = self.client(t)
        other.ok("SELECT INBOX")
        c = self.client(t)
        c.ok("ENABLE QRESYNC")
        self.idle_hibernated(t, c)
        other.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        # One VANISHED, or two when a wake-up fell between the two
        # expunges (the store logs each): either way 2 and 3, once.
        gone = []
        while sorted(gone) != [2, 3]:
            m = re.match(rb"^\* VANISHED (\d+)(?::(\d+))?$", c.after_fetches())
            self.assertIsNotNone(m)
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            gone.extend(range(lo, hi + 1))
            self.assertLessEqual(len(gone), 2, gone)
        self.assertEqual(c.done(), [])
        out = c.ok("FETCH 1:* (UID)")
        self.assertEqual(out, [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 4)"])

    def test_saved_result_and_read_only_survive(self):
        t = self.tree()
        for i in range(3):
            self.deliver(t, "s%d" % i, i + 1)
        c = self.client(t)
        c.ok("EXAMINE INBOX")
        c.ok("SEARCH RETURN (SAVE) 2:3")
        mark = t.log_mark()
        c.idle()
        self.hibernated(t, mark)
        self.assertEqual(c.done(), [])
        self.assertEqual(c.ok("UID FETCH $ (UID)"), [b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 3)"])
        out = c.cmd("STORE 1 +FLAGS (\\Seen)")
        self.assertRegex(out[-1], rb"^t\d+ NO")                 # still read-only

    def test_over_imaps_through_the_login_relay(self):
        t = self.tree()
        self.deliver(t, "t1", 1)
        c = self.client(t, tls=True)
        c.ok("ENABLE CONDSTORE")
        self.idle_hibernated(t, c)
        mark = t.log_mark()
        self.deliver(t, "t2", 2)
        self.assertEqual(c.line(), b"* 2 EXISTS")
        self.assertEqual(c.line(), b"* 2 RECENT")
        # Told by imap-hibernate through the relay; woken by the client's DONE.
        self.told(t, mark)
        mark = t.log_mark()
        self.assertEqual(c.done(), [])
        t.wait_log(r"resumed \(the client spoke\)", after=mark)
        out = c.ok("FETCH 2 (FLAGS MODSEQ)")
        self.assertRegex(out[0], rb"^\* 2 FETCH \(FLAGS \(\\Recent\) MODSEQ \(\d+\)\)$")

    # ---- ends

    def test_client_that_hangs_up_while_hibernated(self):
        t = self.tree()
        c = self.client(t)
        self.idle_hibernated(t, c)
        mark = t.log_mark()
        c.close()
        t.wait_log(r"user=alice@\S+ client=\S+: left while hibernated", after=mark)
        # Its slot is free again, and others go on.
        d = self.client(t)
        self.idle_hibernated(t, d)

    def test_autologout_while_hibernated(self):
        t = self.tree(imap_timeout="3s")
        c = self.client(t)
        self.idle_hibernated(t, c)
        self.assertEqual(c.line(), b"* BYE Autologout: idle for too long")
        self.assertRaises(EOFError, c.line)

    def test_kill_9_of_imap_hibernate(self):
        t = self.tree()
        c = self.client(t)
        self.idle_hibernated(t, c)
        (pid,) = t.pids("imap-hibernate")
        mark = t.log_mark()
        os.kill(pid, signal.SIGKILL)
        self.assertRaises(EOFError, c.line)                     # dropped
        t.wait_log(r"service imap-hibernate: pid %d killed by signal 9" % pid, after=mark)
        # The next session set aside starts a new process (on demand).
        d = self.client(t)
        self.idle_hibernated(t, d)
        new = t.wait_pids("imap-hibernate", exclude=(pid,))
        self.assertTrue(new, "imap-hibernate was not started again")
        mark = t.log_mark()
        self.deliver(t, "k1", 1)
        self.assertEqual(d.line(), b"* 1 EXISTS")

    def test_reload_keeps_hibernated_sessions(self):
        t = self.tree()
        c = self.client(t)
        self.idle_hibernated(t, c)
        (old,) = t.pids("imap-hibernate")
        mark = t.log_mark()
        t.run("reload", "-d", t.dir)
        t.wait_log(r"reload: rereading configuration", after=mark)
        # A new process takes new sessions (started for the first of
        # them); the old one keeps its own until they wake, then exits.
        self.deliver(t, "r1", 1)
        self.assertEqual(c.line(), b"* 1 EXISTS")
        self.assertEqual(c.line(), b"* 1 RECENT")
        # Told by the old process, which keeps it until the client speaks.
        self.assertEqual(c.done(), [])
        wait_for(lambda: old not in t.pids("imap-hibernate"), 20, "the old imap-hibernate to exit",
                 detail=t.log_tail)
        self.assertEqual(c.ok("NOOP"), [])
        mark = t.log_mark()
        c.idle()
        self.hibernated(t, mark)                                # in the new process
        self.assertTrue(t.wait_pids("imap-hibernate", exclude=(old,)))
        self.assertEqual(c.done(), [])

    def test_stop_with_hibernated_sessions(self):
        t = self.tree()
        clients = [self.client(t) for _ in range(3)]
        mark = t.log_mark()
        for c in clients:
            c.ok("SELECT INBOX")
            c.idle()
        self.hibernated(t, mark, n=3)
        started = time.monotonic()
        p = t.run("stop", "-d", t.dir, timeout=60)
        took = time.monotonic() - started
        for c in clients:
            self.assertEqual(c.line(), b"* BYE Server shutting down")
        # Nothing waits for master_stop_timeout (30s): a stop of an idle
        # tree takes about a second; 10s (scaled) is a wide margin.
        self.assertLess(took, 10 * SCALE, p.stdout)
        t.master.wait(30 * SCALE)
        self.assertIn("ended 3 hibernated sessions: the system stops", t.log_text(mark))

    def test_fifty_hibernated_sessions_leave_only_the_spares(self):
        t = self.tree()
        (row,) = [r for r in service_table() if r["name"] == "imap-session"]
        clients = []
        mark = t.log_mark()
        for _ in range(50):
            c = self.client(t)
            c.ok("SELECT INBOX")
            c.idle()
            clients.append(c)
        self.hibernated(t, mark, n=50)
        # The master tells a session process that turns idle beyond the
        # spares to exit: all but those go.
        wait_for(lambda: len(t.pids("imap-session")) <= SPARES, 20,
                 "at most %d imap-session processes (maxproc %d)" % (SPARES, row["maxproc"]),
                 detail=lambda: "%d left\n%s" % (len(t.pids("imap-session")), t.log_tail()))
        self.assertEqual(len(t.pids("imap-hibernate")), 1)
        # All 50 are still there: one delivery reaches every one.
        self.deliver(t, "fifty", 1)
        for c in clients:
            self.assertEqual(c.line(), b"* 1 EXISTS")

    # ---- who may resume

    def test_a_login_process_cannot_pass_a_session_off_as_a_resume(self):
        if not is_root():
            self.skipTest("needs root: started by another user, every process runs as one uid")
        try:
            uid = pwd.getpwnam("postern-login").pw_uid
        except KeyError:
            self.skipTest("no system user postern-login")
        t = self.tree()
        path = os.path.join(t.dir, "private", "imap-session")
        fields = [("request", "resume"), ("version", "1"), ("wake", "client"), ("user", t.addr("bob")),
                  ("root", "%s/bob" % t.domain), ("client", "127.0.0.1"), ("tls", "no"), ("enabled", ""),
                  ("mailbox", "INBOX"), ("path", "%s/bob" % t.domain), ("readonly", "0"),
                  ("uidvalidity", "1"), ("modseq", "1"), ("keywords", "0"), ("tag", "a"),
                  ("idle_since", "1"), ("deadline", "1"), ("errors", "0")]
        rec = "".join("%s=%s\n" % kv for kv in fields).encode() + b"\n"

        def attempt():
            # postern-login is a caller of imap-session (for logins), so
            # it is let in; the resume itself must be refused.
            mine, theirs = socket.socketpair()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30 * SCALE)
            s.connect(path)
            socket.send_fds(s, [rec], [theirs.fileno()])
            theirs.close()
            answer = s.recv(4096)
            s.close()
            return answer.decode()

        mark = t.log_mark()
        pid, answer = run_as("postern-login", attempt)
        self.assertEqual(answer, "")                              # closed, no status=ok
        t.wait_log(r"imap-session\[\d+\]: warning: refused a resume from pid=%d uid=%d: only imap-hibernate"
                   % (pid, uid), after=mark)
        self.assertNotIn("resumed", t.log_text(mark))

    def test_a_record_with_bytes_after_it_is_refused_at_once(self):
        """The caller waits for an answer after its record: bytes after
        the record's empty line break the protocol, and imap-hibernate
        says so and closes at once (common/fdrecord's end of record)."""
        if not is_root():
            self.skipTest("needs root: only postern-vmail and root may call imap-hibernate")
        t = self.tree()
        t.wake("imap-hibernate")
        mark = t.log_mark()
        mine, theirs = socket.socketpair()
        self.addCleanup(mine.close)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.settimeout(30 * SCALE)
        s.connect(os.path.join(t.dir, "private", "imap-hibernate"))
        socket.send_fds(s, [b"request=hibernate\n\nmore"], [theirs.fileno()])
        theirs.close()
        self.assertEqual(s.recv(4096), b"")                        # closed, no answer
        t.wait_log(r"imap-hibernate\[\d+\]: warning: a hibernation record followed by 4 more bytes", after=mark)


SPARES = 4   # common/service_table.c: the spares of imap-session (docs/tree.md)
