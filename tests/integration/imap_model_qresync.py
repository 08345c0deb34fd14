"""imap_model_qresync: CONDSTORE and QRESYNC (RFC 7162) in the
state-tracking IMAP checker.

QresyncClient is a ModelClient (imap_model.py) that may ENABLE QRESYNC
(qresync=True; QRESYNC implies CONDSTORE), keeps a copy of each folder
it leaves, resynchronises from it when it comes back, and checks, on top
of what ModelClient checks:

In a session with QRESYNC enabled:
- never an EXPUNGE, VANISHED instead (3.2.10), and only where an EXPUNGE
  could come (RFC 9051 7.5.1: not during FETCH, STORE or SEARCH by
  number, not between commands); it names only UIDs the client has in
  its view and was not told gone, each once.
- VANISHED (EARLIER) only in the reply to SELECT/EXAMINE (QRESYNC ...)
  and to UID FETCH (... VANISHED), in a SELECT before any FETCH
  (3.2.5.1), never naming a UID the view still has (EARLIER does not
  change the number of messages, so it can only name messages that have
  none), in UID FETCH only UIDs of its set (3.2.6).
- every FETCH with FLAGS has UID and MODSEQ (3.2.4: all of them once
  CONDSTORE is enabled, but for a FETCH that asked for neither; this
  client asks for both whenever it asks for FLAGS, so no exception
  applies).
- a SELECT while a folder is selected gives OK [CLOSED] (3.2.11).

In any session with CONDSTORE (and, for HIGHESTMODSEQ, any session):
- a message's MODSEQ never goes down for a client, in a session or
  across its sessions (below a MODSEQ of it told to the client in a reply
  received before the command was sent), and a FETCH whose flags differ from those of the last FETCH
  that told flags and MODSEQ has a higher MODSEQ (3.1: every change
  raises it).
- HIGHESTMODSEQ of a SELECT or EXAMINE, and STATUS HIGHESTMODSEQ of a
  folder not selected, is never below a MODSEQ or HIGHESTMODSEQ of that
  folder told to any client in a reply received before the command was
  sent (3.1.2.1; the folder keeps its UIDVALIDITY throughout).
- STORE (UNCHANGEDSINCE n) of the client's own keyword on public
  messages (3.1.3): a message whose MODSEQ the client was told above n
  before, or on which another client surely changed its flag after this
  client was told MODSEQ n (the other's STORE sent after that FETCH
  came, answered before this STORE was sent, and changing the value),
  must be named by [MODIFIED] and keep its flags; a message [MODIFIED]
  names must have a MODSEQ above n afterwards and keep the flag as it
  was; the others get the change.

Resynchronisation (3.2.5, 3.2.6).  A QRESYNC client keeps, when it
leaves a folder (UNSELECT, CLOSE, SELECT of another, LOGOUT, or a
dropped connection), a copy: each message's UID, flags and MODSEQ as it
last knew them and the HIGHESTMODSEQ n of the SELECT that began that
view (not the highest MODSEQ told since: a server may tell a message's
new MODSEQ before it tells another session's older changes, so only n
is sure to cover everything the view holds).  When it comes back with
SELECT (QRESYNC (uidvalidity n [known-uids] [seq-match-data])) it builds
its view from the copy, less the UIDs of VANISHED (EARLIER), with the
flags of the FETCHes of the reply, in the positions their numbers give;
with known UIDs it then asks UID FETCH top+1:* for the new messages
(those the server need not report, 3.2.5.1); without, every one of the
EXISTS must be accounted for.  Then a UID FETCH 1:* (FLAGS MODSEQ) must
agree: a UID VANISHED (EARLIER) named is not there; a message reported
has the flags reported where its MODSEQ stayed; one not reported whose
MODSEQ is at most n has the copy's flags; one whose MODSEQ is above n
but at most this SELECT's HIGHESTMODSEQ had to be reported; every UID of
the copy is there or was said to have vanished.  No FETCH of the reply
may be for a message unchanged since n: its MODSEQ must be above n, and
a message the copy had from its SELECT, on which nobody ran a command
that may change flags since that SELECT was sent, must not be reported.
(The RFC lets a server report more in two cases: messages outside the
known UIDs -- "should only report", 3.2.5.1 -- which here are only new
messages, and any message after the server lost its MODSEQs and gave
every message a new one above n, which docs/mailbox-store.md does on a
rebuilt index and this test never causes.)  UID FETCH set (FLAGS)
(CHANGEDSINCE n VANISHED), with n the HIGHESTMODSEQ of the current
SELECT and the view as learned right after it, is checked the same way,
within the set; and a UID the session was told had vanished since must
be in its VANISHED (EARLIER).  A SELECT (QRESYNC) with another
UIDVALIDITY gets neither VANISHED nor FETCH (3.2.5)."""

import collections
import re

