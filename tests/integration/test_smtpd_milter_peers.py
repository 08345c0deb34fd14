"""smtpd with real milters (issue 13, "Milter client"): rspamd's proxy
worker in milter mode (self_scan, no redis, its resolver pointed at a
dead loopback port so nothing leaves the machine) adds its headers and
rejects a GTUBE message; OpenDKIM signs a message submitted over the
submission port, and python3-dkim (Debian's dkimpy under /usr/bin/python3)
verifies the delivered copy against the public key OpenDKIM made."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile

from postern_harness import HOST, SCALE, PosternTestCase, free_port, make_message, wait_for
from test_dkim_keygen import DEBIAN_PYTHON, dkimpy_missing
from test_smtpd_policy import Process

RSPAMD = "/usr/bin/rspamd"
OPENDKIM = "/usr/sbin/opendkim"
OPENDKIM_GENKEY = "/usr/sbin/opendkim-genkey"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

RSPAMD_CONF = """.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    filters = "chartable,regexp";
    local_addrs = [];
    dns { nameserver = ["127.0.0.1:%(dns)d"]; timeout = 1s; retransmits = 1; }
    control_socket = "$DBDIR/rspamd.sock mode=0600";
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }
worker "rspamd_proxy" {
    bind_socket = "%(host)s:%(port)d";
    milter = yes;
    upstream "local" { default = yes; self_scan = yes; }
    timeout = 60s;
    count = 1;
    reject_message = "Spam message rejected";
}
"""

# Loaded from /usr/share/rspamd; off so that nothing asks the network.
RSPAMD_OFF = ("fuzzy_check", "rbl", "surbl", "asn", "emails", "url_redirector", "multimap")
# Its headers also for a loopback client (skip_local is on by default).
RSPAMD_HEADERS = """use = ["x-spamd-result", "x-rspamd-server", "x-rspamd-queue-id"];
skip_local = false;
skip_authenticated = false;
"""

DKIM_VERIFY = r'''
import re, sys
import dkim
msg = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
txt = "".join(re.findall(r'"([^"]*)"', open(sys.argv[1]).read())).encode()
name = (sys.argv[2] + "._domainkey." + sys.argv[3] + ".").encode()
def dnsfunc(q, timeout=5):
    return txt if q == name else None
print(dkim.verify(msg, dnsfunc=dnsfunc))
'''


class SmtpdMilterPeers(PosternTestCase):

    def workdir(self, owner=None):
        d = tempfile.mkdtemp(prefix="postern-it-milter-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        if owner is not None:
            os.chown(d, owner.pw_uid, owner.pw_gid)
        return d

    def user(self, name, package):
        if os.geteuid() != 0:
            self.skipTest("%s drops to its user: needs root" % package)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            self.skipTest("no %s user (Debian package %s)" % (name, package))

    def start_rspamd(self):
        if not os.path.exists(RSPAMD):
            self.skipTest("rspamd is not installed (Debian package rspamd)")
        pw = self.user("_rspamd", "rspamd")
        d = self.workdir(pw)
        for sub in ("db", "run", "log", "local.d"):
            os.mkdir(os.path.join(d, sub))
            os.chown(os.path.join(d, sub), pw.pw_uid, pw.pw_gid)
        for module in RSPAMD_OFF:
            with open(os.path.join(d, "local.d", module + ".conf"), "w") as f:
                f.write("enabled = false;\n")
        with open(os.path.join(d, "local.d", "milter_headers.conf"), "w") as f:
            f.write(RSPAMD_HEADERS)
        port = free_port()
        with open(os.path.join(d, "rspamd.conf"), "w") as f:
            f.write(RSPAMD_CONF % {"host": HOST, "port": port, "dns": free_port()})
        argv = [RSPAMD, "-f", "-c", os.path.join(d, "rspamd.conf"), "-u", "_rspamd", "-g", "_rspamd"]
        for var, sub in (("CONFDIR", "/etc/rspamd"), ("LOCAL_CONFDIR", d), ("DBDIR", d + "/db"),
                         ("RUNDIR", d + "/run"), ("LOGDIR", d + "/log")):
            argv += ["--var", "%s=%s" % (var, sub)]
        p = Process(self, argv, os.path.join(d, "stdout.log"))

        def listening():
            if p.proc.poll() is not None:
                raise AssertionError("rspamd exited: %s" % p.text()[-2000:])
            socket.create_connection((HOST, port), timeout=1).close()
            return True
        # Loading the rules and compiling hyperscan takes a while.
        wait_for(listening, 120, "rspamd to listen on port %d" % port, ignore=(OSError,),
                 detail=lambda: open(os.path.join(d, "log", "rspamd.log"), errors="replace").read()[-3000:])
        return "inet:%s:%d" % (HOST, port), os.path.join(d, "log", "rspamd.log")

    def test_rspamd_adds_headers_and_rejects_gtube(self):
        spec, log = self.start_rspamd()
        t = self.start_tree(start=False)
        t.set_conf(smtpd_milters=spec, milter_content_timeout="120s")
        t.start()
        bob = t.addr("bob")
        s = t.smtp(timeout=120)
        self.addCleanup(s.close)
        self.assertEqual(s.mail("sender@example.org")[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        code, text = s.data(make_message("rs-ham", "sender@example.org", bob,
                                         b"Hello Bob,\r\n\r\nlunch on Friday?\r\n"))
        self.assertEqual(code, 250, text)
        self.assertEqual(t.wait_ids("bob", {"rs-ham"}), {"rs-ham": 1})
        with open(t.message_paths("bob")[0], "rb") as f:
            head = f.read().split(b"\n\n", 1)[0]
        self.assertIn(b"\nX-Spamd-Result: default: False [", head, head.decode(errors="replace"))
        self.assertIn(b"\nX-Rspamd-Server: ", head)
        self.assertEqual(s.mail("sender@example.org")[0], 250)
        self.assertEqual(s.rcpt(bob)[0], 250)
        code, text = s.data(make_message("rs-gtube", "sender@example.org", bob, GTUBE + b"\r\n"))
        self.assertEqual(code // 100, 5, text)
        self.assertEqual((code, text), (554, b"5.7.1 Gtube pattern"))
        t.wait_log(r"NOQUEUE: reject: DATA from unknown\[.*\]: 554 5\.7\.1 Gtube pattern")

    def start_opendkim(self, t):
        """OpenDKIM signing for t's domain on a loopback port (skips
        when it or python3-dkim is missing): its inet: spec and key dir."""
        missing = dkimpy_missing()
        if missing:
            self.skipTest(missing)
        for tool in (OPENDKIM, OPENDKIM_GENKEY):
            if not os.path.exists(tool):
                self.skipTest("%s is not installed (Debian packages opendkim, opendkim-tools)" % tool)
        pw = self.user("opendkim", "opendkim")
        # OpenDKIM refuses a configuration below a directory others may
        # write, as /tmp is.
        d = tempfile.mkdtemp(prefix="postern-it-milter-", dir="/run")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        subprocess.run([OPENDKIM_GENKEY, "-b", "2048", "-d", t.domain, "-s", "sel", "-D", d],
                       check=True, timeout=60 * SCALE)
        key = os.path.join(d, "sel.private")
        os.chown(key, pw.pw_uid, pw.pw_gid)
        os.chmod(key, 0o600)
        port = free_port()
        conf = os.path.join(d, "opendkim.conf")
        with open(conf, "w") as f:
            f.write("Mode s\nDomain %s\nSelector sel\nKeyFile %s\nSocket inet:%d@%s\n"
                    "Syslog no\nUserID opendkim\nCanonicalization relaxed/simple\n"
                    "PidFile %s\nInternalHosts 127.0.0.1\nLogWhy yes\n"
                    % (t.domain, key, port, HOST, os.path.join(d, "opendkim.pid")))
        p = Process(self, [OPENDKIM, "-f", "-x", conf], os.path.join(d, "opendkim.log"))
        p.wait_listening(port, "opendkim")
        return "inet:%s:%d" % (HOST, port), d

    def assert_opendkim_signed(self, t, d, got):
        """got carries OpenDKIM's signature, which python3-dkim verifies."""
        self.assertIn(b"\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=%s;" % t.domain.encode(),
                      got)
        v = subprocess.run([DEBIAN_PYTHON, "-c", DKIM_VERIFY, os.path.join(d, "sel.txt"), "sel", t.domain],
                           input=got, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SCALE)
        self.assertEqual(v.stdout.strip(), b"True", v.stdout)

    def test_opendkim_signs_a_submitted_message(self):
        t = self.start_tree(start=False)
        spec, d = self.start_opendkim(t)
        t.set_conf(smtpd_milters=spec)
        t.start()
        alice, bob = t.addr("alice"), t.addr("bob")
        s = t.submission("alice")
        self.addCleanup(s.close)
        msg = make_message("dkim-1", alice, bob, b"Signed, I hope.\r\n")
        s.sendmail(alice, [bob], msg)
        self.assertEqual(t.wait_ids("bob", {"dkim-1"}), {"dkim-1": 1})
        with open(t.message_paths("bob")[0], "rb") as f:
            got = f.read()
        self.assert_opendkim_signed(t, d, got)
