"""The state-tracking IMAP checker (issue 11, "Compliance under
concurrency"): several clients send random commands to alice's INBOX
and a second folder (SELECT, EXAMINE, FETCH, STORE, SEARCH, EXPUNGE,
APPEND, COPY, MOVE, IDLE, STATUS, CLOSE, UNSELECT, LOGOUT) while mail is
delivered over SMTP; each keeps a model of its mailbox and checks every
response against it and the RFCs (tests/integration/imap_model.py says
what is checked), and at the end every message is accounted for, every
view equals the others and the files on disk.  Some sessions enable
CONDSTORE or QRESYNC (RFC 7162): those use STORE (UNCHANGEDSINCE), and
a QRESYNC client that leaves a folder (or drops its connection) comes
back with SELECT (QRESYNC ...) and UID FETCH (CHANGEDSINCE n VANISHED),
whose answers must bring its copy to exactly what a full fetch shows
(tests/integration/imap_model_qresync.py).

Runs:
  default (CI)  2,500 commands or 25 seconds, whichever comes first
                (5-7 s on a 2-core machine already busy with other work)
  POSTERN_IMAP_MODEL_SECONDS=300
                5 minutes, no command limit: the long run, outside CI
  POSTERN_IMAP_MODEL_SEED=N
                the seed of the random choices (printed on failure, and
                on success with -v); the choices of each client and of
                the deliveries follow from it, their interleaving with
                the server's timing does not, so a failure may need the
                seed and a few runs to show again
  hibernated    the same again with imap_hibernate_timeout 1s, IDLE about
                every other command, most lasting 1.5-4 s, deliveries
                0.5-3 s apart, so
                that sessions are hibernated and told of new mail by
                imap-hibernate or woken (test_random_commands_with_
                hibernated_idle_match_the_model)
  POSTERN_IMAP_MODEL_CLIENTS=N
                clients (default 4; at least 4 gives every owned system
                flag its own client)

    POSTERN_IMAP_MODEL_SECONDS=300 POSTERN_IMAP_MODEL_SEED=7 \\
        python3 tests/run_all.py --build build --suite integration -k imap_model

A success prints one line to stderr: the seed, the commands sent, the
messages left, and what the end checked.  A failure names the seed and
the first violations with the last lines of the clients they name; every
client's last 3,000 lines are in imap-model-transcripts.txt in the kept
tree.  (With the build-san build the daemons run under ASan and UBSan
and their reports fail the test too.)
"""

import os
import random
import re
import sys
import threading
import time
import traceback

import imap_model
from imap_model import (ANSWERED, DELETED, DRAFT, FLAGGED, PRIVATE_KEYWORD, SEEN, ModelViolation, World, _Stopped,
                        own_keyword, read_disk_folder)
from imap_model_qresync import Modseqs, QresyncClient, resync_choice
from postern_harness import HOST, SCALE, PosternTestCase, make_message

FOLDERS = ("INBOX", "Second")


def env_int(name, default):
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


