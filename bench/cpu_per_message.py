#!/usr/bin/env python3
"""bench/cpu_per_message.py: where Postern's CPU goes per message (issue 15).

    python3 bench/cpu_per_message.py [-b BUILD] [-n MESSAGES] [-c SESSIONS]
                                     [-l BYTES] [-C KEY=VALUE ...] [--syscalls]

Starts a fresh tree under /tmp (log_file = maillog, as the reference
Postfix writes maillog_file), sends MESSAGES messages of about BYTES with
Postfix's smtp-source over SESSIONS sessions to one local user, waits
until all are in the Maildir, and prints the CPU time (user and system),
minor page faults, context switches and, with --syscalls, the system calls (perf trace -s)
of each service per message.  CPU is read from /proc every 50 ms for every
descendant of the master (a process that exits between two looks loses at
most 50 ms); daemon_max_use is raised so that the processes live through
the run.  smtp-source's own CPU is shown apart: on two cores the client's
share limits any server.

Not a test and not for CI: CPU per message is meaningful on a quiet
machine; the system-call counts are meaningful on any.
"""
import argparse
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def switches(pid):
    """Voluntary + involuntary context switches of pid so far (0 if gone)."""
    n = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    n += int(line.split()[1])
    except (OSError, ValueError):
        pass
    return n


def proc_table():
    """{pid: (ppid, argv0, utime, stime, minflt, context switches)} of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
            with open("/proc/%s/cmdline" % p, "rb") as f:
                arg0 = f.read().split(b"\0")[0].decode("utf-8", "replace")
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        out[int(p)] = (int(rest[1]), arg0, int(rest[11]), int(rest[12]), int(rest[7]), switches(int(p)))
    return out


def descends(pid, table, root):
    while pid > 1:
        if pid == root:
            return True
        pid = table.get(pid, (0,))[0]
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--build", default="build")
    ap.add_argument("-n", "--messages", type=int, default=5000)
    ap.add_argument("-c", "--sessions", type=int, default=10)
    ap.add_argument("-l", "--size", type=int, default=2048)
    ap.add_argument("-C", "--conf", action="append", default=[], help="KEY=VALUE for postern.conf")
    ap.add_argument("--syscalls", action="store_true", help="count system calls with perf trace -s")
    ap.add_argument("--by-call", action="store_true", help="with --syscalls: each process's calls by name")
    args = ap.parse_args()
    postern = os.path.join(SRC, args.build, "bin", "postern")
    tree = tempfile.mkdtemp(prefix="postern-bench-cpu-", dir="/tmp")
    os.chmod(tree, 0o755)
    port = 20000 + os.getpid() % 30000
    smtp = port + 25
    try:
        subprocess.run([postern, "init", "-d", tree, "--domain", "example.test", "--listen", "127.0.0.1",
                        "--port-base", str(port)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([postern, "user", "add", "-d", tree, "alice@example.test"], input=b"bench-password\n",
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(tree, "etc", "postern.conf"), "a") as f:
            f.write("smtpd_client_connection_limit = 0\ndaemon_max_use = 1000000\nlog_file = maillog\n")
            for kv in args.conf:
                k, v = kv.split("=", 1)
                f.write("%s = %s\n" % (k, v))
        subprocess.run([postern, "start", "-d", tree], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", smtp), 2) as s:
                    if s.recv(3) == b"220":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("Postern did not start")
            time.sleep(0.05)
        with open(os.path.join(tree, "run", "master.pid")) as f:
            master = int(f.read().split()[0])
        maildir = os.path.join(tree, "mail", "example.test", "alice")

        def in_maildir():
            return sum(len(os.listdir(os.path.join(maildir, d))) for d in ("new", "cur")
                       if os.path.isdir(os.path.join(maildir, d)))

        def source(n):
            return subprocess.Popen(["smtp-source", "-s", str(args.sessions), "-m", str(n), "-l", str(args.size),
                                     "-M", "bench.example", "-f", "bench@example.org", "-t", "alice@example.test",
                                     "127.0.0.1:%d" % smtp])

        # Warm up: every process the run needs is started.
        warm = min(1000, args.messages)
        source(warm).wait()
        while in_maildir() < warm:
            time.sleep(0.05)
        table = proc_table()
        start = {pid: v for pid, v in table.items() if descends(pid, table, master)}
        seen = dict(start)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                t = proc_table()
                for pid, v in t.items():
                    if descends(pid, t, master):
                        seen[pid] = v
                stop.wait(0.05)
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        trace = None
        if args.syscalls:
            out = os.path.join(tree, "trace.txt")
            trace = subprocess.Popen(["perf", "trace", "-s", "-o", out, "-p", ",".join(map(str, start))],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        t0 = time.monotonic()
        src = source(args.messages)
        ru = os.wait4(src.pid, 0)[2]
        t1 = time.monotonic()
        while in_maildir() < warm + args.messages:
            time.sleep(0.02)
        t2 = time.monotonic()
        stop.set()
        th.join()
        if trace is not None:
            trace.send_signal(signal.SIGINT)
            trace.wait()
        n = args.messages
        cpu = collections.defaultdict(lambda: [0, 0, 0, 0])
        for pid, (_, name, ut, st, fl, cs) in seen.items():
            s0 = start.get(pid, (0, name, 0, 0, 0, 0))
            c = cpu[name]
            c[0] += ut - s0[2]
            c[1] += st - s0[3]
            c[2] += fl - s0[4]
            c[3] += cs - s0[5]
        cpu["smtp-source"] = [ru.ru_utime * TICK, ru.ru_stime * TICK, ru.ru_minflt, ru.ru_nvcsw + ru.ru_nivcsw]
        total = sum(c[0] + c[1] for c in cpu.values())
        print("%d messages of %d bytes, %d sessions: accepted in %.2f s (%.0f/s), in the Maildir after %.2f s"
              % (n, args.size, args.sessions, t1 - t0, n / (t1 - t0), t2 - t0))
        print("CPU per message: %.3f ms in all (load average %s)" % (total / TICK / n * 1000,
                                                                   open("/proc/loadavg").read().split()[0]))
        for name, (u, s, fl, cs) in sorted(cpu.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
            if u + s == 0:
                continue
            print("  %-24s %6.3f ms (user %.3f, system %.3f), %.1f minor faults, %.1f context switches" %
                  (name, (u + s) / TICK / n * 1000, u / TICK / n * 1000, s / TICK / n * 1000, fl / n, cs / n))
        if trace is not None:
            calls = collections.Counter()
            by_call = collections.defaultdict(collections.Counter)
            name = None
            with open(out) as f:
                for line in f:
                    w = line.split()
                    if len(w) >= 3 and "events," in line:
                        name = w[0]
                    elif name and len(w) >= 2 and w[1].isdigit() and w[0].replace("_", "").isalnum():
                        calls[name] += int(w[1])
                        by_call[name][w[0]] += int(w[1])
            print("system calls per message:")
            for name, c in calls.most_common():
                print("  %-24s %6.1f" % (name, c / n))
                if args.by_call:
                    print("    " + ", ".join("%s %.2f" % (call, k / n)
                                             for call, k in by_call[name].most_common() if k / n >= 0.05))
    finally:
        subprocess.run([postern, "stop", "-d", tree], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tree])


if __name__ == "__main__":
    main()
