"""DKIM signing of submitted mail (docs/dkim.md, issue 13, step 8).

Keys made by `postern dkim keygen` (RSA and Ed25519) for the tree's
domain; relayhost points at a small SMTP sink in this file that keeps
every transaction's MAIL command and DATA.  python3-dkim (Debian's
dkimpy, run by /usr/bin/python3) verifies what arrives against the TXT
records keygen printed (its dnsfunc hook, no DNS):

- mail submitted on 587 with AUTH reaches the sink with two signatures,
  both verify, and SIZE= counts the prepended fields exactly;
- the same for mail sent through sendmail(1) (pickup);
- submitted mail to a local user lands in the Maildir signed (after
  Return-Path and Delivered-To) and verifies;
- mail received unauthenticated on port 25 is not signed;
- a From domain without a key goes through unsigned, and the log says so;
- a signer that does not answer (stopped with SIGSTOP) makes submission
  a temporary failure (dkim_sign_failure = tempfail, the default), or
  lets the message through unsigned with = accept;
- the dkim-sign service runs as postern-dkim in run/jail;
- the signature is part of the message wherever it is read back from
  the queue: `postern queue show` of a deferred message, the original
  returned in a bounce; and a version 2 queue file (no prepend slot,
  written before version 3) is still delivered;
- a command alias gets the signed message, and a forward relays it
  signed (the signature travels, it is not signed twice).
Without python3-dkim the tests are skipped and say so.
"""

import os
import re
import signal
import smtplib
import subprocess
import threading

from postern_harness import (BIN, SCALE, PosternTestCase, check_privsep, daemon_env, is_root,
                             make_message, wait_for)
from test_dkim_keygen import DEBIAN_PYTHON, dkimpy_missing
from test_remote_delivery import RawDataSink, free_tcp_port

SENDMAIL = os.path.join(BIN, "sendmail")
FOREIGN = "dest@far-away.test"

# argv: the message file, then SELECTOR=RECORD pairs; prints one verdict
# per DKIM-Signature, top down, and the d= s= a= of each.
VERIFY = r'''
import re, sys
import dkim
msg = open(sys.argv[1], "rb").read()
records = {}
for arg in sys.argv[2:]:
    name, _, rec = arg.partition("=")
    records[name.encode()] = "".join(re.findall(r'"([^"]*)"', rec)).encode()
def dnsfunc(name, timeout=5):
    return records.get(name)
d = dkim.DKIM(msg)
n = len([l for l in msg.split(b"\n") if l.lower().startswith(b"dkim-signature:")])
out = []
for i in range(n):
    try:
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.ValidationError:
        ok = False
    out.append("%s %s" % (ok, d.signature_fields.get(b"a", b"").decode()))
print(";".join(out))
'''