class Program:
    """The random commands of one client."""

    def __init__(self, client, rng, world, nclients):
        self.c = client
        self.rng = rng
        self.w = world
        self.n = nclients
        self.appends = 0
        self.deleter = imap_model.SYSTEM_OWNERS[DELETED] % nclients == client.index
        self.own_system = [f for f, o in imap_model.SYSTEM_OWNERS.items()
                           if o % nclients == client.index and f != DELETED]

    # ---- choosing messages

    def known(self):
        return [m for m in self.c.view if m.inst is not None and m.inst.tid is not None and m.flags is not None
                and m.inst.origin != "unknown"]

    def pick(self, cands, most=4):
        """A few of cands, often neighbours (ranges), in view order."""
        if not cands:
            return []
        k = min(len(cands), self.rng.choice((1, 1, 1, 2, 3, most)))
        if self.rng.random() < 0.5:
            start = self.rng.randrange(len(cands) - k + 1)
            chosen = cands[start:start + k]
        else:
            chosen = self.rng.sample(cands, k)
        pos = {id(m): i for i, m in enumerate(self.c.view)}
        return sorted(chosen, key=lambda m: pos[id(m)])

    def mine(self, m):
        return m.inst.owner == self.c.index

    def public(self, m):
        return m.inst.owner is None

    # ---- actions

    def act_noop(self):
        self.c.noop(self.rng.choice(("NOOP", "NOOP", "CHECK")))

    long_idle = 0.0   # the share of IDLEs that last past imap_hibernate_timeout (1s): hibernated
    idle_weight = 2   # of IDLE among the actions

    def act_idle(self):
        if self.rng.random() < self.long_idle:
            self.c.idle(self.rng.uniform(1.5, 4.0))
        else:
            self.c.idle(self.rng.uniform(0.02, 0.4))

    def act_fetch(self):
        rng = self.rng
        if rng.random() < 0.1:
            targets = list(self.c.view)           # 1:*, all of them
        else:
            targets = self.pick([m for m in self.c.view if m.uid is not None], most=6)
        pool = ["RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY.PEEK[]",
                "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[]<0.40>", "BODY.PEEK[]<17.300>",
                "BODY.PEEK[HEADER.FIELDS (X-Test-Id)]", "BODY.PEEK[HEADER.FIELDS (Subject From)]"]
        if not self.c.rev2:
            pool.append("RFC822.HEADER")
        items = ["UID", "FLAGS"] + rng.sample(pool, rng.randrange(0, 4))
        if self.c.condstore:
            items.append("MODSEQ")
        uid_form = rng.random() < 0.5 and all(m.uid is not None for m in targets)
        self.c.fetch(targets, " ".join(items), uid_form=uid_form)

    def act_fetch_seen(self):
        targets = self.pick([m for m in self.known() if self.public(m) or self.mine(m)], most=2)
        item = self.rng.choice(("BODY[]", "BODY[]", "BODY[TEXT]") + (() if self.c.rev2 else ("RFC822",)))
        self.c.fetch(targets, "UID FLAGS " + item, uid_form=self.rng.random() < 0.5, sets_seen=True)

    def act_store(self):
        rng = self.rng
        if self.c.readonly:
            return self.act_fetch()
        kw = own_keyword(self.c.index)
        if rng.random() < 0.7:
            # Public messages: this client's keyword, its system flag, \Seen.
            choices = [(kw, "+"), (kw, "-")] + [(f, op) for f in self.own_system for op in "+-"] + [(SEEN, "+")]
            flag, op = rng.choice(choices)
            targets = self.pick([m for m in self.known() if self.public(m)])
            flags = [flag]
        else:
            # Its own messages: any flag but \Deleted.
            targets = self.pick([m for m in self.known() if self.mine(m)])
            op = rng.choice("+-")
            flags = rng.sample([SEEN, ANSWERED, FLAGGED, DRAFT, PRIVATE_KEYWORD, kw], rng.randrange(1, 3))
        self.c.store(targets, op, flags, silent=rng.random() < 0.3, uid_form=rng.random() < 0.5)

    def act_replace(self):
        rng = self.rng
        if self.c.readonly:
            return self.act_fetch()
        targets = self.pick([m for m in self.known() if self.mine(m)])
        flags = rng.sample([SEEN, ANSWERED, FLAGGED, DRAFT, PRIVATE_KEYWORD, own_keyword(self.c.index)],
                           rng.randrange(0, 4))
        self.c.store(targets, "", flags, silent=rng.random() < 0.3, uid_form=rng.random() < 0.5)

    def act_delete(self):
        rng = self.rng
        if self.c.readonly:
            return self.act_fetch()
        if self.deleter and rng.random() < 0.7:
            targets = self.pick([m for m in self.known() if self.public(m)])
            op = "-" if rng.random() < 0.25 else "+"
        else:
            targets = self.pick([m for m in self.known() if self.mine(m)])
            op = "-" if rng.random() < 0.15 else "+"
        self.c.store(targets, op, [DELETED], silent=rng.random() < 0.3, uid_form=rng.random() < 0.5)

    def act_expunge(self):
        if self.c.readonly:
            return self.act_fetch()
        if self.rng.random() < 0.4:
            uids = [m.uid for m in self.pick([m for m in self.c.view if m.uid is not None], most=8)]
            if uids:
                return self.c.expunge(uids)
        self.c.expunge()

    def act_append(self):
        rng = self.rng
        self.appends += 1
        tid = "a%d-%d" % (self.c.index, self.appends)
        folder = FOLDERS[0] if rng.random() < 0.7 else FOLDERS[1]
        body = message_body(rng, tid, "client%d@example.test" % self.c.index)
        flags = rng.sample([SEEN, ANSWERED, FLAGGED, DRAFT, PRIVATE_KEYWORD, own_keyword(self.c.index)],
                           rng.randrange(0, 3))
        if rng.random() < 0.08:
            flags.append(DELETED)
        date = rng.randrange(978307200, 1893456000) if rng.random() < 0.5 else None
        self.c.append(folder, body, flags, date, tid, sync=rng.random() < 0.3)

    def act_copy(self, move=False):
        rng = self.rng
        if move and self.c.readonly:
            return self.act_fetch()
        targets = self.pick(self.known(), most=3)
        others = [f for f in FOLDERS if f != self.c.folder]
        dest = self.c.folder if rng.random() < 0.1 else rng.choice(others)
        if self.w.sizes.get(dest, 0) > 40 and dest != self.c.folder:
            return self.act_fetch()    # keep the folders from piling up
        self.c.copy(targets, dest, move, uid_form=rng.random() < 0.5)

    def act_move(self):
        self.act_copy(move=True)

    def act_search(self):
        rng = self.rng
        if rng.random() < 0.5:
            self.c.search_all(uid_form=rng.random() < 0.5)
        else:
            self.c.search_keyword(uid_form=rng.random() < 0.5)

    def act_status(self):
        self.c.status(self.rng.choice(FOLDERS))

    def act_switch(self):
        rng = self.rng
        folder = FOLDERS[0] if rng.random() < 0.6 else FOLDERS[1]
        if self.c.folder is not None:
            other = [f for f in FOLDERS if f != self.c.folder][0]
            if len(self.c.view) < 10 or self.w.sizes.get(other, 0) > 2 * len(self.c.view) + 10:
                folder = other     # go where the mail is
        self.c.select(folder, examine=rng.random() < 0.15, resync=resync_choice(rng))

    def act_close(self):
        # A QRESYNC client comes back to the folder it left with what
        # changed meanwhile (imap_model_qresync).
        folder = self.c.folder if self.c.qresync and self.c.folder else FOLDERS[0]
        if self.c.readonly or self.rng.random() < 0.5:
            self.c.unselect()
        else:
            self.c.close_mailbox()
        self.c.select(folder, resync=resync_choice(self.rng))

    def act_reconnect(self):
        rng = self.rng
        folder = self.c.folder or FOLDERS[0]
        if self.c.qresync and rng.random() < 0.3:
            self.c.drop()       # gone without LOGOUT, as a phone goes
        else:
            self.c.logout()
        # A new session may be another kind (IMAP4rev2 shows no \Recent,
        # so a message it had in view cannot be checked for exactly one).
        self.c.rev2 = rng.random() < 0.3
        self.c.condstore = rng.random() < 0.3
        self.c.qresync = rng.random() < 0.4
        self.c.connect()
        self.c.select(folder, resync=resync_choice(rng))

    def act_cstore(self):
        """STORE (UNCHANGEDSINCE n) of this client's keyword on public messages."""
        rng = self.rng
        if not self.c.condstore or self.c.readonly:
            return self.act_store()
        targets = self.pick([m for m in self.known() if self.public(m) and m.modseq is not None
                             and m.modseq_t is not None], most=3)
        if not targets:
            return self.act_store()
        self.c.cstore(targets, silent=rng.random() < 0.2, uid_form=rng.random() < 0.5, older=rng.random() < 0.5)

    def act_changedsince(self):
        rng = self.rng
        if not self.c.qresync or self.c.snap is None:
            return self.act_fetch()
        uids = sorted(self.c.snap.msgs)
        within = None
        if len(uids) >= 2 and rng.random() < 0.3:
            within = tuple(sorted(rng.sample(uids, 2)))
        self.c.changedsince(within)

    def step(self):
        size = len(self.c.view)
        grow = 4.0 if size > 30 else 1.0
        weights = [
            (self.act_noop, 6), (self.act_idle, self.idle_weight), (self.act_fetch, 12), (self.act_fetch_seen, 3),
            (self.act_store, 14), (self.act_replace, 3), (self.act_delete, 4 * grow),
            (self.act_expunge, 3 * grow), (self.act_append, 4 / grow), (self.act_copy, 2 / grow),
            (self.act_move, 3), (self.act_search, 4), (self.act_status, 2),
            (self.act_switch, 1 if size >= 10 else 4),   # a nearly empty folder: go where the mail is
            (self.act_close, 1.5 if self.c.qresync else 0.4), (self.act_reconnect, 1.0 if self.c.qresync else 0.6),
            (self.act_cstore, 3 if self.c.condstore else 0), (self.act_changedsince, 2 if self.c.qresync else 0),
        ]
        acts, ws = zip(*weights)
        self.rng.choices(acts, ws)[0]()
        if self.c.folder is not None:
            self.c.learn()
            self.w.sizes[self.c.folder] = len(self.c.view)


