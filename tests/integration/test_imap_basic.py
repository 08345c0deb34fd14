"""IMAP (issue 10) with Python's imaplib: login (LOGIN, AUTHENTICATE
PLAIN), the LOGINDISABLED policy, SELECT / EXAMINE with their untagged
data, STORE of flags and keywords, EXPUNGE seen by a second session,
NOOP reporting a delivery, LIST / STATUS / CREATE / RENAME / DELETE /
SUBSCRIBE, and the same UIDs POP3 shows."""

import imaplib
import os
import socket
import re

from postern_harness import HOST, SCALE, PosternTestCase


def imap(t, user="alice"):
    c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
    c.login(t.addr(user), t.passwords[user])
    return c


class ImapBasic(PosternTestCase):

    def deliver(self, t, user, ids):
        for i in ids:
            t.send(t.addr(user), i)
        t.wait_ids(user, set(ids))

    def test_greeting_capability_and_logins(self):
        t = self.start_tree()
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        self.assertIn("IMAP4REV2", c.capabilities)
        self.assertIn("AUTH=PLAIN", c.capabilities)      # loopback: plaintext allowed
        self.assertIn("STARTTLS", c.capabilities)
        typ, _ = c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(typ, "OK")
        typ, data = c.capability()
        self.assertNotIn(b"LOGINDISABLED", data[0])
        c.logout()
        # AUTHENTICATE PLAIN (imaplib sends the response after "+").
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        user, pw = t.addr("bob"), t.passwords["bob"]
        typ, _ = c.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (user, pw)).encode())
        self.assertEqual(typ, "OK")
        c.logout()
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        with self.assertRaises(imaplib.IMAP4.error):
            c.login(t.addr("alice"), "wrong password")
        c.logout()

    def test_select_store_expunge_and_a_second_session(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["m1", "m2", "m3"])
        a, b = imap(t), imap(t)
        typ, data = a.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"3"]))
        uidvalidity = int(a.untagged_responses["UIDVALIDITY"][0])
        b.select("INBOX")
        typ, data = a.store("1:2", "+FLAGS", r"(\Seen $Forwarded)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"$Forwarded", data[0])
        a.store("2", "+FLAGS", r"(\Deleted)")
        typ, data = a.expunge()
        self.assertEqual(data, [b"2"])
        # The other session hears of the expunge and the flags at NOOP.
        b.noop()
        self.assertEqual(b.untagged_responses.get("EXPUNGE"), [b"2"])
        fetches = b.untagged_responses.get("FETCH", [])
        self.assertTrue(any(f.startswith(b"1 (UID 1 FLAGS (") and b"$Forwarded" in f for f in fetches), fetches)
        # A delivery shows at the next NOOP.
        self.deliver(t, "alice", ["m4"])
        a.noop()
        self.assertEqual(a.untagged_responses.get("EXISTS", [None])[-1], b"3")
        # EXAMINE is read-only.
        typ, data = b.select("INBOX", readonly=True)
        typ, data = b.store("1", "+FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "NO")
        # POP3 sees the same UIDs (UIDL is UIDVALIDITY-UID).
        a.logout()
        b.logout()
        p = t.pop3("alice")
        _, listing, _ = p.uidl()
        uidls = [l.split()[1].decode() for l in listing]
        self.assertEqual(uidls, ["%d-%d" % (uidvalidity, u) for u in (1, 3, 4)])
        p.quit()

    def test_mailbox_commands(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["x1"])
        c = imap(t)
        # The special-use folders exist (and are subscribed) from the first login.
        typ, data = c.list()
        special = {re.sub(rb'.*"\." ', b"", l): l for l in data}
        for name, use in ((b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"), (b"Trash", b"\\Trash"),
                          (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")):
            self.assertIn(use, special[name])
        self.assertEqual(c.create("Projects")[0], "OK")
        self.assertEqual(c.create("Projects.2026")[0], "OK")
        self.assertEqual(c.create("Projects")[0], "NO")
        typ, data = c.list('""', "Pro*")
        names = [re.sub(rb'.*"\." ', b"", l) for l in data]
        self.assertEqual(sorted(names), [b"Projects", b"Projects.2026"])
        self.assertTrue(any(b"\\HasChildren" in l and l.endswith(b" Projects") for l in data))
        typ, data = c.list('""', "%")
        self.assertNotIn(b"Projects.2026", b" ".join(data))      # % stops at the separator
        typ, data = c.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"MESSAGES 1", data[0])
        # RFC 8438 STATUS=SIZE and RFC 7889 APPENDLIMIT (= message_size_limit).
        caps = c.capability()[1][0].split()
        self.assertIn(b"STATUS=SIZE", caps)
        self.assertIn(b"APPENDLIMIT=10485760", caps)
        typ, data = c.status("INBOX", "(SIZE APPENDLIMIT)")
        size = os.path.getsize(t.message_paths("alice")[0])
        self.assertRegex(data[0], rb"SIZE (\d+) APPENDLIMIT 10485760")
        self.assertGreater(int(re.search(rb"SIZE (\d+)", data[0]).group(1)), size)   # CRLF counted
        self.assertEqual(c.rename("Projects", "Old")[0], "OK")
        typ, data = c.list('""', "Old*")
        names = sorted(re.sub(rb'.*"\." ', b"", l) for l in data)
        self.assertEqual(names, [b"Old", b"Old.2026"])
        self.assertEqual(c.delete("Old")[0], "NO")              # has children
        self.assertEqual(c.delete("Old.2026")[0], "OK")
        self.assertEqual(c.subscribe("Old")[0], "OK")
        typ, data = c.lsub('""', "Old")
        self.assertEqual([re.sub(rb'.*"\." ', b"", l) for l in data], [b"Old"])
        self.assertEqual(c.unsubscribe("Old")[0], "OK")
        typ, data = c.lsub('""', "Old")
        self.assertEqual(data, [None])
        self.assertEqual(c.select("Old")[0], "OK")
        self.assertEqual(c.select("Nope")[0], "NO")
        c.logout()

    def test_append_copy_move_with_uidplus(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["first"])
        c = imap(t)
        c.create("Saved")
        msg = b"From: a@example.org\r\nSubject: appended\r\nX-Test-Id: app1\r\n\r\nbody line\r\n"
        typ, data = c.append("INBOX", r"(\Seen $Label1)", imaplib.Time2Internaldate(1700000000), msg)
        self.assertEqual(typ, "OK")
        m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        self.assertIsNotNone(m, data)
        self.assertEqual(int(m.group(2)), 2)
        typ, data = c.append("Nope", None, None, msg)
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])
        # Stored with LF line ends, as delivered mail is; the store counts CRLF.
        stored = [p for p in t.message_paths("alice") if "app1" in open(p, "rb").read().decode("latin-1")]
        self.assertEqual(len(stored), 1)
        self.assertNotIn(b"\r\n", open(stored[0], "rb").read())
        c.select("INBOX")
        typ, data = c._simple_command("UID", "COPY", "1:*", "Saved")   # the tagged text
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0], rb"COPYUID \d+ 1,2 1,2")
        typ, data = c._simple_command("UID", "MOVE", "1", "Saved")
        self.assertEqual(typ, "OK")
        self.assertRegex(c.untagged_responses.get("OK", [b""])[-1], rb"COPYUID \d+ 1 3")
        self.assertEqual(c.untagged_responses.get("EXPUNGE"), [b"1"])
        typ, data = c.status("Saved", "(MESSAGES UIDNEXT)")
        self.assertIn(b"MESSAGES 3 UIDNEXT 4", data[0])
        typ, data = c.status("INBOX", "(MESSAGES)")
        self.assertIn(b"MESSAGES 1", data[0])
        c.logout()

    def test_idle_sees_a_delivery_and_another_sessions_expunge(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["i1", "i2"])
        s = socket.create_connection((HOST, t.port("imap")), timeout=30 * SCALE)
        f = s.makefile("rb")

        def line():
            l = f.readline()
            if not l:
                raise EOFError("server closed")
            return l

        def until(pred, what):
            while True:
                l = line()
                if pred(l):
                    return l

        line()                                                   # greeting
        s.sendall(b"a LOGIN %s %s\r\n" % (t.addr("alice").encode(), t.passwords["alice"].encode()))
        until(lambda l: l.startswith(b"a "), "login")
        s.sendall(b"b SELECT INBOX\r\n")
        until(lambda l: l.startswith(b"b OK"), "select")
        s.sendall(b"c IDLE\r\n")
        until(lambda l: l.startswith(b"+ "), "continuation")
        t.send(t.addr("alice"), "i3")                            # a delivery
        self.assertEqual(until(lambda l: l.endswith(b"EXISTS\r\n"), "EXISTS"), b"* 3 EXISTS\r\n")
        other = imap(t)
        other.select("INBOX")
        other.store("1", "+FLAGS", r"(\Deleted)")
        other.expunge()
        other.logout()
        self.assertEqual(until(lambda l: l.endswith(b"EXPUNGE\r\n"), "EXPUNGE"), b"* 1 EXPUNGE\r\n")
        s.sendall(b"DONE\r\n")
        self.assertTrue(until(lambda l: l.startswith(b"c "), "IDLE end").startswith(b"c OK"))
        s.sendall(b"d LOGOUT\r\n")
        until(lambda l: l.startswith(b"d "), "logout")
        s.close()

    def test_fetch_and_search(self):
        t = self.start_tree()
        body = b"Hello there\r\nsecond line with Needle\r\n"
        for i in ("f1", "f2", "f3"):
            t.send(t.addr("alice"), i, body=body if i == "f2" else b"nothing\r\n")
            t.wait_ids("alice", {i})
        c = imap(t)
        c.select("INBOX")
        typ, data = c.fetch("1:3", "(UID FLAGS RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), 3)
        self.assertRegex(data[0], rb"^1 \(UID 1 FLAGS \((\\Recent)?\) RFC822.SIZE \d+\)$")
        typ, data = c.fetch("2", "(BODY.PEEK[])")
        raw = data[0][1]
        self.assertTrue(raw.endswith(body), raw)
        self.assertIn(b"X-Test-Id: f2\r\n", raw)
        size = int(re.search(rb"RFC822.SIZE (\d+)", c.fetch("2", "(RFC822.SIZE)")[1][0]).group(1))
        self.assertEqual(size, len(raw))
        typ, data = c.fetch("2", "(FLAGS)")
        self.assertNotIn(b"\\Seen", data[0])                   # PEEK set nothing
        typ, data = c.fetch("2", "(BODY[TEXT])")
        self.assertEqual(data[0][1], body)
        self.assertIn(b"\\Seen", c.fetch("2", "(FLAGS)")[1][0])
        typ, data = c.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"ENVELOPE (", data[0])
        self.assertEqual(c.search(None, "BODY", "needle"), ("OK", [b"2"]))
        self.assertEqual(c.search(None, "SEEN"), ("OK", [b"2"]))
        self.assertEqual(c.search(None, "NOT", "SEEN"), ("OK", [b"1 3"]))
        typ, data = c.uid("SEARCH", "HEADER", "X-Test-Id", "f3")
        self.assertEqual(data, [b"3"])
        # ESEARCH (RETURN), and IMAP4rev2 answers every SEARCH so.
        typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
        self.assertEqual(typ, "OK")
        self.assertRegex(c.untagged_responses["ESEARCH"][-1], rb'\(TAG "[A-Z0-9]+"\) MIN 1 MAX 3 COUNT 3')
        c.unselect()
        self.assertEqual(c.enable("IMAP4rev2")[0], "OK")
        c.select("INBOX")
        typ, data = c._simple_command("UID", "SEARCH", "BODY", "needle")
        self.assertEqual(typ, "OK")
        self.assertRegex(c.untagged_responses["ESEARCH"][-1], rb'\(TAG "[A-Z0-9]+"\) UID ALL 2$')
        c.logout()

    def test_limits_have_their_replies_and_the_session_survives(self):
        t = self.start_tree(start=False)
        t.set_conf(message_size_limit="100000", imap_line_limit="8192", imap_hard_error_limit="3")
        t.start()
        s = socket.create_connection((HOST, t.port("imap")), timeout=30 * SCALE)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"a LOGIN %s %s\r\n" % (t.addr("alice").encode(), t.passwords["alice"].encode()))
        self.assertTrue(f.readline().startswith(b"a OK"))
        # A literal above message_size_limit is refused before it is sent.
        s.sendall(b"b APPEND INBOX {200000}\r\n")
        reply = f.readline()
        self.assertRegex(reply, rb"^b NO \[TOOBIG\]")
        # A command line above imap_line_limit: BAD, and the session goes on.
        s.sendall(b"c NOOP " + b"x" * 9000 + b"\r\n")
        self.assertRegex(f.readline(), rb"^(c|\*) BAD")
        s.sendall(b"d NOOP\r\n")
        self.assertTrue(f.readline().startswith(b"d OK"))
        # imap_hard_error_limit BADs end the session with BYE.
        s.sendall(b"e FOO\r\nf FOO\r\ng FOO\r\n")
        lines = [f.readline() for _ in range(4)]
        self.assertTrue(any(l.startswith(b"* BYE") for l in lines), lines)
        self.assertEqual(f.readline(), b"")
        s.close()

    def test_rename_inbox_moves_its_messages(self):
        t = self.start_tree()
        self.deliver(t, "alice", ["r1", "r2"])
        c = imap(t)
        self.assertEqual(c.rename("INBOX", "Before"), ("OK", [b"RENAME completed"]))
        self.assertIn(b"MESSAGES 0", c.status("INBOX", "(MESSAGES)")[1][0])
        self.assertIn(b"MESSAGES 2", c.status("Before", "(MESSAGES)")[1][0])
        c.select("Before")
        typ, data = c.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (X-TEST-ID)])")
        ids = sorted(d[1].strip() for d in data if isinstance(d, tuple))
        self.assertEqual(ids, [b"X-Test-Id: r1", b"X-Test-Id: r2"])
        c.logout()

    def test_sessions_per_user_are_limited_across_processes(self):
        t = self.start_tree(start=False)
        t.set_conf(imap_user_session_limit="2")
        t.start()
        a, b = imap(t), imap(t)
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        with self.assertRaisesRegex(imaplib.IMAP4.error, r"\[LIMIT\]"):
            c.login(t.addr("alice"), t.passwords["alice"])
        self.assertEqual(imap(t, "bob").logout()[0], "BYE")      # another user is not counted
        a.logout()
        # A slot given back is free again (the session process lives on).
        self.assertEqual(imap(t).select("INBOX")[0], "OK")
        b.logout()

    def test_failed_logins_are_throttled_through_authd(self):
        t = self.start_tree(start=False)
        t.set_conf(auth_failure_limit_client="2", imap_auth_failure_delay="0", imap_auth_failure_delay_max="0")
        t.start()
        c = imaplib.IMAP4(HOST, t.port("imap"), timeout=30 * SCALE)
        for _ in range(2):
            with self.assertRaisesRegex(imaplib.IMAP4.error, "AUTHENTICATIONFAILED"):
                c.login(t.addr("alice"), "wrong")
        # At the limit: refused without a password check, then BYE.
        with self.assertRaises((imaplib.IMAP4.error, imaplib.IMAP4.abort)):
            c.login(t.addr("alice"), t.passwords["alice"])
        t.wait_log(r"login failed user=alice@\S+ client=127\.0\.0\.1 failures=\d+ throttled")
        with self.assertRaises((imaplib.IMAP4.abort, OSError, EOFError)):
            c.noop()

    def test_structure_texts_are_parsed_once_and_shared(self):
        t = self.start_tree()
        t.send(t.addr("alice"), "c1", body=b"plain body\r\n")
        t.wait_ids("alice", {"c1"})
        a = imap(t)
        a.select("INBOX")
        first = a.fetch("1", "(ENVELOPE BODYSTRUCTURE)")[1][0]
        self.assertIn(b"ENVELOPE (", first)
        # Change the stored Subject behind the server's back (same length):
        # what is read from the file shows it; ENVELOPE, parsed once and
        # cached for every session, does not.
        path = t.message_paths("alice")[0]
        raw = open(path, "rb").read()
        m = re.search(rb"\nSubject: (\S+)", raw)
        self.assertIsNotNone(m, raw[:300])
        old = m.group(1)
        new = bytes(c ^ 1 if 0x41 <= c <= 0x7a and chr(c ^ 1).isalpha() else c for c in old)
        self.assertNotEqual(old, new)
        with open(path, "r+b") as f:
            f.write(raw[:m.start(1)] + new + raw[m.end(1):])
        b = imap(t)
        b.select("INBOX")
        header = b.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1]
        self.assertIn(new, header)
        again = b.fetch("1", "(ENVELOPE BODYSTRUCTURE)")[1][0]
        self.assertEqual(again, first)
        self.assertIn(old, again)
        self.assertTrue(os.path.exists(os.path.join(t.maildir("alice"), "postern-cache")))
        a.logout()
        b.logout()
