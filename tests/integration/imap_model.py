"""imap_model: a state-tracking IMAP checker for the integration tests.

A ModelClient is a raw IMAP client (a socket and its own response parser,
literals included) that keeps a model of its selected mailbox and checks
every response the server sends against the model and the RFCs.  Many
ModelClients share one World, which knows what all of them did and when
(time.monotonic() at the sending of each command and at its tagged
reply), and at the end accounts for every message.

What one client checks as the responses arrive:
- EXPUNGE never during FETCH, STORE or SEARCH (RFC 9051 7.5.1; the UID
  forms may), never between commands; its number names a message the
  client knows; EXISTS never lowers the count (only told EXPUNGEs do).
- UIDs ascend with sequence numbers, never change for a message, a UID
  told expunged never comes back; messages new since SELECT have UIDs at
  or above the UIDNEXT of the SELECT and above every UID the client knew;
  UIDVALIDITY is the same at every SELECT and in APPENDUID and COPYUID;
  UIDNEXT never goes back.
- The data of a message never changes: per test message (X-Test-Id, which
  copies share) its BODY[] (and every partial and HEADER/TEXT of it),
  RFC822.SIZE (= the length of BODY[]), INTERNALDATE, ENVELOPE and
  BODYSTRUCTURE; per (folder, UID) its X-Test-Id.  An APPENDed message
  comes back byte for byte, with the INTERNALDATE given.
- Flags change only as someone made them change.  Who may change which
  flag is fixed, so that the model can know it: every client has its own
  keyword ($K<i>) on the public messages (those delivered over SMTP and
  their copies), \\Flagged, \\Answered, \\Draft and \\Deleted each have one
  owner among the clients, and \\Seen is set by anyone, never cleared.  A
  message a client APPENDs is its own (private): only it changes that
  message's flags (with FLAGS replace too), and copies of it stay its own.
  A flag's owner knows its value at every moment: every FETCH of its
  flags must show it (its own STORE's reply included).  Any client checks
  at NOOP and at the start of IDLE (a sync, RFC 9051 6.1.2, 7.5.2) that
  the flags it was told equal what was stable in the mailbox during the
  command, for every message whose flags it was ever told.  \\Seen, once
  told, never goes away for a public message.
- \\Recent never changes within a session, and an IMAP4rev2 session
  never sees it (RFC 9051 Appendix E); the RECENT count of an IMAP4rev1
  SELECT is the number of \\Recent messages.
- A tagged reply is OK, or NO [EXPUNGEISSUED] where another client could
  have expunged a message meanwhile (then every message the reply left out
  must be told expunged at the next sync); an OK FETCH answered every
  message with every item asked; an OK STORE gave each message its FETCH
  (unless .SILENT) with the flags asked; SEARCH ALL names every message,
  SEARCH KEYWORD of a client's own keyword exactly those it set it on.
- After an EXPUNGE, no message stays whose \\Deleted was stably set
  during the command (RFC 9051 6.4.3).
- APPENDUID and COPYUID: UIDs never given before, at or above the UIDNEXT
  known when the command was sent; COPYUID names the source UIDs asked
  (RFC 4315); MOVE tells their EXPUNGEs.
- CONDSTORE and QRESYNC (MODSEQ, HIGHESTMODSEQ, VANISHED, STORE
  (UNCHANGEDSINCE), resynchronisation): imap_model_qresync.py, whose
  QresyncClient is a ModelClient with hooks here (on_vanished,
  after_select, after_status, a conditional store()).

At the end (finish(), after every client's NOOP and a FETCH of all
flags, which must equal what each was told): every client viewing one
folder has the same messages and flags, equal to a fresh session's and to
the files on disk (dovecot-uidlist, dovecot-keywords, the Maildir info
letters); each UID was \\Recent in at most one session (exactly one where
every session that had it knew); every message delivered, APPENDed or
copied is there, unless it was moved (COPYUID of a MOVE) or an EXPUNGE
(or CLOSE) ran while its \\Deleted could have been set; no message is
there that nobody made (a COPY or MOVE that failed may have shown its
copies for a moment, while a source vanished under it, but none stays).

The checker is no reference implementation: where the RFC allows several
answers it accepts each, and it asserts only what it can know despite
the races it cannot see."""

import collections
import hashlib
import re
import select
import socket
import threading
import time

SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = SYSTEM_FLAGS
PRIVATE_KEYWORD = "$Private"
# The owner (client index modulo the number of clients) of a system flag
# on a public message.
SYSTEM_OWNERS = {FLAGGED: 0, ANSWERED: 1, DRAFT: 2, DELETED: 3}


def own_keyword(i):
    return "$K%d" % i


def now():
    return time.monotonic()


class ModelViolation(AssertionError):
    """The server said something the model and the RFCs do not allow."""


class ProtocolError(ModelViolation):
    """A response that does not parse."""


# ---------------------------------------------------------------- parsing

class Atom(str):
    """An IMAP atom (a flag, a keyword, NIL is None, a number is an Atom)."""


class _Tokens:
    """Values of one response (bytes with its literals inline)."""

    def __init__(self, data, pos=0):
        self.d = data
        self.i = pos

    def peek(self):
        return self.d[self.i:self.i + 1]

    def at_end(self):
        return self.d[self.i:] in (b"", b"\r\n")

    def space(self):
        if self.peek() != b" ":
            raise ProtocolError("expected a space at %d in %r" % (self.i, self.d[:300]))
        self.i += 1

    def skip_spaces(self):
        while self.peek() == b" ":
            self.i += 1

    def value(self):
        c = self.peek()
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self.skip_spaces()
                if self.peek() == b")":
                    self.i += 1
                    return out
                if self.peek() in (b"", b"\r"):
                    raise ProtocolError("unclosed list in %r" % self.d[:300])
                out.append(self.value())
        if c == b'"':
            self.i += 1
            out = bytearray()
            while True:
                ch = self.d[self.i:self.i + 1]
                if ch == b"":
                    raise ProtocolError("unclosed string in %r" % self.d[:300])
                self.i += 1
                if ch == b"\\":
                    out += self.d[self.i:self.i + 1]
                    self.i += 1
                elif ch == b'"':
                    return bytes(out)
                else:
                    out += ch
        if c in (b"{", b"~"):
            m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(self.d, self.i)
            if not m:
                raise ProtocolError("bad literal at %d in %r" % (self.i, self.d[:300]))
            n = int(m.group(1))
            self.i = m.end()
            lit = self.d[self.i:self.i + n]
            if len(lit) != n:
                raise ProtocolError("short literal in %r" % self.d[:300])
            self.i += n
            return lit
        return self.atom()

    def atom(self):
        start = self.i
        depth = 0
        while self.i < len(self.d):
            ch = self.d[self.i:self.i + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")", b"\r"):
                break
            self.i += 1
        if self.i < len(self.d) and self.d[self.i:self.i + 1] == b"<" and self.d[self.i - 1:self.i] == b"]":
            end = self.d.index(b">", self.i)
            self.i = end + 1
        raw = self.d[start:self.i]
        if not raw:
            raise ProtocolError("empty atom at %d in %r" % (start, self.d[:300]))
        text = raw.decode("utf-8", "replace")
        return None if text.upper() == "NIL" else Atom(text)

    def rest(self):
        out = []
        while not self.at_end():
            self.skip_spaces()
            if self.at_end():
                break
            out.append(self.value())
        return out


class Response:
    """One server response: tag ('*', '+' or the command's), and
    status/code/text, or num/name/items, or name/items."""

    def __init__(self, raw):
        self.raw = raw
        self.status = self.code = self.text = None
        self.num = self.name = None
        self.items = None
        line_end = raw.find(b" ")
        if raw.startswith(b"+"):
            self.tag = "+"
            self.text = raw[2:].rstrip(b"\r\n").decode("utf-8", "replace")
            return
        if line_end < 0:
            raise ProtocolError("response without a space: %r" % raw[:300])
        self.tag = raw[:line_end].decode("ascii", "replace")
        t = _Tokens(raw, line_end + 1)
        first = t.atom()
        if first is None:
            raise ProtocolError("NIL at the start of %r" % raw[:300])
        up = first.upper()
        if up in ("OK", "NO", "BAD", "BYE", "PREAUTH"):
            self.status = up
            rest = raw[t.i:].lstrip(b" ").rstrip(b"\r\n").decode("utf-8", "replace")
            if rest.startswith("["):
                end = rest.find("]")
                if end < 0:
                    raise ProtocolError("unclosed response code in %r" % raw[:300])
                self.code = rest[1:end]
                rest = rest[end + 1:].lstrip(" ")
            self.text = rest
            return
        if self.tag != "*":
            raise ProtocolError("tagged response without a status: %r" % raw[:300])
        if first.isdigit():
            self.num = int(first)
            t.space()
            self.name = t.atom().upper()
            if self.name == "FETCH":
                t.space()
                self.items = t.value()
                if not isinstance(self.items, list) or len(self.items) % 2:
                    raise ProtocolError("bad FETCH response %r" % raw[:300])
            else:
                self.items = t.rest()
            return
        self.name = up
        self.items = t.rest()

    def code_name(self):
        return self.code.split(" ", 1)[0].upper() if self.code else None

    def __repr__(self):
        return "Response(%r)" % self.raw[:200]


def fetch_items(resp):
    """{NAME: value} of a FETCH response (names upper-cased, a BODY[...]
    section as sent but for the case of its keyword part)."""
    out = {}
    it = resp.items
    for k in range(0, len(it), 2):
        name = it[k]
        if not isinstance(name, str):
            raise ProtocolError("FETCH item name %r in %r" % (name, resp.raw[:300]))
        key = name.upper()
        if key in out:
            raise ProtocolError("FETCH item %s twice in %r" % (key, resp.raw[:300]))
        out[key] = it[k + 1]
    return out


