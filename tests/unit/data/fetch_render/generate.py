#!/usr/bin/env python3
"""Write golden.txt: Dovecot's FETCH responses for the messages here.

tests/unit/test_imap_fetch_render.c renders the same requests with
common/imap_fetch_render.c and compares byte for byte (see README).

Run as root from the top of the tree, with dovecot-imapd installed and
build/bin/postern built (tests/integration/dovecot_peer.py imports the
harness, which asks it for the service table):

    make build/bin/postern
    python3 tests/unit/data/fetch_render/generate.py

Every message goes into cur/ of a fresh Maildir owned by nobody, seen
(":2,S", so that RFC822 and RFC822.TEXT change no flag), with a fixed
mtime (its INTERNALDATE), one at a time with a NOOP after each so that
UIDs follow the list; then keywords and flags are stored.  Dovecot runs
with TZ=America/St_Johns so that INTERNALDATE has a zone with minutes
(-0330, -0230 in summer).  All requests use PEEK, so nothing changes
while the cases run.  For each message, the metadata as Dovecot reports
it ("FETCH n (UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE)") is written as
a "meta" line the C test can read without an IMAP parser, then every
case: the request and Dovecot's exact untagged FETCH response, or the
response code of its tagged NO.
"""

import calendar
import os
import pwd
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "integration"))

import dovecot_peer  # noqa: E402
from postern_harness import HOST  # noqa: E402

OWNER = "nobody"
TZ = "America/St_Johns"

# (file, Maildir info letters, flags stored afterwards, internal date as
# UTC "YYYY-MM-DD hh:mm:ss")
MESSAGES = [
    ("simple.eml", "S", "\\Answered \\Flagged $Forwarded Junk", "2024-01-02 09:11:12"),
    ("nested.eml", "S", "", "2024-07-09 23:59:59"),
    ("qp.eml", "S", "\\Draft \\Deleted", "1999-12-31 03:00:00"),
    ("forward.eml", "S", "", "2024-03-10 05:30:00"),
    ("uuencode.eml", "S", "", "2024-11-30 12:00:00"),
    ("headeronly.eml", "S", "", "2024-02-29 00:00:01"),
    ("utf8.eml", "S", "", "2024-10-05 18:45:00"),
    ("nul.eml", "S", "", "2024-06-01 04:05:06"),
]

