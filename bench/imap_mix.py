"""bench/imap_mix.py: bench/imap.py's `mix`: clients running a random
mix of commands against one server for a fixed time.

    counts = run(port, user, password, clients, seconds, seed, appends)

Each client is a process of its own (fork: the clients' Python does not
share one interpreter lock) with one connection and a random.Random
seeded with (seed, client number), so that both servers get the same
kinds of commands in the same proportions.  All clients work on one
mailbox, the user's INBOX (and copy into Archive, made beforehand).  A
client logs in and selects INBOX, waits for the others (a barrier), then
picks commands by the weights in MIX until the time is up:

  login     LOGOUT, a new connection, LOGIN, SELECT INBOX (a login)
  select    SELECT INBOX again
  flags     FETCH a:b (UID FLAGS), up to 50 messages
  headers   FETCH a:b (BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)]), up to 20
  body      FETCH m (BODY.PEEK[]), one message
  search    SEARCH UNSEEN, FLAGGED, SUBJECT, FROM, SINCE or TEXT
  store     STORE m +FLAGS or -FLAGS (\\Seen or \\Flagged), answered with FETCH
  append    APPEND INBOX one of the pool's messages (an append)
  copy      COPY m Archive
  expunge   STORE m +FLAGS.SILENT (\\Deleted), then EXPUNGE
  noop      NOOP

Sequence numbers are the client's own view: it counts EXISTS and
EXPUNGE in every reply (every reply of the mix is short and kept whole
by the client), so it never names a message its session does not have.
A NO (a message another session expunged) is counted, a BAD raises.
Counted: every tagged OK (commands), LOGINs (logins), APPENDs (appends)."""

import multiprocessing
import random
import re
import time

from imap_client import Client

MIX = (("login", 3), ("select", 4), ("flags", 15), ("headers", 12), ("body", 10), ("search", 10),
       ("store", 15), ("append", 8), ("copy", 6), ("expunge", 6), ("noop", 11))
SEARCHES = ("UNSEEN", "FLAGGED", "SUBJECT report", "FROM example.org", "SINCE 4-Jan-2026", "TEXT quokka")
STORES = ("+FLAGS (\\Seen)", "-FLAGS (\\Seen)", "+FLAGS (\\Flagged)", "-FLAGS (\\Flagged)")
UNTAGGED = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE)\r$", re.M)


class MixClient:
    def __init__(self, port, user, password, rng, pool):
        self.port, self.user, self.password = port, user, password
        self.rng, self.pool = rng, pool
        self.counts = {"commands": 0, "logins": 0, "appends": 0, "no": 0}
        self.c = None
        self.exists = 0
        self.connect()

    def cmd(self, text, literal=None):
        _, r = self.c.command(text, expect_ok=False, literal=literal)
        if r.size > Client.KEEP:
            raise RuntimeError("%s: a reply of %d bytes, longer than the client keeps" % (text, r.size))
        for n, what in UNTAGGED.findall(r.head):
            if what == b"EXISTS":
                self.exists = int(n)
            else:
                self.exists -= 1
        word = r.status.split(b" ", 2)[1:2]
        if word == [b"OK"]:
            self.counts["commands"] += 1
        elif word == [b"NO"]:
            self.counts["no"] += 1
        else:
            raise RuntimeError("%s: %r" % (text[:60], r.status[:200]))
        return r

    def connect(self):
        self.c = Client(self.port)
        self.cmd('LOGIN "%s" "%s"' % (self.user, self.password))
        self.cmd("SELECT INBOX")

    def some(self, most):
        """A random range of up to `most` messages of the session's view."""
        a = self.rng.randint(1, self.exists)
        return "%d:%d" % (a, min(self.exists, a + self.rng.randrange(most)))

    def step(self):
        rng = self.rng
        op = rng.choices([m for m, _ in MIX], [w for _, w in MIX])[0]
        if self.exists == 0 and op in ("flags", "headers", "body", "store", "copy", "expunge"):
            op = "append"
        if op == "login":
            self.cmd("LOGOUT")
            self.c.s.close()
            self.connect()
            self.counts["logins"] += 1
        elif op == "select":
            self.cmd("SELECT INBOX")
        elif op == "flags":
            self.cmd("FETCH %s (UID FLAGS)" % self.some(50))
        elif op == "headers":
            self.cmd("FETCH %s (BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])" % self.some(20))
        elif op == "body":
            self.cmd("FETCH %d (BODY.PEEK[])" % rng.randint(1, self.exists))
        elif op == "search":
            self.cmd("SEARCH " + rng.choice(SEARCHES))
        elif op == "store":
            self.cmd("STORE %d %s" % (rng.randint(1, self.exists), rng.choice(STORES)))
        elif op == "append":
            self.cmd("APPEND INBOX (\\Seen)", literal=rng.choice(self.pool))
            self.counts["appends"] += 1
        elif op == "copy":
            self.cmd("COPY %d Archive" % rng.randint(1, self.exists))
        elif op == "expunge":
            self.cmd("STORE %d +FLAGS.SILENT (\\Deleted)" % rng.randint(1, self.exists))
            self.cmd("EXPUNGE")
        else:
            self.cmd("NOOP")


def _client(i, port, user, password, seed, pool, seconds, barrier, out):
    try:
        mc = MixClient(port, user, password, random.Random("%d-%d" % (seed, i)), pool)
        barrier.wait()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            mc.step()
        mc.counts["end"] = time.monotonic()
        mc.c.close()
        out.send(mc.counts)
    except Exception as e:          # the parent reports it
        barrier.abort()
        out.send({"error": "client %d: %s" % (i, e)})


def run(port, user, password, clients, seconds, seed, pool, before=None):
    """Run the clients; their summed counts, "seconds" (from the barrier to
    the last client's end) and, when before (a function) is given, what it
    returned at the start (the server's CPU time) as "before"."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    pipes, procs = [], []
    for i in range(clients):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_client, args=(i, port, user, password, seed, pool, seconds, barrier, w))
        p.start()
        pipes.append(r)
        procs.append(p)
    total = {"commands": 0, "logins": 0, "appends": 0, "no": 0}
    try:
        barrier.wait()
        total["before"] = before() if before else None
        t0 = time.monotonic()
        ends = []
        for r in pipes:
            got = r.recv()
            if "error" in got:
                raise RuntimeError(got["error"])
            ends.append(got.pop("end"))
            for k, v in got.items():
                total[k] += v
        total["seconds"] = max(ends) - t0
    except multiprocessing.BrokenBarrierError:
        raise RuntimeError(next((r.recv()["error"] for r in pipes if r.poll(5)), "a mix client failed"))
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    return total
