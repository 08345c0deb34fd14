"""postern_harness: run a real Postern tree for the integration tests.

A test gets a fresh tree with `self.start_tree()` (PosternTestCase): a temp
dir under /tmp, `postern init` on a random free port base, users alice and
bob, and the master started in the foreground as our own child (stdout and
stderr to DIR/master.log), so that we hold its pid.  The master is always
stopped at the end (SIGTERM, then SIGKILL and a kill of its children if it
does not go), also when the test fails or the runner is killed (atexit and
a SIGTERM handler).  After a success the tree is removed; after a failure it
is kept, its path and the tail of master.log are printed.

Only the stable operator interface of DESIGN.md is used: `postern init|user
|start|stop|status`, DIR/run/master.pid, process titles "postern/SERVICE",
Maildirs at DIR/mail/DOMAIN/LOCALPART/.  Traffic goes to 127.0.0.1 only.
The services (SERVICES, PRIVILEGES, PORT_OFFSETS) are read once, at
import, from the service table through the hidden `postern services`.

Environment: POSTERN_BUILD is the build directory (absolute; default
build/ next to this tree).  A build directory ending in "-san" is the
ASan + UBSan build: deadlines are stretched and master.log is scanned for
sanitizer reports after each test, which fail that test.
POSTERN_TEST_TIMEOUT_SCALE (a number, default 1) stretches every deadline
further, for a slow or busy machine.

Waiting: a test never sleeps for a fixed time and never waits N seconds
to see that nothing happened.  It waits for the event itself with
wait_for() (one deadline helper: a predicate, a deadline in seconds that
SCALE stretches, and what is awaited, named in the failure), usually
through Tree.wait_log() (a master.log line, after a mark), wait_ids(),
wait_count() or a queue state.  To show that something did NOT happen, a
test waits for a later event that proves the system has gone past the
point where it would have happened (the smtpd session's `disconnect`
line with messages=N, qmgr's `deferred/ scanned` line after a flush, an
empty queue), then looks once.  A test that asserts a duration says its
margin: what the behaviour needs and how much slack the bound leaves.

Other users: a program a test runs as another user (nobody) must be
readable and executable by that user along its whole path, which the
checkout need not be (a clone under /root or in a mktemp -d directory is
0700).  Tree.bin_for_others() copies the programs into a directory of the
tree with modes 0755, and every test that changes user runs them from
there (as_user() gives the subprocess arguments, with cwd "/").
"""

import atexit
import os
import poplib
import random
import re
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("POSTERN_BUILD") or os.path.join(SOURCE, "build"))
BIN = os.path.join(BUILD, "bin")
POSTERN = os.path.join(BIN, "postern")
SANITIZED = os.path.basename(BUILD.rstrip("/")).endswith("-san")


def _timeout_scale():
    raw = os.environ.get("POSTERN_TEST_TIMEOUT_SCALE", "").strip()
    if not raw:
        return 1.0
    try:
        v = float(raw)
    except ValueError:
        v = 0.0
    if not v > 0:
        raise RuntimeError("POSTERN_TEST_TIMEOUT_SCALE=%r: want a number above 0" % raw)
    return v


# Deadlines are multiplied by this: POSTERN_TEST_TIMEOUT_SCALE (a slow or
# busy machine), times 3 for the sanitizer build (2-3x slower).
SCALE = _timeout_scale() * (3.0 if SANITIZED else 1.0)

