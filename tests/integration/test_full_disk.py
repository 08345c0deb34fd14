"""A full queue disk (issue 14, "Faults"): the tree lives on a small tmpfs.

With less free space than queue_minfree, smtpd answers MAIL (and a DATA
whose MAIL was taken before the disk filled) with 452 4.3.1 and
sendmail gets a temporary failure; once space is back mail flows.  With
queue_minfree = 0 a message that does not fit is refused after its data
with 452 4.3.1 (never 250), enqueue leaves nothing in queue/tmp or
queue/incoming, and the next message after freeing space is delivered.
Mail queued before the disk filled is deferred with 4.3.1 by local, with
nothing left in the Maildir, stays queued when qmgr cannot write its
deferral record either, and is delivered once after space is freed.

The whole tree is on the tmpfs, not only DIR/queue: the master hard-links
sockets between DIR/private and each root, so the queue must share DIR's
file system (docs/tree.md).  master.log stays outside, beside it, so the
log keeps working while the disk is full.  Needs root (mount); skipped
otherwise or when the mount fails.  The tmpfs is unmounted in cleanup,
after the master has stopped, also when the test fails.
"""

import errno
import os
import re
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from postern_harness import (BIN, SCALE, PosternTestCase, Tree, daemon_env, is_root, make_message,  # noqa: E402
                             wait_for)

TMPFS_SIZE = "8m"
RESERVE = 2 * 1024 * 1024      # queue_minfree of the first part
SENDER = "sender@example.org"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """Grow the file path until at most leave bytes are free on its file
    system (leave 0: until ENOSPC)."""
    piece = b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            room = free_bytes(path) - leave
            if room <= 0:
                break
            try:
                os.write(fd, piece[:min(len(piece), room)] if leave else piece)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)


