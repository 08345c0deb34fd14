#!/usr/bin/env python3
"""bench/imap.py: Postern's IMAP server against Dovecot (issues 10 and 11, "Benchmark").

    nice -n 10 python3 bench/imap.py [-b BUILD] [-n 5000] [-N 100000] [-r 3]
                                     [-w WORD] [-o bench/RESULTS.md] [--data DIR]
                                     [--only fetch,search,select,idle,idle200,mix,idle10k,qresync]
                                     [--users 100] [--user-messages 50] [--sessions 200]
                                     [--crowd 10000] [--crowd-hash sha512|yescrypt]
                                     [--settle S] [--hibernate S] [--mix-clients 10]
                                     [--mix-seconds 60] [--mix-messages 1000] [--seed 1] [-s]

As root (both servers serve mail as postern-vmail; Dovecot's master must
start as root).  Not a test and not part of `make test`: run by hand, one
benchmark at a time.

Data: bench/imap_messages.py writes a Maildir of N messages (-n, seed 1),
one of BIG messages (-N, seed 2), one of --mix-messages (seed 3) and one
of --user-messages (seed 4, every idle user's INBOX) into cur/ (realistic
mail, 2-50 KB, deterministic), once, owned by postern-vmail, each only
when a part that uses it runs; --data DIR keeps them there for the next
run (reused when the counts match).

Servers (bench/imap_servers.py): Postern from BUILD (a tree made by
`postern init` under /tmp, user alice@example.test and, for idle200 and
idle10k, --users users userNNN@example.test, IMAP on the port base + 143,
plaintext on loopback) and a private Dovecot (tests/integration/
dovecot_peer.py: Debian dovecot-imapd, default settings but the session
limits, mail_location maildir: with its index files in the Maildir).
Both check the same password against the same hash: Postern's yescrypt
hash from its etc/users is Dovecot's {CRYPT} passdb entry (idle10k: a
SHA-512 crypt hash in both, --crowd-hash), each at its default for
repeated logins (Postern's authd cache on, Dovecot's auth_cache off: on
a hit it would still hash the password).  Before every measured run
the server is stopped, its Maildir replaced with a fresh `cp -a` of the
generated one (so neither has a UID list, an index or a cache yet), the
page cache written back (sync), and the server started again.  The two
servers take turns, the first of each repetition alternating.  The
client: bench/imap_client.py (one session), imap_crowd.py (many in
IDLE), imap_mix.py (the mix); the tables: imap_report.py.

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
  idle200 memory per idle session: --users users, each INBOX a fresh copy
          of the --user-messages folder; each folder selected once, one
          session at a time; --settle seconds; then the Pss (smaps_rollup)
          summed over every process of the server (Postern: its master
          and everything below it: login, session, hibernation, queue
          and SMTP processes; Dovecot: its master and everything below
          it), the baseline.  Then --sessions sessions (spread over the
          users) each LOGIN, SELECT INBOX, IDLE (its "+" seen), all held
          at once (bench/imap_crowd.py); --settle seconds again (the
          time a server may take to hibernate them: --hibernate S sets
          imap_hibernate_timeout in both, Postern's only when its
          postern.conf has the key, and --settle defaults to S + 5);
          the same sum again.  Per session: (sum - baseline) / sessions
          still held.
  mix     --mix-clients clients (processes) on alice's INBOX (a fresh
          copy of the --mix-messages folder, plus Archive), each a seeded
          random mix of LOGIN/LOGOUT cycles, SELECT, FETCH (flags,
          headers, bodies), SEARCH, STORE, APPEND, COPY, EXPUNGE, NOOP
          (bench/imap_mix.py) for --mix-seconds: commands, logins and
          appends per second, and the CPU time of every process of the
          server (and of the children they reaped) per 1000 commands
  idle10k --crowd sessions as in idle200 (the same users, baseline and
          memory), the SHA-512 crypt hash on both sides unless
          --crowd-hash yescrypt (a yescrypt check costs 30-60 ms of CPU:
          10,000 of them would take minutes per server); then one
          message to every user's INBOX (Postern: one SMTP transaction
          to its port, through its queue and local delivery; Dovecot:
          dovecot-lda per user, at most 20 at once as Postern's local)
          and the time from its start until each session has seen its
          EXISTS (at most 60 s); sessions held before and after
  qresync the BIG folder: a client (QRESYNC enabled) selects it and
          notes UIDVALIDITY and HIGHESTMODSEQ; another session makes 100
          flag changes (+FLAGS.SILENT \Flagged on unflagged messages,
          one STORE each) and expunges 10 messages; the first client
          comes back with SELECT INBOX (QRESYNC (UIDVALIDITY MODSEQ)):
          time, CPU and bytes received, and the VANISHED (EARLIER) and
          FETCH responses checked; then, in that session, FETCH 1:*
          (FLAGS), the full resync it saves
For idle200 and idle10k fs.inotify.max_user_instances is raised to fit
every session (both servers watch each IDLE folder with an inotify
instance, all as postern-vmail) and put back at the end; the client's
RLIMIT_NOFILE is raised to fit.
The 1-minute load average is sampled at every measurement.  Results go to
stdout and, with -o, into that file's "## IMAP" section (fetch, search,
select, idle) and "## IMAP: idle sessions, mix, QRESYNC" section (the
others) (put_section.py): a run replaces the sections of the parts it ran.
-s skips Dovecot (a smoke run of Postern alone).
"""

