#!/usr/bin/env python3
"""bench/testssl.py: testssl.sh on every TLS port of a Postern tree (issue 14).

    python3 bench/testssl.py [-b BUILD] [--key rsa|ec] [--only smtps,pop3s,...]
                             [-j JSON_DIR] [-o docs/tls.md] [-k]

As root, by hand: not a test and not part of `make test` or CI (testssl.sh
takes minutes per port).  Needs the Debian package testssl.sh and openssl.
It builds nothing: BUILD (default build/) must hold a built Postern.

The tree: `postern init` on a free loopback port base (the integration
tests' harness, tests/integration/postern_harness.py: its Tree picks the
ports, starts `postern start -f` as our child and stops it by its pid,
also on an error or a SIGTERM), myhostname = HOSTNAME, and a certificate
for HOSTNAME signed by a test CA made here with openssl (RSA-2048 or,
with --key ec, P-256; the CA and the certificate valid for 90 days like a
public CA's, with the CRL and OCSP addresses a public CA's certificate
carries; nothing fetches them).  tls_cert_file and tls_key_file point at
it.

Then testssl.sh on each TLS port in turn (one at a time: it is CPU-bound),
with --starttls smtp|pop3|imap where the port starts in plaintext,
--add-ca the test CA, --ip 127.0.0.1 and --nodns none (all traffic to
loopback, no DNS), writing the full flat JSON and CSV of every port (every
severity, for the LOW and INFO items) and its text output to JSON_DIR (default: a temp dir,
printed).  The severity filter is ours, on that JSON: a finding is
MEDIUM, HIGH or CRITICAL; testssl's WARN and FATAL (a scan that could not
test something) are reported as scan problems.

Prints per port the findings at MEDIUM or worse and the scan problems;
exits 1 when there is any.  With -o, replaces the "## testssl.sh run"
section of that file (bench/put_section.py) with the run's table.  -k
keeps the tree (its master is still stopped)."""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))   # the tests' helpers
from mailauth_systems import harness, log   # stderr lines; postern_harness for a build

HOSTNAME = "mail.example.test"
# service -> testssl.sh --starttls protocol (None: implicit TLS)
PORTS = (("smtps", None), ("submission", "smtp"), ("smtp", "smtp"),
         ("pop3s", None), ("pop3", "pop3"), ("imaps", None), ("imap", "imap"))
BAD = ("MEDIUM", "HIGH", "CRITICAL")
SCAN_PROBLEM = ("WARN", "FATAL")
SECTION = "## testssl.sh run"


