"""Dovecot's Maildir files against Dovecot itself (issue 10, section 2):
common/dovecot_uidlist and common/dovecot_keywords, through the test
program BUILD/tests/helpers/dovecot_formats, must read dovecot-uidlist
and dovecot-keywords exactly as the Dovecot that wrote them reports the
folder over IMAP (UIDVALIDITY, UIDNEXT, each message's UID and keywords,
RFC822.SIZE where the uidlist carries it), including the records Dovecot
appends after its header (read again with the tail parser); and files
they WRITE must be taken by Dovecot as they are: the same UIDVALIDITY,
UIDs, UIDNEXT and keywords over IMAP.  Dovecot runs privately
(dovecot_peer.py) over a Maildir owned by nobody; without root or
without dovecot-imapd the tests skip, saying why."""

import json
import os
import pwd
import re
import subprocess
import unittest

import dovecot_peer
from postern_harness import BUILD

HELPER = os.path.join(BUILD, "tests", "helpers", "dovecot_formats")
OWNER = "nobody"
# Maildir info letters of the IMAP system flags (cr.yp.to/proto/maildir.html).
SYSTEM_FLAGS = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "T": "\\Deleted", "D": "\\Draft"}


def message(subject, body="body\r\n"):
    return ("From: <a@example.test>\r\nSubject: %s\r\n\r\n%s" % (subject, body)).encode()


def parse_fetch(data):
    """{uid: (set of flags without \\Recent, RFC822.SIZE or None)} of a UID FETCH reply."""
    out = {}
    for item in data:
        if isinstance(item, tuple):
            item = item[0]
        if not item:
            continue
        text = item.decode()
        uid = int(re.search(r"UID (\d+)", text).group(1))
        flags = set(re.search(r"FLAGS \(([^)]*)\)", text).group(1).split()) - {"\\Recent"}
        size = re.search(r"RFC822\.SIZE (\d+)", text)
        out[uid] = (flags, int(size.group(1)) if size else None)
    return out


