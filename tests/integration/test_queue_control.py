"""Queue control as postqueue / postsuper (issue 12, section 5).

- the reason a message waits is kept in queue/defer/ID and shown by
  `postern queue list` and mailq, also after qmgr was killed and restarted;
- mailq and sendmail -bp print Postfix's format (checked line by line,
  with the expression Postfix-reading scripts use, and - where Postfix is
  installed - against Postfix's own postqueue -p for the same queue);
- bulk moves on 1,000 messages: hold ALL, release - (IDs on stdin),
  delete - (the IDs of one domain), flush -d DOMAIN, delete ALL;
- requeue routes again with the maps of now;
- sendmail -N, -R, -V land in the queue file; -q30m starts nothing;
  -qRSITE flushes one site; -bv says where an address would go;
- new mail wakes qmgr at once over the trigger connections enqueue keeps,
  also after qmgr was killed and those connections broke;
- the file of a finished message is kept emptied in queue/spare/ and the
  next message is written into it (queue_spare_files; 0 turns it off).

Remote mail goes to a relayhost on a loopback port nobody listens on, so
every attempt ends deferred ("Connection refused") and the backoff keeps
the messages waiting.
"""

import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, PosternTestCase, as_user, daemon_env, is_root, free_port, wait_for  # noqa: E402

SENDMAIL = os.path.join(BIN, "sendmail")
MAILQ = os.path.join(BIN, "mailq")
SENDER = "carol@example.org"
REFUSED = "Connection refused"

# The entry line as scripts that read Postfix's mailq match it.
ENTRY_RE = re.compile(r"^([0-9A-F]+)([*!]?)\s+(\d+)\s+(\w{3}\s\w{3}\s+\d+\s\d+:\d+:\d+)\s+(.+)$")


closed_port = free_port   # a loopback port with no listener


