"""SORT and THREAD (RFC 5256), ESORT (RFC 5267) and SORT=DISPLAY (RFC
5957) against Dovecot (issue 11): Postern's imapd must answer every SORT
and THREAD program below as Dovecot 2.3 does, over the same messages
APPENDed to both with the same internal dates.

The messages vary subjects (Re:, Fwd:, [fwd: ...], (fwd), [list] blobs,
RFC 2047 words, white space, empty), dates (zones, a Date that does not
parse, none, ties), From / To / Cc (display names, encoded names, groups,
none), sizes, and References / In-Reply-To chains (a missing parent, a
missing middle, a reference loop, a duplicate Message-ID, quoting,
garbage around ids, none).  Dovecot runs over a Maildir owned by nobody
(dovecot_peer.py); Postern is a real tree (postern_harness.py).  The
untagged SORT / THREAD / ESEARCH answers and the tagged status are
compared exactly, with and without UID.

Where Dovecot departs from the RFCs, Postern follows the RFC; such
programs go in DIFFERENCES with our answer and the reason, and Dovecot's
must still differ (so that the list stays true).  Over these messages
Dovecot 2.3.19 follows RFC 5256 in every answer (the fine points
included: 1A keeping a first parent, 1B re-parenting, loops, a
duplicate Message-ID, dummies kept or pruned, subject merging of
replies and non-replies, the ABNF's blobs and [fwd: ...]), so the list
is empty.  ESEARCH result items are compared in one order (RFC 4731
gives them none; Dovecot writes ALL before COUNT).

Also: imaplib's sort() and thread() against Postern, the capabilities,
ESORT and RETURN (SAVE), EXPUNGE held back during SORT and THREAD but
not their UID forms, and errors (unknown criterion, algorithm or
charset).  Without root or without dovecot-imapd the comparison skips,
saying why."""

import imaplib
import os
import pwd
import re
import time
import unittest

import dovecot_peer
from postern_harness import HOST, SCALE, PosternTestCase
from test_imap_two_sessions import Session

OWNER = "nobody"


def crlf(text):
    return text.replace("\n", "\r\n").encode("utf-8")


