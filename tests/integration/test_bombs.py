"""Hostile input through the real protocols (issue 14, section 3, second
bullet): header bombs, MIME depth bombs (multiparts and attached
messages), base64 without line ends, IMAP literals and SMTP BDAT chunks
that announce 4 GB and more, 100,000 recipients in one session, AUTH
with a 1 MB response, 1-10 MB command lines (also in IDLE and to a
hibernated session).

Each bomb gets the protocol's own error at the documented limit
(docs/operator.md; the keys in etc/postern.conf), the serving process
survives it and serves the next command of the same session, what was
accepted before and after is delivered, and the peak memory of the
process that read the bomb (VmHWM of the process holding the server end
of the connection) grows by less than a bound derived from the limit,
far below the size of the bomb.  test_smtpd_limits.py and
test_imap_basic.py check the limits themselves with small inputs; these
check them at a size that would hurt if a limit were missing."""

import base64
import os
import re
import socket
import ssl

from postern_harness import (HOST, SANITIZED, SCALE, PosternTestCase, RawSMTP, Tree, connection_pids,
                             make_message, proc_argv0, vm_hwm_kb)

MB = 1024 * 1024
# ASan keeps freed blocks out of reuse in a quarantine (256 MB by
# default), which a bomb of many small requests (100,000 RCPTs) fills
# however little it holds at once: the bomb trees of the sanitizer build
# get a small one, so that their memory bounds still mean something.
QUARANTINE_MB = 1
# What a process may grow by for a bomb whose limit holds nothing of it:
# stream buffers, the allocator's slack (seen: at most 170 KiB; 1.7 MiB
# under ASan, with its quarantine and redzones).  In the release build a
# process that held a 1 MB bomb whole would fail; in the sanitizer build
# one that held a 10 MB bomb.  What the limit itself lets a process hold
# is added by each test, times LIMIT_FACTOR (ASan's redzones).
SLACK_KB = 4096 + QUARANTINE_MB * 1024 if SANITIZED else 512
LIMIT_FACTOR = 2 if SANITIZED else 1
# The whole peak of a process that served nothing but one such session
# (seen: 5 MB, 16 MB under ASan).
PEAK_KB = (64 if SANITIZED else 16) * 1024


def header_lines(n):
    return b"".join(b"X-H: %d\r\n" % i for i in range(n))


class Memory:
    """The peak memory of the process serving one connection."""

    def __init__(self, test, sock, title):
        pids = [p for p in connection_pids(sock) if (proc_argv0(p) or "").startswith("postern/" + title)]
        test.assertEqual(len(pids), 1, "one postern/%s process holds the connection: %r" % (title, pids))
        self.test, self.pid, self.title = test, pids[0], title
        self.start = vm_hwm_kb(self.pid)

    def assert_peak_below(self, kb, what):
        now = vm_hwm_kb(self.pid)
        self.test.assertIsNotNone(now, "postern/%s pid %d is gone after %s" % (self.title, self.pid, what))
        self.test.assertLess(now, kb, "postern/%s peaked at %d KiB reading %s" % (self.title, now, what))

    def assert_growth_below(self, limit_kb, what):
        """VmHWM grew by less than SLACK_KB plus what the limit lets the
        process hold (limit_kb KiB, times LIMIT_FACTOR)."""
        kb = SLACK_KB + LIMIT_FACTOR * limit_kb
        now = vm_hwm_kb(self.pid)
        self.test.assertIsNotNone(now, "postern/%s pid %d is gone after %s" % (self.title, self.pid, what))
        self.test.assertLess(now - self.start, kb,
                             "postern/%s grew by %d KiB (VmHWM %d -> %d) reading %s"
                             % (self.title, now - self.start, self.start, now, what))


class RawLines(RawSMTP):
    """A byte-level CRLF client for IMAP and POP3."""

    def __init__(self, port, timeout=60):
        RawSMTP.__init__(self, port, timeout=timeout)

    def line(self):
        return self.read_line()

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed in a literal")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def tagged(self, tag):
        """Lines up to the one tagged tag: (untagged lines, the tagged one);
        literals ({n} at a line end) are read into the line."""
        lines = []
        while True:
            line = self.line()
            m = re.search(rb"\{(\d+)\}$", line)
            while m:
                line += b"\r\n" + self.exact(int(m.group(1)))
                rest = self.line()
                line += rest
                m = re.search(rb"\{(\d+)\}$", rest)
            if line.startswith(tag + b" "):
                return lines, line
            lines.append(line)


