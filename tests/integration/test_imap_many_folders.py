"""1,000 folders for one user (issue 10): 1,000 CREATEs pipelined in one
burst on one connection each get their own OK; LIST "" "*" and LIST ""
"Many.%" return every one; LIST "" "%" shows the level above them,
which no CREATE made, as \\Noselect \\HasChildren (RFC 9051 6.3.9: a
trailing "%" returns the matching levels of hierarchy); STATUS of some,
each with its own UIDVALIDITY; an APPEND into one and a DELETE of some
are seen by LIST and STATUS."""

import re
import socket
import unittest

from postern_harness import HOST, SCALE, PosternTestCase

N = 1000


class ImapManyFolders(PosternTestCase):

    def test_a_thousand_folders(self):
        t = self.start_tree()
        s = socket.create_connection((HOST, t.port("imap")), timeout=60 * SCALE)
        self.addCleanup(s.close)
        f = s.makefile("rb")

        def line():
            l = f.readline()
            if not l:
                raise EOFError("server closed the connection")
            return l

        def cmd(tag, text):
            s.sendall(b"%s %s\r\n" % (tag, text))
            out = []
            while True:
                out.append(line())
                if out[-1].startswith(tag + b" "):
                    return out

        line()
        self.assertRegex(cmd(b"l", b"LOGIN %s %s" % (t.addr("alice").encode(), t.passwords["alice"].encode()))[-1],
                         rb"^l OK")
        s.sendall(b"".join(b"c%d CREATE Many.f%04d\r\n" % (i, i) for i in range(N)))
        tagged = {}
        while len(tagged) < N:
            l = line()
            m = re.match(rb"c(\d+) (\S+)", l)
            if m:
                tagged[int(m.group(1))] = (m.group(2), l)
        self.assertEqual(sorted(tagged), list(range(N)))
        self.assertEqual([v for v in tagged.values() if v[0] != b"OK"], [])

        names = lambda out: [re.search(rb'"\." (\S+)\r\n$', l).group(1).decode()
                             for l in out if l.startswith(b"* LIST ")]
        every = names(cmd(b"a", b'LIST "" "*"'))
        self.assertEqual(sorted(n for n in every if n.startswith("Many.")), ["Many.f%04d" % i for i in range(N)])
        self.assertEqual(sorted(n for n in every if not n.startswith("Many.")),
                         ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"])
        self.assertEqual(len(names(cmd(b"b", b'LIST "" "Many.%"'))), N)
        # The level above, which no CREATE made: not selectable, has children.
        top = [l for l in cmd(b"d", b'LIST "" "%"') if l.startswith(b"* LIST ")]
        self.assertEqual(sorted(names(top)), ["Archive", "Drafts", "INBOX", "Junk", "Many", "Sent", "Trash"])
        many = [l for l in top if l.endswith(b" Many\r\n")][0]
        self.assertIn(b"\\Noselect", many)
        self.assertIn(b"\\HasChildren", many)
        self.assertRegex(cmd(b"e", b"SELECT Many")[-1], rb"^e NO ")
        self.assertEqual(names(cmd(b"e2", b'LIST "" "M%"')), ["Many"])
        self.assertEqual(names(cmd(b"e3", b'LIST "" "Many"')), [])       # no "%": only what exists

        # STATUS of some: empty, each with its own UIDVALIDITY.
        validities = set()
        for i in (0, 1, 2, 500, 998, 999):
            out = cmd(b"s%d" % i, b"STATUS Many.f%04d (MESSAGES UIDNEXT UIDVALIDITY)" % i)
            m = re.match(rb"\* STATUS Many\.f%04d \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY (\d+)\)\r\n$" % i, out[0])
            self.assertIsNotNone(m, out)
            validities.add(m.group(1))
        self.assertEqual(len(validities), 6)
        msg = b"Subject: one\r\nX-Test-Id: many1\r\n\r\nin folder 500\r\n"
        s.sendall(b"p APPEND Many.f0500 {%d+}\r\n%s\r\n" % (len(msg), msg))
        out = []
        while not out or not out[-1].startswith(b"p "):
            out.append(line())
        self.assertRegex(out[-1], rb"^p OK \[APPENDUID \d+ 1\]")
        self.assertRegex(cmd(b"q", b"STATUS Many.f0500 (MESSAGES UIDNEXT)")[0],
                         rb"^\* STATUS Many\.f0500 \(MESSAGES 1 UIDNEXT 2\)")
        self.assertRegex(cmd(b"r", b"SELECT Many.f0500")[-1], rb"^r OK \[READ-WRITE\]")
        for i in (10, 11, 12):
            self.assertRegex(cmd(b"x%d" % i, b"DELETE Many.f%04d" % i)[-1], rb"^x\d+ OK")
        after = names(cmd(b"y", b'LIST "" "Many.*"'))
        self.assertEqual(len(after), N - 3)
        self.assertNotIn("Many.f0011", after)
        cmd(b"z", b"LOGOUT")


if __name__ == "__main__":
    unittest.main()
