"""The Debian package (debian/; issue 12, section 1).

`dpkg-buildpackage -b -us -uc` on a copy of the sources builds two
packages: postern (the programs in /usr/libexec/postern, postern, the man
pages, the systemd unit; its postinst creates the users of the service
table and the tree) and postern-mta (/usr/sbin/sendmail, /usr/lib/sendmail,
mailq, newaliases, sendmail(1); Provides, Conflicts and Replaces
mail-transport-agent, as every Debian MTA).  Together they hold exactly
the files of `make install install-sendmail` (man pages compressed), plus
their docs.

To keep the test short, the copy gets this build directory (mtimes kept,
so make finds everything up to date) and the package is built with -nc
(no `debian/rules clean`, which would delete it): the compile itself is
what `make` already does.  Skipped, with the reason, without
dpkg-buildpackage or debhelper (Debian package debhelper, in DEPS_PKGS),
and for the sanitizer build (the package is made from the plain build).
"""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from postern_harness import BUILD, SANITIZED, SCALE, SOURCE
from postern_install import expected_files


def deb_entries(deb):
    """{path: link target or None} of the files and links in deb."""
    out = subprocess.run(["dpkg-deb", "-c", deb], stdout=subprocess.PIPE, check=True,
                         timeout=60 * SCALE).stdout.decode()
    entries = {}
    for line in out.splitlines():
        fields = line.split(None, 5)
        perms, name = fields[0], fields[5]
        if perms.startswith("d"):
            continue
        target = None
        if perms.startswith("l"):
            name, _, target = name.partition(" -> ")
        entries[name[2:] if name.startswith("./") else name] = target
    return entries


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], stdout=subprocess.PIPE, check=True,
                          timeout=60 * SCALE).stdout.decode().strip()


# Not copied: build output, and what a package build in the sources
# left in debian/.
TOP_IGNORE = {".git", "build", "build-san", "run"}
DEBIAN_IGNORE = {"tmp", "postern", "postern-mta", ".debhelper", "files", "debhelper-build-stamp"}


def copy_ignore(directory, names):
    if os.path.samefile(directory, SOURCE):
        return [n for n in names if n in TOP_IGNORE]
    if os.path.samefile(directory, os.path.join(SOURCE, "debian")):
        return [n for n in names if n in DEBIAN_IGNORE or n.endswith((".substvars", ".debhelper.log"))]
    return []


class DebPackageTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        for tool in ("dpkg-buildpackage", "dpkg-deb", "dh"):
            if shutil.which(tool) is None:
                self.skipTest("%s is not installed (Debian packages dpkg-dev and debhelper)" % tool)
        if SANITIZED:
            self.skipTest("the package is built from the plain build, not %s" % BUILD)
        self.work = tempfile.mkdtemp(prefix="postern-deb-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def build_packages(self):
        src = os.path.join(self.work, "postern")
        shutil.copytree(SOURCE, src, symlinks=True, ignore=copy_ignore)
        shutil.copytree(BUILD, os.path.join(src, "build"), symlinks=True)
        p = subprocess.run(["dpkg-buildpackage", "-b", "-us", "-uc", "-nc"], cwd=src,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=900 * SCALE, env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
        log = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "dpkg-buildpackage:\n" + log[-6000:])
        debs = {}
        for deb in glob.glob(os.path.join(self.work, "*.deb")):
            debs[deb_field(deb, "Package")] = deb
        return debs, log

    def test_packages_build_and_hold_the_installed_layout(self):
        debs, log = self.build_packages()
        self.assertLessEqual({"postern", "postern-mta"}, set(debs), log[-3000:])
        postern, mta = deb_entries(debs["postern"]), deb_entries(debs["postern-mta"])
        # The MTA part is the only one with sendmail, and /usr/lib/sendmail
        # is one more name for it, as Debian MTAs provide.
        self.assertFalse([n for n in postern if "sendmail" in n or n.endswith(("/mailq", "/newaliases"))])
        self.assertEqual(mta.pop("usr/lib/sendmail"), "../sbin/sendmail")
        self.assertEqual(mta["usr/bin/mailq"], "../sbin/sendmail")
        self.assertEqual(mta["usr/bin/newaliases"], "../sbin/sendmail")
        self.assertEqual(mta["usr/share/man/man1/mailq.1.gz"], "sendmail.1.gz")

        def files(entries):
            return {n[:-3] if n.startswith("usr/share/man/") and n.endswith(".gz") else n
                    for n in entries if not n.startswith("usr/share/doc/")}
        self.assertEqual(sorted(files(postern) | files(mta)), expected_files("/usr"))
        self.assertEqual(sorted(files(mta)), [n for n in expected_files("/usr")
                                              if "sendmail" in n or "mailq" in n or "newaliases" in n])

        self.assertEqual(deb_field(debs["postern-mta"], "Provides"), "mail-transport-agent")
        self.assertEqual(deb_field(debs["postern-mta"], "Conflicts"), "mail-transport-agent")
        self.assertEqual(deb_field(debs["postern-mta"], "Replaces"), "mail-transport-agent")
        self.assertEqual(deb_field(debs["postern"], "Provides"), "")
        self.assertIn("adduser", deb_field(debs["postern"], "Depends"))

        control = os.path.join(self.work, "control")
        subprocess.run(["dpkg-deb", "-e", debs["postern"], control], check=True, timeout=60 * SCALE)
        postinst = open(os.path.join(control, "postinst")).read()
        self.assertIn("postern services", postinst)
        self.assertIn("adduser --system", postinst)
        self.assertIn("/usr/sbin/postern init", postinst)
        # Installed, not enabled and not started (another MTA may hold port 25).
        self.assertNotIn("deb-systemd-invoke $_dh_action", postinst)
        self.assertNotRegex(postinst, r"deb-systemd-helper\s+enable")


if __name__ == "__main__":
    unittest.main()
