"""The connection front (front/front.c, docs/front.md; issue 14 section 3).

With the front on the SMTP port, 5,000 idle connections from 100 loopback
addresses (half of them slowloris: one byte without LF every two seconds)
are held by one process while a real client gets its mail accepted and
delivered at once; the front's memory is measured from /proc and bounded;
the per-address and total limits and the first-line deadline answer with
SMTP's 421 replies; a client that pipelines its first commands with the
greeting's answer gets every reply once (the front greeted, smtpd did not).
"""

import imaplib
import os
import re
import resource
import select
import smtplib
import socket
import threading
import time

from postern_harness import HOST, SANITIZED, SCALE, PosternTestCase, RawSMTP, wait_for

# Held connections of the load test.  The plain build holds the issue's
# 5,000; under ASan (every accept, peek and hand-off several times
# dearer, and CI's time bounded) 2,000 show the same mechanism.
IDLE = 2000 if SANITIZED else 5000
ADDRESSES = 100        # from 127.0.0.2 on, IDLE / ADDRESSES each
SLOW_EVERY = 2.0       # seconds between a slowloris client's bytes
REAL_BOUND = 5.0       # seconds for the real client's whole transaction under load
RSS_BOUND_KB = 64 * 1024   # the front's resident memory with IDLE held


def proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def proc_pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class FrontTest(PosternTestCase):

    def start_front_tree(self, maps=None, maxproc=None, service="smtp", **conf):
        t = self.start_tree(start=False)
        t.use_front(service, service)
        for name, lines in (maps or {}).items():
            with open(os.path.join(t.dir, "etc", name), "w") as f:
                f.write("".join(l + "\n" for l in lines))
            t.run("map", "-d", t.dir, name)
            conf["smtpd_%s" % name] = name + ".cdb"
        if maxproc is not None:
            t.set_maxproc((service,), maxproc)   # the unix service the front feeds
        t.set_conf(**conf)
        t.start()
        pids = t.wait_pids(service + "-front")
        self.assertEqual(len(pids), 1, "one front process")
        return t, pids[0]

    def open_idle(self, port, n, addresses, greeting):
        """n connections, spread over the loopback addresses from
        127.0.0.2, each having read its greeting.  Closed at cleanup."""
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.%d" % (2 + i % addresses), 0))
            s.settimeout(30 * SCALE)
            s.connect((HOST, port))
            s.setblocking(False)
        pending = {s.fileno(): s for s in socks}
        got = {}
        ep = select.epoll()
        for fd in pending:
            ep.register(fd, select.EPOLLIN)

        def greeted():
            for fd, _ in ep.poll(0.2):
                data = pending[fd].recv(512)
                got[fd] = got.get(fd, b"") + data
                if data == b"" or got[fd].endswith(b"\r\n"):
                    ep.unregister(fd)
            return len(got) == n and all(v.endswith(b"\r\n") for v in got.values())

        wait_for(greeted, 120, "%d greetings" % n,
                 detail=lambda: "%d answered; samples %r" % (len(got), list(got.values())[:3]))
        ep.close()
        for v in got.values():
            self.assertRegex(v, greeting)
        return socks

    def hold_idle_and_serve(self, t, front, service, greeting, real_client, what):
        """IDLE connections to service's port (every other one slowloris)
        held by the front while real_client() runs: its time, asserted
        and printed with the front's memory."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = IDLE + 256
        if soft < need:
            if hard != resource.RLIM_INFINITY and hard < need:
                self.skipTest("RLIMIT_NOFILE hard limit %d is below %d" % (hard, need))
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        rss_before = proc_status_kb(front, "VmRSS")
        socks = self.open_idle(t.port(service), IDLE, ADDRESSES, greeting)
        slow = socks[::2]
        stop = threading.Event()

        def slowloris():
            while not stop.wait(SLOW_EVERY):
                for s in slow:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
        th = threading.Thread(target=slowloris, daemon=True)
        th.start()
        self.addCleanup(th.join)
        self.addCleanup(stop.set)

        # Every idle connection is held by the front: its descriptors.
        wait_for(lambda: len(os.listdir("/proc/%d/fd" % front)) >= IDLE, 30,
                 "the front to hold %d descriptors" % IDLE)
        stop.wait(2 * SLOW_EVERY)   # the slowloris bytes have come at least once
        t0 = time.monotonic()
        real_client()
        took = time.monotonic() - t0
        rss = proc_status_kb(front, "VmRSS")
        pss = proc_pss_kb(front)
        fds = len(os.listdir("/proc/%d/fd" % front))
        workers = t.pids(service)
        print("\nfront %s: %d idle held (%d slowloris), %s in %.3f s; front VmRSS %d kB (%d kB "
              "before), Pss %s kB, %d fds; %s processes %d"
              % (service, IDLE, len(slow), what, took, rss, rss_before, pss, fds, service, len(workers)))
        # Margin: on an idle machine the client's whole exchange takes
        # some 50 ms; 5 s is a hundred times that for a busy machine, and
        # far below what a client queued behind 5,000 held sessions would
        # see (the services' timeouts, minutes).
        self.assertLess(took, REAL_BOUND * SCALE)
        # Every idle connection still held, none given a service process.
        self.assertGreaterEqual(fds, IDLE)
        self.assertLessEqual(len(workers), 3, "idle connections took %s processes: %r" % (service, workers))
        # About 100 bytes a client, plus the peek buffer and the hash
        # table: a few MB; 64 MB would mean memory grows with the input.
        self.assertLess(rss, RSS_BOUND_KB)
        if pss is not None:
            self.assertLess(pss, RSS_BOUND_KB)
        for x in socks:   # none was closed by the front
            try:
                self.assertNotEqual(x.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT), b"")
            except BlockingIOError:
                pass
        return took

    def test_front_holds_5000_idle_connections_while_a_real_client_gets_its_mail_through(self):
        t, front = self.start_front_tree(front_client_connection_limit=IDLE // ADDRESSES)

        def real():
            s = smtplib.SMTP(HOST, t.port("smtp"), local_hostname="client.example", timeout=30 * SCALE)
            self.assertEqual(s.ehlo()[0], 250)
            s.sendmail("sender@example.org", [t.addr("alice")],
                       b"Subject: through the front\r\nX-Test-Id: front-1\r\n\r\nhello\r\n")
            s.quit()
        self.hold_idle_and_serve(t, front, "smtp", rb"^220 \S+ ESMTP Postern\r\n$", real,
                                 "a real client's mail accepted")
        t.wait_ids("alice", ["front-1"])

    def test_front_pop3_holds_5000_idle_connections_while_a_client_logs_in_and_reads(self):
        t, front = self.start_front_tree(service="pop3", front_client_connection_limit=IDLE // ADDRESSES)
        t.send(t.addr("alice"), "front-pop3", body=b"read through the front\r\n")
        t.wait_ids("alice", ["front-pop3"])
        got = {}

        def real():
            p = t.pop3("alice", timeout=30)
            count, _ = p.stat()
            got["msg"] = b"\r\n".join(p.retr(count)[1])
            p.quit()
        self.hold_idle_and_serve(t, front, "pop3", rb"^\+OK Postern POP3 ready\r\n$", real,
                                 "a POP3 login, STAT, RETR and QUIT")
        self.assertIn(b"read through the front", got["msg"])

    def greeted(self, port, source, n):
        """n connections from source, each greeted 220."""
        out = [RawSMTP(port, source=source) for _ in range(n)]
        for c in out:
            self.addCleanup(c.close)
            self.assertEqual(c.read_reply()[0], 220)
        return out

    def refused(self, port, source, code):
        """A connection from source answered 421 with enhanced code, then
        closed: the reply text."""
        c = RawSMTP(port, source=source)
        self.addCleanup(c.close)
        reply, text = c.read_reply()
        self.assertEqual((reply, text[0][:5]), (421, code))
        self.assertRaises(EOFError, c.read_line)
        return text[0]

    def test_front_limits_per_address_and_in_all_with_421(self):
        t, _ = self.start_front_tree(front_client_connection_limit=3, front_connection_limit=5)
        port = t.port("smtp")
        held = self.greeted(port, "127.0.0.5", 3)
        self.assertIn(b"too many connections from 127.0.0.5", self.refused(port, "127.0.0.5", b"4.7.0"))
        t.wait_log(r"smtp-front\[\d+\]: reject: CONNECT from unknown\[127\.0\.0\.5\]: too many connections "
                   r"from this address \(limit 3\)")
        # Another address still gets in, up to the total of 5.
        self.greeted(port, "127.0.0.6", 2)
        self.assertIn(b"all server ports are busy", self.refused(port, "127.0.0.7", b"4.3.2"))
        # One held client that talks is passed on: smtpd answers it and
        # the front has room again.
        held[0].send(b"EHLO client.example\r\n")
        code, lines = held[0].read_reply()
        self.assertEqual(code, 250)
        self.greeted(port, "127.0.0.7", 1)

    def test_front_first_line_deadline_answers_421_and_closes(self):
        t, _ = self.start_front_tree(front_line_timeout="2s")
        port = t.port("smtp")
        silent = RawSMTP(port)
        slow = RawSMTP(port)
        self.addCleanup(silent.close)
        self.addCleanup(slow.close)
        t0 = time.monotonic()
        self.assertEqual(silent.read_reply()[0], 220)
        self.assertEqual(slow.read_reply()[0], 220)
        slow.send(b"EHL")   # no LF: still no line
        for c in (silent, slow):
            code, text = c.read_reply()
            self.assertEqual(code, 421)
            self.assertIn(b"4.4.2", text[0])
            self.assertRaises(EOFError, c.read_line)
        waited = time.monotonic() - t0
        # The deadline is whole seconds: at least 1 s after the greeting
        # (2 s minus the rounding of its start), well before smtpd_timeout.
        self.assertGreaterEqual(waited, 1.0)
        self.assertLess(waited, 30 * SCALE)
        t.wait_log(r"timeout before the first line from unknown\[127\.0\.0\.1\]")

    def test_front_client_pipelining_first_commands_gets_each_reply_once(self):
        t, _ = self.start_front_tree()
        c = RawSMTP(t.port("smtp"))
        self.addCleanup(c.close)
        code, text = c.read_reply()
        self.assertEqual(code, 220)
        c.send(b"EHLO client.example\r\nNOOP\r\nQUIT\r\n")
        self.assertEqual(c.read_reply()[0], 250)   # EHLO: no second 220 before it
        self.assertEqual(c.read_reply()[0], 250)   # NOOP
        self.assertEqual(c.read_reply()[0], 221)
        self.assertRaises(EOFError, c.read_line)
        t.wait_log(r"smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\] .*commands=3")

    def test_front_passes_a_first_line_over_the_peek_limit_to_smtpd(self):
        t, _ = self.start_front_tree(front_peek_limit=64, smtpd_line_limit=1000)
        c = RawSMTP(t.port("smtp"))
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        mark = t.log_mark()
        c.send(b"X" * 100)   # no LF, past the peek limit: smtpd has it now
        t.wait_log(r"smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]", after=mark)
        c.send(b"X" * 1400 + b"\r\n")   # past smtpd_line_limit
        code, text = c.read_reply()
        self.assertEqual(code, 500)
        self.assertIn(b"line too long", text[0])

    def test_front_keeps_a_ready_client_while_every_smtpd_is_busy(self):
        t, _ = self.start_front_tree(maxproc=1)
        first = smtplib.SMTP(HOST, t.port("smtp"), local_hostname="first.example", timeout=30 * SCALE)
        self.addCleanup(first.close)
        self.assertEqual(first.ehlo()[0], 250)
        wait_for(lambda: len(t.pids("smtp")) == 1, 10, "one smtpd process")
        second = RawSMTP(t.port("smtp"))
        self.addCleanup(second.close)
        self.assertEqual(second.read_reply()[0], 220)   # from the front
        mark = t.log_mark()
        second.send(b"EHLO second.example\r\n")
        # The one smtpd (maxproc 1) is in the first session: the second
        # client waits, greeted, its EHLO unanswered, for as long as the
        # first session goes on (one more command in it here), and is
        # served once that session ends.
        self.assertEqual(first.noop()[0], 250)
        self.assertNotIn("second.example", t.log_text(after=mark))
        first.quit()
        code, lines = second.read_reply()
        self.assertEqual(code, 250)
        second.send(b"QUIT\r\n")
        self.assertEqual(second.read_reply()[0], 221)
        t.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] .*helo=<second\.example>", after=mark)

    def test_front_client_refused_by_the_access_map_gets_one_reply_per_command(self):
        t, _ = self.start_front_tree(maps={"client_access": ["127.0.0.2 REJECT no entry"]})
        c = RawSMTP(t.port("smtp"), source="127.0.0.2")
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)   # the front greets everyone
        # smtpd's 554 that replaces the greeting answers the first line...
        c.send(b"EHLO client.example\r\n")
        code, text = c.read_reply()
        self.assertEqual((code, text[0]), (554, b"5.7.1 <unknown[127.0.0.2]>: Client host rejected: no entry"))
        # ...and then, RFC 5321 3.1, only QUIT is served, a reply per command.
        c.send(b"MAIL FROM:<a@example.org>\r\n")
        self.assertEqual(c.read_reply()[0], 503)
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        self.assertRaises(EOFError, c.read_line)
        t.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1")

    def test_front_pop3_replies_with_err_sys_temp_and_its_own_timeout(self):
        t, _ = self.start_front_tree(service="pop3", front_client_connection_limit=1,
                                     front_line_timeout="300s", pop3_timeout="2s")
        first = RawSMTP(t.port("pop3"))   # a line reader; POP3 lines end in CRLF too
        self.addCleanup(first.close)
        self.assertEqual(first.read_line(), b"+OK Postern POP3 ready")
        second = RawSMTP(t.port("pop3"))
        self.addCleanup(second.close)
        self.assertEqual(second.read_line(), b"-ERR [SYS/TEMP] Too many connections from 127.0.0.1")
        self.assertRaises(EOFError, second.read_line)
        # The deadline is pop3_timeout when that is shorter than front_line_timeout.
        self.assertEqual(first.read_line(), b"-ERR Timeout, closing connection")
        self.assertRaises(EOFError, first.read_line)

    def test_front_imap_holds_5000_idle_connections_while_a_client_logs_in_and_reads(self):
        t, front = self.start_front_tree(service="imap", front_client_connection_limit=IDLE // ADDRESSES)
        t.send(t.addr("alice"), "front-imap", body=b"read through the front\r\n")
        t.wait_ids("alice", ["front-imap"])
        got = {}

        def real():
            m = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
            m.login(t.addr("alice"), t.passwords["alice"])
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
            typ, data = m.fetch(data[0], "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            got["msg"] = data[0][1]
            m.logout()
        self.hold_idle_and_serve(t, front, "imap", rb"^\* OK \[CAPABILITY IMAP4rev1 .*\] Postern IMAP ready\r\n$",
                                 real, "an IMAP login, SELECT, FETCH and LOGOUT")
        self.assertIn(b"read through the front", got["msg"])

    def test_front_pregreet_test_refuses_a_client_that_talks_first(self):
        """smtpd_pregreet_wait applies at the front as at smtpd (which
        skips it for the clients the front passes): a client that talks
        before the greeting gets 554 5.5.1 and is closed, logged as
        PREGREET; a patient one is greeted after the wait and served;
        mynetworks is greeted at once."""
        t, front = self.start_front_tree(smtpd_pregreet_wait="1s", mynetworks="127.0.0.1/32")
        port = t.port("smtp")
        mark = t.log_mark()
        bot = RawSMTP(port, source="127.0.0.2")
        self.addCleanup(bot.close)
        bot.send(b"EHLO early.example\r\n")
        code, text = bot.read_reply()
        self.assertEqual((code, text[0][:5]), (554, b"5.5.1"), text)
        self.assertIn(b"client sent data before the greeting", text[0])
        self.assertEqual(bot.sock.recv(100), b"")                  # closed
        t.wait_log(r"smtp-front\[%d\]: PREGREET 20 after \d+ ms from unknown\[127\.0\.0\.2\]: "
                   r"EHLO early\.example\\x0d\\x0a" % front, after=mark)
        # A patient client: greeted after the wait, then served by smtpd.
        start = time.monotonic()
        c = RawSMTP(port, source="127.0.0.2")
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        c.send(b"EHLO patient.example\r\n")
        self.assertEqual(c.read_reply()[0], 250)
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        # mynetworks: greeted at once, and may talk first.
        m = RawSMTP(port, source="127.0.0.1")
        self.addCleanup(m.close)
        m.send(b"EHLO trusted.example\r\n")
        self.assertEqual(m.read_reply()[0], 220)
        self.assertEqual(m.read_reply()[0], 250)
        self.assertEqual(len(re.findall(r"PREGREET", t.log_text(after=mark))), 1)

    def test_front_greetings_are_the_services_own(self):
        def greetings(t):
            out = {}
            for service in ("smtp", "pop3", "imap"):
                c = RawSMTP(t.port(service))
                out[service] = c.read_line()
                c.close()
            return out
        plain = self.start_tree()
        want = greetings(plain)
        plain.stop()
        t = self.start_tree(start=False)
        for service in ("smtp", "pop3", "imap"):
            t.use_front(service, service)
        t.start()
        for service in ("smtp", "pop3", "imap"):
            t.wait_pids(service + "-front")
        got = greetings(t)
        for service in ("smtp", "pop3", "imap"):
            self.assertEqual(got[service], want[service].replace(plain.domain.encode(), t.domain.encode()),
                             service)
        self.assertIn(b"STARTTLS", got["imap"])
        self.assertIn(b"AUTH=PLAIN", got["imap"])   # loopback: imap_plaintext_auth = loopback

    def test_front_imap_replies_with_bye(self):
        t, _ = self.start_front_tree(service="imap", front_client_connection_limit=1, imap_login_timeout="2s")
        first = RawSMTP(t.port("imap"))
        self.addCleanup(first.close)
        self.assertTrue(first.read_line().startswith(b"* OK [CAPABILITY "))
        second = RawSMTP(t.port("imap"))
        self.addCleanup(second.close)
        self.assertEqual(second.read_line(), b"* BYE [UNAVAILABLE] Too many connections from 127.0.0.1")
        self.assertRaises(EOFError, second.read_line)
        self.assertEqual(first.read_line(), b"* BYE Autologout: idle for too long")
        self.assertRaises(EOFError, first.read_line)

    def test_front_forgets_a_client_gone_mid_line_and_stops_at_once_with_clients_held(self):
        t, front = self.start_front_tree()
        base = len(os.listdir("/proc/%d/fd" % front))
        idle = [RawSMTP(t.port("smtp")) for _ in range(3)]
        for c in idle:
            self.addCleanup(c.close)
            self.assertEqual(c.read_reply()[0], 220)
        wait_for(lambda: len(os.listdir("/proc/%d/fd" % front)) == base + 3, 10, "3 held")
        # Unread bytes before its FIN: a peek alone never sees the end.
        idle[0].send(b"EHL")
        idle[0].close()
        wait_for(lambda: len(os.listdir("/proc/%d/fd" % front)) == base + 2, 10,
                 "the front to drop the client that left")
        # Held clients do not hold up a stop: the front is told to hurry
        # like a process in a session, well within master_stop_timeout.
        t0 = time.monotonic()
        t.stop()
        took = time.monotonic() - t0
        self.assertLess(took, 10 * SCALE)
        for c in idle[1:]:
            self.assertRaises((EOFError, ConnectionResetError), c.read_line)

    def test_front_retired_by_a_reload_keeps_its_clients_without_spinning(self):
        # A reload retires the front (SIGTERM): it stops listening and
        # keeps its held clients until they pass or time out.  Its stop
        # pipe stays readable from then on; polled, it spun the loop at
        # full CPU for up to front_line_timeout.
        t, front = self.start_front_tree()
        held = RawSMTP(t.port("smtp"))
        self.addCleanup(held.close)
        self.assertEqual(held.read_reply()[0], 220)
        mark = t.log_mark()
        t.run("reload", "-d", t.dir)
        t.wait_log(r"reload: rereading configuration", after=mark)
        wait_for(lambda: [p for p in t.pids("smtp-front") if p != front], 30, "a new front")
        def cpu_ticks():
            with open("/proc/%d/stat" % front) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            return int(rest[11]) + int(rest[12])
        before, t0 = cpu_ticks(), time.monotonic()
        time.sleep(2)   # a measurement window, not a wait for an event
        used = (cpu_ticks() - before) / os.sysconf("SC_CLK_TCK")
        self.assertLess(used, 0.2 * (time.monotonic() - t0), "the retired front spins")
        # The held client still gets its session.
        held.send(b"EHLO client.example\r\n")
        self.assertEqual(held.read_reply()[0], 250)

