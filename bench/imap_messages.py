#!/usr/bin/env python3
"""bench/imap_messages.py: realistic messages for the IMAP benchmark
(bench/imap.py), written straight into a Maildir's cur/.

    python3 bench/imap_messages.py MAILDIR COUNT SEED [WORD]

Deterministic: the same COUNT and SEED give the same files, byte for
byte, and the same names.  Sizes are log-uniform from 2 KB to 50 KB (many
small messages, fewer large ones, as in a real mailbox).  About half are
text/plain (7bit or quoted-printable UTF-8), a fifth multipart/alternative
(text and HTML), the rest multipart/mixed with one or two base64
attachments (PDF, JPEG, ZIP; some file names in RFC 2231 form).  A fifth
of the senders and subjects are RFC 2047 encoded words (UTF-8 B and Q,
ISO-8859-1 Q).  WORD (default "quokka") is in the text of one message in
37 and in the subject of one in 500, and nowhere else: SEARCH TEXT WORD
finds exactly those.

Names are cur/TIME.MnPpQn.mx.example.test,S=SIZE,W=VSIZE:2,FLAGS, as
Postern's and Dovecot's own deliveries write them; about three in four
are \\Seen, some \\Answered or \\Flagged.  Line ends are LF, as delivered.
Each file's mtime is its Date: (the internal date). """

import base64
import math
import os
import quopri
import random
import sys
import time

BASE_TIME = 1767225600          # 2026-01-01 00:00:00 UTC
MIN_SIZE, MAX_SIZE = 2048, 51200

WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if more no out so said
what up its about into than them can only other new some could time these two may then do first any
my now such like our over man me even most made after also did many before must through back years
where much your way well down should because each just those people how too little state good very
make world still own see men work long get here between both life being under never day same another
know while last might us great old year off come since against go came right used take three meeting
report budget quarter project review schedule invoice contract draft proposal release server network
customer delivery shipment warehouse account payment transfer holiday weekend conference agenda team
office support ticket update version feature deadline estimate analysis summary attached forwarded
please thanks regards tomorrow yesterday morning afternoon evening monday tuesday wednesday thursday
friday migration backup storage cluster database query index cache latency throughput benchmark
""".split()
ACCENTED = "café résumé naïve über Straße façade crème brûlée señor mañana Ærø Øresund déjà vu".split()
FIRST = "Anna Bernd Chloé Daniel Élodie Frank Greta Hugo Ingrid Jürgen Karin Lars Marta Nils Olga Pierre".split()
LAST = "Müller Schmidt Dubois Martin Rossi García Nowak Jensen Novák Kowalski Smith Johansson".split()
DOMAINS = ("example.org", "example.net", "mail.example.com", "lists.example.org", "corp.example.net")
LINES = 4000                    # pool of text lines


def encoded_word(rng, text):
    """text as one or more RFC 2047 encoded words, in one of three styles."""
    style = rng.randrange(3)
    if style == 0:
        return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode()).decode()
    if style == 1:
        q = quopri.encodestring(text.encode(), header=True).decode().replace("=\n", "")
        return "=?UTF-8?Q?%s?=" % q.replace("?", "=3F")
    q = quopri.encodestring(text.encode("latin-1", "replace"), header=True).decode().replace("=\n", "")
    return "=?ISO-8859-1?Q?%s?=" % q.replace("?", "=3F")


class Generator:
    def __init__(self, seed, word):
        self.rng = random.Random(seed)
        self.word = word
        rng = self.rng
        self.lines = []
        for _ in range(LINES):
            words, width = [], rng.randrange(40, 74)
            while sum(len(w) + 1 for w in words) < width:
                words.append(rng.choice(WORDS))
            self.lines.append(" ".join(words))
        self.utf8_lines = [l.replace(rng.choice(WORDS), rng.choice(ACCENTED), 1) for l in self.lines[:400]]

    def text(self, nbytes, utf8=False, word=False):
        """About nbytes of text lines (LF), the word in one line if asked."""
        rng = self.rng
        pool = self.utf8_lines if utf8 else self.lines
        n = max(1, nbytes // 58)
        out = rng.choices(pool, k=n)
        if word:
            k = rng.randrange(n)
            parts = out[k].split(" ")
            parts.insert(rng.randrange(len(parts) + 1), self.word)
            out[k] = " ".join(parts)
        # Paragraphs: an empty line now and then.
        for i in range(6, n, rng.randrange(5, 12)):
            out[i] = ""
        return "\n".join(out) + "\n"

    def person(self):
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        addr = "%s.%s@%s" % (first.lower().encode("ascii", "ignore").decode(),
                             last.lower().encode("ascii", "ignore").decode(), rng.choice(DOMAINS))
        name = "%s %s" % (first, last)
        if rng.random() < 0.2 or not name.isascii():
            return "%s <%s>" % (encoded_word(rng, name), addr), addr
        return "\"%s\" <%s>" % (name, addr), addr

    def headers(self, i, date, word_in_subject):
        rng = self.rng
        sender, addr = self.person()
        subject = " ".join(rng.choices(WORDS, k=rng.randrange(3, 9))).capitalize()
        if word_in_subject:
            subject += " " + self.word
        if rng.random() < 0.2:
            subject = encoded_word(rng, subject.replace(rng.choice(WORDS), rng.choice(ACCENTED), 1))
        if rng.random() < 0.3:
            subject = "Re: " + subject
        dt = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(date))
        h = ["Return-Path: <%s>" % addr,
             "Delivered-To: alice@example.test",
             "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n\tby mx.example.test (Postern) with ESMTPS"
             " id %08X\n\tfor <alice@example.test>; %s" % (i % 7, addr.split("@")[1], i % 7, addr.split("@")[1],
                                                          i % 250 + 1, rng.getrandbits(32), dt),
             "Received: from [10.%d.%d.%d] by mx%d.%s with ESMTPSA; %s"
             % (i % 200, i % 100, i % 50, i % 7, addr.split("@")[1], dt),
             "From: " + sender,
             "To: Alice Example <alice@example.test>"]
        if rng.random() < 0.3:
            h.append("Cc: " + ", ".join(self.person()[0] for _ in range(rng.randrange(1, 4))))
        h += ["Subject: " + subject,
              "Date: " + dt,
              "Message-ID: <%d.%08x@%s>" % (i, rng.getrandbits(32), addr.split("@")[1])]
        if subject.startswith("Re: "):
            ref = "<%d.%08x@%s>" % (max(0, i - 3), rng.getrandbits(32), rng.choice(DOMAINS))
            h += ["In-Reply-To: " + ref, "References: " + ref]
        h.append("MIME-Version: 1.0")
        return h

    def message(self, i, date):
        rng = self.rng
        size = int(math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))))
        word = i % 37 == 5
        h = self.headers(i, date, i % 500 == 7)
        room = max(600, size - sum(len(x) + 1 for x in h) - 200)
        kind = rng.random()
        if kind < 0.5 or room < 3000:
            if rng.random() < 0.3:
                body = quopri.encodestring(self.text(room, utf8=True, word=word).encode()).decode()
                h += ["Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: quoted-printable"]
            else:
                body = self.text(room, word=word)
                h += ["Content-Type: text/plain; charset=us-ascii; format=flowed", "Content-Transfer-Encoding: 7bit"]
            return "\n".join(h) + "\n\n" + body
        boundary = "----=_Part_%d_%08x" % (i, rng.getrandbits(32))
        if kind < 0.7:
            plain = self.text(room * 2 // 5, word=word)
            html = "<html><body>\n" + "".join("<p>%s</p>\n" % l for l in plain.split("\n") if l) + "</body></html>\n"
            h += ["Content-Type: multipart/alternative; boundary=\"%s\"" % boundary]
            parts = [("Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit", plain),
                     ("Content-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: 7bit", html)]
        else:
            text_len = min(room // 3, rng.randrange(400, 3000))
            parts = [("Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit",
                      self.text(text_len, utf8=True, word=word))]
            left = room - text_len
            n_att = 2 if left > 20000 and rng.random() < 0.4 else 1
            for k in range(n_att):
                raw = rng.randbytes(max(100, (left // n_att) * 3 // 4 - 100))
                ctype, ext = rng.choice((("application/pdf", "pdf"), ("image/jpeg", "jpg"),
                                         ("application/zip", "zip")))
                if rng.random() < 0.3:
                    disp = "attachment;\n filename*=UTF-8''r%%C3%%A9sum%%C3%%A9-%d.%s" % (k, ext)
                else:
                    disp = "attachment; filename=\"report-%d-%d.%s\"" % (i, k, ext)
                parts.append(("Content-Type: %s; name=\"report-%d-%d.%s\"\nContent-Transfer-Encoding: base64\n"
                              "Content-Disposition: %s" % (ctype, i, k, ext, disp),
                              base64.encodebytes(raw).decode()))
            h += ["Content-Type: multipart/mixed; boundary=\"%s\"" % boundary]
        body = "This is a multi-part message in MIME format.\n"
        for ph, pb in parts:
            body += "\n--%s\n%s\n\n%s" % (boundary, ph, pb)
        body += "\n--%s--\n" % boundary
        return "\n".join(h) + "\n\n" + body


def fill(maildir, count, seed, word="quokka"):
    """Write count messages into maildir/cur (new/ and tmp/ made empty)."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    g = Generator(seed, word)
    flag_choices = ("S",) * 12 + ("",) * 4 + ("RS", "FS", "F", "RS")
    for i in range(count):
        date = BASE_TIME + i * 587 + g.rng.randrange(500)
        data = g.message(i, date).encode()
        flags = g.rng.choice(flag_choices)
        name = "%d.M%dP%dQ%d.mx.example.test,S=%d,W=%d:2,%s" % (
            date, g.rng.randrange(1000000), 1000 + i % 30000, i + 1, len(data), len(data) + data.count(b"\n"), flags)
        path = os.path.join(maildir, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (date, date))


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: imap_messages.py MAILDIR COUNT SEED [WORD]")
    fill(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:])


if __name__ == "__main__":
    main()