class BombTestCase(PosternTestCase):

    def start_tree(self, users=("alice", "bob"), start=True):
        env = {}
        if SANITIZED:
            env["ASAN_OPTIONS"] = "detect_leaks=0:quarantine_size_mb=%d:thread_local_quarantine_size_kb=64" \
                % QUARANTINE_MB
        tree = self.track_tree(Tree(env=env))
        tree.init(users)
        if start:
            tree.start()
        return tree

    def connect(self, t, service="imap"):
        """A raw IMAP or POP3 connection past its greeting, closed at cleanup."""
        c = RawLines(t.port(service))
        self.addCleanup(c.close)
        greeting = c.line()
        self.assertTrue(greeting.startswith(b"* OK" if service == "imap" else b"+OK"), greeting)
        return c

    def imap_login(self, t, im=None):
        """LOGIN as alice on im (a new IMAP connection when None)."""
        im = im or self.connect(t)
        _, tagged = im_cmd(im, b"l LOGIN %s %s" % (t.addr("alice").encode(), t.passwords["alice"].encode()))
        self.assertTrue(tagged.startswith(b"l OK"), tagged)
        return im

    def inbox(self, t):
        """An IMAP session of alice with INBOX selected, and the Memory
        of its session process."""
        im = self.imap_login(t)
        _, tagged = im_cmd(im, b"s SELECT INBOX")
        self.assertTrue(tagged.startswith(b"s OK"), tagged)
        return im, Memory(self, im.sock, "imap-session")


