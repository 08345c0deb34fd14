"""bench/mailauth_systems.py: the DNS server and the two mail systems
bench/mailauth.py measures.

Dns: dnsmasq on a free loopback UDP port (tests/integration's Dnsmasq):
mailauth.example's SPF record (127.0.0.2 may send), its DMARC record
(p=reject) and the key of selector "bench".  (An unbound configuration
file, ResolverConfiguration, would let OpenDKIM's libunbound resolve
.test, but OpenDKIM 2.11 then failed to parse it now and then and
died under load; Nameservers needs no such file.)

Postern: a tree made by `postern init` under the run's directory, SMTP
on the port base + 25, submission on + 587 (STARTTLS, AUTH), user
alice@example.test, an RSA-2048 key for example.test from `postern dkim
keygen`, the dnsmasq as its resolver, SPF and DKIM checks for every
client but 127.0.0.1 (the benchmark's inbound mail comes from
127.0.0.2).  configure() restarts it with the checks or the signing on
or off.

Postfix: the reference system of ../shared/peers (up.sh; ports fixed:
2525 MX, 2587 submission) and, for the runs that need it, OpenDKIM
(Debian opendkim) as its milter, in verify mode (Mode v; its resolver
is libunbound, pointed at the dnsmasq by Nameservers 127.0.0.1@PORT) or
in sign mode (Mode s, an RSA-2048 key from
opendkim-genkey for example.test).  OpenDKIM refuses a configuration in
a directory others may write, as /tmp is, so its files live under
/run."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))   # the tests' helpers

HOST = "127.0.0.1"
CLIENT_IP = "127.0.0.2"       # inbound mail comes from here: not in any skip list
DOMAIN = "example.test"       # the local domain of both systems
# inbound mail's author, envelope sender and d=: not under .test, which
# libunbound (OpenDKIM's resolver) answers NXDOMAIN itself (RFC 6761)
SENDER_DOMAIN = "mailauth.example"
SELECTOR = "bench"
PASSWORD = "bench-mailauth-pw"
OPENDKIM = "/usr/sbin/opendkim"
OPENDKIM_GENKEY = "/usr/sbin/opendkim-genkey"


def log(text):
    print(text, file=sys.stderr, flush=True)


def harness(build):
    """tests/integration/postern_harness.py (free ports)."""
    os.environ.setdefault("POSTERN_BUILD", build)
    import postern_harness
    return postern_harness


def greeting(port, seconds=60, what="server"):
    """Wait until HOST:port sends a 220 greeting."""
    end, got = time.monotonic() + seconds, None
    while time.monotonic() < end:
        try:
            with socket.create_connection((HOST, port), timeout=3) as s:
                got = s.recv(64)
                if got.startswith(b"220"):
                    return
        except OSError as e:
            got = e
        time.sleep(0.2)
    raise RuntimeError("%s: no 220 greeting on port %d (%r)" % (what, port, got))


def record_text(text):
    """The value of a TXT record as keygen tools print it: the quoted
    strings joined."""
    return "".join(re.findall(r'"([^"]*)"', text))


def maildir_files(maildir):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        try:
            out.extend(os.path.join(d, n) for n in os.listdir(d))
        except FileNotFoundError:
            pass
    return out


def empty_maildir(maildir):
    for path in maildir_files(maildir):
        os.unlink(path)


class Dns:
    """dnsmasq serving mailauth.example's SPF, DMARC and DKIM key records."""

    def __init__(self, build, top, key_record):
        harness(build)
        from test_smtpd_dkim_verify import txt_option
        from test_smtpd_spf import start_dnsmasq
        records = ["--txt-record=%s,v=spf1 ip4:%s -all" % (SENDER_DOMAIN, CLIENT_IP),
                   "--txt-record=_dmarc.%s,v=DMARC1; p=reject" % SENDER_DOMAIN,
                   txt_option("%s._domainkey.%s" % (SELECTOR, SENDER_DOMAIN), key_record)]
        work = os.path.join(top, "dns")
        os.makedirs(work)
        self.server = start_dnsmasq(records, work, SENDER_DOMAIN)
        self.port = self.server.port

    def stop(self):
        self.server.stop()


