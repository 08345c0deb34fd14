"""SEARCH against Dovecot (issue 10, section 3: "SEARCH with every key of
both RFCs"): common/imap_search_eval, through the test program
BUILD/tests/helpers/search_eval, must find exactly the messages Dovecot
2.3 finds for the same SEARCH programs over the same messages.

The messages are APPENDed to a private Dovecot (dovecot_peer.py, over a
Maildir owned by nobody) with flags, keywords and internal dates, in two
sessions so that only the second batch is \\Recent in the session that
searches; a few flags are changed after, for MODSEQ.  Then that session
FETCHes each message (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ,
BODY.PEEK[]) and runs every program as UID SEARCH; the helper gets what
the FETCH returned and runs the same programs.  Dovecot runs with
TZ=Etc/GMT-2 (+0200), so BEFORE / ON / SINCE are checked away from UTC.

Where we differ on purpose (DIFFERENCES below), our answer is checked
against the one written there and Dovecot's must differ from it (so
that the list stays true):
  - SENT* on a message without a Date field: Dovecot takes 1-Jan-1970,
    we take the internal date (RFC 5256 3's rule for SORT).
  - FROM/TO/CC/BCC: Dovecot matches against the addresses re-written with
    display names quoted when they hold spaces ('"Alice Example"
    <alice@...>'); we write them unquoted ('Alice Example <alice@...>'),
    so a string spanning a multi-word name and its address differs.
  - Compatibility decomposition: RFC 5051 (i;unicode-casemap) folds with
    NFKD, so the ligature U+FB01 is "fi" for us; Dovecot 2.3 keeps it
    (it does decompose full-width letters, as we do).
  - Dovecot 2.3.19 skips the messages below its "first unseen UID" low
    water mark whenever UNSEEN occurs, also under OR and NOT: OR UNSEEN
    UNFLAGGED misses a seen, unflagged first message.  A Dovecot bug;
    we answer as the RFC says.
Without root or without dovecot-imapd the tests skip, saying why."""

import base64
import datetime
import os
import pwd
import re
import subprocess
import time
import unittest

import dovecot_peer
from postern_harness import BUILD

HELPER = os.path.join(BUILD, "tests", "helpers", "search_eval")
OWNER = "nobody"
TZ = "Etc/GMT-2"          # POSIX sign: this is UTC+2
ZONE_MINUTES = 120
FLAG_BITS = {"\\Answered": 1, "\\Flagged": 2, "\\Deleted": 4, "\\Seen": 8, "\\Draft": 16, "\\Recent": 32}


def b64(text):
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def crlf(text):
    return text.replace("\n", "\r\n").encode("utf-8")


# (flags, internal date, keywords, message).  Internal dates are written
# as "dd-Mon-yyyy hh:mm:ss +zzzz"; None: an hour before now.
BATCH1 = [
    ("\\Seen \\Answered work", "01-Jan-2024 10:00:00 +0000", crlf(
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
        "From: Alice Example <alice@example.com>\n"
        "To: bob@example.org, Carol <carol@example.net>\n"
        "Cc: dave@example.com\n"
        "Subject: Quarterly report\n"
        "Message-ID: <q1@example.com>\n"
        "X-Priority: 1\n"
        "\n"
        "The numbers are in.\n"
        "See you on Monday.\n")),
    ("", "01-Jan-2024 23:30:00 +0000",
     b"Date: 2 Jan 2024 00:30:00 +1400\r\n"
     b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\n"
     b"To: alice@example.com\r\n"
     b"Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus\r\n  Berlin\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=iso-8859-1\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n"
     b"\r\n"
     b"caf=E9 na=EFve r=E9sum=E9 soft=\r\nbreak\r\n"),
    ("\\Seen \\Flagged $Label1", "02-Jan-2024 00:30:00 +0300",
     b"Date: Wed, 3 Jan 2024 23:59:59 -0800\r\n"
     b"From: Eve <eve@example.com>\r\n"
     b"To: alice@example.com\r\n"
     b"Bcc: hidden@example.com\r\n"
     b"Subject: Photos\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: multipart/mixed; boundary=\"BB\"\r\n"
     b"\r\n"
     b"preamble words\r\n"
     b"--BB\r\n"
     b"Content-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"X-Part-Hdr: parthdrvalue\r\n"
     b"\r\n" + b64("Grüße aus Köln ΣΑΣ\r\n") +
     b"--BB\r\n"
     b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"\r\n" + b64("secretpayload") +
     b"--BB\r\n"
     b"Content-Type: message/rfc822\r\n"
     b"\r\n"
     b"From: inner@example.org\r\n"
     b"Subject: Inner subject\r\n"
     b"\r\n"
     b"innerbody words\r\n"
     b"--BB\r\n"
     b"Content-Type: text/html; charset=x-unknown\r\n"
     b"\r\n"
     b"<p>html<b>word</b></p>\r\n"
     b"--BB--\r\n"),
    ("\\Deleted", "05-Jan-2024 12:00:00 -0500",
     b"Date: Fri, 5 Jan 2024 22:00:00 EST\r\n"
     b"From: shop@example.net\r\n"
     b"To: alice@example.com\r\n"
     b"Subject: =?utf-8?b?" + base64.b64encode("Привет мир".encode()) + b"?=\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: multipart/alternative; boundary=alt\r\n"
     b"\r\n"
     b"--alt\r\n"
     b"Content-Type: text/plain; charset=windows-1252\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n"
     b"\r\n"
     b"Only =80 5 =93today=94\r\n"
     b"--alt\r\n"
     b"Content-Type: text/html; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"\r\n" + b64("<p>Большая распродажа</p>\r\n") +
     b"--alt--\r\n"),
]