# (internal date, message).  Sequence numbers and UIDs are 1.. in this order.
MESSAGES = [
    ("01-Jan-2024 10:00:05 +0000", crlf(                                   # 1
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
        "From: Alice Example <alice@example.com>\n"
        "To: bob@example.org, Carol <carol@example.net>\n"
        "Cc: dave@example.com\n"
        "Subject: Quarterly report\n"
        "Message-ID: <q1@example.com>\n"
        "\n"
        "The numbers are in.\n")),
    ("01-Jan-2024 12:00:00 +0000", crlf(                                   # 2
        "Date: Mon, 1 Jan 2024 13:00:00 +0100\n"
        "From: Bob <bob@example.org>\n"
        "To: Alice Example <alice@example.com>\n"
        "Subject: Re: Quarterly report\n"
        "Message-ID: <q2@example.org>\n"
        "In-Reply-To: <q1@example.com>\n"
        "\n"
        "Thanks.\n")),
    ("02-Jan-2024 09:00:00 +0000", crlf(                                   # 3
        "Date: Tue, 2 Jan 2024 09:00:00 +0000\n"
        "From: carol@example.net\n"
        "To: bob@example.org\n"
        "Cc: Alice Example <alice@example.com>, eve@example.com\n"
        "Subject: RE: Re: Quarterly report\n"
        "Message-ID: <q3@example.net>\n"
        "References: <q1@example.com>\n"
        " <q2@example.org>\n"
        "\n"
        "Agreed.\n")),
    ("03-Jan-2024 08:00:00 +0000", crlf(                                   # 4: no Date, From, Subject, ids
        "X-Note: almost nothing\n"
        "\n"
        "bare\n")),
    ("04-Jan-2024 10:00:00 +0000", crlf(                                   # 5: parent missing
        "Date: Thu, 4 Jan 2024 10:00:00 +0000\n"
        "From: list-bot@lists.example.org\n"
        "To: Team: a@x.org, b@y.org;\n"
        "Subject: [team] Re: Lunch plans\n"
        "Message-ID: <l1@lists.example.org>\n"
        "References: <gone@example.com>\n"
        "\n"
        "pizza?\n")),
    ("04-Jan-2024 11:00:00 +0000", crlf(                                   # 6: same missing parent
        "Date: Thu, 4 Jan 2024 11:00:00 +0000\n"
        "From: \"Zed Zimmer\" <aaron@example.com>\n"
        "To: undisclosed-recipients:;\n"
        "Subject: Lunch plans (fwd)\n"
        "Message-ID: <l2@example.com>\n"
        "In-Reply-To: <gone@example.com>\n"
        "\n"
        "sushi?\n")),
    ("04-Jan-2024 12:00:00 +0000", crlf(                                   # 7: no references
        "Date: Thu, 4 Jan 2024 12:00:00 +0000\n"
        "From: frank@example.com\n"
        "To: Carol <carol@example.net>\n"
        "Subject: Fwd: Lunch   plans\n"
        "Message-ID: <l3@example.com>\n"
        "\n"
        "fwd\n")),
    ("05-Jan-2024 12:00:00 +0000",                                         # 8
     b"Date: Fri, 5 Jan 2024 01:00:00 -0800\r\n"
     b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <jm@example.de>\r\n"
     b"To: =?utf-8?q?=C3=89mile?= <emile@example.fr>\r\n"
     b"Subject: =?utf-8?q?Caf=C3=A9_meeting?=\r\n"
     b"Message-ID: <\"cafe.1\"@example.de>\r\n"
     b"\r\n"
     b"body\r\n"),
    ("05-Jan-2024 13:00:00 +0000",                                         # 9: reply by In-Reply-To, unquoted
     b"Date: Fri, 5 Jan 2024 13:00:00 +0000\r\n"
     b"From: Emile <emile@example.fr>\r\n"
     b"To: jm@example.de\r\n"
     b"Subject: =?utf-8?b?UmU6IENhZsOpIG1lZXRpbmc=?=\r\n"
     b"In-Reply-To: Your message of Friday <cafe.1@example.de>\r\n"
     b"Message-ID: <cafe.2@example.fr>\r\n"
     b"\r\n"
     b"ok\r\n"),
    ("06-Jan-2024 09:00:00 +0000", crlf(                                   # 10: a Date that does not parse
        "Date: sometime next week\n"
        "From: _under@example.com\n"
        "To: zed@example.com\n"
        "Subject: zebra crossing\n"
        "Message-ID: <z1@example.com>\n"
        "\n"
        "x\n")),
    ("06-Jan-2024 10:00:00 +0000", crlf(                                   # 11: duplicate Message-ID of 1
        "Date: Sat, 6 Jan 2024 10:00:00 +0000\n"
        "From: Mallory <mallory@example.com>\n"
        "To: alice@example.com\n"
        "Subject: [fwd: Dinner]\n"
        "Message-ID: <q1@example.com>\n"
        "\n"
        "dup\n")),
    ("06-Jan-2024 11:00:00 +0000", crlf(                                   # 12: loop with 13
        "Date: Sat, 6 Jan 2024 11:00:00 +0000\n"
        "From: loop@example.com\n"
        "To: alice@example.com\n"
        "Subject: dinner\n"
        "Message-ID: <loop.a@example.com>\n"
        "References: <loop.b@example.com>\n"
        "\n"
        "a\n")),
    ("06-Jan-2024 12:00:00 +0000", crlf(                                   # 13
        "Date: Sat, 6 Jan 2024 12:00:00 +0000\n"
        "From: loop@example.com\n"
        "To: alice@example.com\n"
        "Subject: Re: dinner\n"
        "Message-ID: <loop.b@example.com>\n"
        "References: <loop.a@example.com>\n"
        "\n"
        "b\n")),
    ("07-Jan-2024 10:00:00 +0000", crlf(                                   # 14: same Date as 15
        "Date: Sun, 7 Jan 2024 10:00:00 +0000\n"
        "From: Gina <gina@example.com>\n"
        "To: alice@example.com\n"
        "Subject: [LIST] DINNER\n"
        "Message-ID: <d1@example.com>\n"
        "\n"
        "c\n")),
    ("07-Jan-2024 09:00:00 +0000", crlf(                                   # 15: chain via a missing middle
        "Date: Sun, 7 Jan 2024 10:00:00 +0000\n"
        "From: hank@example.com\n"
        "To: Gina <gina@example.com>\n"
        "Subject: Re: Quarterly report\n"
        "Message-ID: <q5@example.com>\n"
        "References: <q1@example.com> <q4@example.com>\n"
        "\n"
        "late reply\n")),
    ("08-Jan-2024 10:00:00 +0000", crlf(                                   # 16: big
        "Date: Mon, 8 Jan 2024 10:00:00 +0200\n"
        "From: Alice Example <alice@example.com>\n"
        "To: bob@example.org\n"
        "Subject: Re:\n"
        "Message-ID: <empty@example.com>\n"
        "\n" + "padding line\n" * 200)),
    ("08-Jan-2024 11:00:00 +0000", crlf(                                   # 17
        "Date: Mon, 8 Jan 2024 11:00:00 +0000\n"
        "From: Bob <bob@example.org>\n"
        "To: alice@example.com\n"
        "Subject: [fwd: Re: [team] lunch plans] (fwd)\n"
        "Message-ID: <fw@example.org>\n"
        "References: <l1@lists.example.org>\n"
        "\n"
        "again\n")),
    ("09-Jan-2024 10:00:00 +0000", crlf(                                   # 18: tabs, multiple spaces
        "Date: Tue, 9 Jan 2024 10:00:00 +0000\n"
        "From: ivan@example.com\n"
        "Subject: Zebra\t  crossing  \n"
        "Message-ID: <z2@example.com>\n"
        "References: junk <not-an-id> <z1@example.com> trailing junk\n"
        "\n"
        "y\n")),
    ("09-Jan-2024 11:00:00 +0000", crlf(                                   # 19: self reference
        "Date: Tue, 9 Jan 2024 11:00:00 +0000\n"
        "From: judy@example.com\n"
        "Subject: alpha\n"
        "Message-ID: <self@example.com>\n"
        "References: <self@example.com>\n"
        "\n"
        "z\n")),
    ("09-Jan-2024 12:00:00 +0000", crlf(                                   # 20: blob in subj-refwd
        "Date: Tue, 9 Jan 2024 12:00:00 +0000\n"
        "From: kim@example.com\n"
        "Subject: Re [2] : Zebra crossing\n"
        "\n"
        "z\n")),
    ("09-Jan-2024 13:00:00 +0000", crlf(                                   # 21: the last blob is the base
        "Date: Tue, 9 Jan 2024 13:00:00 +0000\n"
        "From: kim@example.com\n"
        "Subject: [a] [b]\n"
        "\n"
        "z\n")),
    ("09-Jan-2024 14:00:00 +0000",                                         # 22: UTF-8 in a blob
     b"Date: Tue, 9 Jan 2024 14:00:00 +0000\r\n"
     b"From: kim@example.com\r\n"
     b"Subject: =?utf-8?q?[Liste_fran=C3=A7aise]_Re=3A_alpha?=\r\n"
     b"\r\n"
     b"z\r\n"),
    ("09-Jan-2024 15:00:00 +0000", crlf(                                   # 23: not a subj-refwd
        "Date: Tue, 9 Jan 2024 15:00:00 +0000\n"
        "From: kim@example.com\n"
        "Subject: Re(2): alpha\n"
        "\n"
        "z\n")),
    ("09-Jan-2024 16:00:00 +0000", crlf(                                   # 24: nested [fwd: ...]
        "Date: Tue, 9 Jan 2024 16:00:00 +0000\n"
        "From: kim@example.com\n"
        "Subject: [fwd: [Fwd: alpha]]\n"
        "\n"
        "z\n")),
    ("01-Jan-2024 00:00:00 +0000", crlf(                                   # 25: a zone not known: UTC
        "Date: Tue, 9 Jan 2024 17:00:00 XYZ\n"
        "From: kim@example.com\n"
        "Subject: ALPHA\n"
        "\n"
        "z\n")),
    # 26-28: 28's own References move it away from where 27 put it (1B)
    ("10-Jan-2024 10:01:00 +0000", crlf(                                   # 26
        "Date: Wed, 10 Jan 2024 10:01:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <t1@example.com>\n"
        "Subject: tree\n"
        "\n"
        "t\n")),
    ("10-Jan-2024 10:02:00 +0000", crlf(                                   # 27
        "Date: Wed, 10 Jan 2024 10:02:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <t3@example.com>\n"
        "References: <t1@example.com> <t2@example.com>\n"
        "Subject: Re: tree\n"
        "\n"
        "t\n")),
    ("10-Jan-2024 10:03:00 +0000", crlf(                                   # 28
        "Date: Wed, 10 Jan 2024 10:03:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <t2@example.com>\n"
        "References: <t9@example.com>\n"
        "Subject: other\n"
        "\n"
        "t\n")),
    # 29-33: a second, shorter chain does not re-parent u2 (1A)
    ("10-Jan-2024 10:04:00 +0000", crlf(                                   # 29
        "Date: Wed, 10 Jan 2024 10:04:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <u1@example.com>\n"
        "Subject: u one\n"
        "\n"
        "t\n")),
    ("10-Jan-2024 10:05:00 +0000", crlf(                                   # 30
        "Date: Wed, 10 Jan 2024 10:05:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <u2@example.com>\n"
        "Subject: u two\n"
        "\n"
        "t\n")),
    ("10-Jan-2024 10:06:00 +0000", crlf(                                   # 31
        "Date: Wed, 10 Jan 2024 10:06:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <u3@example.com>\n"
        "References: <u1@example.com> <u2@example.com>\n"
        "Subject: u three\n"
        "\n"
        "t\n")),
    ("10-Jan-2024 10:07:00 +0000", crlf(                                   # 32
        "Date: Wed, 10 Jan 2024 10:07:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <u9@example.com>\n"
        "Subject: u nine\n"
        "\n"
        "t\n")),
    ("10-Jan-2024 10:08:00 +0000", crlf(                                   # 33
        "Date: Wed, 10 Jan 2024 10:08:00 +0000\n"
        "From: leo@example.com\n"
        "Message-ID: <u4@example.com>\n"
        "References: <u9@example.com> <u2@example.com>\n"
        "Subject: u four\n"
        "\n"
        "t\n")),
]

