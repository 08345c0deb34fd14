"""IMAP FETCH of messages stored with mixed line ends, read in 64 KB
blocks (imapd_fetch.c, imapd_msg_read): every bare LF goes out as CRLF,
a stored CRLF as it is, also where the CR is the last byte of one block
and the LF the first of the next; RFC822.SIZE is the length sent, and
BODY[HEADER] ends at the empty line even when that line is split across
two blocks.  SEARCH reads the same way."""

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
