"""bench/imap_crowd.py: many IMAP sessions in IDLE at once, for
bench/imap.py's idle200 and idle10k, from one process and one epoll.

    crowd = Crowd(port, accounts, n)     # accounts: [(user, password)]
    crowd.open(seconds)                  # every session: LOGIN, SELECT INBOX, IDLE
    crowd.alive()                        # those still held (no BYE, no close)
    crowd.wait_exists(t0, seconds)       # until each has seen an EXISTS
    crowd.close()

Session i logs in as accounts[i % len(accounts)].  Each session is a
non-blocking socket and a line state machine: greeting, LOGIN, SELECT
INBOX, IDLE, then "+" (it is idling).  At most `parallel` sessions are
between connect and "+" at once, so that the servers' login services are
not flooded (neither their login rate nor their backlog is measured
here).  Every reply is read as lines (none of these commands is answered
with a literal); an idling session notes when its first "* N EXISTS"
came, and that it was dropped at "* BYE" or end of file.  The client
needs a descriptor per session: raise_nofile() raises RLIMIT_NOFILE."""

import errno
import re
import resource
import selectors
import socket
import time

from imap_client import HOST

GREETING, LOGIN, SELECT, IDLE_SENT, IDLING, DROPPED = range(6)
EXISTS = re.compile(rb"^\* \d+ EXISTS$")


def raise_nofile(need):
    """RLIMIT_NOFILE at least need (the hard limit too, as root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(need, hard)))


class Session:
    __slots__ = ("sock", "state", "buf", "login", "seen", "why")

    def __init__(self, login):
        self.sock = None
        self.state = GREETING
        self.buf = b""
        self.login = login       # the LOGIN line
        self.seen = None         # monotonic time of the first EXISTS in IDLE
        self.why = None          # why it was dropped


class Crowd:
    def __init__(self, port, accounts, n, parallel=20):
        self.port = port
        self.sessions = [Session(b'a LOGIN "%s" "%s"\r\n' % (u.encode(), p.encode()))
                         for u, p in (accounts[i % len(accounts)] for i in range(n))]
        self.parallel = parallel
        self.sel = selectors.EpollSelector()

    # -------------------------------------------------------------- events

    def _connect(self, s):
        s.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.sock.setblocking(False)
        err = s.sock.connect_ex((HOST, self.port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect to %s:%d" % (HOST, self.port))
        self.sel.register(s.sock, selectors.EVENT_READ, s)

    def _send(self, s, data):
        if s.sock.send(data) != len(data):    # a short line into an empty buffer
            raise RuntimeError("short send")

    def _drop(self, s, why):
        if s.state != DROPPED:
            s.state, s.why = DROPPED, why
            self.sel.unregister(s.sock)
            s.sock.close()

    def _line(self, s, line):
        """One line of the server's: the next step of s's state machine."""
        if line.startswith(b"* BYE"):
            self._drop(s, line.decode(errors="replace"))
        elif s.state == GREETING:
            if line.startswith(b"* OK"):
                self._send(s, s.login)
                s.state = LOGIN
        elif s.state in (LOGIN, SELECT) and line[:2] == (b"a " if s.state == LOGIN else b"b "):
            if line[2:4] != b"OK":
                self._drop(s, line.decode(errors="replace"))
            elif s.state == LOGIN:
                self._send(s, b"b SELECT INBOX\r\n")
                s.state = SELECT
            else:
                self._send(s, b"c IDLE\r\n")
                s.state = IDLE_SENT
        elif s.state == IDLE_SENT and line.startswith(b"+"):
            s.state = IDLING
        elif s.state == IDLING and s.seen is None and EXISTS.match(line):
            s.seen = time.monotonic()

    def _read(self, s):
        try:
            data = s.sock.recv(65536)
        except ConnectionError as e:
            data, err = b"", str(e)
        else:
            err = "closed by the server"
        if not data:
            self._drop(s, err)
            return
        s.buf += data
        while s.state != DROPPED:
            k = s.buf.find(b"\r\n")
            if k < 0:
                break
            line, s.buf = s.buf[:k], s.buf[k + 2:]
            self._line(s, line)

    def _poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            self._read(key.data)

    # -------------------------------------------------------------- use

    def open(self, seconds):
        """Bring every session into IDLE, at most `parallel` at a time;
        raise when one fails or the time is up.  The seconds it took."""
        t0 = time.monotonic()
        end = t0 + seconds
        todo, busy = list(reversed(self.sessions)), []
        while todo or busy:
            while todo and len(busy) < self.parallel:
                busy.append(todo.pop())
                self._connect(busy[-1])
            self._poll(min(1.0, max(0.0, end - time.monotonic())))
            for s in [s for s in busy if s.state in (IDLING, DROPPED)]:
                if s.state == DROPPED:
                    raise RuntimeError("a session failed before IDLE: %s" % s.why)
                busy.remove(s)
            if time.monotonic() > end:
                raise RuntimeError("%d of %d sessions in IDLE after %d s"
                                   % (len(self.sessions) - len(todo) - len(busy), len(self.sessions), seconds))
        return time.monotonic() - t0

    def alive(self):
        """Sessions still idling, after reading what has come."""
        self._poll(0)
        return sum(1 for s in self.sessions if s.state == IDLING)

    def dropped(self):
        """Why sessions were dropped: {reason: count}."""
        out = {}
        for s in self.sessions:
            if s.state == DROPPED:
                out[s.why] = out.get(s.why, 0) + 1
        return out

    def wait_exists(self, seconds):
        """Read until every idling session has seen an EXISTS, or seconds;
        the monotonic times they saw it (None: not seen)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if all(s.seen is not None for s in self.sessions if s.state == IDLING):
                break
            self._poll(min(0.5, max(0.0, end - time.monotonic())))
        return [s.seen for s in self.sessions]

    def close(self):
        """DONE and LOGOUT for those idling, then close every socket."""
        for s in self.sessions:
            if s.state != DROPPED and s.sock is not None:
                try:
                    s.sock.send(b"DONE\r\nd LOGOUT\r\n" if s.state == IDLING else b"d LOGOUT\r\n")
                except OSError:
                    pass
                self._drop(s, "closed by the client")
        self.sel.close()
