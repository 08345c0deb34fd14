"""IMAP FETCH of messages stored with mixed line ends, read in 64 KB
blocks (imapd_fetch.c, imapd_msg_read): every bare LF goes out as CRLF,
a stored CRLF as it is, also where the CR is the last byte of one block
and the LF the first of the next; RFC822.SIZE is the length sent, and
BODY[HEADER] ends at the empty line even when that line is split across
two blocks.  SEARCH reads the same way.  Structures and sections that are
not the whole message are made from the message as stored (no CRLF
pass): the same answer for a message stored with LF as with CRLF."""

import imaplib
import re

from postern_harness import HOST, SCALE, PosternTestCase

BLOCK = 65536   # imapd_msg_read's read size


def wire(data):
    """data as IMAP sends it: a bare LF becomes CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def first_difference(got, want):
    """Where got and want differ, shortly (the messages are 64 KB)."""
    if got == want:
        return None
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
    return "%d bytes, want %d; first difference at %d: %r, want %r" % (
        len(got), len(want), i, got[max(0, i - 8):i + 8], want[max(0, i - 8):i + 8])


class ImapFetchLineEnds(PosternTestCase):

    def test_line_ends_across_read_blocks(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "first")            # makes the Maildir
        t.wait_ids("alice", {"first"})
        # 1: a body line whose CR is the last byte of the first block.
        head = b"Subject: split crlf\nX-Test-Id: s1\n\n"
        filler = b"y" * (BLOCK - len(head) - 1)
        one = head + filler + b"\r\nbare\nkeep\r\nneedleword\n"
        self.assertEqual(one[BLOCK - 1:BLOCK + 1], b"\r\n")
        # 2: the header's empty line split: CR last in block one, LF first in two.
        top = b"Subject: split header\nX-Test-Id: s2\nX-Long: "
        top += b"z" * (BLOCK - len(top) - 2) + b"\n"
        two = top + b"\r\nbody line\n"
        self.assertEqual(two[BLOCK - 1:BLOCK + 1], b"\r\n")
        t.place_message("alice", "2000000001.M1P1.elsewhere", one)
        t.place_message("alice", "2000000002.M1P1.elsewhere", two)
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.select("INBOX"), ("OK", [b"3"]))
        for seq, data in ((b"2", one), (b"3", two)):
            typ, got = c.fetch(seq, "(RFC822.SIZE BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            raw = got[0][1]
            self.assertIsNone(first_difference(raw, wire(data)), seq)
            self.assertEqual(int(re.search(rb"RFC822.SIZE (\d+)", got[0][0]).group(1)), len(raw))
        typ, got = c.fetch(b"3", "(BODY.PEEK[HEADER])")
        self.assertIsNone(first_difference(got[0][1], wire(top) + b"\r\n"))
        typ, got = c.fetch(b"3", "(BODY.PEEK[TEXT])")
        self.assertEqual(got[0][1], b"body line\r\n")
        self.assertEqual(c.search(None, "BODY", "needleword"), ("OK", [b"2"]))
        c.logout()

    def test_structures_same_for_lf_and_crlf_storage(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "first")            # makes the Maildir
        t.wait_ids("alice", {"first"})
        msg = (b"From: =?iso-8859-1?q?J=F6rg?= <j@example.org>\n"
               b"To: a@example.test,\n (folded) b@example.test\n"
               b"Subject: line\n ends\nDate: Thu, 01 Jan 2026 00:00:00 +0000\n"
               b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
               b"preamble\n--b\nContent-Type: text/plain; charset=utf-8\n\n"
               b"hello\nworld \xc3\xa4\n\n--b\nContent-Type: message/rfc822\n\n"
               b"Subject: inner\n\ninner body\nline two\n--b\n"
               b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
               b"AAECAwQF\nBgcI\n--b--\nepilogue\n")
        t.place_message("alice", "2000000001.M1P1.lf", msg)
        t.place_message("alice", "2000000002.M1P1.crlf", wire(msg))
        items = ("(RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY PREVIEW BODY.PEEK[1] BODY.PEEK[2.HEADER] "
                 "BODY.PEEK[HEADER.FIELDS (SUBJECT TO)] BODY.PEEK[3.MIME] BODY.PEEK[TEXT]<5.40>)")
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.select("INBOX"), ("OK", [b"3"]))
        for run in ("cold", "warm"):
            typ, got = c.fetch(b"2:3", items)
            self.assertEqual(typ, "OK", run)
            # imaplib's pieces, joined: "2 (...)3 (...)" with the literals in place
            text = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in got)
            parts = re.split(rb"(?:^|\))\s*(\d+) \(", text)
            self.assertEqual(parts[1:4:2], [b"2", b"3"], (run, text[:300]))
            self.assertIsNone(first_difference(parts[2], parts[4].rstrip(b")")), run)
            self.assertIn(b"BODY[1] {17}hello\r\nworld \xc3\xa4\r\n", parts[2])
        c.logout()

    def test_whole_message_changed_since_measured_is_sent_as_it_is(self):
        """BODY[] is made wire form straight into a literal of the size
        the store measured; a file rewritten since with other line ends
        (same length on disk, another on the wire) is read again and
        sent as it is now, with the length it has."""
        t = self.start_tree()
        t.send(t.addr("alice"), "first")            # makes the Maildir
        t.wait_ids("alice", {"first"})
        t.place_message("alice", "2000000001.M1P1.changes", b"Subject: c\n\na\nb\n")
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.select("INBOX"), ("OK", [b"2"]))
        typ, got = c.fetch(b"2", "(BODY.PEEK[])")
        self.assertEqual(got[0][1], b"Subject: c\r\n\r\na\r\nb\r\n")
        path = [p for p in t.message_paths("alice") if "changes" in p][0]
        with open(path, "r+b") as f:                 # 16 bytes either way
            f.write(b"Subject: c\r\n\r\nab")
        typ, got = c.fetch(b"2", "(BODY.PEEK[] RFC822)")
        self.assertEqual(typ, "OK")
        # (its last line has no line end now: one is sent, as POP3 does)
        self.assertEqual(got[0][1], b"Subject: c\r\n\r\nab\r\n")
        self.assertEqual(got[1][1], b"Subject: c\r\n\r\nab\r\n")
        c.logout()

    def test_size_of_a_message_without_a_final_line_end_is_what_is_sent(self):
        """RFC 3501 7.4.2: RFC822.SIZE is the octets of BODY[], also for a
        message whose last line has no line end (APPENDed so, or placed
        by another program): it is sent with one, as POP3 sends it and as
        the store counts it (RFC822.SIZE once said 2 more than BODY[])."""
        t = self.start_tree()
        t.send(t.addr("alice"), "first")            # makes the Maildir
        t.wait_ids("alice", {"first"})
        t.place_message("alice", "2000000001.M1P1.placed", b"Subject: p\n\nlast line")
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        self.addCleanup(c.logout)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.append("INBOX", None, None, b"Subject: a\r\n\r\nno eol")[0], "OK")
        self.assertEqual(c.select("INBOX"), ("OK", [b"3"]))
        typ, got = c.fetch(b"2:3", "(RFC822.SIZE BINARY.SIZE[] BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        bodies = [x for x in got if isinstance(x, tuple)]
        self.assertEqual([b for _, b in bodies],
                         [b"Subject: p\r\n\r\nlast line\r\n", b"Subject: a\r\n\r\nno eol\r\n"])
        for head, body in bodies:
            self.assertIn(b"RFC822.SIZE %d BINARY.SIZE[] %d " % (len(body), len(body)), head)
