"""IMAP COMPRESS=DEFLATE (RFC 4978, issue 11), driven over plaintext imap
on loopback and over imaps by a raw socket client that compresses with
Python's zlib as RFC 4978 4 says (raw deflate: compressobj(wbits=-15),
a Z_SYNC_FLUSH after each command; decompressobj(wbits=-15) for the
server's side): LOGIN, COMPRESS DEFLATE (its tagged OK uncompressed),
then SELECT, a FETCH of a 1 MB message (which must arrive much smaller
than it is), an APPEND with a synchronising literal (the "+" comes
compressed), IDLE seeing a delivery (the server flushes its compressor
at each untagged response, or the client would wait), a second COMPRESS
refused with NO [COMPRESSIONACTIVE], LOGOUT.  Also: the capability is
announced; an unknown mechanism is BAD and leaves the stream plain;
COMPRESS before login is refused by the login process; a command the
client pipelined behind COMPRESS DEFLATE in the same packet is inflated
and answered; and corrupt compressed input ends the session with a
(compressed) BYE and a log line, the server going on for others.

Real clients in Debian 12: mbsync (isync 1.4.4, built with zlib)
negotiates COMPRESS=DEFLATE by itself whenever the server offers it (no
setting; its -Dn trace shows the command), so a two-way sync with it
over imaps and plaintext runs compressed here (and test_imap_mbsync's
syncs now run compressed too).  Mutt 2.2 has COMPRESS behind
`imap_deflate` (off by default): set, it reads a 1 MB message and flags
another over imaps, compressed (the session log says so).  curl's
IMAP does not offer COMPRESS (libcurl has no COMPRESS command; its zlib
is for HTTP)."""

import os
import re
import shutil
import socket
import subprocess
import unittest
import zlib

from postern_harness import HOST, SCALE, PosternTestCase, wait_for
from test_imap_clients import server_flags
from test_imap_mbsync import local_box, mbsync_config
from test_imap_mutt import Mutt, mutt_missing
from test_pop3_tls import tls_context