class QueueControlCase(PosternTestCase):

    def tree(self, **conf):
        return self.start_tree_with(relayhost="[127.0.0.1]:%d" % closed_port(), minimal_backoff_time="600s",
                                    maximal_backoff_time="600s", **conf)

    def enqueue(self, t, rcpt, n=1):
        ids = []
        for i in range(n):
            a = t.enqueue_raw([("sender", SENDER), ("rcpt", rcpt)],
                              b"Subject: qc %d\nX-Test-Id: qc-%d\n\nbody %d\n" % (i, i, i))
            self.assertEqual(a.get("status"), "ok", a)
            ids.append(a["queue_id"])
        return ids

    def env(self, t):
        return dict(daemon_env(), POSTERN_DIR=t.dir)

    def mailq(self, t, argv=(MAILQ,)):
        p = subprocess.run(list(argv), env=self.env(t), timeout=120, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def all_deferred(self, t, n):
        return t.wait_queue(lambda q: len(q) == n and all(m["state"] == "deferred" for m in q), 180,
                            "%d messages deferred" % n)


class TestTrigger(PosternTestCase):

    def test_new_mail_wakes_a_restarted_qmgr_at_once(self):
        # queue_run_delay is 300 s: mail delivered within the wait below
        # was seen through the trigger, not by a periodic scan.
        t = self.start_tree()
        self.assertEqual(t.run("conf", "-d", t.dir, "-h", "queue_run_delay").stdout.decode().strip(), "300s")
        t.deliver_ids("alice", ["before-%d" % i for i in range(6)], seconds=20)
        old = t.wait_pids("qmgr")
        self.assertTrue(old)
        os.kill(old[0], 9)
        self.assertTrue(t.wait_pids("qmgr", exclude=old, seconds=30), t.log_tail())
        # The first may be found by the new qmgr's start-up scan; every
        # later one only through a trigger connection that each enqueue
        # process has to make again.
        t.deliver_ids("alice", ["first-after"], seconds=30)
        for i in range(8):
            t.deliver_ids("alice", ["after-%d" % i], seconds=20)


class TestSpareFiles(PosternTestCase):
    """qmgr keeps the emptied file of a finished message in queue/spare/
    and a new message is written into it (docs/queue.md "Spare files")."""

    def spares(self, t):
        d = os.path.join(t.dir, "queue", "spare")
        return {n: os.stat(os.path.join(d, n)) for n in os.listdir(d)}

    def removed(self, t, n):
        """The IDs of the first n messages qmgr logged as removed."""
        pat = re.compile(r"qmgr\[\d+\]: ([0-9A-F]+): removed$", re.M)
        wait_for(lambda: len(pat.findall(t.log_text())) >= n, 30, "%d removed messages" % n, detail=t.log_tail)
        return pat.findall(t.log_text())[:n]

    def test_the_next_message_is_written_into_the_emptied_file(self):
        t = self.start_tree()
        big = b"".join(b"line %05d of a longer message\r\n" % i for i in range(2000))
        t.send(t.addr("alice"), "spare-big", body=big)
        first_id, = self.removed(t, 1)
        spares = self.spares(t)
        self.assertEqual(sorted(spares), [first_id])
        self.assertEqual(spares[first_id].st_size, 0)   # nothing of the message is kept
        inode = spares[first_id].st_ino

        t.send(t.addr("alice"), "spare-short", body=b"short\r\n")
        second_id = self.removed(t, 2)[1]
        # A queue ID ends in the hex inode of its file (docs/queue.md): the
        # second message was written into the first one's file.
        self.assertNotEqual(second_id, first_id)
        self.assertTrue(second_id.endswith("%X" % inode), (second_id, inode))
        self.assertEqual({n: (s.st_ino, s.st_size) for n, s in self.spares(t).items()}, {second_id: (inode, 0)})
        path = [p for p in t.message_paths("alice") if b"spare-short" in open(p, "rb").read()]
        self.assertEqual(len(path), 1)
        data = open(path[0], "rb").read()
        self.assertTrue(data.endswith(b"\n\nshort\n"), data[-200:])
        self.assertNotIn(b"of a longer message", data)

    def test_an_empty_queue_file_is_removed_not_held(self):
        # What a crash can leave when it undoes the move of an emptied
        # file into spare/: no mail, so no message in hold/ either.
        t = self.start_tree()
        qid = "6B0000000000000ABC"
        path = os.path.join(t.dir, "queue", "incoming", qid)
        open(path, "wb").close()
        if is_root():
            import pwd
            pw = pwd.getpwnam("postern-queue")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        t.run("queue", "-d", t.dir, "flush")
        t.wait_log(qid + r": empty queue file removed: nothing to deliver")
        self.assertFalse(os.path.exists(path))
        self.assertEqual(os.listdir(os.path.join(t.dir, "queue", "hold")), [])
        self.assertEqual(os.listdir(os.path.join(t.dir, "queue", "active")), [])

    def test_hold_while_the_last_delivery_runs_keeps_the_message_whole(self):
        # `hold` of a message whose delivery is under way (allowed: the
        # delivery may still complete) once left an empty file in hold/,
        # listed as damaged: qmgr emptied its open file into spare/ after
        # the move.
        t, d = self.gated_tree()
        t.send("gate@" + t.domain, "held-under-way")
        self.wait_gate_started(t, d)
        qid = t.queue_json()[0]["id"]
        t.run("queue", "-d", t.dir, "hold", qid)
        mark = t.log_mark()
        open(os.path.join(d, "go"), "w").close()
        t.wait_log(qid + r": finished; its file was moved or deleted meanwhile", after=mark)
        self.assertNotIn(qid + ": removed", t.log_text(mark))
        q = t.queue_json()
        self.assertEqual([(m["id"], m["state"]) for m in q], [(qid, "hold")], q)
        self.assertGreater(os.path.getsize(os.path.join(t.dir, "queue", "hold", qid)), 0)
        listing = t.run("queue", "-d", t.dir, "list").stdout.decode()
        self.assertNotIn("damaged", listing)
        # released: nothing left to deliver, removed without a word of
        # damage and without a second delivery
        t.run("queue", "-d", t.dir, "release", qid)
        t.wait_log(qid + r": removed", after=mark)
        self.assertNotIn("empty queue file", t.log_text(mark))
        with open(os.path.join(d, "out")) as f:
            self.assertEqual(f.read().split(), [qid])

    def test_zero_keeps_no_spare_files(self):
        t = self.start_tree_with(queue_spare_files="0")
        for i in range(3):
            t.send(t.addr("alice"), "nospare-%d" % i)
        self.removed(t, 3)
        self.assertEqual(self.spares(t), {})


class TestBulk(QueueControlCase):

    def test_thousand_messages_hold_release_delete_flush(self):
        t = self.tree()
        one = self.enqueue(t, "x@one.test", 500)
        two = self.enqueue(t, "y@two.test", 500)
        q = self.all_deferred(t, 1000)
        self.assertEqual(sorted(m["id"] for m in q), sorted(one + two))

        # list: every message, with its reason
        text = t.run("queue", "-d", t.dir, "list").stdout.decode()
        self.assertIn("1000 messages.", text)
        self.assertEqual(text.count(REFUSED), 1000)
        self.assertRegex(self.mailq(t), r"\n-- \d+ Kbytes in 1000 Requests\.\n$")

        # hold ALL
        out = t.run("queue", "-d", t.dir, "hold", "ALL").stdout.decode()
        self.assertEqual(out, "1000 messages on hold\n")
        q = t.queue_json()
        self.assertEqual([m for m in q if m["state"] != "hold"], [])
        self.assertEqual(len(q), 1000)
        self.assertEqual(self.mailq(t).count("! "), 1000)

        # release - : the IDs of two.test on stdin; qmgr tries them again
        out = t.run("queue", "-d", t.dir, "release", "-",
                    input=("\n".join(two) + "\n").encode()).stdout.decode()
        self.assertEqual(out, "500 messages released\n")
        q = t.wait_queue(lambda q: sum(1 for m in q if m["state"] == "deferred" and m["attempts"] == 2) == 500,
                         180, "the released messages deferred again")
        self.assertEqual(sorted(m["id"] for m in q if m["state"] == "hold"), sorted(one))

        # delete by domain: the IDs of one.test from the JSON listing
        ids = [m["id"] for m in t.queue_json()
               if any(r["address"].endswith("@one.test") for r in m["recipients"])]
        self.assertEqual(len(ids), 500)
        out = t.run("queue", "-d", t.dir, "delete", "-", input=("\n".join(ids) + "\n").encode()).stdout.decode()
        self.assertEqual(out, "500 messages deleted\n")
        q = t.queue_json()
        self.assertEqual(sorted(m["id"] for m in q), sorted(two))

        # flush -d DOMAIN (after `flush`, with the tree already named)
        out = t.run("queue", "-d", t.dir, "flush", "-d", "other.test").stdout.decode()
        self.assertEqual(out, "0 deferred messages due now\n")
        out = t.run("queue", "-d", t.dir, "flush", "-d", "TWO.test").stdout.decode()
        self.assertEqual(out, "500 deferred messages due now\n")
        t.wait_queue(lambda q: len(q) == 500 and all(m["state"] == "deferred" and m["attempts"] == 3 for m in q),
                     180, "the flushed messages tried a third time")

        # delete ALL: nothing left, not even a reason
        out = t.run("queue", "-d", t.dir, "delete", "ALL").stdout.decode()
        self.assertEqual(out, "500 messages deleted\n")
        self.assertEqual(t.queue_json(), [])
        self.assertEqual(os.listdir(os.path.join(t.dir, "queue", "defer")), [])
        self.assertEqual(self.mailq(t), "Mail queue is empty\n")

    def test_bulk_input_errors(self):
        t = self.tree()
        qid = self.enqueue(t, "x@one.test")[0]
        self.all_deferred(t, 1)
        # a line that is not an ID stops the command before anything moves
        p = t.run("queue", "-d", t.dir, "hold", "-", input=b"%s\nnot-an-id\n" % qid.encode(), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"stdin line 2: not a queue ID: not-an-id", p.stdout)
        self.assertEqual(t.queue_json()[0]["state"], "deferred")
        # an ID no longer queued is counted as failed, the others move
        gone = "6B00000000000000001"
        p = t.run("queue", "-d", t.dir, "hold", "-", input=b"\n %s \n%s\n" % (qid.encode(), gone.encode()),
                  check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"%s: no such message in the queue" % gone.encode(), p.stdout)
        self.assertIn(b"1 message on hold, 1 failed\n", p.stdout)
        self.assertEqual(t.queue_json()[0]["state"], "hold")
        # release ALL takes only held mail; requeue ALL the deferred and held
        self.assertEqual(t.run("queue", "-d", t.dir, "requeue", "ALL").stdout, b"1 message requeued\n")
        t.wait_queue(lambda q: q[0]["state"] == "deferred" and q[0]["attempts"] == 1, 60,
                     "one attempt after the requeue")
        self.assertEqual(t.run("queue", "-d", t.dir, "show", "ALL", check=False).returncode, 1)


class TestReasons(QueueControlCase):

    def reason_lines(self, text, qid):
        block = text.split("%s " % qid, 1)[1].split("\n\n", 1)[0]
        return [l.strip() for l in block.splitlines() if l.strip().startswith("(")]

    def test_reason_shown_before_and_after_a_qmgr_restart(self):
        t = self.tree()
        qid = self.enqueue(t, "x@one.test")[0]
        self.all_deferred(t, 1)
        before = self.mailq(t)
        reasons = self.reason_lines(before, qid)
        self.assertEqual(len(reasons), 1, before)
        self.assertIn(REFUSED, reasons[0])
        listing = t.run("queue", "-d", t.dir, "list").stdout.decode()
        self.assertRegex(listing, r"pending   <x@one\.test> \(connect to .*%s\)" % REFUSED)
        self.assertIn(REFUSED, t.queue_json()[0]["recipients"][0]["reason"])
        with open(os.path.join(t.dir, "queue", "defer", qid)) as f:
            self.assertIn("rcpt=x@one.test\ndsn=4.4.1\nreason=connect to ", f.read())

        # kill qmgr; the master starts another, which knows nothing in memory
        old = t.wait_pids("qmgr")
        self.assertTrue(old)
        os.kill(old[0], 9)
        new = t.wait_pids("qmgr", exclude=old, seconds=30)
        self.assertTrue(new, t.log_tail())
        self.assertEqual(self.mailq(t), before)
        self.assertEqual(t.run("queue", "-d", t.dir, "list").stdout.decode(), listing)

    def test_damaged_reason_file_is_ignored(self):
        t = self.tree()
        qid = self.enqueue(t, "x@one.test")[0]
        self.all_deferred(t, 1)
        with open(os.path.join(t.dir, "queue", "defer", qid), "w") as f:
            f.write("garbage\n")
        out = self.mailq(t)
        self.assertEqual(self.reason_lines(out, qid), [])
        self.assertIn("x@one.test", out)


class TestMailqFormat(QueueControlCase):

    def test_postfix_format_line_by_line(self):
        t = self.tree()
        self.assertEqual(self.mailq(t), "Mail queue is empty\n")
        deferred = self.enqueue(t, "x@one.test")[0]
        held = self.enqueue(t, "y@two.test")[0]
        null = t.enqueue_raw([("sender", ""), ("rcpt", "z@one.test")], b"Subject: n\n\nnull sender\n")["queue_id"]
        self.all_deferred(t, 3)
        t.run("queue", "-d", t.dir, "hold", held)
        for argv in ([MAILQ], [SENDMAIL, "-bp"]):
            out = self.mailq(t, argv)
            lines = out.split("\n")
            self.assertEqual(lines[0], "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------")
            self.assertEqual(lines[-1], "")
            self.assertRegex(lines[-2], r"^-- \d+ Kbytes in 3 Requests\.$")
            entries = {}
            block = []
            for line in lines[1:-2]:
                if line == "":
                    entries[ENTRY_RE.match(block[0]).group(1)] = block
                    block = []
                else:
                    block.append(line)
            self.assertEqual(block, [])
            self.assertEqual(sorted(entries), sorted([deferred, held, null]))
            for qid, rcpt, sender, mark in ((deferred, "x@one.test", SENDER, ""), (held, "y@two.test", SENDER, "!"),
                                            (null, "z@one.test", "MAILER-DAEMON", "")):
                b = entries[qid]
                m = ENTRY_RE.match(b[0])
                self.assertEqual((m.group(2), m.group(5)), (mark, sender), b)
                self.assertEqual(len(b), 3, b)
                # the reason as Postfix pads it: ending at column 78 when short
                self.assertRegex(b[1], r"^ *\(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: %s\)$" % REFUSED)
                self.assertEqual(len(b[1]), 78)
                self.assertEqual(b[2], " " * 41 + rcpt)
                # the columns of the header
                # Postfix's "%-11s %7ld %20.20s %s": the mark after the ID,
                # the columns pushed right by IDs longer than 11 as Postfix's are
                w = max(11, len(qid) + 1)
                self.assertEqual(b[0][:w], ("%s%s" % (qid, mark)).ljust(w))
                self.assertEqual(b[0][w:w + 9], " %7d " % int(m.group(3)))
                self.assertEqual(b[0][w + 9:w + 30], "%-20s " % m.group(4))
            self.assertEqual(out.count("\n\n"), 3)
        # the operator's command prints the same with --mailq
        self.assertEqual(t.run("queue", "-d", t.dir, "list", "--mailq").stdout.decode(), self.mailq(t))


def mailq_shape(text):
    """A listing with what differs between two systems made neutral:
    queue IDs, sizes, dates, ports, the active mark; columns as
    blank-separated tokens, but the reason line's padding (it ends at
    column 78) kept."""
    out = []
    for line in text.splitlines():
        m = ENTRY_RE.match(line)
        if m:
            # "*" (being delivered now) is a moment's state: a message
            # retried while the listing was made is still one waiting
            mark = "" if m.group(2) == "*" else m.group(2)
            out.append("ID%s SIZE DATE %s" % (mark, m.group(5)))
        elif line.lstrip().startswith("("):
            out.append("REASON(%d) %s" % (len(line), re.sub(r":\d+:", ":PORT:", line.strip())))
        else:
            out.append(re.sub(r"^-- \d+ Kbytes", "-- K Kbytes", line))
    return out


@unittest.skipUnless(shutil.which("postfix") and shutil.which("postqueue") and is_root(),
                     "needs Postfix (postfix, postqueue) and root to compare with the real mailq")
class TestMailqLikePostfix(QueueControlCase):
    """The same queue in Postfix and in Postern: a message to a closed
    relay port, one from <> with two recipients, one on hold; Postfix's
    own postqueue -p and Postern's mailq must have the same shape."""

    def start_postfix(self):
        d = tempfile.mkdtemp(prefix="postern-it-postfix-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)   # Postfix's daemons (user postfix) work below it
        for sub in ("etc", "spool", "data"):
            os.mkdir(os.path.join(d, sub))
        shutil.chown(os.path.join(d, "data"), "postfix")
        open(os.path.join(d, "etc", "main.cf"), "w").close()
        port = closed_port()
        with open("/usr/share/postfix/master.cf.dist") as f:
            master = re.sub(r"(?m)^smtp(\s+)inet.*$", "127.0.0.1:%d inet n - n - - smtpd" % port, f.read())
        with open(os.path.join(d, "etc", "master.cf"), "w") as f:
            f.write(master)
        etc = os.path.join(d, "etc")
        subprocess.run(["postconf", "-c", etc, "-e", "queue_directory = %s/spool" % d,
                        "data_directory = %s/data" % d, "myhostname = qc-postfix.test", "mydestination =",
                        "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4", "mynetworks = 127.0.0.0/8",
                        "relayhost = [127.0.0.1]:%d" % closed_port(), "maillog_file = %s/maillog" % d,
                        "maillog_file_prefixes = %s" % d, "compatibility_level = 3.6", "alias_maps =",
                        "alias_database =", "local_recipient_maps =",
                        "smtpd_relay_restrictions = permit_mynetworks, reject"], check=True, timeout=60)
        p = subprocess.run(["postfix", "-c", etc, "start"], timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.addCleanup(subprocess.run, ["postfix", "-c", etc, "stop"], timeout=60,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        smtp = wait_for(lambda: smtplib.SMTP("127.0.0.1", port, timeout=10), 30, "Postfix's smtpd",
                        ignore=(OSError,))
        return etc, smtp

    def test_same_shape_as_postfix(self):
        etc, smtp = self.start_postfix()
        try:
            smtp.sendmail(SENDER, ["x@one.test"], "Subject: a\n\nhi\n")
            smtp.sendmail("", ["y@two.test", "z@two.test"], "Subject: b\n\nhi\n")
            smtp.sendmail(SENDER, ["w@one.test"], "Subject: c\n\nhi\n")
        finally:
            smtp.quit()

        def postqueue():
            return subprocess.run(["postqueue", "-c", etc, "-p"], stdout=subprocess.PIPE, timeout=60,
                                  check=True).stdout.decode()
        pf = wait_for(lambda: (lambda t: t if t.count("Connection refused") == 3 else None)(postqueue()), 60,
                      "three messages deferred by Postfix")
        w_block = [b for b in pf.split("\n\n") if "w@one.test" in b][0]
        w_id = [m.group(1) for m in map(ENTRY_RE.match, w_block.splitlines()) if m][0]
        p = subprocess.run(["postsuper", "-c", etc, "-h", w_id], timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertIn(b"%s: placed on hold" % w_id.encode(), p.stdout)
        pf = postqueue()

        t = self.tree()
        self.enqueue(t, "x@one.test")
        self.assertEqual(t.enqueue_raw([("sender", ""), ("rcpt", "y@two.test"), ("rcpt", "z@two.test")],
                                       b"Subject: b\n\nhi\n")["status"], "ok")
        w = self.enqueue(t, "w@one.test")[0]
        self.all_deferred(t, 3)
        t.run("queue", "-d", t.dir, "hold", w)
        ours = self.mailq(t)

        def blocks(text):
            shape = mailq_shape(text)
            return shape[0], sorted("\n".join(b) for b in split_blocks(shape[1:-1])), shape[-1]
        self.assertEqual(blocks(ours), blocks(pf), "Postern:\n%s\nPostfix:\n%s" % (ours, pf))


def split_blocks(lines):
    block, out = [], []
    for line in lines:
        if line == "":
            out.append(block)
            block = []
        else:
            block.append(line)
    return out + ([block] if block else [])


class TestRequeue(QueueControlCase):

    def test_requeue_routes_again(self):
        """A message deferred for a remote domain is delivered locally
        once the domain is local and the message requeued."""
        t = self.tree()
        qid = self.enqueue(t, "alice@later.test")[0]
        self.all_deferred(t, 1)
        self.assertTrue(os.path.exists(os.path.join(t.dir, "queue", "defer", qid)))
        with open(os.path.join(t.dir, "etc", "domains"), "a") as f:
            f.write("later.test\n")
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write("alice@later.test: alice@%s\n" % t.domain)
        t.run("map", "-d", t.dir, "domains")
        t.run("map", "-d", t.dir, "aliases")
        self.assertEqual(t.run("queue", "-d", t.dir, "requeue", qid).stdout.decode(), "%s: requeued\n" % qid)
        t.wait_ids("alice", {"qc-0": 1}, 60)
        t.wait_queue(lambda q: q == [], 60, "the queue empty")


class TestSendmailOptions(QueueControlCase):

    def sendmail(self, t, *args, body=b"Subject: s\n\nhi\n"):
        return subprocess.run([SENDMAIL] + list(args), input=body, env=self.env(t), timeout=60,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def test_dsn_options_land_in_the_queue_file(self):
        t = self.tree()
        p = self.sendmail(t, "-f", SENDER, "-N", "success,Delay", "-R", "hdrs", "-V", "ENV-42", "x@one.test")
        self.assertEqual(p.returncode, 0, p.stderr)
        q = self.all_deferred(t, 1)
        show = t.run("queue", "-d", t.dir, "show", q[0]["id"]).stdout.decode()
        # The arrival as list prints it (local time), not unix seconds.
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(q[0]["arrival"]))
        self.assertIn("\narrival: %s\nattempts: " % when, show)
        self.assertIn("\nenvid: ENV-42\n", show)
        self.assertIn("\nret: HDRS\n", show)
        self.assertIn("recipient: <x@one.test> pending notify=SUCCESS,DELAY\n", show)
        p = self.sendmail(t, "-N", "never", "-R", "full", "y@one.test")
        self.assertEqual(p.returncode, 0, p.stderr)
        q = self.all_deferred(t, 2)
        other = [m["id"] for m in q if m["recipients"][0]["address"] == "y@one.test"][0]
        show = t.run("queue", "-d", t.dir, "show", other).stdout.decode()
        self.assertIn("\nret: FULL\n", show)
        self.assertNotIn("envid:", show)
        self.assertIn("recipient: <y@one.test> pending notify=NEVER\n", show)
        for bad in (["-N", "sometimes"], ["-R", "most"], ["-V", "x" * 101]):
            p = self.sendmail(t, *(bad + ["x@one.test"]))
            self.assertEqual(p.returncode, 64, (bad, p.stderr))
        self.assertEqual(len(t.queue_json()), 2)

    def test_q_interval_and_q_site(self):
        t = self.tree()
        self.enqueue(t, "x@one.test")
        self.enqueue(t, "y@two.test")
        self.all_deferred(t, 2)
        for arg in ("-q30m", "-q1h30m", "-q15"):
            p = self.sendmail(t, arg)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"nothing started", p.stderr)
            self.assertEqual(p.stdout, b"")
        self.assertEqual(self.sendmail(t, "-q3x").returncode, 64)
        p = self.sendmail(t, "-qRtwo.test")
        self.assertEqual((p.returncode, p.stdout), (0, b"1 deferred message due now\n"), p.stderr)
        p = self.sendmail(t, "-qR", "nowhere.test")
        self.assertEqual((p.returncode, p.stdout), (0, b"0 deferred messages due now\n"), p.stderr)
        q = t.wait_queue(lambda q: any(m["attempts"] == 2 for m in q), 60, "two.test tried again")
        self.assertEqual({m["recipients"][0]["address"]: m["attempts"] for m in q},
                         {"x@one.test": 1, "y@two.test": 2})

    def test_bv_says_where_mail_would_go(self):
        t = self.tree()
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write("team: alice, bob@%s, far@remote.test\n" % t.domain)
        t.run("map", "-d", t.dir, "aliases")
        p = self.sendmail(t, "-bv", "alice@%s" % t.domain, body=b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), "alice@%s: deliverable\n  mailbox of <alice@%s>: %s/alice/ "
                         "(in the mail root)\n" % (t.domain, t.domain, t.domain))
        p = self.sendmail(t, "-bv", "team@%s" % t.domain, body=b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(lines[0], "team@%s: deliverable" % t.domain)
        self.assertEqual(sorted(lines[1:]), sorted([
            "  mailbox of <alice@%s>: %s/alice/ (in the mail root)" % (t.domain, t.domain),
            "  mailbox of <bob@%s>: %s/bob/ (in the mail root)" % (t.domain, t.domain),
            "  forwarded to <far@remote.test> (queued again)"]))
        p = self.sendmail(t, "-bv", "someone@Remote.Test", body=b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.decode(),
                         r"^someone@Remote\.Test: deliverable\n  remote, via the relayhost \[127\.0\.0\.1\]:\d+\n$")
        p = self.sendmail(t, "-bv", "nobody@%s" % t.domain, "alice@%s" % t.domain, body=b"")
        self.assertEqual(p.returncode, 67, p.stderr)
        self.assertIn("nobody@%s: undeliverable: 5.1.1 user unknown\n" % t.domain, p.stdout.decode())
        self.assertIn("alice@%s: deliverable\n" % t.domain, p.stdout.decode())
        # nothing was queued or delivered
        self.assertEqual(t.queue_json(), [])
        self.assertEqual(t.count("alice"), 0)

    @unittest.skipUnless(is_root(), "needs root: a user who may not read the mail root of a tree root made")
    def test_bv_that_cannot_look_is_no_verdict(self):
        # local verify fails to run for a user who may not enter the mail
        # root: that is "try again" (75), not "undeliverable" (67).
        t = self.tree()
        p = subprocess.run([os.path.join(t.bin_for_others(), "sendmail"), "-bv", "alice@%s" % t.domain],
                           input=b"", env=self.env(t), timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, **as_user("nobody"))
        self.assertEqual(p.returncode, 75, (p.stdout, p.stderr))
        self.assertEqual(p.stdout.decode(), "alice@%s: not checked: local verify failed (exit 1)\n" % t.domain, p.stderr)
        self.assertIn(b"Permission denied", p.stderr)

    def test_bad_sender_is_a_data_error(self):
        t = self.tree()
        p = self.sendmail(t, "-f", "bad addr@@", "alice@%s" % t.domain)
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertEqual(p.stderr.decode(), "sendmail: bad sender address: bad addr@@\n")


if __name__ == "__main__":
    unittest.main()