class SmtpBombs(BombTestCase):

    def session(self, t, service="smtp"):
        c = RawSMTP(t.port(service), timeout=120)
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply()[0], 220)
        self.cmd_ok(c, b"EHLO client.example", 250)
        return c

    def cmd(self, c, line):
        c.send(line + b"\r\n")
        return c.read_reply()

    def cmd_ok(self, c, line, code):
        reply = self.cmd(c, line)
        self.assertEqual(reply[0], code, (line[:60], reply))
        return reply

    def assertCode(self, reply, code, enhanced):
        self.assertEqual(reply[0], code, reply)
        self.assertTrue(reply[1][-1].startswith(enhanced.encode() + b" "), reply)

    def transaction(self, t, c, data):
        """MAIL, RCPT alice, DATA, the data (dot-stuffed by the caller) and
        the end of data: the reply to it."""
        self.cmd_ok(c, b"MAIL FROM:<a@example.org>", 250)
        self.cmd_ok(c, b"RCPT TO:<%s>" % t.addr("alice").encode(), 250)
        self.cmd_ok(c, b"DATA", 354)
        c.send(data + b".\r\n")
        return c.read_reply()

    def normal_message(self, t, c, test_id):
        """A small message in the same session: it must be accepted."""
        msg = make_message(test_id, "a@example.org", t.addr("alice"), b"after the bomb\r\n")
        reply = self.transaction(t, c, msg + b"\r\n")
        self.assertEqual(reply[0], 250, reply)

    def test_100000_header_lines_over_the_header_limit_get_552(self):
        t = self.start_tree()
        c = self.session(t)
        mem = Memory(self, c.sock, "smtp")
        bomb = b"X-Test-Id: hdr-bomb\r\n" + header_lines(100000) + b"\r\nbody\r\n"
        self.assertGreater(len(bomb), 7 * 102400)
        self.assertCode(self.transaction(t, c, bomb), 552, "5.3.4")
        # The header is held up to smtpd_header_size_limit (100k), never more.
        mem.assert_growth_below(2 * 100, "100,000 header lines")
        self.cmd_ok(c, b"NOOP", 250)
        self.normal_message(t, c, "after-hdr-bomb")
        self.assertEqual(t.wait_ids("alice", {"after-hdr-bomb"}), {"after-hdr-bomb": 1})

    def test_100000_header_lines_within_the_limit_delivered_and_read_over_imap(self):
        t = self.start_tree_with(smtpd_header_size_limit="4m")
        c = self.session(t)
        mem = Memory(self, c.sock, "smtp")
        msg = make_message("hdr-many", "a@example.org", t.addr("alice"), b"body\r\n",
                           extra_headers=[header_lines(100000)[:-2]])
        self.assertEqual(self.transaction(t, c, msg + b"\r\n")[0], 250)
        # Held whole up to the limit, in a buffer that doubles.
        mem.assert_growth_below(2 * 4096, "a 1 MB header within a 4m header limit")
        self.assertEqual(t.wait_ids("alice", {"hdr-many"}), {"hdr-many": 1})
        with open(t.message_paths("alice")[0], "rb") as f:
            stored = f.read()
        self.assertEqual(len(re.findall(rb"(?m)^X-H: \d+$", stored)), 100000, "the header is stored whole")
        self.assertTrue(stored.endswith(b"\n\nbody\n\n"), stored[-40:])
        # IMAP parses the header once (MIME_MAX_HEADER_LINES lines of it
        # looked at) and answers from it.
        im, mem = self.inbox(t)
        lines, tagged = im_cmd(im, b"f FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (X-Test-Id)])")
        self.assertTrue(tagged.startswith(b"f OK"), tagged)
        self.assertIn(b"X-Test-Id: hdr-many", lines[0])
        self.assertIn(b'"test hdr-many"', lines[0], "ENVELOPE subject")
        lines, tagged = im_cmd(im, b"g FETCH 1 BODY.PEEK[HEADER]")
        self.assertTrue(tagged.startswith(b"g OK"), tagged)
        self.assertEqual(len(re.findall(rb"\r\nX-H: \d+", lines[0])), 100000)
        # The 1 MB message, read whole, and the FETCH response holding it.
        mem.assert_growth_below(8 * 1024, "a message with a 1 MB header")
        im.close()

    def test_10mb_header_gets_552_and_10mb_header_line_500(self):
        t = self.start_tree()
        c = self.session(t)
        mem = Memory(self, c.sock, "smtp")
        # 10 MB of one folded field: under message_size_limit (10m), far
        # over smtpd_header_size_limit (100k).
        folded = b"X-Test-Id: big-hdr\r\nX-Big: start\r\n" + (b" " + b"a" * 998 + b"\r\n") * 10000
        self.assertCode(self.transaction(t, c, folded + b"\r\nbody\r\n"), 552, "5.3.4")
        mem.assert_growth_below(2 * 100, "a 10 MB header")
        # The same 10 MB as one line: over smtpd_line_limit (4096).
        line = b"X-Test-Id: big-line\r\nX-Big: " + b"a" * (10 * MB) + b"\r\n"
        self.assertCode(self.transaction(t, c, line + b"\r\nbody\r\n"), 500, "5.5.2")
        mem.assert_growth_below(2 * 100, "a 10 MB header line")
        self.normal_message(t, c, "after-big-hdr")
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        m = t.wait_log(r"disconnect from \S+ service=smtp helo=<client\.example> .*\bmessages=(\d+)")
        self.assertEqual(m.group(1), "1", "only the normal message was queued")
        self.assertEqual(t.wait_ids("alice", {"after-big-hdr"}), {"after-big-hdr": 1})
        t.wait_queue(lambda q: q == [], what="an empty queue")
        self.assertEqual(t.count("alice"), 1)

    def test_mime_nested_1000_deep_delivered_and_fetched_within_the_depth_limit(self):
        t = self.start_tree()
        depth = 1000
        body = [b"This is a MIME bomb.\r\n"]
        for i in range(depth):
            body.append(b"--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n" % (i, i + 1))
        body.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\nthe leaf\r\n" % depth)
        for i in range(depth, -1, -1):
            body.append(b"--b%d--\r\n" % i)
        msg = make_message("mime-deep", "a@example.org", t.addr("alice"), b"".join(body),
                           extra_headers=[b"MIME-Version: 1.0",
                                          b"Content-Type: multipart/mixed; boundary=\"b0\""])
        s = self.smtp_session(t)
        s.sendmail("a@example.org", [t.addr("alice")], msg)
        self.assertEqual(t.wait_ids("alice", {"mime-deep"}), {"mime-deep": 1})
        im, mem = self.inbox(t)
        lines, tagged = im_cmd(im, b"b FETCH 1 BODYSTRUCTURE")
        self.assertTrue(tagged.startswith(b"b OK"), tagged)
        # MIME_MAX_DEPTH (100): parts deeper than that are not followed;
        # the multipart at the limit is shown as one leaf.  The deepest
        # list: FETCH's, 100 levels of parts, the leaf, its parameters.
        nesting = max_nesting(lines[0])
        self.assertLessEqual(nesting, 1 + 100 + 2, lines[0][:200])
        self.assertGreaterEqual(nesting, 64, lines[0][:200])
        # A section path of 64 parts (IMAP_SECTION_PARTS_MAX) is answered,
        # one of 65 is BAD; the session goes on.
        path = b".".join([b"1"] * 64)
        lines, tagged = im_cmd(im, b"p FETCH 1 BODY.PEEK[%s.MIME]" % path)
        self.assertTrue(tagged.startswith(b"p OK"), tagged)
        self.assertIn(b'boundary="b64"', lines[0])
        _, tagged = im_cmd(im, b"q FETCH 1 BODY.PEEK[%s.1]" % path)
        self.assertTrue(tagged.startswith(b"q BAD"), tagged)
        lines, tagged = im_cmd(im, b"r SEARCH BODY leaf")
        self.assertTrue(tagged.startswith(b"r OK"), tagged)
        # Attached messages 1000 deep: each level has its own header and
        # ENVELOPE; the same depth limit.
        inner = b"Subject: the leaf\r\n\r\nthe leaf\r\n"
        for i in range(depth):
            inner = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % (depth - i) + inner
        msg = make_message("rfc822-deep", "a@example.org", t.addr("alice"), inner.split(b"\r\n\r\n", 1)[1],
                           extra_headers=[b"MIME-Version: 1.0", b"Content-Type: message/rfc822"])
        s.sendmail("a@example.org", [t.addr("alice")], msg)
        self.assertEqual(t.wait_ids("alice", {"mime-deep", "rfc822-deep"}), {"mime-deep": 1, "rfc822-deep": 1})
        lines, tagged = im_cmd(im, b"n NOOP")
        self.assertTrue(tagged.startswith(b"n OK"), tagged)
        self.assertIn(b"* 2 EXISTS", lines)
        lines, tagged = im_cmd(im, b"c FETCH 2 (ENVELOPE BODYSTRUCTURE)")
        self.assertTrue(tagged.startswith(b"c OK"), tagged)
        self.assertIn(b'"level 2"', lines[0])
        self.assertNotIn(b'"level 200"', lines[0], "followed past MIME_MAX_DEPTH")
        # Each level: its part, its envelope's address lists.
        self.assertLessEqual(max_nesting(lines[0]), 1 + 100 + 4, lines[0][:200])
        self.assertIn(b'"level 99"', lines[0], "not followed down to MIME_MAX_DEPTH")
        # The messages are 64 KB; their parse trees stop at 100 levels.
        mem.assert_growth_below(1024, "MIME trees 1000 levels deep")

    def test_5mb_base64_without_line_ends_500_then_fetched_when_stored(self):
        t = self.start_tree()
        c = self.session(t)
        mem = Memory(self, c.sock, "smtp")
        raw = os.urandom(3932160)
        b64 = base64.b64encode(raw)
        self.assertEqual(len(b64), 5 * MB)
        head = (b"X-Test-Id: b64-line\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n"
                b"--x\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n")
        reply = self.transaction(t, c, head + b64 + b"\r\n--x--\r\n")
        self.assertCode(reply, 500, "5.5.2")    # smtpd_line_limit (4096)
        mem.assert_growth_below(0, "a 5 MB line")
        self.normal_message(t, c, "after-b64")
        self.assertEqual(t.wait_ids("alice", {"after-b64"}), {"after-b64": 1})
        # Another program may store such a message (LF line ends, as local
        # writes them); IMAP serves it whole and decodes it.
        stored = (head + b64 + b"\r\n--x--\r\n").replace(b"X-Test-Id: b64-line", b"X-Test-Id: b64-stored")
        t.place_message("alice", "1700000000.b64.host", stored.replace(b"\r\n", b"\n"))
        im, mem = self.inbox(t)
        lines, tagged = im_cmd(im, b"u UID SEARCH HEADER X-Test-Id b64-stored")
        uid = int(lines[0].split()[-1])
        lines, tagged = im_cmd(im, b"b UID FETCH %d (BINARY.SIZE[1] BINARY.PEEK[1])" % uid)
        self.assertTrue(tagged.startswith(b"b OK"), tagged)
        self.assertIn(b"BINARY.SIZE[1] %d" % len(raw), lines[0])
        self.assertTrue(raw in lines[0], "BINARY[1] is not the decoded part")
        lines, tagged = im_cmd(im, b"c UID FETCH %d BODY.PEEK[1]" % uid)
        self.assertTrue(tagged.startswith(b"c OK"), tagged)
        self.assertTrue(b"BODY[1] {%d}\r\n%s)" % (len(b64), b64) in lines[0], "BODY[1] is not the part")
        # The message is 5 MB (message_size_limit is 10m): decoding it and
        # sending it may take a few times that, no more.
        mem.assert_growth_below(4 * 5 * 1024, "FETCH BINARY of a 5 MB line")
        _, tagged = im_cmd(im, b"n NOOP")
        self.assertTrue(tagged.startswith(b"n OK"), tagged)
        im_cmd(im, b"z LOGOUT")
        # POP3 sends it whole too, the 5 MB line as it is.
        p = self.connect(t, "pop3")
        for line in (b"USER " + t.addr("alice").encode(), b"PASS " + t.passwords["alice"].encode()):
            p.send(line + b"\r\n")
            self.assertTrue(p.line().startswith(b"+OK"))
        mem = Memory(self, p.sock, "pop3-session")
        p.send(b"UIDL\r\n")
        self.assertTrue(p.line().startswith(b"+OK"))
        msgno = None
        while True:
            l = p.line()
            if l == b".":
                break
            if l.endswith(b"-%d" % uid):   # UIDL is UIDVALIDITY-UID, IMAP's UID
                msgno = l.split()[0]
        self.assertIsNotNone(msgno, "UID %d not in UIDL" % uid)
        p.send(b"RETR " + msgno + b"\r\n")
        self.assertTrue(p.line().startswith(b"+OK"))
        got = []
        while True:
            l = p.line()
            if l == b".":
                break
            got.append(l)
        self.assertTrue(b64 in got, "RETR did not send the 5 MB line whole")
        mem.assert_growth_below(2 * 5 * 1024, "RETR of a 5 MB line")

    def test_100000_recipients_pipelined_452_and_the_transaction_goes_on(self):
        limit = 100
        t = self.start_tree_with(smtpd_recipient_limit=str(limit))
        c = self.session(t)
        mem = Memory(self, c.sock, "smtp")
        self.cmd_ok(c, b"MAIL FROM:<a@example.org>", 250)
        codes = {}
        batch = 1000

        def rcpt(i):
            """New recipients, and beyond the limit every tenth one
            named again (as given, or in other case: the same mailbox),
            which gets its 250 as before the limit."""
            if i >= limit and i % 10 == 0:
                return b"alice+%d" % (i % limit), (250, b"2.1.5")
            if i >= limit and i % 10 == 5:
                return b"ALICE+%d" % (i % limit), (250, b"2.1.5")
            return b"alice+%d" % i, (250, b"2.1.5") if i < limit else (452, b"4.5.3")
        for start in range(0, 100000, batch):
            c.send(b"".join(b"RCPT TO:<%s@%s>\r\n" % (rcpt(i)[0], t.domain.encode())
                            for i in range(start, start + batch)))
            for i in range(start, start + batch):
                reply = c.read_reply()
                if (reply[0], reply[1][-1][:5]) != rcpt(i)[1]:
                    self.fail("RCPT %d <%s>: %r, want %r" % (i, rcpt(i)[0], reply, rcpt(i)[1]))
                codes[reply[0]] = codes.get(reply[0], 0) + 1
        again = (100000 - limit) // 5
        self.assertEqual(codes, {250: limit + again, 452: 100000 - limit - again})
        mem.assert_growth_below(0, "100,000 RCPT commands")
        self.cmd_ok(c, b"DATA", 354)
        c.send(make_message("many-rcpt", "a@example.org", t.addr("alice"), b"hi\r\n") + b"\r\n.\r\n")
        self.assertEqual(c.read_reply()[0], 250)
        c.send(b"QUIT\r\n")
        self.assertEqual(c.read_reply()[0], 221)
        # The accepted recipients are all delivered (alice+N: no folder
        # .N, so INBOX), and the refused ones are not logged one by one.
        self.assertEqual(t.wait_count("alice", limit, seconds=60), limit)
        t.wait_queue(lambda q: q == [], what="an empty queue")
        self.assertEqual(t.test_ids("alice"), {"many-rcpt": limit})
        self.assertLess(t.log_text().count("too many recipients"), 10)

    def tls_session(self, t):
        c = self.session(t, "submission")
        self.cmd_ok(c, b"STARTTLS", 220)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c.sock = ctx.wrap_socket(c.sock)
        self.cmd_ok(c, b"EHLO client.example", 250)
        return c

    def test_bdat_chunks_announcing_more_than_the_size_limit(self):
        t = self.start_tree()
        # Sizes past 64 bits: a syntax error, and the end of the session,
        # since the end of the chunk cannot be found.
        for size in (b"99999999999999999999", b"18446744073709551616"):
            c = self.session(t)
            self.cmd_ok(c, b"MAIL FROM:<a@example.org>", 250)
            self.cmd_ok(c, b"RCPT TO:<%s>" % t.addr("alice").encode(), 250)
            c.send(b"BDAT %s LAST\r\n" % size + b"z" * 65536)
            self.assertCode(c.read_reply(), 501, "5.5.4")
            self.assertRaises((EOFError, ConnectionResetError), c.read_reply)
        c = self.session(t)
        mem = Memory(self, c.sock, "smtp")
        # A chunk of twice message_size_limit: read whole (RFC 3030 sends
        # it without waiting, so the session stays in step) and dropped.
        self.cmd_ok(c, b"MAIL FROM:<a@example.org>", 250)
        self.cmd_ok(c, b"RCPT TO:<%s>" % t.addr("alice").encode(), 250)
        c.send(b"BDAT %d LAST\r\n" % (20 * MB) + b"X-Test-Id: bdat-big\r\n\r\n" + b"y" * (20 * MB - 23))
        self.assertCode(c.read_reply(), 552, "5.3.4")
        mem.assert_growth_below(0, "a 20 MB BDAT chunk")
        self.normal_message(t, c, "after-bdat")
        self.assertEqual(t.wait_ids("alice", {"after-bdat"}), {"after-bdat": 1})
        self.assertEqual(t.count("alice"), 1)

    def test_auth_with_1mb_response_on_submission(self):
        t = self.start_tree()
        c = self.tls_session(t)
        mem = Memory(self, c.sock, "submission")
        big = base64.b64encode(b"\0alice\0" + b"p" * (768 * 1024))
        self.assertGreater(len(big), MB)
        # As the initial response: the command line passes smtpd_line_limit.
        self.assertCode(self.cmd(c, b"AUTH PLAIN " + big), 500, "5.5.2")
        # As the response to 334: RFC 4954 4, 500 5.5.6.
        self.assertEqual(self.cmd(c, b"AUTH PLAIN"), (334, [b""]))
        self.assertCode(self.cmd(c, big), 500, "5.5.6")
        mem.assert_growth_below(0, "AUTH with 1 MB responses")
        plain = base64.b64encode(b"\0" + t.addr("alice").encode() + b"\0" + t.passwords["alice"].encode())
        self.assertCode(self.cmd(c, b"AUTH PLAIN " + plain), 235, "2.7.0")
        self.cmd_ok(c, b"MAIL FROM:<%s>" % t.addr("alice").encode(), 250)
        self.cmd_ok(c, b"RCPT TO:<%s>" % t.addr("bob").encode(), 250)
        self.cmd_ok(c, b"DATA", 354)
        c.send(make_message("after-auth-bomb", t.addr("alice"), t.addr("bob"), b"hi\r\n") + b"\r\n.\r\n")
        self.assertEqual(c.read_reply()[0], 250)
        self.assertEqual(t.wait_ids("bob", {"after-auth-bomb"}), {"after-auth-bomb": 1})


