"""smtpd: STARTTLS, SMTPS, submission and AUTH with real clients (issue 3,
items 1-4, 7): swaks and smtplib against the self-signed certificate that
`postern init` writes."""

import base64
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import time

from postern_harness import HOST, SCALE, PosternTestCase, RawSMTP, make_message, header_value


def client_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def swaks(*args):
    exe = shutil.which("swaks")
    if exe is None:
        return None
    p = subprocess.run([exe, "--timeout", "30", "--helo", "client.example"] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=90 * SCALE)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class SmtpdTls(PosternTestCase):

    def setUp(self):
        self.tree = self.start_tree()

    def need_swaks(self, r):
        if r is None:
            self.skipTest("swaks not installed (Debian package swaks; `make deps` installs it)")
        return r

    def message_text(self, user, test_id):
        ids = self.tree.wait_ids(user, {test_id}, seconds=30)
        self.assertEqual(ids.get(test_id), 1, "%s in %s's Maildir" % (test_id, user))
        for path in self.tree.message_paths(user):
            with open(path, "rb") as f:
                data = f.read()
            if header_value(data, "X-Test-Id") == test_id:
                return data.decode("utf-8", "replace")
        self.fail("message %s vanished" % test_id)

    def test_starttls_on_port_25_with_swaks_and_received_names_cipher(self):
        t = self.tree
        code, out = self.need_swaks(swaks("--server", HOST, "--port", str(t.port("smtp")), "--tls",
                                          "--from", "x@example.org", "--to", t.addr("alice"),
                                          "--header", "X-Test-Id: tls-25"))
        self.assertEqual(code, 0, out)
        self.assertIn("STARTTLS", out)
        text = self.message_text("alice", "tls-25")
        self.assertRegex(text, r"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(\d+/\d+ bits\)\)")
        self.assertRegex(text, r"with ESMTPS\b")

    def test_port_25_offers_no_auth_even_after_starttls(self):
        s = self.tree.smtp()
        try:
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"))
            s.starttls(context=client_tls())
            s.ehlo()
            self.assertFalse(s.has_extn("auth"))
            self.assertFalse(s.has_extn("starttls"), "STARTTLS offered twice")
            code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
            self.assertEqual(code, 503)
        finally:
            s.quit()

    def test_smtps_implicit_tls_with_swaks_auth_login(self):
        t = self.tree
        code, out = self.need_swaks(swaks("--server", HOST, "--port", str(t.port("smtps")),
                                          "--tls-on-connect", "--auth", "LOGIN",
                                          "--auth-user", t.addr("alice"), "--auth-password", t.passwords["alice"],
                                          "--from", t.addr("alice"), "--to", t.addr("bob"),
                                          "--header", "X-Test-Id: smtps-1"))
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"235 2\.7\.0")
        text = self.message_text("bob", "smtps-1")
        self.assertIn("(Authenticated sender: %s)" % t.addr("alice"), text)
        self.assertRegex(text, r"with ESMTPSA\b")

    def test_smtps_plaintext_client_gets_no_smtp(self):
        c = RawSMTP(self.tree.port("smtps"), timeout=10)
        try:
            c.send(b"EHLO client.example\r\n")
            with self.assertRaises((EOFError, ValueError, OSError)):
                c.read_reply()
        finally:
            c.close()

    def test_submission_auth_only_after_starttls_and_required_for_mail(self):
        t = self.tree
        s = smtplib.SMTP(HOST, t.port("submission"), local_hostname="client.example", timeout=30 * SCALE)
        try:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"), "AUTH offered before STARTTLS")
            code, msg = s.mail(t.addr("alice"))
            self.assertEqual((code, msg[:5]), (530, b"5.7.0"))
            s.starttls(context=client_tls())
            s.ehlo()
            self.assertIn("PLAIN", s.esmtp_features.get("auth", "").upper())
            self.assertIn("LOGIN", s.esmtp_features.get("auth", "").upper())
            code, msg = s.mail(t.addr("alice"))
            self.assertEqual((code, msg[:5]), (530, b"5.7.0"), "MAIL without AUTH")
            s.login(t.addr("alice"), t.passwords["alice"])
            self.assertEqual(s.mail(t.addr("alice"))[0], 250)
            self.assertEqual(s.rcpt("someone@elsewhere.example")[0], 250, "authenticated relay")
        finally:
            s.quit()

    def test_submission_auth_plain_with_swaks_adds_message_id_and_date(self):
        t = self.tree
        code, out = self.need_swaks(swaks("--server", HOST, "--port", str(t.port("submission")), "--tls",
                                          "--auth", "PLAIN", "--auth-user", t.addr("bob"),
                                          "--auth-password", t.passwords["bob"],
                                          "--from", t.addr("bob"), "--to", t.addr("alice"),
                                          "--data", "X-Test-Id: sub-1\nSubject: no id\n\nbody\n"))
        self.assertEqual(code, 0, out)
        text = self.message_text("alice", "sub-1")
        self.assertRegex(text, r"(?m)^Message-ID: <[0-9a-f]+\.[0-9a-f]{16}@\S+>$")
        self.assertRegex(text, r"(?m)^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
        head = text.split("\n\n", 1)[0]
        self.assertIn("Subject: no id", head, "added fields stay inside the header")
        # Postfix's fields, which log tools read (docs/operator.md, "The log").
        t.wait_log(r"submission/smtpd\[\d+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, "
                   r"sasl_username=%s$" % re.escape(t.addr("bob")))

    def test_submission_sender_must_be_owned(self):
        t = self.tree
        s = t.submission("alice")
        try:
            code, msg = s.mail(t.addr("bob"))
            self.assertEqual((code, msg[:5]), (553, b"5.7.1"))
            code, msg = s.mail("")
            self.assertEqual(code, 553)
            self.assertEqual(s.mail(t.addr("alice").upper())[0], 250, "case does not matter")
        finally:
            s.quit()

    def test_submission_sender_login_map_grants_other_addresses(self):
        t = self.tree
        t.stop()
        with open(os.path.join(t.dir, "etc", "senders"), "w") as f:
            f.write("team@example.test alice@example.test, bob@example.test\n")
        t.run("map", "-d", t.dir, os.path.join(t.dir, "etc", "senders"))
        t.set_conf(smtpd_sender_login_maps="senders.cdb")
        t.start()
        s = t.submission("bob")
        try:
            self.assertEqual(s.mail("team@example.test")[0], 250)
            s.rset()
            self.assertEqual(s.mail("other@example.test")[0], 553)
        finally:
            s.quit()

    def test_bad_password_gets_535_then_421_after_the_limit(self):
        t = self.tree
        t.stop()
        t.set_conf(smtpd_auth_failure_limit="2", smtpd_auth_failure_delay="1s")
        t.start()
        s = t.submission()
        try:
            bad = base64.b64encode(b"\0" + t.addr("alice").encode() + b"\0wrong-password").decode()
            for attempt in range(2):
                started = time.monotonic()
                code, msg = s.docmd("AUTH", "PLAIN " + bad)
                self.assertEqual((code, msg[:5]), (535, b"5.7.8"))
                # Margin: the delay is 1 s; 0.1 s below it for timer rounding (load only adds).
                self.assertGreaterEqual(time.monotonic() - started, 0.9, "failure answered without delay")
            code, msg = s.docmd("AUTH", "PLAIN " + "AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==")
            self.assertEqual((code, msg[:5]), (421, b"4.7.0"))
        finally:
            s.close()
        self.assertIn(b"result=fail", t.log_bytes())
        self.assertNotIn(b"wrong-password", t.log_bytes(), "password in the log")
        self.assertIn(b"warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: user " + t.addr("alice").encode(),
                      t.log_bytes())

    def test_auth_login_cancel_and_garbage(self):
        t = self.tree
        s = t.submission()
        try:
            code, msg = s.docmd("AUTH", "LOGIN")
            self.assertEqual(code, 334)
            code, msg = s.docmd("*")
            self.assertEqual((code, msg[:5]), (501, b"5.7.0"))
            code, msg = s.docmd("AUTH", "PLAIN !!!notbase64")
            self.assertEqual(code, 501)
            code, msg = s.docmd("AUTH", "CRAM-MD5")
            self.assertEqual((code, msg[:5]), (504, b"5.5.4"))
            s.login(t.addr("alice"), t.passwords["alice"])
            code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
            self.assertEqual(code, 503, "second AUTH")
        finally:
            s.quit()

    def test_plaintext_pipelined_after_starttls_is_discarded(self):
        t = self.tree
        c = RawSMTP(t.port("smtp"))
        try:
            self.assertEqual(c.read_reply()[0], 220)
            c.send(b"EHLO client.example\r\n")
            self.assertEqual(c.read_reply()[0], 250)
            # CVE-2011-0411: the injected EHLO must not be answered inside TLS.
            c.send(b"STARTTLS\r\nEHLO injected.example\r\n")
            self.assertEqual(c.read_reply()[0], 220)
            self.assertEqual(c.buf, b"")
            c.sock = client_tls().wrap_socket(c.sock)
            c.send(b"NOOP\r\n")
            code, lines = c.read_reply()
            self.assertEqual((code, len(lines)), (250, 1), "first reply inside TLS: %r" % lines)
            self.assertTrue(lines[0].startswith(b"2.0.0"))
            c.send(b"MAIL FROM:<a@example.org>\r\n")
            self.assertEqual(c.read_reply()[0], 503, "HELO forgotten after STARTTLS (RFC 3207 4.2)")
            c.send(b"QUIT\r\n")
            self.assertEqual(c.read_reply()[0], 221)
        finally:
            c.close()
        self.assertIn(b"discarded", t.log_bytes())