def parse_seqset(text):
    """[numbers] of a sequence set without '*' ("1:3,7")."""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            lo, hi = min(a, b), max(a, b)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def seqset(nums):
    """A compact sequence set of sorted distinct numbers."""
    nums = sorted(set(nums))
    parts = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else "%d:%d" % (nums[i], nums[j]))
        i = j + 1
    return ",".join(parts)


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def internaldate_epoch(text):
    """Seconds since the epoch of an IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz"."""
    import calendar
    m = re.match(r"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$", text)
    if not m:
        raise ProtocolError("bad INTERNALDATE %r" % text)
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    base = calendar.timegm((int(y), MONTHS.index(mon.capitalize()) + 1, int(d), int(hh), int(mm), int(ss)))
    zone = (int(zh) * 60 + int(zm)) * 60
    return base - zone if sign == "+" else base + zone


def header_field(data, name):
    m = re.search(rb"(?im)^" + re.escape(name.encode()) + rb":[ \t]*(\S+)", data)
    return m.group(1).decode() if m else None


# ---------------------------------------------------------------- the world

class FlagRec:
    """One command that may change one flag of one message: when it was
    sent and answered, and the value it left (None: unknown)."""
    __slots__ = ("t_send", "t_recv", "value", "who")

    def __init__(self, t_send, who=None):
        self.t_send = t_send
        self.t_recv = None
        self.value = None
        self.who = who                   # the client index that sent it


class Instance:
    """One message in one folder: (folder, UID).  origin: delivered,
    appended, copied (COPY or MOVE), or unknown (a UID seen before its
    X-Test-Id)."""

    def __init__(self, folder, uid, origin, tid=None, owner=None, created=(None, None)):
        self.folder = folder
        self.uid = uid
        self.origin = origin
        self.tid = tid
        self.owner = owner               # a client index: private; None: public
        self.c_send, self.c_recv = created
        self.init = {}                   # flag -> True/False/None at creation
        self.recs = collections.defaultdict(list)   # flag -> [FlagRec]
        self.moved = None                # time of the MOVE that took it away
        self.told_gone = None            # first time a session was told its EXPUNGE
        self.recent_in = set()           # session keys that saw it \Recent
        self.recent_known = {}           # session key -> True/False
        self.pending_static = {}         # data seen of it: key -> value
        self.rev2_views = set()          # IMAP4rev2 SELECT sessions that had it (no \Recent shown)

    def __repr__(self):
        return "%s UID %d (%s %s%s)" % (self.folder, self.uid, self.origin, self.tid,
                                        "" if self.owner is None else ", client %d's" % self.owner)