def openssl(*args):
    subprocess.run(("openssl",) + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certificates(tls_dir, key_type):
    """A test CA and a certificate for HOSTNAME it signs, in tls_dir:
    ca.pem, testssl-cert.pem, testssl-key.pem (0600)."""
    newkey = ("-newkey", "rsa:2048") if key_type == "rsa" else \
        ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    p = lambda name: os.path.join(tls_dir, name)
    openssl("req", "-x509", "-new", "-nodes", *newkey, "-sha256", "-days", "90",
            "-keyout", p("ca-key.pem"), "-out", p("ca.pem"), "-subj", "/CN=Postern testssl test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-nodes", *newkey, "-keyout", p("testssl-key.pem"),
            "-out", p("testssl.csr"), "-subj", "/CN=" + HOSTNAME)
    leaf_usage = "digitalSignature,keyEncipherment" if key_type == "rsa" else "digitalSignature"
    with open(p("leaf.ext"), "w") as f:
        f.write("basicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,%s\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectAltName = DNS:%s\n"
                "crlDistributionPoints = URI:http://ca.example.test/testssl.crl\n"
                "authorityInfoAccess = OCSP;URI:http://ocsp.example.test/\n" % (leaf_usage, HOSTNAME))
    openssl("x509", "-req", "-in", p("testssl.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"),
            "-CAcreateserial", "-sha256", "-days", "90", "-extfile", p("leaf.ext"),
            "-out", p("testssl-cert.pem"))
    os.chmod(p("testssl-key.pem"), 0o600)
    return p("ca.pem")


def set_hostname(tree):
    """myhostname = HOSTNAME in the tree's postern.conf (init wrote the
    machine's name; a key may appear only once)."""
    path = os.path.join(tree.dir, "etc", "postern.conf")
    with open(path) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^myhostname\s*=.*$", "myhostname = " + HOSTNAME, text)
    if n == 0:
        text += "myhostname = %s\n" % HOSTNAME
    with open(path, "w") as f:
        f.write(text)


def version(cmd, pattern):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode("utf-8", "replace")
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    m = re.search(pattern, out)
    return m.group(1).strip() if m else "unknown"


def run_testssl(port, starttls, ca, json_path):
    """testssl.sh on HOSTNAME:port at 127.0.0.1; its flat JSON findings
    (it also writes the same as CSV, and its text output to .log)."""
    csv_path = json_path[:-len(".json")] + ".csv"
    for old in (json_path, csv_path):
        if os.path.exists(old):
            os.unlink(old)   # testssl.sh refuses to overwrite (or appends with --append)
    cmd = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--ip", "127.0.0.1",
           "--nodns", "none", "--add-ca", ca, "--jsonfile", json_path, "--csvfile", csv_path]
    if starttls:
        cmd += ["--starttls", starttls]
    cmd.append("%s:%d" % (HOSTNAME, port))
    log("+ " + " ".join(cmd))
    with open(json_path + ".log", "wb") as out:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        with open(json_path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return [{"id": "testssl", "severity": "FATAL", "finding": "no JSON from testssl.sh: %s (see %s.log)"
                 % (e, json_path)}]


def report(results, meta):
    """The Markdown section: versions, then one row per port."""
    lines = [SECTION, "",
             "%s, testssl.sh %s, OpenSSL %s (testssl.sh's and Postern's), %s certificate from a test CA; "
             "`python3 bench/testssl.py -b build%s`." % (meta["date"], meta["testssl"], meta["openssl"],
                                                         meta["key"], meta["args"]),
             "",
             "| port | service | findings MEDIUM or worse | scan problems | LOW |",
             "|---|---|---|---|---|"]
    for r in results:
        bad = "; ".join("%s %s: %s" % (f["severity"], f["id"], f["finding"]) for f in r["bad"]) or "none"
        warn = "; ".join("%s: %s" % (f["id"], f["finding"]) for f in r["warn"]) or "none"
        low = ", ".join(sorted({f["id"] for f in r["low"]})) or "none"
        name = r["service"] + (" (STARTTLS)" if r["starttls"] else "")
        lines.append("| %d | %s | %s | %s | %s |" % (r["standard"], name, bad, warn, low))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--build", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--key", choices=("rsa", "ec"), default="rsa")
    ap.add_argument("--only", help="comma-separated services (default: all seven)")
    ap.add_argument("-j", "--json-dir")
    ap.add_argument("-o", "--out", help="file whose '%s' section is replaced" % SECTION)
    ap.add_argument("-k", "--keep", action="store_true")
    args = ap.parse_args()
    if shutil.which("testssl") is None:
        sys.exit("testssl.sh is not installed (apt-get install testssl.sh)")
    ph = harness(os.path.abspath(args.build))
    ports = [(s, t) for s, t in PORTS if not args.only or s in args.only.split(",")]
    json_dir = args.json_dir or tempfile.mkdtemp(prefix="postern-testssl-")
    os.makedirs(json_dir, exist_ok=True)

    tree = ph.Tree()
    results = []
    try:
        tree.init(users=())
        set_hostname(tree)
        ca = make_certificates(os.path.join(tree.dir, "etc", "tls"), args.key)
        tree.set_conf(tls_cert_file="tls/testssl-cert.pem", tls_key_file="tls/testssl-key.pem")
        tree.start()
        log("tree %s, master pid %d, port base %d" % (tree.dir, tree.master_pid, tree.port_base))
        for service, starttls in ports:
            port = tree.port(service)
            findings = run_testssl(port, starttls, ca, os.path.join(json_dir, "%s.json" % service))
            results.append({"service": service, "starttls": starttls, "port": port,
                            "standard": ph.PORT_OFFSETS[service],
                            "bad": [f for f in findings if f.get("severity") in BAD],
                            "warn": [f for f in findings if f.get("severity") in SCAN_PROBLEM],
                            "low": [f for f in findings if f.get("severity") == "LOW"]})
    finally:
        tree.stop()
        if args.keep:
            log("kept %s" % tree.dir)
        else:
            tree.remove()

    failed = False
    for r in results:
        log("%s (%d%s): %d MEDIUM or worse, %d scan problems, %d LOW"
            % (r["service"], r["standard"], ", STARTTLS" if r["starttls"] else "",
               len(r["bad"]), len(r["warn"]), len(r["low"])))
        for f in r["bad"] + r["warn"]:
            log("    %s %s: %s" % (f["severity"], f["id"], f["finding"]))
            failed = True
    log("JSON: %s" % json_dir)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            "testssl": version(["testssl", "--version"], r"testssl\s+(\S+)"),
            "openssl": version(["openssl", "version"], r"OpenSSL\s+(\S+)"),
            "key": "RSA-2048" if args.key == "rsa" else "ECDSA P-256",
            "args": "".join(" --key ec" if args.key == "ec" else "") +
                    (" --only " + args.only if args.only else "")}
    section = report(results, meta)
    print(section)
    if args.out:
        path = os.path.join(json_dir, "section.md")
        with open(path, "w") as f:
            f.write(section)
        subprocess.run([sys.executable, os.path.join(HERE, "put_section.py"), args.out, path], check=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
