"""IMAP QUOTA (RFC 9208, issue 11) over the Maildir++ quota that local
delivery keeps: a user with a quota (mailbox_quota in postern.conf, or
an etc/quota entry with a message count), mail delivered over SMTP, then
Python's imaplib: GETQUOTAROOT and GETQUOTA report what the Maildir
holds (STORAGE in KiB rounded up, MESSAGE), APPEND / MULTIAPPEND / COPY
over the quota answer NO [OVERQUOTA] and store nothing, MOVE and DELETE
keep the books right, EXPUNGE frees space (STATUS DELETED-STORAGE says how
much first) so that a delivery that bounced for want of room then fits.
maildirsize is checked line by line, and a private Dovecot with its
Maildir++ quota reads the same file to the same numbers."""

import imaplib
import os
import pwd
import re
import shutil
import tempfile

import dovecot_peer
from postern_harness import HOST, SCALE, PosternTestCase, is_root, make_message, wait_for

SENDER = "sender@example.org"


def imap(t, user):
    c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
    c.login(t.addr(user), t.passwords[user])
    return c


def kib(n):
    return (n + 1023) // 1024


def usage(t, user):
    """(octets, messages) of every message file of the user's Maildir++."""
    root = t.maildir(user)
    folders = [root] + [os.path.join(root, d) for d in os.listdir(root)
                        if d.startswith(".") and d not in (".", "..") and os.path.isdir(os.path.join(root, d))]
    total = count = 0
    for f in folders:
        for sub in ("cur", "new"):
            d = os.path.join(f, sub)
            for name in os.listdir(d) if os.path.isdir(d) else []:
                if not name.startswith("."):
                    total += os.path.getsize(os.path.join(d, name))
                    count += 1
    return total, count


def maildirsize(t, user):
    with open(os.path.join(t.maildir(user), "maildirsize")) as f:
        return f.read().splitlines()


def message(test_id, rcpt, lines=1):
    """A message of about 72 * lines octets of body."""
    return make_message(test_id, SENDER, rcpt, (b"q" * 70 + b"\r\n") * lines)


def raw(c, tag, data):
    """Send data (one command with LITERAL+ literals) on imaplib's
    connection; the tagged reply line."""
    c.send(data)
    while True:
        line = c.readline()
        if not line:
            raise AssertionError("connection closed")
        if line.startswith(tag + b" "):
            return line.rstrip(b"\r\n")


def literal(msg):
    return b"{%d+}\r\n" % len(msg) + msg


