"""Real IMAP clients against Postern (issue 10), besides mbsync and mutt
(own files): curl over imap:// and imaps:// (LIST, EXAMINE, SEARCH, a
message by UID with \\Seen set by BODY[], APPEND by upload); fetchmail
over IMAP keeping mail (only unseen mail is fetched, and it is marked
\\Seen) and then not keeping it (fetched and expunged); getmail6 with
SimpleIMAPSSLRetriever over two folders (kept: a second run fetches
nothing, a third only the new message) and SimpleIMAPRetriever with
delete (the server is emptied)."""

import imaplib
import os
import re
import shutil
import subprocess
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, header_value
from test_pop3_clients import count_ids, run_fetchmail, run_getmail


def server_flags(t, box="INBOX", user="alice"):
    """{X-Test-Id: set of flags but \\Recent} of a folder on the server, read
    under EXAMINE (no side effects); None when it cannot be selected."""
    c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
    try:
        c.login(t.addr(user), t.passwords[user])
        typ, data = c.select(box, readonly=True)
        if typ != "OK":
            return None
        if data[0] == b"0":
            return {}
        out = {}
        for item in c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (X-Test-Id)])")[1]:
            if isinstance(item, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).split()
                out[header_value(item[1], "X-Test-Id")] = {f.decode() for f in flags} - {"\\Recent"}
        return out
    finally:
        c.logout()


