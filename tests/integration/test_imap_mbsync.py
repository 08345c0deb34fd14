"""mbsync (isync) against Postern's IMAP server (issue 10): a two-way
sync of INBOX and a folder into a local Maildir, over imaps (993, the
tree's certificate as the only one trusted) and over plaintext imap on
loopback.  Local flag changes (a file renamed to :2,S and :2,F) and a
local move between folders reach the server (checked with imaplib:
FLAGS, and the moved message gone from INBOX and present in the
folder); a flag change, an expunge and a delivery on the server reach
the local Maildir at the next sync.  mbsync 1.4 negotiates
COMPRESS=DEFLATE whenever the server offers it, so these syncs run
compressed (test_imap_compress checks that it asks)."""

import imaplib
import os
import re
import shutil
import subprocess
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, header_value
from test_imap_clients import server_flags


def mbsync_version():
    p = subprocess.run(["mbsync", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    m = re.search(rb"(\d+)\.(\d+)", p.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def local_box(path):
    """{X-Test-Id: (file path, Maildir flag letters)} of a local Maildir."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for name in os.listdir(d):
            full = os.path.join(d, name)
            with open(full, "rb") as f:
                tid = header_value(f.read(65536), "X-Test-Id")
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            out[tid] = (full, flags)
    return out


def mbsync_config(t, work, tls):
    """An mbsyncrc syncing INBOX and Work of alice (imaps or plaintext imap)
    both ways with a local Maildir under work; (its path, the Maildir)."""
    local = os.path.join(work, "mail")
    os.makedirs(local)
    # isync 1.5 renamed SSLType to TLSType.
    tls_key = "TLSType" if mbsync_version() >= (1, 5) else "SSLType"
    if tls:
        security = "%s IMAPS\nCertificateFile %s\n" % (tls_key, t.cert_path())
    else:
        security = "%s None\n" % tls_key
    rc = os.path.join(work, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("IMAPAccount postern\nHost %s\nPort %d\nUser %s\nPass %s\n%s\n"
                "IMAPStore far\nAccount postern\n\n"
                "MaildirStore near\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                "Channel both\nFar :far:\nNear :near:\nPatterns INBOX Work\n"
                "Create Both\nExpunge Both\nSyncState *\n"
                % (HOST, t.port("imaps" if tls else "imap"), t.addr("alice"), t.passwords["alice"],
                   security, local, local))
    os.chmod(rc, 0o600)
    return rc, local


class ImapMbsync(PosternTestCase):

    def setUp(self):
        if shutil.which("mbsync") is None:
            self.skipTest("mbsync is not installed (Debian package isync)")

    def sync(self, work, rc):
        p = subprocess.run(["mbsync", "-V", "-c", rc, "both"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120 * SCALE, env=dict(os.environ, HOME=work), cwd=work)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        return p.stdout.decode("utf-8", "replace")

    def server_box(self, t, box):
        flags = server_flags(t, box)
        self.assertIsNotNone(flags, "no folder %s" % box)
        return flags

    def two_way(self, tls):
        t = self.start_tree()
        for i in ("m1", "m2", "m3"):
            t.send(t.addr("alice"), i)
        t.wait_ids("alice", {"m1", "m2", "m3"})
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.create("Work")[0], "OK")
        msg = b"From: a@example.org\r\nSubject: work\r\nX-Test-Id: w1\r\n\r\nwork item\r\n"
        self.assertEqual(c.append("Work", r"(\Seen)", None, msg)[0], "OK")
        c.logout()

        work = os.path.join(t.dir, "mbsync")
        os.mkdir(work, 0o700)
        rc, local = mbsync_config(t, work, tls)
        inbox, folder = os.path.join(local, "INBOX"), os.path.join(local, "Work")

        # 1. Pull: everything arrives, with the server's flags.
        self.sync(work, rc)
        got = local_box(inbox)
        self.assertEqual(sorted(got), ["m1", "m2", "m3"])
        self.assertEqual({k: v[1] for k, v in got.items()}, {"m1": "", "m2": "", "m3": ""})
        self.assertEqual({k: v[1] for k, v in local_box(folder).items()}, {"w1": "S"})

        # 2. Local changes: m1 read, m2 flagged, m3 moved to Work (the
        # ,U= part of the name is the source folder's UID: a moved file
        # drops it, as the mbsync manual says).
        def rename(tid, flags, dest=inbox):
            path = got[tid][0]
            base = os.path.basename(path).split(":2,", 1)[0]
            if dest != inbox:
                base = re.sub(r",U=\d+", "", base)
            os.rename(path, os.path.join(dest, "cur", base + ":2," + flags))
        rename("m1", "S")
        rename("m2", "F")
        rename("m3", "S", dest=folder)
        self.sync(work, rc)
        self.assertEqual(self.server_box(t, "INBOX"), {"m1": {"\\Seen"}, "m2": {"\\Flagged"}})
        self.assertEqual(self.server_box(t, "Work"), {"w1": {"\\Seen"}, "m3": {"\\Seen"}})
        self.assertEqual(sorted(t.test_ids("alice")), ["m1", "m2"])      # expunged from INBOX's files

        # 3. Server changes: m1 answered, m2 expunged, m4 delivered.
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        c.select("INBOX")
        typ, data = c.search(None, "HEADER", "X-Test-Id", "m1")
        self.assertEqual(c.store(data[0].decode(), "+FLAGS", r"(\Answered)")[0], "OK")
        typ, data = c.search(None, "HEADER", "X-Test-Id", "m2")
        self.assertEqual(c.store(data[0].decode(), "+FLAGS", r"(\Deleted)")[0], "OK")
        self.assertEqual(c.expunge()[0], "OK")
        c.logout()
        t.send(t.addr("alice"), "m4")
        t.wait_ids("alice", {"m4"})
        self.sync(work, rc)
        self.assertEqual({k: v[1] for k, v in local_box(inbox).items()}, {"m1": "RS", "m4": ""})
        self.assertEqual({k: v[1] for k, v in local_box(folder).items()}, {"w1": "S", "m3": "S"})

        # 4. A sync with nothing changed changes nothing on either side.
        self.sync(work, rc)
        self.assertEqual(sorted(local_box(inbox)), ["m1", "m4"])
        self.assertEqual(self.server_box(t, "INBOX"), {"m1": {"\\Seen", "\\Answered"}, "m4": set()})

    def test_two_way_sync_over_imaps(self):
        self.two_way(tls=True)

    def test_two_way_sync_over_plaintext_imap_on_loopback(self):
        self.two_way(tls=False)


if __name__ == "__main__":
    unittest.main()
