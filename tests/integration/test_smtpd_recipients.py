"""smtpd takes at RCPT exactly the local recipients that local delivery
can resolve (common/recipient.h): mailboxes, aliases, +extensions, the
catch-all; and it notices a replaced map without a restart by hand."""

import os
import smtplib

from postern_harness import PosternTestCase


class SmtpdRecipients(PosternTestCase):

    def tree_with_aliases(self, aliases):
        t = self.start_tree(start=False)
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write(aliases)
        t.run("map", "-d", t.dir, "aliases")
        t.start()
        return t

    def rcpt(self, t, addr):
        s = t.smtp()
        try:
            s.mail("sender@example.org")
            return s.rcpt(addr)
        finally:
            s.quit()

    def test_alias_is_accepted_at_rcpt_and_delivered(self):
        t = self.tree_with_aliases("sales@example.test alice@example.test\n")
        code, _ = self.rcpt(t, "sales@example.test")
        self.assertEqual(code, 250)
        t.send("sales@example.test", "to-sales")
        self.assertIn("to-sales", t.wait_ids("alice", {"to-sales"}))

    def test_plus_extension_is_accepted_at_rcpt(self):
        t = self.start_tree()
        code, _ = self.rcpt(t, "bob+lists@example.test")
        self.assertEqual(code, 250)
        t.send("bob+lists@example.test", "to-bob-plus")
        self.assertIn("to-bob-plus", t.wait_ids("bob", {"to-bob-plus"}))

    def test_unknown_user_is_still_refused(self):
        t = self.tree_with_aliases("sales@example.test alice@example.test\n")
        code, text = self.rcpt(t, "nobody@example.test")
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1"), text)

    def test_catch_all_accepts_any_local_part(self):
        t = self.tree_with_aliases("@example.test bob@example.test\n")
        code, _ = self.rcpt(t, "anything-at-all@example.test")
        self.assertEqual(code, 250)

    def test_alias_added_while_running_is_accepted(self):
        t = self.start_tree()
        code, _ = self.rcpt(t, "info@example.test")
        self.assertEqual(code, 550)
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write("info@example.test bob@example.test\n")
        # `postern map` renames a new aliases.cdb over the old one; the
        # processes holding the old one notice and are replaced.
        t.run("map", "-d", t.dir, "aliases")
        for _ in range(3):   # a process may serve one more client with the old map
            code, _ = self.rcpt(t, "info@example.test")
            if code == 250:
                break
        self.assertEqual(code, 250)
