"""kill -9 of the processes a client talks to, under load (issue 14,
section 2): what the client sees, that nothing it was told is safe is
lost or doubled, that the master logs the death and restarts the
service, and that new clients are served.  docs/master.md, "What a
kill -9 costs a client", is the table of these outcomes.

- smtpd, a client mid-DATA: the connection drops, no 250; the half
  message is never delivered.  A client that sent the final dot and waits
  for the 250 (enqueue held with SIGSTOP so the wait is certain): the
  connection drops, no 250; the message may still be delivered, once
  (enqueue had the whole message: docs/queue.md's "a delivery whose
  sender got no 250", a duplicate when the client sends again).
- remote, waiting for the next hop's answer to the final dot: the next
  hop sees the connection drop (no 250 given, so it keeps nothing); qmgr
  defers and the message reaches the next hop exactly once.
- pickup, mid-message (raw client of its socket) and while sendmail runs:
  sendmail exits 75 (or 0 when pickup answered first); exit 0 means
  delivered exactly once, 75 at most once.
- authd, while clients log in on 587: 235, 454 or a dropped connection
  for the right password, never 235 for a wrong one; the next login works.
- the POP3 session mid-RETR and after DELE, the POP3 login process after
  USER; the IMAP session mid-FETCH, mid-APPEND and in a run of STOREs,
  the IMAP login process relaying TLS mid-FETCH: the connection drops;
  a new session sees every message once under its old UID, every flag
  a STORE was answered OK for, and no half APPEND.
In every case a few other clients keep using the service throughout,
and every one of their messages that got a 250 arrives exactly once.
(qmgr, local and enqueue: test_queue_crash.py.)"""

import base64
import imaplib
import os
import poplib
import random
import re
import select
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import unittest

from loopback_server import LoopbackServer
from postern_harness import (BIN, HOST, SCALE, PosternTestCase, RawSMTP, connection_pids, daemon_env,
                             make_message, open_files, unverified_tls_context, wait_for, wait_peer_read)
from test_restart import kill9

