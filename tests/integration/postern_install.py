"""postern_install: `make install` for the install tests.

make_install() runs `make install` (and `install-sendmail`) of this source
tree into a directory, for the build the suite runs against (BUILD of
postern_harness, SANITIZE=1 for a "-san" build), and returns the sorted
list of what it installed.  expected_files() is the layout docs/operator.md
("Installing") describes, built from the service table: postern in sbin,
one program per command of the table (and the master) in libexec/postern,
a man page per daemon, postern(8), postern.conf(5), master.conf(5), the
systemd unit; with sendmail, sbin/sendmail, bin/mailq and bin/newaliases
(links to it) and sendmail(1) with its two links.
"""

import os
import subprocess

from postern_harness import ALL_SERVICE_TABLE, BUILD, SANITIZED, SCALE, SOURCE

DAEMONS = sorted({"master", "front"} | {row["command"] for row in ALL_SERVICE_TABLE})   # front: docs/front.md, no row


def make_install(root, prefix, sendmail=True, destdir=True):
    """make install [install-sendmail] PREFIX=prefix [DESTDIR=root]; the
    sorted relative paths under root (directories end in "/")."""
    targets = ["install"] + (["install-sendmail"] if sendmail else [])
    args = ["make", "-s", "--no-print-directory", "-C", SOURCE] + targets + [
        "PREFIX=" + prefix, "BUILD=" + BUILD]
    if destdir:
        args.append("DESTDIR=" + root)
    if SANITIZED:
        args.append("SANITIZE=1")
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600 * SCALE)
    if p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(args), p.returncode,
                                                     p.stdout.decode("utf-8", "replace")[-4000:]))
    return listing(root)


def listing(root):
    out = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for name in dirs:
            path = os.path.join(d, name)
            out.append(os.path.normpath(os.path.join(rel, name)) + ("" if os.path.islink(path) else "/"))
        for name in files:
            out.append(os.path.normpath(os.path.join(rel, name)))
    return sorted(out)


def expected_files(prefix, sendmail=True):
    """The files (not directories) make install puts under prefix
    (relative, without the leading /)."""
    p = prefix.strip("/")
    files = ["%s/sbin/postern" % p, "%s/lib/systemd/system/postern.service" % p,
             "%s/share/man/man8/postern.8" % p,
             "%s/share/man/man5/postern.conf.5" % p, "%s/share/man/man5/master.conf.5" % p]
    for d in DAEMONS:
        files.append("%s/libexec/postern/%s" % (p, d))
        files.append("%s/share/man/man8/%s.8postern" % (p, d))
    if sendmail:
        files += ["%s/sbin/sendmail" % p, "%s/bin/mailq" % p, "%s/bin/newaliases" % p,
                  "%s/share/man/man1/sendmail.1" % p, "%s/share/man/man1/mailq.1" % p,
                  "%s/share/man/man1/newaliases.1" % p]
    return sorted(files)
