"""A power cut mid-batch (issue 15, "Tests"): every message that got its
250 is on the disk afterwards, with and without group commit.

The whole tree lives on an ext4 file system in an image file the test
makes and mounts through a loop device.  While four clients send mail,
the test copies the image at one instant: the copy holds what the file
system had sent to its device by then (every flushed block, and perhaps
more), but nothing that was only in the page cache -- the state a power
cut would leave if the device kept what it had been sent.  A message
acknowledged without a flush of its file or of its name would be missing
or empty there.  The copy is then mounted (ext4 replays its journal) and
every message whose 250 arrived before the copy began must be complete
in the queue (incoming/, active/, deferred/) or in alice's Maildir.

Needs root, losetup support (mount -o loop) and mkfs.ext4; skipped
otherwise.  Both file systems are unmounted in cleanup, after the master
has stopped, also when the test fails.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from postern_harness import SCALE, PosternTestCase, Tree, deadline, is_root, make_message, wait_for  # noqa: E402

IMAGE_MB = 256
CLIENTS = 4
BEFORE_CUT = 300          # messages accepted before the copy is made
SENDER = "cut@example.org"
BODY_END = b"end of message "
TEST_ID = re.compile(rb"^X-Test-Id: (\S+)", re.M)


def run(*cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120 * SCALE)


def why_not():
    if not is_root():
        return "needs root (mount)"
    for tool in ("mkfs.ext4", "mount", "umount", "losetup"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if not os.path.exists("/dev/loop-control"):
        return "no loop devices (/dev/loop-control)"
    return None


class PowerCut(PosternTestCase):

    def setUp(self):
        reason = why_not()
        if reason:
            self.skipTest(reason)

    def mount(self, image, where):
        os.makedirs(where, exist_ok=True)
        p = run("mount", "-o", "loop", image, where)
        if p.returncode != 0:
            self.skipTest("cannot mount an ext4 image: %s" % p.stdout.decode("utf-8", "replace").strip())
        self.addCleanup(self.unmount, where)

    def unmount(self, where):
        if os.path.ismount(where) and run("umount", where).returncode != 0:
            run("umount", "-l", where)

    def tree_on_image(self, outer, **conf):
        """A tree (DIR) on a fresh ext4 image under outer; master.log stays
        in outer."""
        image = os.path.join(outer, "disk.img")
        with open(image, "wb") as f:
            f.truncate(IMAGE_MB * 1024 * 1024)
        p = run("mkfs.ext4", "-q", "-F", image)
        self.assertEqual(p.returncode, 0, "mkfs.ext4: %s" % p.stdout.decode("utf-8", "replace"))
        fs = os.path.join(outer, "fs")
        self.mount(image, fs)
        os.chmod(fs, 0o755)
        return image, fs

    def sender(self, tree, ids, acked, lock, stop):
        rcpt = tree.addr("alice")
        s = None
        for test_id in ids:
            if stop.is_set():
                break
            body = b"power cut test\r\n" * 64 + BODY_END + test_id.encode() + b"\r\n"
            s, error = tree.smtp_send(s, SENDER, [rcpt], make_message(test_id, SENDER, rcpt, body), timeout=30)
            if error is None:
                when = time.monotonic()
                with lock:
                    acked[test_id] = when
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass

    def found_on(self, root):
        """Test ids of the complete messages in the queue and the Maildirs
        under root (a mounted copy of the tree), and the incomplete ones."""
        complete, broken = set(), set()
        places = [os.path.join(root, "queue", d) for d in ("incoming", "active", "deferred", "hold")]
        for dirpath, dirnames, _ in os.walk(os.path.join(root, "mail")):
            places += [os.path.join(dirpath, d) for d in dirnames if d in ("new", "cur")]
        for place in places:
            if not os.path.isdir(place):
                continue
            for name in os.listdir(place):
                with open(os.path.join(place, name), "rb") as f:
                    data = f.read()
                m = TEST_ID.search(data)
                if m is None:
                    continue
                test_id = m.group(1).decode()
                (complete if BODY_END + m.group(1) in data else broken).add(test_id)
        return complete, broken - complete

    def cut_during_traffic(self, **conf):
        tree = Tree()
        outer = tree.dir
        image, fs = self.tree_on_image(outer)
        tree.dir = fs
        # Registered after the mount's cleanup: runs first (LIFO), so the
        # master stops before the unmount; the tree is removed from outer.
        self.addCleanup(setattr, tree, "dir", outer)
        self.track_tree(tree)
        tree.init(users=("alice",))
        tree.set_conf(**conf)
        tree.start()

        ids = ["cut-%05d" % i for i in range(20 * BEFORE_CUT)]
        acked, lock, stop = {}, threading.Lock(), threading.Event()
        senders = [threading.Thread(target=self.sender, args=(tree, ids[k::CLIENTS], acked, lock, stop))
                   for k in range(CLIENTS)]
        for th in senders:
            th.start()
        try:
            wait_for(lambda: len(acked) >= BEFORE_CUT, 120, "%d messages accepted" % BEFORE_CUT)
            # The cut: what the device has at this instant.
            cut = time.monotonic()
            snapshot = os.path.join(outer, "cut.img")
            p = run("cp", "--sparse=always", image, snapshot)
            self.assertEqual(p.returncode, 0, "cp: %s" % p.stdout.decode("utf-8", "replace"))
        finally:
            stop.set()
            end = deadline(60)
            for th in senders:
                th.join(max(0.0, end - time.monotonic()))
        self.assertFalse(any(th.is_alive() for th in senders), "senders did not finish")
        tree.stop()
        self.unmount(fs)

        after = os.path.join(outer, "after")
        self.mount(snapshot, after)
        complete, broken = self.found_on(after)
        before = {i for i, t in acked.items() if t < cut}
        missing = sorted(before - complete)
        print("\npower cut (%s): %d acknowledged before the cut, %d complete on the copy, %d incomplete "
              "(none acknowledged), %d acknowledged in all"
              % (", ".join("%s=%s" % kv for kv in conf.items()), len(before), len(complete & before),
                 len(broken), len(acked)))
        self.assertGreaterEqual(len(before), BEFORE_CUT)
        self.assertEqual(missing, [], "acknowledged before the cut but not complete on the copy (%d): %s; "
                         "incomplete there: %s" % (len(missing), missing[:20], sorted(broken & set(missing))[:20]))

    def test_every_acknowledged_message_survives_a_cut_with_fsyncs(self):
        self.cut_during_traffic(group_commit="no")

    def test_every_acknowledged_message_survives_a_cut_with_group_commit(self):
        self.cut_during_traffic(group_commit="yes")


if __name__ == "__main__":
    unittest.main()
