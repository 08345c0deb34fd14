#!/usr/bin/env python3
"""bench/smtp_latency.py: Postern's unloaded SMTP latency (issue 15).

    python3 bench/smtp_latency.py BUILD MESSAGES

Starts a fresh tree under /tmp (log_file = maillog) and sends MESSAGES
messages of about 2 KB to one local user, one after the other, one
session each, 20 ms apart, after 20 not counted; prints the p50 and p99
of the time from the end of the data to the 250, and to the message's
file in the Maildir (new/ looked at every 0.1 ms, which yields the CPU).
Not a test and not for CI: compare builds on a quiet machine, alternately.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
n = int(sys.argv[2])
postern = os.path.join(build, "bin", "postern")
tree = tempfile.mkdtemp(prefix="postern-lat-", dir="/tmp"); os.chmod(tree, 0o755)
port = 21000 + os.getpid() % 20000
subprocess.run([postern, "init", "-d", tree, "--domain", "example.test", "--listen", "127.0.0.1", "--port-base", str(port)], check=True, stdout=subprocess.DEVNULL)
subprocess.run([postern, "user", "add", "-d", tree, "alice@example.test"], input=b"pw-pw-pw-1\n", check=True, stdout=subprocess.DEVNULL)
open(os.path.join(tree, "etc", "postern.conf"), "a").write("log_file = maillog\n")
subprocess.run([postern, "start", "-d", tree], check=True, stdout=subprocess.DEVNULL)
new = os.path.join(tree, "mail", "example.test", "alice", "new")
def reply(s):
    data = b""
    while True:
        data += s.recv(4096)
        lines = data.split(b"\r\n")
        if len(lines) > 1 and lines[-2][3:4] == b" ":
            return data
body = b"Subject: lat\r\n\r\n" + b"x" * 2000 + b"\r\n.\r\n"
acc, dlv = [], []
try:
    for i in range(n + 20):
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port + 25)); break
            except OSError:
                time.sleep(0.05)
        reply(s)
        for c in (b"EHLO c\r\n", b"MAIL FROM:<b@example.org>\r\n", b"RCPT TO:<alice@example.test>\r\n", b"DATA\r\n"):
            s.sendall(c); reply(s)
        before = len(os.listdir(new)) if os.path.isdir(new) else 0
        t0 = time.perf_counter(); s.sendall(body); r = reply(s); t1 = time.perf_counter()
        assert r.startswith(b"250"), r
        while (len(os.listdir(new)) if os.path.isdir(new) else 0) <= before:
            time.sleep(0.0001)
        t2 = time.perf_counter()
        s.sendall(b"QUIT\r\n"); reply(s); s.close()
        if i >= 20:
            acc.append((t1 - t0) * 1000); dlv.append((t2 - t0) * 1000)
        time.sleep(0.02)
finally:
    subprocess.run([postern, "stop", "-d", tree], stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", tree])
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p / 100 * len(v)))]
print("%s: 250 after DATA p50 %.2f p99 %.2f ms; in Maildir p50 %.2f p99 %.2f ms" % (build, pct(acc, 50), pct(acc, 99), pct(dlv, 50), pct(dlv, 99)))
