"""The Dovecot swap test (issue 10, section 2): a Maildir tree that
Dovecot served is served by Postern, and back, with UIDVALIDITY, UIDNEXT,
every UID and every flag and keyword unchanged, so that a client
re-downloads nothing when the operator swaps one server for the other.

Both ways, over a real Postern tree (mail delivered by SMTP, so with the
names, owner and modes of Postern's local delivery) and a private Dovecot
2.3 (dovecot_peer.py) serving the same Maildir as its owner,
postern-vmail.  Postern's side is read through the mailbox store with
the test program BUILD/tests/helpers/store_dump (IMAP does not exist in
Postern yet; store_dump also makes the flag changes and expunges an IMAP
session would), and through POP3, whose UIDL must be UIDVALIDITY-UID.

  Dovecot first: Dovecot gives the UIDs of Postern's deliveries, appends
  with keywords and system flags, stores flags, expunges, makes a
  subfolder; then Postern must see exactly what Dovecot reported.
  Postern first: Postern gives the UIDs, sets flags and keywords, expunges,
  and a subfolder gets its UIDVALIDITY from Postern; Dovecot must report
  exactly that; then each side changes the folder in turn (deliveries
  and appends, flags, expunges) and the other must agree each time: UIDs
  only grow, none is given twice.

  Postern's rewrite of dovecot-uidlist (most records dead) keeps the
  mailbox GUID Dovecot knows the folder by (STATUS X-GUID), as well as
  UIDVALIDITY, UIDNEXT and the UIDs.

Each runs twice: with Dovecot's own indexes outside the Maildir, a fresh
index directory for every Dovecot start, so that only the shared formats
(dovecot-uidlist, dovecot-keywords, the info letters of the file names)
carry the state; and with Dovecot's indexes inside the Maildir, kept
across its runs, where Postern must ignore the dovecot.index* files and
Dovecot must pick up Postern's changes to a folder it has indexed.

A Dovecot session and Postern never work on the tree at the same time
(docs/mailbox-store.md: each locks with its own lock).  Without root or
without dovecot-imapd the tests skip, saying why (dovecot_peer.unavailable)."""

import imaplib
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile

import dovecot_peer
from postern_harness import BUILD, PosternTestCase, daemon_env, wait_for
from test_dovecot_formats import parse_fetch

HELPER = os.path.join(BUILD, "tests", "helpers", "store_dump")
FORMATS = os.path.join(BUILD, "tests", "helpers", "dovecot_formats")
VMAIL = "postern-vmail"
USER = "alice"
SETTLE_SECONDS = 10   # the store decides an expunge once the directories settled (1 s): margin for a busy machine


def message(subject, body="body\r\n"):
    return ("From: <a@example.test>\r\nSubject: %s\r\n\r\n%s" % (subject, body)).encode()


def imap_quote(name):
    return '"%s"' % name