BATCH2 = [
    ("\\Draft Work", "31-Dec-2023 23:30:00 -0100", crlf(
        "Date: Sun, 31 Dec 2023 23:30:00 -0100\n"
        "From: frank@example.com\n"
        "To: Team: a@x.org, b@y.org;\n"
        "Cc: undisclosed-recipients:;\n"
        "Subject: aus\n  Berlin\tund  Bonn\n"
        "X-Spam-Flag: YES\n"
        "\n"
        "Line one\n"
        "Line two mentions Quarterly\n")),
    ("", "10-Jan-2024 08:00:00 +0000", crlf(
        "From: nodate@example.com\n"
        "Subject: no date here\n"
        "\n"
        "undated body\n")),
    ("\\Seen", "15-Jan-2024 09:00:00 +0000",
     "Date: Mon, 15 Jan 2024 09:00:00 +0000\r\n"
     "From: Zoë <zoe@example.fr>\r\n"
     "To: bob@example.org\r\n"
     "Subject: Ünïcödé raw été\r\n"
     "\r\n".encode("utf-8") +
     "Straße ist lang. ﬁnal ＡＢ naïve\r\n".encode("utf-8") +
     b"padding " * 300 + b"\r\nneedle-at-the-end\r\n"),
    ("$Label1 $Label2", "20-Jan-2024 15:00:00 +0000",
     b"Date: Sat, 20 Jan 2024 15:00:00 +0100\r\n"
     b"From: hans@example.de\r\n"
     b"To: alice@example.com\r\n"
     b"Cc: =?iso-8859-1?b?SvxyZ2Vu?= <jurgen@example.de>\r\n"
     b"Subject: Latin-1 8bit\r\n"
     b"Content-Type: text/plain; charset=iso-8859-1\r\n"
     b"Content-Transfer-Encoding: 8bit\r\n"
     b"\r\n"
     b"\xc4rger \xfcber \xd6l\r\n"),
    ("\\Flagged", None,
     b"Date: Thu, 1 Feb 2024 08:00:00 +0000\r\n"
     b"From: list@example.org\r\n"
     b"To: alice@example.com\r\n"
     b"Reply-To: replies@example.org\r\n"
     b"List-Id: <announce.example.org>\r\n"
     b"Subject: Re: nested\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: multipart/mixed; boundary=outer\r\n"
     b"\r\n"
     b"--outer\r\n"
     b"Content-Type: multipart/alternative; boundary=inner\r\n"
     b"\r\n"
     b"--inner\r\n"
     b"Content-Type: text/plain\r\n"
     b"\r\n"
     b"nestedplain text\r\n"
     b"--inner\r\n"
     b"Content-Type: text/html\r\n"
     b"\r\n"
     b"<i>nestedhtml</i>\r\n"
     b"--inner--\r\n"
     b"--outer\r\n"
     b"Content-Type: text/plain; charset=utf-8; name=notes.txt\r\n"
     b"Content-Disposition: attachment; filename=notes.txt\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n"
     b"\r\n"
     b"attached =C3=A9t=C3=A9 notes\r\n"
     b"--outer--\r\n"),
]

NODATE_SUBJECT = "no date here"   # UID 6: internal date 10-Jan-2024