def message_body(rng, tid, sender, rcpt="alice@example.test"):
    """A CRLF message with X-Test-Id: plain, long, or multipart."""
    kind = rng.random()
    if kind < 0.15:
        body = (b"--b1\r\nContent-Type: text/plain\r\n\r\npart one of " + tid.encode() +
                b"\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                b"AAECAwQFBgcICQ==\r\n--b1--\r\n")
        extra = [b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="b1"']
    elif kind < 0.2:
        body = b"".join(b"line %d of a longer message %s\r\n" % (i, tid.encode()) for i in range(800))
        extra = []
    else:
        body = b"hello " + tid.encode() + b"\r\n" + b"x" * rng.randrange(0, 200) + b"\r\n"
        extra = []
    return make_message(tid, sender, rcpt, body, extra_headers=extra)


class ImapModel(PosternTestCase):

    def test_random_commands_of_concurrent_clients_match_the_model(self):
        self.run_model(hibernate=False)

    def test_random_commands_with_hibernated_idle_match_the_model(self):
        """The same, with imap_hibernate_timeout 1s, most commands long
        IDLEs and deliveries up to 3 s apart: sessions are told of new
        mail by imap-hibernate (EXISTS, RECENT, the \\Recent claim) and
        woken for flag changes and expunges (docs/protocols.md, "IMAP
        hibernation")."""
        self.run_model(hibernate=True)

    def run_model(self, hibernate):
        seed = env_int("POSTERN_IMAP_MODEL_SEED", random.SystemRandom().randrange(1 << 31))
        seconds = env_int("POSTERN_IMAP_MODEL_SECONDS", 0)
        nclients = env_int("POSTERN_IMAP_MODEL_CLIENTS", 4)
        if seconds > 0:
            budget, max_commands = seconds, None
        else:
            budget, max_commands = 25 * SCALE, 2500
        if hibernate:
            t = self.start_tree(start=False)
            t.set_conf(imap_hibernate_timeout="1s")
            t.start()
        else:
            t = self.start_tree()
        world = World(nclients, seed, FOLDERS)
        master = random.Random(seed)
        user, password = t.addr("alice"), t.passwords["alice"]

        def client(i):
            return QresyncClient(world, i, HOST, t.port("imap"), user, password, timeout=60 * SCALE,
                                 rev2=master.random() < 0.3, condstore=master.random() < 0.3,
                                 qresync=master.random() < 0.4)

        setup = client(nclients)
        setup.connect()
        setup.expect_ok(setup.command("CREATE Second", "CREATE"))
        clients = [client(i) for i in range(nclients)]
        programs = [Program(c, random.Random(master.randrange(1 << 62)), world, nclients) for c in clients]
        if hibernate:
            # Mostly in IDLE, and long: the folders are quiet for
            # imap_hibernate_timeout often enough to hibernate sessions.
            for p in programs:
                p.long_idle, p.idle_weight = 0.7, 60
        deliver_rng = random.Random(master.randrange(1 << 62))
        end = time.monotonic() + budget

        def run_client(p):
            try:
                p.c.connect()
                p.c.select(FOLDERS[0])
                p.c.learn()
                while not world.stop.is_set() and time.monotonic() < end:
                    if max_commands is not None and world.commands >= max_commands:
                        break
                    p.step()
            except _Stopped:
                pass
            except ModelViolation as e:
                world.fail(p.c.name, str(e))
            except Exception:
                world.fail(p.c.name, "checker or connection error:\n" + traceback.format_exc())

        def run_deliveries():
            n = 0
            try:
                while not world.stop.is_set() and time.monotonic() < end:
                    if max_commands is not None and world.commands >= max_commands:
                        break
                    n += 1
                    tid = "d%d" % n
                    with world.lock:
                        world.delivered[tid] = (time.monotonic(), None)
                    msg = message_body(deliver_rng, tid, "sender@example.org")
                    body = msg.split(b"\r\n\r\n", 1)[1]
                    extra = [l for l in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                             if l.startswith((b"MIME-Version", b"Content-Type"))]
                    s = t.smtp()
                    try:
                        s.sendmail("sender@example.org", [user],
                                   make_message(tid, "sender@example.org", user, body, extra_headers=extra))
                    finally:
                        s.quit()
                    with world.lock:
                        world.delivered[tid] = (world.delivered[tid][0], time.monotonic())
                    world.stop.wait(deliver_rng.uniform(0.5, 3.0) if hibernate else deliver_rng.uniform(0.05, 0.4))
            except Exception:
                world.fail("deliveries", traceback.format_exc())

        threads = [threading.Thread(target=run_client, args=(p,), daemon=True) for p in programs]
        threads.append(threading.Thread(target=run_deliveries, daemon=True))
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(budget + 120 * SCALE)
            if th.is_alive():
                world.fail("runner", "a client thread did not finish")
        world.stop.set()
        elapsed = time.monotonic() - t0
        problems = list(world.failures)
        if not problems:
            problems = self.finish(t, world, clients, setup)
        qcounts = Modseqs.of(world).counts
        hibernated = len(re.findall(r": hibernated$", t.log_text(), re.M))
        if hibernate:
            world.counts["hibernated"] = hibernated
            world.counts["folder looks telling new mail in imap-hibernate"] = len(
                re.findall(r"hibernated session\(s\) told of new mail", t.log_text()))
        summary = ("seed %d, %d clients, %d commands in %.1f s, %d deliveries, messages at the end %s: %s; "
                   "CONDSTORE and QRESYNC: %s; checked at the end: %s" % (
                       seed, nclients, world.commands, elapsed, len(world.delivered),
                       getattr(world, "final_sizes", "?"),
                       ", ".join("%s %d" % kv for kv in sorted(world.counts.items())),
                       ", ".join("%s %d" % kv for kv in sorted(qcounts.items())),
                       ", ".join("%s %d" % kv for kv in sorted(getattr(world, "checked", {}).items()))))
        for c in clients + [setup]:
            c.close()
        if problems:
            self.fail(self.report(t, world, problems, summary))
        if hibernate and hibernated == 0:
            self.fail("no session was hibernated: the run checked nothing of hibernation (%s)" % summary)
        sys.stderr.write("\nimap_model: %s\n" % summary)

    def finish(self, t, world, clients, setup):
        """Every client's last NOOP and FETCH, a fresh look at each folder,
        the files, and the accounting."""
        try:
            t.wait_queue(lambda q: not q, seconds=60, what="every delivery done")
            for c in clients:
                if c.sock is not None and c.folder is not None:
                    c.final_check()
            setup.finishing = True
            listing, disk = {}, {}
            for folder in FOLDERS:
                setup.select(folder, examine=True)
                setup.learn(all_of_them=True)
                listing[folder] = {m.uid: (m.inst.tid, m.flags) for m in setup.view}
                for c in clients:
                    if c.folder == folder:
                        mine = {m.uid: (m.inst.tid, m.flags) for m in c.view}
                        if mine != listing[folder]:
                            diff = sorted(set(mine.items()) ^ set(listing[folder].items()))[:10]
                            raise ModelViolation("%s's view of %s differs from a fresh session's: %r"
                                                 % (c.name, folder, diff))
                path = t.maildir("alice") if folder == "INBOX" else os.path.join(t.maildir("alice"), "." + folder)
                disk[folder] = read_disk_folder(path)
            world.final_sizes = {f: len(v) for f, v in listing.items()}
            return imap_model.finish(world, listing, disk, time.monotonic())
        except ModelViolation as e:
            return ["the end: %s" % e]

    def report(self, t, world, problems, summary):
        path = os.path.join(t.dir, "imap-model-transcripts.txt")
        with open(path, "w") as f:
            for i in sorted(world.transcripts):
                f.write("==== client %d ====\n" % i)
                f.write("\n".join(world.transcripts[i]) + "\n")
        out = ["IMAP model check failed (POSTERN_IMAP_MODEL_SEED=%d to repeat the choices)" % world.seed, summary,
               "every client's last commands: %s" % path, ""]
        out.extend(problems[:20])
        named = sorted(set(int(x) for p in problems[:3] for x in __import__("re").findall(r"client (\d+)", p)))
        for i in named or sorted(world.transcripts)[:1]:
            lines = list(world.transcripts.get(i, []))[-80:]
            out.append("\n---- the last %d lines of client %d ----" % (len(lines), i))
            out.extend(lines)
        return "\n".join(out)


if __name__ == "__main__":
    import unittest
    unittest.main()
