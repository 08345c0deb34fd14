"""Mail sent over SMTP comes back byte-exact over POP3 (issue 2, item 13)."""

import random
import re
import unittest

from postern_harness import PosternTestCase, make_message

SENDER = "roundtrip@example.org"
# Authentication-Results says "none": the loopback client is not checked
# (spf_skip_addresses), and port 25 marks every message.
ADDED_HEADERS = (b"return-path", b"delivered-to", b"received", b"authentication-results")
TWO_MB = 2 * 1024 * 1024


def dot_lines_body(i):
    """Lines that SMTP must dot-stuff and POP3 must stuff again."""
    return (b"Lines starting with dots follow.\r\n"
            b".\r\n"
            b"..\r\n"
            b"...\r\n"
            b".hidden line %d\r\n"
            b". space after dot\r\n"
            b"\r\n"
            b" leading space, trailing spaces   \r\n"
            b"\ttab line\t\r\n"
            b"a line of 998 octets: " + b"x" * (998 - 22) + b"\r\n"
            b".last line starts with a dot\r\n") % i


def eight_bit_body(i, rng):
    """8-bit octets (0x80-0xff) and UTF-8 text, no NUL, no bare CR or LF."""
    high = bytes(range(0x80, 0x100))
    lines = [b"8-bit message %d" % i,
             "UTF-8: gr\u00fc\u00dfe, \u65e5\u672c\u8a9e, \u0440\u0443\u0441\u0441\u043a\u0438\u0439".encode(),
             high[:64], high[64:],
             bytes(rng.randrange(0x80, 0x100) for _ in range(200)),
             b".\xff line starting with a dot and 8-bit"]
    return b"\r\n".join(lines) + b"\r\n"


def plain_body(i, rng):
    n = rng.randrange(1, 40)
    return b"".join(b"plain line %d of message %d\r\n" % (k, i) for k in range(n))


def big_body(i, eight_bit):
    """A body of a little over 2 MB in 76-octet lines (some with dots)."""
    out = []
    size = 0
    k = 0
    while size < TWO_MB + 1000:
        if k % 97 == 0:
            line = b".dot line %08d" % k
        elif eight_bit and k % 5 == 0:
            line = (b"\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7" * 8)[:72] + b"%04d" % (k % 10000)
        else:
            line = (b"%08d big message %d " % (k, i)).ljust(76, b"z")
        out.append(line + b"\r\n")
        size += len(line) + 2
        k += 1
    return b"".join(out)


def strict_retr(p, num):
    """RETR num on poplib connection p, decoded as RFC 1939 says, strictly.

    poplib.retr() is lenient: it accepts bare LF line ends and removes a dot
    only from lines starting with "..", so a server that forgets to
    byte-stuff ".hidden" or sends LF would pass.  Here every line must end
    in CRLF, and a leading "." is always removed (RFC 1939 section 3).
    Returns (message bytes, octets on the wire before the terminator).
    """
    p._putcmd("RETR %d" % num)
    resp = p._getresp()
    if not resp.startswith(b"+OK"):
        raise AssertionError("RETR %d: %r" % (num, resp))
    out = []
    while True:
        line = p.file.readline(1 << 20)
        if not line:
            raise AssertionError("RETR %d: connection closed before the terminating dot" % num)
        if not line.endswith(b"\r\n") or b"\r" in line[:-2] or b"\n" in line[:-2]:
            raise AssertionError("RETR %d: line not terminated by CRLF (or bare CR/LF inside): %r"
                                 % (num, line[:120]))
        if line == b".\r\n":
            return b"".join(out)
        if line.startswith(b"."):
            line = line[1:]
        out.append(line)


