"""Two IMAP sessions on one folder (issue 10), beyond what test_imap_basic
checks (EXPUNGE and FETCH FLAGS at NOOP, a delivery and an expunge seen
in IDLE): another session's flag change seen in IDLE; message numbers
that stay put until the EXPUNGE is told (RFC 9051 7.5.1: none during
FETCH, STORE or SEARCH), then renumber; and a COPY naming a message
another session expunged, which must fail whole (RFC 9051 6.4.7: the
target as it was before) with [EXPUNGEISSUED] (RFC 5530), not copy the
rest and say [SERVERBUG].

Also a message expunged by another session (or its file removed by
another program) and not told yet: STORE gives it no FETCH and says
[EXPUNGEISSUED] (NO, or OK with .SILENT or once a UID STORE told the
EXPUNGE: RFC 2180 4.2), FETCH of its text says NO [EXPUNGEISSUED], the
next NOOP tells the EXPUNGE; and MOVE (RFC 6851 3.1), which moves
nothing when one message is gone, and keeps a message whose source
cannot be removed where it was, with no copy of it left behind."""

import imaplib
import os
import re
import socket
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, wait_for


class Session:
    """A raw IMAP session: each command's lines up to its tagged reply."""

    def __init__(self, t, user="alice"):
        self.s = socket.create_connection((HOST, t.port("imap")), timeout=30 * SCALE)
        self.f = self.s.makefile("rb")
        self.n = 0
        self.line()                                            # greeting
        self.ok("LOGIN %s %s" % (t.addr(user), t.passwords[user]))

    def line(self):
        l = self.f.readline()
        if not l:
            raise EOFError("server closed the connection")
        return l

    def cmd(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + b" "):
                return out

    def ok(self, text):
        out = self.cmd(text)
        assert re.match(rb"t\d+ OK", out[-1]), (text, out)
        return out[:-1]

    def close(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, EOFError):
            pass
        self.s.close()


def ids_by_uid(session):
    """{UID: X-Test-Id} of the selected folder."""
    out = {}
    data = b"".join(session.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Test-Id)])"))
    for uid, tid in re.findall(rb"UID (\d+) BODY\[HEADER\.FIELDS \(X-TEST-ID\)\] \{\d+\}\r\nX-Test-Id: (\S+)", data, re.I):
        out[int(uid)] = tid.decode()
    return out


