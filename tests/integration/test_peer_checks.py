"""Each internal service lets in only its callers (docs/tree.md, "Roots and
sockets"): a process running as another system user is closed without an
answer and logged, whatever socket path it can reach.  As root, with a
running tree; a forked child drops to postern-smtpd or postern-login the
way those daemons do (supplementary groups, gid, uid) and tries the
sockets in DIR/private/."""

import errno
import json
import os
import pwd
import re
import socket
import traceback
import unittest

from postern_harness import DOMAIN, SCALE, SERVICE_TABLE, PosternTestCase, is_root, read_record, wait_for

# A refused caller is closed at once; a service that let us in waits
# ipc_timeout (longer than this) for the rest of a request.
RECV_TIMEOUT = 10.0 * SCALE


def closed_unanswered(path, request):
    """Connect to path, send request, and say what the server did:
    "closed" (EOF or reset without a byte), or what it answered."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(RECV_TIMEOUT)
    try:
        s.connect(path)
        try:
            s.sendall(request)
        except OSError as e:
            if e.errno in (errno.EPIPE, errno.ECONNRESET):
                return "closed"
            raise
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            return "closed"
        except socket.timeout:
            return "no answer, not closed within %ss" % RECV_TIMEOUT
        return "closed" if data == b"" else "answered %r" % data[:200]
    finally:
        s.close()


def record(fields):
    """A request record (docs/protocols.md): key=value lines, empty line."""
    return "".join("%s=%s\n" % (k, v) for k, v in fields).encode() + b"\n"


def exchange(path, request):
    """Send request, read one answer record until its empty line (or EOF);
    returns (answer dict, whether the server then closed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(RECV_TIMEOUT)
    try:
        s.connect(path)
        s.sendall(request)
        answer = read_record(s)
        s.shutdown(socket.SHUT_WR)
        try:
            closed = s.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        return answer, closed
    finally:
        s.close()


def enqueue_request(sender, rcpt, data):
    return record([("sender", sender), ("rcpt", rcpt)]) + b"%d\n" % len(data) + data + b"0\n"


def run_as(user, func, *args):
    """Run func(*args) in a child that is user (ids as its daemon has
    them); returns what func returned (JSON-able) or raises its error."""
    pw = pwd.getpwnam(user)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.initgroups(user, pw.pw_gid)
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            out = {"pid": os.getpid(), "result": func(*args)}
        except BaseException:
            out = {"pid": os.getpid(), "error": traceback.format_exc()}
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    out = json.loads(b"".join(chunks).decode())
    if "error" in out:
        raise AssertionError("child as %s failed:\n%s" % (user, out["error"]))
    return out["pid"], out["result"]



def log_tag(service):
    """The SERVICE of a service's log tag: the remote agent logs as
    Postfix's smtp (docs/operator.md, "Lines that Postfix log tools read")."""
    return {"remote": "smtp"}.get(service, service).encode()


class PeerChecks(PosternTestCase):

    def setUp(self):
        if not is_root():
            self.skipTest("needs root: started by another user every process runs as that user, "
                          "so there is no other caller to refuse")
        for user in ("postern-smtpd", "postern-login"):
            try:
                pwd.getpwnam(user)
            except KeyError:
                self.skipTest("system user %s missing (postern init creates it as root)" % user)

    def wait_log(self, t, pattern, seconds=10):
        """Wait until master.log matches pattern (bytes regex); the match
        (None at the deadline: the caller asserts)."""
        return wait_for(lambda: re.search(pattern, t.log_bytes()), seconds, "a log line", fail=False,
                        interval=0.1)

    def test_smtpd_user_is_refused_by_local_remote_qmgr_and_pop3_session(self):
        t = self.start_tree()
        uid = pwd.getpwnam("postern-smtpd").pw_uid
        fake_delivery = record([("queue_id", "0123456789ABCDEF"), ("sender", "x@example.org"),
                                ("rcpt", t.addr("alice"))])
        tries = {
            "local": fake_delivery,
            "remote": fake_delivery,
            "qmgr": b"flush\n",
            "pop3-session": record([("ticket", "00" * 32), ("client", "127.0.0.1")]),
        }
        sockets = {name: os.path.join(t.dir, "private", name) for name in tries}

        def attempt():
            return {name: closed_unanswered(sockets[name], tries[name]) for name in sorted(tries)}

        pid, results = run_as("postern-smtpd", attempt)
        self.assertEqual(results, {name: "closed" for name in tries})
        for name in tries:
            self.assertIsNotNone(
                self.wait_log(t, rb"%s\[\d+\]: warning: refused peer pid=%d uid=%d: not a caller of %s"
                              % (re.escape(log_tag(name)), pid, uid, re.escape(name.encode()))),
                "no warning from %s about pid %d uid %d in master.log:\n%s" % (name, pid, uid, t.log_tail()))

    def test_smtpd_user_may_enqueue_and_authenticate(self):
        t = self.start_tree()
        enqueue = os.path.join(t.dir, "private", "enqueue")
        authd = os.path.join(t.dir, "private", "authd")
        auth = record([("cmd", "auth"), ("user", t.addr("alice")), ("password", t.passwords["alice"]),
                       ("service", "smtp"), ("client", "127.0.0.1")])
        msg = b"X-Test-Id: peer-checks-enqueue\nSubject: peer checks\n\nhello\n"

        def attempt():
            queued, _ = exchange(enqueue, enqueue_request("sender@example.org", t.addr("alice"), msg))
            authed, _ = exchange(authd, auth)
            return {"enqueue": queued, "auth": authed}

        _, results = run_as("postern-smtpd", attempt)
        self.assertEqual(results["enqueue"].get("status"), "ok", results["enqueue"])
        self.assertEqual(results["auth"].get("status"), "ok", results["auth"])
        self.assertEqual(results["auth"].get("user"), t.addr("alice"))
        self.assertIn("peer-checks-enqueue", t.wait_ids("alice", {"peer-checks-enqueue"}))

    def test_login_user_may_ask_for_a_ticket_but_not_authenticate(self):
        t = self.start_tree()
        authd = os.path.join(t.dir, "private", "authd")
        uid = pwd.getpwnam("postern-login").pw_uid

        def request(cmd):
            return record([("cmd", cmd), ("user", t.addr("alice")), ("password", t.passwords["alice"]),
                           ("service", "pop3"), ("client", "127.0.0.1")])

        def attempt():
            auth, auth_closed = exchange(authd, request("auth"))
            ticket, _ = exchange(authd, request("ticket"))
            return {"auth": auth, "auth_closed": auth_closed, "ticket": ticket}

        _, results = run_as("postern-login", attempt)
        # cmd=auth would tell the login process the mailbox path.
        self.assertEqual(results["auth"], {"status": "tempfail", "reason": "not allowed to authenticate"})
        self.assertTrue(results["auth_closed"], "authd kept the connection after refusing cmd=auth")
        self.assertIsNotNone(self.wait_log(t, rb"authd\[\d+\]: warning: cmd=auth refused to peer uid=%d" % uid),
                             t.log_tail())
        self.assertEqual(results["ticket"].get("status"), "ok", results["ticket"])
        self.assertRegex(results["ticket"].get("ticket", ""), r"^[0-9a-f]{64}$")
        self.assertNotIn("mailbox", results["ticket"])

    def test_root_may_call_local(self):
        t = self.start_tree()
        # No rcpt: local answers one record that defers the request.
        answer, _ = exchange(os.path.join(t.dir, "private", "local"),
                             record([("queue_id", "0123456789ABCDEF"), ("sender", "x@example.org")]))
        self.assertIn("status", answer)
        self.assertNotRegex(t.log_bytes().decode("utf-8", "replace"), r"refused peer pid=\d+ uid=0:")

    def test_each_root_holds_only_the_sockets_its_processes_use(self):
        t = self.start_tree()
        want = {
            "run/jail": ["authd", "enqueue", "imap-session", "pop3-session", "verify"],   # verify: smtpd's RCPT checks
            "queue": ["dkim-sign", "enqueue", "local", "qmgr", "remote"],   # dkim-sign: enqueue signs
            "mail": ["authd", "enqueue", "imap-hibernate", "imap-session"],
        }
        got = {root: sorted(os.listdir(os.path.join(t.dir, root, "private"))) for root in want}
        self.assertEqual(got, want)

    def test_every_system_user_is_refused_by_the_sockets_it_does_not_use(self):
        # The callers each daemon derives from the service table (`postern
        # services`): every system user tries every checked unix socket
        # that no service of its own uses, and each closes it unanswered.
        t = self.start_tree()
        users = []
        for row in SERVICE_TABLE:
            if row["user"] not in users:
                users.append(row["user"])
        checked = {row["name"]: row["callers"] for row in SERVICE_TABLE
                   if row["type"] == "unix" and row["callers"] is not None}
        tried = 0
        for user in users:
            try:
                uid = pwd.getpwnam(user).pw_uid
            except KeyError:
                self.fail("system user %s missing (postern init creates it as root)" % user)
            names = sorted(name for name, callers in checked.items() if user not in callers)
            sockets = {name: os.path.join(t.dir, "private", name) for name in names}

            def attempt():
                return {name: closed_unanswered(sockets[name], b"\n") for name in names}

            pid, results = run_as(user, attempt)
            self.assertEqual(results, {name: "closed" for name in names}, user)
            for name in names:
                self.assertIsNotNone(
                    self.wait_log(t, rb"%s\[\d+\]: warning: refused peer pid=%d uid=%d: not a caller of %s"
                                  % (re.escape(log_tag(name)), pid, uid, re.escape(name.encode()))),
                    "no warning from %s about %s (pid %d uid %d) in master.log:\n%s"
                    % (name, user, pid, uid, t.log_tail()))
            tried += len(names)
        # postern-smtp and postern-auth call nothing: refused everywhere.
        self.assertGreaterEqual(tried, 2 * len(checked))


if __name__ == "__main__":
    unittest.main()
