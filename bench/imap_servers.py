"""bench/imap_servers.py: the two servers bench/imap.py compares, each
over its own copies of the same Maildirs, with the same password hash.

Postern: a tree made by `postern init` under the run's temp dir from
BUILD, IMAP on the port base + 143 and SMTP on + 25, plaintext on
loopback; user alice@example.test and, for the idle benchmarks, userNNN
(`postern user add`: a yescrypt hash in etc/users).

Dovecot: a private instance (tests/integration/dovecot_peer.py: Debian
dovecot-imapd, default settings but the limits below), mail_location
maildir: with the index files in the Maildir; alice and the same userNNN,
each with its own Maildir.

Password: the same for every user on both servers, and the same hash:
Postern's own yescrypt hash of it (etc/users, as `postern user add`
wrote it) goes into Dovecot's passdb as {CRYPT}; set_hash() puts another
crypt(3) hash in both (crypt_hash(): the cheap SHA-512 crypt idle10k
uses for its thousands of logins).

Limits raised for many sessions (both): sessions per user, per client
address, processes (Postern's imap-session maxproc, at most 10,000;
Dovecot's service imap process_limit, mail_max_userip_connections,
default_client_limit).  Hibernation (--hibernate S): Postern's
imap_hibernate_timeout when its postern.conf knows the key, and
Dovecot's imap_hibernate_timeout with its imap-hibernate service."""

import ctypes
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import time

from imap_client import HOST, log, wait_greeting

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
MAIL_USER = "postern-vmail"
PASSWORD = "bench-imap-pw"
DOMAIN = "example.test"
SENDER = "bench@example.org"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
LDA_AT_ONCE = 20        # as many as Postern's local service runs (maxproc 20)
MAXPROC_MAX = 10000     # master.conf's bound on maxproc
USER_SESSIONS_MAX = 4096


sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))   # the tests' helpers


def harness(build):
    """tests/integration/postern_harness.py (free ports; Dovecot's peer uses it)."""
    os.environ.setdefault("POSTERN_BUILD", build)
    import postern_harness
    return postern_harness


