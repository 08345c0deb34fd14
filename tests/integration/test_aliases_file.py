"""etc/aliases as operators bring it from Postfix, sendmail or Exim
(aliases(5): `name: target, target`, continuation lines, :include:), the
refusal of lines `postern map` cannot read, `newaliases` / `sendmail -bi`,
and compiled maps keeping their source's owner and mode (issue 9, items
2 and 3).

Mail goes in over SMTP (smtpd checks the recipient against aliases.cdb,
so an alias compiled under a wrong key is refused with 550) and is found
in the Maildirs by its X-Test-Id.
"""

import os
import pwd
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_harness import BIN, PosternTestCase, daemon_env, is_root  # noqa: E402


def cdb_has(path, key, value):
    """Whether the cdb at path holds the record key -> value (a cdb record
    is klen, dlen as little-endian 32-bit numbers, then key and data)."""
    k, v = key.encode(), value.encode()
    with open(path, "rb") as f:
        return struct.pack("<II", len(k), len(v)) + k + v in f.read()


class AliasesCase(PosternTestCase):

    def write_aliases(self, t, text, mode="a"):
        with open(os.path.join(t.dir, "etc", "aliases"), mode) as f:
            f.write(text)

    def run_prog(self, name, args, tree=None):
        env = daemon_env()
        if tree is not None:
            env["POSTERN_DIR"] = tree
        return subprocess.run([os.path.join(BIN, name)] + args, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)


class TestAliases5Form(AliasesCase):

    def test_colon_and_continuation_lines_deliver_to_team_and_crew(self):
        t = self.start_tree(start=False)
        self.write_aliases(t, "team: alice@example.test, bob@example.test\n"
                              "crew: alice@example.test,\n"
                              "  bob@example.test\n")
        t.run("map", "-d", t.dir, "aliases")
        t.start()
        t.send("team@example.test", "to-team")
        t.send("crew@example.test", "to-crew")
        t.send("bob@example.test", "to-bob")
        t.wait_ids("alice", {"to-team", "to-crew"})
        t.wait_ids("bob", {"to-team", "to-crew", "to-bob"})
        self.assertEqual(t.test_ids("alice"), {"to-team": 1, "to-crew": 1})
        self.assertEqual(t.test_ids("bob"), {"to-team": 1, "to-crew": 1, "to-bob": 1})

    def test_include_list_is_expanded_when_compiled(self):
        t = self.start_tree(start=False)
        lst = os.path.join(t.dir, "etc", "staff.list")
        with open(lst, "w") as f:
            f.write("# the staff\nalice@example.test\nbob\n")
        self.write_aliases(t, "staff: :include:%s\n" % lst)
        t.run("map", "-d", t.dir, "aliases")
        self.assertEqual(t.check(), (0, ""))
        # A list edited after the compile: check says the map is stale,
        # a problem (the services read the .cdb).
        cdb = os.path.join(t.dir, "etc", "aliases.cdb")
        later = os.stat(cdb).st_mtime + 60
        os.utime(lst, (later, later))
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn("aliases.cdb is older than %s/etc/aliases or a file it includes" % t.dir, out)
        t.start()
        t.send("staff@example.test", "to-staff")
        t.wait_ids("alice", {"to-staff"})
        t.wait_ids("bob", {"to-staff"})


