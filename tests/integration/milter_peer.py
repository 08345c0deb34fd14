"""A tiny milter (Sendmail milter protocol 6, filter side) for the tests:
it records every command with the macros sent before it and answers as
the test scripts it.  Written from the protocol description, not from
libmilter; it is the peer for the actions rspamd and OpenDKIM do not take
(replace body, change sender, add and delete recipients, quarantine,
reply codes, discard)."""

import struct

from loopback_server import LoopbackServer

ALL_ACTIONS = 0x1FF


def packet(code, data=b""):
    """One packet: length, code, data."""
    return struct.pack(">I", len(data) + 1) + code.encode() + data


def z(*strings):
    """NUL-terminated strings, concatenated."""
    return b"".join(s.encode() + b"\0" if isinstance(s, str) else s + b"\0" for s in strings)


# Replies and modifications, as packets.
CONTINUE = packet("c")
ACCEPT = packet("a")
REJECT = packet("r")
TEMPFAIL = packet("t")
DISCARD = packet("d")


def replycode(text):
    return packet("y", z(text))


def add_header(name, value):
    return packet("h", z(name, value))


def insert_header(index, name, value):
    return packet("i", struct.pack(">I", index) + z(name, value))


def change_header(index, name, value):
    return packet("m", struct.pack(">I", index) + z(name, value))


def add_rcpt(addr):
    return packet("+", z(addr))


def del_rcpt(addr):
    return packet("-", z(addr))


def change_from(addr):
    return packet("e", z(addr))


def replace_body(data):
    return packet("b", data)


def quarantine(reason):
    return packet("q", z(reason))


class Conversation:
    """What one MTA connection sent: a list of (code, data, macros)."""

    def __init__(self):
        self.commands = []
        self.macros = {}

    def codes(self):
        return "".join(c for c, _, _ in self.commands)

    def first(self, code):
        for c, data, macros in self.commands:
            if c == code:
                return data, macros
        raise AssertionError("no %r command in %r" % (code, self.codes()))

    def all(self, code):
        return [data for c, data, _ in self.commands if c == code]

    def headers(self):
        out = []
        for data in self.all("L"):
            name, value, _ = data.split(b"\0", 2)
            out.append((name.decode(), value.decode()))
        return out

    def body(self):
        return b"".join(self.all("B"))


class FakeMilter(LoopbackServer):
    """Listens on loopback.  answers maps a command code to a list of
    replies, one per command of that code (each a bytes of packets, or
    "close" to hang up, or "silence"); a code with no (more) answers gets
    CONTINUE.  steps is the SMFIP_ mask it negotiates."""

    def __init__(self, answers=None, steps=0, actions=ALL_ACTIONS, macro_lists=None, unix_path=None):
        self.answers = {k: list(v) for k, v in (answers or {}).items()}
        self.steps = steps
        self.actions = actions
        self.macro_lists = macro_lists or {}
        self.conversations = []
        super().__init__(unix_path)

    def accepted(self, conn):
        conv = Conversation()
        self.conversations.append(conv)
        return conv

    @staticmethod
    def read_exact(f, n):
        data = f.read(n)
        if data is None or len(data) < n:
            raise EOFError
        return data

    def next_answer(self, code):
        with self.lock:
            q = self.answers.get(code)
            return q.pop(0) if q else CONTINUE

    def negotiate(self, data):
        version, actions, steps = struct.unpack(">III", data[:12])
        out = struct.pack(">III", 6, self.actions & actions, self.steps & steps)
        for stage, names in self.macro_lists.items():
            out += struct.pack(">I", stage) + z(names)
        return packet("O", out)

    def serve(self, c, conv):
        f = c.makefile("rb")
        pending = {}
        try:
            while True:
                (n,) = struct.unpack(">I", self.read_exact(f, 4))
                pkt = self.read_exact(f, n)
                code, data = chr(pkt[0]), pkt[1:]
                if code == "D":
                    parts = data[1:].split(b"\0")
                    pending = {parts[i].decode(): parts[i + 1].decode()
                               for i in range(0, len(parts) - 1, 2)}
                    conv.macros.update(pending)
                    continue
                with self.lock:
                    conv.commands.append((code, data, pending))
                pending = {}
                if code == "O":
                    c.sendall(self.negotiate(data))
                elif code == "Q":
                    return
                elif code in "CHMRTLNBE" and not self.no_reply(code):
                    answer = self.next_answer(code)
                    if answer == "close":
                        return
                    if answer != "silence":
                        c.sendall(answer)
        except (EOFError, OSError):
            return
        finally:
            c.close()

    def no_reply(self, code):
        bits = {"C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000,
                "L": 0x80, "N": 0x40000, "B": 0x80000}
        return bool(self.steps & bits.get(code, 0))

    def last(self):
        with self.lock:
            return self.conversations[-1]


class MilterTestMixin:
    """For a PosternTestCase: a scripted milter stopped at cleanup, and
    the delivered copy of a test message."""

    def milter(self, **kw):
        m = FakeMilter(**kw)
        self.addCleanup(m.stop)
        return m

    def delivered(self, t, user, test_id):
        """The one delivered copy of test_id for user, as bytes."""
        self.assertEqual(t.wait_ids(user, {test_id}).get(test_id), 1)
        for path in t.message_paths(user):
            with open(path, "rb") as f:
                data = f.read()
            if b"X-Test-Id: " + test_id.encode() + b"\n" in data:
                return data
        raise AssertionError("no message %s for %s" % (test_id, user))