FOREIGN = "far@remote.example"
BIG = b"".join(b"line %06d of a long message body to read slowly\r\n" % i for i in range(20000))
# More than the kernel's largest send buffer (tcp_wmem, 4 MiB) and a small
# receive window can hold: a session killed while sending it has not
# handed all of it to the kernel yet.
HUGE_COPIES = 6


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def small_window_socket(port):
    """A TCP connection to port whose receive buffer is small, so that a
    server writing a long answer is still writing it when it is killed
    (and not done, its answer waiting whole in the kernel's buffers)."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.settimeout(30 * SCALE)
    c.connect((HOST, port))
    return c


def socket_inodes(pid):
    return {n[len("socket:["):-1] for n in open_files(pid) if n.startswith("socket:[")}


def unix_peer_pids(pid, candidates):
    """Those of candidates that hold the other end of one of pid's Unix
    stream sockets (ss -x gives each end's inode and its peer's)."""
    ours = socket_inodes(pid)
    out = subprocess.run(["ss", "-xn"], stdout=subprocess.PIPE, check=True).stdout.decode()
    peers = set()
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[1] == "ESTAB" and f[5] in ours:
            peers.add(f[7])
    return [c for c in candidates if socket_inodes(c) & peers]


def no_reply_waiting(sock):
    return not select.select([sock], [], [], 0)[0]


class Load:
    """A few client threads doing work(i) in a loop until stop(); work
    returns an id to record (or None).  Errors count as refusals."""

    def __init__(self, n, work, ignore=(OSError, EOFError)):
        self.done, self.errors = [], 0
        self.lock, self.halt = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k, n, work, ignore), daemon=True)
                        for k in range(n)]
        for th in self.threads:
            th.start()

    def run(self, k, n, work, ignore):
        i = k
        while not self.halt.is_set():
            try:
                r = work(i)
            except ignore:
                r = None
                with self.lock:
                    self.errors += 1
                self.halt.wait(0.05)   # a refusal while the service is down: pace the retry (stop ends it)
            if r is not None:
                with self.lock:
                    self.done.append(r)
            i += n

    def count(self):
        with self.lock:
            return len(self.done)

    def stop(self):
        self.halt.set()
        for th in self.threads:
            th.join(60 * SCALE)
        assert not any(th.is_alive() for th in self.threads), "load clients did not finish"
        return list(self.done)


class HoldingSink(LoopbackServer):
    """A next hop on loopback: takes every message, but holds the answer to
    the final dot of the first `hold` transactions until the connection
    drops (a kill of remote), giving them no 250 (or until release is set).  delivered: {X-Test-Id:
    number of 250s given}.  Setting release answers the held ones.)"""

    def __init__(self, hold, port=0):
        super().__init__(port=port)
        self.release = threading.Event()
        self.hold = hold
        self.holding = True     # cleared before the kill: hold no new transaction
        self.held = []
        self.delivered = {}

    def wait_release(self, conn):
        """Hold a transaction until release is set (True: answer it) or
        the connection drops (False)."""
        while not self.release.is_set():
            if select.select([conn], [], [], 0.05)[0]:
                return False    # EOF or bytes out of turn: either way, no answer
        return True

    def serve(self, conn, state):
        f = conn.makefile("rb")
        try:
            conn.sendall(b"220 sink.example ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-sink.example\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    data = b""
                    while True:
                        dl = f.readline()
                        if not dl or dl == b".\r\n":
                            break
                        data += dl
                    if not dl:
                        return
                    m = re.search(rb"^X-Test-Id: (\S+)", data, re.M | re.I)
                    tid = m.group(1).decode() if m else "?"
                    with self.lock:
                        holding = self.holding and len(self.held) < self.hold
                        if holding:
                            self.held.append(tid)
                    if holding and not self.wait_release(conn):
                        return      # remote is gone: no answer, nothing kept
                    conn.sendall(b"250 2.0.0 kept\r\n")
                    with self.lock:
                        self.delivered[tid] = self.delivered.get(tid, 0) + 1
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            f.close()


class KillDaemons(PosternTestCase):

    def start_fast_tree(self, **conf):
        """A tree whose retries after an agent's crash are quick."""
        t = self.start_tree(start=False)
        t.set_conf(qmgr_local_retry_time="1s", minimal_backoff_time="1s", maximal_backoff_time="2s",
                   queue_run_delay="3s", **conf)
        t.start()
        return t

    def kill_logged(self, t, service, pids):
        """kill -9 pids of service; wait for the master's log of each death
        and for a process of the service that is not one of them."""
        self.assertTrue(pids, "no %s process to kill" % service)
        mark = t.log_mark()
        kill9(pids)
        for pid in pids:
            t.wait_log(r"service %s: pid %d killed by signal 9" % (re.escape(service), pid), after=mark)
        # Once per incident (docs/master.md): a second kill within the
        # backoff joins the restart already scheduled.
        t.wait_log(r"service %s: restarting in" % re.escape(service))
        return mark

    def serving(self, t, service, sock):
        """The processes of service that hold the server end of sock."""
        pids = sorted(set(connection_pids(sock)) & set(t.pids(service)))
        self.assertTrue(pids, "no %s process serves this connection" % service)
        return pids

    def queue_files(self, t):
        out = []
        for sub in ("tmp", "incoming", "active", "deferred", "hold"):
            d = os.path.join(t.dir, "queue", sub)
            out += [os.path.join(sub, n) for n in os.listdir(d)] if os.path.isdir(d) else []
        return out

    def smtp_load(self, t, rcpt, prefix, clients=3):
        """clients threads sending to rcpt over SMTP; done = ids that got 250."""
        sessions = {}

        def work(i):
            tid = "%s-%04d" % (prefix, i)
            k = threading.get_ident()
            s, error = t.smtp_send(sessions.get(k), "load@example.org", [rcpt],
                                   make_message(tid, "load@example.org", rcpt, b"load\r\n"), timeout=30)
            sessions[k] = s
            return tid if error is None else None
        load = Load(clients, work)
        self.addCleanup(load.halt.set)
        wait_for(lambda: load.count() >= 3, 30, "load clients getting 250s", detail=t.log_tail)
        return load

    def assert_exactly_once(self, t, user, accepted, seconds=60):
        got = t.wait_ids(user, accepted, seconds=seconds)
        missing = sorted(set(accepted) - set(got))
        doubled = sorted(i for i in accepted if got.get(i, 0) > 1)
        self.assertEqual((missing, doubled), ([], []), "accepted (250) but lost / delivered twice\n%s"
                         % t.log_tail())
        return got

    def open_data(self, t, rcpt):
        c = RawSMTP(t.port("smtp"))
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        for line, code in ((b"EHLO client.example", 250), (b"MAIL FROM:<a@example.org>", 250),
                           (b"RCPT TO:<%s>" % rcpt.encode(), 250), (b"DATA", 354)):
            c.send(line + b"\r\n")
            self.assertEqual(c.read_reply()[0], code, line)
        return c

    def assert_dropped_without_reply(self, c, rest=b""):
        with self.assertRaises((EOFError, ConnectionError)):
            if rest:
                c.send(rest)
            reply = c.read_reply()
            self.fail("a reply after the kill: %r" % (reply,))

    # ---------------------------------------------------------------- smtpd

    def test_smtpd_killed_mid_data_and_before_the_250(self):
        t = self.start_tree()
        rcpt = t.addr("alice")
        load = self.smtp_load(t, rcpt, "smtpd-load")

        # 1. mid-DATA: half the message read by smtpd.
        c = self.open_data(t, rcpt)
        msg = make_message("mid-data", "a@example.org", rcpt, BIG)
        c.send(msg[: len(msg) // 2])
        wait_peer_read(c.sock)
        self.kill_logged(t, "smtp", self.serving(t, "smtp", c.sock))
        self.assert_dropped_without_reply(c, msg[len(msg) // 2:] + b".\r\n")

        # 2. after the final dot, waiting for the 250: enqueue is held, so
        # smtpd is certainly waiting for its answer when it dies.
        d = self.open_data(t, rcpt)
        d.send(make_message("before-250", "a@example.org", rcpt, b"whole\r\n"))
        wait_peer_read(d.sock)
        victim = self.serving(t, "smtp", d.sock)
        # The enqueue process this smtpd streams to, and only that one.
        held = wait_for(lambda: unix_peer_pids(victim[0], t.pids("enqueue")), 30,
                        "the enqueue process of the session", detail=t.log_tail)
        self.addCleanup(signal_all, held, signal.SIGCONT)
        signal_all(held, signal.SIGSTOP)
        try:
            d.send(b".\r\n")
            wait_peer_read(d.sock)
            self.assertTrue(no_reply_waiting(d.sock), "smtpd answered while enqueue was stopped")
            self.kill_logged(t, "smtp", victim)
        finally:
            signal_all(held, signal.SIGCONT)
        self.assert_dropped_without_reply(d)

        n = load.count()
        wait_for(lambda: load.count() >= n + 3, 30, "load after the kills", detail=t.log_tail)
        accepted = load.stop()
        got = self.assert_exactly_once(t, "alice", accepted)
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        got = t.test_ids("alice")
        self.assertNotIn("mid-data", got)
        # Delivered without a 250 is allowed (a duplicate when the client
        # sends again), twice is not.
        self.assertLessEqual(got.get("before-250", 0), 1, got)
        print("\nsmtpd: %d load messages accepted, %d refusals; the one killed before its 250 was %s"
              % (len(accepted), load.errors, "delivered" if got.get("before-250") else "not delivered"))
        t.send(rcpt, "after-smtpd")
        t.wait_ids("alice", {"after-smtpd"})

    # ---------------------------------------------------------------- remote

    def test_remote_killed_mid_transaction(self):
        sink = HoldingSink(hold=2)
        self.addCleanup(sink.stop)
        t = self.start_fast_tree(relayhost="[%s]:%d" % (HOST, sink.port), mynetworks="127.0.0.0/8",
                                 remote_tls_security_level="none")
        load = self.smtp_load(t, FOREIGN, "remote-load")
        wait_for(lambda: sink.held, 30, "remote waiting for the next hop's 250", detail=t.log_tail)
        with sink.lock:
            # Every held transaction's remote process is alive now and killed below.
            sink.holding = False
        self.kill_logged(t, "remote", t.pids("remote"))
        n = load.count()
        wait_for(lambda: load.count() >= n + 3, 30, "load after the kill", detail=t.log_tail)
        accepted = load.stop()

        def arrived():
            with sink.lock:
                return set(accepted) <= set(sink.delivered)
        wait_for(arrived, 60, "every accepted message at the next hop",
                 detail=lambda: "%s\n%s" % (sorted(set(accepted) - set(sink.delivered))[:10], t.log_tail()))
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        with sink.lock:
            doubled = {k: n for k, n in sink.delivered.items() if n > 1}
            held = list(sink.held)
        self.assertEqual(doubled, {}, "delivered twice to the next hop")
        for tid in held:
            self.assertIn(tid, accepted)
        print("\nremote: %d accepted, %d held when remote was killed, all delivered once" %
              (len(accepted), len(held)))

    # ---------------------------------------------------------------- pickup

    def sendmail(self, t, tid, rcpt, body):
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir
        q = subprocess.run([os.path.join(BIN, "sendmail"), "-oi", "-f", "a@example.org", rcpt],
                           input=make_message(tid, "a@example.org", rcpt, body).replace(b"\r\n", b"\n"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60 * SCALE)
        return q.returncode

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

    def test_pickup_killed_mid_message_and_under_sendmail_load(self):
        t = self.start_fast_tree()
        rcpt = t.addr("alice")
        results = {}
        lock = threading.Lock()

        def work(i):
            tid = "pickup-load-%04d" % i
            rc = self.sendmail(t, tid, rcpt, BIG[: 200000])
            with lock:
                results[tid] = rc
            return tid if rc == 0 else None
        load = Load(3, work, ignore=())
        self.addCleanup(load.halt.set)
        wait_for(lambda: load.count() >= 2, 60, "sendmail load", detail=t.log_tail)

        # 1. A client of pickup's socket (as sendmail is) mid-message: the
        # record, then a chunk announced whole and sent half (docs/protocols.md).
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(c.close)
        c.settimeout(30 * SCALE)
        c.connect(os.path.join(t.dir, "public", "pickup"))
        msg = make_message("pickup-mid", "a@example.org", rcpt, BIG).replace(b"\r\n", b"\n")
        c.sendall(b"rcpt=" + rcpt.encode() + b"\n\n" + b"%d\n" % len(msg) + msg[: len(msg) // 2])
        wait_for(lambda: self.unix_peer_unread(c) == 0, 30, "pickup reading the message", detail=t.log_tail)
        self.kill_logged(t, "pickup", t.pids("pickup"))
        with self.assertRaises((ConnectionError, EOFError)):
            c.sendall(msg[len(msg) // 2:] + b"0\n")
            if c.recv(4096) == b"":
                raise EOFError("closed without an answer")

        # 2. Again while the sendmail clients go on.
        n = load.count()
        wait_for(lambda: load.count() >= n + 2, 60, "sendmail after pickup came back", detail=t.log_tail)
        self.kill_logged(t, "pickup", t.wait_pids("pickup", seconds=30))
        n = load.count()
        wait_for(lambda: load.count() >= n + 2, 60, "sendmail after the second kill", detail=t.log_tail)
        accepted = load.stop()
        with lock:
            refused = [k for k, rc in results.items() if rc != 0]
            self.assertEqual({k: rc for k, rc in results.items() if rc not in (0, 75)}, {},
                             "sendmail exits other than 0 and 75")
        self.assert_exactly_once(t, "alice", accepted)
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        self.assertEqual(self.queue_files(t), [])
        got = t.test_ids("alice")
        self.assertNotIn("pickup-mid", got)
        self.assertEqual({k: got[k] for k in refused if got.get(k, 0) > 1}, {}, "exit 75 yet delivered twice")
        print("\npickup: sendmail exit 0 x %d (each delivered once), exit 75 x %d (%d of them delivered)"
              % (len(accepted), len(refused), sum(1 for k in refused if k in got)))

    # ---------------------------------------------------------------- authd

    def test_authd_killed_while_clients_log_in_on_587(self):
        t = self.start_tree()
        outcomes = {"good": {}, "bad": {}}
        lock = threading.Lock()

        def note(kind, what):
            with lock:
                outcomes[kind][what] = outcomes[kind].get(what, 0) + 1

        def login(kind):
            try:
                s = t.submission(timeout=30)
            except (OSError, smtplib.SMTPException, EOFError):
                note(kind, "no session")
                return
            pw = t.passwords["alice"] if kind == "good" else "wrong-password"
            try:
                code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(
                    b"\0" + t.addr("alice").encode() + b"\0" + pw.encode()).decode())
                note(kind, code)
                s.quit()
            except (OSError, smtplib.SMTPException, EOFError):
                note(kind, "dropped")
            finally:
                s.close()
        load = Load(3, lambda i: login("bad" if i % 3 == 2 else "good") or i)
        self.addCleanup(load.halt.set)
        wait_for(lambda: load.count() >= 3, 60, "logins on 587", detail=t.log_tail)
        def frozen_mid_request():
            """Stop every authd; those that hold a connection from an smtpd
            (a login being checked) stay stopped and are returned, the
            others go on."""
            pids = t.pids("authd")
            signal_all(pids, signal.SIGSTOP)
            smtpds = [p for svc in ("smtp", "submission", "smtps") for p in t.pids(svc)]
            busy = [p for p in pids if unix_peer_pids(p, smtpds)]
            signal_all([p for p in pids if p not in busy], signal.SIGCONT)
            return busy
        for _ in range(2):
            busy = wait_for(frozen_mid_request, 30, "authd checking a login", interval=0.01,
                            detail=t.log_tail)
            self.addCleanup(signal_all, busy, signal.SIGCONT)
            self.kill_logged(t, "authd", busy)
            t.wait_pids("authd", exclude=busy, seconds=30)
            n = load.count()
            wait_for(lambda: load.count() >= n + 3, 60, "logins after authd came back", detail=t.log_tail)
        load.stop()
        print("\nauthd: outcomes %s" % outcomes)
        self.assertNotIn(235, outcomes["bad"], "a wrong password was accepted")
        self.assertIn(235, outcomes["good"])
        odd = {k: v for k, v in outcomes["good"].items() if k not in (235, 454, "dropped")}
        self.assertEqual(odd, {}, "a right password got something else than 235, 454 or a dropped connection")
        self.assertEqual(set(outcomes["bad"]) - {535, 454, "dropped"}, set())
        s = t.submission("alice")
        s.quit()

    # ---------------------------------------------------------------- POP3

    def place_huge(self, t, user, tid):
        """A message of HUGE_COPIES x BIG put into user's Maildir."""
        t.place_message(user, "1000000000.M1P1.killtest", make_message(tid, "a@example.org", t.addr(user),
                                                                       BIG * HUGE_COPIES))

    def pop3_state(self, t, user):
        p = t.pop3_retrying(user, seconds=30)
        try:
            _, listing, _ = p.uidl()
            return sorted(line.split()[1] for line in listing)
        finally:
            p.quit()

    def raw_pop3(self, t, user, port_service="pop3"):
        c = small_window_socket(t.port(port_service))
        self.addCleanup(c.close)
        f = c.makefile("rb")
        self.addCleanup(f.close)
        self.assertTrue(f.readline().startswith(b"+OK"))
        return c, f

    def test_pop3_session_and_login_killed(self):
        t = self.start_tree()
        bob = t.addr("bob")
        for i in range(3):
            t.send(bob, "pop-%d" % i)
        t.wait_count("bob", 3)
        self.place_huge(t, "bob", "pop-big")
        before = self.pop3_state(t, "bob")
        p = t.pop3("bob")
        sizes = [tuple(map(int, line.split())) for line in p.list()[1]]
        p.quit()
        big = max(sizes, key=lambda ns: ns[1])[0]
        small = [n for n, _ in sizes if n != big]
        # The load reads alice's mailbox: a POP3 session locks its
        # maildrop (RFC 1939), the kills below are in bob's.
        for i in range(3):
            t.send(t.addr("alice"), "pop-load-%d" % i)
        t.wait_count("alice", 3)

        def reader(i):
            p = t.pop3("alice", timeout=30)
            try:
                p.retr(1 + i % 3)
            finally:
                p.quit()
            return i
        load = Load(2, reader, ignore=(OSError, EOFError, poplib.error_proto))
        self.addCleanup(load.halt.set)
        wait_for(lambda: load.count() >= 2, 30, "POP3 readers", detail=t.log_tail)

        # mid-RETR of the big message.
        c, f = self.raw_pop3(t, "bob")
        c.sendall(b"USER %s\r\nPASS %s\r\n" % (bob.encode(), t.passwords["bob"].encode()))
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertTrue(f.readline().startswith(b"+OK"))
        c.sendall(b"RETR %d\r\n" % big)
        self.assertTrue(f.readline().startswith(b"+OK"))
        f.read(65536)
        self.kill_logged(t, "pop3-session", self.serving(t, "pop3-session", c))
        rest = read_until_eof_file(f, b"\r\n.\r\n")
        self.assertFalse(rest.endswith(b"\r\n.\r\n"), "the RETR ended although its session was killed")

        # after DELE, before QUIT: nothing is deleted (RFC 1939: only QUIT's UPDATE deletes).
        p = t.pop3_retrying("bob", seconds=30)
        self.assertTrue(p.dele(small[0]).startswith(b"+OK"))
        self.kill_logged(t, "pop3-session", self.serving(t, "pop3-session", p.sock))
        with self.assertRaises((poplib.error_proto, OSError, EOFError)):
            p.quit()
            p.noop()

        # The login process, between USER and PASS.
        c2, f2 = self.raw_pop3(t, "bob")
        c2.sendall(b"USER %s\r\n" % bob.encode())
        self.assertTrue(f2.readline().startswith(b"+OK"))
        self.kill_logged(t, "pop3", self.serving(t, "pop3", c2))
        self.assertEqual(read_until_eof_file(f2), b"")

        n = load.count()
        wait_for(lambda: load.count() >= n + 2, 30, "POP3 readers after the kills", detail=t.log_tail)
        load.stop()
        self.assertEqual(self.pop3_state(t, "bob"), before, "messages or UIDs changed")
        self.assertEqual(t.test_ids("bob"), {"pop-big": 1, "pop-0": 1, "pop-1": 1, "pop-2": 1})

    # ---------------------------------------------------------------- IMAP

    def imap_state(self, t, user):
        """(UID, X-Test-Id, flags) of every message, from a new session."""
        def login():
            d = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
            d.login(t.addr(user), t.passwords[user])
            return d
        d = wait_for(login, 30, "a new IMAP login", ignore=(OSError, imaplib.IMAP4.error, EOFError),
                     interval=0.2)
        try:
            typ, _ = d.select("INBOX")
            self.assertEqual(typ, "OK")
            typ, data = d.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (X-TEST-ID)])")
            self.assertEqual(typ, "OK", data)
            out = []
            for item in data:
                if isinstance(item, tuple):
                    uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                    flags = set(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).split())
                    tid = re.search(rb"X-Test-Id: (\S+)", item[1], re.I)
                    out.append((uid, tid.group(1).decode() if tid else None, flags))
            return out
        finally:
            d.logout()

    def raw_imap(self, t, user, tls=False):
        if tls:
            c = unverified_tls_context().wrap_socket(small_window_socket(t.port("imaps")))
        else:
            c = small_window_socket(t.port("imap"))
        self.addCleanup(c.close)
        f = c.makefile("rb")
        self.addCleanup(f.close)
        self.assertTrue(f.readline().startswith(b"* OK"))
        c.sendall(b"a LOGIN %s %s\r\nb SELECT INBOX\r\n" % (t.addr(user).encode(), t.passwords[user].encode()))
        for tag in (b"a ", b"b "):
            while True:
                line = f.readline()
                self.assertTrue(line, "connection closed during login")
                if line.startswith(tag):
                    self.assertTrue(line.startswith(tag + b"OK"), line)
                    break
        return c, f

    def test_imap_session_and_login_killed(self):
        t = self.start_tree()
        alice = t.addr("alice")
        for i in range(4):
            t.send(alice, "imap-%d" % i)
        t.wait_count("alice", 4)
        self.place_huge(t, "alice", "imap-big")
        before = self.imap_state(t, "alice")
        big = 1 + [tid for _, tid, _ in before].index("imap-big")
        small = [n for n in range(1, 6) if n != big]

        def reader(i):
            d = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
            try:
                d.login(alice, t.passwords["alice"])
                d.select("INBOX", readonly=True)
                d.fetch(",".join(map(str, small)), "(FLAGS BODY.PEEK[])")
            finally:
                try:
                    d.logout()
                except (OSError, imaplib.IMAP4.error, EOFError):
                    pass
            return i
        load = Load(2, reader, ignore=(OSError, EOFError, imaplib.IMAP4.error, imaplib.IMAP4.abort))
        self.addCleanup(load.halt.set)
        wait_for(lambda: load.count() >= 2, 30, "IMAP readers", detail=t.log_tail)

        # mid-FETCH of the big message.
        c, f = self.raw_imap(t, "alice")
        c.sendall(b"c FETCH %d BODY.PEEK[]\r\n" % big)
        f.read(65536)
        self.kill_logged(t, "imap-session", self.serving(t, "imap-session", c))
        self.assertNotIn(b"\r\nc OK", read_until_eof_file(f, b"\r\nc OK"))

        # mid-APPEND: half the literal read by the session.
        c, f = self.raw_imap(t, "alice")
        appended = make_message("imap-append", "a@example.org", alice, BIG[:200000])
        c.sendall(b"d APPEND INBOX {%d}\r\n" % len(appended))
        self.assertTrue(f.readline().startswith(b"+"))
        c.sendall(appended[: len(appended) // 2])
        wait_peer_read(c)
        self.kill_logged(t, "imap-session", self.serving(t, "imap-session", c))
        self.assertEqual(read_until_eof_file(f), b"")

        # A run of STOREs: those answered OK must stick.
        c, f = self.raw_imap(t, "alice")
        stored = []
        victim = self.serving(t, "imap-session", c)
        kill_at = random.Random(os.getpid()).randint(1, 3)
        for n, seq in enumerate(small):
            try:
                c.sendall(b"s%d STORE %d +FLAGS (\\Flagged)\r\n" % (n, seq))
            except OSError:
                break
            if n == kill_at:
                self.kill_logged(t, "imap-session", victim)
            line = b""
            while True:
                try:
                    line = f.readline()
                except OSError:     # reset: the kill
                    line = b""
                if not line or line.startswith(b"s%d " % n):
                    break
            if not line:
                break
            self.assertTrue(line.startswith(b"s%d OK" % n), line)
            stored.append(seq)

        # The login process relaying a TLS session, mid-FETCH.
        c, f = self.raw_imap(t, "alice", tls=True)
        c.sendall(b"e FETCH %d BODY.PEEK[]\r\n" % big)
        f.read(65536)
        login = [p for p in t.pids("imaps") if p in connection_pids(c)]
        self.assertTrue(login, "no imaps login process relays this connection")
        self.kill_logged(t, "imaps", login)
        self.assertNotIn(b"\r\ne OK", read_until_eof_file(f, b"\r\ne OK"))

        n = load.count()
        wait_for(lambda: load.count() >= n + 2, 30, "IMAP readers after the kills", detail=t.log_tail)
        load.stop()
        after = self.imap_state(t, "alice")
        self.assertEqual([(u, i) for u, i, _ in after], [(u, i) for u, i, _ in before],
                         "messages or UIDs changed")
        for seq in stored:
            self.assertIn(b"\\Flagged", after[seq - 1][2], "STORE %d answered OK but lost" % seq)
        self.assertEqual(t.test_ids("alice"), {"imap-big": 1, "imap-0": 1, "imap-1": 1, "imap-2": 1,
                                               "imap-3": 1})
        print("\nimap: %d STOREs answered before the kill, all kept" % len(stored))


def read_until_eof_file(f, end=None):
    """Read a file object of a socket until EOF (the kill) or end."""
    got = b""
    while True:
        try:
            chunk = f.read1(65536)
        except (ConnectionError, ssl.SSLError, OSError):
            return got
        if not chunk:
            return got
        got += chunk
        if end is not None and end in got:
            return got


if __name__ == "__main__":
    unittest.main()
