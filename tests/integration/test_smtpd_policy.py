"""smtpd policy delegation (issue 13): the Postfix SMTP access policy
protocol at RCPT and at the end of data.  A scripted policy server checks
the attributes smtpd sends and answers each request as the test says
(OK, REJECT, DEFER, NNN text, DUNNO, DEFER_IF_PERMIT, an unknown action,
garbage, silence, a closed connection, PREPEND, HOLD, DISCARD); then the
real peers postgrey (greylisting) and policyd-spf (SPF, from
postfix-policyd-spf-python)."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

from loopback_server import LoopbackServer
from postern_harness import HOST, PosternTestCase, free_port, make_message, wait_for

SENDER = "sender@example.org"


class FakePolicy(LoopbackServer):
    """A policy server on loopback: each request is parsed into a dict
    and kept; answers come from a list, one per request: an action
    string, ("raw", bytes), "silence" or "close"."""

    def __init__(self, answers, unix_path=None):
        self.answers = list(answers)
        self.requests = []
        self.connections = 0
        super().__init__(unix_path)

    def accepted(self, conn):
        self.connections += 1

    def serve(self, c, state):
        f = c.makefile("rb")
        while True:
            req = {}
            while True:
                line = f.readline()
                if not line:
                    c.close()
                    return
                line = line.rstrip(b"\n").decode()
                if line == "":
                    break
                k, _, v = line.partition("=")
                req[k] = v
            with self.lock:
                self.requests.append(req)
                answer = self.answers.pop(0) if self.answers else "DUNNO"
            if answer == "silence":
                continue
            if answer == "close":
                c.close()
                return
            if isinstance(answer, tuple):
                c.sendall(answer[1])
            else:
                c.sendall(b"action=" + answer.encode() + b"\n\n")


class SmtpdPolicy(PosternTestCase):

    def policy(self, answers):
        p = FakePolicy(answers)
        self.addCleanup(p.stop)
        return p

    def test_rcpt_actions_and_attributes(self):
        p = self.policy(["OK", "REJECT go away", "DEFER", "550 5.7.23 custom text", "DUNNO",
                         "DEFER_IF_PERMIT Greylisted", "DEFER_IF_REJECT maybe", "FROBNICATE",
                         "WARN looked", "INFO noted", "421 4.7.0 bye"])
        t = self.start_tree_with(smtpd_policy_services=p.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        expect = [(250, b"2.1.5 Ok"),
                  (554, b"5.7.1 <%s>: Recipient address rejected: go away" % bob.encode()),
                  (450, b"4.7.1 <%s>: Recipient address rejected: Access denied" % bob.encode()),
                  (550, b"5.7.23 <%s>: Recipient address rejected: custom text" % bob.encode()),
                  (250, b"2.1.5 Ok"),
                  (450, b"4.7.1 <%s>: Recipient address rejected: Greylisted" % bob.encode()),
                  (250, b"2.1.5 Ok"),
                  (451, b"4.3.5 <%s>: Recipient address rejected: Server configuration error"
                   % bob.encode()),
                  (250, b"2.1.5 Ok"),
                  (250, b"2.1.5 Ok")]
        for i, want in enumerate(expect):
            self.assertEqual(s.rcpt(bob), want, i)
        self.assertEqual(p.connections, 1, "one connection kept across requests")
        r = p.requests[0]
        self.assertEqual(r["request"], "smtpd_access_policy")
        self.assertEqual(r["protocol_state"], "RCPT")
        self.assertEqual(r["protocol_name"], "ESMTP")
        self.assertEqual(r["sender"], SENDER)
        self.assertEqual(r["recipient"], bob)
        self.assertEqual(r["client_address"], HOST)
        self.assertEqual(r["recipient_count"], "0")
        self.assertEqual(p.requests[4]["recipient_count"], "1")
        self.assertTrue(r["helo_name"])
        self.assertTrue(r["instance"])
        self.assertEqual(len({q["instance"] for q in p.requests}), 1, "one instance per message")
        for key in ("queue_id", "client_name", "reverse_client_name", "sasl_username", "size",
                    "encryption_protocol"):
            self.assertIn(key, r)
        t.wait_log(r"warn: <%s> from unknown\[%s\]: looked" % (bob.replace(".", r"\."), HOST))
        t.wait_log(r"info: <%s> from unknown\[%s\]: noted" % (bob.replace(".", r"\."), HOST))
        self.assertEqual(s.data(make_message("pol-1", SENDER, bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"pol-1"}), {"pol-1": 1})
        # A new message is a new instance; 421 ends the session.
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 421)
        self.assertNotEqual(p.requests[-1]["instance"], r["instance"])

    def test_failures_take_the_default_action(self):
        p = self.policy([("raw", b"no action here\n\n"), "silence", "OK", "close", "OK"])
        t = self.start_tree_with(smtpd_policy_services=p.spec(), smtpd_policy_service_timeout="2s")
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        problem = (451, b"4.3.5 <%s>: Recipient address rejected: Server configuration problem"
                   % bob.encode())
        self.assertEqual(s.rcpt(bob), problem)           # garbage
        self.assertEqual(s.rcpt(bob), problem)           # silence: timeout
        self.assertEqual(s.rcpt(bob)[0], 250)            # a new connection
        # The server closes a kept connection: smtpd opens it again once.
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(p.connections, 4)
        t.wait_log(r"malformed answer")
        t.wait_log(r"timeout")

    def test_two_servers_in_turn_and_request_limit(self):
        first = self.policy(["DEFER_IF_REJECT first says wait", "DEFER_IF_PERMIT grey", "OK", "DUNNO"])
        second = self.policy(["REJECT second says no", "REJECT second says no", "DUNNO"])
        t = self.start_tree_with(smtpd_policy_services="%s, %s" % (first.spec(), second.spec()),
                      smtpd_policy_service_request_limit="2")
        bob = t.addr("bob")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob), (450, b"4.7.1 <%s>: Recipient address rejected: first says wait"
                                       % bob.encode()))
        self.assertEqual(s.rcpt(bob), (554, b"5.7.1 <%s>: Recipient address rejected: second says no"
                                       % bob.encode()))   # a reject beats DEFER_IF_PERMIT
        self.assertEqual(s.rcpt(bob)[0], 250)             # OK: the second is not asked
        self.assertEqual(len(second.requests), 2)
        self.assertEqual(s.rcpt(bob)[0], 250)             # DUNNO, DUNNO
        self.assertEqual(len(second.requests), 3)
        self.assertEqual(first.connections, 2, "a new connection after 2 requests")

    def test_unreachable_default_action_dunno(self):
        port = free_port()
        t = self.start_tree_with(smtpd_policy_services="inet:%s:%d" % (HOST, port),
                      smtpd_policy_service_default_action="DUNNO")
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(t.addr("bob"))[0], 250)
        t.wait_log(r"policy service inet:.*cannot connect")

    def test_unix_socket_inside_the_jail(self):
        t = self.start_tree(start=False)
        d = os.path.join(t.dir, "run", "jail", "policy")
        os.makedirs(d)
        os.chmod(d, 0o755)
        p = FakePolicy(["REJECT from the jail"], unix_path=os.path.join(d, "fake"))
        self.addCleanup(p.stop)
        t.set_conf(smtpd_policy_services="unix:policy/fake")
        t.start()
        s = self.smtp_session(t)
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(t.addr("bob")),
                         (554, b"5.7.1 <%s>: Recipient address rejected: from the jail"
                          % t.addr("bob").encode()))
        self.assertEqual(p.requests[0]["protocol_state"], "RCPT")

    def test_prepend_hold_discard_and_end_of_data(self):
        p = self.policy(["PREPEND X-Policy: checked", "DUNNO",       # message 1
                         "HOLD", "DUNNO",                            # message 2 (held)
                         "DISCARD", "DUNNO",                         # message 3
                         "OK", "REJECT no thanks"])                  # message 4
        t = self.start_tree_with(smtpd_policy_services=p.spec(), smtpd_end_of_data_policy_services=p.spec())
        bob = t.addr("bob")
        s = self.smtp_session(t)
        for n in (1, 2, 3):
            self.assertEqual(s.mail(SENDER)[0], 250)
            self.assertEqual(s.rcpt(bob)[0], 250)
            code, text = s.data(make_message("pol-p%d" % n, SENDER, bob, b"hi\r\n"))
            self.assertEqual(code, 250, text)
            if n == 3:
                self.assertEqual(text, b"2.0.0 Ok: discarded")
        eod = p.requests[1]
        self.assertEqual(eod["protocol_state"], "END-OF-MESSAGE")
        self.assertEqual(eod["recipient_count"], "1")
        self.assertEqual(eod["recipient"], bob)
        self.assertNotEqual(eod["size"], "0")
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        code, text = s.data(make_message("pol-p4", SENDER, bob, b"hi\r\n"))
        self.assertEqual((code, text), (554, b"5.7.1 <END-OF-MESSAGE>: End-of-data rejected: no thanks"))
        self.assertEqual(t.wait_ids("bob", {"pol-p1"}), {"pol-p1": 1})
        path = t.message_paths("bob")[0]
        with open(path, "rb") as f:
            head = f.read().split(b"\n\n", 1)[0]
        self.assertIn(b"\nX-Policy: checked\nReceived: from ", head, "PREPEND above our Received")
        q = t.wait_queue(lambda q: len(q) == 1 and q[0]["state"] == "hold", 30, "one held message")
        t.run("queue", "-d", t.dir, "release", q[0]["id"])
        self.assertEqual(t.wait_ids("bob", {"pol-p1", "pol-p2"}), {"pol-p1": 1, "pol-p2": 1})
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        self.assertEqual(t.test_ids("bob"), {"pol-p1": 1, "pol-p2": 1}, "DISCARD and REJECT not delivered")


POSTGREY = shutil.which("postgrey") or "/usr/sbin/postgrey"
POLICYD_SPF = "/usr/bin/policyd-spf"
SOCAT = shutil.which("socat") or "/usr/bin/socat"

# policyd-spf speaks the protocol on stdin/stdout (Postfix spawn(8));
# socat runs one per connection.  Its resolver is pointed at our dnsmasq.
SPF_WRAPPER = """import sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
sys.argv = ["policyd-spf", sys.argv[2]]
from spf_engine.policyd_spf import main
sys.exit(main())
"""

SPF_CONF = """debugLevel = 1
HELO_reject = No_Check
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 192.0.2.1/32
"""


class Process:
    """A peer in its own session, stopped (with its children) at cleanup."""

    def __init__(self, test, argv, log):
        self.log = log
        with open(log, "ab") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        test.addCleanup(self.stop)

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_listening(self, port, what):
        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited: %s" % (what, self.text()[-2000:]))
            socket.create_connection((HOST, port), timeout=1).close()
            return True
        wait_for(listening, 20, "%s to listen on port %d" % (what, port), ignore=(OSError,))

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class SmtpdPolicyPeers(PosternTestCase):

    def workdir(self):
        d = tempfile.mkdtemp(prefix="postern-it-policy-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def tree_asking(self, port):
        """A tree whose smtpd asks the policy server on port; with bob's
        address and an SMTP session after EHLO."""
        t = self.start_tree(start=False)
        t.set_conf(smtpd_policy_services="inet:%s:%d" % (HOST, port))
        t.start()
        s = t.smtp(timeout=60)
        self.addCleanup(s.close)
        return t, t.addr("bob"), s

    def test_postgrey_defers_then_accepts_after_the_delay(self):
        if not os.path.exists(POSTGREY):
            self.skipTest("postgrey is not installed (Debian package postgrey)")
        if os.geteuid() != 0:
            self.skipTest("postgrey drops to its user: needs root")
        try:
            pw = pwd.getpwnam("postgrey")
        except KeyError:
            self.skipTest("no postgrey user (Debian package postgrey)")
        d = self.workdir()
        db = os.path.join(d, "db")
        os.mkdir(db)
        os.chown(db, pw.pw_uid, pw.pw_gid)
        os.chmod(d, 0o755)
        port = free_port()
        pg = Process(self, [POSTGREY, "--inet=%s:%d" % (HOST, port), "--dbdir=" + db, "--delay=2",
                            "--pidfile=" + os.path.join(db, "pid"), "--user=postgrey",
                            "--group=postgrey", "--auto-whitelist-clients=0"],
                     os.path.join(d, "postgrey.log"))
        pg.wait_listening(port, "postgrey")
        t, bob, s = self.tree_asking(port)
        self.assertEqual(s.mail(SENDER)[0], 250)
        code, text = s.rcpt(bob)
        self.assertEqual(code, 450, text)
        self.assertIn(b"4.2.0 <%s>: Recipient address rejected: Greylisted" % bob.encode(), text)
        s.rset()
        tries = []

        def accepted():
            self.assertEqual(s.mail(SENDER)[0], 250)
            code, text = s.rcpt(bob)
            tries.append((code, text))
            if code != 250:
                self.assertEqual(code, 450, text)
                s.rset()
            return code == 250
        wait_for(accepted, 60, "postgrey to accept the retry", interval=0.5,
                 detail=lambda: "%r\n%s" % (tries[-3:], pg.text()[-2000:]))
        self.assertEqual(s.data(make_message("grey-1", SENDER, bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"grey-1"}), {"grey-1": 1})
        with open(t.message_paths("bob")[0], "rb") as f:
            self.assertIn(b"\nX-Greylist: delayed ", f.read().split(b"\n\n", 1)[0])

    def test_policyd_spf_prepends_pass_and_rejects_fail(self):
        if not os.path.exists(POLICYD_SPF):
            self.skipTest("policyd-spf is not installed (Debian package postfix-policyd-spf-python)")
        for tool in (SOCAT,):
            if not os.path.exists(tool):
                self.skipTest("%s is not installed" % tool)
        from test_remote_delivery import DNSMASQ, Dnsmasq
        if not os.path.exists(DNSMASQ):
            self.skipTest("dnsmasq is not installed: no DNS for the SPF records")
        d = self.workdir()
        # One argv word each: quotes would end up in the TXT data.
        dns = Dnsmasq(["--txt-record=pass.test,v=spf1 ip4:127.0.0.1 -all",
                       "--txt-record=fail.test,v=spf1 ip4:192.0.2.1 -all"], d)
        self.addCleanup(dns.stop)
        dns.wait("pass.test")
        wrapper = os.path.join(d, "run_policyd_spf.py")   # not spf.py: that is pyspf's name
        conf = os.path.join(d, "policyd-spf.conf")
        with open(wrapper, "w") as f:
            f.write(SPF_WRAPPER)
        with open(conf, "w") as f:
            f.write(SPF_CONF)
        port = free_port()
        spf = Process(self, [SOCAT, "TCP-LISTEN:%d,bind=%s,reuseaddr,fork" % (port, HOST),
                             "EXEC:/usr/bin/python3 %s %d %s" % (wrapper, dns.port, conf)],
                      os.path.join(d, "socat.log"))
        spf.wait_listening(port, "socat for policyd-spf")
        t, bob, s = self.tree_asking(port)
        self.assertEqual(s.mail("someone@fail.test")[0], 250)
        code, text = s.rcpt(bob)
        self.assertEqual(code, 550, (text, spf.text()[-2000:]))
        self.assertIn(b"5.7.23 <%s>: Recipient address rejected: Message rejected due to: SPF fail"
                      % bob.encode(), text)
        s.rset()
        self.assertEqual(s.mail("someone@pass.test")[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        self.assertEqual(s.data(make_message("spf-1", "someone@pass.test", bob, b"hi\r\n"))[0], 250)
        self.assertEqual(t.wait_ids("bob", {"spf-1"}), {"spf-1": 1})
        with open(t.message_paths("bob")[0], "rb") as f:
            head = f.read().split(b"\n\n", 1)[0]
        self.assertIn(b"\nReceived-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.1;", head)