class TestFullDisk(PosternTestCase):

    def setUp(self):
        if not is_root():
            self.skipTest("needs root to mount a tmpfs for the queue")

    def mounted_tree(self, minfree):
        tree = Tree()
        outer = tree.dir
        fs = os.path.join(outer, "fs")
        os.mkdir(fs)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % TMPFS_SIZE,
                            "postern-fulldisk", fs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            shutil.rmtree(outer, ignore_errors=True)
            self.skipTest("cannot mount a tmpfs: %s" % p.stdout.decode("utf-8", "replace").strip())
        # Registered before track_tree: cleanups run last-in first-out,
        # so the master is stopped before the unmount.
        self.addCleanup(self.unmount, tree, outer, fs)
        tree.dir = fs              # log_path stays in outer, off the tmpfs
        self.track_tree(tree)
        tree.init(users=("alice",))
        self.set_minfree(tree, minfree)
        tree.start()
        return tree

    def unmount(self, tree, outer, fs):
        if tree.master is not None:
            tree.stop()
        p = subprocess.run(["umount", fs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            subprocess.run(["umount", "-l", fs])
        tree.dir = outer           # removed whole on success, kept with master.log on failure

    def set_minfree(self, tree, value):
        path = os.path.join(tree.dir, "etc", "postern.conf")
        with open(path) as f:
            lines = [l for l in f if not l.startswith("queue_minfree")]
        lines.append("queue_minfree = %s\n" % value)
        with open(path, "w") as f:
            f.writelines(lines)

    def queue_files(self, tree):
        out = []
        for sub in ("tmp", "incoming", "active", "deferred", "hold"):
            out.extend("%s/%s" % (sub, n) for n in os.listdir(os.path.join(tree.dir, "queue", sub)))
        return out

    def sendmail(self, tree, test_id):
        env = daemon_env()
        env["POSTERN_DIR"] = tree.dir
        msg = make_message(test_id, SENDER, tree.addr("alice"), b"hello\r\n").replace(b"\r\n", b"\n")
        return subprocess.run([os.path.join(BIN, "sendmail"), "-f", SENDER, tree.addr("alice")], input=msg,
                              env=env, timeout=60 * SCALE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def test_below_queue_minfree_mail_gets_452_until_space_is_freed(self):
        t = self.mounted_tree(RESERVE)
        filler = os.path.join(t.dir, "filler")
        rcpt = t.addr("alice")

        # A transaction whose MAIL was taken meets the full disk at DATA.
        s = t.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        fill(filler, RESERVE // 2)
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            s.data(make_message("fd-data", SENDER, rcpt, b"x\r\n"))
        self.assertEqual(cm.exception.smtp_code, 452)
        self.assertIn(b"4.3.1 Insufficient system storage", cm.exception.smtp_error)
        s.rset()

        code, text = s.mail(SENDER)
        self.assertEqual((code, text), (452, b"4.3.1 Insufficient system storage"))
        # A declared SIZE counts too: with room for the reserve alone.
        os.truncate(filler, os.path.getsize(filler) - RESERVE)
        self.assertGreaterEqual(free_bytes(t.dir), RESERVE)
        self.assertEqual(s.mail(SENDER, ["SIZE=%d" % (RESERVE * 2)])[0], 452)
        s.quit()
        fill(filler, RESERVE // 2)

        p = self.sendmail(t, "fd-pickup")
        self.assertEqual(p.returncode, 75, p.stdout)
        self.assertIn(b"insufficient system storage", p.stdout)
        self.assertEqual(self.queue_files(t), [])

        os.unlink(filler)
        t.send(rcpt, "fd-after")
        p = self.sendmail(t, "fd-pickup-after")
        self.assertEqual(p.returncode, 0, p.stdout)
        ids = t.wait_ids("alice", {"fd-after", "fd-pickup-after"})
        self.assertEqual(ids, {"fd-after": 1, "fd-pickup-after": 1})

    def test_message_that_does_not_fit_gets_452_and_leaves_no_queue_file(self):
        t = self.mounted_tree(0)
        filler = os.path.join(t.dir, "filler")
        rcpt = t.addr("alice")

        fill(filler, 0)
        # Room for the envelope, not for the message: the write fails
        # part-way through the data.
        os.truncate(filler, os.path.getsize(filler) - 128 * 1024)
        big = make_message("fd-big", SENDER, rcpt, (b"0123456789abcdef" * 4 + b"\r\n") * 16384)
        mark = t.log_mark()
        s = t.smtp()
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            s.sendmail(SENDER, [rcpt], big)
        self.assertEqual(cm.exception.smtp_code, 452, cm.exception)
        self.assertIn(b"4.3.1", cm.exception.smtp_error)
        s.quit()
        t.wait_log(r"enqueue.*refused message: insufficient system storage", after=mark)
        self.assertEqual(self.queue_files(t), [])
        self.assertNotIn("fd-big", t.test_ids("alice"))

        os.unlink(filler)
        t.send(rcpt, "fd-next")
        ids = t.wait_ids("alice", {"fd-next"})
        self.assertEqual(ids, {"fd-next": 1})

    def test_queued_mail_meeting_a_full_disk_at_delivery_is_deferred_and_delivered_once_later(self):
        t = self.mounted_tree(0)
        filler = os.path.join(t.dir, "filler")
        rcpt = t.addr("alice")
        body = (b"0123456789abcdef" * 4 + b"\r\n") * 1600        # about 100 KB
        deferred = r"to=<%s>, relay=local, .*dsn=4\.3\.1, status=deferred" % re.escape(rcpt)

        # Room for the queue file, not for the Maildir copy beside it:
        # local's write fails part-way through the message.
        fill(filler, 0)
        os.truncate(filler, os.path.getsize(filler) - 160 * 1024)
        mark = t.log_mark()
        t.send(rcpt, "fd-local", body=body)
        t.wait_log(deferred, after=mark)
        self.assertEqual(self.maildir_files(t), [])
        self.assertEqual(len(self.queue_files(t)), 1, self.queue_files(t))

        # Not a byte left: the next attempt fails again, and qmgr's own
        # writes about it meet the full disk too; the message stays queued.
        fill(filler, 0)
        mark = t.log_mark()
        t.run("queue", "-d", t.dir, "flush")
        t.wait_log(deferred, after=mark)
        t.wait_log(r"qmgr\[\d+\]: warning: \w+: cannot write defer/\w+: No space left on device", after=mark)
        self.assertEqual(self.maildir_files(t), [])
        self.assertEqual(len(self.queue_files(t)), 1, self.queue_files(t))

        os.unlink(filler)
        t.run("queue", "-d", t.dir, "flush")
        ids = t.wait_ids("alice", {"fd-local"})
        self.assertEqual(ids, {"fd-local": 1})
        wait_for(lambda: self.queue_files(t) == [], 30, "the queue to empty",
                 detail=lambda: self.queue_files(t))
        self.assertEqual(self.maildir_files(t, ("tmp",)), [])
        self.assertNotIn("panic", t.log_text())

    def maildir_files(self, tree, subs=("tmp", "new", "cur")):
        md = tree.maildir("alice")
        return ["%s/%s" % (sub, n) for sub in subs if os.path.isdir(os.path.join(md, sub))
                for n in os.listdir(os.path.join(md, sub))]


if __name__ == "__main__":
    unittest.main()