# Requests per message, written in the order imap_fetch_render sends the
# items (Dovecot keeps the order asked, simple items first).
CASES = {
    "simple.eml": [
        "UID FLAGS INTERNALDATE RFC822.SIZE",
        "UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE ENVELOPE",
        "ENVELOPE BODY BODYSTRUCTURE",
        "RFC822.HEADER RFC822.TEXT",
        "RFC822.SIZE RFC822",
        "BODY.PEEK[]",
        "BODY.PEEK[HEADER]",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[1]",
        "BODY.PEEK[1.MIME]",
        "BODY.PEEK[2]",
        "BODY.PEEK[1.1]",
        "BODY.PEEK[1.HEADER]",
        "BODY.PEEK[1.TEXT]",
        "BODY.PEEK[HEADER.FIELDS (Subject)]",
        "BODY.PEEK[HEADER.FIELDS (x-mixed-case)]",
        "BODY.PEEK[HEADER.FIELDS (RECEIVED date From)]",
        "BODY.PEEK[HEADER.FIELDS (No-Such-Field)]",
        "BODY.PEEK[HEADER.FIELDS.NOT (Received Subject X-Mixed-Case)]",
        "BODY.PEEK[HEADER.FIELDS (Subject)]<3.100>",
        "BODY.PEEK[]<0.1>",
        "BODY.PEEK[]<0.454>",
        "BODY.PEEK[]<0.455>",
        "BODY.PEEK[]<453.10>",
        "BODY.PEEK[]<454.10>",
        "BODY.PEEK[]<455.1>",
        "BODY.PEEK[]<0.4294967296>",
        "BODY.PEEK[TEXT]<10.5>",
        "BODY.PEEK[HEADER]<400.10>",
        "UID BODY.PEEK[HEADER.FIELDS (From To Subject)] BODY.PEEK[TEXT]<0.20>",
        "BINARY.PEEK[]",
        "BINARY.PEEK[1]",
        "BINARY.SIZE[1]",
        "BINARY.SIZE[]",
        "BINARY.PEEK[1]<5.5>",
    ],
    "nested.eml": [
        "BODYSTRUCTURE",
        "ENVELOPE",
        "BODY.PEEK[HEADER]",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[1]",
        "BODY.PEEK[1.MIME]",
        "BODY.PEEK[1.1]",
        "BODY.PEEK[1.1.MIME]",
        "BODY.PEEK[1.2]",
        "BODY.PEEK[1.3]",
        "BODY.PEEK[2]",
        "BODY.PEEK[2.MIME]",
        "BODY.PEEK[2.HEADER]",
        "BODY.PEEK[2.TEXT]",
        "BODY.PEEK[2.HEADER.FIELDS (Subject To)]",
        "BODY.PEEK[2.HEADER.FIELDS.NOT (Subject)]",
        "BODY.PEEK[2.1]",
        "BODY.PEEK[2.1.MIME]",
        "BODY.PEEK[2.2]",
        "BODY.PEEK[2.2.MIME]",
        "BODY.PEEK[2.2.1]",
        "BODY.PEEK[2.3]",
        "BODY.PEEK[3]",
        "BODY.PEEK[4.MIME]",
        "BODY.PEEK[5]",
        "BODY.PEEK[3.HEADER]",
        "BODY.PEEK[2.TEXT]<0.5>",
        "BODY.PEEK[1.1]<10.20>",
        "BODY.PEEK[3]<100.1000>",
        "BODY.PEEK[2.2.MIME]<0.14> BODY.PEEK[2.2]<8.8>",
        "BINARY.PEEK[1.1]",
        "BINARY.PEEK[1.2]",
        "BINARY.PEEK[2.1]",
        "BINARY.PEEK[2.2]",
        "BINARY.PEEK[3]",
        "BINARY.PEEK[4]",
        "BINARY.PEEK[1]",
        "BINARY.PEEK[2]",
        "BINARY.SIZE[1.1] BINARY.SIZE[1.2] BINARY.SIZE[2.2] BINARY.SIZE[3] BINARY.SIZE[4]",
        "BINARY.PEEK[3]<250.100>",
        "BINARY.PEEK[3]<0.5>",
        "BINARY.PEEK[3]<1.3>",
        "BINARY.PEEK[9]",
        "BINARY.SIZE[9]",
        "BINARY.PEEK[1.1]<0.3> BINARY.PEEK[1.1]<95.1> BINARY.PEEK[1.1]<94.5>",
    ],
    "qp.eml": [
        "FLAGS BODYSTRUCTURE",
        "BODY.PEEK[1]",
        "BINARY.PEEK[1] BINARY.SIZE[1]",
        "BINARY.PEEK[1]<0.4>",
        "BINARY.PEEK[1]<5.3>",
        "BINARY.PEEK[1]<70.100>",
        "BINARY.PEEK[1]<75.1>",
    ],
    "forward.eml": [
        "BODYSTRUCTURE",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[1]",
        "BODY.PEEK[1.MIME]",
        "BODY.PEEK[1.HEADER]",
        "BODY.PEEK[1.TEXT]",
        "BODY.PEEK[1.1]",
        "BODY.PEEK[1.1.MIME]",
        "BODY.PEEK[1.HEADER.FIELDS (SUBJECT)]",
        "BODY.PEEK[1.HEADER.FIELDS.NOT (SUBJECT)]",
        "BODY.PEEK[2]",
        "BINARY.PEEK[1]",
        "BINARY.PEEK[1.1]",
        "BINARY.SIZE[1.1]",
    ],
    "uuencode.eml": [
        "BODYSTRUCTURE",
        "BODY.PEEK[2]",
        "BINARY.PEEK[1]",
        "BINARY.PEEK[2]",
        "BINARY.SIZE[2]",
    ],
    "headeronly.eml": [
        "ENVELOPE BODYSTRUCTURE",
        "BODY.PEEK[]",
        "BODY.PEEK[HEADER]",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[1]",
        "BODY.PEEK[HEADER.FIELDS (Subject)]",
        "RFC822.SIZE RFC822.HEADER RFC822.TEXT",
    ],
    "utf8.eml": [
        "INTERNALDATE ENVELOPE BODYSTRUCTURE",
        "BODY.PEEK[1]",
        "BINARY.PEEK[1]",
        "BODY.PEEK[HEADER.FIELDS (To Subject)]",
    ],
    "nul.eml": [
        "BODY.PEEK[]",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[]<40.10>",
        "BINARY.PEEK[]",
        "BINARY.PEEK[1]",
        "BINARY.SIZE[1]",
        "BINARY.PEEK[1]<0.6>",
    ],
}