DOMAIN = "example.test"
HOST = "127.0.0.1"
SERVICE_FRONT_USER = "postern-login"   # common/service_table.h: the connection front's user
SANITIZER_PATTERNS = (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:")
# A daemon that the seccomp filter killed (common/sandbox.c): a call its
# profile lacks.  The master restarts it, so a test could pass over it;
# every tree's log is checked at cleanup (Tree.forbidden_calls_expected).
FORBIDDEN_CALL_PATTERN = b"killed: forbidden system call"

_live_trees = []          # trees whose master may still run (for atexit)
_live_lock = threading.Lock()


def deadline(seconds):
    """An absolute time.monotonic() deadline, stretched by SCALE."""
    return time.monotonic() + seconds * SCALE


class _Unset:
    def __repr__(self):
        return "nothing yet"


def wait_for(predicate, seconds, what, detail=None, ignore=(), interval=0.05, fail=True):
    """Call predicate() until it returns a true value, and return that value.

    The one deadline of the suite: seconds (stretched by SCALE) from now.
    At the deadline, raise AssertionError "timed out after Ns waiting for
    WHAT" with the last value (or the last exception of a type in ignore,
    which count as "not yet") and detail() when given, e.g. a log tail;
    with fail=False return the last (false) value instead, for a caller
    that asserts it with its own message.  predicate is always called at
    least once, and once more at the deadline."""
    limit = seconds * SCALE
    end = time.monotonic() + limit
    last = _Unset()
    while True:
        final = time.monotonic() >= end
        try:
            last = predicate()
            if last:
                return last
        except ignore as e:
            last = e
        if final:
            break
        time.sleep(max(0.0, min(interval, end - time.monotonic())))
    if not fail:
        return None if isinstance(last, (_Unset, BaseException)) else last
    msg = "timed out after %.1fs waiting for %s (last: %s)" % (limit, what, _short(last))
    if detail is not None:
        msg += "\n" + str(detail() if callable(detail) else detail)
    raise AssertionError(msg)


def _short(value, n=300):
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def is_root():
    return os.geteuid() == 0


def daemon_env():
    """Environment for postern and the master (and through it the daemons)."""
    env = dict(os.environ)
    env.pop("POSTERN_DIR", None)
    if SANITIZED:
        # Leak detection does not work across chroot/setuid; the unit tests
        # keep it.  A UBSan finding stops the process so that it is noticed.
        # Allocation stacks 5 deep, not 30: every malloc and free records
        # one, and the daemons' suite is CPU-bound under ASan (about 8% of
        # its CPU); a report still shows the faulting access in full.
        env["ASAN_OPTIONS"] = "detect_leaks=0:malloc_context_size=5"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


# ---------------------------------------------------------------- services

def service_table():
    """The service table (common/service_table.c), as the hidden `postern
    services` prints it (tools/postern_services.c): a list of dicts with
    name, type ("inet"/"unix"), port (int or None), user, root ("-" for
    DIR), maxproc (int), command, args (list), uses (list) and callers
    (list of users, root included, or None for anyone), and on (False
    for a row the default master.conf has commented out), in master.conf
    order."""
    try:
        p = subprocess.run([POSTERN, "services"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=daemon_env(), timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise RuntimeError("cannot read the service table from %s services (build first): %s"
                           % (POSTERN, e)) from e
    rows = []
    for line in p.stdout.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 12:
            raise RuntimeError("%s services: not 12 tab-separated fields: %r" % (POSTERN, line))
        rows.append({"name": f[0], "type": f[1], "port": None if f[2] == "-" else int(f[2]),
                     "user": f[3], "root": f[4], "maxproc": int(f[5]), "command": f[6],
                     "args": [] if f[7] == "-" else f[7].split(" "),
                     "uses": [] if f[8] == "-" else f[8].split(","),
                     "callers": None if f[9] == "*" else f[9].split(","),
                     "on": f[10] == "on", "resident": f[11] == "resident"})
    if not rows:
        raise RuntimeError("%s services printed no service" % POSTERN)
    return rows


ALL_SERVICE_TABLE = service_table()
# The rows the default master.conf enables (metrics is off: commented out).
SERVICE_TABLE = [row for row in ALL_SERVICE_TABLE if row["on"]]
# Every service of the default master.conf.  The master keeps a process
# of the resident ones (RESIDENT: qmgr) and starts the others when a
# client waits (Tree.wake).
SERVICES = tuple(row["name"] for row in SERVICE_TABLE)
RESIDENT = tuple(row["name"] for row in SERVICE_TABLE if row["resident"])
# DESIGN.md "Processes and privileges": service -> (user, root under DIR or None)
PRIVILEGES = {row["name"]: (row["user"], None if row["root"] == "-" else row["root"]) for row in SERVICE_TABLE}
# inet service -> its standard port; it listens on the port base plus it.
PORT_OFFSETS = {row["name"]: row["port"] for row in SERVICE_TABLE if row["type"] == "inet"}


# ---------------------------------------------------------------- ports

def port_free(port, host=HOST):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(host=HOST):
    """A TCP port the kernel has just found free on host (for a listener
    of one test: free until someone else takes it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


# Ports a tree may use above its base: every standard offset, the metrics
# port (9155) and the extra listeners some tests add (base + 2525).
PORT_SPAN = 10000


def ephemeral_low():
    """The first port of the kernel's ephemeral range (for connect() and
    bind(port 0)), which port bases stay below."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_base_range():
    """[lo, hi) of the port bases this process may use.  The run_all
    workers (POSTERN_TEST_WORKER=i/N) each get a slice of the ports from
    1100 to the ephemeral range, PORT_SPAN apart, so that two workers'
    trees never draw the same port."""
    worker, workers = 0, 1
    spec = os.environ.get("POSTERN_TEST_WORKER", "")
    if re.fullmatch(r"\d+/\d+", spec):
        worker, workers = (int(x) for x in spec.split("/"))
        if not 0 <= worker < workers:
            worker, workers = 0, 1
    width = (ephemeral_low() - 1100) // workers
    lo = 1100 + worker * width
    hi = lo + width - PORT_SPAN
    if hi - lo < 100:
        raise RuntimeError("no room for %d workers' port bases below port %d" % (workers, ephemeral_low()))
    return lo, hi


def free_port_base():
    """A port base N with N + every standard port free, from this
    process's slice (port_base_range)."""
    rng = random.SystemRandom()
    lo, hi = port_base_range()
    for _ in range(500):
        base = rng.randrange(lo, hi)
        if all(port_free(base + off) for off in PORT_OFFSETS.values()):
            return base
    raise RuntimeError("no free port base found")


# ---------------------------------------------------------------- /proc

def proc_argv0(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if not raw:
        return None
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def proc_status(pid):
    """/proc/PID/status as a dict of str -> str, or None if gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def proc_ppid(pid):
    st = proc_status(pid)
    return int(st["PPid"]) if st and "PPid" in st else None


def proc_ids(pid, key):
    """The four ids of the Uid: or Gid: line (real, effective, saved, fs)."""
    st = proc_status(pid)
    if not st or key not in st:
        return None
    return [int(x) for x in st[key].split()]


def proc_root(pid):
    try:
        return os.readlink("/proc/%d/root" % pid)
    except OSError:
        return None


def open_files(pid):
    """What the descriptors of pid name ([] when it is gone)."""
    out = []
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for n in names:
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, n)))
        except OSError:
            pass
    return out


def check_privsep(test, t, service, user, root):
    """Every process of service runs as user (all four uids and gids),
    chrooted into root (relative to the tree), without the password file
    open: read from /proc, so the caller must be root.  Their pids."""
    import pwd
    pw = pwd.getpwnam(user)
    want_root = os.path.realpath(os.path.join(t.dir, root))
    users_file = os.path.realpath(os.path.join(t.dir, "etc", "users"))
    pids = t.wake(service)
    test.assertTrue(pids, "no postern/%s process" % service)
    for pid in pids:
        # A process forked a moment ago may still be dropping privileges.
        wait_for(lambda: proc_ids(pid, "Uid") != [0, 0, 0, 0], 5, "%s pid %d to drop root" % (service, pid),
                 fail=False)
        test.assertEqual(proc_ids(pid, "Uid"), [pw.pw_uid] * 4, "%s pid %d" % (service, pid))
        test.assertEqual(proc_ids(pid, "Gid"), [pw.pw_gid] * 4, "%s pid %d" % (service, pid))
        test.assertEqual(proc_root(pid), want_root, "%s pid %d chroot" % (service, pid))
        files = open_files(pid)
        test.assertFalse([f for f in files if f.endswith("/etc/users") or f == users_file],
                         "%s pid %d has the password file open: %r" % (service, pid, files))
    return pids


def check_one_session_holds(test, folder, sessions, logins):
    """Exactly one of the session pids has something under folder open,
    and none of the login pids has."""
    folder = os.path.realpath(folder)
    holders = [pid for pid in sessions if any(f.startswith(folder) for f in open_files(pid))]
    test.assertEqual(len(holders), 1, "exactly one session process has %s open" % folder)
    for pid in logins:
        test.assertFalse([f for f in open_files(pid) if f.startswith(folder)], "login pid %d" % pid)


def title_matches(argv0, service):
    """argv[0] is "postern/SERVICE" (a title may append ": state")."""
    if argv0 is None:
        return False
    want = "postern/" + service
    return argv0 == want or argv0.startswith(want + ":") or argv0.startswith(want + " ")


def all_pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def service_pids(master_pid, service):
    """Pids of the processes of one service whose parent is the master."""
    out = []
    for pid in all_pids():
        if title_matches(proc_argv0(pid), service) and proc_ppid(pid) == master_pid:
            out.append(pid)
    return sorted(out)


def postern_children(master_pid):
    """{pid: argv0} of every postern/ process whose parent is the master."""
    out = {}
    for pid in all_pids():
        a0 = proc_argv0(pid)
        if a0 and a0.startswith("postern/") and proc_ppid(pid) == master_pid:
            out[pid] = a0
    return out


def postern_descendants(master_pid):
    """{pid: argv0} of every postern/ process below the master: its
    children and theirs (local's command helper, a command's shell)."""
    parent = {pid: proc_ppid(pid) for pid in all_pids()}
    out = {}
    for pid in parent:
        up, seen = parent.get(pid), 0
        while up not in (None, 0, 1, master_pid) and seen < 64:
            up, seen = parent.get(up), seen + 1
        a0 = proc_argv0(pid) if up == master_pid else None
        if a0 and a0.startswith("postern/"):
            out[pid] = a0
    return out


def pid_alive_as(pid, argv0):
    """Whether pid still exists and still carries that argv[0] (not reused)."""
    return proc_argv0(pid) == argv0 and (proc_status(pid) or {}).get("State", "")[:1] != "Z"


# ---------------------------------------------------------------- SMTP / POP3

class RawSMTP:
    """A byte-level SMTP client for what smtplib cannot do (pipelining)."""

    def __init__(self, port, timeout=30, source=None):
        """source: the loopback address to connect from (default: any)."""
        self.sock = socket.create_connection((HOST, port), timeout=timeout * SCALE,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; unread: %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_reply(self):
        """(code, [text lines]) of one possibly multi-line reply."""
        texts = []
        while True:
            line = self.read_line()
            if len(line) < 3 or not line[:3].isdigit():
                raise ValueError("malformed reply line %r" % line)
            texts.append(line[4:])
            if len(line) == 3 or line[3:4] == b" ":
                return int(line[:3]), texts
            if line[3:4] != b"-":
                raise ValueError("malformed reply line %r" % line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _tcp_fields(local, remote):
    """The /proc/net/tcp fields of the IPv4 TCP socket bound to local and
    connected to remote ((host, port) pairs), or None if there is none."""
    def hexaddr(addr):
        host, port = addr[:2]
        return "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), sys.byteorder), port)
    want = (hexaddr(local), hexaddr(remote))
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (fields[1], fields[2]) == want:
                return fields
    return None


def _tcp_rx_queue(local, remote):
    """Bytes waiting in the receive queue of that socket (_tcp_fields)."""
    fields = _tcp_fields(local, remote)
    return None if fields is None else int(fields[4].split(":")[1], 16)


def connection_pids(sock):
    """Pids of the processes that hold the server end of our loopback
    TCP connection sock (plain or TLS-wrapped): the process serving it,
    also after a login process has passed it on (root reads every
    process's descriptors)."""
    fields = _tcp_fields(sock.getpeername(), sock.getsockname())
    if fields is None or fields[9] == "0":
        return []
    want = "socket:[%s]" % fields[9]
    out = []
    for pid in all_pids():
        if want in open_files(pid):
            out.append(pid)
    return sorted(out)


def vm_hwm_kb(pid):
    """The peak resident set of pid (VmHWM of /proc/PID/status) in KiB,
    or None when it is gone."""
    st = proc_status(pid)
    if not st or "VmHWM" not in st:
        return None
    return int(st["VmHWM"].split()[0])


def wait_peer_read(sock, seconds=10):
    """Wait until the server end of our loopback TCP connection sock has
    read every byte we sent (its receive queue is empty): a test that
    needs two writes to reach the server as two reads sends the second
    only then."""
    ours, theirs = sock.getsockname(), sock.getpeername()
    wait_for(lambda: _tcp_rx_queue(theirs, ours) == 0, seconds,
             "the server to read what we sent (receive queue of %s:%d)" % theirs)


def read_greeting(port, expect, timeout=2.0):
    """Connect, read the first line; True if it starts with expect."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = b""
            while b"\n" not in data and len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            ok = data.startswith(expect)
            if ok:
                try:
                    s.sendall(b"QUIT\r\n")
                    s.recv(4096)
                except OSError:
                    pass
            return ok
    except OSError:
        return False


class DirWatch:
    """inotify on one directory (no polling, no CPU while nothing
    happens): names() is what was removed or renamed away since the
    watch began (IN_DELETE, IN_MOVED_FROM), and .created what was
    created there (IN_CREATE, link(2) included).  A rename over an
    existing name is neither: the name never disappears."""

    IN_MOVED_FROM, IN_CREATE, IN_DELETE, IN_NONBLOCK = 0x40, 0x100, 0x200, 0o4000

    def __init__(self, path):
        import ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(self.IN_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self._libc.inotify_add_watch(self.fd, os.fsencode(path),
                                        self.IN_MOVED_FROM | self.IN_CREATE | self.IN_DELETE) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), "inotify_add_watch %s" % path)
        self.gone = []
        self.created = []

    def names(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return self.gone
            off = 0
            while off + 16 <= len(data):
                _wd, mask, _cookie, n = struct.unpack_from("iIII", data, off)
                name = data[off + 16:off + 16 + n].rstrip(b"\0").decode("utf-8", "replace")
                if mask & (self.IN_MOVED_FROM | self.IN_DELETE):
                    self.gone.append(name)
                if mask & self.IN_CREATE:
                    self.created.append(name)
                off += 16 + n

    def close(self):
        os.close(self.fd)


def header_value(msg_bytes, name):
    """First value of header name in a message (bytes), or None."""
    head = msg_bytes.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    pat = re.compile(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*?)\r?$", re.I | re.M)
    m = pat.search(head)
    return m.group(1).decode("utf-8", "replace") if m else None


# ---------------------------------------------------------------- the tree

# What `postern check` says about the certificate `postern init` makes.
SELF_SIGNED_WARNING = "the certificate is self-signed"


def unverified_tls_context():
    """A client TLS context that takes any certificate (the tree's own is
    self-signed), for tests about something else than the certificate."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Tree:
    """One Postern tree in a temp dir and (maybe) its running master."""

    def __init__(self, domain=DOMAIN, postern=None, env=None):
        """postern: the `postern` to run (default: the build's; an
        installed copy for the install tests); env: variables added to
        daemon_env() for every command and the master."""
        self.postern = postern or POSTERN
        self.extra_env = dict(env or {})
        if not os.access(self.postern, os.X_OK):
            raise AssertionError("postern binary missing: %s (build first)" % self.postern)
        self.domain = domain
        self.dir = tempfile.mkdtemp(prefix="postern-it-", dir="/tmp")
        # The tree must be traversable by the postern-* users (authd works
        # in DIR itself); mkdtemp makes it 0700.
        os.chmod(self.dir, 0o755)
        blocked = unreachable_by_others(self.dir)
        if blocked:
            raise AssertionError("%s: the postern-* users cannot reach it: %s is mode %o"
                                 % (self.dir, blocked, os.stat(blocked).st_mode & 0o7777))
        self.log_path = os.path.join(self.dir, "master.log")
        # How many "killed: forbidden system call" lines cleanup accepts
        # (a test that makes a daemon break its filter on purpose sets it).
        self.forbidden_calls_expected = 0
        self.port_base = None
        self.master = None        # subprocess.Popen of `postern start -f`
        self.children_seen = {}   # pid -> argv0 of master children ever seen
        self.passwords = {}
        self.log_checked_upto = 0

    # ---- commands

    def run(self, *args, check=True, timeout=60, input=None):
        """Run `postern ARGS` (with -d DIR where the caller put it)."""
        cmd = [self.postern] + list(args)
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout * SCALE, env=self.env(), stdin=None if input else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d:\n%s" % (" ".join(cmd), p.returncode,
                                                        p.stdout.decode("utf-8", "replace")))
        return p

    def env(self):
        """The environment of this tree's commands and master."""
        return dict(daemon_env(), **self.extra_env)

    def init(self, users=("alice", "bob")):
        self.port_base = free_port_base()
        self.run("init", "-d", self.dir, "--domain", self.domain,
                 "--listen", HOST, "--port-base", str(self.port_base))
        for u in users:
            pw = "pw-%s-%06d" % (u, random.SystemRandom().randrange(10**6))
            self.run("user", "add", "-d", self.dir, self.addr(u), pw)
            self.passwords[u] = pw
        return self

    def addr(self, user):
        return "%s@%s" % (user, self.domain)

    def port(self, service):
        return self.port_base + PORT_OFFSETS[service]

    # ---- master

    def start(self, wait=True, argv=None):
        """Start the master in the foreground (`postern start -d DIR -f`,
        or argv) as our child.  If it stops at start-up because one of
        the tree's standard ports was taken between free_port_base() and
        its bind (by another test run on the machine), the tree moves to
        another base and starts again (at most twice)."""
        with _live_lock:
            if self not in _live_trees:
                _live_trees.append(self)
        for attempt in range(3):
            log_from = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            logf = open(self.log_path, "ab")
            try:
                self.master = subprocess.Popen(argv or [self.postern, "start", "-d", self.dir, "-f"],
                                               stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                               env=self.env(), start_new_session=True)
            finally:
                logf.close()
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except AssertionError:
                if attempt == 2 or self.master.poll() is None or \
                        "Address already in use" not in self.log_text(after=log_from) or not self.rebase():
                    raise
        return self

    def rebase(self):
        """Move every standard listener of etc/master.conf from the port
        base to a new free one (before a start); False when the tree has
        no base of ours."""
        if self.port_base is None:
            return False
        path = os.path.join(self.dir, "etc", "master.conf")
        with open(path) as f:
            text = f.read()
        old, new = self.port_base, free_port_base()
        offsets = set(PORT_OFFSETS.values())

        def move(m):
            port = int(m.group(2))
            return "%s:%d" % (m.group(1), new + port - old) if port - old in offsets else m.group(0)

        with open(path, "w") as f:
            f.write(re.sub(r"(%s):(\d+)\b" % re.escape(HOST), move, text))
        self.port_base = new
        return True

    @property
    def master_pid(self):
        """The master's pid: our child, or the process it started if
        `postern start -f` forks the master instead of exec'ing it."""
        if self.master is None:
            return None
        pid = self.pidfile_pid()
        if pid is not None and pid != self.master.pid and proc_ppid(pid) == self.master.pid:
            return pid
        return self.master.pid

    def pidfile_pid(self):
        try:
            with open(os.path.join(self.dir, "run", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def wait_ready(self, seconds=20):
        """Until SMTP answers 220 and POP3 +OK (or the master dies)."""
        ok = {"smtp 220": False, "pop3 +OK": False}

        def ready():
            if self.master.poll() is not None:
                raise AssertionError("master exited with status %s during start-up\n%s"
                                     % (self.master.returncode, self.log_tail()))
            ok["smtp 220"] = ok["smtp 220"] or read_greeting(self.port("smtp"), b"220", timeout=2.0 * SCALE)
            ok["pop3 +OK"] = ok["pop3 +OK"] or read_greeting(self.port("pop3"), b"+OK", timeout=2.0 * SCALE)
            return all(ok.values())

        wait_for(ready, seconds, "the tree to answer", interval=0.1,
                 detail=lambda: "%r\n%s" % (ok, self.log_tail()))
        self.note_children()

    def note_children(self):
        if self.master and self.master.poll() is None:
            self.children_seen.update(postern_children(self.master_pid))

    def pids(self, service):
        if self.master is not None and self.master.poll() is not None:
            # The master has exited: its children, if any are left, are
            # orphans whose parent is no longer the master.  Report those
            # seen earlier that still live, so that "none left" can fail.
            return sorted(p for p, a0 in self.children_seen.items()
                          if title_matches(a0, service) and pid_alive_as(p, a0))
        return service_pids(self.master_pid, service)

    def wait_pids(self, service, exclude=(), seconds=10):
        """Pids of service not in exclude, waiting until there is one
        ([] at the deadline: the caller asserts)."""
        pids = wait_for(lambda: [p for p in self.pids(service) if p not in exclude], seconds,
                        "a process of %s" % service, fail=False)
        if pids:
            self.note_children()
        return pids or []

    def wake(self, service, exclude=(), seconds=10):
        """The pids of service not in exclude, starting a process of it
        first if it has none: the master starts a service that is not
        resident only when a client waits on its listener (docs/master.md),
        so this connects to the listener (a Unix socket under private/,
        else the service's port), hangs up, and waits for the process
        ([] at the deadline: the caller asserts)."""
        pids = [p for p in self.pids(service) if p not in exclude]
        if pids:
            return pids
        path = os.path.join(self.dir, "private", service)
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
        else:
            s = socket.create_connection((HOST, self.port(service)), timeout=5)
        s.close()
        return self.wait_pids(service, exclude=exclude, seconds=seconds)

    def stop(self, grace=15):
        """SIGTERM our master, wait, then SIGKILL it and whatever it left."""
        if self.master is None:
            return
        self.note_children()
        try:
            if self.master.poll() is None:
                try:
                    os.kill(self.master.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.master.wait(grace * SCALE)
                except subprocess.TimeoutExpired:
                    sys.stderr.write("harness: master %d ignored SIGTERM for %.0fs, killing it\n"
                                     % (self.master.pid, grace * SCALE))
                    self._kill_group()
                    self.master.wait(10)
            # Children that outlived the master (orphans): give them a
            # moment to notice (the lifeline pipe), then end them, they are ours.
            wait_for(lambda: not [p for p, a0 in self.children_seen.items() if pid_alive_as(p, a0)],
                     2, "the master's children to exit", fail=False)
            leftovers = [p for p, a0 in self.children_seen.items() if pid_alive_as(p, a0)]
            for p in leftovers:
                sys.stderr.write("harness: killing leftover %s pid %d\n" % (self.children_seen[p], p))
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._kill_group()
        finally:
            with _live_lock:
                if self in _live_trees:
                    _live_trees.remove(self)
            self.master_exit = self.master.returncode
            self.master = None

    def _kill_group(self):
        # start_new_session made the master a group leader: its group is ours.
        try:
            os.killpg(self.master.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # ---- logs

    def log_bytes(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def log_mark(self):
        """The current end of master.log: give it to wait_log(after=) to
        wait for a line written after this point."""
        return len(self.log_bytes())

    def log_text(self, after=0):
        return self.log_bytes()[after:].decode("utf-8", "replace")

    def wait_log(self, pattern, seconds=30, after=0, what=None):
        """Wait until master.log (from byte offset after) matches pattern
        (a str regex, re.M); return the match.  Fails with the log tail."""
        pat = re.compile(pattern, re.M)
        return wait_for(lambda: pat.search(self.log_text(after)), seconds,
                        what or "a log line matching %r" % pattern, detail=self.log_tail, interval=0.1)

    def log_tail(self, n=60):
        lines = self.log_bytes().decode("utf-8", "replace").splitlines()[-n:]
        return "---- tail of %s ----\n%s\n---- end ----" % (self.log_path, "\n".join(lines))

    def log_lines_with(self, *patterns):
        """The lines of master.log holding any of patterns (bytes), numbered."""
        hits = []
        for i, line in enumerate(self.log_bytes().splitlines()):
            if any(p in line for p in patterns):
                hits.append("%d: %s" % (i + 1, line.decode("utf-8", "replace")))
        return hits

    def sanitizer_findings(self):
        return self.log_lines_with(*SANITIZER_PATTERNS)

    # ---- mailboxes

    def maildir(self, user):
        return os.path.join(self.dir, "mail", self.domain, user)

    def place_message(self, user, name, data):
        """Put a message file into user's new/ (which must exist) as another
        program would: written in tmp/, owned like the Maildir, renamed."""
        md = self.maildir(user)
        st = os.stat(md)
        path = os.path.join(md, "tmp", name)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, st.st_uid, st.st_gid)
        os.rename(path, os.path.join(md, "new", name))

    def message_paths(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            out.extend(os.path.join(d, n) for n in names if not n.startswith("."))
        return out

    def count(self, user):
        return len(self.message_paths(user))

    def test_ids(self, user):
        """{X-Test-Id value: number of copies} in user's Maildir."""
        ids = {}
        for path in self.message_paths(user):
            try:
                with open(path, "rb") as f:
                    head = f.read(65536)
            except FileNotFoundError:
                continue   # moved new/ -> cur/ meanwhile; seen on the next scan
            v = header_value(head, "X-Test-Id")
            if v is not None:
                ids[v] = ids.get(v, 0) + 1
        return ids

    def wait_count(self, user, n, seconds=30):
        """Wait until user's Maildir holds at least n messages; return the
        count (lower at the deadline: the caller asserts)."""
        wait_for(lambda: self.count(user) >= n, seconds, "%d messages for %s" % (n, user), fail=False)
        return self.count(user)

    def wait_ids(self, user, wanted, seconds=30):
        """Wait until every id in wanted is in user's Maildir; return
        test_ids() (without some at the deadline: the caller asserts)."""
        wanted = set(wanted)
        wait_for(lambda: wanted <= set(self.test_ids(user)), seconds,
                 "messages %s for %s" % (sorted(wanted)[:5], user), interval=0.2, fail=False)
        return self.test_ids(user)

    def deliver_ids(self, user, ids, seconds=30):
        """Send one message per test id to user over SMTP and wait until
        all are in the Maildir (AssertionError at the deadline)."""
        for i in ids:
            self.send(self.addr(user), i)
        wanted = set(ids)
        wait_for(lambda: wanted <= set(self.test_ids(user)), seconds,
                 "messages %s for %s" % (sorted(wanted)[:5], user), interval=0.2)

    # ---- clients

    def smtp(self, timeout=60):
        s = smtplib.SMTP(HOST, self.port("smtp"), local_hostname="client.example", timeout=timeout * SCALE)
        s.ehlo()
        return s

    def wait_smtp_size(self, size, seconds=30):
        """Until a new SMTP session advertises SIZE size.  After a reload a
        spare forked just before it may still serve one client from the
        backlog with the old settings, so one session proves nothing."""
        def advertised():
            s = self.smtp()
            value = s.esmtp_features.get("size")
            s.quit()
            return value == size
        wait_for(advertised, seconds, "an smtpd advertising SIZE %s" % size, detail=self.log_tail)

    def smtp_send(self, s, sender, rcpts, msg, timeout=60):
        """Send msg on the session s (a new one when s is None), for tests
        that send many messages while services are killed.  Returns
        (session, None) after a 250, or (None, exception) after a refusal
        or a broken session, which is closed quietly, so that the next
        message opens a fresh one."""
        try:
            if s is None:
                s = self.smtp(timeout=timeout)
            s.sendmail(sender, rcpts, msg)
            return s, None
        except (smtplib.SMTPException, OSError, EOFError) as e:
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
            return None, e

    def pop3(self, user, timeout=60):
        p = poplib.POP3(HOST, self.port("pop3"), timeout=timeout * SCALE)
        p.user(self.addr(user))
        p.pass_(self.passwords[user])
        return p

    def pop3_retrying(self, user, seconds=20):
        """Log in over POP3, retrying while a restarted service comes back."""
        return wait_for(lambda: self.pop3(user), seconds, "a POP3 login as %s" % user,
                        ignore=(OSError, poplib.error_proto, EOFError), interval=0.2)

    def send(self, rcpt, test_id, body=b"hello\r\n", sender="sender@example.org"):
        """Send one small message with X-Test-Id over a new SMTP session."""
        msg = make_message(test_id, sender, rcpt, body)
        s = self.smtp()
        try:
            s.sendmail(sender, [rcpt], msg)
        finally:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
        return msg

    def set_conf(self, **settings):
        """Append `key = value` lines to etc/postern.conf (before start)."""
        with open(os.path.join(self.dir, "etc", "postern.conf"), "a") as f:
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))

    def cert_path(self):
        """The self-signed certificate `postern init` made (a CA file for clients)."""
        return os.path.join(self.dir, "etc", "tls", "cert.pem")

    def submission(self, user=None, timeout=60):
        """smtplib session on the submission port after STARTTLS (and AUTH
        as user when given)."""
        s = smtplib.SMTP(HOST, self.port("submission"), local_hostname="client.example",
                         timeout=timeout * SCALE)
        s.starttls(context=unverified_tls_context())
        s.ehlo()
        if user is not None:
            s.login(self.addr(user), self.passwords[user])
        return s

    def check(self):
        """`postern check -d DIR`: (exit code, output) without the warning
        every tree `postern init` made has (its certificate is
        self-signed), so that a clean tree gives (0, "")."""
        p = self.run("check", "-d", self.dir, check=False)
        lines = p.stdout.decode("utf-8", "replace").splitlines(True)
        return p.returncode, "".join(l for l in lines if SELF_SIGNED_WARNING not in l)

    # ---- queue helpers (tests/integration/test_queue_*.py)

    def drop_service(self, name):
        """Remove service name from etc/master.conf (before start)."""
        path = os.path.join(self.dir, "etc", "master.conf")
        with open(path) as f:
            lines = f.read().splitlines(True)
        with open(path, "w") as f:
            f.writelines(l for l in lines if l.split()[:1] != [name])

    def set_maxproc(self, names, maxproc):
        """Set the maxproc column of the etc/master.conf lines of the
        services in names (before start)."""
        path = os.path.join(self.dir, "etc", "master.conf")
        with open(path) as f:
            lines = f.read().splitlines(True)
        with open(path, "w") as f:
            for line in lines:
                w = line.split()
                if w[:1] and w[0] in names:
                    w[5] = str(maxproc)
                    line = " ".join(w) + "\n"
                f.write(line)

    def use_front(self, name="smtp", protocol="smtp"):
        """Put the connection front (docs/front.md) on service name's
        port (before start), with the `postern conf -M` commands the
        docs give: its inet line becomes a front line NAME-front on the
        same address, and NAME a unix service of the same program, user,
        root and maxproc that the front feeds."""
        path = os.path.join(self.dir, "etc", "master.conf")
        with open(path) as f:
            w = next(l.split() for l in f if l.split()[:2] == [name, "inet"])
        self.run("conf", "-d", self.dir, "-M", "-X", "%s/inet" % name)
        self.run("conf", "-d", self.dir, "-M", "%s-front/inet=%s-front inet %s %s run/jail 1 front %s %s"
                 % (name, name, w[2], SERVICE_FRONT_USER, protocol, name))
        self.run("conf", "-d", self.dir, "-M", "%s/unix=%s unix %s %s" % (name, name, name, " ".join(w[3:])))

    def enqueue_raw(self, fields, data, timeout=30, trailer=None):
        """Speak the enqueue protocol (docs/protocols.md) on DIR/private/enqueue:
        fields is a list of (key, value); trailer, when given, the fields
        of the record after the end chunk (with trailer=1 among fields);
        returns the answer as a dict."""
        def esc(v):
            out = []
            for ch in v.encode("utf-8"):
                out.append("%%%02X" % ch if ch < 0x20 or ch == 0x7f or ch == 0x25 else chr(ch))
            return "".join(out)
        req = "".join("%s=%s\n" % (k, esc(v)) for k, v in fields) + "\n"
        body = req.encode("latin-1") + b"%d\n" % len(data) + data + b"0\n"
        if trailer is not None:
            body += ("".join("%s=%s\n" % (k, esc(v)) for k, v in trailer) + "\n").encode("latin-1")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout * SCALE)
        try:
            s.connect(os.path.join(self.dir, "private", "enqueue"))
            s.sendall(body)
            return read_record(s)
        finally:
            s.close()

    def queue_json(self):
        """`postern queue list --json` as Python data."""
        import json
        p = self.run("queue", "-d", self.dir, "list", "--json")
        return json.loads(p.stdout.decode("utf-8"))

    def wait_queue(self, predicate, seconds=30, what="a queue state"):
        """Wait until predicate(queue_json()) is true; return that queue."""
        seen = []

        def check():
            seen[:] = [self.queue_json()]
            return predicate(seen[0])
        wait_for(check, seconds, what, detail=lambda: "queue: %r\n%s" % (seen[:1], self.log_tail()),
                 interval=0.2)
        return seen[0]

    # ---- programs run as another user

    def bin_for_others(self):
        """A directory of this tree holding copies of sendmail (with mailq
        beside it), postern and local (sendmail -bv runs it), modes 0755
        all the way down from /, for
        tests that run them as another user: the build directory may lie
        where that user cannot go (a checkout under /root, or in a 0700
        mktemp -d directory)."""
        d = os.path.join(self.dir, "bin-others")
        if not os.path.isdir(d):
            os.mkdir(d)
            os.chmod(d, 0o755)
            for name in PROGRAMS_FOR_OTHERS:
                shutil.copy(os.path.join(BIN, name), os.path.join(d, name))
                os.chmod(os.path.join(d, name), 0o755)
            os.symlink("sendmail", os.path.join(d, "mailq"))   # mailq(1) is sendmail -bp
        blocked = unreachable_by_others(d)
        if blocked:
            raise AssertionError("%s: others cannot reach it: %s is mode %o"
                                 % (d, blocked, os.stat(blocked).st_mode & 0o7777))
        return d

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# The programs Tree.bin_for_others() copies (sendmail -bv runs local).
PROGRAMS_FOR_OTHERS = ("sendmail", "postern", "local")


def unreachable_by_others(path):
    """The first directory on the way to path that a user other than its
    owner and group cannot enter (no o+x), or None."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    for i in range(2, len(parts) + 1):
        d = os.sep.join(parts[:i]) or os.sep
        if os.path.isdir(d) and not os.stat(d).st_mode & 0o001:
            return d
    return None


def as_user(name):
    """subprocess.run/Popen arguments that run the command as user name
    (its uid and primary gid, no supplementary groups) from "/", so that
    neither the checkout nor the runner's cwd need be reachable by it.
    Run programs from Tree.bin_for_others()."""
    import pwd
    pw = pwd.getpwnam(name)
    return dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], cwd="/")


def parse_record(block):
    """One record's `key=value` lines (bytes or str, docs/protocols.md) as a
    dict: the first value of each key, still %XX-escaped."""
    if isinstance(block, bytes):
        block = block.decode("utf-8", "replace")
    answer = {}
    for line in block.split("\n\n", 1)[0].splitlines():
        k, _, v = line.partition("=")
        answer.setdefault(k, v)
    return answer


def read_record(sock):
    """Read one record from a connected socket, up to its empty line (or
    the end), as parse_record gives it."""
    buf = b""
    while b"\n\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return parse_record(buf)


def make_message(test_id, sender, rcpt, body, extra_headers=()):
    """A CRLF message with X-Test-Id as its first header."""
    head = [b"X-Test-Id: " + test_id.encode(),
            b"Message-ID: <" + test_id.encode() + b"@client.example>",
            b"From: <" + sender.encode() + b">",
            b"To: <" + rcpt.encode() + b">",
            b"Subject: test " + test_id.encode(),
            b"Date: Thu, 01 Jan 2026 00:00:00 +0000"]
    head.extend(extra_headers)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _emergency_stop():
    with _live_lock:
        trees = list(_live_trees)
    for t in trees:
        try:
            t.stop(grace=5)
        except Exception as e:  # keep going: every master must be stopped
            sys.stderr.write("harness: stopping %s: %r\n" % (t.dir, e))


atexit.register(_emergency_stop)


def _on_sigterm(signum, frame):
    sys.stderr.write("harness: signal %d, stopping the masters\n" % signum)
    _emergency_stop()
    os._exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(_sig) in (signal.SIG_DFL, None):
            signal.signal(_sig, _on_sigterm)


# ---------------------------------------------------------------- test case

class PosternTestCase(unittest.TestCase):
    """A TestCase whose trees are stopped, checked and cleaned up."""

    maxDiff = 4000

    def start_tree(self, users=("alice", "bob"), start=True):
        tree = self.track_tree(Tree())
        tree.init(users)
        if start:
            tree.start()
        return tree

    def gated_tree(self):
        """A started tree whose alias gate@DOMAIN runs a command that says
        it has started (file `started` in its directory), waits for the
        file `go`, then appends the queue ID to `out`: a delivery held
        under way as long as the test wants.  (tree, the directory)"""
        t = self.start_tree(start=False)
        d = os.path.join(t.dir, "gate")
        os.mkdir(d)
        os.chmod(d, 0o777)   # the command runs as local_command_user (nobody)
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write('gate@%s "|touch %s/started; while [ ! -e %s/go ]; do sleep 0.05; done; '
                    'echo $QUEUE_ID >> %s/out"\n' % (t.domain, d, d, d))
        t.run("map", "-d", t.dir, "aliases")
        # whatever happens, the command ends (cleanups run last first:
        # before the tree's)
        self.addCleanup(lambda: open(os.path.join(d, "go"), "a").close())
        t.start()
        return t, d

    def wait_gate_started(self, t, d):
        wait_for(lambda: os.path.exists(os.path.join(d, "started")), 30, "the gated command to start",
                 detail=t.log_tail)

    def start_tree_with(self, **conf):
        """A tree started with these postern.conf settings."""
        tree = self.start_tree(start=False)
        tree.set_conf(**conf)
        tree.start()
        return tree

    def smtp_session(self, tree, timeout=60):
        """An smtplib session with tree's port 25 after EHLO, closed at cleanup."""
        s = tree.smtp(timeout=timeout)
        self.addCleanup(s.close)
        return s

    def track_tree(self, tree):
        """Have tree stopped, checked and removed (kept on failure) like
        those of start_tree; returns it."""
        self._trees.append(tree)
        self.addCleanup(self._finish_tree, tree)
        return tree

    def _finish_tree(self, tree):
        tree.stop()
        hits = tree.sanitizer_findings()
        if hits:
            raise AssertionError("sanitizer reports in %s:\n%s" % (tree.log_path, "\n".join(hits[:40])))
        calls = tree.log_lines_with(FORBIDDEN_CALL_PATTERN)
        if len(calls) != tree.forbidden_calls_expected:
            raise AssertionError("%d forbidden system call(s) in %s, %d expected:\n%s"
                                 % (len(calls), tree.log_path, tree.forbidden_calls_expected,
                                    "\n".join(calls[:40])))

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        self._trees = []
        before = (len(result.failures), len(result.errors), len(getattr(result, "unexpectedSuccesses", [])))
        try:
            return super().run(result)
        finally:
            after = (len(result.failures), len(result.errors), len(getattr(result, "unexpectedSuccesses", [])))
            failed = after != before
            for tree in self._trees:
                if tree.master is not None:   # cleanup did not run (interrupted)
                    tree.stop(grace=5)
                if failed:
                    sys.stderr.write("\n%s: FAILED, tree kept at %s\n%s\n" % (self.id(), tree.dir, tree.log_tail()))
                else:
                    tree.remove()
