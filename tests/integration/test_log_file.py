"""log_file in postern.conf: the log of a mail system started in the
background where no syslog daemon runs (issue 9, item 6; docs/master.md,
"Log file").

The master is started the way an operator starts it, `postern start`
without -f (it daemonizes, so it is not our child: it is stopped with
`postern stop`, and killed through run/master.pid if that fails).  Every
line must be in the format syslog daemons write, so that mail log tools
read it; after a logrotate-style rename and `postern reload` every
process, including one that was serving a client across the reload,
writes into the new file and none into the old one."""

import os
import re
import signal
import smtplib
import socket
import subprocess
import unittest

import postern_harness
from postern_harness import (POSTERN, SANITIZER_PATTERNS, SCALE, PosternTestCase, Tree, daemon_env,
                             make_message, pid_alive_as, postern_children, read_greeting)

MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
HOST = socket.gethostname().split(".")[0]
# Mmm dd hh:mm:ss host postern/SERVICE[pid]: text   (RFC 3164 stamp; SERVICE may be
# submission/smtpd)
LINE = re.compile(r"^(?:%s) [ 1-3]\d \d\d:\d\d:\d\d %s postern/([a-z0-9/-]+)\[(\d+)\]: (.*)$"
                  % (MONTHS, re.escape(HOST)))
QUEUE_ID = r"[0-9A-F]{10,}"
# The processes one message passes through, each with a line naming its queue ID.
MESSAGE_SERVICES = ("smtpd", "enqueue", "qmgr", "local")


def wait_for(check, seconds):
    """check() until it returns something true, under the harness's one
    deadline; its last value at the deadline (the caller asserts)."""
    return postern_harness.wait_for(check, seconds, "a log state", fail=False)


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def parse(lines):
    """[(service, pid, text)] of the lines; a line in another format fails."""
    out = []
    for line in lines:
        m = LINE.match(line)
        if m is None:
            raise AssertionError("log line not in the syslog file format: %r" % line)
        out.append((m.group(1), int(m.group(2)), m.group(3)))
    return out


