"""OBJECTID (RFC 8474, issue 11): MAILBOXID at CREATE, SELECT and in
STATUS, the same after a RENAME; EMAILID the same for a message and its
copy and after a MOVE, different for another message, kept in
dovecot-uidlist (so a rewrite of the list and Dovecot keep it);
THREADID NIL; SEARCH EMAILID finds the message."""

import re
import unittest

from postern_harness import PosternTestCase
from test_imap_two_sessions import Session


def one(pattern, lines):
    m = re.search(pattern, b"".join(lines))
    assert m, (pattern, lines)
    return m.group(1).decode()


class ImapObjectid(PosternTestCase):

    def test_mailboxid_and_emailid_are_stable(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["o1"])
        t.deliver_ids("alice", ["o2"])
        a = Session(t)
        self.addCleanup(a.close)
        self.assertIn(b" OBJECTID", b"".join(a.ok("CAPABILITY")))
        created = a.cmd("CREATE Keep")
        box = one(rb"OK \[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", created)
        self.assertEqual(one(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)", a.ok("STATUS Keep (MAILBOXID)")), box)
        a.ok("RENAME Keep Kept")
        self.assertEqual(one(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)", a.ok("STATUS Kept (MAILBOXID)")), box)
        inbox = one(rb"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", a.ok("SELECT INBOX"))
        self.assertNotEqual(inbox, box)

        ids = dict(re.findall(rb"UID (\d+) EMAILID \(([A-Za-z0-9_-]+)\) THREADID NIL",
                              b"".join(a.ok("UID FETCH 1:* (EMAILID THREADID)"))))
        self.assertEqual(len(ids), 2)
        self.assertNotEqual(ids[b"1"], ids[b"2"])
        first = ids[b"1"].decode()
        # A copy and then a move keep it.
        a.ok("UID COPY 1 Kept")
        a.ok("SELECT Kept")
        self.assertEqual(one(rb"EMAILID \(([A-Za-z0-9_-]+)\)", a.ok("FETCH 1 (EMAILID)")), first)
        a.ok("CREATE Moved")
        a.ok("MOVE 1 Moved")
        a.ok("SELECT Moved")
        self.assertEqual(one(rb"EMAILID \(([A-Za-z0-9_-]+)\)", a.ok("FETCH 1 (EMAILID)")), first)
        # A new session (the list read again from the file) sees the same.
        b = Session(t)
        self.addCleanup(b.close)
        b.ok("SELECT Moved")
        self.assertEqual(one(rb"EMAILID \(([A-Za-z0-9_-]+)\)", b.ok("FETCH 1 (EMAILID)")), first)
        b.ok("SELECT INBOX")
        self.assertIn(b"* SEARCH 1\r\n", b.ok("SEARCH EMAILID %s" % first))
        self.assertIn(b"* SEARCH\r\n", b.ok("SEARCH THREADID T1"))


if __name__ == "__main__":
    unittest.main()