# Cases where Postern answers otherwise on purpose: written with a
# "differs" line, which the C test takes as "do not compare" (the test
# checks our answer to such requests on its own).
DIFFERS = {
    ("nested.eml", "BINARY.PEEK[1]"):
        "BINARY[] of a multipart: Dovecot decodes every part inside it and rewrites their"
        " Content-Transfer-Encoding to binary; imap_mime sends the multipart's body as it is"
        " (RFC 3516 decodes a part's own encoding, and a multipart has none)",
    ("nested.eml", "BINARY.PEEK[2]"):
        "BINARY[] of a message/rfc822 part: Dovecot decodes the parts of the message inside"
        " as for a multipart; imap_mime sends the part's body as it is",
}

SYSTEM = {"\\Answered": 0x01, "\\Flagged": 0x02, "\\Deleted": 0x04, "\\Seen": 0x08,
          "\\Draft": 0x10, "\\Recent": 0x20}          # IMAP_FLAG_* of common/imap_types.h
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LITERAL = re.compile(rb"~?\{(\d+)\}\r\n$")


class Client:
    """A raw IMAP client: responses kept byte for byte, literals included."""

    def __init__(self, port):
        import socket
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.buf = b""
        self.n = 0
        self.read_response()

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("Dovecot closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def _bytes(self, n):
        while len(self.buf) < n:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self):
        out = b""
        while True:
            line = self._line()
            out += line
            m = LITERAL.search(line)
            if not m:
                return out
            out += self._bytes(int(m.group(1)))

    def command(self, text):
        """(untagged responses, tagged response)."""
        self.n += 1
        tag = b"g%d" % self.n
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                return untagged, r
            untagged.append(r)

    def ok(self, text):
        untagged, tagged = self.command(text)
        if b" OK " not in tagged[:12]:
            raise AssertionError("%s: %r" % (text, tagged))
        return untagged


def fetch_of(untagged, seq):
    prefix = b"* %d FETCH " % seq
    found = [r for r in untagged if r.startswith(prefix)]
    if len(found) != 1:
        raise AssertionError("want one FETCH response for %d, got %r" % (seq, untagged))
    return found[0]