from imap_model import (START, Ctx, ModelClient, ModelViolation, ProtocolError, fetch_items, now, own_keyword,
                        parse_seqset, seqset)


class TimedMax:
    """Numbers told, each with when its reply came: the highest told
    before a moment.  Old entries are kept as (latest time, highest
    value) of a group, which only makes the answer more lenient."""

    def __init__(self):
        self.recent = []
        self.old = []

    def add(self, t, v):
        self.recent.append((t, v))
        if len(self.recent) > 64:
            group, self.recent = self.recent[:32], self.recent[32:]
            self.old.append((max(x[0] for x in group), max(x[1] for x in group)))
            if len(self.old) > 16:
                merged = self.old[:8]
                self.old = [(max(x[0] for x in merged), max(x[1] for x in merged))] + self.old[8:]

    def before(self, t):
        """(time, value) of the highest value told before t, or None."""
        best = None
        for (tt, v) in self.old + self.recent:
            if tt < t and (best is None or v > best[1]):
                best = (tt, v)
        return best


class Modseqs:
    """What the World knows of MODSEQs (one per World, under its lock),
    and how often each QRESYNC check ran (counts)."""

    def __init__(self, world):
        self.w = world
        self.counts = collections.Counter()
        self.folder_told = {}   # folder -> TimedMax of MODSEQ and HIGHESTMODSEQ told
        self.msg_told = {}      # (client, folder, uid) -> TimedMax of its MODSEQ told to that client

    @staticmethod
    def of(world):
        with world.lock:
            if getattr(world, "modseqs", None) is None:
                world.modseqs = Modseqs(world)
            return world.modseqs

    def count(self, what, n=1):
        with self.w.lock:
            self.counts[what] += n

    def note(self, folder, value, t):
        with self.w.lock:
            self.folder_told.setdefault(folder, TimedMax()).add(t, value)

    def before(self, folder, t):
        with self.w.lock:
            tm = self.folder_told.get(folder)
            return tm.before(t) if tm else None

    def note_msg(self, client, inst, value, t_send, what):
        """MODSEQ value of inst told to client in the reply to a command
        sent at t_send: never below one told to it (in this session or
        an earlier one) in a reply received before.  (Another session
        may have told a higher one: a session's view lags others' changes
        until it syncs, MODSEQs with the flags.)"""
        with self.w.lock:
            tm = self.msg_told.setdefault((client, inst.folder, inst.uid), TimedMax())
            prev = tm.before(t_send)
            if prev is not None and value < prev[1]:
                raise ModelViolation("%s: MODSEQ of %r is %d, but %d was told to this client at %.3f, before the "
                                     "command was sent (a message's MODSEQ never goes down, RFC 7162 3.1)"
                                     % (what, inst, value, prev[1], prev[0] - START))
            tm.add(now(), value)

    def quiet_since(self, inst, t):
        """Whether nobody ran a command that may change inst's flags after
        t (each such command answered before t)."""
        with self.w.lock:
            for recs in inst.recs.values():
                for r in recs:
                    if r.t_recv is None or r.t_recv >= t:
                        return False
            return True

    def changed_by_other(self, inst, me, t_after, t_before):
        """(flag, FlagRec) of a change another client surely made to a flag
        of inst that it alone changes: sent after t_after, answered before
        t_before, its value not the one before it.  None if none."""
        w = self.w
        with w.lock:
            for f, recs in inst.recs.items():
                o = w.owner(inst, f)
                if o is None or o < 0 or o == me:
                    continue
                prev = inst.init.get(f)
                for r in sorted(recs, key=lambda x: x.t_send):   # one owner: one command at a time
                    if (r.t_send > t_after and r.t_recv is not None and r.t_recv < t_before
                            and prev is not None and r.value is not None and prev != r.value):
                        return f, r
                    prev = r.value
            return None


class Copy:
    """A folder as a QRESYNC client last knew it: valid as of MODSEQ
    modseq, the HIGHESTMODSEQ of the SELECT sent at t_select that began
    that view; msgs: uid -> (flags, MODSEQ or None, whether the message
    was among that SELECT's EXISTS)."""

    def __init__(self, uidvalidity, modseq, t_select, msgs):
        self.uidvalidity = uidvalidity
        self.modseq = modseq
        self.t_select = t_select
        self.msgs = msgs


class QCtx:
    """What one resynchronising command expects and collects."""

    def __init__(self, kind, n=None, copy=None, within=None, known=None, bogus=False):
        self.kind = kind           # "select", "changedsince", or "full" (UID FETCH ... (FLAGS MODSEQ))
        self.n = n                 # the MODSEQ the client asks from
        self.copy = copy
        self.within = within       # (lo, hi) of the UID FETCH set, None: 1:*
        self.known = known         # the known-uids sent, None: none
        self.bogus = bogus         # SELECT (QRESYNC) with another UIDVALIDITY
        self.earlier = set()       # VANISHED (EARLIER) UIDs
        self.reported = {}         # uid -> (flags, MODSEQ) of the FETCHes
        self.saw_fetch = False


