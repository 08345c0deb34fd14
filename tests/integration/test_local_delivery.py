"""Local delivery: aliases (several targets, catch-all, loops), plus-addressing
into Maildir++ folders, Maildir++ quota, |command targets.

Every test starts a real tree, edits etc/aliases or postern.conf the way an
operator would (text map + `postern map`), sends over SMTP with smtplib and
checks the Maildirs or the per-recipient log line of local
(`to=<R>, relay=local, delay=S, delays=a/b/c/d, dsn=X.Y.Z, status=bounced|deferred`).  Mail is
submitted through the sendmail front-end (pickup), which accepts any
recipient: smtpd's RCPT check is not under test here.
"""

import os
import subprocess
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, PosternTestCase, daemon_env, is_root, make_message, wait_for  # noqa: E402


def submit(t, rcpt, test_id, body=b"hello\n", sender="sender@example.org", raw=None):
    """Submit one message through BIN/sendmail (pickup) into tree t."""
    msg = raw if raw is not None else make_message(test_id, sender, rcpt, body)
    env = daemon_env()
    env["POSTERN_DIR"] = t.dir
    p = subprocess.run([os.path.join(BIN, "sendmail"), "-oi", "-f", sender, rcpt], input=msg,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
    if p.returncode != 0:
        raise AssertionError("sendmail exited %d: %s" % (p.returncode, p.stdout.decode()))


class LocalCase(PosternTestCase):

    def tree_with(self, aliases="", conf=""):
        t = self.start_tree(start=False)
        if aliases:
            with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
                f.write(aliases)
            t.run("map", "-d", t.dir, "aliases")
        if conf:
            with open(os.path.join(t.dir, "etc", "postern.conf"), "a") as f:
                f.write(conf)
        t.start()
        return t

    def wait_log(self, t, pattern, seconds=30):
        return t.wait_log(pattern, seconds)

    def folder_files(self, t, user, folder):
        d = os.path.join(t.maildir(user), "." + folder, "new")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


class TestAliases(LocalCase):

    def test_alias_to_two_users_reaches_both(self):
        t = self.tree_with("team@example.test  alice, bob@example.test\n")
        submit(t, "team@example.test", "alias-two")
        t.wait_ids("alice", {"alias-two"})
        t.wait_ids("bob", {"alias-two"})
        msg = open(t.message_paths("bob")[0], "rb").read()
        self.assertIn(b"Delivered-To: bob@example.test\n", msg)

    def test_bare_postmaster_alias_covers_every_local_domain(self):
        t = self.tree_with("postmaster  alice@example.test\n")
        submit(t, "postmaster@example.test", "pm-1")
        t.wait_ids("alice", {"pm-1"})

    def test_catch_all_takes_unknown_addresses_only(self):
        t = self.tree_with("@example.test  bob\n")
        submit(t, "nobody-here@example.test", "catch-1")
        submit(t, "alice@example.test", "catch-2")
        t.wait_ids("bob", {"catch-1"})
        t.wait_ids("alice", {"catch-2"})
        self.assertEqual(t.test_ids("bob"), {"catch-1": 1})

    def test_alias_cycle_fails_with_5_4_6(self):
        t = self.tree_with("loop1@example.test loop2@example.test\nloop2@example.test loop1@example.test\n")
        submit(t, "loop1@example.test", "cycle-1")
        self.wait_log(t, r"to=<loop1@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.4\.6, status=bounced")

    def test_delivered_to_naming_the_recipient_is_a_loop(self):
        t = self.tree_with()
        submit(t, "alice@example.test", "dt-loop", raw=b"Delivered-To: alice@example.test\r\n"
               b"X-Test-Id: dt-loop\r\nSubject: loop\r\n\r\nagain\r\n")
        self.wait_log(t, r"to=<alice@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.4\.6, status=bounced \(mail forwarding loop")
        self.assertEqual(t.count("alice"), 0)

    def test_delivered_to_after_a_long_header_is_a_loop(self):
        # The header is read block by block up to its empty line: a field
        # 40 KB down still counts.
        t = self.tree_with()
        pad = b"".join(b"X-Pad-%05d: %s\r\n" % (i, b"p" * 60) for i in range(550))
        submit(t, "alice@example.test", "dt-long", raw=b"X-Test-Id: dt-long\r\n" + pad +
               b"Delivered-To: alice@example.test\r\nSubject: loop\r\n\r\nagain\r\n")
        self.wait_log(t, r"to=<alice@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.4\.6, status=bounced \(mail forwarding loop")
        self.assertEqual(t.count("alice"), 0)

    def test_delivered_to_in_the_body_is_not_a_loop(self):
        # Only the header counts: the scan stops at its empty line.
        t = self.tree_with()
        body = b"".join(b"line %05d of the body\r\n" % i for i in range(2000))
        submit(t, "alice@example.test", "dt-body", raw=b"X-Test-Id: dt-body\r\nSubject: quoted\r\n\r\n" +
               b"Delivered-To: alice@example.test\r\n" + body)
        t.wait_ids("alice", {"dt-body"})

    def test_too_many_received_headers_is_a_loop(self):
        t = self.tree_with(conf="hopcount_limit = 5\n")
        # pickup adds its own Received: 4 here + 1 = 5 is fine, 5 + 1 = 6 is not.
        hops = b"".join(b"Received: from hop%d by x; Thu, 1 Jan 2026 00:00:00 +0000\r\n" % i
                        for i in range(5))
        submit(t, "bob@example.test", "hops", raw=hops + b"Subject: hops\r\n\r\nx\r\n")
        self.wait_log(t, r"to=<bob@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.4\.6, status=bounced")

    def test_unknown_alias_target_bounces_5_1_1(self):
        t = self.tree_with("typo@example.test  nosuchuser\n")
        submit(t, "typo@example.test", "typo-1")
        self.wait_log(t, r"to=<typo@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.1\.1, status=bounced")


class TestPlusAddressing(LocalCase):

    def test_tag_goes_to_existing_folder_else_inbox(self):
        t = self.tree_with()
        folder = os.path.join(t.maildir("alice"), ".lists")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(folder, sub))
        if is_root():
            import pwd
            pw = pwd.getpwnam("postern-vmail")
            for root, dirs, _ in os.walk(folder):
                os.chown(root, pw.pw_uid, pw.pw_gid)
        submit(t, "alice+lists@example.test", "plus-folder")
        submit(t, "alice+other@example.test", "plus-inbox")
        t.wait_ids("alice", {"plus-inbox"})
        files = wait_for(lambda: self.folder_files(t, "alice", "lists"), 20, "a message in alice's .lists",
                         detail=t.log_tail)
        self.assertEqual(len(files), 1)
        msg = open(os.path.join(folder, "new", files[0]), "rb").read()
        self.assertIn(b"X-Test-Id: plus-folder", msg)
        self.assertIn(b"Delivered-To: alice+lists@example.test\n", msg)