class ImapClients(PosternTestCase):

    def imap(self, t):
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        return c

    def server_box(self, t, box="INBOX"):
        flags = server_flags(t, box)
        self.assertIsNotNone(flags, "no folder %s" % box)
        return flags

    def uid_of(self, t, tid, box="INBOX"):
        c = self.imap(t)
        try:
            c.select(box, readonly=True)
            typ, data = c.uid("SEARCH", "HEADER", "X-Test-Id", tid)
            self.assertEqual(len(data[0].split()), 1, data)
            return int(data[0])
        finally:
            c.logout()

    # ---- curl

    def curl(self, t, url, *args, expect_rc=0, tls=False):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl is not installed (Debian package curl)")
        extra = []
        if tls:
            # The certificate names localhost, not the address.
            extra = ["--cacert", t.cert_path(), "--resolve", "localhost:%d:%s" % (t.port("imaps"), HOST)]
        p = subprocess.run([curl, "-s", "-S", "--user", "%s:%s" % (t.addr("alice"), t.passwords["alice"])]
                           + extra + list(args) + [url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SCALE)
        self.assertEqual(p.returncode, expect_rc, p.stderr)
        return p.stdout

    def test_curl_imap_and_imaps(self):
        t = self.start_tree()
        t.deliver_ids("alice", ["c1"])
        t.deliver_ids("alice", ["c2"])
        c = self.imap(t)
        self.assertEqual(c.create("Lists.curl")[0], "OK")
        typ, data = c.select("INBOX", readonly=True)
        uidvalidity = c.untagged_responses["UIDVALIDITY"][0]
        c.logout()
        plain = "imap://%s:%d/" % (HOST, t.port("imap"))
        tls = "imaps://localhost:%d/" % t.port("imaps")

        # LIST (curl sends LIST "" *).
        listing = self.curl(t, plain)
        names = re.findall(rb'^\* LIST \([^)]*\) "\." (\S+)\r$', listing, re.M)
        self.assertEqual(sorted(names), sorted([b"INBOX", b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash",
                                                b"Lists.curl"]), listing)
        # EXAMINE through a custom request.
        examine = self.curl(t, plain, "-X", "EXAMINE INBOX")
        self.assertIn(b"* 2 EXISTS\r\n", examine)
        self.assertIn(b"[UIDVALIDITY %s]" % uidvalidity, examine)
        # SEARCH in the URL's query.
        self.assertEqual(self.curl(t, plain + "INBOX?HEADER%20X-Test-Id%20c2").strip(),
                         b"* SEARCH %d" % self.uid_of(t, "c2"))
        # A message by UID: the whole of it, and BODY[] sets \Seen.
        uid1 = self.uid_of(t, "c1")
        self.assertEqual(self.server_box(t), {"c1": set(), "c2": set()})
        msg = self.curl(t, plain + "INBOX;UID=%d" % uid1)
        self.assertEqual(count_ids(msg), ["c1"])
        self.assertTrue(msg.endswith(b"\r\n\r\nhello\r\n"), msg)
        self.assertEqual(self.server_box(t), {"c1": {"\\Seen"}, "c2": set()})
        # A section of the other one over imaps; a UID that does not exist
        # is curl's "remote file not found" (78).
        uid2 = self.uid_of(t, "c2")
        text = self.curl(t, tls + "INBOX;UID=%d;SECTION=TEXT" % uid2, tls=True)
        self.assertEqual(text, b"hello\r\n")
        header = self.curl(t, tls + "INBOX;UID=%d;SECTION=HEADER.FIELDS%%20(X-TEST-ID)" % uid2, tls=True)
        self.assertEqual(header, b"X-Test-Id: c2\r\n\r\n")
        self.curl(t, tls + "INBOX;UID=%d" % (uid2 + 100), tls=True, expect_rc=78)
        # APPEND: an upload to a folder, over imaps.
        upload = os.path.join(t.dir, "upload.eml")
        with open(upload, "wb") as f:
            f.write(b"From: a@example.org\r\nSubject: up\r\nX-Test-Id: up1\r\n\r\nuploaded\r\n")
        self.curl(t, tls + "Lists.curl", "-T", upload, tls=True)
        self.assertEqual(self.server_box(t, "Lists.curl"), {"up1": {"\\Seen"}})
        self.assertEqual(self.curl(t, plain + "Lists.curl;UID=1;SECTION=TEXT"), b"uploaded\r\n")
        # A wrong password is refused (curl: login denied, 67).
        p = subprocess.run(["curl", "-s", "--user", "%s:wrong" % t.addr("alice"), plain],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SCALE)
        self.assertEqual(p.returncode, 67, p.stderr)

    # ---- fetchmail

    def fetchmail(self, t, work, keep):
        return run_fetchmail(self, t, work, "imap", t.port("imap"), "keep" if keep else "no keep fetchall")

    def test_fetchmail_keep_fetches_unseen_then_no_keep_expunges(self):
        if shutil.which("fetchmail") is None:
            self.skipTest("fetchmail is not installed (Debian package fetchmail)")
        t = self.start_tree()
        work = os.path.join(t.dir, "fetchmail")
        os.mkdir(work, 0o700)
        t.deliver_ids("alice", ["f1", "f2"])
        self.assertEqual(self.fetchmail(t, work, keep=True), ["f1", "f2"])
        self.assertEqual(self.server_box(t), {"f1": {"\\Seen"}, "f2": {"\\Seen"}})
        self.assertEqual(self.fetchmail(t, work, keep=True), ["f1", "f2"])          # nothing unseen
        t.deliver_ids("alice", ["f3"])
        self.assertEqual(self.fetchmail(t, work, keep=True), ["f1", "f2", "f3"])    # only f3 added
        self.assertEqual(t.count("alice"), 3)
        # Without keep, everything (fetchall: seen or not) is fetched and
        # expunged from the server.
        work2 = os.path.join(t.dir, "fetchmail2")
        os.mkdir(work2, 0o700)
        self.assertEqual(self.fetchmail(t, work2, keep=False), ["f1", "f2", "f3"])
        self.assertEqual(self.server_box(t), {})
        self.assertEqual(t.count("alice"), 0)

    # ---- getmail6

    def getmail(self, t, work, retriever, delete, mailboxes=("INBOX",)):
        dest = os.path.join(work, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(dest, sub), exist_ok=True)
        if retriever == "SimpleIMAPSSLRetriever":
            server = "port = %d\nca_certs = %s\nssl_cert_hostname = localhost\n" % (t.port("imaps"), t.cert_path())
        else:
            server = "port = %d\n" % t.port("imap")
        rc = os.path.join(work, "getmailrc")
        with open(rc, "w") as f:
            f.write("[retriever]\ntype = %s\nserver = %s\n%susername = %s\npassword = %s\nmailboxes = (%s)\n\n"
                    "[destination]\ntype = Maildir\npath = %s/\n\n"
                    "[options]\nread_all = false\ndelete = %s\nverbose = 0\n"
                    % (retriever, HOST, server, t.addr("alice"), t.passwords["alice"],
                       "".join('"%s", ' % m for m in mailboxes), dest, "true" if delete else "false"))
        return run_getmail(self, work, rc, dest)

    def test_getmail_imaps_two_folders_kept_then_imap_with_delete(self):
        if shutil.which("getmail") is None:
            self.skipTest("getmail6 is not installed (Debian package getmail6)")
        t = self.start_tree()
        t.deliver_ids("alice", ["g1", "g2"])
        c = self.imap(t)
        self.assertEqual(c.create("Lists")[0], "OK")
        msg = b"From: a@example.org\r\nSubject: list\r\nX-Test-Id: l1\r\n\r\nlist mail\r\n"
        self.assertEqual(c.append("Lists", None, None, msg)[0], "OK")
        c.logout()
        work = os.path.join(t.dir, "getmail")
        os.mkdir(work, 0o700)
        ssl = "SimpleIMAPSSLRetriever"
        self.assertEqual(self.getmail(t, work, ssl, False, ("INBOX", "Lists")), ["g1", "g2", "l1"])
        self.assertEqual(self.getmail(t, work, ssl, False, ("INBOX", "Lists")), ["g1", "g2", "l1"])  # nothing new
        t.deliver_ids("alice", ["g3"])
        self.assertEqual(self.getmail(t, work, ssl, False, ("INBOX", "Lists")), ["g1", "g2", "g3", "l1"])
        self.assertEqual(sorted(self.server_box(t)), ["g1", "g2", "g3"])        # kept
        work2 = os.path.join(t.dir, "getmail2")
        os.mkdir(work2, 0o700)
        self.assertEqual(self.getmail(t, work2, "SimpleIMAPRetriever", True), ["g1", "g2", "g3"])
        self.assertEqual(self.server_box(t), {})
        self.assertEqual(t.count("alice"), 0)
        self.assertEqual(sorted(self.server_box(t, "Lists")), ["l1"])           # not among the mailboxes


if __name__ == "__main__":
    unittest.main()
