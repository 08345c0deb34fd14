"""UTF8=ACCEPT (RFC 6855, issue 11): after ENABLE UTF8=ACCEPT an IMAP4rev1
client names mailboxes in UTF-8 and is answered in UTF-8 (the folder is
stored in modified UTF-7, as a client without it still sees it), APPENDs
a message with UTF-8 header fields as UTF8 (literal8), and gets its
ENVELOPE with UTF-8 in quoted strings instead of RFC 2047 words."""

import re
import unittest

from postern_harness import PosternTestCase
from test_imap_two_sessions import Session

NAME = "R\u00e9sum\u00e9s"                   # Résumés
UTF7 = "R&AOk-sum&AOk-s"
MSG = ("From: J\u00fcrgen <j@example.org>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nHallo\r\n").encode()


class ImapUtf8Accept(PosternTestCase):

    def test_utf8_names_append_and_envelope(self):
        t = self.start_tree()
        a = Session(t)
        self.addCleanup(a.close)
        self.assertIn(b" UTF8=ACCEPT", b"".join(a.ok("CAPABILITY")))
        self.assertIn(b"* ENABLED UTF8=ACCEPT\r\n", a.ok("ENABLE UTF8=ACCEPT"))
        a.ok('CREATE "%s"' % NAME)
        listed = b"".join(a.ok('LIST "" "R*"'))
        self.assertIn(('"%s"' % NAME).encode(), listed)
        # The message as UTF8 (literal8).
        a.n += 1
        tag = b"t%d" % a.n
        a.s.sendall(tag + b' APPEND "' + NAME.encode() + b'" UTF8 (~{%d+}\r\n' % len(MSG) + MSG + b")\r\n")
        reply = a.line()
        while not reply.startswith(tag):
            reply = a.line()
        self.assertRegex(reply, rb"OK \[APPENDUID \d+ 1\]")
        a.ok('SELECT "%s"' % NAME)
        env = b"".join(a.ok("FETCH 1 (ENVELOPE)"))
        self.assertIn("\"Gr\u00fc\u00dfe\"".encode(), env)
        self.assertIn("\"J\u00fcrgen\"".encode(), env)
        # A client that did not enable it sees the stored name and 7-bit strings.
        b = Session(t)
        self.addCleanup(b.close)
        self.assertRegex(b"".join(b.ok('LIST "" "R*"')), rb'"\." "?' + UTF7.encode() + rb'"?\r\n')
        b.ok('SELECT "%s"' % UTF7)
        env = b"".join(b.ok("FETCH 1 (ENVELOPE)"))
        self.assertFalse(re.search(rb"[\x80-\xff]", env.split(b"{")[0]), env)
        # Such a client makes and renames folders in modified UTF-7 (a
        # name it sent was once decoded twice and refused); STATUS echoes
        # the name in its own form.
        b.ok('CREATE "Caf&AOk-"')
        b.ok('RENAME "Caf&AOk-" "Caf&AOk-s"')
        self.assertIn(b'* STATUS Caf&AOk-s (MESSAGES 0)', b"".join(b.ok('STATUS "Caf&AOk-s" (MESSAGES)')))
        self.assertIn("Caf\u00e9s".encode(), b"".join(a.ok('LIST "" "Caf*"')))


if __name__ == "__main__":
    unittest.main()