def meta_line(seq, name, resp):
    text = resp.decode("latin-1")
    uid = int(re.search(r"UID (\d+)", text).group(1))
    modseq = int(re.search(r"MODSEQ \((\d+)\)", text).group(1))
    size = int(re.search(r"RFC822\.SIZE (\d+)", text).group(1))
    flags, keywords = 0, []
    for f in re.search(r"FLAGS \(([^)]*)\)", text).group(1).split():
        if f in SYSTEM:
            flags |= SYSTEM[f]
        else:
            keywords.append(f)
    d = re.search(r'INTERNALDATE "(\d\d)-(\w\w\w)-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"', text)
    local = calendar.timegm((int(d.group(3)), MONTHS.index(d.group(2)) + 1, int(d.group(1)),
                             int(d.group(4)), int(d.group(5)), int(d.group(6))))
    zone = (int(d.group(8)) * 60 + int(d.group(9))) * (-1 if d.group(7) == "-" else 1)
    return ("meta %d %s uid=%d modseq=%d size=%d flags=%d date=%d zone=%d keywords=%s\n"
            % (seq, name, uid, modseq, size, flags, local - zone * 60, zone, ",".join(keywords) or "-"))


def main():
    why = dovecot_peer.unavailable()
    if why:
        sys.exit("cannot run Dovecot: " + why)
    os.environ["TZ"] = TZ   # Dovecot imports TZ (import_environment)
    time.tzset()
    top = tempfile.mkdtemp(prefix="fetch_render_golden.")
    os.chmod(top, 0o711)
    pw = pwd.getpwnam(OWNER)
    maildir = os.path.join(top, "Maildir")
    for sub in ("", "cur", "new", "tmp"):
        os.mkdir(os.path.join(maildir, sub), 0o700)
        os.chown(os.path.join(maildir, sub), pw.pw_uid, pw.pw_gid)
    peer = dovecot_peer.DovecotPeer(maildir)
    peer.start()
    try:
        c = Client(peer.port)
        c.ok("LOGIN %s %s" % (peer.user, peer.password))
        c.ok("SELECT INBOX")
        for i, (name, info, _, date) in enumerate(MESSAGES):
            path = os.path.join(maildir, "cur", "%d.golden%d.host:2,%s" % (1700000000 + i, i, info))
            shutil.copyfile(os.path.join(HERE, name), path)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            t = calendar.timegm(time.strptime(date, "%Y-%m-%d %H:%M:%S"))
            os.utime(path, (t, t))
            c.ok("NOOP")
        for i, (_, _, stored, _) in enumerate(MESSAGES):
            if stored:
                c.ok("STORE %d +FLAGS.SILENT (%s)" % (i + 1, stored))
        out = [b"# Golden FETCH responses of Dovecot %s for the messages of this directory,\n"
               % peer_version().encode(),
               b"# written by generate.py (see README): do not edit by hand.\n"]
        for i, (name, _, _, _) in enumerate(MESSAGES):
            seq = i + 1
            resp = fetch_of(c.ok("FETCH %d (UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE)" % seq), seq)
            out.append(meta_line(seq, name, resp).encode())
            for spec in CASES[name]:
                untagged, tagged = c.command("FETCH %d (%s)" % (seq, spec))
                out.append(b"fetch %d (%s)\n" % (seq, spec.encode()))
                if (name, spec) in DIFFERS:
                    out.append(b"differs %s\n" % DIFFERS[(name, spec)].encode())
                if b" OK " in tagged[:12]:
                    resp = fetch_of(untagged, seq)
                    out.append(b"response %d\n%s\n" % (len(resp), resp))
                else:
                    code = re.search(rb"\[([A-Z-]+)\]", tagged)
                    if code is None:
                        raise AssertionError("FETCH %d (%s): %r" % (seq, spec, tagged))
                    out.append(b"error %s\n" % code.group(1))
        c.ok("LOGOUT")
    finally:
        peer.stop()
        shutil.rmtree(top, ignore_errors=True)
    with open(os.path.join(HERE, "golden.txt"), "wb") as f:
        f.write(b"".join(out))
    print("wrote %s" % os.path.join(HERE, "golden.txt"))


def peer_version():
    import subprocess
    return subprocess.run([dovecot_peer.DOVECOT, "--version"], stdout=subprocess.PIPE,
                          check=True).stdout.decode().split()[0]


if __name__ == "__main__":
    main()
