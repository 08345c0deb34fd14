"""Scripted checks of RFC 9051's examples and rules that other IMAP tests
do not already cover (issue 11): the whole SELECT and EXAMINE replies of
an IMAP4rev2 session (6.3.2, 6.3.3), the EXPUNGE example's numbering
(6.4.3), the FETCH macros ALL, FAST and FULL (6.4.5), the STORE example
and its variants (6.4.6), the UID command rules (6.4.9: "n:*" past the
last UID names the last message, a UID that does not exist is no
error), a sequence number above EXISTS (BAD), COPY to a mailbox that
does not exist ([TRYCREATE], 6.4.7), CLOSE of an EXAMINEd mailbox and
UNSELECT removing nothing (6.4.1, 6.4.2), and the IMAP4rev2 SEARCH
examples answered with ESEARCH (6.4.4).  The responses are parsed with
tests/integration/imap_model.py's parser."""

import re

from imap_model import Response, fetch_items
from postern_harness import PosternTestCase
from test_imap_two_sessions import Session


def parsed(lines):
    return [Response(l) for l in lines]


def without_uid(lines):
    """FETCH responses without their UID item, which a server may add."""
    return [re.sub(rb"^(\* \d+ FETCH \()UID \d+ ", rb"\1", l) for l in lines]