class TestRefusals(AliasesCase):

    def assert_refused(self, t, text, where, reason):
        """map and check refuse text (appended to etc/aliases), naming
        etc/aliases:LINE and the reason; aliases.cdb is left as it was."""
        path = os.path.join(t.dir, "etc", "aliases")
        cdb = path + ".cdb"
        before = open(cdb, "rb").read()
        with open(path) as f:
            first = len(f.read().splitlines())
        self.write_aliases(t, text)
        want = "%s:%d: %s" % (path, first + where, reason)
        p = t.run("map", "-d", t.dir, "aliases", check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(want, p.stdout.decode())
        p = t.run("check", "-d", t.dir, check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(want, p.stdout.decode())
        self.assertEqual(open(cdb, "rb").read(), before)
        with open(path) as f:   # back to the good file for the next case
            lines = f.read().splitlines(True)[:first]
        self.write_aliases(t, "".join(lines), mode="w")

    def test_lines_map_cannot_read_are_refused_with_file_and_line(self):
        t = self.start_tree(start=False)
        self.assert_refused(t, "ok: alice\n<bob>: alice\n", 2,
                            "key is not an address, a local part or @domain: <bob>")
        self.assert_refused(t, "crew: alice@example.test,\nbob@example.test\n", 2,
                            "bob@example.test has no targets")
        self.assert_refused(t, "team: alice\n  bob\n", 2, "missing comma between targets")
        self.assert_refused(t, "team: alice bob\n", 1, "bad target: white space inside a target")
        self.assert_refused(t, "  bob\n", 1, "a line starting with white space continues an entry, "
                            "but there is none above it")
        self.assert_refused(t, "files: /var/mail/x\n", 1, "bad target: file targets (/path) are not supported")


class TestNewaliases(AliasesCase):

    def test_newaliases_and_sendmail_bi_rebuild_the_aliases_map(self):
        t = self.start_tree(start=False)
        cdb = os.path.join(t.dir, "etc", "aliases.cdb")
        self.write_aliases(t, "news: alice\n")
        p = self.run_prog("newaliases", [], tree=t.dir)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertTrue(cdb_has(cdb, "news", "alice"))
        self.write_aliases(t, "board:\n  bob,\n  alice\n")
        p = self.run_prog("sendmail", ["-bi", "-C", t.dir])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertTrue(cdb_has(cdb, "board", "bob, alice"))
        # A bad line: refused with file:line, the map stays as it was.
        with open(os.path.join(t.dir, "etc", "aliases")) as f:
            bad_line = len(f.read().splitlines()) + 1
        self.write_aliases(t, "bad line here\n")
        p = self.run_prog("newaliases", ["-C", t.dir])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("%s/etc/aliases:%d: " % (t.dir, bad_line), p.stdout.decode())
        self.assertTrue(cdb_has(cdb, "board", "bob, alice"))
        t.start()
        t.send("news@example.test", "to-news")
        t.send("board@example.test", "to-board")
        t.wait_ids("alice", {"to-news", "to-board"})
        t.wait_ids("bob", {"to-board"})


class TestMapModes(AliasesCase):

    def relay_passwords(self, t, mode):
        src = os.path.join(t.dir, "etc", "relay_passwords")
        with open(src, "w") as f:
            f.write("[smtp.example.net]:587 user:secret\n")
        os.chmod(src, mode)
        return src

    def test_compiled_map_keeps_source_owner_and_mode(self):
        t = self.start_tree(start=False)
        src = self.relay_passwords(t, 0o600)
        owner = (os.getuid(), os.getgid())
        if is_root():
            owner = (0, pwd.getpwnam("postern-smtp").pw_gid)
            os.chown(src, *owner)
            os.chmod(src, 0o640)
        t.run("map", "-d", t.dir, "relay_passwords")
        st = os.stat(src + ".cdb")
        self.assertEqual(oct(st.st_mode & 0o7777), oct(os.stat(src).st_mode & 0o7777))
        self.assertEqual((st.st_uid, st.st_gid), owner)
        # The aliases map (its own compiler) does the same.
        aliases = os.path.join(t.dir, "etc", "aliases")
        os.chmod(aliases, 0o640)
        t.run("map", "-d", t.dir, "aliases")
        self.assertEqual(os.stat(aliases + ".cdb").st_mode & 0o7777, 0o640)

    def test_check_refuses_a_password_map_readable_by_others(self):
        t = self.start_tree(start=False)
        src = self.relay_passwords(t, 0o644)
        t.run("map", "-d", t.dir, "relay_passwords")
        # A secret readable by others is a problem (exit 1), not a warning.
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn("postern: check: %s holds passwords and is readable by others (mode 0644)" % src, out)
        os.chmod(src, 0o600)
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn("postern: check: %s.cdb is readable by others (mode 0644) but its source" % src, out)
        t.run("map", "-d", t.dir, "relay_passwords")
        self.assertEqual(t.check(), (0, ""))


if __name__ == "__main__":
    unittest.main()
