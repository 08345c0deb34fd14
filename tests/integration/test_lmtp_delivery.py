"""LMTP delivery (RFC 2033): a transport map entry `lmtp.test lmtp:127.0.0.1:PORT`
makes local hand that domain's mail to an LMTP server.

The server is written here (socketserver, loopback): it records every
transaction and answers each recipient after the final dot by the recipient's
local part: `ok*` 250, `reject*` 550 5.1.1, `later*` 452 4.2.2 the first time
and 250 after, and `norcpt*` is refused at RCPT with 550.  Mail is submitted
through the sendmail front-end (pickup), which accepts any recipient.  Results
are read from the queue (recipients left) and from local's per-recipient log
lines (`to=<R>, relay=local, delay=S, delays=a/b/c/d, dsn=X.Y.Z, status=bounced|deferred`).
"""

import os
import re
import socket
import socketserver
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, HOST, PosternTestCase, daemon_env, wait_for  # noqa: E402

LMTP_DOMAIN = "lmtp.test"


class LmtpRecorder:
    """What the server saw: one dict per transaction that reached DATA."""

    def __init__(self):
        self.lock = threading.Lock()
        self.transactions = []
        self.later_seen = set()
        self.connections = 0
        self.rcpts = []          # every RCPT: (MAIL FROM address, rcpt, reply code)

    def rcpt_answer(self, rcpt):
        """(accepted, reply) at RCPT."""
        if rcpt.lower().startswith("norcpt"):
            return False, b"550 5.1.1 unknown at RCPT\r\n"
        return True, b"250 2.1.5 ok\r\n"

    def answer(self, rcpt):
        local = rcpt.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return b"550 5.1.1 <%s> no such user\r\n" % rcpt.encode()
        if local.startswith("later"):
            with self.lock:
                first = rcpt not in self.later_seen
                self.later_seen.add(rcpt)
            if first:
                return b"452 4.2.2 <%s> mailbox full, try later\r\n" % rcpt.encode()
        return b"250 2.0.0 <%s> delivered\r\n" % rcpt.encode()


class LmtpHandler(socketserver.StreamRequestHandler):
    timeout = 30

    def line(self):
        raw = self.rfile.readline(8192)
        if not raw:
            raise EOFError
        return raw

    def reply(self, text):
        self.wfile.write(text)
        self.wfile.flush()

    def handle(self):
        rec = self.server.recorder
        with rec.lock:
            rec.connections += 1
        try:
            self.reply(b"220 lmtp.example LMTP ready\r\n")
            mail, rcpts = None, []
            while True:
                raw = self.line()
                cmd = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = cmd[:4].upper()
                if verb == "LHLO":
                    self.reply(b"250-lmtp.example\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n"
                               b"250 ENHANCEDSTATUSCODES\r\n")
                elif verb == "MAIL":
                    m = re.search(r"<(.*?)>(.*)", cmd)
                    mail, params, rcpts = m.group(1), m.group(2).split(), []
                    self.reply(b"250 2.1.0 ok\r\n")
                elif verb == "RCPT":
                    r = re.search(r"<(.*?)>", cmd).group(1)
                    accepted, text = rec.rcpt_answer(r)
                    with rec.lock:
                        rec.rcpts.append((mail, r, int(text[:3])))
                    if accepted:
                        rcpts.append(r)
                    self.reply(text)
                elif verb == "DATA":
                    self.reply(b"354 go ahead\r\n")
                    data = b""
                    while True:
                        raw = self.line()
                        if raw == b".\r\n":
                            break
                        data += raw
                    with rec.lock:
                        rec.transactions.append({"mail": mail, "params": params, "rcpts": list(rcpts), "data": data})
                    # RFC 2033 4.2: one reply per accepted recipient.
                    self.reply(b"".join(rec.answer(r) for r in rcpts))
                elif verb == "QUIT":
                    self.reply(b"221 2.0.0 bye\r\n")
                    return
                elif verb == "RSET":
                    mail, rcpts = None, []
                    self.reply(b"250 2.0.0 ok\r\n")
                else:
                    self.reply(b"500 5.5.1 what\r\n")
        except (EOFError, OSError):
            return


class LmtpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port=0, recorder=None):
        super().__init__((HOST, port), LmtpHandler)
        self.recorder = recorder or LmtpRecorder()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def submit(t, rcpts, raw, sender="sender@example.org"):
    env = daemon_env()
    env["POSTERN_DIR"] = t.dir
    p = subprocess.run([os.path.join(BIN, "sendmail"), "-oi", "-f", sender] + list(rcpts), input=raw,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
    if p.returncode != 0:
        raise AssertionError("sendmail exited %d: %s" % (p.returncode, p.stdout.decode()))


class LmtpCase(PosternTestCase):

    def lmtp_tree(self, port, **conf):
        """A tree whose domain lmtp.test goes to 127.0.0.1:port, retrying fast
        (conf: more postern.conf settings)."""
        t = self.start_tree(start=False)
        with open(os.path.join(t.dir, "etc", "domains"), "a") as f:
            f.write(LMTP_DOMAIN + "\n")
        t.run("map", "-d", t.dir, "domains")
        with open(os.path.join(t.dir, "etc", "transport"), "a") as f:
            f.write("%s  lmtp:%s:%d\n" % (LMTP_DOMAIN, HOST, port))
        t.run("map", "-d", t.dir, "transport")
        t.set_conf(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
                   lmtp_timeout="10s", **conf)
        t.start()
        return t

    def wait_for(self, cond, what, t, seconds=30):
        return wait_for(cond, seconds, what, detail=t.log_tail, interval=0.1)

    def log_has(self, t, pattern):
        return re.search(pattern.encode(), t.log_bytes()) is not None

    def delivered_to(self, server, rcpt):
        with server.recorder.lock:
            return [x for x in server.recorder.transactions if rcpt in x["rcpts"]]


class TestLmtpDelivery(LmtpCase):

    def test_per_recipient_answers_after_data(self):
        server = LmtpServer()
        self.addCleanup(server.close)
        t = self.lmtp_tree(server.server_address[1])
        rcpts = ["ok1@lmtp.test", "reject1@lmtp.test", "later1@lmtp.test", "norcpt1@lmtp.test"]
        submit(t, rcpts, b"Subject: per rcpt\nX-Test-Id: per-rcpt\n\nhello\n", sender="alice@example.test")
        # 550 after DATA and 550 at RCPT: bounced, each with the server's code.
        self.wait_for(lambda: self.log_has(
            t, r"to=<reject1@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.1\.1, status=bounced \(lmtp 127\.0\.0\.1:\d+ said: 550"),
            "reject1 bounced", t)
        self.wait_for(lambda: self.log_has(t, r"to=<norcpt1@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.1\.1, status=bounced"),
                      "norcpt1 bounced", t)
        t.wait_log(r"to=<later1@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=4\.2\.2, status=deferred")
        t.wait_log(r"to=<ok1@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=\S+, status=sent \(lmtp ")
        # 452 is retried, and the retry carries later1 alone.
        self.wait_for(lambda: len(self.delivered_to(server, "later1@lmtp.test")) >= 2, "the retry of later1", t)
        retry = self.delivered_to(server, "later1@lmtp.test")[-1]
        self.assertEqual(retry["rcpts"], ["later1@lmtp.test"])
        self.assertEqual(retry["mail"], "alice@example.test")
        self.wait_for(lambda: self.log_has(t, r"to=<later1@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=\S+, status=sent"),
                      "later1 sent", t)
        self.assertEqual(len(self.delivered_to(server, "ok1@lmtp.test")), 1)
        # The first transaction had every recipient RCPT accepted, in order.
        first = server.recorder.transactions[0]
        self.assertEqual(first["rcpts"], ["ok1@lmtp.test", "reject1@lmtp.test", "later1@lmtp.test"])
        # The bounce for the two refused recipients reaches the sender, and
        # with every recipient final the queue is empty.
        self.wait_for(lambda: t.count("alice") >= 1, "the bounce in alice's Maildir", t)
        dsn = open(t.message_paths("alice")[0], "rb").read()
        self.assertIn(b"Final-Recipient: rfc822; reject1@lmtp.test", dsn)
        self.assertIn(b"Status: 5.1.1", dsn)
        self.assertNotIn(b"later1@lmtp.test", dsn.split(b"Final-Recipient", 1)[1][:2000]
                         if b"Final-Recipient" in dsn else b"")
        self.wait_for(lambda: not t.queue_json(), "an empty queue", t)

    def test_dot_stuffing_and_crlf_on_the_wire(self):
        server = LmtpServer()
        self.addCleanup(server.close)
        t = self.lmtp_tree(server.server_address[1])
        body = b"first\n.hidden dot line\n..two dots\n.\nlast line without newline"
        submit(t, ["ok2@lmtp.test"], b"Subject: dots\nX-Test-Id: dots\n\n" + body)
        self.wait_for(lambda: self.delivered_to(server, "ok2@lmtp.test"), "the LMTP transaction", t)
        data = self.delivered_to(server, "ok2@lmtp.test")[0]["data"]
        self.assertNotRegex(data, rb"[^\r]\n", "a bare LF went over the wire")
        self.assertIn(b"\r\nfirst\r\n..hidden dot line\r\n...two dots\r\n..\r\nlast line without newline\r\n", data)
        self.assertIn(b"X-Test-Id: dots\r\n", data)

    def test_mail_carries_the_size_and_body_the_server_offers(self):
        """The transaction is remote delivery's (common/smtp_txn): MAIL
        FROM carries SIZE (the message on the wire) and, for 8-bit data,
        BODY=8BITMIME, as LHLO offered them."""
        server = LmtpServer()
        self.addCleanup(server.close)
        t = self.lmtp_tree(server.server_address[1])
        submit(t, ["ok4@lmtp.test"], "Subject: 8bit\nX-Test-Id: eightbit\n\ncaf\u00e9\n".encode())
        submit(t, ["ok5@lmtp.test"], b"Subject: 7bit\nX-Test-Id: sevenbit\n\ncafe\n")
        self.wait_for(lambda: self.delivered_to(server, "ok4@lmtp.test") and self.delivered_to(server, "ok5@lmtp.test"),
                      "the LMTP transactions", t)
        for rcpt, body in (("ok4@lmtp.test", ["BODY=8BITMIME"]), ("ok5@lmtp.test", [])):
            x = self.delivered_to(server, rcpt)[0]
            # SIZE: the data as sent and the final ".\r\n"
            self.assertEqual(sorted(x["params"]), sorted(["SIZE=%d" % (len(x["data"]) + 3)] + body), x["params"])

    def test_bare_cr_goes_out_as_crlf_and_is_dot_stuffed(self):
        # Review finding 3: a bare CR in a queued message (pickup takes
        # them) must never reach the wire; it ends its line, and a dot
        # after it is doubled like any leading dot.
        server = LmtpServer()
        self.addCleanup(server.close)
        t = self.lmtp_tree(server.server_address[1])
        body = b"one\rtwo\n.three\r.four\r\nend\r"
        submit(t, ["ok3@lmtp.test"], b"Subject: cr\nX-Test-Id: bare-cr\n\n" + body)
        self.wait_for(lambda: self.delivered_to(server, "ok3@lmtp.test"), "the LMTP transaction", t)
        data = self.delivered_to(server, "ok3@lmtp.test")[0]["data"]
        self.assertNotRegex(data, rb"\r(?!\n)", "a bare CR went over the wire")
        self.assertNotRegex(data, rb"[^\r]\n", "a bare LF went over the wire")
        self.assertIn(b"\r\none\r\ntwo\r\n..three\r\n..four\r\nend\r\n", data)

    def test_deferred_while_target_down_then_delivered(self):
        port = free_port()
        t = self.lmtp_tree(port)
        submit(t, ["ok3@lmtp.test"], b"Subject: down\nX-Test-Id: down\n\nwhile down\n")
        self.wait_for(lambda: self.log_has(
            t, r"to=<ok3@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=4\.4\.1, status=deferred \(lmtp 127\.0\.0\.1:%d: connect" % port),
            "the deferral while down", t)
        server = LmtpServer(port)
        self.addCleanup(server.close)
        self.wait_for(lambda: self.delivered_to(server, "ok3@lmtp.test"), "delivery once the server is up", t)
        self.wait_for(lambda: self.log_has(t, r"to=<ok3@lmtp\.test>, relay=local, delay=\S+, delays=\S+, dsn=\S+, status=sent"), "ok3 sent", t)
        tx = self.delivered_to(server, "ok3@lmtp.test")
        self.assertEqual(len(tx), 1)
        self.assertIn(b"while down\r\n", tx[0]["data"])

    def test_local_domains_still_go_to_maildirs(self):
        server = LmtpServer()
        self.addCleanup(server.close)
        t = self.lmtp_tree(server.server_address[1])
        submit(t, ["alice@example.test", "ok4@lmtp.test"], b"Subject: mixed\nX-Test-Id: mixed\n\nboth\n")
        t.wait_ids("alice", {"mixed"})
        self.wait_for(lambda: self.delivered_to(server, "ok4@lmtp.test"), "the LMTP half", t)
        self.assertEqual(self.delivered_to(server, "ok4@lmtp.test")[0]["rcpts"], ["ok4@lmtp.test"])


if __name__ == "__main__":
    import unittest
    unittest.main()
