"""Queue manager: delivery status notifications (RFC 3464), NOTIFY / RET /
ENVID / ORCPT, the null sender, delay warnings, expiry, routing to the
remote transport, and the `postern queue` command.

Messages are injected with the enqueue protocol itself (DIR/private/enqueue),
so that the DSN fields do not depend on the SMTP server.  Mail to a domain
that is not local goes to the `remote` transport; instead of the real agent
these tests bind a fake one (FakeRemote) at DIR/queue/private/remote, the
path qmgr connects to inside its root, after removing the `remote` service
from master.conf so that the master does not own that name.
"""

import os
import re
import socket
import threading
import time
import unittest

from postern_harness import PosternTestCase, is_root, wait_for

SENDER = "alice@example.test"


def unescape(v):
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), v)


class FakeRemote:
    """A remote delivery agent speaking docs/protocols.md "local": reads a
    request record with the queue file descriptor, answers per recipient
    from policy(rcpt) -> (status, dsn, reason)."""

    def __init__(self, tree, policy):
        self.path = os.path.join(tree.dir, "queue", "private", "remote")
        self.policy = policy
        self.requests = []          # (fields, message bytes)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)   # qmgr runs as postern-queue under root
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(10)
        buf, fd = b"", None
        try:
            while True:
                while b"\n\n" not in buf:
                    data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
                    if not data:
                        return
                    buf += data
                    for f in fds:
                        if fd is None:
                            fd = f
                        else:
                            os.close(f)
                rec, buf = buf.split(b"\n\n", 1)
                fields = []
                for line in rec.decode("utf-8").split("\n"):
                    k, _, v = line.partition("=")
                    fields.append((k, unescape(v)))
                f = dict(fields)
                msg = os.pread(fd, int(f["size"]), int(f["offset"]))
                os.close(fd)
                fd = None
                self.requests.append((fields, msg))
                out = b""
                for k, v in fields:
                    if k == "rcpt":
                        answer = self.policy(v)
                        status, dsn, reason = answer[:3]
                        out += ("rcpt=%s\nstatus=%s\ndsn=%s\nreason=%s\n" % (v, status, dsn, reason)).encode()
                        if len(answer) > 3:
                            out += ("action=%s\n" % answer[3]).encode()
                        out += b"\n"
                conn.sendall(out)
        except (OSError, KeyError, ValueError):
            return
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


def remote_policy(rcpt):
    if rcpt.startswith("said@"):   # as the remote agent words a server's reply
        return ("failed", "5.1.1", "host mx.remote.test[192.0.2.25]:25 said: 550 5.1.1 <%s>: no such user "
                "(in reply to RCPT TO command)" % rcpt)
    if rcpt.startswith("gone@"):
        return "failed", "5.1.1", "550 5.1.1 <%s>: no such user here" % rcpt
    if rcpt.startswith("relayed@") or rcpt.startswith("passed@"):
        return "delivered", "2.0.0", "250 2.0.0 ok", rcpt.split("@")[0]
    return "delivered", "2.0.0", "250 2.0.0 ok"


