"""`postern conf` (issue 12, section 2): postern.conf and master.conf shown
and edited as postconf(1) does.  An edit keeps every other byte of the
file, goes under the commented-out default that `postern init` wrote,
is refused (nothing written) when the daemons' parser would refuse the
result, keeps the file's owner and mode, and removing it again gives back
the file as it was."""

import os

from postern_harness import PosternTestCase


class PosternConf(PosternTestCase):

    def conf(self, t, *args, code=0):
        p = t.run("conf", "-d", t.dir, *args, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, code, out)
        return out

    def path(self, t, name="postern.conf"):
        return os.path.join(t.dir, "etc", name)

    def read(self, t, name="postern.conf"):
        with open(self.path(t, name), "rb") as f:
            return f.read()

    def test_show_all_non_default_defaults_and_keys(self):
        t = self.start_tree(users=(), start=False)
        every = self.conf(t).splitlines()
        self.assertIn("message_size_limit = 10485760", every)
        self.assertIn("relayhost =", every)
        self.assertEqual(len(every), len(self.conf(t, "-D").splitlines()))
        # -n: what init set (host name, program directory), nothing else.
        self.assertEqual([l.split(" =")[0] for l in self.conf(t, "-n").splitlines()],
                         ["myhostname", "program_directory"])
        self.assertEqual(self.conf(t, "-D", "myhostname", "relayhost"), "myhostname =\nrelayhost =\n")
        self.assertEqual(self.conf(t, "message_size_limit"), "message_size_limit = 10485760\n")
        self.assertEqual(self.conf(t, "-h", "message_size_limit", "smtpd_timeout"), "10485760\n300s\n")
        out = self.conf(t, "no_such_key", code=1)
        self.assertIn("postern: unknown key no_such_key", out)

    def test_init_force_keeps_the_previous_files(self):
        # init --force rewrites postern.conf and master.conf (docs/dkim.md
        # once sent operators there for a missing line): what they had
        # changed stays in FILE.old; an unchanged file gets no .old.
        t = self.start_tree(users=(), start=False)
        self.conf(t, "relayhost=[192.0.2.25]:587")
        before = self.read(t)
        master = self.read(t, "master.conf")
        args = ("init", "-d", t.dir, "--domain", t.domain, "--listen", "127.0.0.1", "--port-base", str(t.port_base),
                "--force")
        out = t.run(*args).stdout.decode()
        self.assertIn("postern: kept the previous %s as %s.old\n" % (self.path(t), self.path(t)), out)
        self.assertNotIn("master.conf.old", out)
        self.assertEqual(self.read(t, "postern.conf.old"), before)
        self.assertEqual(self.conf(t, "-h", "relayhost"), "\n")
        self.assertEqual(self.read(t, "master.conf"), master)
        self.assertFalse(os.path.exists(self.path(t, "master.conf.old")))

    def test_set_and_remove_round_trip_byte_for_byte(self):
        t = self.start_tree(users=(), start=False)
        before = self.read(t)
        os.chmod(self.path(t), 0o640)
        st = os.stat(self.path(t))
        self.assertEqual(self.conf(t, "message_size_limit=20m", "relayhost = [mx.example.test]:587"), "")
        after = self.read(t)
        # Each line went right under its commented-out default; nothing
        # else changed.
        self.assertIn(b"\n#message_size_limit = 10485760\nmessage_size_limit = 20m\n", after)
        self.assertIn(b"\n#relayhost =\nrelayhost = [mx.example.test]:587\n", after)
        self.assertEqual(after.replace(b"message_size_limit = 20m\n", b"")
                         .replace(b"relayhost = [mx.example.test]:587\n", b""), before)
        self.assertEqual(self.conf(t, "-n", "message_size_limit", "relayhost"),
                         "message_size_limit = 20m\nrelayhost = [mx.example.test]:587\n")
        st2 = os.stat(self.path(t))
        self.assertEqual((st2.st_mode, st2.st_uid, st2.st_gid), (st.st_mode, st.st_uid, st.st_gid))
        # Set again: the line is replaced, not added twice.
        self.conf(t, "message_size_limit=30m")
        self.assertEqual(self.read(t).count(b"\nmessage_size_limit = "), 1)
        self.conf(t, "-X", "message_size_limit", "relayhost")
        self.assertEqual(self.read(t), before)
        # The daemons read what was written: check accepts it.
        self.conf(t, "smtpd_timeout=2m")
        self.assertEqual(t.check(), (0, ""))

    def test_an_operators_line_and_comments_are_kept(self):
        t = self.start_tree(users=(), start=False)
        with open(self.path(t), "ab") as f:
            f.write(b"# my note\nmynetworks = 127.0.0.0/8\n    ::1/128\n# end\n")
        before = self.read(t)
        self.conf(t, "mynetworks=192.0.2.0/24")
        self.assertEqual(self.read(t), before.replace(b"mynetworks = 127.0.0.0/8\n    ::1/128\n",
                                                      b"mynetworks = 192.0.2.0/24\n"))

    def test_bad_values_are_refused_and_nothing_is_written(self):
        t = self.start_tree(users=(), start=False)
        before = self.read(t)
        for args, msg in ((("message_size_limit=lots",), "bad value for message_size_limit: expected a number"),
                          (("message_size_limit=0",), "bad value for message_size_limit: must be at least 1"),
                          (("smtpd_received_tls=maybe",), "bad value for smtpd_received_tls: expected yes or no"),
                          (("relayhost=mx", "no_such_key=1"), "unknown key no_such_key")):
            out = self.conf(t, *args, code=1)
            self.assertIn("postern: " + msg, out)
            self.assertEqual(self.read(t), before, args)
        # A file the daemons would refuse (a bad line elsewhere) is not
        # made worse or rewritten: the parser's file:line is named.
        with open(self.path(t), "ab") as f:
            f.write(b"bogus_key = 1\n")
        broken = self.read(t)
        out = self.conf(t, "relayhost=mx", code=1)
        self.assertIn("unknown key bogus_key (not written)", out)
        self.assertEqual(self.read(t), broken)

    def test_master_entries_shown_edited_and_removed(self):
        t = self.start_tree(users=(), start=False)
        before = self.read(t, "master.conf")
        entries = self.conf(t, "-M").splitlines()
        self.assertEqual([l.split()[0] for l in entries][:2], ["smtp", "submission"])
        smtp = self.conf(t, "-M", "smtp/inet")
        self.assertEqual(smtp.split()[:2], ["smtp", "inet"])
        self.assertEqual(self.conf(t, "-F", "smtp/inet/maxproc"), "smtp/inet/maxproc = 100\n")
        self.assertEqual(self.conf(t, "-h", "-F", "smtp/inet/maxproc"), "100\n")
        self.assertIn("no service nosuch/inet", self.conf(t, "-M", "nosuch/inet", code=1))
        # One column.
        self.assertEqual(self.conf(t, "-F", "smtp/inet/maxproc=7"), "")
        self.assertEqual(self.conf(t, "-M", "smtp/inet").split()[5], "7")
        # A whole entry replaced, added, removed.
        line = "smtp inet 127.0.0.1:%d postern-smtpd run/jail 100 smtpd" % t.port("smtp")
        self.conf(t, "-M", "smtp/inet=" + line)
        self.assertEqual(self.conf(t, "-M", "smtp/inet"), line + "\n")
        extra = "smtp-alt inet 127.0.0.1:%d postern-smtpd run/jail 5 smtpd" % (t.port_base + 2525)
        self.conf(t, "-M", "smtp-alt/inet=" + extra)
        self.assertTrue(self.read(t, "master.conf").endswith(extra.encode() + b"\n"))
        self.conf(t, "-M", "-X", "smtp-alt/inet")
        self.assertNotIn(b"smtp-alt", self.read(t, "master.conf"))
        self.assertEqual(t.check(), (0, ""))
        # Refused, nothing written: the master's rules, the selector, a
        # duplicate name.
        now = self.read(t, "master.conf")
        for args, msg in ((("-F", "smtp/inet/maxproc=0"), "bad entry for smtp/inet: maxproc must be 1..10000"),
                          (("-F", "smtp/inet/user=Root"), "bad entry for smtp/inet: bad user name"),
                          (("-F", "smtp/inet/listen=localhost:25"), "inet listen must be ADDRESS:PORT"),
                          (("-F", "smtp/inet/colour=red"), "unknown field colour"),
                          (("-M", "smtp/inet=pop3 inet 127.0.0.1:1 u - 1 popd"), "its name and type must be"),
                          (("-F", "smtp/inet/name=pop3"), "duplicate service name (not written)"),
                          (("-M", "-X", "nosuch/unix"), "no service nosuch/unix")):
            out = self.conf(t, *args, code=1)
            self.assertIn(msg, out)
            self.assertEqual(self.read(t, "master.conf"), now, args)
        # The smtp line as init wrote it: the file is back byte for byte.
        self.conf(t, "-M", "smtp/inet=" + [l for l in before.decode().splitlines()
                                           if l.startswith("smtp ")][0])
        self.assertEqual(self.read(t, "master.conf"), before)

    def test_edit_then_reload_reaches_the_running_smtpd(self):
        t = self.start_tree(users=())
        self.conf(t, "message_size_limit=123456")
        t.run("reload", "-d", t.dir)
        t.wait_smtp_size("123456")
