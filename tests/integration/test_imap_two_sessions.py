"""Two IMAP sessions on one folder (issue 10), beyond what test_imap_basic
checks (EXPUNGE and FETCH FLAGS at NOOP, a delivery and an expunge seen
in IDLE): another session's flag change seen in IDLE; message numbers
that stay put until the EXPUNGE is told (RFC 9051 7.5.1: none during
FETCH, STORE or SEARCH), then renumber; and a COPY naming a message
another session expunged, which must fail whole (RFC 9051 6.4.7: the
target as it was before) with [EXPUNGEISSUED] (RFC 5530), not copy the
rest and say [SERVERBUG]."""

import imaplib
import os
import re
import socket
import unittest

from postern_harness import HOST, SCALE, PosternTestCase


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

if __name__ == "__main__":
    unittest.main()
