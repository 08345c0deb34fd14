"""SEARCHRES (RFC 5182, issue 11): SEARCH RETURN (SAVE) keeps the result
as "$" for later commands; SAVE alone sends no ESEARCH; with MIN or MAX
only those are saved; "$" follows expunges, is empty after SELECT and
after a failed SEARCH, and can itself be searched."""

import re
import unittest

from postern_harness import PosternTestCase
from test_imap_two_sessions import Session


def fetched_uids(lines):
    return sorted(int(u) for u in re.findall(rb"FETCH \(UID (\d+)\)", b"".join(lines)))


class ImapSearchres(PosternTestCase):

    def test_saved_result_is_used_and_follows_the_folder(self):
        t = self.start_tree()
        for i in range(1, 7):
            t.deliver_ids("alice", ["r%d" % i])               # UIDs 1..6 in order
        a = Session(t)
        self.addCleanup(a.close)
        self.assertIn(b" SEARCHRES", b"".join(a.ok("CAPABILITY")))
        a.ok("SELECT INBOX")
        self.assertEqual(fetched_uids(a.ok("FETCH $ (UID)")), [])      # nothing saved yet
        a.ok("STORE 2,4,5 +FLAGS.SILENT (\\Flagged)")
        out = a.ok("SEARCH RETURN (SAVE) FLAGGED")
        self.assertFalse([l for l in out if l.startswith(b"* ESEARCH") or l.startswith(b"* SEARCH")], out)
        self.assertEqual(fetched_uids(a.ok("FETCH $ (UID)")), [2, 4, 5])
        # "$" searched again, and UID commands on it.
        out = a.ok("UID SEARCH RETURN (ALL) $ UID 4:*")
        self.assertIn(b"ALL 4:5", b"".join(out))
        # With MIN and MAX only those two are saved (the ESEARCH still comes).
        out = a.ok("SEARCH RETURN (SAVE MIN MAX) FLAGGED")
        self.assertRegex(b"".join(out), rb"\* ESEARCH \(TAG \"t\d+\"\) MIN 2 MAX 5")
        self.assertEqual(fetched_uids(a.ok("UID FETCH $ (UID)")), [2, 5])
        # An expunged message leaves "$".
        a.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        a.ok("UID EXPUNGE 2")
        self.assertEqual(fetched_uids(a.ok("UID FETCH $ (UID)")), [5])
        # A failed SEARCH empties it.
        out = a.cmd("SEARCH RETURN (SAVE) CHARSET X-NONE-SUCH TEXT x")
        self.assertRegex(out[-1], rb"^t\d+ NO \[BADCHARSET")
        self.assertEqual(fetched_uids(a.ok("FETCH $ (UID)")), [])
        # A new SELECT starts with an empty "$".
        a.ok("SEARCH RETURN (SAVE) ALL")
        self.assertEqual(len(fetched_uids(a.ok("FETCH $ (UID)"))), 5)
        a.ok("SELECT INBOX")
        self.assertEqual(fetched_uids(a.ok("FETCH $ (UID)")), [])


if __name__ == "__main__":
    unittest.main()