# Programs whose answer differs from Dovecot's on purpose: our answer, and why.
DIFFERENCES = {
    b'SENTON 1-Jan-1970': ("OK", "no Date field: Dovecot takes 1-Jan-1970, we the internal date"),
    b'SENTON 10-Jan-2024': ("OK 6", "no Date field: we take the internal date (RFC 5256 3)"),
    b'FROM "Alice Example <alice"': ("OK 1", "Dovecot quotes the display name before matching"),
    b'BODY "final"': ("OK 7", "RFC 5051 NFKD: the ligature U+FB01 is f + i; Dovecot keeps it"),
    b'NOT (SEEN FLAGGED)': ("OK 1 2 4 5 6 7 8 9", "Dovecot 2.3.19: unseen low water mark applied under NOT"),
    b'OR UNSEEN UNFLAGGED': ("OK 1 2 4 5 6 7 8 9", "Dovecot 2.3.19: unseen low water mark applied under OR"),
}

# Programs, one per line, as after "UID SEARCH ".  Every key of RFC 3501
# and RFC 9051 occurs, most of them several times, alone and combined.
PROGRAMS = r'''
ALL
ANSWERED
UNANSWERED
DELETED
UNDELETED
DRAFT
UNDRAFT
FLAGGED
UNFLAGGED
SEEN
UNSEEN
RECENT
NEW
OLD
NOT RECENT
KEYWORD work
KEYWORD WORK
KEYWORD $Label1
UNKEYWORD $label1
KEYWORD nosuch
UNKEYWORD nosuch
LARGER 600
SMALLER 600
LARGER 2000
NOT LARGER 2000 NOT SMALLER 300
1
2:4
4:2
*
5:*
1,3,5:6
20:30
UID 1
UID 2:4
UID *
UID 3:*
UID 100:*
UID 1,4,6:*
MODSEQ 1
MODSEQ 5
MODSEQ 10
MODSEQ 11
MODSEQ 12
MODSEQ "/flags/\\flagged" all 11
MODSEQ 100000
BEFORE 1-Jan-2024
BEFORE 2-Jan-2024
ON 1-Jan-2024
ON 2-Jan-2024
ON 31-Dec-2023
ON 5-Jan-2024
SINCE 2-Jan-2024
SINCE 15-Jan-2024
NOT SINCE 2-Jan-2024
OLDER 86400
YOUNGER 86400
YOUNGER 7200
OLDER 1
SENTBEFORE 2-Jan-2024
SENTBEFORE 3-Jan-2024
SENTON 1-Jan-2024
SENTON 2-Jan-2024
SENTON 3-Jan-2024
SENTON 5-Jan-2024
SENTON 31-Dec-2023
SENTON 20-Jan-2024
SENTSINCE 4-Jan-2024
SENTSINCE 1-Jan-2024
SENTON 1-Jan-1970
SENTON 10-Jan-2024
SUBJECT report
SUBJECT QUARTERLY
SUBJECT "grüße aus berlin"
SUBJECT "GRÜSSE"
SUBJECT "aus berlin und bonn"
SUBJECT "привет"
SUBJECT "ПРИВЕТ МИР"
SUBJECT "ünïcödé"
SUBJECT "ÜNÏCÖDÉ RAW"
SUBJECT "=?utf-8"
SUBJECT ""
SUBJECT "re: nested"
FROM alice
FROM "Alice Example"
FROM "alice@example.com"
FROM "<alice@example.com>"
FROM "Alice Example <alice"
FROM example.com
FROM "jürgen"
FROM "müller <jm"
FROM "zoë"
FROM "ZOË"
FROM nodate
FROM ""
TO alice
TO carol
TO "Carol <carol@example.net>"
TO team
TO "b@y.org"
TO bob
TO ""
CC dave
CC undisclosed
CC "jürgen"
CC "jurgen@example.de"
CC ""
BCC hidden
BCC ""
BCC alice
HEADER X-Priority 1
HEADER x-priority ""
HEADER X-Spam-Flag yes
HEADER X-Nope ""
HEADER Message-ID "q1@example.com"
HEADER List-Id announce
HEADER Reply-To replies
HEADER Subject "aus  Berlin"
HEADER Subject "aus Berlin"
HEADER From "Alice Example <alice"
HEADER Content-Type ""
HEADER Content-Type multipart
HEADER Date 2024
HEADER X-Part-Hdr parthdrvalue
HEADER Subject "привет"
BODY numbers
BODY "café"
BODY "CAFÉ"
BODY cafe
BODY naive
BODY "naïve"
BODY "RÉSUMÉ"
BODY softbreak
BODY "köln"
BODY "σας"
BODY "ΣΑΣ"
BODY "straße"
BODY STRASSE
BODY secretpayload
BODY innerbody
BODY "Inner subject"
BODY parthdrvalue
BODY htmlword
BODY "html<b>word"
BODY preamble
BODY Quarterly
BODY "€ 5"
BODY "“today”"
BODY "распродажа"
BODY "РАСПРОДАЖА"
BODY "ärger über öl"
BODY nestedplain
BODY nestedhtml
BODY "été notes"
BODY notes.txt
BODY "needle-at-the-end"
BODY "final"
BODY "ﬁnal"
BODY "ab"
BODY "ＡＢ"
BODY undated
BODY ""
TEXT Quarterly
TEXT "Inner subject"
TEXT parthdrvalue
TEXT "x-part-hdr: parthdr"
TEXT "subject: photos"
TEXT data.bin
TEXT secretpayload
TEXT "grüße"
TEXT notes.txt
TEXT "multipart/alternative"
TEXT "=?iso"
TEXT "привет"
TEXT ""
CHARSET UTF-8 BODY "köln"
CHARSET US-ASCII BODY numbers
CHARSET ISO-8859-1 BODY "caf\xe9"
CHARSET ISO-8859-1 SUBJECT "Gr\xfc\xdfe"
CHARSET ISO-8859-1 BODY "\xe4rger"
OR SEEN DELETED
NOT OR SEEN DELETED
NOT NOT SEEN
(SEEN FLAGGED)
NOT (SEEN FLAGGED)
OR (SEEN FROM alice) (UNSEEN BODY "café")
OR OR 1 2 OR 3 BODY "straße"
NOT OR BODY "café" NOT SUBJECT photos
OR NOT 1 NOT 2
1:5 NOT 2 OR ANSWERED FLAGGED
UNSEEN UNDELETED SINCE 1-Jan-2024 NOT FROM alice
OR (KEYWORD work LARGER 500) (TEXT quarterly SMALLER 500)
NOT (OR (TO alice) (CC alice))
((((SEEN))))
OR SUBJECT report (BODY innerbody NOT DELETED)
RETURN (SAVE) OR FLAGGED KEYWORD work
$
UID $
NOT $
$ SEEN
OR $ DELETED
'''


