"""make install, the man pages and the systemd unit (issue 12, section 1).

`make install DESTDIR=... PREFIX=...` lays out exactly the files of
docs/operator.md ("Installing"): postern in sbin, the daemons in
libexec/postern, the man pages, the unit with the path of postern;
`make install-sendmail` adds sendmail, mailq and newaliases (links) and
their pages, and only it does.  Every page renders with groff -ww
without a warning (and with `man -l` when man is installed);
postern.conf(5) names every key of etc/postern.conf with the same
default, and master.conf(5)'s table every row of the service table, so
neither can drift; `systemd-analyze verify` accepts the unit (skipped,
with the reason, where it cannot run).  The installed programs are
tested running in test_installed_tree.py.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from postern_harness import SCALE, SERVICE_TABLE, SOURCE, daemon_env, free_port_base
from postern_install import DAEMONS, expected_files, make_install


def installed_files(names):
    return sorted(n for n in names if not n.endswith("/"))


class InstallTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="postern-install-")
        self.addCleanup(shutil.rmtree, self.root, True)

    def test_install_and_install_sendmail_lay_out_the_documented_files(self):
        names = make_install(self.root, "/usr")
        self.assertEqual(installed_files(names), expected_files("/usr"))
        usr = os.path.join(self.root, "usr")
        for prog in ["sbin/postern", "sbin/sendmail"] + ["libexec/postern/" + d for d in DAEMONS]:
            mode = stat.S_IMODE(os.stat(os.path.join(usr, prog)).st_mode)
            self.assertEqual(mode, 0o755, "%s mode %o" % (prog, mode))
        for page in [n for n in names if "/share/man/" in n and not n.endswith("/")]:
            path = os.path.join(self.root, page)
            if not os.path.islink(path):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644, page)
        # mailq and newaliases are sendmail under other names, so that
        # sendmail finds postern beside itself (sbin) however it is called.
        for link in ("mailq", "newaliases"):
            self.assertEqual(os.readlink(os.path.join(usr, "bin", link)), "../sbin/sendmail")
            self.assertEqual(os.readlink(os.path.join(usr, "share/man/man1", link + ".1")), "sendmail.1")
        unit = open(os.path.join(usr, "lib/systemd/system/postern.service")).read()
        self.assertIn("\nExecStart=/usr/sbin/postern start -f\n", unit)
        self.assertNotIn("@", unit.replace("man:", ""), "an unsubstituted @VARIABLE@ in the unit")

    def test_default_prefix_is_usr_local_and_install_leaves_sendmail_alone(self):
        names = make_install(self.root, "/usr/local", sendmail=False)
        self.assertEqual(installed_files(names), expected_files("/usr/local", sendmail=False))
        self.assertFalse([n for n in names if "sendmail" in n or "mailq" in n or "newaliases" in n])
        unit = open(os.path.join(self.root, "usr/local/lib/systemd/system/postern.service")).read()
        self.assertIn("\nExecStart=/usr/local/sbin/postern start -f\n", unit)

    def test_installed_postern_finds_the_daemons_in_libexec(self):
        make_install(self.root, "/usr")
        tree = os.path.join(self.root, "tree")
        p = subprocess.run([os.path.join(self.root, "usr/sbin/postern"), "init", "-d", tree,
                            "--port-base", str(free_port_base()), "--domain", "example.test"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=daemon_env(), timeout=60 * SCALE)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        conf = open(os.path.join(tree, "etc", "postern.conf")).read()
        self.assertIn("\nprogram_directory = %s\n" % os.path.join(self.root, "usr/libexec/postern"), conf)
        p = subprocess.run([os.path.join(self.root, "usr/sbin/postern"), "check", "-d", tree],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=daemon_env(), timeout=60 * SCALE)
        self.assertEqual(p.returncode, 0, "postern check (every command in program_directory):\n"
                         + p.stdout.decode("utf-8", "replace"))

    def test_every_man_page_renders_without_a_warning(self):
        names = make_install(self.root, "/usr")
        pages = [n for n in names if "/share/man/man" in n and not n.endswith("/")
                 and not os.path.islink(os.path.join(self.root, n))]
        self.assertEqual(len(pages), 3 + 1 + len(DAEMONS), pages)
        groff = shutil.which("groff")
        if groff is None:
            self.skipTest("groff is not installed (Debian package groff-base, in DEPS_PKGS)")
        for page in pages:
            p = subprocess.run([groff, "-t", "-man", "-Tutf8", "-ww", "-z", os.path.join(self.root, page)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60 * SCALE)
            self.assertEqual((p.returncode, p.stdout.decode("utf-8", "replace")), (0, ""), page)
        man = shutil.which("man")
        for page in pages if man else []:
            p = subprocess.run([man, "-l", os.path.join(self.root, page)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SCALE,
                               env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
            self.assertEqual(p.returncode, 0, page + ": " + p.stderr.decode("utf-8", "replace"))
            self.assertIn(b"NAME", p.stdout, page)

    def test_postern_conf_page_and_etc_postern_conf_name_the_same_keys_and_defaults(self):
        make_install(self.root, "/usr", sendmail=False)
        page = open(os.path.join(self.root, "usr/share/man/man5/postern.conf.5")).read()
        # .TP / \fBkey\fR = \fIdefault\fR (or "(empty)"), roff escapes undone.
        in_page = {}
        for key, value in re.findall(r"^\.TP\n\\fB([a-z0-9_\\-]+)\\fR = (.*)$", page, re.M):
            value = "" if value == "(empty)" else re.sub(r"^\\fI(.*)\\fR$", r"\1", value)
            in_page[key.replace("\\-", "-")] = value.replace("\\-", "-").replace("\\e", "\\")
        etc = {}
        for line in open(os.path.join(SOURCE, "etc", "postern.conf")):
            m = re.match(r"^#([a-z0-9_]+) =(?: (.*))?$", line.rstrip("\n"))
            if m:
                etc[m.group(1)] = m.group(2) or ""
        self.assertGreater(len(etc), 50, "etc/postern.conf: keys not found")
        self.assertEqual(in_page, etc)

    def test_master_conf_page_lists_the_services_of_the_service_table(self):
        page = open(os.path.join(SOURCE, "docs", "man", "master.conf.5")).read()
        table = page[page.index(".TS\n"):page.index(".TE\n")].splitlines()[2:]
        rows = [[f.replace("\\-", "-") for f in line.split("\t")] for line in table[1:]]
        want = [[r["name"], r["type"], r["user"], r["root"], " ".join([r["command"]] + r["args"])]
                for r in SERVICE_TABLE]
        self.assertEqual(rows, want, "master.conf(5), THE DEFAULT SERVICES, against `postern services`")

    def test_systemd_analyze_verify_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd; not in DEPS_PKGS:"
                          " installing an init system into a test host is not ours to do)")
        # Installed for real under root (no DESTDIR), so that ExecStart
        # names an existing program; MANPATH lets verify find the
        # Documentation= pages that came with it.
        prefix = os.path.join(self.root, "usr")
        make_install(self.root, prefix, sendmail=False, destdir=False)
        unit = os.path.join(prefix, "lib/systemd/system/postern.service")
        p = subprocess.run([analyze, "verify", unit], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120 * SCALE,
                           env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man"),
                                    SYSTEMD_LOG_LEVEL="notice"))
        text = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0 and re.search(r"Failed to (initialize manager|connect)|System has not been booted"
                                           r"|Cannot determine cgroup|No such file or directory.*/run/systemd",
                                           text):
            self.skipTest("systemd-analyze cannot run here: " + text.strip().splitlines()[-1])
        self.assertEqual((p.returncode, text), (0, ""), "systemd-analyze verify " + unit)


if __name__ == "__main__":
    unittest.main()
