"""IMAP over TLS and the IMAP privilege split (issue 10): imaps (993) and
STARTTLS (143) with Python's imaplib, LOGINDISABLED and NO
[PRIVACYREQUIRED] where imap_plaintext_auth forbids plaintext, a 10 MB
APPEND literal through the login process's TLS relay, and, read from
/proc as root, the login process as postern-login in the empty run/jail
and the session as postern-vmail in the mail root, neither with the
password file open."""

import imaplib
import os
import unittest

from postern_harness import HOST, SCALE, PosternTestCase, check_one_session_holds, check_privsep, is_root
from test_pop3_tls import tls_context


class ImapTlsPrivsep(PosternTestCase):

    def test_imaps_and_a_10_mb_append_through_the_relay(self):
        t = self.start_tree()
        c = imaplib.IMAP4_SSL(HOST, t.port("imaps"), ssl_context=tls_context(t), timeout=60 * SCALE)
        self.assertNotIn("STARTTLS", c.capabilities)
        c.login(t.addr("alice"), t.passwords["alice"])
        line = b"0123456789" * 9 + b"abcdefgh\r\n"                   # 100 octets a line
        msg = b"Subject: big\r\nX-Test-Id: big\r\n\r\n" + line * 100000  # 10 MB
        typ, data = c.append("INBOX", None, None, msg)
        self.assertEqual(typ, "OK", data)
        typ, data = c.status("INBOX", "(MESSAGES SIZE)")
        self.assertIn(b"MESSAGES 1 ", data[0])
        self.assertIn(b"SIZE %d" % len(msg), data[0])               # RFC822.SIZE counts CRLF
        stored = t.message_paths("alice")
        self.assertEqual(len(stored), 1)
        self.assertEqual(os.path.getsize(stored[0]), len(msg) - msg.count(b"\r\n"))
        c.logout()

    def test_starttls_and_the_plaintext_policy(self):
        t = self.start_tree(start=False)
        t.set_conf(imap_plaintext_auth="no")
        t.start()
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        self.assertIn("LOGINDISABLED", c.capabilities)
        self.assertIn("STARTTLS", c.capabilities)
        with self.assertRaisesRegex(imaplib.IMAP4.error, "PRIVACYREQUIRED"):
            c.login(t.addr("alice"), t.passwords["alice"])
        c.starttls(ssl_context=tls_context(t))
        typ, data = c.capability()
        self.assertNotIn(b"LOGINDISABLED", data[0])
        self.assertNotIn(b"STARTTLS", data[0])
        self.assertEqual(c.login(t.addr("alice"), t.passwords["alice"])[0], "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        c.logout()

    def test_login_in_jail_as_postern_login_session_as_vmail(self):
        if not is_root():
            self.skipTest("needs root: started by another user every process runs as that user, unchrooted")
        t = self.start_tree()
        t.send(t.addr("alice"), "v1")
        t.wait_ids("alice", ["v1"])
        c = imaplib.IMAP4_SSL(HOST, t.port("imaps"), ssl_context=tls_context(t), timeout=30 * SCALE)
        c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(c.select("INBOX"), ("OK", [b"1"]))
        logins = check_privsep(self, t, "imap", "postern-login", "run/jail")
        logins += check_privsep(self, t, "imaps", "postern-login", "run/jail")
        sessions = check_privsep(self, t, "imap-session", "postern-vmail", "mail")
        check_one_session_holds(self, t.maildir("alice"), sessions, logins)
        c.logout()


if __name__ == "__main__":
    unittest.main()
