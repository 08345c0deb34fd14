"""The installed layout (docs/tree.md, "The installed layout").

With the programs of `make install` (postern in sbin, the daemons in
libexec/postern) and POSTERN_SYSROOT pointing at a temp dir that stands
for /: `postern init` without -d creates exactly the FHS layout (the
tree /var/lib/postern whose etc, queue and run are links to /etc/postern,
/var/spool/postern and /run/postern, the jail beside the sockets, run/jail
a link to it; as root with the owners of docs/operator.md), and the
commands without -d work on it: start, a message in over SMTP and out
over POP3, stop.  /run is a tmpfs: after /run/postern is removed (a
reboot), start makes it and the jail link again and mail flows.  As root
the services really are chrooted into the FHS directories.
"""

import grp
import os
import pwd
import random
import shutil
import stat
import tempfile

from postern_harness import HOST, PosternTestCase, Tree, check_privsep, free_port_base, is_root, wait_for
from postern_install import make_install


class InstalledTree(Tree):
    """A tree made by `postern init` without -d under a sysroot; its
    commands run without -d."""

    def __init__(self, postern):
        super().__init__(postern=postern)
        # Tree made a temp dir (0755, reachable by the postern-* users):
        # it stands for /, and the tree is its var/lib/postern.
        self.sysroot = self.dir
        self.extra_env["POSTERN_SYSROOT"] = self.sysroot
        self.dir = os.path.join(self.sysroot, "var", "lib", "postern")

    def init(self, users=("alice",)):
        self.port_base = free_port_base()
        self.init_output = self.run("init", "--domain", self.domain, "--listen", HOST,
                                    "--port-base", str(self.port_base)).stdout.decode()
        for u in users:
            pw = "pw-%s-%06d" % (u, random.SystemRandom().randrange(10**6))
            self.run("user", "add", self.addr(u), pw)
            self.passwords[u] = pw
        return self

    def start(self, wait=True, argv=None):
        return super().start(wait, argv or [self.postern, "start", "-f"])

    def remove(self):
        shutil.rmtree(self.sysroot, ignore_errors=True)


class InstalledTreeTest(PosternTestCase):

    def setUp(self):
        self.install_root = tempfile.mkdtemp(prefix="postern-install-")
        self.addCleanup(shutil.rmtree, self.install_root, True)
        make_install(self.install_root, "/usr")
        self.postern = os.path.join(self.install_root, "usr", "sbin", "postern")
        self.t = self.track_tree(InstalledTree(self.postern))
        self.sysroot = self.t.sysroot

    def path(self, fhs):
        return os.path.join(self.sysroot, fhs.lstrip("/"))

    def check_layout(self):
        t = self.t
        links = {"etc": "/etc/postern", "queue": "/var/spool/postern", "run": "/run/postern"}
        for name, fhs in links.items():
            self.assertEqual(os.readlink(os.path.join(t.dir, name)), self.path(fhs), name)
            self.assertTrue(os.path.isdir(self.path(fhs)), fhs)
        self.assertEqual(os.readlink(self.path("/run/postern/jail")), os.path.join(t.dir, "jail"))
        entries = sorted(os.listdir(t.dir))
        self.assertEqual(entries, ["etc", "jail", "mail", "private", "public", "queue", "run"])
        for d in ("jail/private", "mail/private"):
            self.assertTrue(os.path.isdir(os.path.join(t.dir, d)), d)
        for f in ("postern.conf", "master.conf", "users", "domains.cdb", "tls/cert.pem", "tls/key.pem"):
            self.assertTrue(os.path.isfile(self.path("/etc/postern/" + f)), f)
        for d in ("tmp", "incoming", "active", "deferred", "hold", "private"):
            self.assertTrue(os.path.isdir(self.path("/var/spool/postern/" + d)), d)
        conf = open(self.path("/etc/postern/postern.conf")).read()
        self.assertIn("\nprogram_directory = %s\n" % os.path.join(self.install_root, "usr/libexec/postern"),
                      conf)
        if is_root():
            def owner(path):
                st = os.stat(path)
                return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                        stat.S_IMODE(st.st_mode))
            self.assertEqual(owner(self.path("/etc/postern")), ("root", "root", 0o755))
            self.assertEqual(owner(self.path("/var/spool/postern")), ("root", "root", 0o755))
            self.assertEqual(owner(self.path("/var/spool/postern/incoming")),
                             ("postern-queue", "postern-queue", 0o700))
            self.assertEqual(owner(self.path("/var/lib/postern/mail")), ("postern-vmail", "postern-vmail", 0o750))
            self.assertEqual(owner(self.path("/var/lib/postern/jail")), ("root", "root", 0o755))
            self.assertEqual(owner(self.path("/var/lib/postern/jail/private")), ("root", "postern", 0o750))
            self.assertEqual(owner(self.path("/etc/postern/users")), ("root", "postern-auth", 0o640))
            self.assertEqual(owner(self.path("/etc/postern/tls/key.pem")), ("root", "root", 0o600))

    def mail_flows(self, test_id):
        t = self.t
        t.send(t.addr("alice"), test_id)
        t.wait_ids("alice", [test_id])
        p = t.pop3_retrying("alice")
        try:
            count, _ = p.stat()
            self.assertGreaterEqual(count, 1)
        finally:
            p.quit()

    def test_init_without_d_creates_the_fhs_layout_and_the_commands_use_it(self):
        t = self.t
        t.init()
        self.assertIn("etc -> %s" % self.path("/etc/postern"), t.init_output)
        self.check_layout()
        p = t.run("check", check=False)
        self.assertEqual(p.returncode, 0, "postern check: " + p.stdout.decode("utf-8", "replace"))
        t.start()
        self.assertIsNotNone(t.master.pid)
        status = t.run("status").stdout.decode()
        self.assertIn("postern is running (pid %d)" % t.master.pid, status)
        self.assertTrue(os.path.exists(self.path("/run/postern/master.pid")))
        self.mail_flows("fhs-1")
        if is_root():
            check_privsep(self, t, "smtp", "postern-smtpd", "run/jail")
            self.assertEqual(os.path.realpath(os.path.join(t.dir, "run/jail")), os.path.join(t.dir, "jail"))
            check_privsep(self, t, "qmgr", "postern-queue", "queue")
        queue = t.run("queue", "list").stdout.decode()
        self.assertNotIn("fhs-1", queue)

    def test_start_after_run_was_emptied_makes_it_again(self):
        t = self.t
        t.init()
        t.start()
        self.mail_flows("before-reboot")
        t.stop()
        # A reboot empties /run: the link DIR/run now points nowhere.
        shutil.rmtree(self.path("/run/postern"))
        self.assertFalse(os.path.exists(os.path.join(t.dir, "run")))
        t.start()
        self.assertTrue(os.path.isdir(self.path("/run/postern")))
        self.assertEqual(os.readlink(self.path("/run/postern/jail")), os.path.join(t.dir, "jail"))
        self.mail_flows("after-reboot")
        wait_for(lambda: os.path.exists(self.path("/run/postern/master.pid")), 10, "master.pid")

    def test_init_keeps_an_existing_configuration_in_etc_postern(self):
        t = self.t
        t.init()
        # The tree removed but /etc/postern kept: init must not overwrite it.
        shutil.rmtree(t.dir)
        p = t.run("init", "--port-base", str(t.port_base), check=False)
        self.assertEqual(p.returncode, 1, p.stdout.decode())
        self.assertIn("postern.conf exists; use --force", p.stdout.decode())


if __name__ == "__main__":
    import unittest
    unittest.main()