class ZClient:
    """A raw IMAP client that can switch on COMPRESS=DEFLATE."""

    def __init__(self, t, tls=False):
        sock = socket.create_connection((HOST, t.port("imaps" if tls else "imap")), timeout=30 * SCALE)
        self.s = tls_context(t).wrap_socket(sock) if tls else sock
        self.rbuf = b""            # plaintext (inflated) input not yet read
        self.zin = self.zout = None
        self.wire_in = 0           # bytes from the socket since compression began
        self.plain_in = 0          # what they inflated to
        self.n = 0
        self.line()                                        # greeting

    def _recv(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        if self.zin is not None:
            self.wire_in += len(data)
            data = self.zin.decompress(data)
            self.plain_in += len(data)
        self.rbuf += data

    def line(self):
        while b"\r\n" not in self.rbuf:
            self._recv()
        l, self.rbuf = self.rbuf.split(b"\r\n", 1)
        return l + b"\r\n"

    def exact(self, n):
        while len(self.rbuf) < n:
            self._recv()
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def send(self, data):
        if self.zout is not None:
            data = self.zout.compress(data) + self.zout.flush(zlib.Z_SYNC_FLUSH)
        self.s.sendall(data)

    def tag(self):
        self.n += 1
        return b"z%d" % self.n

    def response(self, tag):
        """Everything up to and including tag's reply, literals included."""
        out = b""
        while True:
            l = self.line()
            out += l
            m = re.search(rb"\{(\d+)\}\r\n$", l)
            if m:
                out += self.exact(int(m.group(1)))
                continue
            if l.startswith(tag + b" "):
                return out

    def cmd(self, text):
        tag = self.tag()
        self.send(tag + b" " + text + b"\r\n")
        return tag, self.response(tag)

    def ok(self, text):
        tag, out = self.cmd(text)
        last = out.rsplit(b"\r\n", 2)[-2]
        assert last.startswith(tag + b" OK"), (text, out[-300:])
        return out

    def compress(self):
        """COMPRESS DEFLATE; from its tagged OK on, both ways compressed."""
        tag = self.tag()
        self.send(tag + b" COMPRESS DEFLATE\r\n")
        l = self.line()                                    # no untagged data before it
        assert l.startswith(tag + b" OK"), l
        self.start_zlib()
        return l

    def start_zlib(self):
        self.zin = zlib.decompressobj(wbits=-15)
        self.zout = zlib.compressobj(wbits=-15)
        # Whatever came behind the OK is the compressed stream already.
        rest, self.rbuf = self.rbuf, b""
        self.wire_in += len(rest)
        self.rbuf = self.zin.decompress(rest)
        self.plain_in += len(self.rbuf)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def big_body():
    """About 1 MB of mail text: compressible as mail is, not trivially."""
    return b"".join(b"line %06d: the quick brown fox jumps over the lazy dog, %d\r\n" % (i, i * 7919 % 10007)
                    for i in range(16000))


class ImapCompress(PosternTestCase):

    def login(self, t, tls=False):
        c = ZClient(t, tls)
        self.addCleanup(c.close)
        c.ok(b"LOGIN %s %s" % (t.addr("alice").encode(), t.passwords["alice"].encode()))
        return c

    def session(self, tls):
        t = self.start_tree()
        body = big_body()
        t.send(t.addr("alice"), "big", body=body)
        t.wait_ids("alice", {"big"})
        c = self.login(t, tls)
        caps = c.ok(b"CAPABILITY")
        self.assertIn(b" COMPRESS=DEFLATE", caps)
        self.assertRegex(c.compress(), rb"^z\d+ OK")

        # SELECT and a FETCH of the big message, compressed.
        out = c.ok(b"SELECT INBOX")
        self.assertIn(b"* 1 EXISTS\r\n", out)
        before_wire, before_plain = c.wire_in, c.plain_in
        out = c.ok(b"FETCH 1 (RFC822.SIZE BODY.PEEK[])")
        size = int(re.search(rb"RFC822.SIZE (\d+)", out).group(1))
        m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", out)
        self.assertEqual(int(m.group(1)), size)
        literal = out[m.end():m.end() + size]
        self.assertIn(b"X-Test-Id: big\r\n", literal)
        self.assertTrue(literal.endswith(body), literal[-200:])
        wire, plain = c.wire_in - before_wire, c.plain_in - before_plain
        self.assertGreater(plain, size)
        self.assertLess(wire * 3, plain, "the FETCH was not compressed: %d bytes for %d" % (wire, plain))

        # APPEND with a synchronising literal: the "+" comes compressed.
        msg = b"From: a@example.org\r\nSubject: appended\r\nX-Test-Id: app\r\n\r\n" + body[:200000]
        tag = c.tag()
        c.send(tag + b" APPEND INBOX (\\Seen) {%d}\r\n" % len(msg))
        self.assertTrue(c.line().startswith(b"+ "))
        c.send(msg + b"\r\n")
        out = c.response(tag)
        self.assertRegex(out, rb"z\d+ OK \[APPENDUID \d+ 2\]")
        out = c.ok(b"UID FETCH 2 (BODY.PEEK[])")
        self.assertIn(msg, out)

        # IDLE sees a delivery: each untagged response is flushed.
        tag = c.tag()
        c.send(tag + b" IDLE\r\n")
        while not c.line().startswith(b"+ "):
            pass
        t.send(t.addr("alice"), "idle1")
        l = c.line()
        while not l.endswith(b"EXISTS\r\n"):
            l = c.line()
        self.assertEqual(l, b"* 3 EXISTS\r\n")
        c.send(b"DONE\r\n")
        self.assertRegex(c.response(tag), rb"z\d+ OK IDLE")

        # A second COMPRESS: compression stays as it is.
        tag, out = c.cmd(b"COMPRESS DEFLATE")
        self.assertRegex(out, rb"z\d+ NO \[COMPRESSIONACTIVE\]")
        c.ok(b"NOOP")

        tag, out = c.cmd(b"LOGOUT")
        self.assertIn(b"* BYE", out)
        self.assertRegex(out, rb"z\d+ OK")

    def test_compressed_session_over_plaintext_loopback(self):
        self.session(tls=False)

    def test_compressed_session_over_imaps(self):
        self.session(tls=True)

    def test_unknown_mechanism_before_login_and_pipelined_command(self):
        t = self.start_tree()
        # Before login: the login process knows no COMPRESS.
        c = ZClient(t)
        self.addCleanup(c.close)
        tag, out = c.cmd(b"COMPRESS DEFLATE")
        self.assertRegex(out, rb"z\d+ BAD")
        c.ok(b"LOGIN %s %s" % (t.addr("alice").encode(), t.passwords["alice"].encode()))
        # An unknown mechanism is BAD (RFC 4978 3) and nothing changes.
        tag, out = c.cmd(b"COMPRESS LZ4")
        self.assertRegex(out, rb"z\d+ BAD")
        c.ok(b"NOOP")
        # COMPRESS with the next command behind it in one packet: the
        # command is compressed, already in the server's read buffer.
        zout = zlib.compressobj(wbits=-15)
        tag = c.tag()
        c.s.sendall(tag + b" COMPRESS DEFLATE\r\n" +
                    zout.compress(b"p1 SELECT INBOX\r\n") + zout.flush(zlib.Z_SYNC_FLUSH))
        self.assertTrue(c.line().startswith(tag + b" OK"))
        c.start_zlib()
        c.zout = zout
        self.assertRegex(c.response(b"p1"), rb"p1 OK \[READ-WRITE\]")
        c.ok(b"LOGOUT")

    def test_corrupt_compressed_input_ends_the_session_cleanly(self):
        t = self.start_tree()
        c = self.login(t)
        c.compress()
        c.ok(b"NOOP")
        mark = t.log_mark()
        c.s.sendall(b"\xff" * 64)                           # BTYPE 11: not deflate
        seen = b""
        try:
            while True:
                seen += c.line()
        except (EOFError, OSError):
            pass
        self.assertIn(b"* BYE Compressed input is corrupt\r\n", seen)
        t.wait_log(r"compressed input refused", after=mark)
        # The server goes on: a new session works, compressed too.
        d = self.login(t)
        d.compress()
        d.ok(b"SELECT INBOX")
        d.ok(b"LOGOUT")


class ImapCompressMbsync(PosternTestCase):
    """mbsync negotiates COMPRESS=DEFLATE itself; its -Dn trace shows it."""

    def setUp(self):
        if shutil.which("mbsync") is None:
            self.skipTest("mbsync is not installed (Debian package isync)")

    def sync(self, tls):
        t = self.start_tree()
        t.send(t.addr("alice"), "s1", body=big_body())
        t.send(t.addr("alice"), "s2")
        t.wait_ids("alice", {"s1", "s2"})
        work = os.path.join(t.dir, "mbsync")
        os.mkdir(work, 0o700)
        rc, local = mbsync_config(t, work, tls)
        p = subprocess.run(["mbsync", "-Dn", "-c", rc, "both"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120 * SCALE, env=dict(os.environ, HOME=work),
                           cwd=work)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out[-3000:])
        m = re.search(r"^>>> (\d+) COMPRESS DEFLATE\r?$", out, re.M)
        self.assertIsNotNone(m, "mbsync did not ask for COMPRESS: " + out[-3000:])
        self.assertRegex(out, r"(?m)^%s OK DEFLATE active" % m.group(1))
        got = local_box(os.path.join(local, "INBOX"))
        self.assertEqual(sorted(got), ["s1", "s2"])
        with open(got["s1"][0], "rb") as f:
            self.assertTrue(f.read().replace(b"\r\n", b"\n").endswith(big_body().replace(b"\r\n", b"\n")))
        # A local flag change goes back up through the compressed stream.
        path = got["s2"][0]
        base = os.path.basename(path).split(":2,", 1)[0]
        os.rename(path, os.path.join(local, "INBOX", "cur", base + ":2,S"))
        p = subprocess.run(["mbsync", "-c", rc, "both"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120 * SCALE, env=dict(os.environ, HOME=work), cwd=work)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace")[-3000:])
        c = ZClient(t, tls)
        self.addCleanup(c.close)
        c.ok(b"LOGIN %s %s" % (t.addr("alice").encode(), t.passwords["alice"].encode()))
        c.compress()
        c.ok(b"SELECT INBOX")
        out = c.ok(b"FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (X-Test-Id)])")
        flags = dict((tid.decode(), set(fl.split()) - {b"\\Recent"}) for fl, tid in
                     re.findall(rb"FLAGS \(([^)]*)\).*?\r\nX-Test-Id: (\S+)", out, re.S))
        self.assertEqual(flags, {"s1": set(), "s2": {b"\\Seen"}})

    def test_mbsync_over_imaps_compressed(self):
        self.sync(tls=True)

    def test_mbsync_over_plaintext_compressed(self):
        self.sync(tls=False)


class ImapCompressMutt(PosternTestCase):
    """mutt with imap_deflate set, over imaps: reads a big message, flags
    another, quits; the session log says compression was on."""

    def setUp(self):
        if mutt_missing():
            self.skipTest(mutt_missing())

    def test_mutt_over_imaps_compressed(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "mz1", body=big_body())
        t.send(t.addr("alice"), "mz2", body=b"short body of mz2\r\n")
        t.wait_ids("alice", {"mz1", "mz2"})
        mark = t.log_mark()
        m = Mutt(self, t, extra="set imap_deflate = yes\n")
        m.wait_screen(lambda s: "=INBOX" in s and len(re.findall(r"test mz\d", s)) == 2, "mutt's index of INBOX")
        t.wait_log(r"client=\S+: compression on \(DEFLATE\)", after=mark)
        m.keys(m.index_number("mz1"), "Enter")
        m.keys("Enter")
        m.wait_screen(lambda s: "line 000001: the quick brown fox" in s, "the pager with mz1")
        m.keys("i")
        m.wait_screen(lambda s: "=INBOX" in s and "quick brown fox" not in s, "back in the index")
        m.keys(m.index_number("mz2"), "Enter")
        m.keys("F", "$")
        wait_for(lambda: server_flags(t, "INBOX") == {"mz1": {"\\Seen"}, "mz2": {"\\Flagged"}}, 20,
                 "\\Seen on mz1 and \\Flagged on mz2",
                 detail=lambda: "server: %r\nscreen:\n%s" % (server_flags(t, "INBOX"), m.screen()), interval=0.2)
        m.keys("q")
        self.assertEqual(m.wait_exit(), "0", m.screen())


if __name__ == "__main__":
    unittest.main()