class LogFile(PosternTestCase):

    def background_tree(self, **conf):
        """A tree (not started) whose master will run in the background."""
        t = Tree()
        self._trees.append(t)
        t.init()
        t.set_conf(**conf)
        self.children = {}
        self.addCleanup(self.stop_background, t)
        return t

    def start_background(self, t):
        """`postern start -d DIR`; its output."""
        p = t.run("start", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "postern start:\n" + out)
        self.master_pid = t.pidfile_pid()
        self.children = postern_children(self.master_pid)
        ok = wait_for(lambda: read_greeting(t.port("smtp"), b"220", timeout=2 * SCALE), 20)
        self.assertTrue(ok, "SMTP does not answer after postern start:\n" + out)
        return out

    def stop_background(self, t):
        pid = t.pidfile_pid()
        if pid is None:
            return
        self.children.update(postern_children(pid))
        p = t.run("stop", "-d", t.dir, check=False, timeout=90)
        if p.returncode != 0 or t.pidfile_pid() is not None:
            for child, a0 in list(self.children.items()) + [(pid, None)]:
                if a0 is None or pid_alive_as(child, a0):
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            raise AssertionError("postern stop failed:\n" + p.stdout.decode("utf-8", "replace"))

    def queue_ids_delivered(self, path, user):
        """Queue IDs that local delivered to user, in the order logged."""
        pat = re.compile(r"^(%s): to=<%s>, relay=local, delay=\S+, delays=\S+, dsn=\S+, status=sent" % (QUEUE_ID, re.escape(user)))
        return [m.group(1) for svc, _, text in parse(read_lines(path))
                if svc == "local" and (m := pat.match(text))]

    def wait_message_logged(self, path, user, known):
        """The queue ID of a message delivered to user that is not in known,
        once every process it passed through has logged it."""
        def logged():
            new = [q for q in self.queue_ids_delivered(path, user) if q not in known]
            if not new:
                return None
            qid = new[0]
            entries = parse(read_lines(path))
            have = {svc for svc, _, text in entries if text.startswith(qid + ":")}
            removed = any(svc == "qmgr" and text == qid + ": removed" for svc, _, text in entries)
            return qid if removed and set(MESSAGE_SERVICES) <= have else None
        qid = wait_for(logged, 30)
        self.assertTrue(qid, "no message to %s logged by every one of %s in %s:\n%s"
                        % (user, MESSAGE_SERVICES, path, "\n".join(read_lines(path)[-40:])))
        return qid

    def assert_no_sanitizer_reports(self, *paths):
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            hits = [l for l in data.splitlines() if any(p in l for p in SANITIZER_PATTERNS)]
            self.assertEqual(hits, [], "sanitizer reports in %s" % path)

    def test_log_file_gets_every_process_and_follows_a_rotation(self):
        t = self.background_tree(log_file="log/maillog")
        os.mkdir(os.path.join(t.dir, "log"))
        path = os.path.join(t.dir, "log", "maillog")
        rotated = path + ".1"
        bob = t.addr("bob")

        out = self.start_background(t)
        self.assertIn("logging to %s" % path, out, "postern start does not say where the log goes")
        t.send(bob, "before-rotation")
        first = self.wait_message_logged(path, bob, ())
        entries = parse(read_lines(path))
        self.assertTrue(any(svc == "master" and pid == self.master_pid and text.startswith("started")
                            for svc, pid, text in entries), "no start line of the master")

        # A session that starts before the rotation and sends after it:
        # its smtpd lives across the reopen (a busy process finishes its
        # client after a reload) and must not keep the old file.
        connects = lambda: [pid for svc, pid, text in parse(read_lines(path))
                            if svc == "smtpd" and text.startswith("connect from")]
        before = len(connects())
        s = smtplib.SMTP("127.0.0.1", t.port("smtp"), local_hostname="client.example", timeout=60 * SCALE)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertTrue(wait_for(lambda: len(connects()) > before, 10),
                        "the session's connect line is not in the log")
        session_pid = connects()[before]

        os.rename(path, rotated)
        t.run("reload", "-d", t.dir)
        self.assertTrue(wait_for(lambda: any(svc == "master" and text == "log file reopened"
                                                       for svc, _, text in parse(read_lines(path))), 10),
                        "the master did not reopen %s after reload" % path)
        s.sendmail("sender@example.org", [bob], make_message("across-reload", "sender@example.org", bob,
                                                             b"hello\r\n"))
        s.quit()
        second = self.wait_message_logged(path, bob, (first,))
        t.send(bob, "after-rotation")
        third = self.wait_message_logged(path, bob, (first, second))

        new = parse(read_lines(path))
        pids = {pid for svc, pid, text in new if svc == "smtpd" and text.startswith(second + ":")}
        self.assertIn(session_pid, pids, "the session's smtpd (pid %d, from before the rotation) did not log its "
                      "message into the new file" % session_pid)
        old = parse(read_lines(rotated))
        self.assertTrue(any(text.startswith(first + ":") for _, _, text in old))
        for qid in (second, third):
            late = [e for e in old if e[2].startswith(qid + ":")]
            self.assertEqual(late, [], "lines about %s went to the rotated file" % qid)
        # Once reopened, nothing more is written into the rotated file.
        size = os.path.getsize(rotated)

        self.stop_background(t)
        self.assertEqual(os.path.getsize(rotated), size, "the rotated file grew after the reopen")
        self.assertEqual(parse(read_lines(path))[-1], ("master", self.master_pid, "stopped"),
                         "the master's last line is not in the new file")
        self.assert_no_sanitizer_reports(path, rotated)

    def test_start_without_syslog_daemon_says_so(self):
        t = self.background_tree()
        out = self.start_background(t)
        warned = re.search(r"no syslog daemon at /dev/log.*log_file", out)
        if syslog_listens():
            self.assertIsNone(warned, "warning although a syslog daemon listens:\n" + out)
        else:
            self.assertTrue(warned, "postern start does not warn that the log is lost:\n" + out)

    def test_log_file_dash_is_stderr_in_the_file_format(self):
        t = self.start_tree(start=False)
        t.set_conf(log_file="-")
        t.start()
        t.send(t.addr("bob"), "dash")
        path = t.log_path   # the harness sends the master's stderr there

        def logged():
            lines = [l for l in read_lines(path) if LINE.match(l)]
            services = {LINE.match(l).group(1) for l in lines
                        if re.search(r"\]: %s: " % QUEUE_ID, l)}
            return services if set(MESSAGE_SERVICES) <= services else None
        self.assertTrue(wait_for(logged, 30),
                        "not every process logged to stderr in the file format:\n" + t.log_tail())

    def test_unusable_log_file_stops_start_with_a_message(self):
        t = self.background_tree(log_file="no/such/dir/maillog")
        p = t.run("start", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, "postern start with an unusable log_file:\n" + out)
        self.assertRegex(out, r"log_file .*no/such/dir/maillog: No such file or directory", out)
        self.assertIsNone(t.pidfile_pid())

    def test_start_with_a_port_taken_says_why_at_once(self):
        # The daemonizing master's parent waits for it on the terminal:
        # `postern start` once waited 10 s for a pid file and said only
        # "see the mail log", which syslog-less machines lose.
        t = self.background_tree()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", t.port("imap")))
            taken.listen(1)
            p = t.run("start", "-d", t.dir, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, out)
        self.assertIn("master: warning: service imap: cannot listen on 127.0.0.1:%d: Address already in use\n"
                      % t.port("imap"), out)
        self.assertIn("master: fatal: cannot start the services\n", out)
        self.assertIn("the master failed to start", out)
        self.assertNotIn("did not write", out)
        self.assertIsNone(t.pidfile_pid())


def syslog_listens():
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_UNIX, kind)
        try:
            s.connect("/dev/log")
            return True
        except OSError:
            pass
        finally:
            s.close()
    return False


if __name__ == "__main__":
    unittest.main()