class MailRoundtrip(PosternTestCase):

    def build_messages(self, tree):
        rng = random.Random(2)
        rcpt = tree.addr("alice")
        msgs = {}
        for i in range(100):
            tid = "rt-%03d" % i
            if i == 10:
                body, eight = big_body(i, False), False
            elif i == 60:
                body, eight = big_body(i, True), True
            elif i % 3 == 0:
                body, eight = dot_lines_body(i), False
            elif i % 3 == 1:
                body, eight = eight_bit_body(i, rng), True
            else:
                body, eight = plain_body(i, rng), False
            extra = [b"Content-Type: text/plain; charset=utf-8",
                     b"Content-Transfer-Encoding: 8bit"] if eight else []
            msgs[tid] = (make_message(tid, SENDER, rcpt, body, extra), eight)
        return msgs

    def test_mail_roundtrip_100_messages_byte_exact_over_pop3(self):
        tree = self.start_tree()
        msgs = self.build_messages(tree)
        self.assertTrue(any(len(m) >= TWO_MB for m, _ in msgs.values()))

        # Send, four SMTP sessions of 25 messages each.
        ids = sorted(msgs)
        for start in range(0, len(ids), 25):
            s = tree.smtp()
            try:
                self.assertTrue(s.has_extn("8bitmime"), "EHLO lacks 8BITMIME")
                for tid in ids[start:start + 25]:
                    msg, eight = msgs[tid]
                    opts = ["BODY=8BITMIME"] if eight else []
                    refused = s.sendmail(SENDER, [tree.addr("alice")], msg, mail_options=opts)
                    self.assertEqual(refused, {}, "message %s" % tid)
            finally:
                s.quit()

        n = tree.wait_count("alice", 100, seconds=60)
        self.assertEqual(n, 100, "messages in alice's Maildir")

        p = tree.pop3("alice")
        try:
            count, total = p.stat()
            self.assertEqual(count, 100, "STAT count")
            _, listing, _ = p.list()
            sizes = {}
            for entry in listing:
                num, size = entry.split()
                sizes[int(num)] = int(size)
            self.assertEqual(sorted(sizes), list(range(1, 101)), "LIST numbers")
            self.assertEqual(sum(sizes.values()), total, "STAT size is the sum of LIST sizes")
            _, uidl, _ = p.uidl()
            uids = [e.split()[1] for e in uidl]
            self.assertEqual(len(uids), 100)
            self.assertEqual(len(set(uids)), 100, "UIDL values are unique")

            seen = set()
            for num in range(1, 101):
                raw = strict_retr(p, num)
                self.assertEqual(len(raw), sizes[num], "LIST size of message %d equals its RETR octets" % num)
                self.check_message(tree, raw.split(b"\r\n")[:-1], msgs, seen)
            self.assertEqual(seen, set(msgs), "every sent message came back once")
        finally:
            p.quit()

        # UIDs persist across sessions; DELE + QUIT removes for good.
        p = tree.pop3("alice")
        try:
            _, uidl2, _ = p.uidl()
            self.assertEqual(sorted(e.split()[1] for e in uidl2), sorted(uids), "UIDL stable across sessions")
            for num in range(1, 101):
                p.dele(num)
            self.assertTrue(p.quit().startswith(b"+OK"))
        except BaseException:
            p.close()
            raise
        p = tree.pop3("alice")
        try:
            self.assertEqual(p.stat(), (0, 0), "STAT after DELE + QUIT")
        finally:
            p.quit()
        self.assertEqual(tree.count("alice"), 0, "files left in alice's Maildir after DELE + QUIT")

    def check_message(self, tree, lines, msgs, seen):
        tid = None
        idx = None
        for k, line in enumerate(lines):
            if line == b"":
                break
            if line.startswith(b"X-Test-Id: "):
                tid = line[len(b"X-Test-Id: "):].decode()
                idx = k
                break
        self.assertIsNotNone(tid, "a retrieved message has no X-Test-Id header: %r" % lines[:10])
        self.assertIn(tid, msgs)
        self.assertNotIn(tid, seen, "message %s retrieved twice" % tid)
        seen.add(tid)
        sent, _ = msgs[tid]

        added = lines[:idx]
        names = set()
        for line in added:
            if line[:1] in (b" ", b"\t"):
                continue   # continuation of the previous header
            name = line.split(b":", 1)[0].lower()
            self.assertIn(name, ADDED_HEADERS, "%s: unexpected header added on top: %r" % (tid, line))
            names.add(name)
        self.assertEqual(names, set(ADDED_HEADERS), "%s: headers added on top: %r" % (tid, added))
        self.assertIn(b"Return-Path: <" + SENDER.encode() + b">", added, tid)
        self.assertIn(b"Delivered-To: " + tree.addr("alice").encode(), added, tid)
        self.assertTrue(any(re.fullmatch(rb"Authentication-Results: [^;\s]+; none", line) for line in added),
                        "%s: %r" % (tid, added))

        got = b"\r\n".join(lines[idx:]) + b"\r\n"
        if got != sent:
            # Name the first difference rather than dumping 2 MB.
            k = next((j for j in range(min(len(got), len(sent))) if got[j] != sent[j]), min(len(got), len(sent)))
            self.fail("%s differs from what was sent (sent %d octets, got %d) at offset %d:\n"
                      "sent: %r\ngot:  %r" % (tid, len(sent), len(got), k, sent[max(0, k - 40):k + 40],
                                              got[max(0, k - 40):k + 40]))


if __name__ == "__main__":
    unittest.main()
