"""PREVIEW (RFC 8970, issue 11): FETCH PREVIEW of a delivered message is
its text without quotes and signature; it is made once and kept in the
folder's cache (the second session reads it there); non-ASCII comes as
a literal to an IMAP4rev1 client and quoted UTF-8 under IMAP4rev2;
PREVIEW (LAZY) is accepted and an unknown modifier is a BAD."""

import os
import re
import unittest

from postern_harness import PosternTestCase, wait_for
from test_imap_two_sessions import Session

BODY = ("Hallo Bob,\r\n\r\n> your question\r\nthe answer is 42 \xe2\x82\xac.\r\n-- \r\nAlice\r\n"
        .encode("latin-1"))


class ImapPreview(PosternTestCase):

    def test_preview_is_made_once_and_sent_in_the_right_form(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "p1", body=BODY)
        t.wait_ids("alice", ["p1"])
        a = Session(t)
        self.addCleanup(a.close)
        self.assertIn(b" PREVIEW", b"".join(a.ok("CAPABILITY")))
        a.ok("SELECT INBOX")
        out = a.ok("FETCH 1 (PREVIEW)")
        # IMAP4rev1: 8-bit text only in a literal.
        want = "Hallo Bob, the answer is 42 \u20ac.".encode()
        self.assertIn(b"PREVIEW {%d}\r\n" % len(want), out[0])
        self.assertEqual(out[1].rstrip(b")\r\n"), want)
        cache = os.path.join(t.maildir("alice"), "postern-cache")
        wait_for(lambda: os.path.exists(cache) and want in open(cache, "rb").read(), 10, "the preview cached")
        b = Session(t)
        self.addCleanup(b.close)
        b.ok("ENABLE IMAP4rev2")
        b.ok("SELECT INBOX")
        out = b"".join(b.ok("FETCH 1 (PREVIEW (LAZY))"))
        self.assertIn(b'PREVIEW "' + want + b'"', out)             # IMAP4rev2: quoted UTF-8
        out = b.cmd("FETCH 1 (PREVIEW (FOO))")
        self.assertRegex(out[-1], rb"^t\d+ BAD")
        # A message with no text at all has an empty preview.
        t.send(t.addr("alice"), "p2", body=b"")
        t.wait_ids("alice", ["p2"])
        b.ok("NOOP")
        out = b"".join(b.ok("UID FETCH 2 (PREVIEW)"))
        self.assertTrue(re.search(rb'PREVIEW ""', out) or re.search(rb"PREVIEW \{0\}", out), out)


if __name__ == "__main__":
    unittest.main()