class World:
    """What every client did, shared (under one lock) by all of them."""

    def __init__(self, nclients, seed, folders=("INBOX",)):
        self.lock = threading.RLock()
        self.n = nclients
        self.seed = seed
        self.folders = {f: {"uidvalidity": None, "uidnext": [], "inst": {}} for f in folders}
        self.tid_static = collections.defaultdict(dict)   # tid -> {key: value}
        self.tid_body = {}                                # tid -> exact bytes (APPEND, or first BODY[])
        self.delivered = {}                               # tid -> (t_start, t_end) of the SMTP send
        self.appended = {}                                # tid -> Instance
        self.pending = collections.Counter()              # (folder, tid) -> APPENDs/COPYs on their way
        self.taken_back = collections.Counter()           # (folder, tid) -> copies of a failed COPY/MOVE
        self.uncertain = []                               # (folder, lo, hi): a UID a session never learned
        self.expungers = []                               # (folder, t_send, t_recv, uids or None)
        self.expungers_by_folder = {}                     # folder -> [(t_send, t_recv, uids)] sorted
        self.longest_expunge = 0.0
        self.failures = []
        self.stop = threading.Event()
        self.commands = 0
        self.counts = collections.Counter()
        self.transcripts = {}
        self.sizes = {}                                   # folder -> messages a client saw last (for the program)

    # ---- failures

    def fail(self, who, text):
        with self.lock:
            self.failures.append("%s: %s" % (who, text))
            self.stop.set()

    # ---- folders

    def folder(self, name):
        with self.lock:
            return self.folders.setdefault(name, {"uidvalidity": None, "uidnext": [], "inst": {}})

    def note_uidvalidity(self, folder, value, who):
        with self.lock:
            f = self.folder(folder)
            if f["uidvalidity"] is None:
                f["uidvalidity"] = value
            elif f["uidvalidity"] != value:
                raise ModelViolation("UIDVALIDITY of %s was %d, %s is told %d" % (folder, f["uidvalidity"], who, value))

    def note_uidnext(self, folder, value, t_send, t_recv, what):
        """UIDNEXT told in a reply to a command sent at t_send: never below
        one told in a reply received before t_send, nor at or below a UID
        given before t_send."""
        with self.lock:
            f = self.folder(folder)
            for (v, ts, tr, w) in f["uidnext"]:
                if tr < t_send and value < v:
                    raise ModelViolation("%s: UIDNEXT %d of %s went back: %s said %d before" % (what, value, folder, w, v))
            for inst in f["inst"].values():
                if inst.origin in ("appended", "copied") and inst.c_recv < t_send and inst.uid >= value:
                    raise ModelViolation("%s: UIDNEXT %d of %s, but UID %d was given before (%r)" % (what, value, folder, inst.uid, inst))
            f["uidnext"].append((value, t_send, t_recv, what))
            if len(f["uidnext"]) > 200:
                # Keep the highest value answered and the recent ones.
                best = max(f["uidnext"], key=lambda x: x[0])
                f["uidnext"] = [best] + f["uidnext"][-100:]

    def uidnext_before(self, folder, t):
        """The highest UIDNEXT told in a reply received before t."""
        with self.lock:
            vals = [v for (v, ts, tr, w) in self.folder(folder)["uidnext"] if tr < t]
            return max(vals) if vals else 1

    # ---- instances

    def instance(self, folder, uid):
        with self.lock:
            return self.folder(folder)["inst"].get(uid)

    def new_instance(self, folder, uid, origin, tid, owner, created, what):
        """A UID given by APPENDUID or COPYUID: never given before.  A
        session may have seen it before our reply came (an Instance of
        unknown origin): that one is made this."""
        with self.lock:
            f = self.folder(folder)
            self.pending[(folder, tid)] -= 1
            inst = f["inst"].get(uid)
            if inst is not None and inst.origin != "unknown":
                raise ModelViolation("%s: UID %d of %s given again (it was %r)" % (what, uid, folder, inst))
            if inst is not None and inst.tid is not None and inst.tid != tid:
                raise ModelViolation("%s: UID %d of %s is %s, but a session saw %s there" % (what, uid, folder, tid, inst.tid))
            if inst is None:
                inst = Instance(folder, uid, origin)
                f["inst"][uid] = inst
            inst.origin, inst.tid, inst.owner = origin, tid, owner
            inst.c_send, inst.c_recv = created
            self._static_flush(inst, what)
            return inst

    def expect_new(self, folder, tids):
        """An APPEND or COPY of messages tids into folder is on its way:
        another session may see them before its reply."""
        with self.lock:
            for tid in tids:
                self.pending[(folder, tid)] += 1

    def expect_done(self, folder, tids):
        with self.lock:
            for tid in tids:
                self.pending[(folder, tid)] -= 1

    def seen_uid(self, folder, uid):
        """The Instance of a UID a session was told; made (origin
        unknown) when none is known yet."""
        with self.lock:
            f = self.folder(folder)
            inst = f["inst"].get(uid)
            if inst is None:
                inst = Instance(folder, uid, "unknown")
                f["inst"][uid] = inst
            return inst

    def sessions_may_have(self, folder, uid):
        """Whether a session had uid in its view without learning it: an
        EXPUNGE (at time t) of a message whose UID it never learned, above
        lo and below hi -- or, at the end of its view, below every UID
        of a message made after t (UIDs ascend as they are given)."""
        import bisect
        with self.lock:
            if getattr(self, "_uncertain_done", None) is None:
                # Once, at the end: per folder, the instances by creation
                # time, and the smallest UID made at or after each.
                done = []
                by_folder = {}
                for f in {u[0] for u in self.uncertain}:
                    made = sorted((i.c_send, i.uid) for i in self.folder(f)["inst"].values()
                                  if i.origin != "unknown" and i.c_send is not None)
                    suffix = [1 << 32] * (len(made) + 1)
                    for k in range(len(made) - 1, -1, -1):
                        suffix[k] = min(suffix[k + 1], made[k][1])
                    by_folder[f] = ([m[0] for m in made], suffix)
                for (f, lo, hi, t) in self.uncertain:
                    if hi is None:
                        times, suffix = by_folder[f]
                        hi = suffix[bisect.bisect_right(times, t)]
                    done.append((f, lo, hi))
                self._uncertain_done = done
            return any(f == folder and lo < uid < hi for (f, lo, hi) in self._uncertain_done)

    def learn_tid(self, inst, tid, what):
        """X-Test-Id tid seen for inst: it never changes.  A UID whose
        origin is unknown is the delivery of tid, or an APPEND or COPY
        whose reply has not come yet."""
        with self.lock:
            if inst.tid is not None:
                if inst.tid != tid:
                    raise ModelViolation("%s: %r now has X-Test-Id %s" % (what, inst, tid))
                return
            if inst.origin != "unknown":
                inst.tid = tid
                self._static_flush(inst, what)
                return
            placed = [o for o in self.folder(inst.folder)["inst"].values()
                      if o is not inst and o.tid == tid and o.origin == "delivered"]
            if tid in self.delivered and inst.folder == "INBOX" and not placed:
                inst.tid = tid
                inst.origin = "delivered"
                inst.c_send, inst.c_recv = self.delivered[tid]
                for flag in all_flags(self.n):
                    inst.init[flag] = False
                self._static_flush(inst, what)
                return
            if self.pending[(inst.folder, tid)] > 0 or self.taken_back[(inst.folder, tid)] > 0:
                # The APPENDUID or COPYUID is on its way, or a COPY that
                # failed made the copy for a moment (it must be gone at
                # the end).
                inst.tid = tid
                return
            raise ModelViolation("%s: %s UID %d has X-Test-Id %s, which nobody delivered, appended or copied there%s"
                                 % (what, inst.folder, inst.uid, tid,
                                    " (the delivery is UID %d)" % placed[0].uid if placed else ""))

    # ---- flags

    def owner(self, inst, flag):
        """The client that alone changes flag on inst (None: anyone may set
        it, nobody clears it: \\Seen of a public message; or nobody)."""
        if inst.owner is not None:
            return inst.owner
        if flag == SEEN:
            return None
        if flag in SYSTEM_OWNERS:
            return SYSTEM_OWNERS[flag] % self.n
        m = re.match(r"^\$K(\d+)$", flag)
        if m and int(m.group(1)) < self.n:
            return int(m.group(1))
        return -1   # nobody: $Private on a public message

    def may_store(self, inst, client, flag):
        o = self.owner(inst, flag)
        return o == client or (o is None and flag == SEEN)

    def begin_flags(self, inst, flags, t_send, who=None):
        with self.lock:
            out = {}
            for f in flags:
                r = FlagRec(t_send, who)
                inst.recs[f].append(r)
                out[f] = r
            return out

    def stable(self, inst, flag, a, b):
        """The value flag had on inst throughout [a, b], as far as the
        model knows: True, False or None (changing, or unknown)."""
        with self.lock:
            recs = inst.recs.get(flag, [])
            init = inst.init.get(flag)
            if inst.owner is None and flag == SEEN:
                if init is True:
                    return True
                if any(r.value is True and r.t_recv is not None and r.t_recv < a for r in recs):
                    return True
                if init is False and not any(r.t_send <= b for r in recs):
                    return False
                return None
            for r in recs:
                if r.t_send <= b and (r.t_recv is None or r.t_recv >= a):
                    return None
            done = [r for r in recs if r.t_recv is not None and r.t_recv < a]
            if done:
                return max(done, key=lambda r: r.t_recv).value
            return init

    def describe(self, inst, flag):
        """The model's knowledge of flag on inst, for a failure message."""
        with self.lock:
            recs = ", ".join("%.3f..%s=%s" % (r.t_send - START, "%.3f" % (r.t_recv - START) if r.t_recv else "?", r.value)
                             for r in inst.recs.get(flag, []))
            src = inst.__dict__.get("source")
            return ("[model: %r created %s..%s, %s initially %s%s; changes: %s]"
                    % (inst, "%.3f" % (inst.c_send - START) if inst.c_send else "?",
                       "%.3f" % (inst.c_recv - START) if inst.c_recv else "?", flag, inst.init.get(flag),
                       " (copied from %r)" % src if src else "", recs or "none"))

    # ---- static data

    def check_static(self, inst, key, value, what):
        """Data of a message that never changes: per test message (copies
        share it), kept on the instance until its X-Test-Id is known."""
        with self.lock:
            d = inst.pending_static
            if key in d and d[key] != value:
                raise ModelViolation("%s: %s of %r changed: %r, then %r" % (what, key, inst, _short(d[key]), _short(value)))
            d[key] = value
            self._static_flush(inst, what)

    def _static_flush(self, inst, what):
        if inst.tid is None:
            return
        d = self.tid_static[inst.tid]
        for k, v in inst.pending_static.items():
            self._static_one(d, inst, k, v, what)

    def _static_one(self, d, inst, key, value, what):
        if key in d and d[key] != value:
            raise ModelViolation("%s: %s of %r changed: %r, then %r (copies share it)"
                                 % (what, key, inst, _short(d[key]), _short(value)))
        d.setdefault(key, value)

    def check_body(self, inst, body, start, partial, what):
        """BODY[] (or BODY[]<start> when partial) of inst is the message's."""
        with self.lock:
            full = self.tid_body.get(inst.tid) if inst.tid is not None else None
            if full is not None:
                if full[start:start + len(body)] != body or (not partial and len(full) != len(body)):
                    raise ModelViolation("%s: BODY[]%s of %r (%d octets) is not the message's (%d octets): %r"
                                         % (what, "<%d>" % start if partial else "", inst, len(body), len(full),
                                            _short(body)))
            elif not partial and inst.tid is not None:
                self.tid_body[inst.tid] = body

    # ---- expunges

    def note_expunger(self, folder, t_send, t_recv, uids):
        import bisect
        with self.lock:
            self.expungers.append((folder, t_send, t_recv, uids))
            bisect.insort(self.expungers_by_folder.setdefault(folder, []), (t_send, t_recv, uids),
                          key=lambda e: e[0])
            self.longest_expunge = max(self.longest_expunge, t_recv - t_send)

    def _expungers_of(self, inst, until=None):
        """The EXPUNGE/CLOSE commands in inst's folder that ended after it
        was created (and began before until), in the order sent."""
        import bisect
        ex = self.expungers_by_folder.get(inst.folder, [])
        start = 0
        if inst.c_send is not None:
            # Sorted by t_send; one that ended before c_send began before it.
            start = bisect.bisect_left(ex, inst.c_send - self.longest_expunge, key=lambda e: e[0])
        for e in ex[start:]:
            ts, tr, uids = e
            if until is not None and ts > until:
                break
            if inst.c_send is not None and tr < inst.c_send:
                continue
            if uids is not None and inst.uid not in uids:
                continue
            yield ts, tr

    def _may_be_deleted(self, inst):
        return inst.init.get(DELETED) is not False or any(r.value is not False for r in inst.recs.get(DELETED, []))

    def could_expunge(self, inst):
        """Whether some EXPUNGE/CLOSE could have removed inst: it ran while
        inst existed and its \\Deleted was not known to be clear."""
        with self.lock:
            if not self._may_be_deleted(inst):
                return False
            for ts, tr in self._expungers_of(inst, inst.told_gone):
                if self.stable(inst, DELETED, ts, tr) is not False:
                    return True
            return False

    def must_expunge(self, inst):
        """An EXPUNGE/CLOSE that ran while inst surely had \\Deleted."""
        with self.lock:
            if not self._may_be_deleted(inst):
                return None
            for ts, tr in self._expungers_of(inst):
                if inst.c_recv is not None and inst.c_recv < ts and self.stable(inst, DELETED, ts, tr) is True:
                    return (ts, tr)
            return None


def _short(v, n=160):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "..."


# ---------------------------------------------------------------- one client

class Msg:
    """One message of a client's view (sequence number = index + 1)."""
    __slots__ = ("uid", "flags", "recent", "modseq", "new", "floor", "inst", "told", "modseq_t", "first")

    def __init__(self, new=False, floor=0):
        self.uid = None
        self.flags = None        # frozenset as last told (without \Recent), None: never told
        self.recent = None
        self.modseq = None
        self.new = new           # arrived by EXISTS after SELECT
        self.floor = floor       # its UID must be at or above this
        self.inst = None
        self.told = None         # (flags, MODSEQ) of the last FETCH that told both
        self.modseq_t = None     # when MODSEQ was last told
        self.first = None        # (MODSEQ, time) first told in this selection


class Reply:
    def __init__(self, tagged, untagged, t_send, t_recv, ctx):
        self.tagged = tagged
        self.untagged = untagged
        self.t_send = t_send
        self.t_recv = t_recv
        self.ctx = ctx

    @property
    def ok(self):
        return self.tagged.status == "OK"

    @property
    def code(self):
        return self.tagged.code_name()


class Ctx:
    """What one command expects and collects."""

    def __init__(self, name, uid=False):
        self.name = name
        self.uid = uid
        # RFC 9051 7.5.1 (and RFC 5256 for SORT/THREAD).
        self.no_expunge = name in ("FETCH", "STORE", "SEARCH", "SORT", "THREAD") and not uid
        self.t_send = None
        self.answers = {}          # id(Msg) -> {item: value} of its FETCH responses
        self.search = None         # numbers of * SEARCH
        self.esearch = None        # {key: value} of * ESEARCH
        self.search_view = None    # the view when the search result came
        self.copyuid = None
        self.store_expect = {}     # uid -> {flag: value} (this client's STORE)
        self.seen_expect = set()   # uids whose \Seen this command sets
        self.expunged = []         # Msgs told expunged during it
        self.recent_count = None
        self.data = []             # other untagged data
        self.exists = False        # an EXISTS came
        self.q = None              # what a resynchronisation expects (imap_model_qresync)
        self.conditional = None    # STORE (UNCHANGEDSINCE n): n
        self.modified = set()      # id(Msg) named by its [MODIFIED]


class _Stopped(Exception):
    """The world stopped: the client's loop ends."""


START = now()