def place(src, dst, owner, sync=True):
    """dst becomes a fresh copy of the Maildir src (dst's own directory is
    kept), written back to disk (sync: at once; else the caller syncs)."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(dst):
        p = os.path.join(dst, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    subprocess.run(["cp", "-a", src + "/.", dst + "/"], check=True)
    os.chown(dst, owner.pw_uid, owner.pw_gid)
    if sync:
        os.sync()


def crypt_hash(password, prefix):
    """crypt(3) of password with a fresh salt of the scheme prefix ("$6$":
    SHA-512 crypt, "$y$": yescrypt), through libcrypt as Postern's
    `postern user add` calls it (Python's crypt module is going away)."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = (ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    salt = lib.crypt_gensalt(prefix.encode(), 0, None, 0)
    out = lib.crypt(password.encode(), salt) if salt else None
    if not out or out.startswith(b"*"):
        raise RuntimeError("crypt(3) has no %s scheme here" % prefix)
    return out.decode()


def user_names(count):
    return ["user%03d@%s" % (i, DOMAIN) for i in range(1, count + 1)]


class Postern:
    name = "Postern"

    def __init__(self, build, top, users=(), sessions=0, hibernate=None):
        """users: the idle benchmarks' users (addresses); sessions: the most
        IMAP sessions a benchmark will hold at once."""
        self.bin = os.path.join(build, "bin", "postern")
        self.dir = os.path.join(top, "postern")
        self.base = harness(build).free_port_base()
        self.user, self.password = "alice@" + DOMAIN, PASSWORD
        self.users = list(users)
        subprocess.run([self.bin, "init", "-d", self.dir, "--domain", DOMAIN, "--listen", HOST,
                        "--port-base", str(self.base)], check=True, stdout=subprocess.DEVNULL)
        for u in [self.user] + self.users:
            subprocess.run([self.bin, "user", "add", "-d", self.dir, u, self.password],
                           check=True, stdout=subprocess.DEVNULL)
        self.yescrypt = self.hashes()[self.user]
        conf = os.path.join(self.dir, "etc", "postern.conf")
        with open(conf) as f:
            self.knows_hibernate = re.search(r"^#?\s*imap_hibernate_timeout\s*=", f.read(), re.M) is not None
        per_user = min(USER_SESSIONS_MAX, max(50, sessions + 10))
        with open(conf, "a") as f:
            f.write("log_file = maillog\n")   # no syslog daemon here: glibc would retry /dev/log per line
            f.write("imap_user_session_limit = %d\nimap_client_session_limit = 0\n" % per_user)
            if hibernate is not None and self.knows_hibernate:
                f.write("imap_hibernate_timeout = %ds\n" % hibernate)
        if hibernate is not None and not self.knows_hibernate:
            log("Postern's postern.conf has no imap_hibernate_timeout: --hibernate applies to Dovecot only")
        self.hibernate = self.hibernate_setting(conf)
        self.maxproc = min(MAXPROC_MAX, max(500, sessions + 20))
        self.set_maxproc("imap-session", self.maxproc)
        self.maildir = self.user_maildir(self.user)
        self.port = self.base + 143
        self.running = False

    def hibernate_setting(self, conf):
        """imap_hibernate_timeout as the tree has it: the last line setting
        it, else its commented default, else None (no such key)."""
        with open(conf) as f:
            text = f.read()
        set_ = re.findall(r"^imap_hibernate_timeout\s*=\s*(\S+)", text, re.M)
        default = re.findall(r"^#\s*imap_hibernate_timeout\s*=\s*(\S+)", text, re.M)
        return set_[-1] if set_ else ("%s (default)" % default[0] if default else None)

    def set_maxproc(self, service, n):
        path = os.path.join(self.dir, "etc", "master.conf")
        with open(path) as f:
            text = f.read()
        row = re.compile(r"^(%s(?:\s+\S+){4}\s+)\d+" % re.escape(service), re.M)
        text, count = row.subn(lambda m: m.group(1) + str(n), text)
        if count != 1:
            raise RuntimeError("%s: no service %s" % (path, service))
        with open(path, "w") as f:
            f.write(text)

    def hashes(self):
        with open(os.path.join(self.dir, "etc", "users")) as f:
            return dict(line.rstrip("\n").split(":", 1) for line in f if ":" in line)

    def set_hash(self, hash_):
        """Every user's hash in etc/users becomes hash_ (a new file renamed
        into place, owner and mode kept: authd reads it again)."""
        path = os.path.join(self.dir, "etc", "users")
        st = os.stat(path)
        with open(path + ".bench", "w") as f:
            f.write("".join("%s:%s\n" % (u, hash_) for u in self.hashes()))
        os.chown(path + ".bench", st.st_uid, st.st_gid)
        os.chmod(path + ".bench", st.st_mode & 0o7777)
        os.rename(path + ".bench", path)

    def user_maildir(self, user):
        local, domain = user.split("@")
        return os.path.join(self.dir, "mail", domain, local)

    def master_pid(self):
        with open(os.path.join(self.dir, "run", "master.pid")) as f:
            return int(f.read().strip())

    def deliver(self, users, message):
        """One message to every user, by SMTP (one transaction, a RCPT
        each): through Postern's queue and local delivery."""
        with smtplib.SMTP(HOST, self.base + 25, timeout=120) as s:
            refused = s.sendmail(SENDER, users, message)
        if refused:
            raise RuntimeError("Postern's SMTP refused %r" % refused)

    def start(self):
        subprocess.run([self.bin, "start", "-d", self.dir], check=True, stdout=subprocess.DEVNULL)
        self.running = True
        wait_greeting(self.port)

    def stop(self):
        if self.running:
            subprocess.run([self.bin, "stop", "-d", self.dir], stdout=subprocess.DEVNULL)
            self.running = False


class Dovecot:
    name = "Dovecot"

    def __init__(self, build, top, users=(), sessions=0, hibernate=None):
        harness(build)
        import dovecot_peer
        why = dovecot_peer.unavailable()
        if why:
            raise RuntimeError(why)
        self.mod = dovecot_peer
        self.top = os.path.join(top, "dovecot")
        self.maildir = os.path.join(self.top, "Maildir")
        os.makedirs(self.maildir)
        os.chmod(self.top, 0o711)
        owner = pwd.getpwnam(MAIL_USER)
        os.chown(self.maildir, owner.pw_uid, owner.pw_gid)   # Dovecot serves it as its owner
        self.users = list(users)
        for u in self.users:
            os.makedirs(self.user_maildir(u))
            os.chmod(os.path.dirname(self.user_maildir(u)), 0o711)
        if self.users:
            os.chmod(os.path.join(self.top, "users"), 0o711)
        self.hash = None
        self.hibernate = "%ds" % hibernate if hibernate is not None else "0 (default: off)"
        self.extra_conf = self.conf(sessions, hibernate)
        self.peer = None

    @staticmethod
    def conf(sessions, hibernate):
        """dovecot.conf's additions: the limits raised for `sessions` at once,
        and hibernation after `hibernate` seconds (None: Dovecot's default,
        off) set up as Dovecot's documentation does, but with the socket
        open to the mail user (postern-vmail, not in the dovecot group)."""
        text = """
default_client_limit = {clients}
protocol imap {{
  mail_max_userip_connections = {sessions}
}}
service imap {{
  process_limit = {procs}
{master}}}
""".format(clients=max(1000, sessions + 1000), sessions=max(10, sessions + 10), procs=max(1024, sessions + 100),
           master="" if hibernate is None else "  unix_listener imap-master {\n    user = $default_internal_user\n  }\n")
        if hibernate is not None:
            text += """imap_hibernate_timeout = %ds
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0666
  }
}
""" % hibernate
        return text

    def user_maildir(self, user):
        return os.path.join(self.top, "users", user.split("@")[0], "Maildir")

    def set_hash(self, hash_):
        """The hash of every user's passdb entry ({CRYPT}), from the next start."""
        self.hash = hash_

    def master_pid(self):
        return self.peer.proc.pid

    def start(self):
        self.peer = self.mod.DovecotPeer(self.maildir, password=PASSWORD, password_hash=self.hash,
                                         extra_users=[(u, self.hash, self.user_maildir(u)) for u in self.users],
                                         extra_conf=self.extra_conf)
        self.peer.start()
        self.port = self.peer.port
        self.user, self.password = self.peer.user, self.peer.password
        self.version = subprocess.run([self.mod.DOVECOT, "--version"], stdout=subprocess.PIPE,
                                      text=True).stdout.split()[0]

    def deliver(self, users, message):
        """One message to every user with dovecot-lda (Dovecot's own local
        delivery: Maildir and index), at most LDA_AT_ONCE at a time."""
        conf = os.path.join(self.peer.dir, "dovecot.conf")
        todo, running = list(users), []
        while todo or running:
            while todo and len(running) < LDA_AT_ONCE:
                p = subprocess.Popen([DOVECOT_LDA, "-c", conf, "-d", todo.pop(0), "-f", SENDER],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                p.stdin.write(message)
                p.stdin.close()
                running.append(p)
            done = [p for p in running if p.poll() is not None]
            for p in done:
                running.remove(p)
                if p.returncode != 0:
                    raise RuntimeError("dovecot-lda: exit %d: %s" % (p.returncode, p.stdout.read()[:300]))
                p.stdout.close()
            if not done:
                time.sleep(0.002)

    def stop(self):
        if self.peer is not None:
            errors = self.peer.errors()
            if errors:
                log("Dovecot logged errors: %s" % errors[:5])
            self.peer.stop()
            self.peer = None
