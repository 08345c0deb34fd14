#!/usr/bin/env python3
"""bench/imap.py: Postern's IMAP server against Dovecot (issue 10, "Benchmark").

    nice -n 10 python3 bench/imap.py [-b BUILD] [-n 5000] [-N 100000] [-r 3]
                                     [-w WORD] [-o bench/RESULTS.md]
                                     [--data DIR] [--only fetch,search,select,idle] [-s]

As root (both servers serve mail as postern-vmail; Dovecot's master must
start as root).  Not a test and not part of `make test`: run by hand, one
benchmark at a time.

Data: bench/imap_messages.py writes a Maildir of N messages (-n, seed 1)
and one of BIG messages (-N, seed 2) into cur/ (realistic mail, 2-50 KB,
deterministic), once, owned by postern-vmail; --data DIR keeps them there
for the next run (reused when the counts match).

Servers: Postern from BUILD (a tree made by `postern init` under /tmp,
user alice@example.test, IMAP on the port base + 143, plaintext on
loopback) and a private Dovecot (tests/integration/dovecot_peer.py: Debian
dovecot-imapd, default settings, mail_location maildir: with its index
files in the Maildir).  Before every measured run the server is stopped,
its Maildir replaced with a fresh `cp -a` of the generated one (so neither
has a UID list, an index or a cache yet), the page cache written back
(sync), and the server started again.  The two servers take turns, the
first of each repetition alternating.

Measured, each -r times (the report gives the median).  Time: a
monotonic clock around one command, from sending its line to reading its
tagged reply; the client reads raw bytes through one 256 KB buffer and
only counts them (keeping a 70 MB reply would cost this VM more than the
servers' work).  CPU: the on-CPU time of the session process over the
same command (/proc/PID/task/*/schedstat), which the machine's other
load disturbs much less than the time.  The session process is found by
the server end of the client's socket and the mail user: Postern's
imapd session (a process serves one session at a time and is reused),
Dovecot's imap (one new process per session, service_count = 1).
  fetch   after LOGIN and SELECT INBOX (N messages):
          `UID FETCH 1:* (FLAGS BODY.PEEK[])` twice, and in another
          start `FETCH 1:* (ENVELOPE BODYSTRUCTURE)` twice: the first run
          after the start is "cold" (the server has never read the
          messages' MIME structure), the second "warm"
  search  `SEARCH TEXT WORD` twice in one session (WORD is in about 3 %
          of the messages: text, subjects, encoded words)
  select  SELECT INBOX of the BIG folder: first SELECT after the files
          were placed ("cold": the server makes its UID list and index)
          and, in a new session, the next ("warm")
  idle    memory of one session in IDLE (after LOGIN, SELECT INBOX, IDLE,
          its "+" seen): VmRSS and Pss (smaps_rollup) of the process
          that holds the client's socket and runs as the mail user, i.e.
          the session process, not a master or login process; on the
          N folder (after a warm-up session) and on the BIG one
The 1-minute load average is sampled at every measurement.  Results go to
stdout and, with -o, into that file's "## IMAP" section (put_section.py).
-s skips Dovecot (a smoke run of Postern alone).
"""