class ImapRfcExamples(PosternTestCase):

    def fill(self, t, n, flagged=()):
        """n messages in alice's INBOX, UIDs 1..n in order, placed as
        another program would (faster than SMTP for eleven)."""
        for i in range(1, n + 1):
            body = b"X-Test-Id: r%d\r\nFrom: Smith <smith@example.org>\r\nSubject: m%d\r\n" % (i, i)
            body += b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nbody of message %d\r\n" % i
            t.place_message("alice", "%d.M%dP1.example" % (1700000000 + i, i), body)

    def session(self, t, rev2=True):
        s = Session(t)
        self.addCleanup(s.close)
        if rev2:
            self.assertEqual(s.ok("ENABLE IMAP4rev2"), [b"* ENABLED IMAP4rev2\r\n"])
        return s

    def test_select_and_examine_replies(self):
        t = self.start_tree()
        self.fill(t, 3)
        s = self.session(t)
        out = s.cmd("SELECT INBOX")
        self.assertRegex(out[-1], rb"^t\d+ OK \[READ-WRITE\] ")
        got = {}
        for r in parsed(out[:-1]):
            key = r.code_name() if r.status else r.name
            got.setdefault(key, []).append(r)
        # RFC 9051 6.3.2: EXISTS, FLAGS, PERMANENTFLAGS, UIDVALIDITY,
        # UIDNEXT and (IMAP4rev2) the mailbox's LIST; no RECENT, no UNSEEN.
        self.assertEqual([r.num for r in got["EXISTS"]], [3])
        self.assertEqual(got["FLAGS"][0].items[0],
                         ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"])
        self.assertIn("\\*", got["PERMANENTFLAGS"][0].code)
        self.assertRegex(got["UIDVALIDITY"][0].code, r"^UIDVALIDITY [1-9]\d*$")
        self.assertEqual(got["UIDNEXT"][0].code, "UIDNEXT 4")
        self.assertEqual(got["LIST"][0].items, [[], b".", b"INBOX"])
        self.assertNotIn("RECENT", got)
        self.assertNotIn("UNSEEN", got)
        # 6.3.3: EXAMINE is read-only, no permanent flags.
        out = s.cmd("EXAMINE INBOX")
        self.assertRegex(out[-1], rb"^t\d+ OK \[READ-ONLY\] ")
        self.assertIn(b"* OK [CLOSED] Previous mailbox closed\r\n", out)    # 7.1
        self.assertTrue(any(l.startswith(b"* OK [PERMANENTFLAGS ()]") for l in out), out)
        self.assertRegex(s.cmd("STORE 1 +FLAGS (\\Seen)")[-1], rb"^t\d+ NO ")

    def test_expunge_example_numbers_each_message_as_it_is_then(self):
        # RFC 9051 6.4.3: with messages 3, 4, 7 and 11 \Deleted, EXPUNGE
        # answers 3, 3, 5, 8: each number counts the expunges before it.
        t = self.start_tree()
        self.fill(t, 11)
        s = self.session(t)
        s.ok("SELECT INBOX")
        self.assertEqual(len(s.ok("STORE 3:4,7,11 +FLAGS.SILENT (\\Deleted)")), 0)
        self.assertEqual(s.ok("EXPUNGE"), [b"* 3 EXPUNGE\r\n", b"* 3 EXPUNGE\r\n", b"* 5 EXPUNGE\r\n",
                                           b"* 8 EXPUNGE\r\n"])
        self.assertEqual(s.ok("UID SEARCH ALL"), [b"* ESEARCH (TAG \"t%d\") UID ALL 1:2,5:6,8:10\r\n" % s.n])

    def test_fetch_macros(self):
        # RFC 9051 6.4.5: ALL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE,
        # FAST = FLAGS INTERNALDATE RFC822.SIZE, FULL = ALL and BODY.
        t = self.start_tree()
        self.fill(t, 1)
        s = self.session(t)
        s.ok("SELECT INBOX")
        want = {"ALL": {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"},
                "FAST": {"FLAGS", "INTERNALDATE", "RFC822.SIZE"},
                "FULL": {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}}
        for macro, items in want.items():
            out = s.ok("FETCH 1 %s" % macro)
            self.assertEqual(len(out), 1, out)
            self.assertEqual(set(fetch_items(Response(out[0]))), items, macro)
        # The macro sets no \Seen, and "UID FETCH" adds UID.
        out = s.ok("UID FETCH 1 FAST")
        self.assertEqual(set(fetch_items(Response(out[0]))), want["FAST"] | {"UID"})
        self.assertEqual(s.ok("FETCH 1 (FLAGS)"), [b"* 1 FETCH (FLAGS ())\r\n"])

    def test_store_example_and_its_variants(self):
        # RFC 9051 6.4.6 (the example: STORE 2:4 +FLAGS (\Deleted) answers
        # each message's whole flags), -FLAGS, FLAGS and .SILENT.
        t = self.start_tree()
        self.fill(t, 4)
        s = self.session(t)
        s.ok("SELECT INBOX")
        s.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
        s.ok("STORE 4 +FLAGS.SILENT (\\Flagged \\Seen)")
        self.assertEqual(without_uid(s.ok("STORE 2:4 +FLAGS (\\Deleted)")),
                         [b"* 2 FETCH (FLAGS (\\Deleted \\Seen))\r\n", b"* 3 FETCH (FLAGS (\\Deleted))\r\n",
                          b"* 4 FETCH (FLAGS (\\Flagged \\Deleted \\Seen))\r\n"])
        self.assertEqual(without_uid(s.ok("STORE 4 -FLAGS (\\Deleted \\Flagged)")), [b"* 4 FETCH (FLAGS (\\Seen))\r\n"])
        self.assertEqual(without_uid(s.ok("STORE 3 FLAGS (\\Answered $Label)")), [b"* 3 FETCH (FLAGS (\\Answered $Label))\r\n"])
        self.assertEqual(s.ok("STORE 1:4 FLAGS.SILENT ()"), [])
        self.assertEqual(s.ok("FETCH 1:4 (FLAGS)"), [b"* %d FETCH (FLAGS ())\r\n" % i for i in range(1, 5)])
        # A keyword never stored anywhere, removed: no error.
        self.assertEqual(without_uid(s.ok("STORE 1 -FLAGS ($NeverSeen)")), [b"* 1 FETCH (FLAGS ())\r\n"])

    def test_uid_commands_rules(self):
        # RFC 9051 6.4.9: "559:*" includes the last message even when 559
        # is above every UID; a UID that does not exist is ignored without
        # an error (UID FETCH, STORE, COPY and MOVE answer OK, do nothing).
        t = self.start_tree()
        self.fill(t, 3)
        s = self.session(t)
        s.ok("CREATE Dest")
        s.ok("SELECT INBOX")
        self.assertEqual(s.ok("UID FETCH 559:* (FLAGS)"), [b"* 3 FETCH (UID 3 FLAGS ())\r\n"])
        self.assertEqual(s.ok("UID FETCH *:559 (FLAGS)"), [b"* 3 FETCH (UID 3 FLAGS ())\r\n"])
        self.assertEqual(s.ok("UID FETCH 4:10 (FLAGS)"), [])
        self.assertEqual(s.ok("UID STORE 7 +FLAGS (\\Seen)"), [])
        out = s.cmd("UID COPY 7:9 Dest")
        self.assertRegex(out[-1], rb"^t\d+ OK ")
        self.assertNotIn(b"COPYUID", out[-1])              # RFC 4315 3: nothing copied, no COPYUID
        out = s.cmd("UID MOVE 7 Dest")
        self.assertEqual(len(out), 1, out)
        self.assertRegex(out[-1], rb"^t\d+ OK ")
        self.assertEqual(s.ok("STATUS Dest (MESSAGES)"), [b"* STATUS Dest (MESSAGES 0)\r\n"])
        # A sequence number above EXISTS is an error, not "nothing".
        self.assertRegex(s.cmd("FETCH 4 (FLAGS)")[-1], rb"^t\d+ BAD ")
        self.assertRegex(s.cmd("STORE 2:4 +FLAGS (\\Seen)")[-1], rb"^t\d+ BAD ")
        self.assertEqual(s.ok("FETCH 2:* (UID)"), [b"* 2 FETCH (UID 2)\r\n", b"* 3 FETCH (UID 3)\r\n"])

    def test_copy_to_a_missing_mailbox_says_trycreate(self):
        # RFC 9051 6.4.7 (and 6.4.8 for MOVE): NO [TRYCREATE], nothing done.
        t = self.start_tree()
        self.fill(t, 2)
        s = self.session(t)
        s.ok("SELECT INBOX")
        for cmd in ("COPY 1 Nowhere", "UID MOVE 1:2 Nowhere"):
            out = s.cmd(cmd)
            self.assertEqual(len(out), 1, out)
            self.assertRegex(out[-1], rb"^t\d+ NO \[TRYCREATE\] ")
        self.assertEqual(s.ok("FETCH 1:* (UID)"), [b"* 1 FETCH (UID 1)\r\n", b"* 2 FETCH (UID 2)\r\n"])

    def test_close_of_examine_and_unselect_remove_nothing(self):
        # RFC 9051 6.4.1: CLOSE after EXAMINE removes nothing; 6.4.2:
        # UNSELECT never does.  CLOSE after SELECT does, silently.
        t = self.start_tree()
        self.fill(t, 3)
        s = self.session(t)
        s.ok("SELECT INBOX")
        s.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
        self.assertEqual(s.ok("UNSELECT"), [])
        s.ok("EXAMINE INBOX")
        self.assertEqual(s.ok("CLOSE"), [])
        self.assertEqual(t.count("alice"), 3)
        s.ok("SELECT INBOX")
        self.assertEqual(s.ok("CLOSE"), [])
        self.assertEqual(t.count("alice"), 0)
        self.assertRegex(s.cmd("FETCH 1 (FLAGS)")[-1], rb"^t\d+ BAD ")   # no mailbox selected

    def test_search_examples_answer_esearch(self):
        # RFC 9051 6.4.4's examples, in an IMAP4rev2 session: RETURN (MIN
        # COUNT), RETURN () = ALL, and no match = an ESEARCH with the tag
        # only.
        t = self.start_tree()
        self.fill(t, 11)
        s = self.session(t)
        s.ok("SELECT INBOX")
        s.ok("STORE 2,10:11 +FLAGS.SILENT (\\Flagged)")
        tag = lambda: b"t%d" % (s.n + 1)
        q = 'FLAGGED SINCE 1-Feb-1994 NOT FROM "Jones"'
        want = b'* ESEARCH (TAG "%s") MIN 2 COUNT 3\r\n' % tag()
        self.assertEqual(s.ok("SEARCH RETURN (MIN COUNT) %s" % q), [want])
        want = b'* ESEARCH (TAG "%s") ALL 2,10:11\r\n' % tag()
        self.assertEqual(s.ok("SEARCH RETURN () %s" % q), [want])
        want = b'* ESEARCH (TAG "%s")\r\n' % tag()
        self.assertEqual(s.ok('SEARCH TEXT "string not in mailbox"'), [want])
        want = b'* ESEARCH (TAG "%s") UID ALL 2,10:11\r\n' % tag()
        self.assertEqual(s.ok("UID SEARCH %s" % q), [want])


if __name__ == "__main__":
    import unittest
    unittest.main()