# Programs, one per line, as after "[UID] ".  Each runs with and without UID.
PROGRAMS = r'''
SORT (ARRIVAL) UTF-8 ALL
SORT (REVERSE ARRIVAL) UTF-8 ALL
SORT (DATE) UTF-8 ALL
SORT (REVERSE DATE) UTF-8 ALL
SORT (SUBJECT) UTF-8 ALL
SORT (SUBJECT DATE) UTF-8 ALL
SORT (REVERSE SUBJECT) UTF-8 ALL
SORT (SUBJECT REVERSE DATE) UTF-8 ALL
SORT (FROM) UTF-8 ALL
SORT (FROM REVERSE DATE) UTF-8 ALL
SORT (TO) UTF-8 ALL
SORT (CC) UTF-8 ALL
SORT (REVERSE CC) UTF-8 ALL
SORT (SIZE) UTF-8 ALL
SORT (REVERSE SIZE) UTF-8 ALL
SORT (DISPLAYFROM) UTF-8 ALL
SORT (DISPLAYTO) UTF-8 ALL
SORT (REVERSE DISPLAYFROM SUBJECT) UTF-8 ALL
SORT (SUBJECT) UTF-8 SINCE 5-Jan-2024
SORT (DATE) US-ASCII SUBJECT lunch
SORT (SUBJECT) UTF-8 FROM alice
SORT (DATE) UTF-8 OR TO alice CC alice
SORT (ARRIVAL) UTF-8 2:5,9
SORT (SUBJECT) UTF-8 SUBJECT nothing-matches
SORT (SUBJECT) UTF-8 SUBJECT "café"
SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL
SORT RETURN (MIN MAX) (REVERSE DATE) UTF-8 1:3
SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 5:9
SORT RETURN (ALL) (SUBJECT) UTF-8 ALL
SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL
SORT RETURN (COUNT ALL) (REVERSE ARRIVAL) UTF-8 NOT 3
SORT RETURN () (FROM) UTF-8 ALL
SORT RETURN (MIN) (SIZE) UTF-8 SUBJECT nothing-matches
THREAD ORDEREDSUBJECT UTF-8 ALL
THREAD REFERENCES UTF-8 ALL
THREAD REFERENCES UTF-8 SUBJECT lunch
THREAD REFERENCES UTF-8 NOT SUBJECT lunch
THREAD ORDEREDSUBJECT UTF-8 SINCE 6-Jan-2024
THREAD REFERENCES UTF-8 SUBJECT nothing-matches
SORT (BOGUS) UTF-8 ALL
SORT () UTF-8 ALL
SORT (DATE) X-NO-SUCH-CHARSET ALL
SORT (DATE) ALL
THREAD NOSUCH UTF-8 ALL
THREAD REFERENCES X-NO-SUCH-CHARSET ALL
'''

