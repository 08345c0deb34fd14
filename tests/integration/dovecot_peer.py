"""dovecot_peer: a private Dovecot IMAP server over a given Maildir.

For tests and benchmarks that compare Postern with Dovecot on the same
tree (the dovecot-uidlist / dovecot-keywords format test, the swap test,
bench/).  Debian's dovecot-imapd (with dovecot-core) must be installed;
`unavailable()` says why a peer cannot run here, for skipTest().

    peer = DovecotPeer("/tmp/x/Maildir")       # the tree's owner serves it
    peer.start()
    m = peer.imap()                            # imaplib.IMAP4, logged in
    ...
    peer.stop()                                # always: also on failure

What it sets up, all under one temp dir (peer.dir), touching no system
file (no /etc/dovecot, no system base_dir):
  dovecot.conf   given to `dovecot -F -c` (foreground: we hold the pid)
  passwd         passwd-file passdb and userdb: one user (default alice /
                 secret, {PLAIN}; {CRYPT} when password_hash, a crypt(3)
                 string, is given), uid/gid of the Maildir's owner, and
                 extra_users, (user, crypt(3) hash, Maildir) triples, each
                 served from its own Maildir (userdb_mail) as the same uid
  run/ state/    base_dir and state_dir
  dovecot.log    every log line (peer.log_text(), peer.log_tail())
  home/          the user's home, owned by the user (homes/USER: extra_users)
IMAP listens on 127.0.0.1 on a free port (peer.port), no imaps, ssl = no:
Dovecot treats a loopback client as secured, so LOGIN / AUTHENTICATE PLAIN
work there in plaintext (and nowhere else).  mail_location is
maildir:MAILDIR (with :INDEX=DIR when index_dir is given: Dovecot's
dovecot.index* files elsewhere, the Maildir and its dovecot-uidlist /
dovecot-keywords in place).  extra_conf is appended to dovecot.conf as
given (e.g. a namespace with special_use mailboxes).

Users: the master starts as root (tests run as root) and serves mail as
the Maildir's owner, which must not be root (Dovecot refuses UID 0), and
every directory above the Maildir must be searchable by that user.  The
login and auth processes run as dovenull and dovecot (Debian creates
them); the temp dir is 0711 and the passwd file 0644 for them.

Stopping: SIGTERM to the master (its pid), a wait under a deadline until
the master and every process of its group (the peer's own session) have
exited, so that nothing writes to the Maildir after stop(); SIGKILL to the
group for what is left; then the temp dir is removed.  stop() is safe to
call twice and runs at exit for a peer still running.
"""

import atexit
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from postern_harness import HOST, free_port, wait_for

DOVECOT = "/usr/sbin/dovecot"                 # dovecot-core
DOVECOT_IMAP = "/usr/lib/dovecot/imap"        # dovecot-imapd
DOVECOT_USERS = ("dovecot", "dovenull")       # default_internal_user, default_login_user
START_SECONDS = 20
STOP_SECONDS = 15
PORT_TRIES = 3

_live = []
_live_lock = threading.Lock()


def unavailable():
    """None when a private Dovecot can run here, else the reason."""
    if os.geteuid() != 0:
        return "a private Dovecot needs root (its master serves mail as the Maildir's owner)"
    for path, pkg in ((DOVECOT, "dovecot-core"), (DOVECOT_IMAP, "dovecot-imapd")):
        if not os.access(path, os.X_OK):
            return "%s missing: Debian package %s is not installed (make deps installs it)" % (path, pkg)
    for user in DOVECOT_USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return "system user %s missing (dovecot-core creates it)" % user
    return None


def test_dir(test, prefix, helper=None):
    """For a unittest.TestCase's setUp: skip the test when no peer can run
    here, fail it when helper (a test program) is not built; return a new
    temp dir, searchable by the mail user (0711), removed at cleanup."""
    why = unavailable()
    if why:
        test.skipTest(why)
    if helper is not None and not os.access(helper, os.X_OK):
        test.fail("%s is not built (make unit)" % helper)
    top = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, top, True)
    os.chmod(top, 0o711)   # the mail processes run as the Maildir's owner
    return top