def im_cmd(im, line):
    im.send(line + b"\r\n")
    return im.tagged(line.split(b" ", 1)[0])


def max_nesting(data):
    """Deepest ( ) nesting outside quoted strings."""
    depth = best = 0
    quoted = False
    prev = b""
    for ch in data:
        ch = bytes([ch])
        if quoted:
            if ch == b'"' and prev != b"\\":
                quoted = False
        elif ch == b'"':
            quoted = True
        elif ch == b"(":
            depth += 1
            best = max(best, depth)
        elif ch == b")":
            depth -= 1
        prev = ch
    return best


class ImapBombs(BombTestCase):

    def assertTagged(self, im, line, want):
        _, tagged = im_cmd(im, line)
        self.assertRegex(tagged, want)
        return tagged

    def test_literals_announcing_4gb_and_more_on_login_and_append(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["before-literal"])
        im = self.connect(t)
        mem = Memory(self, im.sock, "imap")
        user = t.addr("alice").encode()
        # Above message_size_limit (10m): NO [TOOBIG] instead of "+", so
        # the client sends no octet of it; the connection goes on.
        for size in (b"4294967296", b"99999999999999999999", b"18446744073709551616"):
            self.assertTagged(im, b"a LOGIN {%s}" % size, rb"^a NO \[TOOBIG\] ")
            self.assertTagged(im, b"b LOGIN %s {%s}" % (user, size), rb"^b NO \[TOOBIG\] ")
        mem.assert_growth_below(0, "LOGIN literals of 4 GB")
        self.imap_login(t, im)
        mem = Memory(self, im.sock, "imap-session")
        for size in (b"4294967296", b"99999999999999999999"):
            self.assertTagged(im, b"c APPEND INBOX {%s}" % size, rb"^c NO \[TOOBIG\] ")
            self.assertTagged(im, b"d APPEND INBOX (\\Seen) {%s}" % size, rb"^d NO \[TOOBIG\] ")
        msg = make_message("appended", "a@example.org", t.addr("alice"), b"hi\r\n")
        im.send(b"e APPEND INBOX {%d}\r\n" % len(msg))
        self.assertTrue(im.line().startswith(b"+"))
        im.send(msg + b"\r\n")
        self.assertRegex(im.tagged(b"e")[1], rb"^e OK ")
        # A MULTIAPPEND whose second literal is refused stores neither
        # message (the first was already streamed to a file).
        first = make_message("multi-first", "a@example.org", t.addr("alice"), b"one\r\n")
        im.send(b"m APPEND INBOX {%d}\r\n" % len(first))
        self.assertTrue(im.line().startswith(b"+"))
        im.send(first + b" {4294967296}\r\n")
        self.assertRegex(im.tagged(b"m")[1], rb"^m NO \[TOOBIG\] ")
        # Literals of other commands: 64 KiB in memory per command.
        self.assertTagged(im, b"n SEARCH TEXT {4294967296}", rb"^n NO \[TOOBIG\] ")
        self.assertTagged(im, b"o SEARCH TEXT {70000}", rb"^o NO \[TOOBIG\] ")
        mem.assert_growth_below(0, "APPEND literals of 4 GB")
        self.assertEqual(t.test_ids("alice"), {"before-literal": 1, "appended": 1})
        self.assertEqual(os.listdir(os.path.join(t.maildir("alice"), "tmp")), [], "a partial APPEND left behind")
        # A non-synchronizing one is refused as well; its octets would
        # follow, so the server reads and drops what comes.
        im2 = self.connect(t)
        self.imap_login(t, im2)
        im2.send(b"f APPEND INBOX {4294967296+}\r\n" + b"x" * 65536)
        self.assertRegex(im2.tagged(b"f")[1], rb"^f NO \[TOOBIG\] ")
        im2.close()
        self.assertTagged(im, b"g NOOP", rb"^g OK ")

    def test_authenticate_plain_with_1mb_response(self):
        t = self.start_tree()
        im = self.connect(t)
        mem = Memory(self, im.sock, "imap")
        big = base64.b64encode(b"\0alice\0" + b"p" * (768 * 1024))
        # As SASL-IR: the command line passes imap_line_limit (64k).
        self.assertTagged(im, b"a AUTHENTICATE PLAIN " + big, rb"^a BAD \[TOOBIG\] ")
        # As the response to "+": the same limit, the same answer.
        im.send(b"b AUTHENTICATE PLAIN\r\n")
        self.assertEqual(im.line(), b"+ ")
        im.send(big + b"\r\n")
        self.assertRegex(im.tagged(b"b")[1], rb"^b BAD \[TOOBIG\] ")
        mem.assert_growth_below(0, "AUTHENTICATE with 1 MB responses")
        self.assertTagged(im, b"c NOOP", rb"^c OK ")
        self.imap_login(t, im)
        self.assertTagged(im, b"s SELECT INBOX", rb"^s OK ")

    def test_10mb_command_line(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["before-line"])
        im = self.connect(t)
        mem = Memory(self, im.sock, "imap")
        # imap_line_limit (64k): BAD [TOOBIG] as soon as it is passed, the
        # rest of the line is dropped as it comes.
        im.send(b"a NOOP " + b"x" * (10 * MB))
        self.assertRegex(im.tagged(b"a")[1], rb"^a BAD \[TOOBIG\] ")
        im.send(b"\r\n")
        self.assertTagged(im, b"b NOOP", rb"^b OK ")
        mem.assert_growth_below(0, "a 10 MB line before login")
        self.imap_login(t, im)
        mem = Memory(self, im.sock, "imap-session")
        im.send(b"c SEARCH TEXT " + b"x" * (10 * MB))
        self.assertRegex(im.tagged(b"c")[1], rb"^c BAD \[TOOBIG\] ")
        im.send(b"\r\n")
        lines, _ = im_cmd(im, b"d SELECT INBOX")
        self.assertIn(b"* 1 EXISTS", lines)
        # In IDLE, where only DONE is expected: the same limit.
        im.send(b"e IDLE\r\n")
        self.assertTrue(im.line().startswith(b"+ "))
        im.send(b"x" * (10 * MB) + b"\r\n")
        self.assertRegex(im.tagged(b"e")[1], rb"^e BAD \[TOOBIG\] ")
        mem.assert_growth_below(0, "a 10 MB line after login")
        self.assertTagged(im, b"f FETCH 1 BODY.PEEK[HEADER.FIELDS (X-Test-Id)]", rb"^f OK ")

    def test_10mb_line_to_a_hibernated_session(self):
        # imap-hibernate only peeks at what the client sends; the session
        # process that takes the session back reads the line and answers.
        t = self.start_tree_with(imap_hibernate_timeout="1s")
        t.deliver_ids("alice", ["before-hib"])
        im = self.imap_login(t)
        self.assertTagged(im, b"s SELECT INBOX", rb"^s OK ")
        mark = t.log_mark()
        im.send(b"i IDLE\r\n")
        self.assertTrue(im.line().startswith(b"+ "))
        t.wait_log(r"user=alice@\S+ client=\S+: hibernated$", after=mark)
        im.send(b"x" * (10 * MB) + b"\r\n")
        self.assertRegex(im.tagged(b"i")[1], rb"^i BAD \[TOOBIG\] ")
        self.assertTagged(im, b"f FETCH 1 BODY.PEEK[HEADER.FIELDS (X-Test-Id)]", rb"^f OK ")
        # The session process that read it started after the bomb began:
        # its whole peak, not its growth, must stay small.
        Memory(self, im.sock, "imap-session").assert_peak_below(PEAK_KB, "a 10 MB line after hibernation")
        self.assertTrue(t.pids("imap-hibernate"), "imap-hibernate is alive")


