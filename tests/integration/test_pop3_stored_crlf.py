"""POP3 of messages that other software stored with CRLF line ends (a
Maildir filled by Dovecot, a migration tool or an IMAP APPEND): each line
goes out with exactly one CRLF, never CR CR LF, LIST gives the octets
RETR sends, and TOP finds the empty line that ends a CRLF header."""

from postern_harness import PosternTestCase
from test_pop3_commands import RawPOP3


class Pop3StoredCrlf(PosternTestCase):

    def test_crlf_lines_are_sent_once_and_sized_right(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "first")            # makes the Maildir
        t.wait_ids("alice", {"first"})
        stored = (b"Subject: crlf\r\nX-Test-Id: crlf\r\n\r\nline one\r\n"
                  b".dot line\r\nbare lf\nlast without end\r")
        t.place_message("alice", "2000000000.M1P1.elsewhere", stored)
        c = RawPOP3(t.port("pop3"))
        self.assertTrue(c.line().startswith(b"+OK"))
        for cmd in (b"USER " + t.addr("alice").encode(), b"PASS " + t.passwords["alice"].encode()):
            c.send(cmd + b"\r\n")
            self.assertTrue(c.line().startswith(b"+OK"), cmd)
        c.send(b"LIST 2\r\n")
        size = int(c.line().split()[2])
        c.send(b"RETR 2\r\n")
        self.assertTrue(c.line().startswith(b"+OK"))
        got = c.multi()
        wire = b"".join(l + b"\r\n" for l in got)
        self.assertNotIn(b"\r\r", wire)
        self.assertEqual(got, [b"Subject: crlf", b"X-Test-Id: crlf", b"", b"line one",
                               b"..dot line", b"bare lf", b"last without end"])
        # LIST counts the message as sent, before byte-stuffing (RFC 1939).
        self.assertEqual(size, len(wire) - 1)
        c.send(b"TOP 2 0\r\n")
        self.assertTrue(c.line().startswith(b"+OK"))
        self.assertEqual(c.multi(), [b"Subject: crlf", b"X-Test-Id: crlf", b""])
        c.send(b"QUIT\r\n")
        self.assertTrue(c.line().startswith(b"+OK"))
