"""kill -9 of the processes a client talks to, mid-conversation (issue 14,
section 2): what the client sees, and that nothing it was told is safe is
lost, nothing it was not told is delivered, and the service comes back.

- smtpd mid-DATA: the connection drops, no 250; the half message is never
  delivered and leaves nothing in the queue; the next session delivers.
- pickup mid-message (a client of its socket, as sendmail is): the
  connection drops without an answer (sendmail then exits 75), nothing is
  delivered or left in the queue; the next sendmail delivers.
- an IMAP session process after STORE: the client's connection drops; the
  flag it was told was stored is there in the next session, the messages
  are all there.
- a POP3 session process after DELE, before QUIT: the connection drops and
  nothing is deleted (RFC 1939: only QUIT's UPDATE state deletes).
- authd between logins: the next login succeeds once the master has
  restarted it.
(qmgr, local and enqueue under load: test_queue_crash.py; remote:
test_restart.py.)"""

import imaplib
import os
import poplib
import signal
import socket
import subprocess
import time
import unittest

from postern_harness import (BIN, HOST, SCALE, PosternTestCase, RawSMTP, daemon_env, make_message,
                             wait_for, wait_peer_read)


class KillDaemons(PosternTestCase):

    def kill_all(self, t, service):
        """SIGKILL every process of service; their pids."""
        pids = t.pids(service)
        self.assertTrue(pids, "no %s process to kill" % service)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def queue_files(self, t):
        out = []
        for sub in ("tmp", "incoming", "active", "deferred", "hold"):
            d = os.path.join(t.dir, "queue", sub)
            out += [os.path.join(sub, n) for n in os.listdir(d)] if os.path.isdir(d) else []
        return out

    def test_smtpd_killed_mid_data_gives_no_250_and_delivers_nothing(self):
        t = self.start_tree()
        rcpt = t.addr("alice")
        c = RawSMTP(t.port("smtp"))
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        for line, code in ((b"EHLO client.example", 250), (b"MAIL FROM:<a@example.org>", 250),
                           (b"RCPT TO:<%s>" % rcpt.encode(), 250), (b"DATA", 354)):
            c.send(line + b"\r\n")
            self.assertEqual(c.read_reply()[0], code, line)
        msg = make_message("killed-1", "a@example.org", rcpt, b"x" * 200000 + b"\r\n")
        c.send(msg[: len(msg) // 2])
        wait_peer_read(c.sock)
        self.kill_all(t, "smtp")
        with self.assertRaises((EOFError, ConnectionError)):
            c.send(msg[len(msg) // 2:] + b".\r\n")
            c.read_reply()
        # enqueue drops the half message; a new smtpd delivers the next one.
        wait_for(lambda: self.queue_files(t) == [], 30, "an empty queue after the killed session",
                 detail=lambda: "%r\n%s" % (self.queue_files(t), t.log_tail()))
        wait_for(lambda: t.send(rcpt, "after-1") is not None, 30, "a new SMTP session",
                 ignore=(OSError, EOFError), interval=0.2)
        t.wait_ids("alice", {"after-1"})
        self.assertNotIn("killed-1", t.test_ids("alice"))

    def test_pickup_killed_mid_message_drops_the_connection_and_delivers_nothing(self):
        t = self.start_tree()
        rcpt = t.addr("alice")
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(c.close)
        c.settimeout(30 * SCALE)
        c.connect(os.path.join(t.dir, "public", "pickup"))
        msg = make_message("killed-2", "a@example.org", rcpt, b"y" * 100000 + b"\n").replace(b"\r\n", b"\n")
        # The record, then a chunk announced whole and sent half (docs/protocols.md).
        c.sendall(b"rcpt=" + rcpt.encode() + b"\n\n" + b"%d\n" % len(msg) + msg[: len(msg) // 2])
        # Mid-message once pickup has read what we sent: its end of our
        # socket has nothing left to read (ss -x: Recv-Q of the peer of ours).
        wait_for(lambda: self.unix_peer_unread(c) == 0, 30, "pickup reading the message", detail=t.log_tail)
        self.kill_all(t, "pickup")
        with self.assertRaises((ConnectionError, EOFError)):
            c.sendall(msg[len(msg) // 2:] + b"0\n")
            if c.recv(4096) == b"":
                raise EOFError("closed without an answer")
        wait_for(lambda: self.queue_files(t) == [], 30, "an empty queue after the killed pickup",
                 detail=lambda: "%r\n%s" % (self.queue_files(t), t.log_tail()))
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir

        def again():
            q = subprocess.run([os.path.join(BIN, "sendmail"), "-oi", "-f", "a@example.org", rcpt],
                               input=make_message("after-2", "a@example.org", rcpt, b"ok\n"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60 * SCALE)
            return q.returncode == 0
        wait_for(again, 30, "sendmail after pickup came back", interval=0.2)
        t.wait_ids("alice", {"after-2"})
        self.assertNotIn("killed-2", t.test_ids("alice"))

    @staticmethod
    def unix_peer_unread(sock):
        """Bytes waiting at the other end of our Unix stream socket, or
        None while it has no peer (not accepted yet)."""
        ours = str(os.fstat(sock.fileno()).st_ino)
        out = subprocess.run(["ss", "-xn"], stdout=subprocess.PIPE, check=True).stdout.decode()
        for line in out.splitlines()[1:]:
            f = line.split()
            if len(f) >= 8 and f[1] == "ESTAB" and f[7] == ours and f[5] != ours:
                return int(f[2])
        return None

    def test_imap_session_killed_after_store_keeps_what_it_said(self):
        t = self.start_tree()
        for i in range(3):
            t.send(t.addr("alice"), "imap-%d" % i)
        t.wait_count("alice", 3)
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        c.select("INBOX")
        typ, _ = c.store("2", "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "OK")
        before = set(t.pids("imap-session"))
        self.kill_all(t, "imap-session")
        with self.assertRaises((imaplib.IMAP4.abort, OSError, EOFError)):
            c.noop()
            c.noop()
        t.wait_pids("imap-session", exclude=before, seconds=30)

        def session():
            d = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
            d.login(t.addr("alice"), t.passwords["alice"])
            return d
        d = wait_for(session, 30, "a new IMAP login", ignore=(OSError, imaplib.IMAP4.error, EOFError),
                     interval=0.2)
        typ, data = d.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"3"]))
        typ, data = d.fetch("1:3", "(FLAGS)")
        flagged = [line for line in data if b"\\Flagged" in line]
        self.assertEqual(len(flagged), 1, data)
        self.assertTrue(flagged[0].startswith(b"2 "), data)
        d.logout()

    def test_pop3_session_killed_before_quit_deletes_nothing(self):
        t = self.start_tree()
        for i in range(2):
            t.send(t.addr("bob"), "pop-%d" % i)
        t.wait_count("bob", 2)
        p = t.pop3("bob")
        self.assertTrue(p.dele(1).startswith(b"+OK"))
        self.kill_all(t, "pop3-session")
        with self.assertRaises((poplib.error_proto, OSError, EOFError)):
            p.quit()
            p.noop()
        q = t.pop3_retrying("bob", seconds=30)
        self.assertEqual(q.stat()[0], 2)
        q.quit()
        self.assertEqual(t.count("bob"), 2)

    def test_authd_killed_between_logins_comes_back(self):
        t = self.start_tree()
        before = set(self.kill_all(t, "authd"))
        t.wait_pids("authd", exclude=before, seconds=30)
        q = t.pop3_retrying("alice", seconds=30)
        self.assertTrue(q.stat() is not None)
        q.quit()


if __name__ == "__main__":
    unittest.main()
