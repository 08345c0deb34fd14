"""CONDSTORE and QRESYNC (RFC 7162, issue 11), over the raw protocol:
MODSEQ in FETCH, CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE with
[MODIFIED] when another session changed a message in between (also when
another message was expunged meanwhile), and a
client that was away resynchronising with SELECT (QRESYNC ...): only the
expunged UIDs (VANISHED (EARLIER)) and the changed messages come back,
and expunges reach a QRESYNC session as VANISHED, not EXPUNGE."""

import re
import unittest

from postern_harness import PosternTestCase
from test_imap_two_sessions import Session


def modseqs(lines):
    """{UID: MODSEQ} of the FETCH lines."""
    out = {}
    for l in lines:
        m = re.search(rb"FETCH \(.*UID (\d+).*MODSEQ \((\d+)\)", l)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def code(lines, name):
    """The number of response code [NAME n] in lines."""
    for l in lines:
        m = re.search(rb"\[" + name.encode() + rb" (\d+)\]", l)
        if m:
            return int(m.group(1))
    raise AssertionError("no [%s] in %r" % (name, lines))


class ImapCondstore(PosternTestCase):

    def setup_folder(self, t, n):
        ids = ["m%d" % i for i in range(1, n + 1)]
        for i in ids:
            t.deliver_ids("alice", [i])                   # one at a time: UIDs in this order

    def session(self, t):
        s = Session(t)
        self.addCleanup(s.close)
        return s

    def test_modseq_changedsince_search_and_unchangedsince(self):
        t = self.start_tree()
        self.setup_folder(t, 3)
        a, b = self.session(t), self.session(t)
        self.assertIn(b"* ENABLED CONDSTORE\r\n", a.ok("ENABLE CONDSTORE"))
        sel = a.ok("SELECT INBOX")
        h0 = code(sel, "HIGHESTMODSEQ")
        self.assertGreater(h0, 0)
        first = modseqs(a.ok("UID FETCH 1:* (MODSEQ)"))
        self.assertEqual(sorted(first), [1, 2, 3])
        self.assertEqual(max(first.values()), h0)

        out = a.ok("STORE 1 +FLAGS (\\Flagged)")
        m1 = modseqs(out)[1]
        self.assertGreater(m1, h0)
        # Only what changed since h0; MODSEQ comes without being asked.
        changed = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0)
        self.assertEqual(modseqs(changed), {1: m1}, changed)
        found = a.ok("SEARCH MODSEQ %d" % (h0 + 1))
        self.assertIn(b"* SEARCH 1 (MODSEQ %d)\r\n" % m1, found)

        # Another session changes message 2: a conditional store on 1:3
        # made against the old MODSEQ changes 1 and 3 only.
        b.ok("SELECT INBOX")
        b.ok("STORE 2 +FLAGS (\\Answered)")
        out = a.cmd("STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Seen)" % m1)
        self.assertRegex(out[-1], rb"^t\d+ OK \[MODIFIED 2\]")
        self.assertEqual(sorted(modseqs(out)), [1, 3], out)   # silent, but the new MODSEQs come
        b.ok("NOOP")                                          # b's view catches up
        flags = b"".join(b.ok("FETCH 1:3 (FLAGS)"))
        self.assertRegex(flags, rb"\* 1 FETCH \(FLAGS \([^)]*\\Seen")
        self.assertNotRegex(flags, rb"\* 2 FETCH \(FLAGS \([^)]*\\Seen")
        self.assertRegex(flags, rb"\* 3 FETCH \(FLAGS \([^)]*\\Seen")
        # UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3).
        out = a.cmd("UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
        self.assertRegex(out[-1], rb"^t\d+ OK \[MODIFIED 1:3\]")
        # STATUS HIGHESTMODSEQ agrees with the last change.
        st = b"".join(b.ok("STATUS INBOX (HIGHESTMODSEQ)"))
        self.assertEqual(int(re.search(rb"HIGHESTMODSEQ (\d+)", st).group(1)),
                         max(modseqs(a.ok("UID FETCH 1:* (MODSEQ)")).values()))

    def test_enabling_by_a_command_tells_highestmodseq_once(self):
        t = self.start_tree()
        self.setup_folder(t, 1)
        a = self.session(t)
        a.ok("SELECT INBOX")
        plain = a.ok("FETCH 1 (FLAGS)")
        self.assertNotIn(b"MODSEQ", b"".join(plain))
        first = a.ok("FETCH 1 (MODSEQ)")                      # enables CONDSTORE
        self.assertTrue(any(l.startswith(b"* OK [HIGHESTMODSEQ ") for l in first), first)
        # From now on flag changes carry UID and MODSEQ, unasked.
        out = a.ok("STORE 1 +FLAGS (\\Flagged)")
        self.assertRegex(b"".join(out), rb"\* 1 FETCH \(UID 1 FLAGS \([^)]*\) MODSEQ \(\d+\)\)")
        again = a.ok("FETCH 1 (MODSEQ)")
        self.assertFalse(any(b"HIGHESTMODSEQ" in l for l in again), again)

    def test_qresync_resync_and_vanished(self):
        t = self.start_tree()
        self.setup_folder(t, 5)
        a = self.session(t)
        out = a.cmd("SELECT INBOX (QRESYNC (1 1))")            # QRESYNC not enabled yet
        self.assertRegex(out[-1], rb"^t\d+ BAD")
        a.ok("ENABLE QRESYNC")
        sel = a.ok("SELECT INBOX")
        uv, h = code(sel, "UIDVALIDITY"), code(sel, "HIGHESTMODSEQ")

        # While the first client is away: 2 and 4 expunged, 3 flagged.
        b = self.session(t)
        b.ok("SELECT INBOX")
        b.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        b.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
        b.ok("UID EXPUNGE 2,4")

        c = self.session(t)
        c.ok("ENABLE QRESYNC")
        out = c.ok("SELECT INBOX (QRESYNC (%d %d 1:5))" % (uv, h))
        self.assertIn(b"* VANISHED (EARLIER) 2,4\r\n", out)
        self.assertEqual(sorted(modseqs(out)), [3], out)      # only the changed message
        self.assertRegex(b"".join(out), rb"FETCH \(UID 3 FLAGS \([^)]*\\Flagged")
        # Known UIDs cut the answer; another UIDVALIDITY gets none.
        out = c.ok("EXAMINE INBOX (QRESYNC (%d %d 3:5))" % (uv, h))
        self.assertIn(b"* OK [CLOSED] Previous mailbox closed\r\n", out)
        self.assertIn(b"* VANISHED (EARLIER) 4\r\n", out)
        out = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, h))
        self.assertFalse([l for l in out if b"VANISHED" in l or b"FETCH" in l], out)

        # An expunge by another session reaches c as VANISHED.
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        noop = c.ok("NOOP")
        self.assertIn(b"* VANISHED 1\r\n", noop)
        self.assertFalse([l for l in noop if l.endswith(b"EXPUNGE\r\n")], noop)
        # UID FETCH ... VANISHED: the expunged UIDs of the set, then the changes.
        out = c.ok("UID FETCH 1:5 (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
        self.assertIn(b"* VANISHED (EARLIER) 1:2,4\r\n", out)
        self.assertEqual(sorted(modseqs(out)), [3], out)
        # VANISHED without QRESYNC is a BAD.
        out = b.cmd("UID FETCH 1:5 (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        self.assertRegex(out[-1], rb"^t\d+ BAD")

    def test_conditional_store_names_modified_when_another_message_was_expunged(self):
        # Found by the model checker (imap_model_qresync): a conditional
        # STORE that met both a message changed since n and one expunged
        # meanwhile answered [EXPUNGEISSUED] alone, so the client took its
        # change of the modified message as made.  [MODIFIED] wins: the
        # expunge reaches the client at its next sync anyway.
        t = self.start_tree()
        self.setup_folder(t, 6)
        a, b = self.session(t), self.session(t)
        a.ok("ENABLE CONDSTORE")
        a.ok("SELECT INBOX")
        n = max(modseqs(a.ok("UID FETCH 1:* (MODSEQ)")).values())
        b.ok("SELECT INBOX")
        b.ok("STORE 2,5 +FLAGS (\\Answered)")                   # changed since n
        b.ok("STORE 3,6 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")                                         # 3 and 6 gone, a not told yet

        # STORE by number: no EXPUNGE may come; 4 is changed, 5 is named.
        out = a.cmd("STORE 4:6 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % n)
        self.assertRegex(out[-1], rb"^t\d+ OK \[MODIFIED 5\]")
        self.assertFalse([l for l in out if l.endswith(b"EXPUNGE\r\n")], out)
        self.assertRegex(b"".join(out), rb"\* 4 FETCH \(UID 4 FLAGS \([^)]*\\Seen")
        # UID STORE: the EXPUNGEs come (a UID command may tell them), 1
        # is changed, 2 is named.
        out = a.cmd("UID STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % n)
        self.assertRegex(out[-1], rb"^t\d+ OK \[MODIFIED 2\]")
        self.assertIn(b"* 3 EXPUNGE\r\n", out)
        self.assertRegex(b"".join(out), rb"\* 1 FETCH \(UID 1 FLAGS \([^)]*\\Seen")
        # Neither modified message got \Seen.
        flags = b"".join(a.ok("UID FETCH 1:* (FLAGS)"))
        self.assertNotRegex(flags, rb"UID 2 FLAGS \([^)]*\\Seen")
        self.assertNotRegex(flags, rb"UID 5 FLAGS \([^)]*\\Seen")


if __name__ == "__main__":
    unittest.main()