class Pop3Bombs(BombTestCase):

    def cmd(self, p, line):
        p.send(line + b"\r\n")
        return p.line()

    def test_auth_with_1mb_initial_response_and_1mb_response(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["pop-auth"])
        p = self.connect(t, "pop3")
        mem = Memory(self, p.sock, "pop3")
        big = base64.b64encode(b"\0alice\0" + b"p" * (768 * 1024))
        # A command line is at most 255 octets (RFC 2449); a SASL
        # response at most 2048 (RFC 5034 4).
        self.assertEqual(self.cmd(p, b"AUTH PLAIN " + big), b"-ERR Line too long")
        self.assertEqual(self.cmd(p, b"AUTH PLAIN"), b"+ ")
        self.assertEqual(self.cmd(p, big), b"-ERR Response too long")
        mem.assert_growth_below(0, "AUTH with 1 MB responses")
        plain = base64.b64encode(b"\0" + t.addr("alice").encode() + b"\0" + t.passwords["alice"].encode())
        self.assertTrue(self.cmd(p, b"AUTH PLAIN " + plain).startswith(b"+OK"))
        self.assertEqual(self.cmd(p, b"STAT")[:5], b"+OK 1")

    def test_1mb_command_line_before_and_after_login(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["pop-line"])
        p = self.connect(t, "pop3")
        mem = Memory(self, p.sock, "pop3")
        self.assertEqual(self.cmd(p, b"USER " + b"u" * MB), b"-ERR Line too long")
        mem.assert_growth_below(0, "a 1 MB line before login")
        self.assertTrue(self.cmd(p, b"USER " + t.addr("alice").encode()).startswith(b"+OK"))
        self.assertTrue(self.cmd(p, b"PASS " + t.passwords["alice"].encode()).startswith(b"+OK"))
        mem = Memory(self, p.sock, "pop3-session")
        self.assertEqual(self.cmd(p, b"RETR " + b"1" * MB), b"-ERR Line too long")
        mem.assert_growth_below(0, "a 1 MB line after login")
        self.assertEqual(self.cmd(p, b"STAT")[:5], b"+OK 1")
        self.assertTrue(self.cmd(p, b"QUIT").startswith(b"+OK"))
        self.assertEqual(t.test_ids("alice"), {"pop-line": 1})