class SwapBase(PosternTestCase):
    """The two servers over one tree; subclasses choose where Dovecot's
    indexes live."""

    index_inside = False

    def setUp(self):
        why = dovecot_peer.unavailable()
        if why:
            self.skipTest(why)
        for helper in (HELPER, FORMATS):
            if not os.access(helper, os.X_OK):
                self.fail("%s is not built (make unit)" % helper)
        self.tree = self.start_tree(users=(USER,))
        self.mailroot = os.path.join(self.tree.dir, "mail")
        self.maildir = self.tree.maildir(USER)
        self.sent = 0
        self.peer = None

    # ---------------------------------------------------------- Postern's side

    def deliver(self, n):
        """n messages to USER by SMTP, waiting until they are in the Maildir."""
        ids = []
        for _ in range(n):
            self.sent += 1
            ids.append("swap-%d" % self.sent)
            self.tree.send(self.tree.addr(USER), ids[-1])
        got = self.tree.wait_ids(USER, ids)
        self.assertTrue(set(ids) <= set(got), "not delivered: %s" % sorted(set(ids) - set(got)))

    def folder_path(self, folder):
        rel = os.path.relpath(self.maildir, self.mailroot)
        return rel if folder == "INBOX" else os.path.join(rel, "." + folder)

    def store_raw(self, folder, *args):
        # daemon_env: as root it takes the mail user's ids, where leak
        # detection of the -san build cannot work (as for the daemons).
        r = subprocess.run([HELPER, self.folder_path(folder)] + [str(a) for a in args], cwd=self.mailroot,
                           capture_output=True, timeout=60, env=daemon_env())
        self.assertEqual(r.returncode, 0, "store_dump %s %s: %s" % (folder, args, r.stderr.decode()))
        return json.loads(r.stdout)

    def store(self, folder, *args):
        """Postern's state of folder: {uidvalidity, uidnext, messages: {uid: flags}}
        (after the change args asks for, if any)."""
        d = self.store_raw(folder, *args)
        return {"uidvalidity": d["uidvalidity"], "uidnext": d["uidnext"],
                "messages": {m["uid"]: sorted(m["flags"]) for m in d["messages"]}}

    def store_matches(self, folder, expect):
        """Postern's state once it equals expect, within SETTLE_SECONDS: a
        message expunged by another program is taken as gone only once
        the directories have settled (docs/mailbox-store.md, Syncing)."""
        last = {}

        def same():
            last["state"] = self.store(folder)
            return last["state"] == expect
        wait_for(same, SETTLE_SECONDS, "Postern's view of %s to be Dovecot's" % folder, interval=0.2,
                 detail=lambda: "Dovecot: %r\nPostern: %r" % (expect, last.get("state")))
        return last["state"]

    def uidlist(self, folder="INBOX"):
        """(inode, the file as common/dovecot_uidlist reads it) of folder's dovecot-uidlist."""
        path = os.path.join(self.mailroot, self.folder_path(folder), "dovecot-uidlist")
        r = subprocess.run([FORMATS, "read-uidlist", path], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return os.stat(path).st_ino, json.loads(r.stdout)

    def check_pop3(self, inbox):
        """POP3 lists INBOX's messages in UID order with UIDL UIDVALIDITY-UID."""
        p = self.tree.pop3(USER)
        try:
            _, lines, _ = p.uidl()
        finally:
            p.quit()
        want = ["%d %d-%d" % (i + 1, inbox["uidvalidity"], uid) for i, uid in enumerate(sorted(inbox["messages"]))]
        self.assertEqual([l.decode() for l in lines], want)

    # ---------------------------------------------------------- Dovecot's side

    def start_dovecot(self):
        """A Dovecot over the Maildir, serving as its owner (postern-vmail)."""
        self.assertEqual(pwd.getpwuid(os.stat(self.maildir).st_uid).pw_name, VMAIL)
        index_dir = None
        if not self.index_inside:
            # A fresh directory each time: nothing of Dovecot's own survives.
            index_dir = tempfile.mkdtemp(prefix="dovecot-index.", dir=self.tree.dir)
            pw = pwd.getpwnam(VMAIL)
            os.chown(index_dir, pw.pw_uid, pw.pw_gid)
            self.addCleanup(shutil.rmtree, index_dir, True)
        self.peer = dovecot_peer.DovecotPeer(self.maildir, index_dir=index_dir)
        self.addCleanup(self.peer.stop)
        self.peer.start()
        return self.peer.imap()

    def stop_dovecot(self, m):
        self.assertEqual(m.logout()[0], "BYE")
        # A warning too is a disagreement (an expunged message back, a
        # uidlist or keywords file Dovecot finds wrong).
        complaints = [l for l in self.peer.log_text().splitlines()
                      if re.search(r": (Warning|Error|Fatal|Panic): ", l)]
        self.peer.stop()
        self.assertEqual(complaints, [], "Dovecot complained")
        if self.index_inside:
            self.assertTrue(os.path.exists(os.path.join(self.maildir, "dovecot.index.log")),
                            "Dovecot's index is not in the Maildir: %s" % sorted(os.listdir(self.maildir)))

    def imap_state(self, m, folder):
        """Dovecot's state of folder, as for store()."""
        typ, data = m.select(imap_quote(folder))
        self.assertEqual(typ, "OK", data)
        uidvalidity = int(m.response("UIDVALIDITY")[1][-1])
        uidnext = int(m.response("UIDNEXT")[1][-1])
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
        self.assertEqual(typ, "OK", data)
        return {"uidvalidity": uidvalidity, "uidnext": uidnext,
                "messages": {uid: sorted(flags) for uid, (flags, _) in parse_fetch(data).items()}}

    def imap_guid(self, m, folder):
        """The mailbox GUID Dovecot reports (STATUS X-GUID): the G of dovecot-uidlist."""
        typ, data = m.status(imap_quote(folder), "(X-GUID)")
        self.assertEqual(typ, "OK", data)
        return data[0].decode().split("X-GUID ")[1].split(")")[0]

    def append(self, m, folder, flags, subject):
        """APPEND; the new UID (UIDPLUS APPENDUID)."""
        typ, data = m.append(imap_quote(folder), flags, None, message(subject))
        self.assertEqual(typ, "OK", data)
        return int(data[0].decode().split("APPENDUID ")[1].split()[1].rstrip("]"))

    def uid_ok(self, m, *args):
        typ, data = m.uid(*args)
        self.assertEqual(typ, "OK", (args, data))

    # ---------------------------------------------------------- checks

    def assert_grew(self, before, after, seen):
        """after (a later state of the same folder) kept UIDVALIDITY, and
        every UID it has that before had not is above every UID ever seen."""
        self.assertEqual(after["uidvalidity"], before["uidvalidity"])
        self.assertGreaterEqual(after["uidnext"], before["uidnext"])
        new = set(after["messages"]) - set(before["messages"])
        if new and seen:
            self.assertGreater(min(new), max(seen),
                               "a UID given twice: %s (seen %s)" % (sorted(new), sorted(seen)))
        seen.update(after["messages"])
        self.assertGreater(after["uidnext"], max(seen) if seen else 0)

    # ---------------------------------------------------------- the tests

    def test_dovecot_first(self):
        self.deliver(4)
        m = self.start_dovecot()
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "ALL")
        self.assertEqual(data[0].split(), [b"1", b"2", b"3", b"4"])
        appended = self.append(m, "INBOX", "(\\Flagged $Forwarded Junk)", "appended")
        self.assertEqual(appended, 5)
        self.uid_ok(m, "STORE", "1", "+FLAGS", "(\\Seen $Label1)")
        self.uid_ok(m, "STORE", "2", "+FLAGS", "(\\Answered \\Draft $Label1 Junk)")
        self.uid_ok(m, "STORE", "3", "+FLAGS", "(\\Deleted)")
        self.assertEqual(m.expunge()[0], "OK")
        self.uid_ok(m, "STORE", "4", "+FLAGS", "(\\Deleted \\Seen)")   # marked, not expunged
        # A subfolder: Maildir++ .Archive with its own UIDVALIDITY and keywords.
        self.assertEqual(m.create("Archive")[0], "OK")
        self.append(m, "Archive", "(\\Seen NonJunk)", "archived")
        self.uid_ok(m, "COPY", "1", "Archive")
        self.append(m, "Archive", None, "plain")
        dovecot = {f: self.imap_state(m, f) for f in ("INBOX", "Archive")}
        guids = {f: self.imap_guid(m, f) for f in ("INBOX", "Archive")}
        self.stop_dovecot(m)
        self.assertEqual(sorted(dovecot["INBOX"]["messages"]), [1, 2, 4, 5])
        self.assertEqual(dovecot["INBOX"]["messages"][5], sorted(["\\Flagged", "$Forwarded", "Junk"]))
        self.assertEqual(len(dovecot["Archive"]["messages"]), 3)

        for folder in ("INBOX", "Archive"):
            self.store_matches(folder, dovecot[folder])
        self.check_pop3(dovecot["INBOX"])
        # A delivery now gets the next UID, after Dovecot's.
        self.deliver(1)
        after = self.store("INBOX")
        self.assertEqual(sorted(after["messages"]), [1, 2, 4, 5, 6])
        self.assertEqual(after["uidnext"], 7)
        self.check_pop3(after)
        for folder in ("INBOX", "Archive"):
            self.assertEqual(self.uidlist(folder)[1]["guid"], guids[folder], folder)

    def make_subfolder(self, name, n):
        """A Maildir++ subfolder made as Postern's future IMAP CREATE would
        (owned by the mail user), holding n messages in new/ as a delivery
        leaves them."""
        pw = pwd.getpwnam(VMAIL)
        top = os.path.join(self.maildir, "." + name)
        for sub in ("", "cur", "new", "tmp"):
            os.mkdir(os.path.join(top, sub), 0o700)
            os.chown(os.path.join(top, sub), pw.pw_uid, pw.pw_gid)
        for i in range(n):
            path = os.path.join(top, "new", "1767225600.M%dP1Q%d.swaptest" % (i, i))
            with open(path, "wb") as f:
                f.write(message("%s %d" % (name, i)))
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def test_postern_first(self):
        self.deliver(4)
        self.make_subfolder("Archive", 2)
        seen = set()
        inbox = self.store("INBOX")
        self.assertEqual(sorted(inbox["messages"]), [1, 2, 3, 4])
        self.store("INBOX", "set", 1, "\\Seen", "$Label1")
        self.store("INBOX", "set", 2, "\\Flagged", "$Forwarded", "Junk")
        self.store("INBOX", "set", 3, "\\Answered", "\\Draft", "\\Deleted", "$Label1")
        inbox = self.store("INBOX", "remove", 4)
        self.assertEqual(inbox["messages"], {1: sorted(["\\Seen", "$Label1"]),
                                             2: sorted(["\\Flagged", "$Forwarded", "Junk"]),
                                             3: sorted(["\\Answered", "\\Draft", "\\Deleted", "$Label1"])})
        self.assertEqual(inbox["uidnext"], 5)
        self.store("Archive")
        archive = self.store("Archive", "set", 2, "\\Seen", "NonJunk")
        self.assertNotEqual(archive["uidvalidity"], inbox["uidvalidity"])
        self.check_pop3(inbox)
        self.assert_grew(inbox, inbox, seen)

        # Dovecot must report exactly Postern's state.
        m = self.start_dovecot()
        self.assertEqual(self.imap_state(m, "INBOX"), inbox)
        self.assertEqual(self.imap_state(m, "Archive"), archive)
        for folder in ("INBOX", "Archive"):
            self.assertEqual(self.imap_guid(m, folder), self.uidlist(folder)[1]["guid"], folder)
        # Its turn: an append, flags, an expunge; a delivery while it runs.
        m.select("INBOX")
        self.assertEqual(self.append(m, "INBOX", "(\\Seen NewKw)", "dovecot 1"), 5)
        self.uid_ok(m, "STORE", "1", "-FLAGS", "(\\Seen)")
        self.uid_ok(m, "STORE", "1", "+FLAGS", "($Label2)")
        self.assertEqual(m.expunge()[0], "OK")   # UID 3 (\Deleted)
        self.deliver(1)
        self.assertEqual(m.noop()[0], "OK")
        self.uid_ok(m, "STORE", "6", "+FLAGS", "(\\Flagged)")
        self.append(m, "Archive", "($Forwarded)", "dovecot archive")
        dovecot = {f: self.imap_state(m, f) for f in ("INBOX", "Archive")}
        self.stop_dovecot(m)
        self.assertEqual(sorted(dovecot["INBOX"]["messages"]), [1, 2, 5, 6])
        self.assert_grew(inbox, dovecot["INBOX"], seen)
        self.assert_grew(archive, dovecot["Archive"], set(archive["messages"]))

        # Postern's turn: the same state, then deliveries, flags, an expunge.
        inbox = self.store_matches("INBOX", dovecot["INBOX"])
        archive = self.store_matches("Archive", dovecot["Archive"])
        self.check_pop3(inbox)
        self.deliver(2)
        self.store("INBOX", "add", 5, "\\Answered", "Junk", "$Label3")   # $Label3: new to dovecot-keywords
        inbox = self.store("INBOX", "remove", 2)
        self.assertEqual(sorted(inbox["messages"]), [1, 5, 6, 7, 8])
        self.assert_grew(dovecot["INBOX"], inbox, seen)
        archive = self.store("Archive", "set", 1, "\\Deleted", "NonJunk")
        self.check_pop3(inbox)

        # Dovecot again: Postern's state, then one more append and expunge.
        m = self.start_dovecot()
        self.assertEqual(self.imap_state(m, "INBOX"), inbox)
        self.assertEqual(self.imap_state(m, "Archive"), archive)
        m.select("INBOX")
        self.assertEqual(self.append(m, "INBOX", "(\\Draft)", "dovecot 2"), 9)
        self.uid_ok(m, "STORE", "7", "+FLAGS", "(\\Deleted)")
        self.assertEqual(m.expunge()[0], "OK")
        dovecot = {f: self.imap_state(m, f) for f in ("INBOX", "Archive")}
        self.stop_dovecot(m)
        self.assertEqual(sorted(dovecot["INBOX"]["messages"]), [1, 5, 6, 8, 9])
        self.assert_grew(inbox, dovecot["INBOX"], seen)

        # Postern last: the same, and the next delivery gets UID 10.
        inbox = self.store_matches("INBOX", dovecot["INBOX"])
        self.store_matches("Archive", dovecot["Archive"])
        self.deliver(1)
        after = self.store("INBOX")
        self.assertEqual(sorted(after["messages"]), [1, 5, 6, 8, 9, 10])
        self.assert_grew(inbox, after, seen)
        self.check_pop3(after)

    def test_postern_rewrite_of_the_uid_list_keeps_the_folder(self):
        """When most records of dovecot-uidlist are of gone messages, Postern
        rewrites it (docs/mailbox-store.md): the rewrite must keep what
        Dovecot knows the folder by, its mailbox GUID (STATUS X-GUID, the
        G field) as well as UIDVALIDITY, UIDNEXT and every UID."""
        self.deliver(2)
        m = self.start_dovecot()
        self.assertEqual(m.select("INBOX")[0], "OK")
        self.uid_ok(m, "STORE", "2", "+FLAGS", "(\\Seen $Label1)")
        before = self.imap_state(m, "INBOX")
        guid = self.imap_guid(m, "INBOX")
        self.stop_dovecot(m)
        # Mail another program puts in and takes out again: more dead
        # records than the store tolerates (MBOX_COMPACT_SLACK, 1000).
        pw = pwd.getpwnam(VMAIL)
        paths = []
        for i in range(1100):
            paths.append(os.path.join(self.maildir, "cur", "1767225600.M%dP2Q%d.other:2,S" % (i, i)))
            with open(paths[-1], "wb") as f:
                f.write(message("other %d" % i))
            os.chown(paths[-1], pw.pw_uid, pw.pw_gid)
        many = self.store("INBOX")
        self.assertEqual(len(many["messages"]), 1102)
        self.assertEqual(many["uidnext"], 1103)
        ino, _ = self.uidlist()
        for p in paths:
            os.unlink(p)
        expect = dict(before, uidnext=1103)
        self.store_matches("INBOX", expect)
        ino2, rewritten = self.uidlist()
        self.assertNotEqual(ino2, ino, "dovecot-uidlist was not rewritten")
        self.assertEqual([r["uid"] for r in rewritten["records"]], [1, 2])
        self.assertEqual(rewritten["guid"], guid)
        m = self.start_dovecot()
        self.assertEqual(self.imap_state(m, "INBOX"), expect)
        self.assertEqual(self.imap_guid(m, "INBOX"), guid)
        self.stop_dovecot(m)


class DovecotSwapIndexesOutside(SwapBase):
    """Dovecot's indexes elsewhere, fresh for each start: only the shared
    formats carry the state."""
    index_inside = False


class DovecotSwapIndexesInside(SwapBase):
    """Dovecot's dovecot.index* files in the Maildir, kept across its runs."""
    index_inside = True


del SwapBase   # only the two variants run