class ModelClient:
    """One IMAP connection with its model.  Not thread-safe: one thread
    per client; the World is shared."""

    def __init__(self, world, index, host, port, user, password, timeout=60, rev2=False, condstore=False):
        self.world = world
        self.index = index
        self.name = "client %d" % index
        self.host, self.port, self.user, self.password = host, port, user, password
        self.timeout = timeout
        self.rev2 = rev2
        self.condstore = condstore
        self.sock = None
        self.buf = b""
        self.tagn = 0
        self.session_no = 0
        self.select_no = 0
        self.transcript = collections.deque(maxlen=3000)
        world.transcripts[index] = self.transcript
        self.reset_view(None)

    def reset_view(self, folder, readonly=False):
        self.note_unlearned()
        self.folder = folder
        self.readonly = readonly
        self.view = []
        self.told_gone = set()    # UIDs told expunged in this selected session
        self.max_uid_known = 0
        self.select_uidnext = None
        self.must_vanish = set()  # UIDs an EXPUNGEISSUED reply left out: their EXPUNGE is due

    def note_unlearned(self):
        """Leaving a view with messages whose UID this client never
        learned (told only by EXISTS, e.g. just before a LOGOUT): the
        session may have had their \\Recent, as with an EXPUNGE of one."""
        view = getattr(self, "view", None)
        if not view or self.folder is None or self.readonly:
            return
        for k, m in enumerate(view):
            if m.uid is not None:
                continue
            lo = next((x.uid for x in reversed(view[:k]) if x.uid is not None), 0)
            hi = next((x.uid for x in view[k + 1:] if x.uid is not None), None)
            with self.world.lock:
                self.world.uncertain.append((self.folder, lo, hi, now()))

    # ---- transport

    def log(self, direction, data):
        text = data[:240].decode("utf-8", "replace").rstrip("\r\n")
        if len(data) > 240:
            text += "...(%d octets)" % len(data)
        self.transcript.append("%8.3f %s %s" % (now() - START, direction, text))

    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.buf = b""
        self.session_no += 1
        self.reset_view(None)
        greeting = self.read()
        if greeting.status != "OK":
            raise ModelViolation("greeting %r" % greeting.raw)
        self.expect_ok(self.command("LOGIN %s %s" % (self.user, self.password), "LOGIN"))
        if self.rev2:
            self.expect_ok(self.command("ENABLE IMAP4rev2", "ENABLE"))
        if self.condstore:
            self.expect_ok(self.command("ENABLE CONDSTORE", "ENABLE"))

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ModelViolation("the server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        """One whole response, its literals included."""
        parts = []
        line = self._line()
        while True:
            parts.append(line)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                break
            parts.append(self._exact(int(m.group(1))))
            line = self._line()
        raw = b"".join(parts)
        self.log("S:", raw)
        return Response(raw)

    def pending(self):
        """Whether the server sent something not read yet."""
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def send(self, data):
        self.log("C:", data)
        self.sock.sendall(data)

    # ---- commands

    def expect_ok(self, r, allow=()):
        """The tagged reply is OK (True), or NO with a code in allow (False)."""
        t = r.tagged
        if t.status == "OK":
            return True
        if t.status == "NO" and t.code_name() in allow:
            return False
        raise ModelViolation("%s: %s" % (r.ctx.name, t.raw.decode("utf-8", "replace").strip()))

    def between_commands(self):
        """What came while no command was in progress: no EXPUNGE there
        (RFC 9051 7.5.1)."""
        while self.sock is not None and self.pending():
            resp = self.read()
            if resp.tag != "*":
                raise ModelViolation("a tagged or continuation response between commands: %r" % resp.raw)
            self.untagged(resp, Ctx("(between commands)"), between=True)

    def _count(self, name):
        with self.world.lock:
            self.world.commands += 1
            self.world.counts[name] += 1

    def command(self, text, name, uid=False, literal=None, ctx=None):
        """Send one command (a literal (head, data, synchronizing) after
        text); read up to its tagged reply, checking every untagged
        response on the way."""
        if self.world.stop.is_set() and not getattr(self, "finishing", False) and name != "LOGOUT":
            raise _Stopped()
        self.between_commands()
        ctx = ctx or Ctx(name, uid)
        self.tagn += 1
        tag = "c%d.%d" % (self.index, self.tagn)
        untagged = []
        ctx.t_send = t_send = now()
        if literal is None:
            self.send(("%s %s\r\n" % (tag, text)).encode())
        else:
            head, data, sync = literal
            self.send(("%s %s" % (tag, text)).encode() + head)
            if sync:
                while True:
                    resp = self.read()
                    if resp.tag == "+":
                        break
                    if resp.tag == tag:
                        raise ModelViolation("%s refused before its literal: %r" % (name, resp.raw))
                    self.untagged(resp, ctx)
                    untagged.append(resp)
            self.send(data + b"\r\n")
        while True:
            resp = self.read()
            if resp.tag == tag:
                break
            if resp.tag != "*":
                raise ModelViolation("%s: unexpected response %r" % (name, resp.raw))
            self.untagged(resp, ctx)
            untagged.append(resp)
        self._count(name)
        text_r = resp.raw.decode("utf-8", "replace").strip()
        if resp.status == "BAD" or (resp.status == "NO" and resp.code_name() in ("SERVERBUG", "UNAVAILABLE", "LIMIT")):
            raise ModelViolation("%s: %s" % (name, text_r))
        return Reply(resp, untagged, t_send, now(), ctx)

    # ---- untagged responses

    def untagged(self, resp, ctx, between=False):
        name = resp.name
        if resp.status is not None:
            if resp.status == "BYE" and ctx.name != "LOGOUT":
                raise ModelViolation("BYE during %s: %r" % (ctx.name, resp.raw))
            if resp.status in ("NO", "BAD"):
                raise ModelViolation("untagged %s during %s: %r" % (resp.status, ctx.name, resp.raw))
            if resp.code_name() == "COPYUID":
                ctx.copyuid = resp.code.split()[1:]
            ctx.data.append(resp)
            return
        if name == "EXISTS":
            self.on_exists(resp.num, ctx)
        elif name == "EXPUNGE":
            self.on_expunge(resp.num, ctx, between)
        elif name == "RECENT":
            ctx.recent_count = resp.num
        elif name == "FETCH":
            self.on_fetch(resp, ctx)
        elif name == "VANISHED":
            self.on_vanished(resp, ctx, between)
        elif name == "SEARCH":
            ctx.search = [int(x) for x in resp.items if isinstance(x, str) and x.isdigit()]
            ctx.search_view = list(self.view)
        elif name == "ESEARCH":
            ctx.esearch = self.parse_esearch(resp)
            ctx.search_view = list(self.view)
        elif name in ("FLAGS", "CAPABILITY", "ENABLED", "LIST", "LSUB", "STATUS", "ID", "NAMESPACE"):
            ctx.data.append(resp)
        else:
            raise ModelViolation("unknown untagged response %r" % resp.raw)

    def parse_esearch(self, resp):
        out = {"UID": False}
        items = list(resp.items)
        if items and isinstance(items[0], list):
            items = items[1:]
        i = 0
        while i < len(items):
            k = str(items[i]).upper()
            if k == "UID":
                out["UID"] = True
                i += 1
                continue
            if i + 1 >= len(items):
                raise ModelViolation("ESEARCH item %s without a value: %r" % (k, resp.raw))
            out[k] = items[i + 1]
            i += 2
        return out

    def on_exists(self, n, ctx):
        if self.folder is None:
            raise ModelViolation("EXISTS with no mailbox selected")
        if n < len(self.view):
            raise ModelViolation("%s: %d EXISTS after %d messages (EXISTS never lowers the count; only EXPUNGE does)"
                                 % (ctx.name, n, len(self.view)))
        floor = max(self.max_uid_known + 1, self.select_uidnext or 1)
        for _ in range(n - len(self.view)):
            self.view.append(Msg(new=ctx.name not in ("SELECT", "EXAMINE"), floor=floor))
        ctx.exists = True

    def on_expunge(self, n, ctx, between):
        if between:
            raise ModelViolation("%d EXPUNGE while no command was in progress (RFC 9051 7.5.1)" % n)
        if ctx.no_expunge:
            raise ModelViolation("%d EXPUNGE during %s (RFC 9051 7.5.1: none during FETCH, STORE, SEARCH)" % (n, ctx.name))
        if self.folder is None or not 1 <= n <= len(self.view):
            raise ModelViolation("%s: %d EXPUNGE, but the client knows %d messages" % (ctx.name, n, len(self.view)))
        self.remove_msg(n - 1, ctx)

    def on_vanished(self, resp, ctx, between):
        """VANISHED (RFC 7162 3.2.10): only to a QRESYNC client
        (imap_model_qresync)."""
        raise ModelViolation("VANISHED to a client that did not enable QRESYNC: %r" % resp.raw)

    def remove_msg(self, i, ctx):
        """The message at index i was told expunged (EXPUNGE or VANISHED)."""
        m = self.view.pop(i)
        ctx.expunged.append(m)
        if m.uid is None:
            lo = next((x.uid for x in reversed(self.view[:i]) if x.uid is not None), 0)
            hi = next((x.uid for x in self.view[i:] if x.uid is not None), None)
            with self.world.lock:
                self.world.uncertain.append((self.folder, lo, hi, now()))
            return
        self.told_gone.add(m.uid)
        self.must_vanish.discard(m.uid)
        self.recent_unknown(m)
        with self.world.lock:
            if m.inst.told_gone is None:
                m.inst.told_gone = now()

    def recent_unknown(self, m):
        """m leaves the view of this session, which may have claimed its
        \\Recent (IMAP4rev1, read-write) without the client seeing its
        flags since: the end cannot say it was \\Recent in no session."""
        if m.uid is not None and m.recent is None and not self.rev2 and not self.readonly and self.folder:
            with self.world.lock:
                self.world.uncertain.append((self.folder, m.uid - 1, m.uid + 1, now()))

    def on_fetch(self, resp, ctx):
        n = resp.num
        if self.folder is None or not 1 <= n <= len(self.view):
            raise ModelViolation("%s: FETCH of message %d, but the client knows %d" % (ctx.name, n, len(self.view)))
        items = fetch_items(resp)
        m = self.view[n - 1]
        what = "%s (%s)" % (ctx.name, self.name)
        if "UID" in items:
            self.place_uid(n, m, int(items["UID"]), what)
        elif ctx.uid:
            raise ModelViolation("%s: a FETCH response without UID to a UID command: %r" % (ctx.name, resp.raw))
        if "FLAGS" in items:
            self.on_flags(m, items["FLAGS"], ctx, what)
        if "MODSEQ" in items:
            ms = int(items["MODSEQ"][0])
            if m.modseq is not None and ms < m.modseq:
                raise ModelViolation("%s: MODSEQ of UID %s went from %d to %d" % (what, m.uid, m.modseq, ms))
            m.modseq = ms
        if m.inst is not None:
            self.check_fetch_static(m.inst, items, what)
        ctx.answers.setdefault(id(m), {}).update(items)

    def place_uid(self, n, m, uid, what):
        if m.uid is not None:
            if m.uid != uid:
                raise ModelViolation("%s: message %d was UID %d, now UID %d" % (what, n, m.uid, uid))
            return
        prev = next((x.uid for x in reversed(self.view[:n - 1]) if x.uid is not None), 0)
        nxt = next((x.uid for x in self.view[n:] if x.uid is not None), None)
        if not prev < uid or (nxt is not None and not uid < nxt):
            raise ModelViolation("%s: message %d is UID %d, between UIDs %d and %s: UIDs must ascend"
                                 % (what, n, uid, prev, nxt))
        if uid in self.told_gone:
            raise ModelViolation("%s: message %d is UID %d, which this session was told expunged" % (what, n, uid))
        if m.new and uid < m.floor:
            raise ModelViolation("%s: message %d, new since SELECT, is UID %d, below %d (the UIDNEXT of SELECT "
                                 "or a UID the client knew then)" % (what, n, uid, m.floor))
        m.uid = uid
        m.inst = self.world.seen_uid(self.folder, uid)
        self.max_uid_known = max(self.max_uid_known, uid)
        if self.rev2 and not self.readonly:
            with self.world.lock:
                m.inst.rev2_views.add(self.session_key())   # may have claimed \Recent, cannot show it

    def session_key(self):
        return (self.index, self.session_no, self.select_no)

    def on_flags(self, m, value, ctx, what):
        if not isinstance(value, list):
            raise ModelViolation("%s: FLAGS %r is no list" % (what, value))
        names = [str(x) for x in value]
        recent = any(f.lower() == "\\recent" for f in names)
        flags = frozenset(_canon_flag(f) for f in names if f.lower() != "\\recent")
        if m.recent is not None and m.recent != recent:
            raise ModelViolation("%s: \\Recent of UID %s changed within the session (%s -> %s)" % (what, m.uid, m.recent, recent))
        if self.readonly and recent:
            raise ModelViolation("%s: UID %s \\Recent in an EXAMINE session" % (what, m.uid))
        if self.rev2 and recent:
            raise ModelViolation("%s: UID %s \\Recent to an IMAP4rev2 client (RFC 9051 Appendix E: no \\Recent)"
                                 % (what, m.uid))
        m.recent = recent
        inst = m.inst
        if inst is not None:
            if not self.readonly and not self.rev2:
                with self.world.lock:
                    inst.recent_known[self.session_key()] = recent
                    if recent:
                        inst.recent_in.add(self.session_key())
            self.check_own_flags(m, inst, flags, ctx, what)
        m.flags = flags

    def check_own_flags(self, m, inst, flags, ctx, what):
        w = self.world
        expect = ctx.store_expect.get(inst.uid, {})
        for f in all_flags(w.n):
            has = f in flags
            if f in expect:
                if ctx.conditional is not None:
                    continue    # either, until [MODIFIED] says (imap_model_qresync checks)
                if has != expect[f]:
                    raise ModelViolation("%s: after this client's STORE, UID %d %s %s (%s)"
                                         % (what, inst.uid, "has" if has else "lacks", f, " ".join(sorted(flags))))
                continue
            if f == SEEN and inst.uid in ctx.seen_expect:
                if not has:
                    # Only a message expunged meanwhile keeps no \Seen
                    # (RFC 2180 4.1): its EXPUNGE is due.
                    self.must_vanish.add(inst.uid)
                continue
            if w.owner(inst, f) == self.index:
                v = w.stable(inst, f, ctx.t_send, now())
                if v is not None and has != v:
                    raise ModelViolation("%s: UID %d %s %s, which only this client changes, and it %s it (%s) %s"
                                         % (what, inst.uid, "has" if has else "lacks", f,
                                            "set" if v else "left it clear or cleared", " ".join(sorted(flags)),
                                            w.describe(inst, f)))
            if f == SEEN and inst.owner is None and m.flags is not None and SEEN in m.flags and not has:
                raise ModelViolation("%s: \\Seen of UID %d went away (nobody clears it)" % (what, inst.uid))

    def check_fetch_static(self, inst, items, what):
        w = self.world
        form = "rev2" if self.rev2 else "rev1"
        for key, val in items.items():
            if key in ("UID", "FLAGS", "MODSEQ"):
                continue
            if key == "RFC822.SIZE":
                w.check_static(inst, "RFC822.SIZE", int(val), what)
            elif key == "INTERNALDATE":
                w.check_static(inst, "INTERNALDATE", internaldate_epoch(val.decode() if isinstance(val, bytes) else val), what)
            elif key in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
                w.check_static(inst, key + "/" + form, _freeze(val), what)
            elif key.startswith("BODY["):
                self.check_section(inst, key, val, what)
            elif key in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
                self.check_section(inst, {"RFC822": "BODY[]", "RFC822.HEADER": "BODY[HEADER]",
                                          "RFC822.TEXT": "BODY[TEXT]"}[key], val, what)
            else:
                w.check_static(inst, key, _freeze(val), what)

    def check_section(self, inst, key, val, what):
        w = self.world
        if not isinstance(val, bytes):
            raise ModelViolation("%s: %s of UID %d is %r" % (what, key, inst.uid, val))
        m = re.match(r"^BODY\[([^\]]*)\](?:<(\d+)>)?$", key, re.I)
        if not m:
            raise ModelViolation("%s: FETCH item %s" % (what, key))
        section = m.group(1).upper()
        partial = m.group(2) is not None
        start = int(m.group(2) or 0)
        if section == "":
            if not partial:
                w.check_static(inst, "RFC822.SIZE", len(val), what + " (the length of BODY[])")
                w.check_static(inst, "BODY[]/sha1", hashlib.sha1(val).hexdigest(), what)
            w.check_body(inst, val, start, partial, what)
            return
        if section.startswith("HEADER.FIELDS"):
            if "X-TEST-ID" in section and not partial:
                tid = header_field(val, "X-Test-Id")
                if tid is None:
                    raise ModelViolation("%s: UID %d has no X-Test-Id: %r" % (what, inst.uid, val[:200]))
                w.learn_tid(inst, tid, what)
            w.check_static(inst, "BODY[%s]<%s>" % (section, m.group(2)), val, what)
            return
        w.check_static(inst, "BODY[%s]<%s>" % (section, m.group(2)), val, what)
        with w.lock:
            full = w.tid_body.get(inst.tid) if inst.tid is not None else None
        if full is not None and section in ("HEADER", "TEXT"):
            cut = full.find(b"\r\n\r\n")
            part = full[:cut + 4] if section == "HEADER" else full[cut + 4:]
            if part[start:start + len(val)] != val:
                raise ModelViolation("%s: BODY[%s]<%d> of %r is not that part of BODY[]: %r"
                                     % (what, section, start, inst, _short(val)))

    # ---- selecting

    def targets_str(self, targets, uid_form):
        if uid_form:
            return seqset(m.uid for m in targets)
        pos = {id(m): i + 1 for i, m in enumerate(self.view)}
        return seqset(pos[id(m)] for m in targets)

    def select(self, folder, examine=False, params="", ctx=None):
        """SELECT (EXAMINE) folder; params: " (...)" after the name; ctx:
        the command's, made by the caller that expects more of it."""
        self.select_no += 1
        name = "EXAMINE" if examine else "SELECT"
        # EXISTS of the reply are the new mailbox's.
        self.reset_view(folder, examine)
        ctx = ctx or Ctx(name)
        r = self.command("%s %s%s" % (name, folder, params), name, ctx=ctx)
        self.expect_ok(r)
        codes = {}
        for resp in ctx.data:
            if resp.status == "OK" and resp.code:
                parts = resp.code.split(" ", 1)
                codes[parts[0].upper()] = parts[1] if len(parts) > 1 else ""
        if "UIDVALIDITY" not in codes or "UIDNEXT" not in codes:
            raise ModelViolation("%s %s without UIDVALIDITY or UIDNEXT" % (name, folder))
        self.world.note_uidvalidity(folder, int(codes["UIDVALIDITY"]), "%s by %s" % (name, self.name))
        self.select_uidnext = int(codes["UIDNEXT"])
        self.world.note_uidnext(folder, self.select_uidnext, r.t_send, r.t_recv, "%s by %s" % (name, self.name))
        self.recent_at_select = ctx.recent_count
        if not self.rev2 and ctx.recent_count is None:
            raise ModelViolation("IMAP4rev1 %s without RECENT" % name)
        self.exists_at_select = len(self.view)
        at_select = list(self.view)
        self.after_select(ctx, r, codes)
        if not self.rev2 and self.view:
            # RECENT is the number of \Recent messages (RFC 3501 7.3.2),
            # and \Recent does not change within the session.
            self.learn(all_of_them=True)
            got = sum(1 for m in at_select if m.recent)
            still = set(id(m) for m in self.view)
            if (all(m.recent is not None and id(m) in still for m in at_select)
                    and got != ctx.recent_count):
                raise ModelViolation("%s said %d RECENT, but %d of its %d messages are \\Recent"
                                     % (name, ctx.recent_count, got, self.exists_at_select))
        return r

    def after_select(self, ctx, r, codes):
        """What a SELECT's reply (OK, its response codes in codes) tells
        beyond the base checks: imap_model_qresync's HIGHESTMODSEQ and
        resynchronisation."""

    def unselect(self):
        r = self.command("UNSELECT", "UNSELECT")
        self.expect_ok(r)
        self.reset_view(None)
        return r

    def learn(self, all_of_them=False):
        """FETCH the UID, flags and X-Test-Id of the messages whose UID or
        flags are not known (of all, with all_of_them)."""
        for _ in range(5):
            todo = [m for m in self.view if all_of_them or m.uid is None or m.flags is None]
            if not todo:
                return
            self.fetch(todo, "UID FLAGS BODY.PEEK[HEADER.FIELDS (X-Test-Id)]", uid_form=False)
            all_of_them = False

    # ---- syncs

    def sync_check(self, what, t, t_end):
        """After a command that syncs (NOOP, the start of IDLE), sent at t
        and answered (or "+") at t_end: every message whose flags this
        client was told has each flag that stayed the same in the mailbox
        throughout [t, t_end] (the server tells flag changes, RFC 9051
        7.5.2)."""
        w = self.world
        for m in self.view:
            if m.flags is None or m.inst is None:
                continue
            for f in all_flags(w.n):
                v = w.stable(m.inst, f, t, t_end)
                has = f in m.flags
                if v is not None and v != has:
                    raise ModelViolation("%s (%s): UID %d %s %s as last told, but %s it before the command "
                                         "began, and no FETCH told the change (RFC 9051 7.5.2) %s"
                                         % (what, self.name, m.uid, "has" if has else "lacks", f,
                                            "someone set" if v else "its owner cleared", w.describe(m.inst, f)))

    def noop(self, name="NOOP"):
        r = self.command(name, name)
        self.expect_ok(r)
        if self.folder is not None:
            self.sync_check(name, r.t_send, r.t_recv)
            due = self.must_vanish & set(m.uid for m in self.view)
            if due:
                raise ModelViolation("%s (%s): UIDs %s were left out of a reply as expunged (EXPUNGEISSUED), "
                                     "but their EXPUNGE did not come" % (name, self.name, sorted(due)))
        return r

    def idle(self, seconds):
        """IDLE until seconds passed or an EXISTS came, then DONE."""
        ctx = Ctx("IDLE")
        self.between_commands()
        self.tagn += 1
        tag = "c%d.%d" % (self.index, self.tagn)
        ctx.t_send = t_send = now()
        self.send(("%s IDLE\r\n" % tag).encode())
        untagged = []
        while True:
            resp = self.read()
            if resp.tag == "+":
                break
            if resp.tag == tag:
                raise ModelViolation("IDLE refused: %r" % resp.raw)
            self.untagged(resp, ctx)
            untagged.append(resp)
        # What changed before IDLE began is told before "+" at the latest.
        self.sync_check("IDLE", t_send, now())
        end = now() + seconds
        self.sock.settimeout(0.05)
        try:
            while now() < end and not self.world.stop.is_set() and not ctx.exists:
                if b"\r\n" not in self.buf:
                    try:
                        self._fill()
                    except socket.timeout:
                        continue
                    continue
                resp = self.read()
                if resp.tag != "*":
                    raise ModelViolation("during IDLE: %r" % resp.raw)
                self.untagged(resp, ctx)
                untagged.append(resp)
        finally:
            self.sock.settimeout(self.timeout)
        self.send(b"DONE\r\n")
        while True:
            resp = self.read()
            if resp.tag == tag:
                break
            if resp.tag != "*":
                raise ModelViolation("after DONE: %r" % resp.raw)
            self.untagged(resp, ctx)
            untagged.append(resp)
        self._count("IDLE")
        r = Reply(resp, untagged, t_send, now(), ctx)
        self.expect_ok(r)
        return r

    # ---- reading

    def fetch(self, targets, items, uid_form, sets_seen=False):
        """FETCH (or UID FETCH) of the view's messages targets; an OK
        reply must answer each with every item.  sets_seen: a non-PEEK
        body item, on messages this client may set \\Seen of."""
        w = self.world
        if not targets:
            return None
        ctx = Ctx("FETCH", uid_form)
        recs = {}
        # EXAMINE: nothing changes (RFC 9051 6.3.3); the flag checks see
        # that \Seen stays as it was.
        if sets_seen and not self.readonly:
            ctx.seen_expect = set(m.uid for m in targets)
            t = now()
            recs = {m.uid: w.begin_flags(m.inst, [SEEN], t, self.index)[SEEN] for m in targets}
        setstr = self.targets_str(targets, uid_form)
        try:
            r = self.command("%sFETCH %s (%s)" % ("UID " if uid_form else "", setstr, items), "FETCH",
                             uid=uid_form, ctx=ctx)
        finally:
            with w.lock:
                for uid, rec in recs.items():
                    rec.t_recv = now()
        ok = self.expect_ok(r, allow=("EXPUNGEISSUED",))
        want = _item_names(items)
        for m in targets:
            got = ctx.answers.get(id(m))
            if got is None:
                continue
            missing = [k for k in want if k not in got]
            if missing:
                raise ModelViolation("FETCH %s: message UID %s answered without %s" % (setstr, m.uid, missing))
            if m.uid in recs and "FLAGS" in got:
                with w.lock:
                    recs[m.uid].value = True if SEEN in m.flags else None
        viewed = set(id(m) for m in self.view)
        left_out = [m for m in targets if id(m) not in ctx.answers and id(m) in viewed]
        if left_out and (ok and r.code != "EXPUNGEISSUED"):
            raise ModelViolation("FETCH %s OK, but no FETCH response for messages %s"
                                 % (setstr, [m.uid for m in left_out]))
        if r.code == "EXPUNGEISSUED":
            if not left_out and not ctx.expunged:
                raise ModelViolation("FETCH %s said EXPUNGEISSUED, but answered every message" % setstr)
            self.must_vanish.update(m.uid for m in left_out if m.uid is not None)
        return r

    def search_all(self, uid_form):
        """SEARCH ALL names every message (sequence numbers 1..n, or the
        UIDs in order), as the view is when the result comes."""
        r = self.command("%sSEARCH ALL" % ("UID " if uid_form else ""), "SEARCH", uid=uid_form)
        self.expect_ok(r)
        got, view = self.search_result(r, uid_form)
        if not uid_form:
            if got != list(range(1, len(view) + 1)):
                raise ModelViolation("SEARCH ALL gave %s for %d messages" % (seqset(got), len(view)))
            return r
        if len(got) != len(view) or got != sorted(got):
            raise ModelViolation("UID SEARCH ALL gave %s for %d messages" % (seqset(got), len(view)))
        for i, (m, uid) in enumerate(zip(view, got)):
            if m.uid is not None and m.uid != uid:
                raise ModelViolation("UID SEARCH ALL: message %d is UID %d, the search says %d" % (i + 1, m.uid, uid))
        return r

    def search_result(self, r, uid_form):
        ctx = r.ctx
        if ctx.search is not None:
            if ctx.esearch is not None:
                raise ModelViolation("both SEARCH and ESEARCH in one reply")
            return ctx.search, ctx.search_view
        if ctx.esearch is not None:
            if ctx.esearch["UID"] != uid_form:
                raise ModelViolation("ESEARCH %s UID to a %sSEARCH" % ("with" if ctx.esearch["UID"] else "without",
                                                                        "UID " if uid_form else ""))
            allv = ctx.esearch.get("ALL")
            return (parse_seqset(str(allv)) if allv is not None else []), ctx.search_view
        raise ModelViolation("SEARCH without a SEARCH or ESEARCH response")

    def search_keyword(self, uid_form):
        """SEARCH KEYWORD of this client's own keyword: the messages where
        it alone sets it."""
        w = self.world
        kw = own_keyword(self.index)
        r = self.command("%sSEARCH KEYWORD %s" % ("UID " if uid_form else "", kw), "SEARCH", uid=uid_form)
        self.expect_ok(r)
        got, view = self.search_result(r, uid_form)
        got = set(got)
        for i, m in enumerate(view):
            if m.inst is None or w.owner(m.inst, kw) != self.index:
                continue
            v = w.stable(m.inst, kw, r.t_send, r.t_recv)
            key = m.uid if uid_form else i + 1
            if v is not None and (key in got) != v:
                raise ModelViolation("SEARCH KEYWORD %s %s UID %d, which %s it" % (kw, "found" if key in got else "missed",
                                                                                   m.uid, "has" if v else "lacks"))
        return r

    def status(self, folder):
        t_send = now()
        items = "MESSAGES UIDNEXT UIDVALIDITY" + (" HIGHESTMODSEQ" if self.condstore else "")
        r = self.command("STATUS %s (%s)" % (folder, items), "STATUS")
        self.expect_ok(r)
        for resp in r.ctx.data:
            if resp.name == "STATUS":
                vals = resp.items[1]
                d = {str(vals[i]).upper(): int(vals[i + 1]) for i in range(0, len(vals), 2)}
                self.world.note_uidvalidity(folder, d["UIDVALIDITY"], "STATUS by " + self.name)
                self.world.note_uidnext(folder, d["UIDNEXT"], t_send, r.t_recv, "STATUS by " + self.name)
                self.after_status(folder, d, r)
        return r

    def after_status(self, folder, values, r):
        """STATUS values ({NAME: number}) of folder: imap_model_qresync
        checks HIGHESTMODSEQ."""

    # ---- changing

    def store(self, targets, op, flags, silent, uid_form, unchangedsince=None):
        """STORE op ('+', '-', '' to replace) flags on targets, which this
        client may change; the World records the change.  With
        unchangedsince (RFC 7162 3.1.3), the messages its [MODIFIED]
        names are left as they were (ctx.modified: their id()s)."""
        w = self.world
        if not targets:
            return None
        affected = list(flags) if op else all_flags(w.n)
        for m in targets:
            for f in affected:
                if not w.may_store(m.inst, self.index, f) or (f == SEEN and m.inst.owner is None and op != "+"):
                    raise AssertionError("checker bug: %s may not store %s%s on %r" % (self.name, op, f, m.inst))
        ctx = Ctx("STORE", uid_form)
        ctx.conditional = unchangedsince
        t_send = now()
        recs = {}
        for m in targets:
            ctx.store_expect[m.uid] = {f: (f in flags) if op == "" else (op == "+") for f in affected}
            recs[m.uid] = w.begin_flags(m.inst, affected, t_send, self.index)
        setstr = self.targets_str(targets, uid_form)
        cond = "" if unchangedsince is None else "(UNCHANGEDSINCE %d) " % unchangedsince
        text = "%sSTORE %s %s%sFLAGS%s (%s)" % ("UID " if uid_form else "", setstr, cond, op,
                                              ".SILENT" if silent else "", " ".join(flags))
        r = None
        try:
            r = self.command(text, "STORE", uid=uid_form, ctx=ctx)
        finally:
            with w.lock:
                ok = r is not None and r.ok and r.code != "EXPUNGEISSUED"
                if r is not None and unchangedsince is not None:
                    ctx.modified = self.modified_of(r, targets, uid_form)
                for m in targets:
                    if id(m) in ctx.modified:
                        # Not changed by this STORE: as if never sent.
                        for f, rec in recs[m.uid].items():
                            m.inst.recs[f].remove(rec)
                        continue
                    told = "FLAGS" in ctx.answers.get(id(m), {})
                    for f, rec in recs[m.uid].items():
                        rec.t_recv = now()
                        if unchangedsince is not None and told:
                            rec.value = f in m.flags   # what it left, [MODIFIED] or not
                        else:
                            rec.value = ctx.store_expect[m.uid][f] if told or (silent and ok) else None
        self.expect_ok(r, allow=("EXPUNGEISSUED",))
        viewed = set(id(x) for x in self.view)
        left_out = [m for m in targets if "FLAGS" not in ctx.answers.get(id(m), {}) and id(m) in viewed
                    and id(m) not in ctx.modified]
        # A message a STORE leaves out without a word was expunged
        # meanwhile: EXPUNGEISSUED says so, or [MODIFIED] in its place
        # (which a conditional STORE must give first, RFC 7162 3.1.3).
        gone_code = r.code == "EXPUNGEISSUED" or (r.code == "MODIFIED" and unchangedsince is not None)
        if not silent and r.ok and not gone_code and left_out:
            raise ModelViolation("STORE %s OK, but no FETCH FLAGS for UIDs %s" % (setstr, [m.uid for m in left_out]))
        if silent:
            # Not told: the client knows what it set, where it was set.
            for m in targets:
                if m.flags is None or id(m) not in viewed or id(m) in ctx.modified:
                    continue
                if r.code == "EXPUNGEISSUED":
                    m.flags = None
                    continue
                fl = set(m.flags)
                for f in affected:
                    (fl.add if ctx.store_expect[m.uid][f] else fl.discard)(f)
                m.flags = frozenset(fl)
        elif gone_code:
            self.must_vanish.update(m.uid for m in left_out)
        return r

    def modified_of(self, r, targets, uid_form):
        """id()s of the targets that [MODIFIED set] of a conditional STORE's
        reply names: UIDs for UID STORE, else sequence numbers (RFC 7162
        3.1.3; a STORE by number has no EXPUNGE, so numbers are the view's)."""
        if r.code != "MODIFIED":
            return set()
        named = set(parse_seqset(r.tagged.code.split(" ", 1)[1]))
        pos = {id(m): i + 1 for i, m in enumerate(self.view)}
        out = set()
        for m in targets:
            key = m.uid if uid_form else pos.get(id(m))
            if key in named:
                out.add(id(m))
                named.discard(key)
        if named:
            raise ModelViolation("STORE (UNCHANGEDSINCE): [MODIFIED] names %s, which the STORE did not ask for: %s"
                                 % (seqset(named), r.tagged.raw.decode("utf-8", "replace").strip()))
        return out

    def expunge(self, uids=None):
        """EXPUNGE, or UID EXPUNGE of uids."""
        w = self.world
        text = "EXPUNGE" if uids is None else "UID EXPUNGE %s" % seqset(uids)
        t_send = now()
        try:
            r = self.command(text, "EXPUNGE", uid=uids is not None)
        finally:
            w.note_expunger(self.folder, t_send, now(), None if uids is None else set(uids))
        self.expect_ok(r)
        for m in self.view:
            if m.inst is None or (uids is not None and m.uid not in uids):
                continue
            if (m.inst.c_recv is not None and m.inst.c_recv < r.t_send
                    and w.stable(m.inst, DELETED, r.t_send, r.t_recv) is True):
                raise ModelViolation("%s (%s) left UID %d, whose \\Deleted was set before the command began "
                                     "(RFC 9051 6.4.3)" % (text, self.name, m.uid))
        return r

    def close_mailbox(self):
        w = self.world
        t_send = now()
        folder, readonly = self.folder, self.readonly
        try:
            r = self.command("CLOSE", "CLOSE")
        finally:
            if not readonly:
                w.note_expunger(folder, t_send, now(), None)
        self.expect_ok(r)
        self.reset_view(None)
        return r

    def append(self, folder, body, flags, date, tid, sync):
        """APPEND body (bytes, CRLF) with flags (names) and date (seconds
        since the epoch, or None): a message of this client's own."""
        w = self.world
        datestr = ""
        if date is not None:
            datestr = ' "%s"' % time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(date))
        head = (("{%d}\r\n" if sync else "{%d+}\r\n") % len(body)).encode()
        w.expect_new(folder, [tid])
        t_send = now()
        uidnext_before = w.uidnext_before(folder, t_send)
        try:
            r = self.command("APPEND %s (%s)%s " % (folder, " ".join(flags), datestr), "APPEND",
                             literal=(head, body, sync))
            self.expect_ok(r)
        except BaseException:
            w.expect_done(folder, [tid])
            raise
        m = re.match(r"^APPENDUID (\d+) (\d+)$", r.tagged.code or "", re.I)
        if not m:
            w.expect_done(folder, [tid])
            raise ModelViolation("APPEND OK without APPENDUID: %r" % r.tagged.raw)
        uv, uid = int(m.group(1)), int(m.group(2))
        w.note_uidvalidity(folder, uv, "APPENDUID to %s" % self.name)
        if uid < uidnext_before:
            raise ModelViolation("APPENDUID %d is below UIDNEXT %d told before the APPEND" % (uid, uidnext_before))
        with w.lock:
            w.tid_body[tid] = body
            w.appended[tid] = True
            st = w.tid_static[tid]
            st["RFC822.SIZE"] = len(body)
            if date is not None:
                st["INTERNALDATE"] = date
            inst = w.new_instance(folder, uid, "appended", tid, self.index, (t_send, r.t_recv), "APPEND by " + self.name)
            for f in all_flags(w.n):
                inst.init[f] = f in flags
        return r, inst

    def copy(self, targets, dest, move, uid_form):
        """COPY or MOVE of targets to dest: the copies are new messages
        whose flags are the sources' (where those were stable)."""
        w = self.world
        if not targets:
            return None
        name = "MOVE" if move else "COPY"
        setstr = self.targets_str(targets, uid_form)
        tids = [m.inst.tid for m in targets]
        w.expect_new(dest, tids)
        t_send = now()
        uidnext_before = w.uidnext_before(dest, t_send)
        try:
            r = self.command("%s%s %s %s" % ("UID " if uid_form else "", name, setstr, dest), name, uid=uid_form)
            ok = self.expect_ok(r, allow=("EXPUNGEISSUED",))
        except BaseException:
            w.expect_done(dest, tids)
            raise
        cu = r.ctx.copyuid if move else None
        if not move and ok:
            mm = re.match(r"^COPYUID (\S+) (\S+) (\S+)$", r.tagged.code or "", re.I)
            cu = [mm.group(1), mm.group(2), mm.group(3)] if mm else None
        if not ok:
            w.expect_done(dest, tids)
            with w.lock:
                for tid in tids:
                    w.taken_back[(dest, tid)] += 1
            if cu:
                raise ModelViolation("%s NO, yet COPYUID %r" % (name, cu))
            return r
        if cu is None:
            w.expect_done(dest, tids)
            raise ModelViolation("%s OK without COPYUID: %r" % (name, r.tagged.raw))
        uv, src, dst = int(cu[0]), parse_seqset(cu[1]), parse_seqset(cu[2])
        w.note_uidvalidity(dest, uv, "COPYUID to %s" % self.name)
        asked = sorted(m.uid for m in targets)
        if len(src) != len(dst) or src != sorted(src) or dst != sorted(dst) or len(set(dst)) != len(dst):
            raise ModelViolation("%s: COPYUID %r: the sets do not correspond" % (name, cu))
        if src != asked:
            raise ModelViolation("%s of UIDs %s, but COPYUID names %s" % (name, seqset(asked), cu[1]))
        if dst and dst[0] < uidnext_before:
            raise ModelViolation("%s: COPYUID UID %d is below UIDNEXT %d told before" % (name, dst[0], uidnext_before))
        by_uid = {m.uid: m for m in targets}
        with w.lock:
            for s, d in zip(src, dst):
                srci = by_uid[s].inst
                c = w.new_instance(dest, d, "copied", srci.tid, srci.owner, (t_send, r.t_recv),
                                   "%s by %s" % (name, self.name))
                c.source = srci
                for f in all_flags(w.n):
                    c.init[f] = w.stable(srci, f, t_send, r.t_recv)
                if move:
                    srci.moved = r.t_recv
        if move:
            still = [m.uid for m in targets if m in self.view]
            if still:
                raise ModelViolation("MOVE OK, but UIDs %s were not told expunged" % still)
        return r

    def logout(self):
        try:
            r = self.command("LOGOUT", "LOGOUT")
            if not any(x.status == "BYE" for x in r.ctx.data):
                raise ModelViolation("LOGOUT without BYE")
        finally:
            self.close()
            self.reset_view(None)

    # ---- the end

    def final_check(self):
        """After all activity stopped: a NOOP (every change told), then a
        FETCH of every message's flags, which must be what was told."""
        self.finishing = True
        self.noop()
        told = {m.uid: m.flags for m in self.view if m.uid is not None and m.flags is not None}
        self.learn()
        if not self.view:
            return
        before = {id(m): m.flags for m in self.view}
        self.fetch(list(self.view), "UID FLAGS", uid_form=False)
        for m in self.view:
            if before.get(id(m)) is not None and told.get(m.uid) is not None and m.flags != told[m.uid]:
                raise ModelViolation("%s: UID %d was told flags %s, the server has %s: a change no FETCH told"
                                     % (self.name, m.uid, " ".join(sorted(told[m.uid])), " ".join(sorted(m.flags))))