class Postern:
    name = "Postern"

    def __init__(self, build, top, dns_port):
        h = harness(build)
        self.bin = os.path.join(build, "bin", "postern")
        self.dir = os.path.join(top, "postern")
        base = h.free_port_base()
        self.smtp, self.submission = base + 25, base + 587
        self.user = "alice@" + DOMAIN
        self.run("init", "-d", self.dir, "--domain", DOMAIN, "--listen", HOST, "--port-base", str(base))
        subprocess.run([self.bin, "user", "add", "-d", self.dir, self.user, PASSWORD], check=True,
                       stdout=subprocess.DEVNULL)
        out = self.run("dkim", "keygen", "-d", self.dir, DOMAIN, SELECTOR)
        lines = [l for l in out.splitlines() if l.startswith("%s._domainkey.%s" % (SELECTOR, DOMAIN))]
        if len(lines) != 1:
            raise RuntimeError("postern dkim keygen printed no record:\n" + out)
        self.sign_record = record_text(lines[0])
        # no syslog daemon here: a log file; the resolver is the dnsmasq;
        # only 127.0.0.1 skipped, so the mail of 127.0.0.2 is checked
        self.conf(log_file="maillog", dns_servers="%s:%d" % (HOST, dns_port), dns_timeout="2s",
                  spf_skip_addresses="127.0.0.1/32", dkim_verify_skip_addresses="127.0.0.1/32",
                  dmarc_enforce="yes")
        self.maildir = os.path.join(self.dir, "mail", DOMAIN, "alice")
        self.running = False

    def run(self, *args):
        p = subprocess.run([self.bin] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0:
            raise RuntimeError("postern %s: %s" % (" ".join(args), out))
        return out

    def conf(self, **settings):
        self.run("conf", "-d", self.dir, *["%s=%s" % kv for kv in settings.items()])

    def configure(self, checks=False, signing=False):
        """Restart with SPF+DKIM+DMARC checks and DKIM signing on or off."""
        self.stop()
        yes = lambda on: "yes" if on else "no"
        self.conf(spf_check=yes(checks), dkim_verify=yes(checks), dmarc_check=yes(checks),
                  dkim_signing=yes(signing))
        self.run("start", "-d", self.dir)
        self.running = True
        greeting(self.smtp, what="Postern smtp")
        greeting(self.submission, what="Postern submission")

    def target(self, kind):
        return (HOST, self.smtp) if kind == "inbound" else (HOST, self.submission)

    def stop(self):
        if self.running:
            self.run("stop", "-d", self.dir)
            self.running = False


class OpenDkim:
    """OpenDKIM on a loopback port, verifying (mode "v", keys looked up
    through the dnsmasq) or signing (mode "s", for example.test)."""

    def __init__(self, build, rundir, dns_port):
        pw = pwd.getpwnam("opendkim")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.dir = rundir
        subprocess.run([OPENDKIM_GENKEY, "-b", "2048", "-d", DOMAIN, "-s", SELECTOR, "-D", self.dir],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.key = os.path.join(self.dir, SELECTOR + ".private")
        os.chown(self.key, self.uid, self.gid)
        os.chmod(self.key, 0o600)
        with open(os.path.join(self.dir, SELECTOR + ".txt")) as f:
            self.sign_record = record_text(f.read())
        self.dns_port = dns_port
        self.port = harness(build).free_port()
        self.proc = None

    def start(self, mode):
        self.stop()
        conf = os.path.join(self.dir, "opendkim-%s.conf" % mode)
        lines = ["Mode %s" % mode, "Socket inet:%d@%s" % (self.port, HOST), "Syslog no", "UserID opendkim",
                 "PidFile %s" % os.path.join(self.dir, "opendkim.pid"), "Canonicalization relaxed/relaxed"]
        if mode == "s":
            lines += ["Domain %s" % DOMAIN, "Selector %s" % SELECTOR, "KeyFile %s" % self.key,
                      "SignatureAlgorithm rsa-sha256", "InternalHosts 127.0.0.1"]
        else:
            # libunbound forwards to the dnsmasq (host@port)
            lines += ["Nameservers %s@%d" % (HOST, self.dns_port)]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = os.path.join(self.dir, "opendkim-%s.log" % mode)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([OPENDKIM, "-f", "-x", conf], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                with open(self.log, "rb") as f:
                    raise RuntimeError("opendkim exited: %s" % f.read()[-2000:].decode("utf-8", "replace"))
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > end:
                    raise RuntimeError("opendkim does not listen on %s:%d" % (HOST, self.port))
                time.sleep(0.1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class Postfix:
    """../shared/peers' Postfix, with or without OpenDKIM as its milter."""
    name = "Postfix"

    def __init__(self, build, peers, state, rundir, dns_port):
        self.peers, self.state = peers, os.path.abspath(state)
        env = subprocess.run([os.path.join(peers, "env.sh")], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        self.env = dict(re.findall(r"^export (\w+)=(.*)$", env, re.M))
        self.smtp, self.submission = int(self.env["SMTP_PORT"]), int(self.env["SUBMISSION_PORT"])
        for port in (self.smtp, self.submission):
            try:
                socket.create_connection((HOST, port), timeout=2).close()
                raise RuntimeError("port %d is taken: the peers are up already (another benchmark?); "
                                   "only one STATE_DIR can be up at a time" % port)
            except OSError:
                pass
        # the layout below STATE, as lib.sh defines it
        self.pf_conf = subprocess.run(["bash", "-c", '. "$1/lib.sh"; anchor_paths "$2"; echo "$PF_CONF"',
                                       "-", peers, self.state], stdout=subprocess.PIPE, text=True,
                                      check=True).stdout.strip()
        self.user, self.password = self.env["USER1"], self.env["PASS1"]
        self.maildir = os.path.join(self.state, "mail", self.user.split("@")[0], "Maildir")
        self.up, self.opendkim = True, None
        try:
            subprocess.run([os.path.join(peers, "up.sh"), self.state], check=True, stdout=subprocess.DEVNULL)
            self.opendkim = OpenDkim(build, rundir, dns_port)
        except BaseException:
            self.stop()
            raise
        self.sign_record = self.opendkim.sign_record

    def postfix(self, *args):
        return subprocess.run(["postfix", "-c", self.pf_conf] + list(args), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode

    def configure(self, checks=False, signing=False):
        """Postfix restarted with OpenDKIM verifying (checks), signing, or
        no milter."""
        self.opendkim.stop()
        milter = ""
        if checks or signing:
            self.opendkim.start("v" if checks else "s")
            milter = "inet:%s:%d" % (HOST, self.opendkim.port)
        subprocess.run(["postconf", "-c", self.pf_conf, "-e", "smtpd_milters=" + milter,
                        "non_smtpd_milters=" + milter, "milter_default_action=tempfail"], check=True)
        self.postfix("stop")
        end = time.monotonic() + 30
        while self.postfix("status") == 0:
            if time.monotonic() > end:
                raise RuntimeError("postfix does not stop")
            time.sleep(0.2)
        if self.postfix("start") != 0:
            raise RuntimeError("postfix start failed (see %s/log/postfix.log)" % self.state)
        greeting(self.smtp, what="Postfix smtp")
        greeting(self.submission, what="Postfix submission")

    def target(self, kind):
        return (HOST, self.smtp) if kind == "inbound" else (HOST, self.submission)

    def stop(self):
        if self.opendkim is not None:
            self.opendkim.stop()
        if self.up:
            subprocess.run([os.path.join(self.peers, "down.sh"), self.state], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.up = False


def run_dir():
    """A directory for OpenDKIM under /run, 0755 and root's (OpenDKIM
    checks the path up to its key)."""
    d = tempfile.mkdtemp(prefix="postern-bench-mailauth.", dir="/run")
    os.chmod(d, 0o755)
    return d


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


def stop_all(systems, dns, top, rundir, keep):
    """Stop every system and the DNS server; remove the run's
    directories (top, rundir) unless keep."""
    for sv in systems:
        try:
            sv.stop()
        except Exception as e:   # stop every system
            log("stopping %s: %s" % (sv.name, e))
    if dns is not None:
        dns.stop()
    if keep:
        log("kept %s%s" % (top, " and " + rundir if rundir else ""))
    else:
        remove(top)
        if rundir:
            remove(rundir)


def put_section(out, section):
    """Replace section's part of the results file out (put_section.py)."""
    fd, path = tempfile.mkstemp(prefix="postern-bench-section.")
    with os.fdopen(fd, "w") as f:
        f.write(section)
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "put_section.py"),
                    out, path], check=True)
    os.unlink(path)
    log("written to %s" % out)


def add_common_options(ap, messages, peers_state):
    """The options of bench/mailauth.py and bench/submission_auth.py."""
    ap.add_argument("-b", "--build", default="build")
    ap.add_argument("-n", type=int, default=messages, help="messages per run")
    ap.add_argument("-l", "--size", type=int, default=2048, help="message size (before any signature)")
    ap.add_argument("-r", "--repeat", type=int, default=1, help="runs of each measurement (median)")
    ap.add_argument("-P", "--peers-state", default=peers_state)
    ap.add_argument("-o", "--out")
    ap.add_argument("-s", "--skip-postfix", action="store_true")
    ap.add_argument("-k", "--keep", action="store_true", help="keep the run's directories")


def prepare(args, script, prefix):
    """Checks and facts before a run: exits unless root and, without -s,
    with ../shared/peers.  Sets args.command; returns (build, commit,
    dirty, peers, top): top is the run's directory, 0755, and a SIGTERM
    ends the run through the caller's finally (stop_all)."""
    if os.geteuid() != 0:
        sys.exit("run as root (the peers, OpenDKIM, Postern's services)")
    args.command = "python3 bench/%s %s" % (script, " ".join(sys.argv[1:]))
    build = args.build if os.path.isabs(args.build) else os.path.join(SOURCE, args.build)
    git = lambda *c: subprocess.run(["git", "-C", SOURCE] + list(c), stdout=subprocess.PIPE, text=True).stdout
    commit = git("rev-parse", "--short", "HEAD").strip()
    dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    peers = os.path.join(SOURCE, "..", "shared", "peers")
    if not args.skip_postfix and not os.path.exists(os.path.join(peers, "up.sh")):
        sys.exit("%s not found (or give -s)" % peers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    top = tempfile.mkdtemp(prefix=prefix)
    os.chmod(top, 0o755)
    return build, commit, dirty, peers, top