class SizeSink(RawDataSink):
    """test_remote_delivery's raw sink on 127.0.0.1, but advertising SIZE,
    refusing refuse@ (550) and later@ (451), and keeping each
    transaction's MAIL line and DATA (dot-unstuffed, without the dot)."""

    def __init__(self):
        self.mails = []
        self.lock = threading.Lock()
        self.port = free_tcp_port(["127.0.0.1"])
        RawDataSink.__init__(self, "127.0.0.1", self.port)   # self.data: the messages

    def session(self, c):
        self.dialogue(c.makefile("rb"), c)

    def dialogue(self, f, c):
        c.settimeout(30 * SCALE)
        c.sendall(b"220 sink.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                c.sendall(b"250-sink.test\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                mail = line.rstrip(b"\r\n")
                c.sendall(b"250 ok\r\n")
            elif verb == b"RCPT" and b"<refuse@" in line:
                c.sendall(b"550 5.1.1 no such user\r\n")
            elif verb == b"RCPT" and b"<later@" in line:
                c.sendall(b"451 4.3.0 try later\r\n")
            elif verb == b"DATA":
                c.sendall(b"354 go\r\n")
                wire = b""
                while True:
                    l = f.readline()
                    if not l:
                        raise EOFError
                    wire += l
                    if l == b".\r\n":
                        break
                body = b"".join(l[1:] if l.startswith(b".") else l
                                for l in wire[:-3].splitlines(True))
                with self.lock:
                    self.mails.append((mail, len(wire)))
                    self.data.append(body)
                c.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")

    def find(self, test_id):
        with self.lock:
            for i, d in enumerate(self.data):
                if ("X-Test-Id: " + test_id).encode() in d:
                    return self.mails[i], d
        return None


class DkimSign(PosternTestCase):

    def setUp(self):
        why = dkimpy_missing()
        if why:
            self.skipTest(why)

    def start(self, keys=(("s1", "rsa"), ("e1", "ed25519")), aliases=None, **conf):
        self.sink = SizeSink()
        self.addCleanup(self.sink.stop)
        t = self.start_tree(users=("alice", "bob"), start=False)
        self.records = []
        for sel, kind in keys:
            p = t.run("dkim", "keygen", "-d", t.dir, "--type", kind, t.domain, sel)
            out = p.stdout.decode("utf-8", "replace")
            line = [l for l in out.splitlines() if l.startswith(sel + "._domainkey.")]
            self.assertEqual(len(line), 1, out)
            self.records.append("%s._domainkey.%s.=%s" % (sel, t.domain, line[0]))
        t.set_conf(relayhost="[127.0.0.1]:%d" % self.sink.port, **conf)
        if aliases is not None:
            with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
                f.write(aliases(t))
            t.run("map", "-d", t.dir, "aliases")
        t.start()
        self.tree = t
        return t

    def verify(self, data):
        """dkimpy's verdicts, one "True ALG" / "False ALG" per signature."""
        path = os.path.join(self.tree.dir, "verify-%d.eml" % len(data))
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run([DEBIAN_PYTHON, "-c", VERIFY, path] + self.records, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60 * SCALE)
        out = p.stdout.decode("utf-8", "replace").strip()
        self.assertEqual(p.returncode, 0, out)
        return out.split(";") if out else []

    def at_sink(self, test_id):
        return wait_for(lambda: self.sink.find(test_id), 30, "message %s at the sink" % test_id,
                        detail=lambda: self.tree.log_bytes().decode("utf-8", "replace")[-3000:])

    def submit(self, test_id, rcpt, from_addr=None, body=b"Hello,\r\n\r\n  signed   body \r\n"):
        s = self.tree.submission("alice")
        try:
            sender = self.tree.addr("alice")
            msg = make_message(test_id, from_addr or sender, rcpt, body,
                               extra_headers=(b"Cc: <carol@far-away.test>",))
            s.sendmail(sender, [rcpt], msg)
        finally:
            s.quit()

    def test_submitted_mail_reaches_the_smarthost_signed_rsa_and_ed25519(self):
        self.start()
        self.submit("sub-1", FOREIGN)
        (mail, wire_len), data = self.at_sink("sub-1")
        head = data.split(b"\r\n\r\n", 1)[0]
        self.assertEqual(len(re.findall(rb"^DKIM-Signature:", head, re.M)), 2, head)
        self.assertTrue(data.startswith(b"DKIM-Signature:"), data[:200])
        self.assertNotIn(b"l=", re.search(rb"^DKIM-Signature:.*?(?=^\S)", head, re.M | re.S).group(0))
        self.assertEqual(sorted(self.verify(data)), ["True ed25519-sha256", "True rsa-sha256"])
        # SIZE= counts the prepended fields: the exact wire size here
        m = re.search(rb"SIZE=(\d+)", mail)
        self.assertIsNotNone(m, mail)
        self.assertEqual(int(m.group(1)), wire_len)
        # a changed body no longer verifies (the check is not vacuous)
        self.assertEqual(sorted(self.verify(data.replace(b"signed   body", b"signed body!"))),
                         ["False ed25519-sha256", "False rsa-sha256"])
        log = self.tree.log_bytes().decode("utf-8", "replace")
        self.assertRegex(log, r"DKIM-Signature d=%s s=s1 a=rsa-sha256" % re.escape(self.tree.domain))

    def test_sendmail_mail_is_signed(self):
        t = self.start()
        env = daemon_env()
        env["POSTERN_DIR"] = t.dir
        msg = make_message("pick-1", t.addr("alice"), FOREIGN, b"from sendmail\r\n").replace(b"\r\n", b"\n")
        p = subprocess.run([SENDMAIL, "-f", t.addr("alice"), FOREIGN], input=msg, env=env,
                           timeout=60 * SCALE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        _, data = self.at_sink("pick-1")
        self.assertEqual(sorted(self.verify(data)), ["True ed25519-sha256", "True rsa-sha256"])

    def test_local_delivery_of_submitted_mail_is_signed_port_25_mail_is_not(self):
        t = self.start(keys=(("e1", "ed25519"),))
        self.submit("loc-1", t.addr("bob"))
        s = t.smtp()
        try:
            s.sendmail("someone@elsewhere.test", [t.addr("bob")],
                       make_message("mx-1", t.addr("alice"), t.addr("bob"), b"from outside\r\n"))
        finally:
            s.quit()
        t.wait_ids("bob", {"loc-1", "mx-1"})
        got = {}
        for path in t.message_paths("bob"):
            with open(path, "rb") as f:
                data = f.read()
            m = re.search(rb"^X-Test-Id: (\S+)", data, re.M)
            got[m.group(1).decode()] = data
        signed = got["loc-1"]
        self.assertRegex(signed, rb"\AReturn-Path: <[^>]*>\nDelivered-To: [^\n]*\nDKIM-Signature: ")
        self.assertEqual(self.verify(signed), ["True ed25519-sha256"])
        self.assertNotIn(b"DKIM-Signature", got["mx-1"])

    def test_from_domain_without_key_goes_unsigned(self):
        self.start()
        self.submit("nokey-1", FOREIGN, from_addr="alice@other-domain.test")
        _, data = self.at_sink("nokey-1")
        self.assertNotIn(b"DKIM-Signature", data)
        wait_for(lambda: "not DKIM-signed: no key for other-domain.test" in
                 self.tree.log_bytes().decode("utf-8", "replace"), 10, "the log line for the unsigned message")

    def test_signer_runs_as_postern_dkim_in_the_jail(self):
        if not is_root():
            self.skipTest("privilege separation needs root")
        t = self.start(keys=(("e1", "ed25519"),))
        self.submit("priv-1", FOREIGN)   # the signer has served
        self.at_sink("priv-1")
        check_privsep(self, t, "dkim-sign", "postern-dkim", "run/jail")

    def stopped_signer(self, policy):
        """A tree whose dkim-sign processes are stopped after one message."""
        t = self.start(keys=(("e1", "ed25519"),), dkim_sign_timeout="1s", dkim_sign_failure=policy)
        self.submit("first-" + policy, FOREIGN)
        self.at_sink("first-" + policy)
        pids = t.pids("dkim-sign")
        self.assertTrue(pids)

        def cont():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.addCleanup(cont)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return t

    def test_signer_not_answering_is_a_temporary_failure(self):
        t = self.stopped_signer("tempfail")
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.submit("stuck-1", FOREIGN)
        self.assertEqual(cm.exception.smtp_code // 100, 4, cm.exception)
        wait_for(lambda: "DKIM signing failed: no answer from dkim-sign" in
                 t.log_bytes().decode("utf-8", "replace"), 10, "the log line of the failure")
        self.assertIsNone(self.sink.find("stuck-1"))

    def test_signer_not_answering_with_accept_sends_unsigned(self):
        t = self.stopped_signer("accept")
        self.submit("stuck-2", FOREIGN)
        _, data = self.at_sink("stuck-2")
        self.assertNotIn(b"DKIM-Signature", data)
        self.assertIn("not DKIM-signed: no answer from dkim-sign (dkim_sign_failure = accept)",
                      t.log_bytes().decode("utf-8", "replace"))

    def test_signature_in_queue_show_and_in_a_bounce(self):
        t = self.start(keys=(("e1", "ed25519"),))
        self.submit("later-1", "later@far-away.test")
        self.submit("refuse-1", "refuse@far-away.test")
        # deferred: `postern queue show` gives the message as it will be sent
        wait_for(lambda: [q for q in t.queue_json() if q.get("state") == "deferred"], 30,
                 "the 451 message to be deferred", detail=lambda: t.queue_json())
        qid = [q for q in t.queue_json() if q.get("state") == "deferred"][0]["id"]
        show = t.run("queue", "-d", t.dir, "show", qid).stdout
        body = show.split(b"\n\n", 1)[1]
        self.assertTrue(body.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256;"), show[:600])
        # bounced: the original (headers at least) carries the signature
        wait_for(lambda: any(b"refuse-1" in open(p, "rb").read() for p in t.message_paths("alice")), 30,
                 "the bounce of refuse-1 in alice's Maildir")
        bounce = [open(p, "rb").read() for p in t.message_paths("alice") if b"refuse-1" in open(p, "rb").read()][0]
        self.assertIn(b"multipart/report", bounce)
        original = bounce.split(b"X-Test-Id: refuse-1", 1)[0]
        self.assertIn(b"\nDKIM-Signature: v=1; a=ed25519-sha256;", original)

    def test_version_2_queue_file_is_still_delivered(self):
        t = self.start(keys=(("e1", "ed25519"),))
        data = make_message("v2-1", t.addr("alice"), t.addr("bob"), b"old file\r\n").replace(b"\r\n", b"\n")
        qid = "6B000000000000001"
        head = ("POSTERN-QUEUE 2\nid=%s\ntime=1795669601\nsender=%s\nproto=ESMTPA\nattempts=000000\n"
                "warned=0\nrcpt=P%s\nsize=%020d\n\n" % (qid, t.addr("alice"), t.addr("bob"), len(data)))
        path = os.path.join(t.dir, "queue", "hold", qid)
        with open(path, "wb") as f:
            f.write(head.encode() + data)
        if is_root():
            st = os.stat(os.path.join(t.dir, "queue", "hold"))
            os.chown(path, st.st_uid, st.st_gid)
        t.run("queue", "-d", t.dir, "release", qid)
        t.wait_ids("bob", {"v2-1"})
        got = [open(p, "rb").read() for p in t.message_paths("bob")]
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0].endswith(data), got[0][:400])
        self.assertNotIn(b"DKIM-Signature", got[0])   # never signed after the fact

    def test_command_and_forward_get_the_signature(self):
        out = []

        def aliases(t):
            d = os.path.join(t.dir, "cmd-out")
            os.mkdir(d)
            os.chmod(d, 0o777)   # the command runs as local_command_user
            out.append(os.path.join(d, "msg"))
            return ('archive@%s "|cat > %s"\nfwd@%s %s\n' % (t.domain, out[0], t.domain, FOREIGN))
        t = self.start(keys=(("e1", "ed25519"),), aliases=aliases)
        self.submit("cmd-1", t.addr("archive"))
        self.submit("fwd-1", "fwd@" + t.domain)
        wait_for(lambda: os.path.exists(out[0]) and b"cmd-1" in open(out[0], "rb").read(), 30,
                 "the command's copy", detail=lambda: t.log_bytes().decode("utf-8", "replace")[-2000:])
        msg = open(out[0], "rb").read()
        self.assertRegex(msg, rb"\AReturn-Path: <[^>]*>\nDelivered-To: [^\n]*\nDKIM-Signature: ")
        self.assertEqual(self.verify(msg), ["True ed25519-sha256"])
        _, data = self.at_sink("fwd-1")
        self.assertEqual(self.verify(data), ["True ed25519-sha256"])
