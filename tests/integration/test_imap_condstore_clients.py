"""CONDSTORE and QRESYNC (RFC 7162, issue 11) as a real client uses them,
with Python's imaplib: a client that keeps a copy of a folder's flags
goes away, another client changes flags, expunges and new mail arrives,
and the first one comes back with SELECT (QRESYNC ...): applying only
what the server sends (VANISHED (EARLIER), the changed FETCHes, the new
UIDs) must give exactly the folder a full fetch shows.  And two clients
that use STORE (UNCHANGEDSINCE) as a compare-and-swap on one message,
at the same time: every swap the server accepts must have seen the
value before it, so no increment is lost."""

import imaplib
import re
import threading
import unittest

from postern_harness import HOST, SCALE, PosternTestCase

FETCH_RE = re.compile(rb"^\d+ \(.*?UID (\d+).*?FLAGS \(([^)]*)\).*?MODSEQ \((\d+)\)")
COUNTER_BITS = 6                      # the counter lives in keywords b0..b5


def fetched(data):
    """{UID: (flags without \\Recent, MODSEQ)} from FETCH data items."""
    out = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        m = FETCH_RE.match(line or b"")
        if m:
            flags = frozenset(m.group(2).split()) - {b"\\Recent"}
            out[int(m.group(1))] = (flags, int(m.group(3)))
    return out


def uid_set(text):
    """The UIDs of a sequence set like b'2,4:6'."""
    out = set()
    for part in text.split(b","):
        lo, _, hi = part.partition(b":")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


class ImapCondstoreClients(PosternTestCase):

    def client(self, t, user="alice"):
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr(user), t.passwords[user])
        self.addCleanup(self.logout, c)
        return c

    @staticmethod
    def logout(c):
        try:
            c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def full_state(self, c):
        typ, data = c.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
        self.assertEqual(typ, "OK", data)
        return fetched(data)

    def test_an_offline_client_resyncs_with_qresync(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["q%d" % i for i in range(1, 21)])

        a = self.client(t)
        self.assertEqual(a.enable("QRESYNC")[0], "OK")
        typ, _ = a.select("INBOX")
        self.assertEqual(typ, "OK")
        uidvalidity = int(a.response("UIDVALIDITY")[1][0])
        modseq = int(a.response("HIGHESTMODSEQ")[1][0])
        local = self.full_state(a)
        self.assertEqual(len(local), 20)
        self.logout(a)

        # While the client is away: flags, expunges, new mail.
        b = self.client(t)
        b.select("INBOX")
        uids = sorted(local)
        for u in uids[0:6]:
            b.uid("STORE", str(u), "+FLAGS", "(\\Flagged $Work)")
        b.uid("STORE", str(uids[6]), "+FLAGS", "(\\Seen)")
        gone = uids[10:13] + uids[15:16]
        b.uid("STORE", ",".join(map(str, gone)), "+FLAGS", "(\\Deleted)")
        b.expunge()
        t.deliver_ids("alice", ["new1", "new2"])

        c = self.client(t)
        self.assertEqual(c.enable("QRESYNC")[0], "OK")
        # imaplib has no parameters for SELECT: they follow the name.
        typ, _ = c.select("INBOX (QRESYNC (%d %d))" % (uidvalidity, modseq))
        self.assertEqual(typ, "OK")
        vanished = set()
        for v in c.response("VANISHED")[1] or []:
            self.assertTrue(v.startswith(b"(EARLIER) "), v)
            vanished |= uid_set(v[len(b"(EARLIER) "):])
        changed = fetched(c.response("FETCH")[1] or [])
        self.assertEqual(vanished, set(gone))
        # The changed messages and the new ones (their MODSEQ is higher
        # too, RFC 7162 3.2.5.2), nothing else.
        new = {u for u in changed if u > max(uids)}
        self.assertEqual(len(new), 2, changed)
        self.assertEqual(set(changed), set(uids[0:7]) | new, "only the changes come back")

        for u in vanished:
            local.pop(u, None)
        local.update(changed)
        self.assertEqual(local, self.full_state(c))
        self.assertEqual(len(local), 20 - len(gone) + 2)

    def test_conditional_stores_from_two_clients_lose_no_update(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["counter"])
        rounds = 12
        results = {}

        def increment(name):
            c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
            try:
                c.login(t.addr("alice"), t.passwords["alice"])
                c.enable("CONDSTORE")
                c.select("INBOX")
                won = refused = 0
                while won < rounds:
                    flags, modseq = fetched(c.uid("FETCH", "1", "(FLAGS MODSEQ)")[1])[1]
                    value = sum(1 << i for i in range(COUNTER_BITS) if b"b%d" % i in flags)
                    new = " ".join("b%d" % i for i in range(COUNTER_BITS) if (value + 1) >> i & 1)
                    typ, data = c._simple_command("UID", "STORE", "1", "(UNCHANGEDSINCE %d)" % modseq,
                                                  "FLAGS.SILENT", "(%s)" % new)
                    c.response("FETCH")
                    if typ != "OK":
                        raise AssertionError("STORE: %s %r" % (typ, data))
                    if b"[MODIFIED" in data[0]:
                        refused += 1
                    else:
                        won += 1
                results[name] = (won, refused)
            except Exception as e:        # reported by the main thread
                results[name] = e
            finally:
                self.logout(c)

        threads = [threading.Thread(target=increment, args=(n,)) for n in ("one", "two")]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120 * SCALE)
        self.assertFalse([th for th in threads if th.is_alive()], "a client hangs")
        for name, r in results.items():
            self.assertIsInstance(r, tuple, "%s: %r" % (name, r))
        c = self.client(t)
        c.select("INBOX", readonly=True)
        flags, _ = fetched(c.uid("FETCH", "1", "(FLAGS MODSEQ)")[1])[1]
        value = sum(1 << i for i in range(COUNTER_BITS) if b"b%d" % i in flags)
        self.assertEqual(value, 2 * rounds, "every accepted conditional store counted once: %r" % results)


if __name__ == "__main__":
    unittest.main()