# Programs whose answer differs from Dovecot's on purpose: the program
# (with "UID " when only that form), our answer as answer() writes it,
# and why.  None so far: see the module's doc.
DIFFERENCES = {
}


def program_lines():
    return [l.encode("utf-8") for l in PROGRAMS.strip().split("\n")]


def command(m, raw):
    """Send a raw command line on an imaplib connection; (untagged, tagged)."""
    tag = m._new_tag()
    m.send(tag + b" " + raw + b"\r\n")
    untagged = []
    while True:
        line = m._get_line()
        if line.startswith(tag + b" "):
            return untagged, line[len(tag) + 1:]
        untagged.append(line)


def esearch_items(line):
    """An ESEARCH line without its tag, its result items in one order
    (RFC 4731 gives them none); other lines as they are."""
    m = re.match(rb'\* ESEARCH \(TAG "[^"]*"\)( UID)?((?: [A-Z]+ \S+)*)$', line)
    if m is None:
        return line
    items = re.findall(rb" ([A-Z]+) (\S+)", m.group(2))
    return b"* ESEARCH" + (m.group(1) or b"") + b"".join(b" %s %s" % kv for kv in sorted(items))


def answer(m, raw):
    """What a SORT / THREAD program answers, comparable across servers:
    its SORT, THREAD or ESEARCH lines (the tag taken out) and the status
    (the response code kept for NO)."""
    untagged, tagged = command(m, raw)
    lines = [esearch_items(l.rstrip()) for l in untagged if re.match(rb"\* (SORT|THREAD|ESEARCH)\b", l)]
    status = tagged.split(b" ", 1)[0]
    if status == b"NO":
        code = re.match(rb"NO (\[[A-Z-]+)", tagged)
        status = b"NO" + (b" " + code.group(1) + b"]" if code else b"")
    return b"\n".join(lines + [status]).decode("utf-8", "replace")