class QueueDsn(PosternTestCase):

    def tree(self, aliases="", **conf):
        t = self.start_tree(start=False)
        t.drop_service("remote")
        if aliases:
            with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
                f.write(aliases)
            t.run("map", "-d", t.dir, "aliases")
        base = {"qmgr_local_retry_time": "1s", "minimal_backoff_time": "1s",
                "maximal_backoff_time": "2s", "queue_run_delay": "5s"}
        base.update(conf)
        t.set_conf(**base)
        t.start()
        return t

    def enqueue(self, tree, rcpts, sender=SENDER, extra=(), body=None, test_id="q"):
        fields = [("sender", sender)]
        for r in rcpts:
            if isinstance(r, tuple):
                fields.append(("rcpt", r[0]))
                fields.extend(r[1])
            else:
                fields.append(("rcpt", r))
        fields.extend(extra)
        data = body or ("X-Test-Id: %s\nSubject: test %s\nFrom: <%s>\n\nbody of %s\n"
                        % (test_id, test_id, sender, test_id)).encode()
        # A reload restarts the services: a connection may be cut
        # before the answer (nothing was accepted then), so try again.
        answer = wait_for(lambda: tree.enqueue_raw(fields, data), 10, "an answer from enqueue",
                          ignore=(ConnectionError, FileNotFoundError), interval=0.2)
        self.assertEqual(answer.get("status"), "ok", answer)
        return answer["queue_id"]

    def reports(self, tree, user):
        """The messages in user's Maildir that are reports."""
        reports = []
        for p in tree.message_paths(user):
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            if b"multipart/report" in data:
                reports.append(data.decode("utf-8", "replace"))
        return reports

    def wait_reports(self, tree, user, n, seconds=30):
        """The messages in user's Maildir that are reports, at least n
        (fewer at the deadline: the caller asserts)."""
        wait_for(lambda: len(self.reports(tree, user)) >= n, seconds, "%d reports for %s" % (n, user),
                 fail=False, interval=0.2)
        return self.reports(tree, user)

    def wait_queue_empty(self, tree, seconds=30):
        """The queue once empty ([]); what is left at the deadline.  An
        empty queue also means that every report qmgr queued has been
        delivered: qmgr queues a report before it removes the message."""
        wait_for(lambda: not tree.queue_json(), seconds, "an empty queue", fail=False, interval=0.3)
        return tree.queue_json()

    # ---- reports to the sender

    def test_bounce_reaches_sender_with_dsn_fields(self):
        t = self.tree()
        qid = self.enqueue(t, [("nosuch@example.test", [("notify", "FAILURE"),
                                                        ("orcpt", "rfc822;NoSuch@Example.test")]),
                               ("bob@example.test", [("notify", "SUCCESS,FAILURE")])],
                           extra=[("envid", "ENV-42"), ("ret", "HDRS")], test_id="b1")
        reports = self.wait_reports(t, "alice", 1)
        self.assertEqual(len(reports), 1, t.log_tail())
        r = reports[0]
        self.assertIn("Return-Path: <>", r)
        self.assertIn("Subject: Undelivered Mail Returned to Sender", r)
        self.assertIn("Content-Type: multipart/report; report-type=delivery-status;", r)
        self.assertIn("Content-Type: message/delivery-status", r)
        self.assertRegex(r, r"Reporting-MTA: dns; \S+")
        self.assertIn("X-Postern-Queue-ID: %s" % qid, r)
        self.assertIn("Original-Envelope-Id: ENV-42", r)
        self.assertRegex(r, r"Arrival-Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000")
        self.assertIn("Final-Recipient: rfc822; nosuch@example.test\n"
                      "Original-Recipient: rfc822;NoSuch@Example.test\n"
                      "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Postern; ", r)
        self.assertRegex(r, r"Last-Attempt-Date: \w{3}, ")
        # NOTIFY=SUCCESS: bob's delivery is in the same report.
        self.assertIn("Final-Recipient: rfc822; bob@example.test\nAction: delivered\nStatus: 2.0.0", r)
        # RET=HDRS: the header of the original, not its body.
        self.assertIn("Content-Type: text/rfc822-headers", r)
        self.assertIn("X-Test-Id: b1", r)
        self.assertNotIn("body of b1", r)
        self.assertEqual(t.test_ids("bob").get("b1"), 1)
        self.assertEqual(self.wait_queue_empty(t), [])

    def test_full_message_returned_by_default_and_never_means_none(self):
        t = self.tree()
        self.enqueue(t, [("nosuch@example.test", [("notify", "NEVER")])], test_id="n1")
        self.enqueue(t, ["nosuch2@example.test"], test_id="f1")
        reports = self.wait_reports(t, "alice", 1)
        # Both messages gone from the queue: any report for n1 would be
        # delivered by now (see wait_queue_empty).
        self.assertEqual(self.wait_queue_empty(t), [])
        reports = self.reports(t, "alice")
        self.assertEqual(len(reports), 1, "NOTIFY=NEVER must not produce a report")
        r = reports[0]
        self.assertIn("Final-Recipient: rfc822; nosuch2@example.test", r)
        self.assertNotIn("nosuch@example.test", r)
        self.assertIn("Content-Type: message/rfc822", r)
        self.assertIn("body of f1", r)

    def test_null_sender_failure_goes_to_postmaster_once(self):
        t = self.tree(bounce_notice_recipient="bob@example.test")
        self.enqueue(t, ["nosuch@example.test"], sender="", test_id="z1")
        reports = self.wait_reports(t, "bob", 1)
        self.assertEqual(len(reports), 1, t.log_tail())
        self.assertIn("Subject: Undeliverable delivery status notification", reports[0])
        self.assertIn("Final-Recipient: rfc822; nosuch@example.test", reports[0])
        self.assertEqual(self.wait_queue_empty(t), [])
        self.assertEqual(self.reports(t, "alice"), [])   # nothing to the null sender's "owner"

    def test_undeliverable_postmaster_notice_is_dropped_with_a_log_line(self):
        t = self.tree(bounce_notice_recipient="nobody@example.test")
        self.enqueue(t, ["nosuch@example.test"], sender="", test_id="z2")
        t.wait_log(r"to=<nobody@example\.test>, notice to the postmaster undeliverable; dropped")
        self.assertEqual(self.wait_queue_empty(t), [])

    # ---- deferral: delay warnings and expiry

    def test_delay_warning_then_expiry_bounce(self):
        # No remote agent: mail for other domains is deferred, then expires.
        t = self.tree(delay_warning_time="1s", maximal_queue_lifetime="4s")
        qid = self.enqueue(t, ["someone@elsewhere.test"], test_id="d1")
        reports = self.wait_reports(t, "alice", 2, seconds=40)
        self.assertEqual(len(reports), 2, t.log_tail())
        delayed = [r for r in reports if "Action: delayed" in r]
        failed = [r for r in reports if "Action: failed" in r]
        self.assertEqual(len(delayed), 1)
        self.assertEqual(len(failed), 1)
        self.assertIn("Subject: Delayed Mail (still being retried)", delayed[0])
        self.assertIn("Will-Retry-Until:", delayed[0])
        self.assertIn("Status: 4.4.7", failed[0])
        # the age in its largest whole unit (it said "after 0 days")
        self.assertRegex(failed[0], r"message expired after (?:[4-9]|[1-5]\d) seconds in the queue")
        # and why it waited: the last deferral's reason (a sender could
        # not tell before)
        self.assertRegex(failed[0].replace("\n ", " "),
                         r"Diagnostic-Code: X-Postern; message expired after \d+ seconds in the queue; "
                         r"the last attempt: delivery agent not installed")
        self.assertIn("X-Postern-Queue-ID: %s" % qid, failed[0])
        self.assertEqual(self.wait_queue_empty(t), [])

    # ---- routing to the remote transport

    def test_remote_transport_gets_request_with_dsn_fields(self):
        t = self.tree()
        fake = FakeRemote(t, remote_policy)
        self.addCleanup(fake.stop)
        self.enqueue(t, [("x@remote.test", [("notify", "SUCCESS,DELAY"), ("orcpt", "rfc822;x@remote.test")]),
                         ("gone@remote.test", []), "y@other.test", "bob@example.test"],
                     extra=[("envid", "E1"), ("ret", "FULL"), ("body", "8BITMIME"), ("smtputf8", "1")],
                     test_id="r1")
        # gone@ fails: a report to alice; x@ with NOTIFY=SUCCESS: in it too.
        reports = self.wait_reports(t, "alice", 1)
        self.assertEqual(len(reports), 1, t.log_tail())
        self.assertIn("Final-Recipient: rfc822; gone@remote.test\nAction: failed\nStatus: 5.1.1\n"
                      "Diagnostic-Code: smtp; 550 5.1.1 <gone@remote.test>: no such user here", reports[0])
        self.assertIn("Final-Recipient: rfc822; x@remote.test\nOriginal-Recipient: rfc822;x@remote.test\n"
                      "Action: delivered", reports[0])
        self.assertEqual(t.test_ids("bob").get("r1"), 1)
        # One request per destination domain, each with the message's fields.
        by_domain = {}
        for fields, msg in fake.requests:
            rcpts = [v for k, v in fields if k == "rcpt"]
            by_domain.setdefault(rcpts[0].split("@")[1], []).append((fields, msg))
            self.assertIn(b"X-Test-Id: r1", msg)
            f = dict(fields)
            self.assertEqual((f["envid"], f["ret"], f["body"], f["smtputf8"], f["sender"]),
                             ("E1", "FULL", "8BITMIME", "1", SENDER))
        self.assertEqual(sorted(by_domain), ["other.test", "remote.test"])
        fields = by_domain["remote.test"][0][0]
        self.assertEqual([(k, v) for k, v in fields if k in ("rcpt", "notify", "orcpt")],
                         [("rcpt", "x@remote.test"), ("notify", "SUCCESS,DELAY"),
                          ("orcpt", "rfc822;x@remote.test"), ("rcpt", "gone@remote.test")])
        self.assertEqual(self.wait_queue_empty(t), [])

    def test_success_report_says_relayed_and_leaves_out_a_passed_notify(self):
        # RFC 3461 6.2.2 / RFC 3464 2.3.3: the agent's action= decides what
        # a NOTIFY=SUCCESS recipient's line says: relayed (the next server
        # sends no reports), or nothing at all (passed: it took the NOTIFY
        # and reports itself).
        t = self.tree()
        fake = FakeRemote(t, remote_policy)
        self.addCleanup(fake.stop)
        self.enqueue(t, [("relayed@remote.test", [("notify", "SUCCESS")]),
                         ("passed@remote.test", [("notify", "SUCCESS,FAILURE")]),
                         ("gone@remote.test", [])], test_id="r2")
        reports = self.wait_reports(t, "alice", 1)
        self.assertEqual(len(reports), 1, t.log_tail())
        self.assertIn("Final-Recipient: rfc822; relayed@remote.test\nAction: relayed\nStatus: 2.0.0\n", reports[0])
        self.assertIn("<relayed@remote.test>: relayed: 250 2.0.0 ok\n", reports[0])
        self.assertIn("Final-Recipient: rfc822; gone@remote.test\nAction: failed\n", reports[0])
        self.assertNotIn("Final-Recipient: rfc822; passed@", reports[0])
        self.assertEqual(self.wait_queue_empty(t), [])

    def test_bounce_of_a_server_reply_names_the_server_and_its_reply(self):
        # RFC 3464 2.3.5/2.3.6: Remote-MTA the server, Diagnostic-Code of
        # type smtp its reply alone; the text part keeps the whole reason.
        t = self.tree()
        fake = FakeRemote(t, remote_policy)
        self.addCleanup(fake.stop)
        self.enqueue(t, ["said@remote.test"], test_id="s1")
        reports = self.wait_reports(t, "alice", 1)
        self.assertEqual(len(reports), 1, t.log_tail())
        self.assertIn("Final-Recipient: rfc822; said@remote.test\nAction: failed\nStatus: 5.1.1\n"
                      "Remote-MTA: dns; mx.remote.test\n"
                      "Diagnostic-Code: smtp; 550 5.1.1 <said@remote.test>: no such user\n", reports[0])
        text = reports[0].split("Content-Description: Notification")[1].split("--=_postern")[0]
        self.assertIn("<said@remote.test>: failed: host mx.remote.test[192.0.2.25]:25 said: 550 5.1.1 "
                      "<said@remote.test>: no such user (in reply to RCPT TO command)", text.replace("\n ", " "))

    def test_alias_expansion_is_reported_expanded_and_a_forward_passes_notify_on(self):
        # RFC 3461 6.2.7: an alias of several addresses is reported
        # "expanded" (the copies report no success); an alias of one
        # address outside hands its NOTIFY, an ORCPT naming the alias, and
        # RET and ENVID to the copy, which reports for itself: one report,
        # from the final delivery.
        t = self.tree(aliases="team: alice, bob\nfwd: x@remote.test\n")
        fake = FakeRemote(t, remote_policy)
        self.addCleanup(fake.stop)
        self.enqueue(t, [("team@example.test", [("notify", "SUCCESS")]),
                         ("fwd@example.test", [("notify", "SUCCESS,FAILURE")])],
                     extra=[("envid", "E7"), ("ret", "HDRS")], test_id="x1")
        # alice: the team's copy, and the two reports (both to her, the sender)
        self.assertEqual(t.wait_ids("bob", ["x1"]).get("x1"), 1)
        reports = self.wait_reports(t, "alice", 2)
        self.assertEqual(len(reports), 2, t.log_tail())
        first, second = sorted(reports, key=lambda r: "team@" not in r)
        self.assertIn("Final-Recipient: rfc822; team@example.test\nAction: expanded\nStatus: 2.0.0\n", first)
        self.assertNotIn("fwd@", first.split("Content-Description: Header of the original message")[0])
        self.assertIn("Original-Envelope-Id: E7\n", second)
        self.assertIn("Final-Recipient: rfc822; x@remote.test\nOriginal-Recipient: rfc822;fwd@example.test\n"
                      "Action: delivered\n", second)
        fields = fake.requests[0][0]
        self.assertEqual([(k, v) for k, v in fields if k in ("rcpt", "notify", "orcpt", "envid", "ret")],
                         [("ret", "HDRS"), ("envid", "E7"), ("rcpt", "x@remote.test"),
                          ("notify", "SUCCESS,FAILURE"), ("orcpt", "rfc822;fwd@example.test")])
        self.assertEqual(self.wait_queue_empty(t), [])

    def test_relayhost_gets_one_request_for_all_remote_domains(self):
        # With a relayhost every remote domain has the one next hop: one
        # job, one transaction (it was one per domain: a relay's per-
        # message quota counted each, and the message went N times).
        t = self.tree(relayhost="[relay.test]:587")
        fake = FakeRemote(t, remote_policy)
        self.addCleanup(fake.stop)
        self.enqueue(t, ["a@one.test", "b@two.test", "c@three.test", "bob@example.test"], test_id="rh")
        self.assertEqual(self.wait_queue_empty(t), [])
        self.assertEqual([[v for k, v in fields if k == "rcpt"] for fields, _ in fake.requests],
                         [["a@one.test", "b@two.test", "c@three.test"]])
        self.assertEqual(t.test_ids("bob").get("rh"), 1)

    def test_new_local_domain_is_routed_locally_after_user_add(self):
        # qmgr holds domains.cdb from before its chroot: when `postern user
        # add` replaces the map, qmgr restarts (the master's reload, or qmgr
        # itself noticing the replaced file) and routes the new domain to
        # local, not to the (missing) remote agent.
        t = self.tree(minimal_backoff_time="300s", maximal_backoff_time="300s")
        self.enqueue(t, ["bob@example.test"], test_id="a0")
        self.assertEqual(t.wait_ids("bob", ["a0"]).get("a0"), 1)
        t.run("user", "add", "-d", t.dir, "carol@newdomain.test", "pw-carol-1")
        self.enqueue(t, ["carol@newdomain.test"], test_id="a1")
        got = wait_for(lambda: os.listdir(os.path.join(t.dir, "mail", "newdomain.test", "carol", "new")), 30,
                       "carol's message", detail=t.log_tail, ignore=(FileNotFoundError,), interval=0.2)
        self.assertEqual(len(got), 1, t.log_tail())

    def test_missing_remote_agent_defers_then_flush_delivers(self):
        t = self.tree(minimal_backoff_time="300s", maximal_backoff_time="300s")
        qid = self.enqueue(t, ["x@remote.test", "bob@example.test"], test_id="m1")
        q = t.wait_queue(lambda q: q and q[0]["state"] == "deferred", 20, "the message deferred")
        self.assertEqual(len(q), 1, q)
        self.assertEqual(q[0]["id"], qid)
        self.assertEqual(q[0]["state"], "deferred")
        self.assertGreater(q[0]["next_try"], time.time() + 100)
        self.assertEqual({r["address"]: r["status"] for r in q[0]["recipients"]},
                         {"x@remote.test": "pending", "bob@example.test": "delivered"})
        self.assertEqual(t.test_ids("bob").get("m1"), 1)
        fake = FakeRemote(t, remote_policy)
        self.addCleanup(fake.stop)
        out = t.run("queue", "-d", t.dir, "flush").stdout.decode()
        self.assertIn("1 deferred message due now", out)
        self.assertEqual(self.wait_queue_empty(t), [])
        self.assertEqual([v for k, v in fake.requests[0][0] if k == "rcpt"], ["x@remote.test"])

    # ---- the operator's command

    def test_queue_command_list_show_hold_release_requeue_delete(self):
        t = self.tree(minimal_backoff_time="300s", maximal_backoff_time="300s")
        qid = self.enqueue(t, ["x@remote.test"], test_id="h1")
        t.wait_queue(lambda q: q and q[0]["state"] == "deferred", 20, "the message deferred")
        text = t.run("queue", "-d", t.dir, "list").stdout.decode()
        self.assertRegex(text, r"%s\s+deferred\s+\d+\s+[\d-]+ [\d:]+\s+<%s>" % (qid, SENDER))
        self.assertIn("pending   <x@remote.test>", text)
        self.assertIn("1 message.", text)
        show = t.run("queue", "-d", t.dir, "show", qid).stdout.decode()
        self.assertIn("sender: <%s>" % SENDER, show)
        self.assertIn("recipient: <x@remote.test> pending", show)
        self.assertIn("X-Test-Id: h1\n", show)
        self.assertIn("body of h1", show)

        self.assertIn("on hold", t.run("queue", "-d", t.dir, "hold", qid).stdout.decode())
        self.assertEqual(t.queue_json()[0]["state"], "hold")
        # flush does not touch held mail: once qmgr has scanned deferred/
        # for the flush, the message is still on hold.
        mark = t.log_mark()
        t.run("queue", "-d", t.dir, "flush")
        t.wait_log(r"qmgr\[\d+\]: flush requested\n(?:.*\n)*?.*qmgr\[\d+\]: deferred/ scanned:", after=mark)
        self.assertEqual(t.queue_json()[0]["state"], "hold")
        self.assertIn("released", t.run("queue", "-d", t.dir, "release", qid).stdout.decode())
        q = t.wait_queue(lambda q: q[0]["state"] == "deferred" and q[0]["attempts"] >= 2, 20,
                         "a second attempt after release")
        self.assertEqual((q[0]["state"], q[0]["attempts"]), ("deferred", 2))
        self.assertIn("requeued", t.run("queue", "-d", t.dir, "requeue", qid).stdout.decode())
        q = t.wait_queue(lambda q: q[0]["state"] == "deferred" and q[0]["attempts"] == 1, 20,
                         "one attempt after requeue")
        self.assertEqual((q[0]["state"], q[0]["attempts"]), ("deferred", 1))
        self.assertIn("deleted", t.run("queue", "-d", t.dir, "delete", qid).stdout.decode())
        self.assertEqual(t.queue_json(), [])
        p = t.run("queue", "-d", t.dir, "show", qid, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no such message", p.stdout)
        self.assertIn(b"The queue is empty.", t.run("queue", "-d", t.dir, "list").stdout)
        p = t.run("queue", "-d", t.dir, "bogus", check=False)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
