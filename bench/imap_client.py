"""bench/imap_client.py: the raw IMAP client and the /proc readings of
bench/imap.py (see its docstring): one command's time, the bytes of its
reply, the CPU time of the session process; the memory (Pss) and the CPU
time of every process of a server.

Kept apart from imap.py so that the benchmark's runs read as the steps
they measure; used by imap_servers.py, imap_crowd.py and imap_mix.py too."""

import os
import re
import socket
import sys
import time

HOST = "127.0.0.1"
TAGS = iter("zq%03d" % i for i in range(1, 100000000))   # never in a message
CLK_TCK = os.sysconf("SC_CLK_TCK")

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

    def command(self, text, expect_ok=True, literal=None):
        """(seconds, Reply) of one command; Reply.cpu is the CPU time the
        session process spent meanwhile, when its pid is known.  literal
        (bytes) ends the command as a non-synchronizing literal (LITERAL+,
        RFC 7888), sent with the line: APPEND."""
        tag = next(TAGS)
        line = ("%s %s\r\n" % (tag, text)).encode()
        if literal is not None:
            line = line[:-2] + b" {%d+}\r\n" % len(literal) + literal + b"\r\n"
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




# ------------------------------------------------------------------ a server's processes

def _stat(pid):
    """The fields of /proc/PID/stat after the command name (state first)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def tree_pids(root):
    """root and every process below it, by parent pid: every process of a
    server whose master is root (they are all its children or theirs)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                children.setdefault(int(_stat(int(name))[1]), []).append(int(name))
            except (OSError, IndexError):
                continue   # gone meanwhile
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_memory(root):
    """(Pss kB summed over every process below root and root, {comm: [processes,
    Pss kB]}): smaps_rollup, in which a shared page counts once in all."""
    total, by_comm = 0, {}
    for pid in tree_pids(root):
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
            with open("/proc/%d/smaps_rollup" % pid) as f:
                m = re.search(r"^Pss:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue   # exited meanwhile
        if m:          # a zombie has no mappings
            total += int(m.group(1))
            entry = by_comm.setdefault(comm, [0, 0])
            entry[0] += 1
            entry[1] += int(m.group(1))
    return total, by_comm


def tree_cpu_by_role(root):
    """{process: CPU seconds of its own (utime + stime)} for every process
    below root and root, named by its command line (Postern's imapd
    roles share one comm), and "reaped" for the children they have
    reaped (cutime + cstime): two readings tell which processes worked."""
    out = {}
    for pid in tree_pids(root):
        try:
            f = _stat(pid)
            with open("/proc/%d/cmdline" % pid, "rb") as c:
                argv = c.read().split(b"\0")
        except (OSError, IndexError):
            continue
        name = " ".join(os.path.basename(a.decode(errors="replace")) for a in argv[:2] if a)
        out[name] = out.get(name, 0) + sum(int(x) for x in f[11:13]) / CLK_TCK
        out["reaped"] = out.get("reaped", 0) + sum(int(x) for x in f[13:15]) / CLK_TCK
    return out


def tree_cpu(root):
    """CPU seconds of every process below root and root, including the
    children they have reaped (cutime, cstime): the difference between two
    readings is the work the server did meanwhile, also in processes that
    lived in between (Dovecot's imap per session).  Clock ticks."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            f = _stat(pid)
        except (OSError, IndexError):
            continue
        ticks += sum(int(x) for x in f[11:15])   # utime stime cutime cstime
    return ticks / CLK_TCK