def all_flags(n):
    return list(SYSTEM_FLAGS) + [own_keyword(i) for i in range(n)] + [PRIVATE_KEYWORD]


def _canon_flag(f):
    for s in SYSTEM_FLAGS:
        if f.lower() == s.lower():
            return s
    if f.lower() == PRIVATE_KEYWORD.lower():
        return PRIVATE_KEYWORD
    m = re.match(r"^\$k(\d+)$", f, re.I)
    if m:
        return "$K" + m.group(1)
    return f


def _freeze(v):
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, Atom):
        return ("atom", str(v).upper())
    return v


def _item_names(items):
    """The FETCH response item names that a FETCH item list asks for."""
    out = []
    for tok in re.findall(r"BODY\.PEEK\[[^\]]*\](?:<[\d.]+>)?|BODY\[[^\]]*\](?:<[\d.]+>)?|[A-Z0-9.]+", items.upper()):
        if tok.startswith("BODY.PEEK["):
            tok = "BODY[" + tok[len("BODY.PEEK["):]
        tok = re.sub(r"<(\d+)\.\d+>$", r"<\1>", tok)
        if tok in ("ALL", "FAST", "FULL"):
            continue
        out.append(tok)
    return out


# ---------------------------------------------------------------- the end

def read_disk_folder(path):
    """{uid: (X-Test-Id, frozenset of flags)} of a Maildir folder as the
    files say: dovecot-uidlist (base -> UID), dovecot-keywords (letter ->
    name), the info letters of each file in cur/ and new/."""
    import os
    uids = {}
    with open(os.path.join(path, "dovecot-uidlist")) as f:
        for line in f.read().splitlines()[1:]:
            num, _, rest = line.partition(" ")
            base = rest[rest.index(":") + 1:]
            uids[base] = int(num)
    keywords = {}
    try:
        with open(os.path.join(path, "dovecot-keywords")) as f:
            for line in f.read().splitlines():
                k, _, name = line.partition(" ")
                keywords[chr(ord("a") + int(k))] = name
    except FileNotFoundError:
        pass
    letters = {"S": SEEN, "R": ANSWERED, "F": FLAGGED, "T": DELETED, "D": DRAFT}
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(path, sub)):
            base, _, info = name.partition(":")
            if base not in uids:
                raise ModelViolation("%s/%s/%s has no UID in dovecot-uidlist" % (path, sub, name))
            uid = uids[base]
            if uid in out:
                raise ModelViolation("%s: two files of UID %d" % (path, uid))
            flags = set()
            if info.startswith("2,"):
                for ch in info[2:]:
                    if ch in letters:
                        flags.add(letters[ch])
                    elif ch in keywords:
                        flags.add(_canon_flag(keywords[ch]))
            with open(os.path.join(path, sub, name), "rb") as f:
                tid = header_field(f.read(65536), "X-Test-Id")
            out[uid] = (tid, frozenset(flags))
    return out


