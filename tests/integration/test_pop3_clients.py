"""Real POP3 clients against Postern (issue 6): fetchmail and getmail6
keep mail on the server and use UIDL to fetch only what is new, so a
second run fetching nothing and a third fetching exactly the new message
shows that UIDLs stay stable across sessions and deliveries; getmail6
with delete=true shows DELE + QUIT; curl lists and reads."""

import os
import pwd
import re
import shutil
import subprocess
import unittest

from postern_harness import HOST, SCALE, PosternTestCase


def count_ids(data):
    return sorted(m.decode() for m in re.findall(rb"^X-Test-Id: (\S+)", data, re.M))


def run_fetchmail(test, t, work, protocol, port, options):
    """Run fetchmail once for alice over protocol ("pop3 uidl", "imap") on
    port with the poll options (keep...), delivering to work/fetched,
    test asserting it succeeds; return the sorted X-Test-Ids of all that
    work/fetched holds so far."""
    rc = os.path.join(work, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no syslog\nset idfile "%s/ids"\n'
                'poll %s service %d protocol %s\n'
                '  user "%s" password "%s" is root here\n'
                "  %s sslproto ''\n"
                '  mda "/usr/bin/tee -a %s/fetched"\n'
                % (work, HOST, port, protocol, t.addr("alice"), t.passwords["alice"], options, work))
    os.chmod(rc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=work)
    p = subprocess.run(["fetchmail", "-f", rc, "--nodetach"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60 * SCALE)
    # 0: mail fetched, 1: no mail; anything else is an error.
    test.assertIn(p.returncode, (0, 1), p.stdout.decode("utf-8", "replace"))
    try:
        with open(os.path.join(work, "fetched"), "rb") as f:
            return count_ids(f.read())
    except FileNotFoundError:
        return []


def run_getmail(test, work, rc, dest):
    """Run getmail6 with the rcfile rc, test asserting it succeeds, and
    return the sorted X-Test-Ids in the Maildir dest.  getmail refuses to
    deliver as root: then it runs as nobody, owning work/ (dest inside)."""
    kw = {}
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(work):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(n, nobody.pw_uid, nobody.pw_gid)
        # cwd: the runner's (the checkout) may be closed to nobody.
        kw = dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[], cwd=work)
    p = subprocess.run(["getmail", "--getmaildir", work, "--rcfile", rc],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SCALE,
                       env=dict(os.environ, HOME=work), **kw)
    test.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
    ids = []
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(dest, sub)):
            with open(os.path.join(dest, sub, name), "rb") as f:
                ids += count_ids(f.read())
    return sorted(ids)


class Pop3Clients(PosternTestCase):

    # ---- fetchmail

    def fetchmail(self, t, work):
        return run_fetchmail(self, t, work, "pop3 uidl", t.port("pop3"), "keep")

    def test_fetchmail_keep_uidl_fetches_only_new_mail(self):
        if shutil.which("fetchmail") is None:
            self.skipTest("fetchmail is not installed (Debian package fetchmail)")
        t = self.start_tree()
        work = os.path.join(t.dir, "fetchmail")
        os.mkdir(work, 0o700)
        t.deliver_ids("alice", ["f1", "f2"])
        self.assertEqual(self.fetchmail(t, work), ["f1", "f2"])
        self.assertEqual(self.fetchmail(t, work), ["f1", "f2"])          # nothing new
        t.deliver_ids("alice", ["f3"])
        self.assertEqual(self.fetchmail(t, work), ["f1", "f2", "f3"])    # only f3 added
        self.assertEqual(t.count("alice"), 3)                            # kept on the server

    # ---- getmail6

    def getmail(self, t, work, delete):
        dest = os.path.join(work, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(dest, sub), exist_ok=True)
        rc = os.path.join(work, "getmailrc")
        with open(rc, "w") as f:
            f.write("[retriever]\ntype = SimplePOP3Retriever\nserver = %s\nport = %d\n"
                    "username = %s\npassword = %s\n\n[destination]\ntype = Maildir\npath = %s/\n\n"
                    "[options]\nread_all = false\ndelete = %s\nverbose = 0\n"
                    % (HOST, t.port("pop3"), t.addr("alice"), t.passwords["alice"], dest,
                       "true" if delete else "false"))
        return run_getmail(self, work, rc, dest)

    def test_getmail_keeps_then_deletes(self):
        if shutil.which("getmail") is None:
            self.skipTest("getmail6 is not installed (Debian package getmail6)")
        t = self.start_tree()
        work = os.path.join(t.dir, "getmail")
        os.mkdir(work, 0o700)
        t.deliver_ids("alice", ["g1", "g2"])
        self.assertEqual(self.getmail(t, work, False), ["g1", "g2"])
        self.assertEqual(self.getmail(t, work, False), ["g1", "g2"])     # UIDL: nothing new
        t.deliver_ids("alice", ["g3"])
        self.assertEqual(self.getmail(t, work, False), ["g1", "g2", "g3"])
        self.assertEqual(t.count("alice"), 3)
        work2 = os.path.join(t.dir, "getmail2")
        os.mkdir(work2, 0o700)
        self.assertEqual(self.getmail(t, work2, True), ["g1", "g2", "g3"])
        self.assertEqual(t.count("alice"), 0)                            # DELE + QUIT

    # ---- curl

    def test_curl_lists_reads_and_uidl(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl is not installed (Debian package curl)")
        t = self.start_tree()
        t.deliver_ids("alice", ["k1", "k2"])
        user = "%s:%s" % (t.addr("alice"), t.passwords["alice"])
        base = "pop3://%s:%d/" % (HOST, t.port("pop3"))

        def run(*args):
            p = subprocess.run([curl, "-s", "-S", "--user", user] + list(args),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SCALE)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout

        listing = run(base).split(b"\r\n")
        self.assertEqual(len([l for l in listing if l]), 2)
        # Two local processes may deliver k1 and k2 in either order, so
        # the message numbers are not known in advance: each id once.
        ids = [re.search(rb"X-Test-Id: (k\d)", run(base + str(n))).group(1) for n in (1, 2)]
        self.assertEqual(sorted(ids), [b"k1", b"k2"])
        uidl = run("-X", "UIDL", base).split(b"\r\n")
        self.assertEqual(len([l for l in uidl if l]), 2)
        top = run("-X", "TOP 1 0", base)
        self.assertIn(b"X-Test-Id: " + ids[0], top)
        self.assertNotIn(b"hello", top)


if __name__ == "__main__":
    unittest.main()