def append_all(test, m):
    for date, msg in MESSAGES:
        typ, data = m.append("INBOX", None, '"%s"' % date, msg)
        test.assertEqual(typ, "OK", data)


class SortThreadAgainstDovecot(PosternTestCase):

    maxDiff = 8000

    def setUp(self):
        self.top = dovecot_peer.test_dir(self, "test_imap_sort_thread.")
        pw = pwd.getpwnam(OWNER)
        self.maildir = os.path.join(self.top, "Maildir")
        for sub in ("", "cur", "new", "tmp"):
            os.mkdir(os.path.join(self.maildir, sub), 0o700)
            os.chown(os.path.join(self.maildir, sub), pw.pw_uid, pw.pw_gid)
        self.peer = dovecot_peer.DovecotPeer(self.maildir)
        self.addCleanup(self.peer.stop)
        self.peer.start()

    def test_sort_and_thread_answer_as_dovecot_does(self):
        theirs_c = self.peer.imap()
        t = self.start_tree()
        ours_c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        ours_c.login(t.addr("alice"), t.passwords["alice"])
        for c in (theirs_c, ours_c):
            append_all(self, c)
            self.assertEqual(c.select("INBOX")[0], "OK")
        diffs = []
        for prog in program_lines():
            for raw in (prog, b"UID " + prog):
                theirs, ours = answer(theirs_c, raw), answer(ours_c, raw)
                key = raw.decode("utf-8")
                if key in DIFFERENCES:
                    want, why = DIFFERENCES[key]
                    if ours != want or theirs == ours:
                        diffs.append("%s (an intended difference: %s)\n    dovecot: %s\n    ours:    %s\n"
                                     "    want:    %s" % (key, why, theirs, ours, want))
                elif theirs != ours:
                    diffs.append("%s\n    dovecot: %s\n    ours:    %s" % (key, theirs, ours))
        self.assertEqual(diffs, [], "\n" + "\n".join(diffs))
        theirs_c.logout()
        ours_c.logout()


def imap(t, user="alice"):
    c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
    c.login(t.addr(user), t.passwords[user])
    return c