def finish(world, listing, disk, t_end):
    """The accounting at the end.  listing and disk: {folder: {uid:
    (X-Test-Id, frozenset flags)}} of a fresh session and of the files;
    t_end: a moment after all activity stopped."""
    w = world
    problems = []
    checked = w.checked = collections.Counter()
    for folder in sorted(listing):
        if listing[folder] != disk.get(folder):
            a, b = listing[folder], disk.get(folder, {})
            diff = sorted(set(a.items()) ^ set(b.items()))[:10]
            problems.append("%s: the server's view and the files differ: %r" % (folder, diff))
    with w.lock:
        for folder in sorted(listing):
            present = listing[folder]
            for uid, (tid, flags) in sorted(present.items()):
                inst = w.folder(folder)["inst"].get(uid)
                if inst is None or inst.tid is None:
                    inst = w.seen_uid(folder, uid)
                    try:
                        w.learn_tid(inst, tid, "the end")
                    except ModelViolation as e:
                        problems.append(str(e))
                        continue
                if inst.tid != tid:
                    problems.append("%r has X-Test-Id %s at the end" % (inst, tid))
                if inst.origin == "unknown":
                    problems.append("%s UID %d (%s): nobody made this message" % (folder, uid, tid))
                if inst.told_gone is not None:
                    problems.append("%r is there at the end, but a session was told its EXPUNGE" % inst)
                if inst.moved is not None:
                    problems.append("%r is there at the end, but a MOVE took it away (COPYUID)" % inst)
                checked["present"] += 1
                e = w.must_expunge(inst)
                if e is not None:
                    problems.append("%r is there at the end, but it had \\Deleted throughout an EXPUNGE "
                                    "(%.3f..%.3f)" % (inst, e[0] - START, e[1] - START))
                for f in all_flags(w.n):
                    v = w.stable(inst, f, t_end, t_end)
                    if v is not None and v != (f in flags):
                        problems.append("%r %s %s at the end, but its owner %s it %s"
                                        % (inst, "has" if f in flags else "lacks", f, "set" if v else "cleared",
                                           w.describe(inst, f)))
            for uid, inst in sorted(w.folder(folder)["inst"].items()):
                if uid in present:
                    continue
                if inst.moved is not None or w.could_expunge(inst):
                    checked["moved" if inst.moved is not None else "expunged"] += 1
                    continue
                if inst.origin == "unknown" and w.taken_back[(folder, inst.tid)] > 0:
                    checked["copies of a failed COPY taken back"] += 1
                    continue
                problems.append("%r is gone, though no MOVE took it and no EXPUNGE ran while it could have "
                                "had \\Deleted%s" % (inst, " (a session was told its EXPUNGE)" if inst.told_gone else ""))
        for tid, (ts, tr) in sorted(w.delivered.items()):
            if not any(i.tid == tid and i.origin == "delivered" for i in w.folder("INBOX")["inst"].values()):
                problems.append("delivery %s is nowhere" % tid)
        # \Recent: at most one session per message; exactly one where
        # every session (SELECT) that had it in view knew its flags.
        for folder in sorted(w.folders):
            for uid, inst in sorted(w.folder(folder)["inst"].items()):
                checked["\\Recent at most once"] += 1
                if len(inst.recent_in) > 1:
                    problems.append("%r was \\Recent in %d sessions: %s" % (inst, len(inst.recent_in), sorted(inst.recent_in)))
                elif not inst.recent_known or inst.origin == "unknown":
                    checked["\\Recent not checked: no IMAP4rev1 session knew it"] += 1
                elif inst.rev2_views:
                    checked["\\Recent not checked: an IMAP4rev2 session had it"] += 1
                elif w.sessions_may_have(folder, uid):
                    checked["\\Recent not checked: a session may have had it unknown"] += 1
                else:
                    checked["\\Recent exactly once"] += 1
                    if inst.recent_in:
                        continue
                    problems.append("%r was \\Recent in no session (sessions that saw it: %s)"
                                    % (inst, sorted(inst.recent_known)))
    return problems