def parse_internaldate(s):
    return int(datetime.datetime.strptime(s, "%d-%b-%Y %H:%M:%S %z").timestamp())


def program_lines():
    out = []
    for line in PROGRAMS.strip().split("\n"):
        # \xNN stands for a raw byte (ISO-8859-1 search strings)
        raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), line.encode("utf-8"))
        out.append(raw)
    return out


class SearchAgainstDovecot(unittest.TestCase):

    maxDiff = 6000

    def setUp(self):
        self.top = dovecot_peer.test_dir(self, "test_imap_search_dovecot.", HELPER)
        pw = pwd.getpwnam(OWNER)
        self.maildir = os.path.join(self.top, "Maildir")
        for sub in ("", "cur", "new", "tmp"):
            os.mkdir(os.path.join(self.maildir, sub), 0o700)
            os.chown(os.path.join(self.maildir, sub), pw.pw_uid, pw.pw_gid)
        old_tz = os.environ.get("TZ")
        os.environ["TZ"] = TZ            # Dovecot imports TZ (import_environment)
        try:
            self.peer = dovecot_peer.DovecotPeer(self.maildir)
            self.addCleanup(self.peer.stop)
            self.peer.start()
        finally:
            if old_tz is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = old_tz

    # ---------------------------------------------------------- IMAP

    def append(self, m, batch):
        hour_ago = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(time.time() - 3600))
        for flags, date, msg in batch:
            date = date or hour_ago
            typ, data = m.append("INBOX", "(%s)" % flags if flags else None, '"%s"' % date, msg)
            self.assertEqual(typ, "OK", data)

    def command(self, m, raw):
        """Send a raw command line (bytes) and return (untagged lines, tagged line)."""
        tag = m._new_tag()
        m.send(tag + b" " + raw + b"\r\n")
        untagged = []
        while True:
            line = m._get_line()
            if line.startswith(tag + b" "):
                return untagged, line
            untagged.append(line)

    def dovecot_search(self, m, program):
        """'OK uid...' or 'ERR NO ...' / 'ERR BAD ...', as the helper prints."""
        untagged, tagged = self.command(m, b"UID SEARCH " + program)
        status = tagged.split(b" ", 2)[1]
        if status != b"OK":
            return "ERR " + tagged.split(b" ", 1)[1].decode("utf-8", "replace")
        uids = []
        for line in untagged:
            if line.startswith(b"* SEARCH"):
                text = re.sub(rb"\(MODSEQ \d+\)", b"", line[len(b"* SEARCH"):])
                uids += [int(x) for x in text.split()]
        return " ".join(["OK"] + [str(u) for u in sorted(uids)])

    def fetch_all(self, m):
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)
        msgs = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            head = head.decode()
            flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()
            msgs.append({
                "uid": int(re.search(r"UID (\d+)", head).group(1)),
                "flags": sum(FLAG_BITS.get(f, 0) for f in flags),
                "keywords": [f for f in flags if not f.startswith("\\")],
                "date": parse_internaldate(re.search(r'INTERNALDATE "([^"]+)"', head).group(1)),
                "size": int(re.search(r"RFC822\.SIZE (\d+)", head).group(1)),
                "modseq": int(re.search(r"MODSEQ \((\d+)\)", head).group(1)),
                "data": body,
            })
        msgs.sort(key=lambda x: x["uid"])
        self.assertEqual(len(msgs), len(BATCH1) + len(BATCH2))
        return msgs

    # ---------------------------------------------------------- ours

    def ours(self, msgs, programs, now):
        d = os.path.join(self.top, "helper")
        os.mkdir(d)
        with open(os.path.join(d, "messages"), "w") as f:
            for x in msgs:
                f.write("%d %d %d %d %d %s\n" % (x["uid"], x["modseq"], x["size"], x["date"], x["flags"],
                                                 ",".join(x["keywords"]) or "-"))
                with open(os.path.join(d, str(x["uid"])), "wb") as g:
                    g.write(x["data"])
        with open(os.path.join(d, "programs"), "wb") as f:
            f.write(b"\n".join(programs) + b"\n")
        r = subprocess.run([HELPER, d, str(ZONE_MINUTES), str(now)], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), len(programs), r.stdout.decode())
        return lines

    # ---------------------------------------------------------- tests

    def test_every_key_finds_what_dovecot_finds(self):
        m1 = self.peer.imap()
        self.append(m1, BATCH1)
        self.assertEqual(m1.select("INBOX")[0], "OK")      # batch 1 is \Recent here only
        m1.logout()
        m = self.peer.imap()
        self.assertEqual(m.enable("CONDSTORE")[0], "OK")
        self.append(m, BATCH2)
        self.assertEqual(m.select("INBOX")[0], "OK")
        # later changes: other MODSEQs
        self.assertEqual(m.uid("STORE", "2", "+FLAGS", "(\\Flagged)")[0], "OK")
        self.assertEqual(m.uid("STORE", "6", "+FLAGS", "(\\Answered)")[0], "OK")
        msgs = self.fetch_all(m)
        self.assertEqual(sum(1 for x in msgs if x["flags"] & FLAG_BITS["\\Recent"]), len(BATCH2))
        programs = program_lines()
        now = int(time.time())
        theirs = [self.dovecot_search(m, p) for p in programs]
        mine = self.ours(msgs, programs, now)
        nodate = [x["uid"] for x in msgs if b"Subject: " + NODATE_SUBJECT.encode() in x["data"]][0]
        self.assertEqual(nodate, 6)

        diffs = []
        for p, t, o in zip(programs, theirs, mine):
            if p.startswith(b"RETURN (SAVE)"):
                continue            # Dovecot answers nothing; the $ programs after it check the result
            if p in DIFFERENCES:
                want, why = DIFFERENCES[p]
                if o != want or t == o:
                    diffs.append("UID SEARCH %s (an intended difference: %s)\n    dovecot: %s\n"
                                 "    ours:    %s\n    want:    %s" % (p.decode("latin-1"), why, t, o, want))
                continue
            if p.startswith(b"SENT"):
                t, o = self.drop(t, nodate), self.drop(o, nodate)
            if t != o:
                diffs.append("UID SEARCH %s\n    dovecot: %s\n    ours:    %s" % (p.decode("latin-1"), t, o))
        self.assertEqual(diffs, [], "\n" + "\n".join(diffs))
        m.logout()

    @staticmethod
    def drop(result, uid):
        return " ".join(x for x in result.split() if x != str(uid))