class DovecotFormats(unittest.TestCase):

    maxDiff = 4000

    def setUp(self):
        self.top = dovecot_peer.test_dir(self, "test_dovecot_formats.", HELPER)
        pw = pwd.getpwnam(OWNER)
        self.ids = (pw.pw_uid, pw.pw_gid)
        self.maildir = os.path.join(self.top, "Maildir")
        for sub in ("", "cur", "new", "tmp"):
            self.mkdir(os.path.join(self.maildir, sub))

    # ---------------------------------------------------------- helpers

    def mkdir(self, path):
        os.mkdir(path, 0o700)
        os.chown(path, *self.ids)

    def put(self, sub, name, data):
        """A message file as another program (Postern) would leave it."""
        path = os.path.join(self.maildir, sub, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, *self.ids)
        return path

    def peer(self):
        peer = dovecot_peer.DovecotPeer(self.maildir)
        self.addCleanup(peer.stop)
        peer.start()
        return peer

    def helper(self, *args, stdin=None):
        r = subprocess.run([HELPER] + [str(a) for a in args], input=stdin, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, "%s %s: %s" % (HELPER, " ".join(map(str, args)), r.stderr.decode()))
        return r.stdout

    def read_uidlist(self, *tail):
        return json.loads(self.helper("read-uidlist", os.path.join(self.maildir, "dovecot-uidlist"), *tail))

    def read_keywords(self):
        return json.loads(self.helper("read-keywords", os.path.join(self.maildir, "dovecot-keywords")))

    def imap_state(self, m):
        """(UIDVALIDITY, UIDNEXT, {uid: (flags, size)}) of INBOX."""
        typ, _ = m.select("INBOX")
        self.assertEqual(typ, "OK")
        uidvalidity = int(m.response("UIDVALIDITY")[1][0])
        uidnext = int(m.response("UIDNEXT")[1][0])
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        return uidvalidity, uidnext, parse_fetch(data)

    def disk_state(self, uidlist, keywords):
        """{uid: flags} of the message files, named through OUR parsers: the
        base name gives the UID (the last record of that base, as Dovecot
        does), the info letters the system flags and keywords."""
        by_base = {}
        for r in uidlist["records"]:
            by_base[r["base"]] = r["uid"]
        out = {}
        for sub in ("new", "cur"):
            for name in os.listdir(os.path.join(self.maildir, sub)):
                base, _, info = name.partition(":")
                self.assertIn(base, by_base, "%s/%s has no record in dovecot-uidlist" % (sub, name))
                letters = info[2:] if info.startswith("2,") else ""
                flags = set()
                for c in letters:
                    if c in SYSTEM_FLAGS:
                        flags.add(SYSTEM_FLAGS[c])
                    else:
                        self.assertIn(c, keywords, "%s: letter %s has no name in dovecot-keywords" % (name, c))
                        flags.add(keywords[c])
                out[by_base[base]] = flags
        return out

    def snapshot(self):
        """(inode, bytes) of dovecot-uidlist now, or None before it exists."""
        path = os.path.join(self.maildir, "dovecot-uidlist")
        try:
            with open(path, "rb") as f:
                return os.fstat(f.fileno()).st_ino, f.read()
        except FileNotFoundError:
            return None

    def check_tail(self, old, new):
        """When new is old with lines appended (same inode), the tail parser
        from old's end must give exactly new's records after old's.  True
        when the pair was such an append."""
        if old is None or new is None or old[0] != new[0] or not new[1].startswith(old[1]):
            return False
        path = os.path.join(self.top, "snapshot")
        with open(path, "wb") as f:
            f.write(old[1])
        first = json.loads(self.helper("read-uidlist", path))
        with open(path, "wb") as f:
            f.write(new[1])
        full = json.loads(self.helper("read-uidlist", path))
        last = first["records"][-1]["uid"] if first["records"] else 0
        tail = json.loads(self.helper("read-uidlist", path, first["end"], last))
        self.assertEqual(tail["records"], full["records"][len(first["records"]):])
        self.assertEqual(first["end"] + tail["end"], full["end"])
        return new[1] != old[1]

    # ---------------------------------------------------------- tests

    def test_we_read_what_dovecot_wrote(self):
        peer = self.peer()
        m = peer.imap()
        snaps = [self.snapshot()]
        m.select("INBOX")
        for flags, subject in (("(\\Seen $Forwarded)", "one"), ("(Junk $Label1)", "two"), (None, "three")):
            typ, _ = m.append("INBOX", flags, None, message(subject))
            self.assertEqual(typ, "OK")
            snaps.append(self.snapshot())
        # Delivered by another program: LF line ends and no W= in the name,
        # so Dovecot must measure it and keep the size in the record (W).
        self.put("new", "1700000000.M1P1Q1.elsewhere", b"From: <x@y>\nSubject: lf\n\nline one\nline two\n")
        self.assertEqual(m.noop()[0], "OK")
        snaps.append(self.snapshot())
        self.assertEqual(m.uid("STORE", "3", "+FLAGS", "($Forwarded Junk)")[0], "OK")
        self.assertEqual(m.uid("STORE", "2", "+FLAGS", "(\\Deleted)")[0], "OK")
        self.assertEqual(m.expunge()[0], "OK")
        snaps.append(self.snapshot())
        for flags, subject in (("(NewKw)", "four"), ("(\\Flagged $Label2)", "five")):
            self.assertEqual(m.append("INBOX", flags, None, message(subject))[0], "OK")
            snaps.append(self.snapshot())
        uidvalidity, uidnext, imap = self.imap_state(m)
        m.logout()
        peer.stop()
        snaps.append(self.snapshot())
        self.assertEqual(sorted(imap), [1, 3, 4, 5, 6], imap)

        uidlist = self.read_uidlist()
        keywords = self.read_keywords()
        self.assertEqual(uidlist["uidvalidity"], uidvalidity)
        self.assertEqual(uidlist["nextuid"], uidnext)
        self.assertRegex(uidlist["guid"], r"^[0-9a-f]{32}$")
        self.assertEqual(self.disk_state(uidlist, keywords), {uid: flags for uid, (flags, _) in imap.items()})
        self.assertTrue({"$Forwarded", "Junk", "$Label1", "NewKw", "$Label2"} <= set(keywords.values()), keywords)
        # Dovecot trusts W for RFC822.SIZE: ours must read the same number.
        records = {r["uid"]: r for r in uidlist["records"]}
        self.assertEqual(records[4]["base"], "1700000000.M1P1Q1.elsewhere")
        self.assertEqual(records[4]["vsize"], imap[4][1])
        self.assertEqual(records[4]["vsize"], len(b"From: <x@y>\r\nSubject: lf\r\n\r\nline one\r\nline two\r\n"))
        # Dovecot appended records after its header at least once, and the
        # tail parser read each append as the whole parser did.
        appends = [self.check_tail(a, b) for a, b in zip(snaps, snaps[1:])]
        self.assertTrue(any(appends), "Dovecot never appended to dovecot-uidlist: %r" % snaps)
        self.assertEqual(peer.errors(), [])

    def test_dovecot_reads_what_we_wrote(self):
        # Names as Postern's local delivery makes them (S= and W=), one
        # without sizes (its record carries W), and one file with no record.
        files = {
            5: ("cur", "1600000000.M1P1Q1.host,S=%d,W=%d", ":2,Sa", message("a")),
            17: ("cur", "1600000001.M2P1Q2.host,S=%d,W=%d", ":2,bc", message("b")),
            300: ("new", "1600000002.M3P1Q3.host,S=%d,W=%d", "", message("c")),
            301: ("cur", "1600000003.M4P1Q4.host", ":2,FT", b"Subject: d\n\nno CR here\n"),
        }
        records = []
        for uid, (sub, base, info, data) in sorted(files.items()):
            if "%d" in base:
                base = base % (len(data), len(data))
                vsize = "-"
            else:
                vsize = str(len(data.replace(b"\n", b"\r\n")))
            self.put(sub, base + info, data)
            # The record of 17 names the file with older flags: Dovecot
            # matches by base name (our writer keeps only the base).
            records.append("%d %s %s%s\n" % (uid, vsize, base, ":2,S" if uid == 17 else ""))
        self.put("new", "1600000004.M5P1Q5.host,S=16,W=17", message("e")[:16])
        guid = "00112233445566778899aabbccddeeff"
        self.helper("write-uidlist", os.path.join(self.maildir, "dovecot-uidlist"), 123456789, 500, guid,
                    stdin="".join(records).encode())
        self.helper("write-keywords", os.path.join(self.maildir, "dovecot-keywords"), "$Forwarded", "Junk", "$Label1")
        for name in ("dovecot-uidlist", "dovecot-keywords"):
            os.chown(os.path.join(self.maildir, name), *self.ids)

        peer = self.peer()
        m = peer.imap()
        uidvalidity, uidnext, imap = self.imap_state(m)
        self.assertEqual(uidvalidity, 123456789)
        self.assertEqual({uid: flags for uid, (flags, _) in imap.items()}, {
            5: {"\\Seen", "$Forwarded"},
            17: {"Junk", "$Label1"},
            300: set(),
            301: {"\\Flagged", "\\Deleted"},
            500: set(),            # the file without a record: the N we wrote
        })
        self.assertEqual(uidnext, 501)
        self.assertEqual(imap[301][1], len(b"Subject: d\r\n\r\nno CR here\r\n"))
        # And back: Dovecot adds a keyword and a message; our parsers read
        # its files with our UIDVALIDITY, GUID and UIDs kept.
        self.assertEqual(m.uid("STORE", "17", "+FLAGS", "(Fresh)")[0], "OK")
        self.assertEqual(m.append("INBOX", "(Junk)", None, message("f"))[0], "OK")
        uidvalidity, uidnext, imap = self.imap_state(m)
        m.logout()
        peer.stop()
        self.assertEqual(sorted(imap), [5, 17, 300, 301, 500, 501])
        uidlist = self.read_uidlist()
        keywords = self.read_keywords()
        self.assertEqual((uidlist["uidvalidity"], uidlist["guid"], uidlist["nextuid"]), (123456789, guid, 502))
        self.assertEqual(keywords, {"a": "$Forwarded", "b": "Junk", "c": "$Label1", "d": "Fresh"})
        self.assertEqual(self.disk_state(uidlist, keywords), {uid: flags for uid, (flags, _) in imap.items()})
        self.assertEqual(peer.errors(), [])


if __name__ == "__main__":
    unittest.main()
