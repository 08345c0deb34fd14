"""Remote delivery (issue 5): the `remote` agent against real peers.

A dnsmasq started here on a loopback port serves the test domains (MX,
A, AAAA, a null MX); Postfix's smtp-sink instances listen on 127.0.0.x
and a second Postern tree receives mail for b.test.  The agent runs
standalone (`remote -c DIR/etc -i`, one request on stdin) for most
cases, and as the master's `remote` service (a request with the queue
file passed over private/remote) for connection reuse.  Without dnsmasq
or smtp-sink the tests are skipped and say so.
"""

import base64
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import unittest

from postern_harness import (BIN, HOST, SCALE, PosternTestCase, Tree, daemon_env, is_root,
                             make_message, wait_for)

REMOTE = os.path.join(BIN, "remote")
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def have(path):
    return os.access(path, os.X_OK)


# ---------------------------------------------------------------- peers

def tcp_port_free(port, hosts):
    for h in hosts:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((h, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_tcp_port(hosts):
    rng = random.SystemRandom()
    for _ in range(200):
        p = rng.randrange(20000, 60000)
        if tcp_port_free(p, hosts):
            return p
    raise RuntimeError("no free TCP port")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dns_query(port, name, qtype=15, timeout=0.5, host="127.0.0.1"):
    """rcode of one query, or None on timeout."""
    q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (host, port))
        return s.recv(4096)[3] & 15
    except OSError:
        return None
    finally:
        s.close()


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1:PORT, authoritative for .test."""

    def __init__(self, records, workdir, listen="127.0.0.1", netns=None):
        self.port = free_udp_port() if netns is None else 53
        self.listen = listen
        self.log = os.path.join(workdir, "dnsmasq.log")
        cmd = [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
               "--listen-address=" + listen, "--port=%d" % self.port, "--local=/test/",
               "--log-queries"] + list(records)
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.netns = netns

    def wait(self, probe):
        def answers():
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited: %s" % open(self.log).read()[-2000:])
            return self.netns is not None or dns_query(self.port, probe) is not None
        wait_for(answers, 10, "dnsmasq to answer for %s" % probe, interval=0.1)
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Sink:
    """Postfix's smtp-sink on HOST:PORT, verbose log, messages dumped."""

    def __init__(self, host, port, workdir, *options):
        self.host, self.port = host, port
        self.dir = tempfile.mkdtemp(prefix="sink-", dir=workdir)
        os.chmod(self.dir, 0o777)          # smtp-sink writes as nobody
        self.log = os.path.join(self.dir, "log")
        cmd = [SMTP_SINK, "-v"] + list(options) + ["-d", os.path.join(self.dir, "msg.")]
        if is_root():
            cmd += ["-u", "nobody"]
        cmd += ["%s:%d" % (host, port), "100"]
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink exited: %s" % self.text()[-2000:])
            socket.create_connection((host, port), timeout=1).close()
            return True
        wait_for(listening, 10, "smtp-sink to listen on %s:%d" % (host, port), ignore=(OSError,))

    def text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def connects(self):
        # One "connect (AF_INET ...)" per session; the probe above made one.
        return self.text().count("connect (AF_") - 1

    def commands(self, verb):
        out = []
        for line in self.text().splitlines():
            _, sep, cmd = line.partition("smtp-sink: ")
            if sep and cmd.upper().startswith(verb):
                out.append(cmd)
        return out

    def messages(self):
        return [os.path.join(self.dir, n) for n in os.listdir(self.dir) if n.startswith("msg.")]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class RawDataSink:
    """A minimal SMTP server on HOST:PORT that keeps the raw DATA bytes
    (through the final <CRLF>.<CRLF>) of every transaction; data_reply,
    when given, answers DATA instead of 354 (and no data is read)."""

    def __init__(self, host, port, data_reply=None):
        self.data = []
        self.data_reply = data_reply
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((host, port))
        self.srv.listen(5)
        self.srv.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except (socket.timeout, OSError):
                continue
            try:
                self.session(c)
            except (OSError, EOFError):
                pass
            finally:
                c.close()

    def session(self, c):
        c.settimeout(30)
        buf = b""

        def line():
            nonlocal buf
            while b"\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            ln, _, buf = buf.partition(b"\n")
            return ln.rstrip(b"\r").upper()

        c.sendall(b"220 raw.sink ESMTP\r\n")
        while True:
            verb = line()[:4]
            if verb == b"EHLO":
                c.sendall(b"250-raw.sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA" and self.data_reply is not None:
                c.sendall(self.data_reply)
            elif verb == b"DATA":
                c.sendall(b"354 go\r\n")
                while b"\r\n.\r\n" not in b"\r\n" + buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                end = (b"\r\n" + buf).index(b"\r\n.\r\n") + 3
                self.data.append(buf[:end])
                buf = buf[end:]
                c.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.srv.close()


# ---------------------------------------------------------------- the agent

def parse_records(text):
    out, cur = [], {}
    for line in text.split("\n"):
        if line == "":
            if cur:
                out.append(cur)
                cur = {}
            continue
        k, _, v = line.partition("=")
        cur[k] = v
    if cur:
        out.append(cur)
    return out


def request_text(queue_id, sender, size, rcpts, extra=(), queue_file=None):
    lines = ["queue_id=" + queue_id, "sender=" + sender, "offset=0", "size=%d" % size]
    if queue_file:
        lines.append("queue_file=" + queue_file)
    lines.extend(extra)
    lines.extend("rcpt=" + r for r in rcpts)
    return ("\n".join(lines) + "\n\n").encode()


class RemoteTree:
    """A Postern tree used as the sending side; its agent runs standalone."""

    def __init__(self, testcase, conf):
        self.tree = Tree(domain="sender.test")
        testcase.addCleanup(self.cleanup, testcase)
        self.tree.init(users=())
        self.dir = self.tree.dir
        self.base_conf = open(self.conf_path()).read()
        self.set_conf(conf)
        self.n = 0

    def conf_path(self):
        return os.path.join(self.dir, "etc", "postern.conf")

    def set_conf(self, conf):
        """postern.conf as init wrote it, with these keys replaced or added."""
        out, seen = [], set()
        for line in self.base_conf.splitlines():
            key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith("#") else None
            if key in conf:
                line = "%s = %s" % (key, conf[key])
                seen.add(key)
            out.append(line)
        out.extend("%s = %s" % (k, v) for k, v in conf.items() if k not in seen)
        with open(self.conf_path(), "w") as f:
            f.write("\n".join(out) + "\n")

    def write_map(self, name, lines):
        path = os.path.join(self.dir, "etc", name)
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        self.tree.run("map", "-d", self.dir, path)

    def deliver(self, rcpts, body=b"hello\n", sender="s@sender.test", extra=(), timeout=60):
        """Run `remote -i` on one request; the answers, in order."""
        self.n += 1
        qid = "T%06d%d" % (os.getpid() % 1000000, self.n)
        # The agent opens queue_file after its drop into run/jail (chrooted as root).
        name = "msg-%s" % qid
        path = os.path.join(self.dir, "run", "jail", name)
        with open(path, "wb") as f:
            f.write(body)
        os.chmod(path, 0o644)
        req = request_text(qid, sender, len(body), rcpts, extra, queue_file=name)
        p = subprocess.run([REMOTE, "-c", os.path.join(self.dir, "etc"), "-i", "-v"], input=req,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=daemon_env(),
                           timeout=timeout * SCALE)
        self.last_log = p.stderr.decode("utf-8", "replace")
        os.unlink(path)
        if p.returncode != 0:
            raise AssertionError("remote exited %d\n%s" % (p.returncode, self.last_log))
        for pat in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if pat in self.last_log:
                raise AssertionError("sanitizer report:\n" + self.last_log)
        answers = parse_records(p.stdout.decode("utf-8", "replace"))
        if [a.get("rcpt") for a in answers] != list(rcpts):
            raise AssertionError("answers %r do not match recipients %r\n%s"
                                 % (answers, rcpts, self.last_log))
        return answers

    def cleanup(self, testcase):
        self.tree.stop()
        outcome = getattr(testcase, "_outcome", None)
        ok = True
        if outcome is not None and hasattr(outcome, "errors"):
            ok = not any(e for _, e in outcome.errors)
        if ok:
            self.tree.remove()


# Addresses of the peers; 127.0.0.9 has nothing listening (a dead MX).
SINK_A, SINK_B, DEAD, SINK_RETRY, SINK_RELAY, SINK_OLD = ("127.0.0.2", "127.0.0.3", "127.0.0.9",
                                                          "127.0.0.5", "127.0.0.6", "127.0.0.7")

RECORDS = [
    "--mx-host=pref.test,mx1.pref.test,10", "--mx-host=pref.test,mx2.pref.test,20",
    "--host-record=mx1.pref.test," + SINK_A, "--host-record=mx2.pref.test," + SINK_B,
    "--mx-host=down.test,mxdown.down.test,10", "--mx-host=down.test,mxup.down.test,20",
    "--host-record=mxdown.down.test," + DEAD, "--host-record=mxup.down.test," + SINK_B,
    "--host-record=implicit.test," + SINK_B,
    "--dns-rr=nullmx.test,15,000000",
    "--mx-host=retry.test,mx.retry.test,10", "--host-record=mx.retry.test," + SINK_RETRY,
    "--mx-host=old.test,mx.old.test,10", "--host-record=mx.old.test," + SINK_OLD,
    "--mx-host=noaddr.test,gone.noaddr.test,10",
    "--mx-host=b.test,mx.b.test,10", "--host-record=mx.b.test,127.0.0.1",
]


@unittest.skipUnless(have(DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
@unittest.skipUnless(have(SMTP_SINK), "smtp-sink is not installed (apt-get install postfix)")
class RemoteDeliveryTest(PosternTestCase):

    @classmethod
    def setUpClass(cls):
        if not have(REMOTE):
            raise AssertionError("remote binary missing: %s (build first)" % REMOTE)
        cls.work = tempfile.mkdtemp(prefix="postern-remote-", dir="/tmp")
        os.chmod(cls.work, 0o755)
        cls.dns = Dnsmasq(RECORDS, cls.work).wait("pref.test")
        cls.port = free_tcp_port(["127.0.0.%d" % i for i in range(2, 10)])

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.sinks = []

    def tearDown(self):
        for s in self.sinks:
            s.stop()

    def sink(self, host, *options):
        s = Sink(host, self.port, self.work, *options)
        self.sinks.append(s)
        return s

    def sender_tree(self, **conf):
        base = {"dns_servers": "127.0.0.1:%d" % self.dns.port, "remote_smtp_port": str(self.port),
                "remote_connect_timeout": "5s", "myhostname": "sender.test"}
        base.update(conf)
        return RemoteTree(self, base)

    # ---- routing

    def test_mx_preference_order_best_first(self):
        a, b = self.sink(SINK_A), self.sink(SINK_B)
        t = self.sender_tree()
        ans = t.deliver(["u@pref.test"])
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertIn("mx1.pref.test[%s]" % SINK_A, ans[0]["reason"])
        self.assertEqual((a.connects(), b.connects()), (1, 0))
        self.assertEqual(a.commands("RCPT"), ["RCPT TO:<u@pref.test>"], a.text())

    def test_fallback_to_next_mx_when_best_is_down(self):
        b = self.sink(SINK_B)
        t = self.sender_tree()
        ans = t.deliver(["u@down.test"])
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertIn("mxup.down.test[%s]" % SINK_B, ans[0]["reason"])
        self.assertIn("connect to mxdown.down.test[%s]" % DEAD, t.last_log)
        self.assertEqual(b.connects(), 1)

    def test_all_mx_down_defers_with_the_reason(self):
        t = self.sender_tree()
        ans = t.deliver(["u@down.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.4.1"), ans)
        self.assertIn("connect to mxup.down.test", ans[0]["reason"])

    def test_implicit_mx_uses_the_domain_address(self):
        b = self.sink(SINK_B)
        t = self.sender_tree()
        ans = t.deliver(["u@implicit.test"])
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertIn("implicit.test[%s]" % SINK_B, ans[0]["reason"])
        self.assertEqual(b.connects(), 1)

    def test_null_mx_bounces_5_1_10_without_connecting(self):
        t = self.sender_tree()
        ans = t.deliver(["u@nullmx.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("failed", "5.1.10"), ans)

    def test_nxdomain_bounces_and_mx_without_address_bounces(self):
        t = self.sender_tree()
        ans = t.deliver(["u@nosuch.test", "v@noaddr.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("failed", "5.1.2"), ans)
        self.assertEqual((ans[1]["status"], ans[1]["dsn"]), ("failed", "5.4.4"), ans)

    def test_dns_outage_defers(self):
        quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        quiet.bind(("127.0.0.1", 0))
        self.addCleanup(quiet.close)
        t = self.sender_tree(dns_servers="127.0.0.1:%d" % quiet.getsockname()[1],
                             dns_timeout="1s", dns_tries="1")
        ans = t.deliver(["u@pref.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.4.3"), ans)

    # ---- answers

    def test_4xx_defers_then_retry_succeeds(self):
        s = self.sink(SINK_RETRY, "-r", "RCPT")
        t = self.sender_tree()
        ans = t.deliver(["u@retry.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.3.0"), ans)
        self.assertIn("450 4.3.0", ans[0]["reason"])
        self.assertIn("RCPT TO", ans[0]["reason"])
        s.stop()
        self.sinks.remove(s)
        s = self.sink(SINK_RETRY)
        ans = t.deliver(["u@retry.test"])
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertEqual(len(s.commands("RCPT")), 1)

    def test_5xx_to_mail_fails_every_recipient(self):
        self.sink(SINK_A, "-f", "MAIL")
        t = self.sender_tree()
        ans = t.deliver(["u@pref.test", "v@pref.test"])
        self.assertEqual([a["status"] for a in ans], ["failed", "failed"], ans)
        self.assertTrue(all("MAIL FROM" in a["reason"] for a in ans), ans)

    def test_helo_fallback_and_smtputf8_needed_bounces_5_6_7(self):
        s = self.sink(SINK_OLD, "-e")     # no ESMTP: EHLO is refused
        t = self.sender_tree()
        ans = t.deliver(["u@old.test"])
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertEqual(len(s.commands("HELO")), 1)
        ans = t.deliver(["u@old.test"], extra=["smtputf8=yes"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("failed", "5.6.7"), ans)
        self.assertIn("SMTPUTF8", ans[0]["reason"])
        self.assertEqual(len(s.commands("MAIL")), 1)     # nothing was offered the second time

    def test_dsn_and_body_parameters_are_passed_on(self):
        s = self.sink(SINK_A)
        t = self.sender_tree()
        ans = t.deliver(["u@pref.test", "v@pref.test"],
                        extra=["ret=hdrs", "envid=id+20x"],
                        body=b"Subject: x\n\n8bit \xc3\xa9\n")
        self.assertEqual([a["status"] for a in ans], ["delivered", "delivered"], ans)
        mail = s.commands("MAIL")
        self.assertEqual(len(mail), 1)
        self.assertIn("BODY=8BITMIME", mail[0])
        self.assertIn("RET=HDRS", mail[0])
        self.assertIn("ENVID=id+2B20x", mail[0])
        self.assertNotIn("SIZE=", mail[0])      # smtp-sink does not offer SIZE
        # RFC 3461 6.2.2: a server that offers DSN took the NOTIFY: it, not
        # we, reports the success (qmgr sends no report for "passed").
        self.assertEqual([a.get("action") for a in ans], ["passed", "passed"], ans)

    def test_delivery_to_a_server_without_dsn_is_relayed(self):
        s = self.sink(SINK_A, "-N")
        t = self.sender_tree()
        ans = t.deliver(["u@pref.test"], extra=["ret=hdrs"])
        self.assertEqual((ans[0]["status"], ans[0].get("action")), ("delivered", "relayed"), ans)
        self.assertNotIn("RET=", s.commands("MAIL")[0])   # not offered: not sent

    def test_message_is_sent_with_crlf_and_dot_stuffing(self):
        s = self.sink(SINK_A)
        t = self.sender_tree()
        body = b"Subject: dots\n\n.leading dot\n..two\nlast line without newline"
        ans = t.deliver(["u@pref.test"], body=body)
        self.assertEqual(ans[0]["status"], "delivered", ans)
        data = open(wait_for(s.messages, 5, "smtp-sink's dump of the message")[0], "rb").read()
        # The dump holds the message as received, dot-stuffing removed (and
        # LF line ends): unchanged dots prove the agent stuffed them.
        self.assertTrue(data.endswith(b"\nSubject: dots\n\n.leading dot\n..two\nlast line without newline\n\n")
                        or data.endswith(b"\nSubject: dots\n\n.leading dot\n..two\nlast line without newline\n"), data)

    def test_bare_cr_goes_out_as_crlf_and_is_dot_stuffed(self):
        # Review finding 3: a bare CR in a queued message is never sent as
        # is: it ends its line (CRLF), and a dot after it is doubled.
        sink = RawDataSink(SINK_A, self.port)
        self.addCleanup(sink.stop)
        t = self.sender_tree()
        body = b"Subject: cr\n\none\rtwo\n.three\r.four\r\nMAIL FROM:<x@y>\rend\r"
        ans = t.deliver(["u@pref.test"], body=body)
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertEqual(len(sink.data), 1, sink.data)
        wire = sink.data[0]
        self.assertNotRegex(wire, rb"\r(?!\n)", "a bare CR went over the wire")
        self.assertNotRegex(wire, rb"[^\r]\n", "a bare LF went over the wire")
        self.assertEqual(wire, b"Subject: cr\r\n\r\none\r\ntwo\r\n..three\r\n..four\r\n"
                               b"MAIL FROM:<x@y>\r\nend\r\n.\r\n")

    def test_250_to_data_defers_with_a_4xx_status(self):
        # A 2xx where DATA needs 354 is a protocol error: the recipient is
        # deferred, and its status must not read as success (once 2.0.0).
        sink = RawDataSink(SINK_A, self.port, data_reply=b"250 2.0.0 sure\r\n")
        self.addCleanup(sink.stop)
        t = self.sender_tree()
        ans = t.deliver(["u@pref.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.0.0"), ans)
        self.assertIn("said: 250 2.0.0 sure (in reply to DATA command)", ans[0]["reason"])
        self.assertEqual(sink.data, [])

    # ---- relayhost

    def test_relayhost_with_auth_plain(self):
        s = self.sink(SINK_RELAY)
        t = self.sender_tree(relayhost="[%s]:%d" % (SINK_RELAY, self.port),
                             remote_auth_plaintext="yes")
        t.write_map("relay_passwords", ["[%s]:%d relayuser:s3cret" % (SINK_RELAY, self.port)])
        ans = t.deliver(["u@far-away.test", "v@pref.test"])
        self.assertEqual([a["status"] for a in ans], ["delivered", "delivered"], ans)
        self.assertEqual(s.connects(), 1)
        auth = s.commands("AUTH")
        self.assertEqual(len(auth), 1, s.text())
        want = base64.b64encode(b"\0relayuser\0s3cret").decode()
        self.assertEqual(auth[0], "AUTH PLAIN " + want)

    def test_relayhost_refuses_credentials_without_tls(self):
        s = self.sink(SINK_RELAY)
        t = self.sender_tree(relayhost="[%s]:%d" % (SINK_RELAY, self.port))
        t.write_map("relay_passwords", ["[%s]:%d relayuser:s3cret" % (SINK_RELAY, self.port)])
        ans = t.deliver(["u@far-away.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.7.0"), ans)
        self.assertIn("without TLS", ans[0]["reason"])
        self.assertEqual(s.commands("AUTH"), [])
        self.assertEqual(s.commands("MAIL"), [])
        # The relay answered (it was the relay that could not be used):
        # relay= names it, as Postfix does, not relay=none.
        self.assertRegex(t.last_log, r"to=<u@far-away\.test>, relay=%s\[%s\]:%d, .*status=deferred"
                         % (re.escape(SINK_RELAY), re.escape(SINK_RELAY), self.port))

    # ---- through the master: connection reuse

    def test_connection_reuse_through_the_master(self):
        s = self.sink(SINK_A)
        t = self.sender_tree(remote_connection_reuse_time="10s")
        t.tree.start()
        sock_path = os.path.join(t.dir, "private", "remote")
        wait_for(lambda: os.path.exists(sock_path), 10, "the master to bind %s" % sock_path)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(60 * SCALE)
        c.connect(sock_path)
        answers = []
        for i in range(3):
            body = make_message("reuse-%d" % i, "s@sender.test", "u@pref.test", b"hi\r\n").replace(b"\r\n", b"\n")
            path = os.path.join(t.dir, "qf-%d" % i)
            with open(path, "wb") as f:
                f.write(body)
            fd = os.open(path, os.O_RDONLY)
            try:
                socket.send_fds(c, [request_text("REUSE%d" % i, "s@sender.test", len(body),
                                                 ["u%d@pref.test" % i])], [fd])
            finally:
                os.close(fd)
            buf = b""
            while b"\n\n" not in buf:
                chunk = c.recv(4096)
                if not chunk:
                    break
                buf += chunk
            answers.extend(parse_records(buf.decode()))
        c.close()
        self.assertEqual([a["status"] for a in answers], ["delivered"] * 3, answers)
        self.assertEqual(len(s.commands("MAIL")), 3)
        self.assertEqual(s.connects(), 1, s.text())        # one session for all three
        self.assertEqual(len(s.commands("RSET")), 2)       # checked before each reuse


def ehlo_keywords(port):
    """The EHLO keywords of a server on 127.0.0.1:port."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10 * SCALE)
    try:
        f = c.makefile("rb")
        f.readline()
        c.sendall(b"EHLO probe.test\r\n")
        words = []
        while True:
            line = f.readline().decode("ascii", "replace").rstrip("\r\n")
            if len(line) < 4:
                break
            words.append(line[4:].split(" ")[0].upper())
            if line[3] == " ":
                break
        c.sendall(b"QUIT\r\n")
        return words[1:]
    finally:
        c.close()


@unittest.skipUnless(have(DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
class RemoteToPosternTest(PosternTestCase):
    """A second Postern tree (domain b.test) as the receiving peer."""

    @classmethod
    def setUpClass(cls):
        if not have(REMOTE):
            raise AssertionError("remote binary missing: %s (build first)" % REMOTE)
        cls.work = tempfile.mkdtemp(prefix="postern-remote-", dir="/tmp")
        os.chmod(cls.work, 0o755)
        cls.dns = Dnsmasq(RECORDS, cls.work).wait("b.test")

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def peer(self, conf=None):
        b = Tree(domain="b.test")
        self._trees.append(b)
        self.addCleanup(self._finish_tree, b)
        b.init(("alice", "bob"))
        if conf:
            with open(os.path.join(b.dir, "etc", "postern.conf"), "a") as f:
                f.write("".join("%s = %s\n" % kv for kv in conf.items()))
        b.start()
        return b

    def sender_tree(self, b, **conf):
        base = {"dns_servers": "127.0.0.1:%d" % self.dns.port, "remote_smtp_port": str(b.port("smtp")),
                "remote_connect_timeout": "5s", "myhostname": "sender.test"}
        base.update(conf)
        return RemoteTree(self, base)

    def test_5xx_for_one_of_three_recipients(self):
        b = self.peer()
        t = self.sender_tree(b)
        body = b"Subject: three\nX-Test-Id: three-1\n\n.dot line stays\nbody\n"
        ans = t.deliver(["alice@b.test", "nosuch@b.test", "bob@b.test"], body=body)
        self.assertEqual([a["status"] for a in ans], ["delivered", "failed", "delivered"], ans)
        self.assertEqual(ans[1]["dsn"][:2], "5.", ans)
        self.assertIn("RCPT TO", ans[1]["reason"])
        self.assertEqual(b.wait_count("alice", 1), 1)
        self.assertEqual(b.wait_count("bob", 1), 1)
        with open(b.message_paths("alice")[0], "rb") as f:
            data = f.read()
        self.assertIn(b"\n.dot line stays\nbody\n", data)   # dot-stuffing undone by the peer

    def test_message_over_the_peer_size_limit_bounces_5_3_4(self):
        b = self.peer({"message_size_limit": "2000"})
        if "SIZE" not in ehlo_keywords(b.port("smtp")):
            self.skipTest("the peer's smtpd does not announce SIZE")
        t = self.sender_tree(b)
        ans = t.deliver(["alice@b.test"], body=b"Subject: big\n\n" + b"x" * 70 + b"\n" * 1 + b"y\n" * 3000)
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("failed", "5.3.4"), ans)
        self.assertIn("exceeds size limit", ans[0]["reason"])

    def test_starttls_may_uses_tls_with_a_self_signed_certificate(self):
        b = self.peer()
        if "STARTTLS" not in ehlo_keywords(b.port("smtp")):
            self.skipTest("the peer's smtpd does not offer STARTTLS")
        t = self.sender_tree(b, remote_tls_security_level="may")
        ans = t.deliver(["alice@b.test"])
        self.assertEqual(ans[0]["status"], "delivered", ans)
        self.assertRegex(t.last_log, r"Untrusted TLS connection established to \S+: TLSv1\.[23] with cipher \S+ "
                                     r"\(\d+/\d+ bits\)")
        self.assertEqual(b.wait_count("alice", 1), 1)

    def test_verify_policy_defers_a_self_signed_certificate(self):
        b = self.peer()
        if "STARTTLS" not in ehlo_keywords(b.port("smtp")):
            self.skipTest("the peer's smtpd does not offer STARTTLS")
        # The map named either way (common/map_setting.c): NAME.cdb was
        # once looked for as NAME.cdb.cdb, and the policy silently lost.
        for name in ("tls_policy", "tls_policy.cdb"):
            t = self.sender_tree(b, remote_tls_policy_map=name)
            t.write_map("tls_policy", ["b.test verify"])
            ans = t.deliver(["alice@b.test"])
            self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.7.5"), (name, ans))
            self.assertIn("TLS handshake", ans[0]["reason"])
            self.assertIn("verify", ans[0]["reason"])
            # why the certificate was refused, not an earlier error of the
            # CA store's lookups ("unregistered scheme" in a chroot)
            self.assertRegex(ans[0]["reason"], r"certificate verify failed: self.signed certificate")
        # A relayhost's entry keyed as the relayhost is written (Postfix's
        # smtp_tls_policy_maps key): it was ignored, and TLS fell to may.
        relay = "[%s]:%d" % (HOST, b.port("smtp"))
        t = self.sender_tree(b, relayhost=relay)
        t.write_map("tls_policy", ["%s verify" % relay])
        ans = t.deliver(["alice@b.test"])
        self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.7.5"), ans)
        self.assertEqual(b.count("alice"), 0)

    def test_encrypt_policy_defers_when_tls_is_not_offered(self):
        b = self.peer()
        t = self.sender_tree(b, remote_tls_security_level="encrypt")
        if "STARTTLS" in ehlo_keywords(b.port("smtp")):
            # The peer offers TLS: encrypt must then deliver over it.
            ans = t.deliver(["alice@b.test"])
            self.assertEqual(ans[0]["status"], "delivered", ans)
            self.assertIn("TLS connection established", t.last_log)
        else:
            ans = t.deliver(["alice@b.test"])
            self.assertEqual((ans[0]["status"], ans[0]["dsn"]), ("deferred", "4.7.4"), ans)
            self.assertIn("TLS is required", ans[0]["reason"])


if __name__ == "__main__":
    unittest.main()