class SortThreadWithImaplib(PosternTestCase):

    def test_imaplib_sort_and_thread(self):
        t = self.start_tree()
        c = imap(t)
        caps = c.capabilities
        for cap in ("SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "ESORT"):
            self.assertIn(cap, caps)
        append_all(self, c)
        self.assertEqual(c.select("INBOX")[0], "OK")
        typ, data = c.sort("(DATE)", "UTF-8", "ALL")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b" ".join(b"%d" % i for i in range(1, len(MESSAGES) + 1))])
        typ, data = c.sort("(SUBJECT)", "UTF-8", "FROM", "loop")
        self.assertEqual((typ, data), ("OK", [b"12 13"]))
        typ, data = c.uid("SORT", "(REVERSE SIZE)", "UTF-8", "UID", "16:*")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0].split()[0], b"16")
        typ, data = c.thread("REFERENCES", "UTF-8", "SUBJECT", "report")
        self.assertEqual((typ, data), ("OK", [b"(1 (2 3)(15))"]))
        typ, data = c.thread("ORDEREDSUBJECT", "UTF-8", "FROM", "loop")
        self.assertEqual((typ, data), ("OK", [b"(12 13)"]))
        typ, data = c.thread("REFERENCES", "UTF-8", "SUBJECT", "nothing-matches")
        self.assertEqual(typ, "OK")
        # ESORT: MIN and MAX are the first and last in the sort order.
        untagged, tagged = command(c, b"SORT RETURN (MIN MAX COUNT ALL) (REVERSE DATE) UTF-8 1:3")
        self.assertTrue(tagged.startswith(b"OK"), tagged)
        self.assertRegex(untagged[0], rb'^\* ESEARCH \(TAG "\w+"\) MIN 3 MAX 1 COUNT 3 ALL 3,2,1$')
        # RETURN (SAVE) keeps the messages found for "$".
        untagged, tagged = command(c, b"SORT RETURN (SAVE) (SUBJECT) UTF-8 FROM bob")
        self.assertTrue(tagged.startswith(b"OK"), tagged)
        self.assertEqual([l for l in untagged if l.startswith(b"* ESEARCH")], [])
        typ, data = c.search(None, "$")
        self.assertEqual(data, [b"2 17"])
        # Errors: the protocol's own replies.
        for raw, want in ((b"SORT (BOGUS) UTF-8 ALL", b"BAD"), (b"SORT (DATE) UTF-8", b"BAD"),
                          (b"THREAD NOSUCH UTF-8 ALL", b"BAD"),
                          (b"SORT (DATE) X-NO-SUCH ALL", b"NO [BADCHARSET"),
                          (b"UID THREAD REFERENCES", b"BAD")):
            untagged, tagged = command(c, raw)
            self.assertTrue(tagged.startswith(want), (raw, tagged))
        self.assertEqual(c.noop()[0], "OK")
        c.logout()

    def test_expunges_wait_for_uid_sort_and_uid_thread(self):
        """RFC 5256 3: no EXPUNGE during SORT (or THREAD), but during UID SORT."""
        t = self.start_tree()
        c = imap(t)
        append_all(self, c)
        c.logout()
        a, b = Session(t), Session(t)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.ok("SELECT INBOX")
        b.ok("SELECT INBOX")
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        n = len(MESSAGES)
        for cmd in ("SORT (ARRIVAL) UTF-8 ALL", "THREAD ORDEREDSUBJECT UTF-8 ALL",
                    "SORT (SUBJECT) UTF-8 1"):
            out = a.ok(cmd)
            self.assertFalse([l for l in out if l.endswith(b" EXPUNGE\r\n")], (cmd, out))
        # message 1 is still there for this session, its EXPUNGE not told
        line = [l for l in a.ok("SORT (ARRIVAL) UTF-8 ALL") if l.startswith(b"* SORT ")]
        self.assertEqual(sorted(int(x) for x in line[0].split()[2:]), list(range(1, n + 1)))
        # the message whose file is gone sorts as one without a header
        self.assertIn(b"* SORT 1\r\n", a.ok("SORT (SUBJECT) UTF-8 1"))
        out = a.ok("UID THREAD REFERENCES UTF-8 UID 2:3")
        self.assertEqual([l for l in out if l.startswith(b"* THREAD") or l.endswith(b"EXPUNGE\r\n")],
                         [b"* THREAD (2 3)\r\n", b"* 1 EXPUNGE\r\n"])

    def test_sort_outside_selected_state_is_refused(self):
        t = self.start_tree()
        c = imap(t)
        untagged, tagged = command(c, b"SORT (DATE) UTF-8 ALL")
        self.assertTrue(tagged.startswith(b"BAD") or tagged.startswith(b"NO"), tagged)
        c.logout()


if __name__ == "__main__":
    unittest.main()