class QresyncClient(ModelClient):

    def __init__(self, *args, qresync=False, **kw):
        super().__init__(*args, **kw)
        self.qresync = qresync
        self.copies = {}          # folder -> Copy, kept across sessions
        self.ms = Modseqs.of(self.world)

    def reset_view(self, folder, readonly=False):
        # A resynchronised view knows the flags of the messages it kept
        # from the copy, but not their \Recent until it fetches them.
        for m in getattr(self, "view", []):
            self.recent_unknown(m)
        super().reset_view(folder, readonly)
        self.sel = None           # (HIGHESTMODSEQ, t_send) of the SELECT of this view
        self.snap = None          # Copy of this view right after its SELECT

    # ---- sessions

    def connect(self):
        if not self.qresync:
            return super().connect()
        self.condstore = False    # QRESYNC alone enables both (RFC 7162 3.2.3)
        super().connect()
        r = self.command("ENABLE QRESYNC", "ENABLE")
        self.expect_ok(r)
        if not any(x.name == "ENABLED" and "QRESYNC" in [str(i).upper() for i in x.items] for x in r.ctx.data):
            raise ModelViolation("ENABLE QRESYNC OK without ENABLED QRESYNC: %r" % [x.raw for x in r.ctx.data])
        self.condstore = True

    def logout(self):
        if self.sock is not None:
            self.save_copy()
        super().logout()

    def drop(self):
        """The connection goes away without LOGOUT, as a phone's does."""
        self.save_copy()
        self.close()
        self.reset_view(None)

    def unselect(self):
        self.save_copy()
        return super().unselect()

    def close_mailbox(self):
        self.save_copy()
        return super().close_mailbox()

    def save_copy(self):
        """Keep the view of the folder being left, if every message's UID
        and flags are known (else the copy could not be trusted)."""
        if not self.qresync or self.folder is None or self.sel is None or self.sock is None:
            return
        if any(m.uid is None or m.flags is None for m in self.view):
            self.learn()
        if any(m.uid is None or m.flags is None for m in self.view):
            self.copies.pop(self.folder, None)
            return
        uv = self.world.folder(self.folder)["uidvalidity"]
        self.copies[self.folder] = Copy(uv, self.sel[0], self.sel[1],
                                        {m.uid: (m.flags, m.modseq, not m.new) for m in self.view})

    # ---- SELECT

    def select(self, folder, examine=False, resync=None):
        """resync: None (a plain SELECT), or how to resynchronise from the
        copy of folder: {"known": None / "exact" / "range", "seqmatch":
        bool, "bogus": bool (another UIDVALIDITY)}."""
        was_selected = self.folder is not None and self.sock is not None
        self.save_copy()
        copy = self.copies.get(folder)
        name = "EXAMINE" if examine else "SELECT"
        ctx = Ctx(name)
        params = ""
        if self.qresync and resync is not None and copy is not None and copy.uidvalidity is not None:
            uids = sorted(copy.msgs)
            known = None
            if resync.get("known") == "exact" and uids:
                known = seqset(uids)
            elif resync.get("known") == "range" and uids:
                known = "1:%d" % uids[-1]
            uv = copy.uidvalidity + (1 if resync.get("bogus") else 0)
            text = "%d %d" % (uv, copy.modseq) + (" " + known if known else "")
            if resync.get("seqmatch") and len(uids) >= 2:
                # Some (number, UID) pairs of the copy, as RFC 7162 3.2.5.2's example.
                picks = sorted(set([0, len(uids) - 1] + [min(len(uids) - 1, 2 ** k) for k in range(6)]))
                text += " (%s %s)" % (seqset(i + 1 for i in picks), seqset(uids[i] for i in picks))
            params = " (QRESYNC (%s))" % text
            ctx.q = QCtx("select", n=copy.modseq, copy=copy, known=known, bogus=bool(resync.get("bogus")))
        r = super().select(folder, examine, params=params, ctx=ctx)
        if self.qresync and was_selected and not any(x.code_name() == "CLOSED" for x in ctx.data):
            raise ModelViolation("%s %s by %s, a QRESYNC client, while a folder was selected: no OK [CLOSED] "
                                 "(RFC 7162 3.2.11)" % (name, folder, self.name))
        if self.qresync and self.sel is not None:
            self.learn()
            if all(m.uid is not None and m.flags is not None for m in self.view):
                self.snap = Copy(copy.uidvalidity if copy else None, self.sel[0], self.sel[1],
                                 {m.uid: (m.flags, m.modseq, not m.new) for m in self.view})
        return r

    def after_select(self, ctx, r, codes):
        folder = self.folder
        what = "%s %s by %s" % (ctx.name, folder, self.name)
        hms = codes.get("HIGHESTMODSEQ")
        if hms is None:
            if self.condstore and "NOMODSEQ" not in codes:
                raise ModelViolation("%s: neither HIGHESTMODSEQ nor NOMODSEQ to a CONDSTORE client (RFC 7162 3.1.2.1)"
                                     % what)
            return
        h = int(hms)
        told = self.ms.before(folder, r.t_send)
        if told is not None and h < told[1]:
            raise ModelViolation("%s: HIGHESTMODSEQ %d, but MODSEQ %d of %s was told at %.3f, before the SELECT was "
                                 "sent (RFC 7162 3.1.2.1: it never goes down while UIDVALIDITY stays)"
                                 % (what, h, told[1], folder, told[0] - START))
        copy = self.copies.get(folder)
        if copy is not None and copy.uidvalidity == int(codes["UIDVALIDITY"]) and h < copy.modseq:
            raise ModelViolation("%s: HIGHESTMODSEQ %d, below the %d this client was told before, with the same "
                                 "UIDVALIDITY" % (what, h, copy.modseq))
        self.ms.note(folder, h, r.t_recv)
        self.sel = (h, r.t_send)
        q = ctx.q
        if q is not None:
            self.ms.count("SELECT (QRESYNC) with another UIDVALIDITY" if q.bogus else
                          "SELECT (QRESYNC) %s known UIDs" % ("without" if q.known is None else "with"))
        if q is not None and not q.bogus:
            self.resync_view(ctx, q, h, what + " (QRESYNC from MODSEQ %d)" % q.n)

    def resync_view(self, ctx, q, h2, what):
        """The view of a SELECT (QRESYNC): the copy less VANISHED
        (EARLIER), with the FETCHes of the reply; then the check against
        a full fetch."""
        copy = q.copy
        top = max(copy.msgs) if copy.msgs else 0
        rest = iter([u for u in sorted(copy.msgs) if u not in q.earlier and u not in q.reported])
        missing = 0
        for k, m in enumerate(self.view):
            if m.uid is not None:
                continue
            u = next(rest, None)
            if u is None:
                # New since the copy: UIDs above all of it.
                m.new, m.floor = True, max(m.floor, top + 1)
                missing += 1
                continue
            try:
                self.place_uid(k + 1, m, u, what)
            except ModelViolation as e:
                raise ModelViolation("%s: the copy's UIDs less VANISHED (EARLIER) %s do not fit the %d messages "
                                     "and the numbers of the FETCHes (%s): %s"
                                     % (what, seqset(q.earlier) or "(none)", len(self.view),
                                        seqset(q.reported) or "none", e))
            flags, ms, _ = copy.msgs[u]
            m.flags, m.modseq = flags, ms
            m.told = (flags, ms) if ms is not None else None
        left = list(rest)
        if left:
            raise ModelViolation("%s: UIDs %s of the copy are neither in VANISHED (EARLIER) %s nor among the %d "
                                 "messages: the server did not say they vanished"
                                 % (what, seqset(left), seqset(q.earlier) or "(none)", len(self.view)))
        if missing and q.known is None:
            raise ModelViolation("%s: %d of the %d messages are neither in the copy nor reported by a FETCH, "
                                 "though without known UIDs the server acts as if 1:<UIDNEXT-1> were given "
                                 "(RFC 7162 3.2.5.1) and a new message's MODSEQ is above %d"
                                 % (what, missing, len(self.view), q.n))
        if missing:
            # New messages: the client asks for them (3.2.5.1 reports
            # only what known-uids names).
            self.command_fetch("UID FETCH %d:* (UID FLAGS MODSEQ)" % (top + 1))
        self.learn()
        base = {u: v[0] for u, v in copy.msgs.items()}
        self.compare_full(what, base, q.n, q.reported, q.earlier, upper=h2, within=None,
                          must_report_new=q.known is None, told_before={})

    # ---- UID FETCH (CHANGEDSINCE n VANISHED)

    def changedsince(self, within=None):
        """UID FETCH set (FLAGS) (CHANGEDSINCE n VANISHED) from the copy of
        the view made right after its SELECT (n: that HIGHESTMODSEQ),
        checked like a resynchronisation."""
        snap = self.snap
        if not self.qresync or snap is None:
            return None
        self.learn()
        if any(m.uid is None for m in self.view):
            return None
        setstr = "1:*" if within is None else "%d:%d" % within
        q = QCtx("changedsince", n=snap.modseq, copy=snap, within=within)
        ctx = Ctx("FETCH", uid=True)
        ctx.q = q
        inside = (lambda u: True) if within is None else (lambda u: within[0] <= u <= within[1])
        told_before = {m.uid: m.told[1] for m in self.view if m.told is not None and inside(m.uid)}
        before = set(id(m) for m in self.view)
        what = "UID FETCH %s (FLAGS) (CHANGEDSINCE %d VANISHED) by %s" % (setstr, q.n, self.name)
        r = self.command("UID FETCH %s (FLAGS) (CHANGEDSINCE %d VANISHED)" % (setstr, q.n), "FETCH", uid=True,
                         ctx=ctx)
        self.expect_ok(r, allow=("EXPUNGEISSUED",))
        gone_now = set(m.uid for m in ctx.expunged if m.uid is not None)
        inview = set(m.uid for m in self.view if m.uid is not None)
        base = {u: v[0] for u, v in snap.msgs.items() if inside(u)}
        for u in sorted(base):
            if u not in q.earlier and u not in gone_now and u not in inview:
                raise ModelViolation("%s: UID %d was in the view at MODSEQ %d and this session was told it vanished "
                                     "since, so it was expunged after %d, yet VANISHED (EARLIER) %s does not name it "
                                     "(RFC 7162 3.2.6)" % (what, u, q.n, q.n, seqset(q.earlier) or "(none)"))
        for m in self.view:
            if (id(m) in before and inside(m.uid) and m.uid not in base and m.uid not in q.reported
                    and m.uid not in self.must_vanish and r.code != "EXPUNGEISSUED"):
                raise ModelViolation("%s: UID %d came after the SELECT that told HIGHESTMODSEQ %d, so its MODSEQ "
                                     "is above it, yet it was not reported" % (what, m.uid, q.n))
        self.compare_full(what, base, q.n, q.reported, q.earlier, upper=None, within=within,
                          must_report_new=False, told_before=told_before)
        self.ms.count("UID FETCH (CHANGEDSINCE VANISHED)")
        return r

    # ---- the check against a full fetch

    def command_fetch(self, text, q=None):
        ctx = Ctx("FETCH", uid=True)
        ctx.q = q
        r = self.command(text, "FETCH", uid=True, ctx=ctx)
        self.expect_ok(r, allow=("EXPUNGEISSUED",))
        return r

    def compare_full(self, what, base, n, reported, earlier, upper, within, must_report_new, told_before):
        """What the client made of a resynchronisation from base ({uid:
        flags} as of MODSEQ n) with the FETCHes reported ({uid: (flags,
        MODSEQ)}) and VANISHED (EARLIER) earlier, against UID FETCH
        (FLAGS MODSEQ) of everything.  upper: the HIGHESTMODSEQ of the
        resynchronising SELECT (None for UID FETCH); told_before: {uid:
        MODSEQ} this session was told before a UID FETCH (CHANGEDSINCE)."""
        setstr = "1:*" if within is None else "%d:%d" % within
        q = QCtx("full")
        r = self.command_fetch("UID FETCH %s (FLAGS MODSEQ)" % setstr, q)
        full = q.reported
        gone = set(self.told_gone)
        for uid, (flags, ms) in sorted(full.items()):
            if uid in earlier:
                raise ModelViolation("%s: VANISHED (EARLIER) named UID %d, but the server still has it (MODSEQ %d)"
                                     % (what, uid, ms))
            if uid in reported:
                rf, rms = reported[uid]
                if ms == rms and flags != rf:
                    raise ModelViolation("%s: UID %d was reported with flags (%s) at MODSEQ %d, a full fetch says "
                                         "(%s) at the same MODSEQ" % (what, uid, _fl(rf), ms, _fl(flags)))
            elif uid in base:
                if ms <= n and flags != base[uid]:
                    raise ModelViolation("%s: UID %d was not reported, and its MODSEQ %d is not above %d, so the "
                                         "client keeps the flags (%s) of its copy, but the server has (%s): a change "
                                         "at or below MODSEQ %d the copy never got, or a MODSEQ that did not grow"
                                         % (what, uid, ms, n, _fl(base[uid]), _fl(flags), n))
                if upper is not None and n < ms <= upper:
                    raise ModelViolation("%s: UID %d changed since %d (its MODSEQ is %d, not above this SELECT's "
                                         "HIGHESTMODSEQ %d), but the SELECT did not report it: the client would "
                                         "keep (%s), the server has (%s)"
                                         % (what, uid, n, ms, upper, _fl(base[uid]), _fl(flags)))
                if told_before.get(uid, 0) > n:
                    raise ModelViolation("%s: this session was told MODSEQ %d of UID %d before, above %d, yet it "
                                         "was not reported (RFC 7162 3.1.4.1)" % (what, told_before[uid], uid, n))
            elif must_report_new and upper is not None and ms <= upper:
                raise ModelViolation("%s: UID %d (MODSEQ %d, so there at the SELECT with HIGHESTMODSEQ %d) is new "
                                     "to the client and was not reported, though no known UIDs were given"
                                     % (what, uid, ms, upper))
        for uid in sorted(base):
            if uid not in earlier and uid not in full and uid not in gone and r.code != "EXPUNGEISSUED":
                raise ModelViolation("%s: UID %d of the copy was never said to have vanished, yet a full fetch "
                                     "does not have it" % (what, uid))
        self.ms.count("resync: checked against a full fetch")
        self.ms.count("resync: messages reported", len(reported))
        self.ms.count("resync: UIDs in VANISHED (EARLIER)", len(earlier))
        self.ms.count("resync: messages kept from the copy", len(set(base) - set(reported) - earlier))

    # ---- untagged responses

    def on_expunge(self, n, ctx, between):
        if self.qresync:
            raise ModelViolation("%d EXPUNGE during %s to a client that enabled QRESYNC: VANISHED instead "
                                 "(RFC 7162 3.2.10)" % (n, ctx.name))
        super().on_expunge(n, ctx, between)

    def on_vanished(self, resp, ctx, between):
        if not self.qresync:
            return super().on_vanished(resp, ctx, between)
        items = list(resp.items)
        earlier = False
        if items and isinstance(items[0], list):
            if [str(x).upper() for x in items[0]] != ["EARLIER"]:
                raise ProtocolError("VANISHED %r" % resp.raw)
            earlier = True
            items = items[1:]
        if len(items) != 1 or not isinstance(items[0], str) or not re.match(r"^[0-9:,]+$", items[0]):
            raise ProtocolError("VANISHED without a UID set: %r" % resp.raw)
        uids = parse_seqset(str(items[0]))
        if len(uids) != len(set(uids)):
            raise ModelViolation("%s: VANISHED names a UID twice: %r" % (ctx.name, resp.raw))
        if earlier:
            self.on_vanished_earlier(uids, ctx, resp)
        else:
            self.on_vanished_now(uids, ctx, between, resp)

    def on_vanished_now(self, uids, ctx, between, resp):
        what = "%s (%s)" % (ctx.name, self.name)
        if between:
            raise ModelViolation("%r while no command was in progress (RFC 9051 7.5.1, RFC 7162 3.2.10)" % resp.raw)
        if ctx.no_expunge:
            raise ModelViolation("%r during %s (RFC 9051 7.5.1: no expunge during FETCH, STORE, SEARCH; "
                                 "RFC 7162 3.2.10)" % (resp.raw, ctx.name))
        if self.folder is None:
            raise ModelViolation("%s: %r with no mailbox selected" % (what, resp.raw))
        for u in sorted(uids):
            i = next((k for k, m in enumerate(self.view) if m.uid == u), None)
            if i is None:
                if u in self.told_gone:
                    raise ModelViolation("%s: %r names UID %d, which this session was told gone already"
                                         % (what, resp.raw, u))
                i = self.unknown_slot(u)
                if i is None:
                    raise ModelViolation("%s: %r names UID %d, which is not in the client's view (%d messages, "
                                         "UIDs %s)" % (what, resp.raw, u, len(self.view),
                                                       seqset(m.uid for m in self.view if m.uid) or "unknown"))
                self.place_uid(i + 1, self.view[i], u, what)
            self.remove_msg(i, ctx)
        self.ms.count("UIDs in VANISHED")

    def unknown_slot(self, u):
        """The index of a message whose UID the client does not know and
        that UID u fits (between its known neighbours), or None."""
        lo = 0
        for k, m in enumerate(self.view):
            if m.uid is not None:
                lo = m.uid
                continue
            hi = next((x.uid for x in self.view[k + 1:] if x.uid is not None), None)
            if lo < u and (hi is None or u < hi) and not (m.new and u < m.floor):
                return k
        return None

    def on_vanished_earlier(self, uids, ctx, resp):
        q = ctx.q
        what = "%s (%s)" % (ctx.name, self.name)
        if q is None or q.kind not in ("select", "changedsince"):
            raise ModelViolation("%s: %r: VANISHED (EARLIER) comes only in reply to SELECT/EXAMINE (QRESYNC ...) "
                                 "and UID FETCH (... VANISHED) (RFC 7162 3.2.10)" % (what, resp.raw))
        if q.bogus:
            raise ModelViolation("%s: %r to a SELECT (QRESYNC) with another UIDVALIDITY: the server must ignore the "
                                 "parameters (RFC 7162 3.2.5)" % (what, resp.raw))
        if q.kind == "select" and q.saw_fetch:
            raise ModelViolation("%s: %r after a FETCH: VANISHED (EARLIER) comes before any FETCH (RFC 7162 "
                                 "3.2.5.1)" % (what, resp.raw))
        held = sorted(set(uids) & set(m.uid for m in self.view if m.uid is not None))
        if held:
            raise ModelViolation("%s: %r names UIDs %s, which the client still has in its view: EARLIER does not "
                                 "change the number of messages, so it can only name messages without a number "
                                 "(RFC 7162 3.2.10)" % (what, resp.raw, seqset(held)))
        if q.within is not None:
            out = [u for u in uids if not q.within[0] <= u <= q.within[1]]
            if out:
                raise ModelViolation("%s: %r names UIDs %s, outside the UID set %d:%d (RFC 7162 3.2.6)"
                                     % (what, resp.raw, seqset(out), q.within[0], q.within[1]))
        q.earlier.update(uids)
        w = self.world
        with w.lock:
            for u in uids:
                inst = w.instance(self.folder, u)
                if inst is not None and inst.told_gone is None:
                    inst.told_gone = now()

    def on_fetch(self, resp, ctx):
        items = fetch_items(resp)
        q = ctx.q
        what = "%s (%s)" % (ctx.name, self.name)
        if self.qresync and "FLAGS" in items and ("UID" not in items or "MODSEQ" not in items):
            raise ModelViolation("%s: a FETCH with FLAGS but without UID or MODSEQ to a QRESYNC client "
                                 "(RFC 7162 3.2.4): %r" % (what, resp.raw))
        if q is not None and q.kind == "select":
            if q.bogus:
                raise ModelViolation("%s: %r to a SELECT (QRESYNC) with another UIDVALIDITY: the server must "
                                     "ignore the parameters (RFC 7162 3.2.5)" % (what, resp.raw))
            if not all(k in items for k in ("UID", "FLAGS", "MODSEQ")):
                raise ModelViolation("%s: a FETCH of a resynchronisation without UID, FLAGS and MODSEQ (RFC 7162 "
                                     "3.2.5.1): %r" % (what, resp.raw))
            q.saw_fetch = True
        ms = None
        if "MODSEQ" in items:
            v = items["MODSEQ"]
            if not isinstance(v, list) or len(v) != 1 or not str(v[0]).isdigit():
                raise ProtocolError("MODSEQ %r in %r" % (v, resp.raw))
            ms = int(v[0])
        m_before = self.view[resp.num - 1] if self.folder is not None and 1 <= resp.num <= len(self.view) else None
        last = m_before.told if m_before is not None else None
        super().on_fetch(resp, ctx)
        m = self.view[resp.num - 1]
        if ms is None:
            return
        t = now()
        self.ms.note(self.folder, ms, t)
        if m.inst is not None:
            self.ms.note_msg(self.index, m.inst, ms, ctx.t_send, what)
        m.modseq_t = t
        if m.first is None:
            m.first = (ms, t)
        if "FLAGS" in items:
            if last is not None and last[0] != m.flags and ms <= last[1]:
                raise ModelViolation("%s: UID %s had flags (%s) at MODSEQ %d, now (%s) at MODSEQ %d: every change "
                                     "raises the MODSEQ (RFC 7162 3.1)" % (what, m.uid, _fl(last[0]), last[1],
                                                                          _fl(m.flags), ms))
            m.told = (m.flags, ms)
        if q is None or m.uid is None:
            return
        if q.kind in ("select", "changedsince"):
            if ms <= q.n:
                raise ModelViolation("%s: told about UID %d, whose MODSEQ %d is not above %d: unchanged since "
                                     "(RFC 7162 %s)" % (what, m.uid, ms, q.n,
                                                        "3.2.5.1" if q.kind == "select" else "3.1.4.1"))
            old = q.copy.msgs.get(m.uid)
            if (old is not None and old[2] and m.inst is not None
                    and self.ms.quiet_since(m.inst, q.copy.t_select)):
                raise ModelViolation("%s: told about UID %d (MODSEQ %d), but it was there at the SELECT that "
                                     "told HIGHESTMODSEQ %d, and nobody ran a command that may change its flags "
                                     "since that SELECT was sent %s" % (what, m.uid, ms, q.n,
                                                                        self.world.describe(m.inst, "\\Seen")))
        if "FLAGS" in items:
            q.reported[m.uid] = (m.flags, ms)

    # ---- reading and STATUS

    def fetch(self, targets, items, uid_form, sets_seen=False):
        # Every FETCH of flags asks for UID and MODSEQ too (see the top).
        if self.qresync and re.search(r"\bFLAGS\b", items) and "MODSEQ" not in items:
            items += " MODSEQ"
        return super().fetch(targets, items, uid_form, sets_seen)

    def after_status(self, folder, values, r):
        if "HIGHESTMODSEQ" not in values or folder == self.folder:
            return   # the selected folder's STATUS may be the session's view (RFC 9051 6.3.11)
        told = self.ms.before(folder, r.t_send)
        if told is not None and values["HIGHESTMODSEQ"] < told[1]:
            raise ModelViolation("STATUS %s by %s: HIGHESTMODSEQ %d, but MODSEQ %d was told at %.3f, before it "
                                 "was sent (RFC 7162 3.1.2.1)"
                                 % (folder, self.name, values["HIGHESTMODSEQ"], told[1], told[0] - START))
        self.ms.note(folder, values["HIGHESTMODSEQ"], r.t_recv)

    # ---- STORE (UNCHANGEDSINCE n)

    def cstore(self, targets, silent, uid_form, older=False):
        """Toggle this client's own keyword on public targets with
        UNCHANGEDSINCE the first target's MODSEQ (the one told first in
        this selection when older)."""
        w = self.world
        kw = own_keyword(self.index)
        first = targets[0]
        n, t_n = first.first if older and first.first is not None else (first.modseq, first.modseq_t)
        op = "-" if kw in first.flags else "+"
        want = op == "+"
        before = {id(m): (m.modseq, kw in m.flags) for m in targets}
        what = "STORE (UNCHANGEDSINCE %d) %sFLAGS (%s) by %s" % (n, op, kw, self.name)
        r = self.store(targets, op, [kw], silent, uid_form, unchangedsince=n)
        ctx = r.ctx
        self.ms.count("STORE (UNCHANGEDSINCE)")
        self.ms.count("STORE (UNCHANGEDSINCE): messages [MODIFIED] named", len(ctx.modified))
        viewed = set(id(m) for m in self.view)
        for m in targets:
            if id(m) not in viewed:
                continue
            got = ctx.answers.get(id(m), {})
            ms_before = before[id(m)][0]
            # Due: a MODSEQ above n told before, or another client's change
            # after MODSEQ n was told (so its MODSEQ is above n).
            due, why = None, None
            if ms_before is not None and ms_before > n:
                due = "this client was told its MODSEQ %d before, above %d" % (ms_before, n)
                why = "STORE (UNCHANGEDSINCE): [MODIFIED] due to a MODSEQ above n told before"
            elif ms_before == n and t_n is not None:
                other = self.ms.changed_by_other(m.inst, self.index, t_n, r.t_send)
                if other is not None:
                    f, rec = other
                    due = ("client %d changed its %s after this client was told MODSEQ %d (at %.3f; that STORE "
                           "sent at %.3f, answered at %.3f, before this one was sent) %s"
                           % (rec.who, f, n, t_n - START, rec.t_send - START, rec.t_recv - START,
                              w.describe(m.inst, f)))
                    why = "STORE (UNCHANGEDSINCE): [MODIFIED] due to another client's change since n"
            if why is not None and id(m) in ctx.modified:
                self.ms.count(why)
            if id(m) in ctx.modified:
                if "FLAGS" in got and (kw in m.flags) != before[id(m)][1]:
                    raise ModelViolation("%s: [MODIFIED] names UID %d, yet the STORE's FETCH shows %s %s"
                                         % (what, m.uid, kw, "set" if kw in m.flags else "cleared"))
                continue
            # Not named: the client takes its change as made, whatever
            # else the reply says (EXPUNGEISSUED for another message).
            if "FLAGS" in got and (kw in m.flags) != want:
                raise ModelViolation("%s: UID %d is not in [MODIFIED] (%s), yet its FETCH shows %s %s: a message "
                                     "the STORE left unchanged must be named (RFC 7162 3.1.3)"
                                     % (what, m.uid, r.tagged.raw.decode("utf-8", "replace").strip(), kw,
                                        "set" if kw in m.flags else "cleared"))
            if due is not None and "FLAGS" not in got and r.code in ("EXPUNGEISSUED", "MODIFIED"):
                continue    # gone meanwhile, it seems (imap_model checks its EXPUNGE comes)
            if due is not None:
                raise ModelViolation("%s: UID %d is not in [MODIFIED] (%s), though %s: [MODIFIED] had to name it "
                                     "and the flags stay (RFC 7162 3.1.3)"
                                     % (what, m.uid, r.tagged.raw.decode("utf-8", "replace").strip(), due))
        mod = [m for m in targets if id(m) in ctx.modified and id(m) in set(id(x) for x in self.view)]
        if mod:
            self.command_fetch("UID FETCH %s (FLAGS MODSEQ)" % seqset(m.uid for m in mod))
            for m in mod:
                if m not in self.view or m.modseq is None:
                    continue
                if m.modseq <= n:
                    raise ModelViolation("%s: [MODIFIED] names UID %d, whose MODSEQ is still %d, not above %d "
                                         "(RFC 7162 3.1.3)" % (what, m.uid, m.modseq, n))
                if (kw in m.flags) != before[id(m)][1]:
                    raise ModelViolation("%s: [MODIFIED] names UID %d, yet %s is now %s: the STORE changed it"
                                         % (what, m.uid, kw, "set" if kw in m.flags else "cleared"))
        return r


def _fl(flags):
    return " ".join(sorted(flags))


def resync_choice(rng):
    """How a QRESYNC client comes back to a folder (None: a plain SELECT)."""
    if rng.random() < 0.15:
        return None
    return {"known": rng.choice((None, None, "exact", "range")), "seqmatch": rng.random() < 0.3,
            "bogus": rng.random() < 0.05}