class ImapTwoSessions(PosternTestCase):

    def setup_folder(self, t, ids):
        for i in ids:
            t.send(t.addr("alice"), i)
            t.wait_ids("alice", {i})                       # one at a time: UIDs in this order
        a, b = Session(t), Session(t)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.ok("SELECT INBOX")
        b.ok("SELECT INBOX")
        self.assertEqual(ids_by_uid(a), {n + 1: i for n, i in enumerate(ids)})
        return a, b

    def test_flag_change_of_another_session_reaches_idle(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["p1", "p2"])
        b.s.sendall(b"i IDLE\r\n")
        self.assertEqual(b.line()[:2], b"+ ")
        a.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Work)")
        before = []
        l = b.line()
        while b" FETCH " not in l:
            before.append(l)
            l = b.line()
        # The new keyword is announced first (RFC 9051 7.3.5), then the change.
        self.assertTrue(any(x.startswith(b"* FLAGS (") and b"$Work" in x for x in before), before)
        self.assertRegex(l, rb"^\* 2 FETCH \((UID 2 )?FLAGS \([^)]*\)\)\r\n$")
        self.assertEqual(sorted(re.search(rb"FLAGS \(([^)]*)\)", l).group(1).split()), [b"$Work", b"\\Flagged"])
        b.s.sendall(b"DONE\r\n")
        self.assertRegex(b.line(), rb"^i OK")

    def test_numbers_stay_until_the_expunge_is_told(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["n1", "n2", "n3"])
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        self.assertEqual(a.ok("EXPUNGE"), [b"* 1 EXPUNGE\r\n"])
        # b was not told: FETCH, STORE and SEARCH may not tell it, and
        # message 3 is still the third message (UID 3).
        out = b.ok("FETCH 3 (UID)")
        self.assertEqual(out, [b"* 3 FETCH (UID 3)\r\n"])
        out = b.ok("STORE 3 +FLAGS (\\Seen)")
        self.assertFalse([l for l in out if l.endswith(b"EXPUNGE\r\n")], out)
        self.assertTrue(any(l.startswith(b"* 3 FETCH (") and b"\\Seen" in l for l in out), out)
        out = b.ok("SEARCH SEEN")
        self.assertEqual([l for l in out if l.startswith(b"* SEARCH")], [b"* SEARCH 3\r\n"])
        self.assertFalse([l for l in out if l.endswith(b"EXPUNGE\r\n")], out)
        # NOOP tells it; then message 2 is UID 3.
        out = b.ok("NOOP")
        self.assertIn(b"* 1 EXPUNGE\r\n", out)
        self.assertEqual(b.ok("FETCH 2 (UID)"), [b"* 2 FETCH (UID 3)\r\n"])
        # And a saw b's \Seen on UID 3 (now its message 2).
        out = a.ok("NOOP")
        self.assertTrue(any(l.startswith(b"* 2 FETCH (") and b"\\Seen" in l for l in out), out)

    def test_copy_naming_an_expunged_message_fails_whole(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["x1", "x2", "x3"])
        a.ok("CREATE Dest")
        a.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        # b still sees three messages; the third is gone from the disk, so
        # the copies of the first two are taken back.
        out = b.cmd("COPY 1:3 Dest")
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\]")
        self.assertEqual(a.ok("STATUS Dest (MESSAGES)"), [b"* STATUS Dest (MESSAGES 0)\r\n"])
        dest = os.path.join(t.maildir("alice"), ".Dest")
        self.assertEqual(os.listdir(os.path.join(dest, "cur")) + os.listdir(os.path.join(dest, "new")), [])
        out = b.cmd("UID COPY 1:2 Dest")                    # UIDs that exist
        self.assertRegex(out[-1], rb"^t\d+ OK \[COPYUID \d+ ")
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        c.select("Dest", readonly=True)
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (X-Test-Id)])")
        self.assertEqual(sorted(d[1].strip() for d in data if isinstance(d, tuple)),
                         [b"X-Test-Id: x1", b"X-Test-Id: x2"])
        c.logout()
        self.assertNotIn("copy UID", t.log_text())            # not logged as a server failure

    def test_imap4rev2_session_is_never_told_recent(self):
        # RFC 9051 Appendix E: IMAP4rev2 has no \Recent.  FETCH FLAGS left
        # it out, but a STORE's FETCH and the FETCH of another session's
        # change showed it: a flag that came and went.
        t = self.start_tree()
        for i in ("v1", "v2"):
            t.deliver_ids("alice", [i])
        a, b = Session(t), Session(t)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.assertIn(b"* ENABLED IMAP4rev2\r\n", a.ok("ENABLE IMAP4rev2"))
        a.ok("SELECT INBOX")                               # claims \Recent for both
        b.ok("SELECT INBOX")
        self.assertEqual(a.ok("FETCH 1:2 (UID FLAGS)"),
                         [b"* 1 FETCH (UID 1 FLAGS ())\r\n", b"* 2 FETCH (UID 2 FLAGS ())\r\n"])
        self.assertEqual(a.ok("STORE 1 +FLAGS (\\Flagged)"), [b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n"])
        b.ok("STORE 2 +FLAGS.SILENT (\\Answered)")
        self.assertEqual(a.ok("NOOP"), [b"* 2 FETCH (UID 2 FLAGS (\\Answered))\r\n"])
        # An IMAP4rev1 session still has it.
        c = Session(t)
        self.addCleanup(c.close)
        t.deliver_ids("alice", ["v3"])
        c.ok("SELECT INBOX")
        self.assertEqual(c.ok("STORE 3 +FLAGS (\\Seen)"), [b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"])

    def test_silent_store_and_seen_fetch_tell_another_sessions_change(self):
        # A change is made to the flags as stored, and the session's view
        # takes them: another session's change it was not told yet must be
        # told then (RFC 9051 6.4.6: .SILENT or not, a change from an
        # external source is sent), else the client never learns it.
        t = self.start_tree()
        a, b = self.setup_folder(t, ["w1", "w2"])
        b.ok("FETCH 1:2 (FLAGS)")
        a.ok("STORE 1:2 +FLAGS.SILENT (\\Flagged)")
        out = b.ok("STORE 1 +FLAGS.SILENT ($Work)")
        self.assertEqual([l for l in out if b" FETCH " in l], [b"* 1 FETCH (UID 1 FLAGS (\\Flagged $Work))\r\n"])
        # Setting \Seen by FETCH BODY[] shows the flags as stored.
        out = b.ok("FETCH 2 (BODY[])")
        self.assertRegex(out[0], rb"^\* 2 FETCH \(FLAGS \(\\Flagged \\Seen\) BODY\[\] \{\d+\}\r\n$")
        out = b.ok("NOOP")                                  # nothing left untold
        self.assertEqual([l for l in out if b" FETCH " in l], [], out)
        # What the client was told is what the server has.
        self.assertEqual(b.ok("FETCH 1:2 (FLAGS)"), [b"* 1 FETCH (FLAGS (\\Flagged $Work))\r\n",
                                                     b"* 2 FETCH (FLAGS (\\Flagged \\Seen))\r\n"])
        # Without another session's change, .SILENT stays silent.
        self.assertEqual(b.ok("STORE 1 -FLAGS.SILENT ($Work)"), [])

    def test_expunge_goes_by_the_deleted_flag_as_stored(self):
        # RFC 9051 6.4.3: EXPUNGE removes the messages that have \Deleted
        # -- as they are, not as the session last saw them: one another
        # session marked is removed, one it unmarked stays.
        t = self.start_tree()
        a, b = self.setup_folder(t, ["e1", "e2", "e3"])
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")          # b's view: 2 is \Deleted
        a.ok("STORE 2 -FLAGS.SILENT (\\Deleted)")          # undeleted again
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")          # b not told yet
        out = b.ok("EXPUNGE")
        self.assertIn(b"* 1 EXPUNGE\r\n", out)
        self.assertEqual([l for l in out if l.endswith(b"EXPUNGE\r\n")], [b"* 1 EXPUNGE\r\n"], out)
        self.assertEqual(ids_by_uid(a), {2: "e2", 3: "e3"})
        self.assertEqual(b.ok("FETCH 1:* (UID FLAGS)"), [b"* 1 FETCH (UID 2 FLAGS ())\r\n",
                                                        b"* 2 FETCH (UID 3 FLAGS ())\r\n"])
        # CLOSE too (it tells nothing).
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")          # UID 2
        a.ok("NOOP")
        a.ok("STORE 1 -FLAGS.SILENT (\\Deleted)")
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")          # UID 3
        self.assertEqual(b.ok("CLOSE"), [])
        self.assertEqual(ids_by_uid(a), {2: "e2"})

    # ---- STORE and FETCH naming a message gone from the disk ----

    def expunge_in_a(self, a, seq):
        a.ok("STORE %d +FLAGS.SILENT (\\Deleted)" % seq)
        self.assertEqual(a.ok("EXPUNGE"), [b"* %d EXPUNGE\r\n" % seq])

    def test_store_naming_an_expunged_message_says_expungeissued(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["s1", "s2", "s3"])
        b.ok("STORE 2 +FLAGS.SILENT (\\Seen)")          # b's view: 2 is \Seen
        self.expunge_in_a(a, 2)
        # RFC 2180 4.2.3: the others get their flags and a FETCH each, the
        # gone one gets neither, and the tagged reply is NO [EXPUNGEISSUED];
        # no EXPUNGE during STORE (RFC 9051 7.5.1).
        out = b.cmd("STORE 1:3 +FLAGS (\\Flagged)")
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\] ")
        self.assertEqual([l[:9] for l in out[:-1]], [b"* 1 FETCH", b"* 3 FETCH"], out)
        # Already \Seen in b's view: nothing to rename, yet the message is
        # gone and must not be answered as if it were there (RFC 2180 4.2.2).
        out = b.cmd("STORE 2 +FLAGS (\\Seen)")
        self.assertEqual(len(out), 1, out)
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\] ")
        # .SILENT: OK, with the code (RFC 2180 4.2.1).
        out = b.cmd("STORE 1:3 +FLAGS.SILENT (\\Answered)")
        self.assertEqual(len(out), 1, out)
        self.assertRegex(out[-1], rb"^t\d+ OK \[EXPUNGEISSUED\] ")
        # The session goes on; the next command that may tell it does.
        out = b.ok("NOOP")
        self.assertIn(b"* 2 EXPUNGE\r\n", out)
        out = b.ok("FETCH 1:* (UID FLAGS)")
        self.assertEqual(len(out), 2, out)
        for l, uid in zip(out, (1, 3)):
            self.assertRegex(l, rb"^\* \d FETCH \(UID %d FLAGS \(" % uid)
            self.assertEqual(sorted(re.search(rb"FLAGS \(([^)]*)\)", l).group(1).split()),
                             [b"\\Answered", b"\\Flagged"])
        self.assertEqual(sorted(ids_by_uid(a).values()), ["s1", "s3"])   # nothing lost
        self.assertNotIn("UID 2", t.log_text())             # an expunge is no server failure

    def test_uid_store_naming_an_expunged_message_tells_the_expunge(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["u1", "u2", "u3"])
        self.expunge_in_a(a, 2)
        # UID STORE may tell the EXPUNGE (RFC 9051 7.5.1); once told, UID 2
        # no longer exists, which is no error (RFC 9051 6.4.9).
        out = b.cmd("UID STORE 1:3 +FLAGS (\\Flagged)")
        self.assertEqual([l for l in out if b" FETCH " in l],
                         [b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n", b"* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\n"])
        self.assertIn(b"* 2 EXPUNGE\r\n", out)
        self.assertLess(out.index(b"* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\n"), out.index(b"* 2 EXPUNGE\r\n"))
        self.assertRegex(out[-1], rb"^t\d+ OK \[EXPUNGEISSUED\] ")
        self.assertEqual(b.ok("FETCH 1:* (UID)"), [b"* 1 FETCH (UID 1)\r\n", b"* 2 FETCH (UID 3)\r\n"])

    def test_store_on_a_file_another_program_removed(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["r1", "r2"])
        cur = os.path.join(t.maildir("alice"), "cur")
        gone = [n for n in os.listdir(cur) if n.startswith(self.base_of(t, a, 2))]
        self.assertEqual(len(gone), 1, os.listdir(cur))
        os.unlink(os.path.join(cur, gone[0]))              # a mail client working on the Maildir
        out = b.cmd("STORE 2 +FLAGS (\\Flagged)")
        self.assertEqual(len(out), 1, out)
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\] ")
        out = b.cmd("STORE 1 +FLAGS (\\Flagged)")
        self.assertRegex(out[-1], rb"^t\d+ OK ")
        # The store decides "gone" once the directories settled: a later
        # NOOP tells it, and the session goes on.
        wait_for(lambda: b"* 2 EXPUNGE\r\n" in b.ok("NOOP"), 15, "the EXPUNGE of the removed file")
        self.assertEqual(b.ok("FETCH 1:* (UID FLAGS)"), [b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n"])

    def base_of(self, t, session, uid):
        """The Maildir base name of UID uid (the store's dovecot-uidlist)."""
        with open(os.path.join(t.maildir("alice"), "dovecot-uidlist")) as f:
            for line in f.read().splitlines()[1:]:
                u, _, rest = line.partition(" ")
                if int(u) == uid:
                    return rest.split(":", 1)[1]
        self.fail("UID %d not in dovecot-uidlist" % uid)

    def test_fetch_of_a_body_whose_file_is_gone(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["f1", "f2", "f3"])
        self.expunge_in_a(a, 2)
        out = b.cmd("FETCH 2 (BODY[])")
        self.assertEqual(len(out), 1, out)
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\] ")
        out = b.cmd("FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (X-Test-Id)])")
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\] ")
        data = b"".join(out)
        self.assertEqual(re.findall(rb"X-Test-Id: (\S+)", data), [b"f1", b"f3"])
        self.assertFalse([l for l in out if l.endswith(b"EXPUNGE\r\n")], out)
        # What the view knows without the file is still answered (RFC 2180 4.1).
        self.assertEqual(b.ok("FETCH 2 (UID)"), [b"* 2 FETCH (UID 2)\r\n"])
        self.assertIn(b"* 2 EXPUNGE\r\n", b.ok("NOOP"))
        self.assertEqual(b.ok("FETCH 1:* (UID)"), [b"* 1 FETCH (UID 1)\r\n", b"* 2 FETCH (UID 3)\r\n"])

    def test_uid_fetch_of_an_expunged_message_tells_the_expunge(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["g1", "g2"])
        self.expunge_in_a(a, 2)
        out = b.cmd("UID FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (X-Test-Id)])")
        self.assertEqual(re.findall(rb"X-Test-Id: (\S+)", b"".join(out)), [b"g1"])
        self.assertIn(b"* 2 EXPUNGE\r\n", out)
        # Told in this reply: UID 2 no longer exists, no error (RFC 9051 6.4.9).
        self.assertRegex(out[-1], rb"^t\d+ OK \[EXPUNGEISSUED\] ")
        self.assertEqual(b.ok("FETCH 1:* (UID)"), [b"* 1 FETCH (UID 1)\r\n"])

    # ---- MOVE: every message moved, or none ----

    def test_move_naming_an_expunged_message_moves_nothing(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["m1", "m2", "m3"])
        a.ok("CREATE Dest")
        self.expunge_in_a(a, 3)
        out = b.cmd("MOVE 1:3 Dest")
        self.assertRegex(out[-1], rb"^t\d+ NO \[EXPUNGEISSUED\]")
        self.assertFalse([l for l in out if b"COPYUID" in l], out)
        self.assertEqual([l for l in out if l.endswith(b"EXPUNGE\r\n")], [b"* 3 EXPUNGE\r\n"])
        self.assertEqual(a.ok("STATUS Dest (MESSAGES)"), [b"* STATUS Dest (MESSAGES 0)\r\n"])
        dest = os.path.join(t.maildir("alice"), ".Dest")
        self.assertEqual(os.listdir(os.path.join(dest, "cur")) + os.listdir(os.path.join(dest, "new")), [])
        self.assertEqual(ids_by_uid(b), {1: "m1", 2: "m2"})
        out = b.cmd("MOVE 1:2 Dest")                        # now they all exist
        self.assertRegex(out[-1], rb"^t\d+ OK ")
        self.assertIn(b"* OK [COPYUID ", b"".join(out))
        self.assertEqual(ids_by_uid(b), {})

    def test_move_whose_sources_cannot_be_removed_leaves_them_and_no_copies(self):
        t = self.start_tree()
        a, b = self.setup_folder(t, ["w1", "w2"])
        a.ok("CREATE Dest")
        cur = os.path.join(t.maildir("alice"), "cur")
        mode = os.stat(cur).st_mode & 0o7777
        os.chmod(cur, 0o555)                                 # the copies can be made, the sources not removed
        self.addCleanup(os.chmod, cur, mode)
        before = t.log_text()
        out = b.cmd("MOVE 1:2 Dest")
        self.assertRegex(out[-1], rb"^t\d+ NO \[SERVERBUG\] ")
        self.assertFalse([l for l in out if b"COPYUID" in l or l.endswith(b"EXPUNGE\r\n")], out)
        # Every message where it was, none in Dest: no loss, no duplicate.
        self.assertEqual(a.ok("STATUS Dest (MESSAGES)"), [b"* STATUS Dest (MESSAGES 0)\r\n"])
        dest = os.path.join(t.maildir("alice"), ".Dest")
        self.assertEqual(os.listdir(os.path.join(dest, "cur")) + os.listdir(os.path.join(dest, "new")), [])
        self.assertEqual(ids_by_uid(b), {1: "w1", 2: "w2"})
        self.assertRegex(t.log_text()[len(before):], r"cannot move UID 1 to .*Permission denied")   # said why
        os.chmod(cur, mode)
        out = b.cmd("MOVE 1:2 Dest")
        self.assertRegex(out[-1], rb"^t\d+ OK ")
        self.assertEqual(ids_by_uid(b), {})
        c = Session(t)
        self.addCleanup(c.close)
        c.ok("EXAMINE Dest")
        self.assertEqual(sorted(ids_by_uid(c).values()), ["w1", "w2"])

    def test_move_keeps_a_message_whose_source_cannot_be_removed(self):
        if os.geteuid() != 0:
            self.skipTest("needs a file of another user than the session's")
        t = self.start_tree()
        a, b = self.setup_folder(t, ["k1", "k2"])
        a.ok("CREATE Dest")
        cur = os.path.join(t.maildir("alice"), "cur")
        st = os.stat(cur)
        keep = [n for n in os.listdir(cur) if n.startswith(self.base_of(t, a, 2))]
        self.assertEqual(len(keep), 1, os.listdir(cur))
        # Message 2's file is root's in a sticky cur/ that is not the
        # session's: it can be linked (mode 0666) but not removed.
        os.chown(os.path.join(cur, keep[0]), 0, 0)
        os.chmod(os.path.join(cur, keep[0]), 0o666)
        os.chown(cur, 0, 0)
        os.chmod(cur, 0o1777)
        self.addCleanup(os.chmod, cur, st.st_mode & 0o7777)
        self.addCleanup(os.chown, cur, st.st_uid, st.st_gid)
        out = b.cmd("MOVE 1:2 Dest")
        # Message 1 moved (COPYUID, EXPUNGE); message 2 stays, no copy of
        # it in Dest (RFC 6851 3.1: moved or unaffected, never in both).
        self.assertRegex(out[0], rb"^\* OK \[COPYUID \d+ 1 1\] ")
        self.assertEqual(out[1:-1], [b"* 1 EXPUNGE\r\n"])
        self.assertRegex(out[-1], rb"^t\d+ NO \[SERVERBUG\] ")
        self.assertEqual(ids_by_uid(b), {2: "k2"})
        dest = os.path.join(t.maildir("alice"), ".Dest")
        self.assertEqual(len(os.listdir(os.path.join(dest, "cur"))), 1)
        c = Session(t)
        self.addCleanup(c.close)
        c.ok("EXAMINE Dest")
        self.assertEqual(ids_by_uid(c), {1: "k1"})
        self.assertIn("cannot move UID 2 to", t.log_text())

if __name__ == "__main__":
    unittest.main()