import argparse
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
HOST = "127.0.0.1"
MAIL_USER = "postern-vmail"
TAGS = iter("zq%03d" % i for i in range(1, 1000000))   # never in a message


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_greeting(port, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                if s.recv(512).startswith(b"* OK"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no IMAP greeting on %s:%d within %d s" % (HOST, port, seconds))


# ------------------------------------------------------------------ client

class Reply:
    """What the client kept of one reply: its length, the number of FETCH
    responses, its first and last (up to) 64 KB."""

    def __init__(self):
        self.size = self.fetches = 0
        self.head = self.tail = b""


class Client:
    """A raw IMAP client: a command's time is from sendall() of its line to
    the last byte of its tagged reply.  Meanwhile the bytes go through one
    256 KB buffer (recv_into: no allocation, no copy; storing a 70 MB reply
    costs this VM more than a server's work on it), counted, FETCH
    responses counted, and only the first and the last 64 KB kept."""

    KEEP = 65536

    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=900)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(1 << 18)
        self.view = memoryview(self.buf)
        self.greeting = self._read_until(None).head
        self.pid = None

    def _read_until(self, tag):
        """Read until a line starting with tag + ' ' (None: any one line);
        the server sends nothing after it."""
        want = None if tag is None else tag.encode() + b" "
        r, prev, small = Reply(), b"", bytearray()
        buf, view, mark = self.buf, self.view, b" FETCH ("
        while True:
            n = self.s.recv_into(view)
            if n == 0:
                raise RuntimeError("connection closed after %d bytes: %r" % (r.size, prev))
            if r.size == 0:
                r.head = bytes(view[:min(n, self.KEEP)])
            if r.size + n <= self.KEEP:
                small += view[:n]       # a short reply is kept whole, however it was split
            r.size += n
            r.fetches += buf.count(mark, 0, n) + (prev[-7:] + bytes(view[:7])).count(mark)
            if buf[n - 2:n] == b"\r\n":
                k = buf.rfind(b"\r\n", max(0, n - self.KEEP), n - 2)
                last = bytes(view[k + 2:n]) if k >= 0 else (prev + bytes(view[:n])).rsplit(b"\r\n", 2)[-2]
                if want is None or last.startswith(want):
                    if r.size <= self.KEEP:
                        r.head = r.tail = bytes(small)
                    else:
                        r.tail = (prev + bytes(view[max(0, n - self.KEEP):n]))[-self.KEEP:]
                    return r
            prev = bytes(view[max(0, n - 512):n])

    def command(self, text, expect_ok=True):
        """(seconds, Reply) of one command; Reply.cpu is the CPU time the
        session process spent meanwhile, when its pid is known."""
        tag = next(TAGS)
        line = ("%s %s\r\n" % (tag, text)).encode()
        c0 = cpu_ns(self.pid) if self.pid else 0
        t0 = time.perf_counter()
        self.s.sendall(line)
        r = self._read_until(tag)
        t1 = time.perf_counter()
        r.cpu = (cpu_ns(self.pid) - c0) / 1e9 if self.pid else None
        k = r.tail.rfind(b"\r\n", 0, len(r.tail) - 2)
        r.status = r.tail[k + 2:] if k >= 0 else r.tail
        if expect_ok and not r.status.startswith(tag.encode() + b" OK"):
            raise RuntimeError("%s: %r" % (text[:60], r.status[:200]))
        return t1 - t0, r

    def login(self, user, password):
        self.command('LOGIN "%s" "%s"' % (user, password))

    def idle(self):
        """Enter IDLE; return once the continuation came; done() ends it."""
        self.idle_tag = next(TAGS)
        self.s.sendall(("%s IDLE\r\n" % self.idle_tag).encode())
        data = b""
        while b"\r\n" not in data or not re.search(rb"(^|\r\n)\+", data):
            d = self.s.recv(4096)
            if not d:
                raise RuntimeError("closed in IDLE")
            data += d

    def done(self):
        self.s.sendall(b"DONE\r\n")
        self._read_until(self.idle_tag)

    def server_process(self, mail_uid):
        """pid of the server process holding this connection's other end
        and running as mail_uid (the session, not a login process)."""
        lport = self.s.getsockname()[1]
        rport = self.s.getpeername()[1]
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for row in f:
                        fl = row.split()
                        if (int(fl[1].rsplit(":", 1)[1], 16) == rport and
                                int(fl[2].rsplit(":", 1)[1], 16) == lport):
                            inodes.add("socket:[%s]" % fl[9])
            except OSError:
                pass
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat("/proc/" + pid).st_uid != mail_uid:
                    continue
                fds = os.listdir("/proc/%s/fd" % pid)
                if any(os.readlink("/proc/%s/fd/%s" % (pid, fd)) in inodes for fd in fds):
                    found.append(int(pid))
            except OSError:
                continue
        if len(found) != 1:
            raise RuntimeError("session process: found %r for %s" % (found, inodes))
        return found[0]

    def close(self):
        try:
            self.command("LOGOUT", expect_ok=False)
        except (OSError, RuntimeError):
            pass
        self.s.close()


def cpu_ns(pid):
    """CPU time (ns) of every thread of pid so far (schedstat: on-CPU time,
    not ticks)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
            total += int(f.read().split()[0])
    return total


def memory(pid):
    """(comm, VmRSS kB, Pss kB) of pid."""
    with open("/proc/%d/comm" % pid) as f:
        comm = f.read().strip()
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
    with open("/proc/%d/smaps_rollup" % pid) as f:
        pss = int(re.search(r"^Pss:\s+(\d+)", f.read(), re.M).group(1))
    return comm, rss, pss


# ------------------------------------------------------------------ servers

def harness(build):
    """tests/integration/postern_harness.py (free ports; Dovecot's peer uses it)."""
    os.environ.setdefault("POSTERN_BUILD", build)
    sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
    import postern_harness
    return postern_harness


def place(src, dst, owner):
    """dst becomes a fresh copy of the Maildir src (dst's own directory is
    kept), written back to disk."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(dst):
        p = os.path.join(dst, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    subprocess.run(["cp", "-a", src + "/.", dst + "/"], check=True)
    os.chown(dst, owner.pw_uid, owner.pw_gid)
    os.sync()


class Postern:
    name = "Postern"

    def __init__(self, build, top):
        self.bin = os.path.join(build, "bin", "postern")
        self.dir = os.path.join(top, "postern")
        self.base = harness(build).free_port_base()
        self.user, self.password = "alice@example.test", "bench-imap-pw"
        subprocess.run([self.bin, "init", "-d", self.dir, "--domain", "example.test", "--listen", HOST,
                        "--port-base", str(self.base)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([self.bin, "user", "add", "-d", self.dir, self.user, self.password],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.dir, "etc", "postern.conf"), "a") as f:
            f.write("log_file = maillog\n")   # no syslog daemon here: glibc would retry /dev/log per line
        self.maildir = os.path.join(self.dir, "mail", "example.test", "alice")
        self.port = self.base + 143
        self.running = False

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

    def __init__(self, build, top):
        harness(build)
        import dovecot_peer
        why = dovecot_peer.unavailable()
        if why:
            raise RuntimeError(why)
        self.mod = dovecot_peer
        self.maildir = os.path.join(top, "dovecot", "Maildir")
        os.makedirs(self.maildir)
        os.chmod(os.path.dirname(self.maildir), 0o711)
        self.peer = None

    def start(self):
        self.peer = self.mod.DovecotPeer(self.maildir)
        self.peer.start()
        self.port = self.peer.port
        self.user, self.password = self.peer.user, self.peer.password
        self.version = subprocess.run([self.mod.DOVECOT, "--version"], stdout=subprocess.PIPE,
                                      text=True).stdout.split()[0]

    def stop(self):
        if self.peer is not None:
            errors = self.peer.errors()
            if errors:
                log("Dovecot logged errors: %s" % errors[:5])
            self.peer.stop()
            self.peer = None


# ------------------------------------------------------------------ runs

class Bench:
    def __init__(self, args, servers, data):
        self.args = args
        self.servers = servers
        self.data = data
        self.owner = pwd.getpwnam(MAIL_USER)
        self.res = {}          # (key, server name) -> [values]
        self.loads = []

    def note(self, key, server, value):
        self.res.setdefault((key, server.name), []).append(value)
        self.loads.append(loadavg())

    def session(self, server, mailbox=None):
        c = Client(server.port)
        t0 = time.monotonic()
        c.login(server.user, server.password)
        if time.monotonic() - t0 > 2:
            log("%s: LOGIN took %.1f s" % (server.name, time.monotonic() - t0))
        c.pid = c.server_process(self.owner.pw_uid)
        if mailbox:
            c.command("SELECT %s" % mailbox)
        return c

    def fresh(self, server, src):
        server.stop()
        place(src, server.maildir, self.owner)
        server.start()

    def turns(self, rep):
        return self.servers if rep % 2 == 0 else list(reversed(self.servers))

    def timed(self, key, sv, c, cmd):
        """Run cmd in c; note its time and the session's CPU time."""
        t, r = c.command(cmd)
        self.note(key, sv, t)
        self.note(key + "_cpu", sv, r.cpu)
        return t, r

    def run_fetch(self):
        small = self.data["small"]
        for key, cmd in (("body", "UID FETCH 1:* (FLAGS BODY.PEEK[])"),
                         ("env", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)")):
            for rep in range(self.args.repeat):
                for sv in self.turns(rep):
                    self.fresh(sv, small)
                    c = self.session(sv)
                    self.timed("select_small", sv, c, "SELECT INBOX")
                    t1, r1 = self.timed(key + "_cold", sv, c, cmd)
                    t2, r2 = self.timed(key + "_warm", sv, c, cmd)
                    if r1.fetches != self.args.n or r2.fetches != self.args.n:
                        raise RuntimeError("%s %s: %d and %d FETCH responses, not %d"
                                           % (sv.name, cmd, r1.fetches, r2.fetches, self.args.n))
                    self.res[(key + "_bytes", sv.name)] = r2.size
                    c.close()
                    log("%s %s: cold %.3f s (CPU %.3f), warm %.3f s (CPU %.3f), %d bytes"
                        % (sv.name, cmd, t1, r1.cpu, t2, r2.cpu, r2.size))

    def run_search(self):
        small = self.data["small"]
        cmd = "SEARCH TEXT %s" % self.args.word
        for rep in range(self.args.repeat):
            for sv in self.turns(rep):
                self.fresh(sv, small)
                c = self.session(sv, "INBOX")
                t1, r1 = self.timed("search_first", sv, c, cmd)
                t2, r2 = self.timed("search_second", sv, c, cmd)
                hits = re.search(rb"\* SEARCH([ 0-9]*)\r\n", r1.tail).group(1).split()
                self.res[("search_hits", sv.name)] = len(hits)
                self.res.setdefault(("search_set", sv.name), set()).add(b" ".join(hits))
                c.close()
                log("%s %s: %.3f s (CPU %.3f), %.3f s (CPU %.3f), %d hits"
                    % (sv.name, cmd, t1, r1.cpu, t2, r2.cpu, len(hits)))

    def idle_memory(self, sv, key):
        c = self.session(sv, "INBOX")
        c.idle()
        comm, rss, pss = memory(c.pid)
        c.done()
        c.close()
        self.note(key + "_rss", sv, rss)
        self.note(key + "_pss", sv, pss)
        self.res[("session_comm", sv.name)] = comm
        log("%s idle session (%s, pid %d): VmRSS %d kB, Pss %d kB" % (sv.name, comm, c.pid, rss, pss))

    def run_idle(self):
        for rep in range(self.args.repeat):
            for sv in self.turns(rep):
                self.fresh(sv, self.data["small"])
                self.session(sv, "INBOX").close()     # the folder indexed once
                self.idle_memory(sv, "idle_small")

    def run_select(self):
        big = self.data["big"]
        for rep in range(self.args.repeat):
            for sv in self.turns(rep):
                self.fresh(sv, big)
                c = self.session(sv)
                t1, r1 = self.timed("select_cold", sv, c, "SELECT INBOX")
                c.close()
                c = self.session(sv)
                t2, r2 = self.timed("select_warm", sv, c, "SELECT INBOX")
                c.close()
                for r in (r1, r2):
                    m = re.search(rb"\* (\d+) EXISTS", r.head)
                    if not m or int(m.group(1)) != self.args.big:
                        raise RuntimeError("%s: SELECT: %r" % (sv.name, r.head[:300]))
                log("%s SELECT of %d: cold %.3f s (CPU %.3f), warm %.3f s (CPU %.3f)"
                    % (sv.name, self.args.big, t1, r1.cpu, t2, r2.cpu))
                self.idle_memory(sv, "idle_big")

    # -------------------------------------------------------------- report

    def med(self, key, name):
        v = self.res.get((key, name))
        return statistics.median(v) if v else None

    def report(self, started, ended, load0):
        a = self.args
        names = [s.name for s in self.servers]
        both = len(names) == 2
        dv = next((s for s in self.servers if s.name == "Dovecot"), None)
        out = []
        p = out.append
        p("## IMAP\n")
        p("`%s` (as root) on %s, %s–%s UTC; %d CPUs, %.0f GB RAM, Linux %s%s." % (
            a.command, time.strftime("%Y-%m-%d", time.gmtime(started)),
            time.strftime("%H:%M", time.gmtime(started)), time.strftime("%H:%M", time.gmtime(ended)),
            os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
            os.uname().release, "; Dovecot %s" % dv.version if dv else ""))
        p("Postern built from commit %s%s." % (a.commit, " (with uncommitted changes)" if a.dirty else ""))
        if self.loads:
            p("Load average (1 min): %.1f at the start, %.1f–%.1f (median %.1f) at the "
              "measurements; other sessions' work shared the 2 cores." % (
                  load0, min(self.loads), max(self.loads), statistics.median(self.loads)))
        p("")
        p("%d messages (seed 1; %d for SELECT, seed 2) made by bench/imap_messages.py: 2–50 KB "
          "(log-uniform), text, alternative and mixed with base64 attachments, encoded words; "
          "files in cur/ with S= and W= in the name, the same files for both servers (`cp -a`), "
          "owned by %s, which both serve mail as.  Before each run: server stopped, Maildir a "
          "fresh copy (no index, no UID list, no cache), `sync`, server started.  Time: monotonic "
          "clock from sending the command to the last byte of its tagged reply (raw socket, "
          "loopback, nothing parsed meanwhile).  CPU: on-CPU time of the session process "
          "(/proc/PID/task/*/schedstat) over the same command, which the load of the machine "
          "disturbs much less than the time.  Median of %d; Postern's and Dovecot's runs "
          "alternate.  cold = the first run after the start, warm = the second, same session; "
          "the message files are in the page cache for both (just copied)."
          % (a.n, a.big, MAIL_USER, a.repeat))
        p("")
        rows = [("`UID FETCH 1:* (FLAGS BODY.PEEK[])` cold", "body_cold"),
                ("`UID FETCH 1:* (FLAGS BODY.PEEK[])` warm", "body_warm"),
                ("`FETCH 1:* (ENVELOPE BODYSTRUCTURE)` cold", "env_cold"),
                ("`FETCH 1:* (ENVELOPE BODYSTRUCTURE)` warm", "env_warm"),
                ("`SEARCH TEXT %s` first" % a.word, "search_first"),
                ("`SEARCH TEXT %s` second" % a.word, "search_second"),
                ("SELECT of %d, first (for the FETCH runs)" % a.n, "select_small"),
                ("SELECT of %d cold (first after placing)" % a.big, "select_cold"),
                ("SELECT of %d warm (next session)" % a.big, "select_warm")]
        mem = [("%d messages: VmRSS" % a.n, "idle_small_rss"),
               ("%d messages: Pss" % a.n, "idle_small_pss"),
               ("%d messages: VmRSS" % a.big, "idle_big_rss"),
               ("%d messages: Pss" % a.big, "idle_big_pss")]

        def ratio(key):
            if not both:
                return []
            pv, dvv = self.med(key, names[0]), self.med(key, names[1])
            return ["**%.2f**" % (dvv / pv) if pv and dvv else "-"]

        def cell(v, f):
            return "-" if v is None else f % v

        p("| command (%d messages unless said) | %s | %s |" % (
            a.n, " | ".join("%s s" % n for n in names) + (" | Dovecot / Postern" if both else ""),
            " | ".join("%s CPU s" % n for n in names) + (" | Dovecot / Postern" if both else "")))
        k = len(names) + (1 if both else 0)
        p("|---|" + "---|" * (2 * k))
        for label, key in rows:
            if all(self.med(key, n) is None for n in names):
                continue
            p("| %s | %s |" % (label, " | ".join(
                [cell(self.med(key, n), "%.3f") for n in names] + ratio(key) +
                [cell(self.med(key + "_cpu", n), "%.3f") for n in names] + ratio(key + "_cpu"))))
        p("")
        if any(self.med(key, n) is not None for _, key in mem for n in names):
            p("| one session in IDLE (kB) | %s |" % " | ".join(names + (["Dovecot / Postern"] if both else [])))
            p("|---|" + "---|" * k)
            for label, key in mem:
                if all(self.med(key, n) is None for n in names):
                    continue
                p("| %s | %s |" % (label, " | ".join([cell(self.med(key, n), "%d") for n in names] + ratio(key))))
            p("")
        p("Dovecot / Postern: above 1, Postern is faster (or smaller); below 1, slower (larger).")
        extra = []
        for n in names:
            if ("session_comm", n) in self.res:
                extra.append("%s's session process is `%s`" % (n, self.res[("session_comm", n)]))
            if ("body_bytes", n) in self.res:
                extra.append("%s sent %d bytes for the BODY.PEEK[] fetch" % (n, self.res[("body_bytes", n)]))
            if ("env_bytes", n) in self.res:
                extra.append("%d for ENVELOPE BODYSTRUCTURE" % self.res[("env_bytes", n)])
            if ("search_hits", n) in self.res:
                extra.append("%s found %d messages" % (n, self.res[("search_hits", n)]))
        if both and ("search_set", names[0]) in self.res:
            same = self.res[("search_set", names[0])] == self.res[("search_set", names[1])]
            extra.append("the SEARCH results are %s" % ("the same" if same else "NOT the same"))
        if extra:
            p("Checks: " + "; ".join(extra) + ".")
        return "\n".join(out) + "\n"


def make_data(args, top):
    """{"small": dir, "big": dir}: the generated Maildirs (made or reused)."""
    root = args.data or os.path.join(top, "data")
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    owner = pwd.getpwnam(MAIL_USER)
    out = {}
    for key, count, seed in (("small", args.n, 1), ("big", args.big, 2)):
        d = os.path.join(root, "%s-%d-seed%d-%s" % (key, count, seed, args.word))
        if not os.path.exists(os.path.join(d, "COMPLETE")):
            log("making %d messages in %s" % (count, d))
            shutil.rmtree(d, ignore_errors=True)
            md = os.path.join(d, "Maildir")
            subprocess.run([sys.executable, os.path.join(HERE, "imap_messages.py"), md, str(count), str(seed),
                            args.word], check=True)
            subprocess.run(["chown", "-R", "%s:%s" % (MAIL_USER, MAIL_USER), md], check=True)
            os.chown(d, owner.pw_uid, owner.pw_gid)
            open(os.path.join(d, "COMPLETE"), "w").close()
        out[key] = os.path.join(d, "Maildir")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-b", "--build", default="build")
    ap.add_argument("-n", type=int, default=5000, help="messages of the FETCH/SEARCH folder")
    ap.add_argument("-N", "--big", type=int, default=100000, help="messages of the SELECT folder")
    ap.add_argument("-r", "--repeat", type=int, default=3)
    ap.add_argument("-w", "--word", default="quokka")
    ap.add_argument("-o", "--out")
    ap.add_argument("--data", help="keep the generated Maildirs here (reused)")
    ap.add_argument("--only", default="fetch,search,select,idle")
    ap.add_argument("-s", "--skip-dovecot", action="store_true")
    ap.add_argument("-k", "--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (both servers serve mail as %s)" % MAIL_USER)
    build = os.path.abspath(os.path.join(SOURCE, args.build) if not os.path.isabs(args.build) else args.build)
    args.command = "nice -n 10 python3 bench/imap.py -b %s -n %d -N %d -r %d%s%s%s%s" % (
        args.build, args.n, args.big, args.repeat, "" if args.word == "quokka" else " -w " + args.word,
        "" if args.only == "fetch,search,select,idle" else " --only " + args.only,
        " -s" if args.skip_dovecot else "", " -o " + args.out if args.out else "")
    if args.data:
        args.command += " --data " + args.data
    git = lambda *c: subprocess.run(["git", "-C", SOURCE] + list(c), stdout=subprocess.PIPE, text=True).stdout
    args.commit = git("rev-parse", "--short", "HEAD").strip()
    args.dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())

    top = tempfile.mkdtemp(prefix="postern-bench-imap.")
    os.chmod(top, 0o711)
    servers = []
    started, load0 = time.time(), loadavg()
    try:
        data = make_data(args, top)
        servers.append(Postern(build, top))
        if not args.skip_dovecot:
            servers.append(Dovecot(build, top))
        b = Bench(args, servers, data)
        only = args.only.split(",")
        for what in ("fetch", "search", "idle", "select"):
            if what in only:
                log("-- %s" % what)
                getattr(b, "run_" + what)()
    finally:
        for sv in servers:
            try:
                sv.stop()
            except Exception as e:   # stop every server
                log("stopping %s: %s" % (sv.name, e))
        if args.keep:
            log("kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    section = b.report(started, time.time(), load0)
    print(section)
    if args.out:
        path = os.path.join(top + ".section")
        with open(path, "w") as f:
            f.write(section)
        subprocess.run([sys.executable, os.path.join(HERE, "put_section.py"), args.out, path], check=True)
        os.unlink(path)


if __name__ == "__main__":
    main()