class TestQuota(LocalCase):

    def test_over_quota_bounces_5_2_2_and_small_mail_still_fits(self):
        t = self.tree_with(conf="mailbox_quota = 4k\nmailbox_quota_action = bounce\n")
        submit(t, "bob@example.test", "q-small")
        t.wait_ids("bob", {"q-small"})
        submit(t, "bob@example.test", "q-big", body=b"x" * 70 + b"\r\n" * 1 + (b"y" * 70 + b"\r\n") * 80)
        self.wait_log(t, r"to=<bob@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.2\.2, status=bounced \(mailbox full")
        with open(os.path.join(t.maildir("bob"), "maildirsize")) as f:
            self.assertEqual(f.readline(), "4096S\n")
        self.assertEqual(t.test_ids("bob"), {"q-small": 1})

    def test_per_mailbox_quota_overrides_the_default(self):
        # No default quota; bob alone is limited by etc/quota.
        t = self.start_tree(start=False)
        with open(os.path.join(t.dir, "etc", "quota"), "w") as f:
            f.write("bob@example.test 2k\n")
        t.run("map", "-d", t.dir, "quota")
        with open(os.path.join(t.dir, "etc", "postern.conf"), "a") as f:
            f.write("mailbox_quota_action = bounce\n")
        t.start()
        big = (b"w" * 70 + b"\r\n") * 40            # ~2.9 KB: over bob's 2k
        submit(t, "alice@example.test", "pq-alice", body=big)
        submit(t, "bob@example.test", "pq-bob", body=big)
        self.wait_log(t, r"to=<bob@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.2\.2, status=bounced \(mailbox full \(quota 2048")
        self.assertIn("pq-alice", t.wait_ids("alice", {"pq-alice"}))
        self.assertNotIn("pq-bob", t.test_ids("bob"))

    def test_over_quota_defers_by_default(self):
        t = self.tree_with(conf="mailbox_quota = 1k\n")
        submit(t, "bob@example.test", "q-defer", body=(b"z" * 70 + b"\r\n") * 30)
        self.wait_log(t, r"to=<bob@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=4\.2\.2, status=deferred")


class TestCommand(LocalCase):

    def command_dir(self, t):
        d = os.path.join(t.dir, "cmd-out")
        os.mkdir(d)
        os.chmod(d, 0o777)   # the command runs as local_command_user (nobody)
        return d

    def test_command_gets_message_and_envelope_in_environment(self):
        t = self.start_tree(start=False)
        d = self.command_dir(t)
        with open(os.path.join(t.dir, "etc", "aliases"), "a") as f:
            f.write('archive@example.test "|cat > %s/msg; echo \\"$SENDER $RECIPIENT\\" > %s/env"\n'
                    % (d, d))
        t.run("map", "-d", t.dir, "aliases")
        t.start()
        submit(t, "archive@example.test", "cmd-1", sender="o'brien&co@example.org")
        self.wait_log(t, r"to=<archive@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=\S+, status=sent \(delivered to command")
        msg = open(os.path.join(d, "msg"), "rb").read()
        self.assertIn(b"X-Test-Id: cmd-1", msg)
        self.assertTrue(msg.startswith(b"Return-Path: <o'brien&co@example.org>\n"))
        # The sender reaches the command only through the environment, cleaned.
        self.assertEqual(open(os.path.join(d, "env")).read(), "o_brien_co@example.org archive@example.test\n")
        if is_root():
            self.assertEqual(os.stat(os.path.join(d, "msg")).st_uid, __import__("pwd").getpwnam("nobody").pw_uid)

    def test_command_exit_codes_map_per_sysexits(self):
        t = self.tree_with('tempfail "|exit 75"\nnouser "|exit 67"\n')
        submit(t, "tempfail@example.test", "cmd-75")
        submit(t, "nouser@example.test", "cmd-67")
        # the reason without a dangling ": " when the command said nothing
        self.wait_log(t, r"to=<tempfail@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=4\.3\.0, "
                         r"status=deferred \(command exit 75 \(EX_TEMPFAIL\)\)$")
        self.wait_log(t, r"to=<nouser@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=5\.1\.1, "
                         r"status=bounced \(command exit 67\)$")

    def test_command_timeout_defers(self):
        t = self.tree_with('slow "|sleep 30"\n', conf="local_command_timeout = 1s\n")
        submit(t, "slow@example.test", "cmd-slow")
        self.wait_log(t, r"to=<slow@example\.test>, relay=local, delay=\S+, delays=\S+, dsn=4\.3\.0, status=deferred \(command timed out")


if __name__ == "__main__":
    unittest.main()