class ImapQuota(PosternTestCase):

    def test_storage_quota_append_copy_move_expunge_and_delivery(self):
        t = self.start_tree(start=False)
        t.set_conf(mailbox_quota="8k", mailbox_quota_action="bounce")
        t.start()
        user, addr = "alice", t.addr("alice")
        for i in range(3):
            t.send(addr, "qs-%d" % i, body=(b"s" * 70 + b"\r\n") * 15)
        t.wait_ids(user, {"qs-0", "qs-1", "qs-2"})
        c = imap(t, user)
        typ, data = c.capability()
        caps = data[0].split()
        for cap in (b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"):
            self.assertIn(cap, caps)
        self.assertNotIn(b"QUOTASET", caps)

        octets, count = usage(t, user)
        self.assertEqual(count, 3)
        # RFC 9208 4.1.2: the root of INBOX and its resources.
        typ, data = c.getquotaroot("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [[b'INBOX ""'], [b'"" (STORAGE %d 8)' % kib(octets)]])
        typ, data = c.getquota('""')
        self.assertEqual((typ, data), ("OK", [b'"" (STORAGE %d 8)' % kib(octets)]))
        self.assertEqual(maildirsize(t, user)[0], "8192S")
        # Every folder has the same root.
        typ, data = c.getquotaroot("Trash")
        self.assertEqual(data[0], [b'Trash ""'])

        # APPEND that does not fit: refused, nothing stored.
        room = 8192 - octets
        big = message("qs-big", addr, lines=room // 72 + 2)
        typ, data = c.append("INBOX", None, None, big)
        self.assertEqual(typ, "NO")
        self.assertTrue(data[0].startswith(b"[OVERQUOTA]"), data)
        self.assertEqual(usage(t, user), (octets, 3))
        # One that fits is stored and counted in maildirsize.
        small = message("qs-small", addr, lines=2)
        typ, data = c.append("INBOX", None, None, small)
        self.assertEqual(typ, "OK", data)
        octets2, count2 = usage(t, user)
        self.assertEqual(count2, 4)
        self.assertEqual(maildirsize(t, user)[-1], "%d 1" % (octets2 - octets))
        typ, data = c.getquota('""')
        self.assertEqual(data, [b'"" (STORAGE %d 8)' % kib(octets2)])

        # COPY of everything to Trash would not fit: NO [OVERQUOTA], Trash empty.
        c.select("INBOX")
        typ, data = c.copy("1:*", "Trash")
        self.assertEqual(typ, "NO")
        self.assertTrue(data[0].startswith(b"[OVERQUOTA]"), data)
        self.assertEqual(c.status("Trash", "(MESSAGES)")[1], [b'Trash (MESSAGES 0)'])
        self.assertEqual(usage(t, user), (octets2, 4))
        # MOVE stays in the one quota root: allowed, usage unchanged.
        typ, data = c._simple_command("MOVE", "4", "Trash")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(usage(t, user), (octets2, 4))
        lines_before = len(maildirsize(t, user))
        self.assertEqual(c.getquota('""')[1], [b'"" (STORAGE %d 8)' % kib(octets2)])
        self.assertEqual(len(maildirsize(t, user)), lines_before)

        # A delivery that does not fit bounces (mailbox_quota_action = bounce).
        late = (b"l" * 70 + b"\r\n") * ((8192 - octets2) // 72 + 1)
        mark = t.log_mark()
        t.send(addr, "qs-late", body=late)
        t.wait_log(r"to=<alice@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.2\.2, status=bounced \(mailbox full",
                   after=mark)

        # EXPUNGE two: STATUS DELETED-STORAGE says what it frees, then a
        # negative line, and the bounced size now fits.
        sizes = {}
        for name in os.listdir(os.path.join(t.maildir(user), "cur")):
            with open(os.path.join(t.maildir(user), "cur", name), "rb") as f:
                m = re.search(rb"X-Test-Id: (\S+)", f.read())
            sizes[m.group(1).decode()] = os.path.getsize(os.path.join(t.maildir(user), "cur", name))
        c.store("1:2", "+FLAGS", r"(\Deleted)")
        freed = sizes["qs-0"] + sizes["qs-1"]
        typ, data = c.status("INBOX", "(DELETED DELETED-STORAGE)")
        self.assertEqual(data, [b'INBOX (DELETED 2 DELETED-STORAGE %d)' % kib(freed)])
        typ, data = c.expunge()
        self.assertEqual(typ, "OK")
        self.assertEqual(maildirsize(t, user)[-1], "-%d -2" % freed)
        octets3, count3 = usage(t, user)
        self.assertEqual((octets3, count3), (octets2 - freed, 2))
        self.assertEqual(c.getquota('""')[1], [b'"" (STORAGE %d 8)' % kib(octets3)])
        t.send(addr, "qs-late2", body=late)
        t.wait_ids(user, {"qs-late2"})
        # local adds its maildirsize line just after the message lands.
        wait_for(lambda: sum(int(l.split()[1]) for l in maildirsize(t, user)[1:]) == 3, 10,
                 "the maildirsize line of qs-late2", ignore=(IndexError, ValueError))
        octets4, _ = usage(t, user)
        self.assertEqual(c.getquota('""')[1], [b'"" (STORAGE %d 8)' % kib(octets4)])
        # The books balance: maildirsize sums to what the Maildir holds.
        lines = maildirsize(t, user)
        self.assertEqual(sum(int(l.split()[0]) for l in lines[1:]), octets4)
        self.assertEqual(sum(int(l.split()[1]) for l in lines[1:]), 3)
        self.assertEqual(c.logout()[0], "BYE")

    def test_message_count_from_the_quota_map_multiappend_and_delete(self):
        t = self.start_tree(start=False)
        with open(os.path.join(t.dir, "etc", "quota"), "w") as f:
            f.write("bob@example.test 1m,3\n")
        t.run("map", "-d", t.dir, "quota")
        t.start()
        addr = t.addr("bob")
        for i in range(2):
            t.send(addr, "qc-%d" % i)
        t.wait_ids("bob", {"qc-0", "qc-1"})
        b = imap(t, "bob")
        octets, _ = usage(t, "bob")
        typ, data = b.getquotaroot("INBOX")
        self.assertEqual(data, [[b'INBOX ""'], [b'"" (STORAGE %d 1024 MESSAGE 2 3)' % kib(octets)]])
        self.assertEqual(maildirsize(t, "bob")[0], "1048576S,3C")

        # A MULTIAPPEND of two (4 > 3) stores neither (RFC 3502, RFC 9208).
        m1, m2 = message("qc-m1", addr), message("qc-m2", addr)
        reply = raw(b, b"x1", b"x1 APPEND INBOX " + literal(m1) + b" " + literal(m2) + b"\r\n")
        self.assertTrue(reply.startswith(b"x1 NO [OVERQUOTA]"), reply)
        self.assertEqual(usage(t, "bob")[1], 2)
        # One fits; then the count is full.
        typ, data = b.append("INBOX", None, None, m1)
        self.assertEqual(typ, "OK", data)
        typ, data = b.append("INBOX", None, None, m2)
        self.assertEqual((typ, data[0][:11]), ("NO", b"[OVERQUOTA]"))
        self.assertEqual(b.getquota('""')[1][0].split(b"MESSAGE ")[1], b"3 3)")

        # DELETE of a folder gives its messages back to the quota.
        self.assertEqual(b.create("Old")[0], "OK")
        b.select("INBOX")
        self.assertEqual(b._simple_command("MOVE", "1:2", "Old")[0], "OK")
        self.assertEqual(b.getquota('""')[1][0].split(b"MESSAGE ")[1], b"3 3)")
        b.close()
        self.assertEqual(b.delete("Old")[0], "OK")
        octets, count = usage(t, "bob")
        self.assertEqual(count, 1)
        self.assertEqual(b.getquota('""')[1], [b'"" (STORAGE %d 1024 MESSAGE 1 3)' % kib(octets)])
        typ, data = b.append("INBOX", None, None, m2)
        self.assertEqual(typ, "OK", data)

        # SETQUOTA is the administrator's (no QUOTASET).
        typ, data = b._simple_command("SETQUOTA", '""', "(STORAGE 100)")
        self.assertEqual((typ, data[0][:8]), ("NO", b"[NOPERM]"))
        # Unknown roots and mailboxes.
        typ, data = b.getquota('"User quota"')
        self.assertEqual(typ, "NO")
        typ, data = b.getquotaroot("Nonexistent")
        self.assertEqual((typ, data[0][0][:13]), ("NO", b"[NONEXISTENT]"))
        self.assertEqual(b.logout()[0], "BYE")

        # alice has no quota: a QUOTAROOT without a root, no QUOTA.
        a = imap(t, "alice")
        typ, data = a.getquotaroot("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [[b"INBOX"], [None]])
        self.assertEqual(a.getquota('""')[0], "NO")
        self.assertFalse(os.path.exists(os.path.join(t.maildir("alice"), "maildirsize")))
        # ... and APPEND is never refused for quota.
        self.assertEqual(a.append("INBOX", None, None, message("qa-1", t.addr("alice"), lines=200))[0], "OK")
        self.assertFalse(os.path.exists(os.path.join(t.maildir("alice"), "maildirsize")))
        self.assertEqual(a.logout()[0], "BYE")

    def test_map_and_check_refuse_a_quota_that_is_not_size_count(self):
        """A quota line local delivery and imapd could not read is refused
        by postern map and postern check with its file and line, and the
        compiled map stays as it was."""
        t = self.start_tree(start=False)
        path = os.path.join(t.dir, "etc", "quota")
        with open(path, "w") as f:
            f.write("# per mailbox\nalice@example.test 10m\nbob@example.test 1m,3\n")
        t.run("map", "-d", t.dir, "quota")
        self.assertEqual(t.check(), (0, ""))
        before = open(path + ".cdb", "rb").read()
        for bad in ("lots", "10q", "1m,", "1m,x", "1m,3,4", ",3"):
            with open(path, "w") as f:
                f.write("alice@example.test 10m\nbob@example.test %s\n" % bad)
            p = t.run("map", "-d", t.dir, "quota", check=False)
            self.assertEqual(p.returncode, 1, (bad, p.stdout))
            self.assertIn(b"quota:2: quota is not SIZE[,COUNT]", p.stdout, bad)
            p = t.run("check", "-d", t.dir, check=False)
            self.assertEqual(p.returncode, 1, (bad, p.stdout))
            self.assertIn(b"quota:2: quota is not SIZE[,COUNT]", p.stdout, bad)
            self.assertEqual(open(path + ".cdb", "rb").read(), before, bad)

    def test_dovecot_reads_the_same_quota(self):
        """Dovecot's Maildir++ quota (plugin quota = maildir) on the tree
        Postern kept: the same STORAGE and MESSAGE numbers."""
        if not is_root():
            self.skipTest("the Dovecot peer needs root")
        why = dovecot_peer.unavailable()
        if why:
            self.skipTest(why)
        t = self.start_tree(start=False)
        t.set_conf(mailbox_quota="64k", mailbox_quota_messages="10")
        t.start()
        addr = t.addr("alice")
        for i in range(3):
            t.send(addr, "qd-%d" % i, body=(b"d" * 70 + b"\r\n") * (10 * i + 1))
        t.wait_ids("alice", {"qd-0", "qd-1", "qd-2"})
        c = imap(t, "alice")
        c.append("INBOX", None, None, message("qd-append", addr, lines=30))
        c.select("INBOX")
        c.store("1", "+FLAGS", r"(\Deleted)")
        c.expunge()
        ours = c.getquota('""')[1][0]
        self.assertEqual(c.logout()[0], "BYE")
        octets, count = usage(t, "alice")
        self.assertEqual(ours, b'"" (STORAGE %d 64 MESSAGE %d 10)' % (kib(octets), count))

        maildir = t.maildir("alice")
        index_dir = tempfile.mkdtemp(prefix="dovecot-index.", dir=t.dir)
        owner = os.stat(maildir).st_uid
        os.chown(index_dir, owner, os.stat(maildir).st_gid)
        self.addCleanup(shutil.rmtree, index_dir, True)
        self.assertNotEqual(pwd.getpwuid(owner).pw_name, "root")
        peer = dovecot_peer.DovecotPeer(maildir, index_dir=index_dir, extra_conf="""
mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=64K:messages=10
}
""")
        self.addCleanup(peer.stop)
        peer.start()
        m = peer.imap()
        typ, data = m.getquotaroot("INBOX")
        self.assertEqual(typ, "OK")
        theirs = data[1][0]
        self.assertEqual(theirs.split(b" (", 1)[1], ours.split(b" (", 1)[1],
                         "Dovecot %r, Postern %r" % (theirs, ours))
        m.logout()
        peer.stop()
