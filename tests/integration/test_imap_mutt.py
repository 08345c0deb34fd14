"""mutt against Postern's IMAP server (issue 10), driven through tmux as
a user would: open INBOX over imaps, read a message (Enter), flag one
(F), save one to a folder that does not exist yet (s =Kept: COPY,
[TRYCREATE], CREATE, COPY), quit (the saved message is expunged).  Each
step is checked on the server with imaplib, and each screen is waited
for with tmux capture-pane under the harness's deadline.  The tmux
server has its own socket in the test's directory and is killed in
cleanup, failed test or not."""

import os
import re
import shutil
import subprocess
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, wait_for
from test_imap_clients import server_flags


class Tmux:
    """One private tmux server (its own socket) running one program."""

    def __init__(self, socket_path):
        self.socket = socket_path

    def run(self, *args):
        p = subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SCALE,
                           env=dict(os.environ, TERM=os.environ.get("TERM") or "xterm"))
        if p.returncode != 0:
            raise AssertionError("tmux %s: %s" % (" ".join(args), p.stdout.decode("utf-8", "replace")))
        return p.stdout.decode("utf-8", "replace")

    def start(self, command):
        self.run("new-session", "-d", "-x", "200", "-y", "50", "-s", "main", command)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "main")

    def keys(self, *keys):
        self.run("send-keys", "-t", "main", *keys)

    def kill(self):
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)


class Mutt:
    """mutt on alice's INBOX over imaps, in a private tmux killed at the
    test's cleanup; extra is appended to its muttrc."""

    def __init__(self, test, t, extra=""):
        work = os.path.join(t.dir, "mutt")
        os.mkdir(work, 0o700)
        rc = os.path.join(work, "muttrc")
        with open(rc, "w") as f:
            f.write('set imap_user = "%s"\nset imap_pass = "%s"\n'
                    'set folder = "imaps://%s:%d/"\nset spoolfile = "+INBOX"\n'
                    # Trust the tree's certificate; it names no address.
                    'set ssl_ca_certificates_file = "%s"\nset certificate_file = "%s"\n'
                    "set ssl_verify_host = no\n"
                    'unset header_cache\nunset message_cachedir\nset record = ""\nset postponed = ""\n'
                    "set mail_check = 1\nset timeout = 1\nset delete = yes\nset confirmcreate = no\n"
                    "set confirmappend = no\nset move = no\nset mark_old = no\nset sort = mailbox-order\n"
                    "set wait_key = no\nset pager_stop = yes\n%s"
                    % (t.addr("alice"), t.passwords["alice"], HOST, t.port("imaps"), t.cert_path(), t.cert_path(),
                       extra))
        os.chmod(rc, 0o600)
        self.status = os.path.join(work, "exit-status")
        self.tmux = Tmux(os.path.join(work, "tmux.sock"))
        test.addCleanup(self.tmux.kill)
        self.tmux.start("HOME=%s mutt -n -F %s; echo $? > %s; sleep 600" % (work, rc, self.status))

    def keys(self, *keys):
        self.tmux.keys(*keys)

    def screen(self):
        return self.tmux.screen()

    def wait_screen(self, pred, what):
        return wait_for(lambda: pred(self.tmux.screen()), 20, what, detail=lambda: self.tmux.screen())

    def index_number(self, tid):
        """The message number mutt's index shows for subject 'test TID'."""
        pat = re.compile(r"^\s*(\d+) .*test %s\s*$" % tid, re.M)
        return self.wait_screen(lambda s: pat.search(s), "%s in the index" % tid).group(1)

    def wait_exit(self):
        """mutt's exit status, once it quit."""
        wait_for(lambda: os.path.exists(self.status) and open(self.status).read().strip(), 20, "mutt to quit",
                 detail=lambda: self.tmux.screen())
        with open(self.status) as f:
            return f.read().strip()


def mutt_missing():
    """Why mutt cannot be driven here, or None."""
    for prog, pkg in (("mutt", "mutt"), ("tmux", "tmux")):
        if shutil.which(prog) is None:
            return "%s is not installed (Debian package %s)" % (prog, pkg)
    return None


class ImapMutt(PosternTestCase):

    def setUp(self):
        if mutt_missing():
            self.skipTest(mutt_missing())

    def wait_server(self, t, box, expected, what):
        return wait_for(lambda: server_flags(t, box) == expected, 20, what,
                        detail=lambda: "server: %r\nscreen:\n%s" % (server_flags(t, box), self.mutt.screen()),
                        interval=0.2)

    def test_read_flag_and_save_to_a_folder_over_imaps(self):
        t = self.start_tree()
        for i in ("mu1", "mu2", "mu3"):
            t.send(t.addr("alice"), i, body=("body of %s\r\n" % i).encode())
        t.wait_ids("alice", {"mu1", "mu2", "mu3"})
        self.mutt = m = Mutt(self, t)
        m.wait_screen(lambda s: "=INBOX" in s and len(re.findall(r"test mu\d", s)) == 3, "mutt's index of INBOX")
        self.assertEqual(server_flags(t, "INBOX"), {"mu1": set(), "mu2": set(), "mu3": set()})

        # Read mu1: the pager shows its body; \Seen reaches the server at
        # the next mailbox sync ($).
        m.keys(m.index_number("mu1"), "Enter")
        m.keys("Enter")
        m.wait_screen(lambda s: "body of mu1" in s, "the pager with mu1")
        m.keys("i")
        m.wait_screen(lambda s: "=INBOX" in s and "body of mu1" not in s, "back in the index")
        m.keys("$")
        self.wait_server(t, "INBOX", {"mu1": {"\\Seen"}, "mu2": set(), "mu3": set()}, "\\Seen on mu1")

        # Flag mu2.
        m.keys(m.index_number("mu2"), "Enter")
        m.keys("F", "$")
        self.wait_server(t, "INBOX", {"mu1": {"\\Seen"}, "mu2": {"\\Flagged"}, "mu3": set()}, "\\Flagged on mu2")

        # Save mu3 to Kept, which does not exist yet, then quit.
        m.keys(m.index_number("mu3"), "Enter")
        m.keys("s")
        m.wait_screen(lambda s: "Save to mailbox" in s, "the save prompt")
        m.keys("C-u", "=Kept", "Enter")
        self.wait_server(t, "Kept", {"mu3": set()}, "mu3 copied to Kept")
        m.keys("q")
        self.assertEqual(m.wait_exit(), "0", m.screen())
        self.assertEqual(server_flags(t, "INBOX"), {"mu1": {"\\Seen"}, "mu2": {"\\Flagged"}})
        self.assertEqual(server_flags(t, "Kept"), {"mu3": set()})
        self.assertEqual(sorted(t.test_ids("alice")), ["mu1", "mu2"])


if __name__ == "__main__":
    unittest.main()