import argparse
import os
import pwd
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from imap_client import Client, log, loadavg, memory, tree_cpu, tree_cpu_by_role, tree_memory
from imap_crowd import Crowd, raise_nofile
import imap_messages
import imap_mix
from imap_report import EXPUNGED, FLAGGED, Report, top_comm
from imap_servers import MAIL_USER, PASSWORD, USER_SESSIONS_MAX, Dovecot, Postern, crypt_hash, place, user_names
from imap_model import parse_seqset      # tests/integration, on the path imap_servers gives

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
INOTIFY = "/proc/sys/fs/inotify/max_user_instances"
MAIN_PARTS = ("fetch", "search", "idle", "select")
LOAD_PARTS = ("idle200", "mix", "idle10k", "qresync")


# ------------------------------------------------------------------ runs

class Bench(Report):
    """The runs; what they note goes into self.res, read by Report."""

    def __init__(self, args, servers, data, hashes):
        self.args = args
        self.servers = servers
        self.data = data
        self.hashes = hashes   # name -> the crypt(3) hash of PASSWORD both servers check
        self.owner = pwd.getpwnam(MAIL_USER)
        self.res = {}          # (key, server name) -> [values]
        self.loads = {}        # section ("main", "load") -> load averages at its measurements
        self.group = "main"

    def note(self, key, server, value):
        self.res.setdefault((key, server.name), []).append(value)
        self.loads.setdefault(self.group, []).append(loadavg())

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

    # -------------------------------------------------------------- idle200, idle10k

    def place_users(self, sv):
        """Every idle user's INBOX a fresh copy of the user folder; the
        server restarted (Dovecot then has the hash set last)."""
        sv.stop()
        for u in sv.users:
            place(self.data["user"], sv.user_maildir(u), self.owner, sync=False)
        os.sync()
        sv.start()

    def rest(self, sv):
        """The server's Pss sum and processes after --settle seconds with no
        client; each user's folder selected once before, one session at a
        time (so that the indexes exist and no extra process is left)."""
        for u in sv.users:
            c = Client(sv.port)
            c.login(u, PASSWORD)
            c.command("SELECT INBOX")
            c.close()
        time.sleep(self.args.settle)
        return tree_memory(sv.master_pid())

    def run_crowd(self, key, n, hash_name, deliver):
        """idle200 (deliver False) and idle10k (deliver True): n sessions in
        IDLE over the users, memory per session, and, with deliver, the
        time until each has seen a new message."""
        hash_ = self.hashes[hash_name]
        for sv in self.servers:
            sv.set_hash(hash_)
        raise_nofile(n + 1000)
        self.raise_inotify(n + 1000)
        message = (b"From: <bench@example.org>\r\nTo: <idle@example.test>\r\nSubject: %s\r\n"
                   b"Message-ID: <%s.%d@example.org>\r\n\r\nA new message for every session.\r\n"
                   % (key.encode(), key.encode(), time.time_ns()))
        for rep in range(self.args.repeat):
            for sv in self.turns(rep):
                self.place_users(sv)
                base, base_comm = self.rest(sv)
                crowd = Crowd(sv.port, [(u, PASSWORD) for u in sv.users], n)
                try:
                    t_open = crowd.open(max(300, n // 2))    # Dovecot: 500 in 60 s under load
                    time.sleep(self.args.settle)
                    held = crowd.alive()
                    pss, by_comm = tree_memory(sv.master_pid())
                    self.note(key + "_open", sv, t_open)
                    self.note(key + "_base", sv, base)
                    self.note(key + "_pss", sv, pss)
                    self.note(key + "_per", sv, (pss - base) / max(1, held))
                    self.note(key + "_held", sv, held)
                    self.res[(key + "_procs", sv.name)] = (sum(c for c, _ in base_comm.values()),
                                                           sum(c for c, _ in by_comm.values()), top_comm(by_comm))
                    log("%s %d sessions: in IDLE after %.1f s, %d held after %.0f s more; Pss %d kB "
                        "(no client: %d kB): %.0f kB per session; %s"
                        % (sv.name, n, t_open, held, self.args.settle, pss, base, (pss - base) / max(1, held),
                           top_comm(by_comm)))
                    if deliver:
                        self.delivery(key, sv, crowd, message)
                finally:
                    crowd.close()
                    sv.stop()     # its idle processes gone before the other server's turn
        for sv in self.servers:
            sv.set_hash(self.hashes["yescrypt"])     # back to the hash of every other part

    def delivery(self, key, sv, crowd, message):
        cpu0, roles0 = tree_cpu(sv.master_pid()), tree_cpu_by_role(sv.master_pid())
        t0 = time.monotonic()
        sv.deliver(sv.users, message)
        t_delivered = time.monotonic() - t0
        seen = sorted(t - t0 for t in crowd.wait_exists(60) if t is not None)
        cpu = tree_cpu(sv.master_pid()) - cpu0    # the server's CPU seconds until all saw it (or 60 s)
        self.note(key + "_cpu", sv, cpu)
        roles = tree_cpu_by_role(sv.master_pid())
        worked = sorted(((roles[r] - roles0.get(r, 0), r) for r in roles), reverse=True)
        log("%s CPU seconds meanwhile by process: %s" % (sv.name, ", ".join("%s %.2f" % (r, t) for t, r in worked[:6]
                                                                         if t > 0)))
        held = crowd.alive()
        self.note(key + "_delivered", sv, t_delivered)
        self.note(key + "_seen", sv, len(seen))
        self.note(key + "_after", sv, held)
        if seen:
            self.note(key + "_first", sv, seen[0])
            self.note(key + "_median", sv, statistics.median(seen))
            self.note(key + "_last", sv, seen[-1])
        dropped = crowd.dropped()
        if dropped:
            self.res[(key + "_dropped", sv.name)] = dropped
        log("%s delivery to %d users: done in %.2f s; %d of %d sessions saw EXISTS, the last after %s s "
            "(server CPU meanwhile %.2f s); %d held%s"
            % (sv.name, len(sv.users), t_delivered, len(seen), len(crowd.sessions),
               "%.2f" % seen[-1] if seen else "-", cpu, held, "; dropped: %r" % dropped if dropped else ""))

    def raise_inotify(self, need):
        """fs.inotify.max_user_instances at least need (put back by main)."""
        with open(INOTIFY) as f:
            now = int(f.read())
        if now < need:
            self.inotify_was = getattr(self, "inotify_was", now)
            with open(INOTIFY, "w") as f:
                f.write(str(need))
            self.res[("inotify", "")] = (self.inotify_was, need)

    def run_idle200(self):
        self.run_crowd("idle200", self.args.sessions, "yescrypt", deliver=False)

    def run_idle10k(self):
        self.run_crowd("idle10k", self.args.crowd, self.args.crowd_hash, deliver=True)

    # -------------------------------------------------------------- mix

    def run_mix(self):
        a = self.args
        gen = imap_messages.Generator(5, a.word)
        pool = [gen.message(i, imap_messages.BASE_TIME + i * 600).encode().replace(b"\n", b"\r\n")
                for i in range(50)]
        for rep in range(a.repeat):
            for sv in self.turns(rep):
                self.fresh(sv, self.data["mix"])
                c = self.session(sv)
                _, r = c.command("CREATE Archive", expect_ok=False)   # Postern may have made it
                if b" OK" not in r.status and b"[ALREADYEXISTS]" not in r.status:
                    raise RuntimeError("%s: CREATE Archive: %r" % (sv.name, r.status))
                c.close()
                master = sv.master_pid()
                got = imap_mix.run(sv.port, sv.user, sv.password, a.mix_clients, a.mix_seconds, a.seed, pool,
                                   before=lambda: tree_cpu(master))
                cpu = tree_cpu(master) - got["before"]
                secs = got["seconds"]
                for what in ("commands", "logins", "appends"):
                    self.note("mix_" + what, sv, got[what] / secs)
                self.note("mix_cpu", sv, 1000 * cpu / max(1, got["commands"]))   # ms per command
                self.note("mix_no", sv, got["no"])
                log("%s mix of %d clients, %.1f s: %.0f commands/s, %.1f logins/s, %.1f appends/s, "
                    "%d NO; server CPU %.2f s (%.2f ms per command)"
                    % (sv.name, a.mix_clients, secs, got["commands"] / secs, got["logins"] / secs,
                       got["appends"] / secs, got["no"], cpu, 1000 * cpu / max(1, got["commands"])))

    # -------------------------------------------------------------- qresync

    def run_qresync(self):
        rng = random.Random(self.args.seed)
        for rep in range(self.args.repeat):
            for sv in self.turns(rep):
                if rep == 0:
                    self.fresh(sv, self.data["big"])
                    self.session(sv, "INBOX").close()     # indexed once, not measured
                c = self.session(sv)
                c.command("ENABLE QRESYNC")
                _, r = c.command("SELECT INBOX")
                c.close()
                state = [int(re.search(rb"\[%s (\d+)\]" % k, r.head).group(1))
                         for k in (b"UIDVALIDITY", b"HIGHESTMODSEQ")]
                flagged, expunged = self.changes(sv, rng)
                c = self.session(sv)
                c.command("ENABLE QRESYNC")
                t1, r1 = self.timed("qresync_select", sv, c, "SELECT INBOX (QRESYNC (%d %d))" % tuple(state))
                t2, r2 = self.timed("qresync_full", sv, c, "FETCH 1:* (FLAGS)")
                c.close()
                self.note("qresync_select_bytes", sv, r1.size)
                self.note("qresync_full_bytes", sv, r2.size)
                self.res[("qresync_check", sv.name)] = check_resync(r1, flagged, expunged)
                log("%s SELECT (QRESYNC): %.3f s (CPU %.3f), %d bytes; FETCH 1:* (FLAGS): %.3f s (CPU %.3f), "
                    "%d bytes; %s" % (sv.name, t1, r1.cpu, r1.size, t2, r2.cpu, r2.size,
                                      self.res[("qresync_check", sv.name)]))

    def changes(self, sv, rng):
        """Another session: FLAGGED flag changes, one STORE each, on
        unflagged messages and EXPUNGED others expunged; their UIDs."""
        c = self.session(sv)
        _, r = c.command("SELECT INBOX")
        exists = int(re.search(rb"\* (\d+) EXISTS", r.head).group(1))
        picks = rng.sample(range(1, exists + 1), 3 * FLAGGED)
        _, r = c.command("FETCH %s (UID FLAGS)" % ",".join(map(str, picks)))
        info = {}
        for line in r.head.split(b"\r\n"):
            m = re.match(rb"\* (\d+) FETCH \((.*)\)$", line)
            if m:
                info[int(m.group(1))] = (int(re.search(rb"UID (\d+)", m.group(2)).group(1)),
                                         b"\\Flagged" in m.group(2))
        unflagged = [n for n in picks if not info[n][1]][:FLAGGED]
        others = [n for n in picks if n not in unflagged][:EXPUNGED]
        for n in unflagged:
            c.command("STORE %d +FLAGS.SILENT (\\Flagged)" % n)
        c.command("STORE %s +FLAGS.SILENT (\\Deleted)" % ",".join(map(str, others)))
        c.command("EXPUNGE")
        c.close()
        return {info[n][0] for n in unflagged}, {info[n][0] for n in others}


def check_resync(r, flagged, expunged):
    """What a SELECT (QRESYNC) reply told of the changes: "as expected" when
    every expunged UID is in its VANISHED (EARLIER) and every flag change
    in a FETCH, else what is missing or more."""
    if r.size > Client.KEEP:
        return "a reply of %d bytes, not checked" % r.size
    m = re.search(rb"\* VANISHED \(EARLIER\) ([0-9:,]+)\r\n", r.head)
    vanished = set(parse_seqset(m.group(1).decode())) if m else set()
    fetched = {int(u) for u in re.findall(rb"\* \d+ FETCH \([^\r\n]*UID (\d+)", r.head)}
    problems = []
    if not expunged <= vanished:
        problems.append("%d expunged UIDs not in VANISHED" % len(expunged - vanished))
    if not flagged <= fetched:
        problems.append("%d changed messages not in a FETCH" % len(flagged - fetched))
    summary = "VANISHED (EARLIER) of %d UIDs, %d FETCH" % (len(vanished), r.fetches)
    return summary + (": " + "; ".join(problems) if problems else ": as expected")


def make_data(args, top, only):
    """{"small": dir, "big": dir, "mix": dir, "user": dir}: the generated
    Maildirs the parts in only use (made or reused)."""
    root = args.data or os.path.join(top, "data")
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    owner = pwd.getpwnam(MAIL_USER)
    uses = {"small": ("fetch", "search", "idle"), "big": ("select", "qresync"), "mix": ("mix",),
            "user": ("idle200", "idle10k")}
    out = {}
    for key, count, seed in (("small", args.n, 1), ("big", args.big, 2), ("mix", args.mix_messages, 3),
                             ("user", args.user_messages, 4)):
        if not set(uses[key]) & set(only):
            continue
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


def command_line(args, defaults):
    """The command as it was given, for the report: the options that differ
    from their defaults, in a fixed order."""
    short = {"build": "-b", "n": "-n", "big": "-N", "repeat": "-r", "word": "-w", "out": "-o", "skip_dovecot": "-s"}
    niceness = os.nice(0)   # as it was run, not as the usage suggests
    words = [("nice -n %d " % niceness if niceness else "") + "python3 bench/imap.py"]
    for key in ("build", "n", "big", "repeat", "word", "only", "users", "user_messages", "sessions", "crowd",
                "crowd_hash", "settle", "hibernate", "mix_clients", "mix_seconds", "mix_messages", "seed",
                "skip_dovecot", "out", "data"):
        v = getattr(args, key)
        if key in ("build", "n", "big", "repeat") or (v is not None and v != defaults[key]):
            opt = short.get(key, "--" + key.replace("_", "-"))
            words.append(opt if v is True else "%s %s" % (opt, v))
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-b", "--build", default="build")
    ap.add_argument("-n", type=int, default=5000, help="messages of the FETCH/SEARCH folder")
    ap.add_argument("-N", "--big", type=int, default=100000, help="messages of the SELECT and QRESYNC folder")
    ap.add_argument("-r", "--repeat", type=int, default=3)
    ap.add_argument("-w", "--word", default="quokka")
    ap.add_argument("-o", "--out")
    ap.add_argument("--data", help="keep the generated Maildirs here (reused)")
    ap.add_argument("--only", default=",".join(MAIN_PARTS + LOAD_PARTS))
    ap.add_argument("--users", type=int, default=100, help="idle200, idle10k: users")
    ap.add_argument("--user-messages", type=int, default=50, help="idle200, idle10k: messages per INBOX")
    ap.add_argument("--sessions", type=int, default=200, help="idle200: sessions")
    ap.add_argument("--crowd", type=int, default=10000, help="idle10k: sessions")
    ap.add_argument("--crowd-hash", choices=("sha512", "yescrypt"), default="sha512",
                    help="idle10k: the password hash of both servers")
    ap.add_argument("--settle", type=float, help="idle200, idle10k: seconds before measuring (5; S + 5 "
                    "with --hibernate S)")
    ap.add_argument("--hibernate", type=int, help="imap_hibernate_timeout (seconds) of both servers")
    ap.add_argument("--mix-clients", type=int, default=10)
    ap.add_argument("--mix-seconds", type=float, default=60)
    ap.add_argument("--mix-messages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1, help="mix and qresync: random seed")
    ap.add_argument("-s", "--skip-dovecot", action="store_true")
    ap.add_argument("-k", "--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (both servers serve mail as %s)" % MAIL_USER)
    if max(args.sessions, args.crowd) > USER_SESSIONS_MAX * args.users:
        sys.exit("more than %d sessions per user: give more --users" % USER_SESSIONS_MAX)
    only = args.only.split(",")
    unknown = set(only) - set(MAIN_PARTS + LOAD_PARTS)
    if unknown:
        sys.exit("--only: no such part: %s" % ",".join(sorted(unknown)))
    build = os.path.abspath(os.path.join(SOURCE, args.build) if not os.path.isabs(args.build) else args.build)
    args.command = command_line(args, {a.dest: a.default for a in ap._actions})
    if args.settle is None:
        args.settle = 5.0 if args.hibernate is None else args.hibernate + 5.0
    git = lambda *c: subprocess.run(["git", "-C", SOURCE] + list(c), stdout=subprocess.PIPE, text=True).stdout
    args.commit = git("rev-parse", "--short", "HEAD").strip()
    args.dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())

    top = tempfile.mkdtemp(prefix="postern-bench-imap.")
    os.chmod(top, 0o711)
    servers, b = [], None
    started, load0 = time.time(), loadavg()
    crowd = max([args.sessions if "idle200" in only else 0, args.crowd if "idle10k" in only else 0,
                 args.mix_clients + 10])
    users = user_names(args.users) if {"idle200", "idle10k"} & set(only) else []
    try:
        data = make_data(args, top, only)
        pn = Postern(build, top, users, crowd, args.hibernate)
        servers.append(pn)
        if not args.skip_dovecot:
            servers.append(Dovecot(build, top, users, crowd, args.hibernate))
        hashes = {"yescrypt": pn.yescrypt, "sha512": crypt_hash(PASSWORD, "$6$")}
        for sv in servers:
            sv.set_hash(hashes["yescrypt"])
        b = Bench(args, servers, data, hashes)
        for what in MAIN_PARTS + LOAD_PARTS:
            if what in only:
                log("-- %s" % what)
                b.group = "main" if what in MAIN_PARTS else "load"
                getattr(b, "run_" + what)()
    finally:
        for sv in servers:
            try:
                sv.stop()
            except Exception as e:   # stop every server
                log("stopping %s: %s" % (sv.name, e))
        if b is not None and hasattr(b, "inotify_was"):
            with open(INOTIFY, "w") as f:
                f.write(str(b.inotify_was))
        if args.keep:
            log("kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    sections = b.report(started, time.time(), load0)
    for section in sections:
        print(section)
    if args.out:
        path = os.path.join(top + ".section")
        for section in sections:
            with open(path, "w") as f:
                f.write(section)
            subprocess.run([sys.executable, os.path.join(HERE, "put_section.py"), args.out, path], check=True)
        os.unlink(path)


if __name__ == "__main__":
    main()
