"""A bounce from the smarthost, many times over (issue 9, item 5).

The scenario: alice submits a message on the submission port (STARTTLS,
AUTH) to an address of a foreign domain; relayhost points at a fake
smarthost on 127.0.0.x that refuses every RCPT with 550 5.1.1; the
delivery status notification must come back into alice's maildrop,
read over POP3, once and quickly.  It is repeated 60 times in one
Postern instance: one at a time (each waiting for its bounce), in quick
succession on one session, and from several sessions at once.  Each
message has its own X-Test-Id and its own deadline; every bounce must
arrive exactly once, and the latencies are printed.

The fake smarthost is a small threaded server in this file (no
dependency on Postfix's smtp-sink), with pipelining like a real
smarthost, so the remote agent sends MAIL and RCPT together, and with
an error limit: after so many refusals in one session it says 421 and
hangs up, as Postfix and Postern do (smtpd_hard_error_limit).  The
remote agent keeps sessions for the next message, so some bounces end a
session.  Two causes of late or missing bounces are tested here: the
remote agent crashed when the session ended right after the refusal
(the message was then retried every qmgr_local_retry_time and never
bounced while that went on), and qmgr missed a report it had queued
itself while the active set was full (it waited for the periodic scan,
queue_run_delay, 300 s).
"""

import re
import socketserver
import sys
import threading
import time

from postern_harness import SCALE, PosternTestCase, deadline, header_value, make_message, wait_for

SMARTHOST = "127.0.0.23"
FOREIGN = "nobody@far-away.test"
# A bounce normally takes well under a second; this is the margin for a
# busy 2-core machine, and far below the 300 s of a periodic queue scan.
BOUNCE_DEADLINE = 20


class SmarthostSession(socketserver.StreamRequestHandler):
    """One SMTP session with the fake smarthost (self.server)."""

    def handle(self):
        srv, errors = self.server, 0
        self.connection.settimeout(120)
        with srv.lock:
            srv.sessions += 1
        try:
            self.wfile.write(b"220 smarthost.test ESMTP fake\r\n")
            for line in self.rfile:
                reply = srv.answer(line.rstrip(b"\r\n"))
                if reply is None:
                    self.wfile.write(b"221 2.0.0 Bye\r\n")
                    return
                self.wfile.write(reply)
                errors += reply[:1] in (b"4", b"5")
                if errors >= srv.error_limit:
                    with srv.lock:
                        srv.hangups += 1
                    self.wfile.write(b"421 4.7.0 smarthost.test Error: too many errors\r\n")
                    return
        except OSError:
            return