def _greeting(port):
    """True when an IMAP greeting comes from port."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as s:
            return s.recv(512).startswith(b"* OK")
    except OSError:
        return False


class DovecotPeer:
    def __init__(self, maildir, user="alice", password="secret", uid=None, gid=None, index_dir=None,
                 extra_conf="", password_hash=None, extra_users=()):
        self.maildir = os.path.abspath(maildir)
        st = os.stat(self.maildir)
        self.uid = st.st_uid if uid is None else uid
        self.gid = st.st_gid if gid is None else gid
        if self.uid == 0:
            raise ValueError("%s: Dovecot will not serve mail as root; give the Maildir another owner"
                             % self.maildir)
        self.user = user
        self.password = password
        self.index_dir = index_dir
        self.extra_conf = extra_conf
        self.password_hash = password_hash
        self.extra_users = tuple(extra_users)
        self.dir = None
        self.port = None
        self.proc = None

    # ---------------------------------------------------------- set-up

    def _conf(self):
        location = "maildir:" + self.maildir
        if self.index_dir is not None:
            location += ":INDEX=" + os.path.abspath(self.index_dir)
        d = self.dir
        return """# written by tests/integration/dovecot_peer.py
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = {host}
ssl = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
mail_location = {location}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""".format(d=d, host=HOST, port=self.port, location=location) + self.extra_conf

    def _write_files(self):
        for sub in ("run", "state"):
            os.mkdir(os.path.join(self.dir, sub), 0o755)
        secret = "{CRYPT}" + self.password_hash if self.password_hash else "{PLAIN}" + self.password
        lines = [self._passwd_line(self.user, secret, os.path.join(self.dir, "home"), "")]
        if self.extra_users:
            os.mkdir(os.path.join(self.dir, "homes"), 0o711)
        for user, hash_, maildir in self.extra_users:
            lines.append(self._passwd_line(user, "{CRYPT}" + hash_, os.path.join(self.dir, "homes", user),
                                           "userdb_mail=maildir:" + os.path.abspath(maildir)))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("".join(lines))
        os.chmod(os.path.join(self.dir, "passwd"), 0o644)   # auth runs as dovecot; a test password

    def _passwd_line(self, user, secret, home, extra):
        """A passwd-file line for user, whose home is made here, owned by the
        mail user; extra: userdb extra fields."""
        os.mkdir(home, 0o700)
        os.chown(home, self.uid, self.gid)
        return "%s:%s:%d:%d::%s::%s\n" % (user, secret, self.uid, self.gid, home, extra)

    def start(self):
        """Start the master and wait for its IMAP greeting; raise with the
        log tail when it does not come."""
        if self.proc is not None:
            raise RuntimeError("peer already started")
        self.dir = tempfile.mkdtemp(prefix="dovecot-peer.")
        os.chmod(self.dir, 0o711)
        self._write_files()
        with _live_lock:
            _live.append(self)
        for attempt in range(PORT_TRIES):
            self.port = free_port()
            with open(os.path.join(self.dir, "dovecot.conf"), "w") as f:
                f.write(self._conf())
            out = open(os.path.join(self.dir, "dovecot.out"), "ab")
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", os.path.join(self.dir, "dovecot.conf")],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            out.close()
            up = wait_for(lambda: self._exited() or _greeting(self.port), START_SECONDS,
                          "Dovecot's IMAP greeting on %s:%d" % (HOST, self.port), detail=self.log_tail)
            if not self._exited():
                return self
            # The master exited: a port taken meanwhile is worth another try.
            busy = "Address already in use" in self.log_text()
            self._reap()
            code, self.proc = self.proc.returncode, None
            if not busy or attempt == PORT_TRIES - 1:
                raise AssertionError("Dovecot did not start (%r, exit status %s):\n%s"
                                     % (up, code, self.log_tail()))
        raise AssertionError("not reached")

    # ---------------------------------------------------------- use

    def imap(self, timeout=30):
        """An imaplib client, logged in as the user."""
        m = imaplib.IMAP4(HOST, self.port, timeout=timeout)
        m.login(self.user, self.password)
        return m

    def log_text(self):
        parts = []
        for name in ("dovecot.out", "dovecot.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    parts.append(f.read())
            except (OSError, TypeError):
                pass
        return "".join(parts)

    def log_tail(self, n=40):
        lines = self.log_text().splitlines()[-n:]
        return "dovecot log (%s):\n" % self.dir + "\n".join("    | " + l for l in lines)

    def errors(self):
        """Log lines of level Error, Fatal or Panic."""
        return [l for l in self.log_text().splitlines() if re.search(r": (Error|Fatal|Panic): ", l)]

    # ---------------------------------------------------------- stop

    def _exited(self):
        """Whether the master has exited, without reaping it: while it is an
        unreaped zombie its pid, which is also its group's id, cannot be
        reused, so a signal to the group reaches only the peer's processes."""
        try:
            return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _group(self):
        """Live processes of the master's group but the master itself."""
        pgid, members = self.proc.pid, []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == pgid:
                continue
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(name))
        return members

    def _reap(self):
        """Wait under a deadline for the master and its children to exit
        (so that nothing writes to the Maildir any more), SIGKILL what is
        left of the group, then reap the master."""
        if self.proc is None:
            return
        gone = lambda: self._exited() and not self._group()
        if not wait_for(gone, STOP_SECONDS, "the Dovecot peer to exit", fail=False):
            # What is left of the peer's own session only: SIGKILL, and
            # wait for that under the same kind of deadline.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_for(gone, STOP_SECONDS, "the Dovecot peer to die", fail=False)
        self.proc.wait()

    def stop(self, keep=False):
        """Stop the master and its children; remove the temp dir unless keep."""
        if self.proc is not None and not self._exited():
            os.kill(self.proc.pid, signal.SIGTERM)   # a zombie at worst: never another process
        self._reap()
        self.proc = None
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if self.dir is not None and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _stop_all():
    with _live_lock:
        peers = list(_live)
    for p in peers:
        try:
            p.stop()
        except Exception:   # keep going: every peer must be stopped
            pass


atexit.register(_stop_all)