class FakeSmarthost(socketserver.ThreadingTCPServer):
    """SMTP on SMARTHOST:ephemeral port, refusing every recipient with
    550 5.1.1.  Like Postfix's and Postern's smtpd (smtpd_hard_error_limit,
    20 by default in both), it counts the refusals of a session and after
    the error_limit-th one says 421 and hangs up, so a session the remote
    agent reuses for many bounces ends right after a 550.  Counts
    sessions and refused recipients."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host=SMARTHOST, error_limit=20):
        super().__init__((host, 0), SmarthostSession)
        self.host, self.port = self.server_address
        self.error_limit = error_limit
        self.lock = threading.Lock()
        self.sessions = 0
        self.hangups = 0        # sessions ended by the error limit
        self.rcpts = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, line):
        """The reply to one command line, or None for QUIT."""
        verb = line[:4].upper()
        if verb in (b"EHLO", b"LHLO"):
            return b"250-smarthost.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
        if verb == b"HELO":
            return b"250 smarthost.test\r\n"
        if verb == b"MAIL":
            return b"250 2.1.0 Ok\r\n"
        if verb == b"RCPT":
            m = re.search(rb"<([^>]*)>", line)
            addr = m.group(1) if m else b""
            with self.lock:
                self.rcpts.append(addr.decode("utf-8", "replace"))
            return b"550 5.1.1 <%s>: Recipient address rejected: User unknown\r\n" % addr
        if verb == b"DATA":
            return b"554 5.5.1 Error: no valid recipients\r\n"
        if verb in (b"RSET", b"NOOP"):
            return b"250 2.0.0 Ok\r\n"
        if verb == b"QUIT":
            return None
        return b"502 5.5.2 Error: command not recognized\r\n"

    def stop(self):
        self.shutdown()
        self.server_close()


class Maildrop:
    """Reads alice's maildrop over POP3 in a thread: every new message is
    retrieved, its bounced X-Test-Id noted with the time it was first
    seen, and deleted.  One reader at a time, as POP3 wants."""

    def __init__(self, tree, user):
        self.tree, self.user = tree, user
        self.cond = threading.Condition()
        self.seen = {}          # test id -> [monotonic time first seen, copies]
        self.others = []        # messages that are not a bounce of ours
        self.errors = []
        self.done = threading.Event()
        self.reader = threading.Thread(target=self.read_until_done, daemon=True)
        self.reader.start()

    def read_until_done(self):
        # A fresh POP3 session every 50 ms: each sees what local has
        # delivered since the last one.
        while not self.done.wait(0.05):
            try:
                self.poll_once()
            except Exception as e:   # keep reading; report at the end
                with self.cond:
                    self.errors.append(repr(e))

    def poll_once(self):
        p = self.tree.pop3(self.user, timeout=30)
        try:
            _, listing, _ = p.list()
            for entry in listing:
                num = int(entry.split()[0])
                _, lines, _ = p.retr(num)
                self.note(b"\r\n".join(lines) + b"\r\n")
                p.dele(num)
        finally:
            p.quit()

    def note(self, data):
        now = time.monotonic()
        # The report returns the original header (text/rfc822-headers or
        # message/rfc822): its X-Test-Id names the message that bounced.
        m = re.search(rb"^X-Test-Id: ([^\r\n]+)", data, re.M)
        is_dsn = b"multipart/report" in data and b"Action: failed" in data and b"Status: 5.1.1" in data
        with self.cond:
            if m and is_dsn and header_value(data, "X-Test-Id") is None:
                tid = m.group(1).decode("utf-8", "replace")
                entry = self.seen.setdefault(tid, [now, 0])
                entry[1] += 1
            else:
                self.others.append(data[:2000])
            self.cond.notify_all()

    def wait_for(self, tid, until):
        with self.cond:
            while tid not in self.seen and time.monotonic() < until:
                self.cond.wait(max(0.01, until - time.monotonic()))
            return self.seen.get(tid)

    def stop(self):
        self.done.set()
        self.reader.join(60 * SCALE)


class BounceRepeat(PosternTestCase):

    def start(self, error_limit=4, **conf):
        # A low error limit: many of the sessions the remote agent reuses
        # end right after a refusal.
        self.smarthost = FakeSmarthost(error_limit=error_limit)
        self.addCleanup(self.smarthost.stop)
        self.tree = self.start_tree(users=("alice",), start=False)
        self.tree.set_conf(relayhost="[%s]:%d" % (self.smarthost.host, self.smarthost.port), **conf)
        self.tree.start()
        self.drop = Maildrop(self.tree, "alice")
        self.addCleanup(self.drop.stop)
        self.sent = {}          # test id -> (monotonic time of the 250, queue id)
        self.lock = threading.Lock()

    def submit_one(self, tid):
        """tid on a session of its own, as a mail client sends it."""
        s = self.tree.submission("alice")
        try:
            self.submit(s, tid)
        finally:
            s.quit()

    def submit(self, session, tid):
        """Send message tid on an authenticated submission session."""
        sender = self.tree.addr("alice")
        msg = make_message(tid, sender, FOREIGN, b"This will bounce.\r\n")
        code, _ = session.mail(sender)
        self.assertEqual(code, 250)
        code, _ = session.rcpt(FOREIGN)
        self.assertEqual(code, 250)
        code, text = session.data(msg)
        self.assertEqual(code, 250, text)
        m = re.search(rb"queued as ([0-9A-F]+)", text)
        with self.lock:
            self.sent[tid] = (time.monotonic(), m.group(1).decode() if m else "?")

    def wait_bounces(self, tids):
        for tid in tids:
            t0 = self.sent[tid][0]
            got = self.drop.wait_for(tid, t0 + BOUNCE_DEADLINE * SCALE)
            if got is None:
                self.fail(self.diagnosis(tid))

    def diagnosis(self, tid):
        """Where the message and its bounce are, for a failure message."""
        t0, qid = self.sent[tid]
        lines = [l for l in self.tree.log_bytes().decode("utf-8", "replace").splitlines() if qid in l]
        dsn_ids = set()
        for l in lines:
            m = re.search(r": sender non-delivery notification: ([0-9A-F]+)", l)
            if m:
                dsn_ids.add(m.group(1))
        more = [l for l in self.tree.log_bytes().decode("utf-8", "replace").splitlines()
                if any(d in l for d in dsn_ids)]
        on_disk = []
        for path in self.tree.message_paths("alice"):
            try:
                with open(path, "rb") as f:
                    if ("X-Test-Id: " + tid).encode() in f.read():
                        on_disk.append(path)
            except OSError:
                pass
        return ("no bounce for %s (queue id %s) %.1f s after its 250\n"
                "queue: %r\nin alice's Maildir: %r\nPOP3 errors: %r\nlog of %s:\n%s\nlog of its DSN %s:\n%s"
                % (tid, qid, time.monotonic() - t0, self.tree.queue_json(), on_disk, self.drop.errors[-5:],
                   qid, "\n".join(lines), sorted(dsn_ids), "\n".join(more)))

    def test_sixty_bounces_from_the_smarthost_each_arrive_once(self):
        self.start()
        tids = []
        # One at a time: each waits for its bounce before the next.
        for i in range(20):
            tid = "one-%02d" % i
            self.submit_one(tid)
            tids.append(tid)
            self.wait_bounces([tid])
        # In quick succession on one session.
        s = self.tree.submission("alice")
        try:
            burst = ["burst-%02d" % i for i in range(20)]
            for tid in burst:
                self.submit(s, tid)
        finally:
            s.quit()
        tids += burst
        self.wait_bounces(burst)
        # From four sessions at once.
        errors = []

        def client(k):
            try:
                s = self.tree.submission("alice")
                try:
                    for i in range(5):
                        self.submit(s, "conc-%d-%d" % (k, i))
                finally:
                    s.quit()
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120 * SCALE)
        self.assertEqual(errors, [])
        conc = ["conc-%d-%d" % (k, i) for k in range(4) for i in range(5)]
        tids += conc
        self.wait_bounces(conc)

        # Exactly once: when the queue is empty every report there will
        # be is in the maildrop; one more read after the reader stopped
        # sees the last of them (and any second copy).
        wait_for(lambda: self.tree.queue_json() == [], BOUNCE_DEADLINE, "an empty queue",
                 detail=self.tree.log_tail)
        self.drop.stop()
        self.drop.poll_once()
        with self.drop.cond:
            seen = {t: v[1] for t, v in self.drop.seen.items()}
            others = list(self.drop.others)
        self.assertEqual(seen, {t: 1 for t in tids})
        self.assertEqual(others, [])
        self.assertEqual(len(self.smarthost.rcpts), len(tids))
        # Each bounce took the direct path: no agent crashed, nothing was
        # deferred (a crash costs qmgr_local_retry_time, or much more).
        log = self.tree.log_bytes().decode("utf-8", "replace")
        self.assertEqual(re.findall(r".*(?:killed by signal|status=deferred|delivery agent).*", log), [])
        self.assertGreater(self.smarthost.hangups, 0, "no session reached the smarthost's error limit")
        lat = sorted(self.drop.seen[t][0] - self.sent[t][0] for t in tids)
        sys.stderr.write("\nbounce latency over %d messages: median %.3f s, max %.3f s; "
                         "%d smarthost sessions, %d ended by its error limit\n"
                         % (len(lat), lat[len(lat) // 2], lat[-1], self.smarthost.sessions,
                            self.smarthost.hangups))

    def test_bounce_comes_when_the_smarthost_hangs_up_after_refusing(self):
        # Every session ends with the refusal (421 and close, as a server
        # that drops a client after an unknown recipient does): the remote
        # agent's RSET fails, the session is gone, and the answer "failed"
        # must still reach qmgr.  It crashed on the missing session
        # instead, so the message was retried every 10 s and never bounced.
        self.start(error_limit=1)
        for i in range(3):
            tid = "hangup-%d" % i
            self.submit_one(tid)
            self.wait_bounces([tid])
        self.assertEqual(self.smarthost.hangups, 3)
        log = self.tree.log_bytes().decode("utf-8", "replace")
        self.assertEqual(re.findall(r".*(?:killed by signal|status=deferred|delivery agent).*", log), [])

    def test_bounce_comes_while_the_active_set_is_full(self):
        # With room for one message, the pass over incoming/ that took the
        # bouncing message is paused when qmgr queues the report there;
        # the report must still be seen at once, not at the next periodic
        # scan (queue_run_delay, 300 s).
        self.start(qmgr_active_limit="1")
        for i in range(3):
            tid = "full-%d" % i
            self.submit_one(tid)
            self.wait_bounces([tid])


if __name__ == "__main__":
    import unittest
    unittest.main()
