#!/usr/bin/env python3
"""Long libFuzzer runs for the record of docs/fuzzing.md (issue 14).

Runs every fuzz target (or those named) of BUILD/fuzz/ from a copy of its
committed seed corpus (tests/fuzz/corpus/NAME/) up to a number of
executions (default 10,000,000), with the limits CI uses (-timeout=20,
-rss_limit_mb=2048), under `nice`, one target at a time or -j N at once,
each run capped in time (--max-time, default 6 h).  Every run appends one
line to the results file (default BUILD/fuzz-long/results.tsv):

    target  executions  seconds  exec/s  date (UTC, start)  result

result is `ok` for a clean stop (the executions reached, or the time cap)
or the path of the crash artefact (crash-*, leak-*, timeout-*, oom-*),
kept with the run's log in BUILD/fuzz-long/artifacts/TARGET-DATE/.
Executions come from libFuzzer's closing "Done N runs in S second(s)", or
from the last "#N" status line when the run was stopped; seconds and
exec/s are wall time, start-up and seed loading included.

--resume skips a target whose executions of `ok` runs, summed over the
results file, reach the goal, and runs only the rest for the others.  The
committed corpora are never changed unless --merge-back is given: then,
after an `ok` run, the inputs it found that reach new code (edges) are
merged into the committed corpus (libFuzzer -merge=1 -use_counters=0).
--report prints the Record table of docs/fuzzing.md from the results file.
Ctrl-C or SIGTERM stops the runs under way and records what they did
(SIGINT is ignored in a job started with `&` by a shell without job
control, hence SIGTERM too).

Examples:
    python3 tests/fuzz/long_run.py --resume              # the whole record
    python3 tests/fuzz/long_run.py -j 2 fuzz_mime fuzz_sasl
    python3 tests/fuzz/long_run.py --runs 1000000000 --max-time 20 \\
        --results /tmp/rates.tsv                         # measure exec/s
"""

import argparse
import concurrent.futures
import datetime
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
CORPORA = os.path.join(HERE, "corpus")

TIMEOUT = 20          # -timeout: seconds one input may take (as CI)
RSS_LIMIT_MB = 2048   # -rss_limit_mb (as CI)
GRACE = 300           # seconds past --max-time before the run is killed
HEADER = "# target\texecutions\tseconds\texec/s\tdate_utc\tresult\n"

DONE_RE = re.compile(rb"^Done (\d+) runs in (\d+) second", re.M)
STATUS_RE = re.compile(rb"^#(\d+)\t", re.M)
ARTEFACT_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")

lock = threading.Lock()
running = set()       # the fuzzer processes under way
stopping = threading.Event()   # Ctrl-C: stop them, record what they did
STOPPED = (0, 72, -signal.SIGTERM, 128 + signal.SIGTERM)   # 72: libFuzzer's exit on SIGTERM


def say(msg):
    with lock:
        print(msg, flush=True)


def targets():
    srcs = glob.glob(os.path.join(SOURCE, "tests", "fuzz", "fuzz_*.c"))
    return sorted(os.path.splitext(os.path.basename(s))[0] for s in srcs)


def corpus_of(name):
    """The committed corpus directory of a target, or None."""
    for d in (os.path.join(CORPORA, name[len("fuzz_"):]), os.path.join(CORPORA, name)):
        if os.path.isdir(d):
            return d
    return None


def read_results(path):
    """{target: executions summed over its `ok` runs}."""
    done = {}
    if not os.path.exists(path):
        return done
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 6 or cols[5] != "ok":
                continue
            try:
                done[cols[0]] = done.get(cols[0], 0) + int(cols[1])
            except ValueError:
                continue
    return done


def report(path):
    """The Record table of docs/fuzzing.md from the results file: per
    target, the executions of its `ok` runs summed, the dates of its runs
    and its findings."""
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if line.startswith("#") or len(cols) < 6:
                    continue
                r = rows.setdefault(cols[0], {"n": 0, "dates": [], "bad": []})
                d = cols[4]
                r["dates"].append("%s-%s-%s" % (d[:4], d[4:6], d[6:8]))
                if cols[5] == "ok":
                    r["n"] += int(cols[1]) if cols[1].isdigit() else 0
                else:
                    r["bad"].append(cols[5])
    print("| target | executions | date (UTC) | result |")
    print("|---|---:|---|---|")
    for name in sorted(rows):
        r = rows[name]
        dates = sorted(set(r["dates"]))
        when = dates[0] if len(dates) == 1 else "%s to %s" % (dates[0], dates[-1])
        print("| %s | %s | %s | %s |" % (name, "{:,}".format(r["n"]), when,
                                         "; ".join(r["bad"]) if r["bad"] else "ok"))


def append_result(path, cols):
    with lock:
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        with open(path, "a") as f:
            if new:
                f.write(HEADER)
            f.write("\t".join(str(c) for c in cols) + "\n")


def executions(log):
    """Executions from libFuzzer's output: the closing Done line, else the
    last status line; 0 when neither is there."""
    done = DONE_RE.findall(log)
    if done:
        return int(done[-1][0])
    status = STATUS_RE.findall(log)
    return int(status[-1]) if status else 0


def stop(proc):
    """SIGTERM to the run's process group, SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def run_one(args, name, runs, outdir):
    binary = os.path.join(args.build, "fuzz", name)
    start = datetime.datetime.now(datetime.timezone.utc)
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    work = tempfile.mkdtemp(prefix="postern-fuzzlong-")
    try:
        corpus = os.path.join(work, "corpus")
        committed = corpus_of(name)
        if committed is not None:
            shutil.copytree(committed, corpus)   # libFuzzer writes into it
        else:
            os.mkdir(corpus)
        arts = os.path.join(work, "artifacts")
        os.mkdir(arts)
        cmd = ["nice", "-n", str(args.nice), binary, "-runs=%d" % runs,
               "-max_total_time=%d" % args.max_time, "-timeout=%d" % TIMEOUT,
               "-rss_limit_mb=%d" % RSS_LIMIT_MB, "-artifact_prefix=%s/" % arts,
               "-print_final_stats=1", corpus]
        logpath = os.path.join(work, "log")
        say("%-30s start: %d runs, at most %d s" % (name, runs, args.max_time))
        t0 = time.monotonic()
        with open(logpath, "wb") as log:
            if stopping.is_set():
                return True
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work,
                                    start_new_session=True)
            with lock:
                running.add(proc)
                late = stopping.is_set()   # else main's snapshot has it
            try:
                if late:
                    stop(proc)
                rc = proc.wait(timeout=args.max_time + GRACE)
            except subprocess.TimeoutExpired:
                stop(proc)
                rc = 0 if proc.returncode in STOPPED else proc.returncode
            finally:
                with lock:
                    running.discard(proc)
            if stopping.is_set() and rc in STOPPED:
                rc = 0
        seconds = time.monotonic() - t0
        with open(logpath, "rb") as f:
            text = f.read()
        n = executions(text)
        found = sorted(a for a in os.listdir(arts) if a.startswith(ARTEFACT_PREFIXES))
        if rc == 0 and not found:
            result = "ok"
        else:
            keep = os.path.join(outdir, "artifacts", "%s-%s" % (name, stamp))
            os.makedirs(keep, exist_ok=True)
            for a in found:
                shutil.copy(os.path.join(arts, a), keep)
            shutil.copy(logpath, os.path.join(keep, "log"))
            result = (os.path.join(keep, found[0]) if found
                      else "failed (exit %d), log %s" % (rc, os.path.join(keep, "log")))
        rate = n / seconds if seconds > 0 else 0.0
        append_result(args.results, (name, n, "%.0f" % seconds, "%.0f" % rate, stamp, result))
        say("%-30s %s: %d executions in %.0f s (%.0f/s)" % (name, result, n, seconds, rate))
        if result == "ok" and args.merge_back and committed is not None:
            # Edges only (no hit counters): the few inputs that reach new
            # code, not every new loop count, so the corpus stays small.
            merge = subprocess.run(["nice", "-n", str(args.nice), binary, "-merge=1",
                                    "-use_counters=0", "-timeout=%d" % TIMEOUT, "-rss_limit_mb=%d" % RSS_LIMIT_MB,
                                    committed, corpus],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work)
            say("%-30s merge-back into %s: %s" % (name, committed,
                                                  "done" if merge.returncode == 0 else "FAILED"))
        return result == "ok"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="targets (fuzz_NAME or NAME); default all")
    ap.add_argument("--build", default=os.path.join(SOURCE, "build"),
                    help="build directory holding fuzz/ (make fuzz)")
    ap.add_argument("--runs", type=int, default=10000000, help="executions per target (10,000,000)")
    ap.add_argument("--max-time", type=int, default=6 * 3600,
                    help="seconds one run may take (default 21600)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="targets run at once (1)")
    ap.add_argument("--nice", type=int, default=10, help="nice level of the runs (10)")
    ap.add_argument("--results", help="results file (default BUILD/fuzz-long/results.tsv)")
    ap.add_argument("--resume", action="store_true",
                    help="skip targets whose recorded executions reach --runs, run the rest for others")
    ap.add_argument("--report", action="store_true",
                    help="print the Record table (markdown) from the results file and stop")
    ap.add_argument("--merge-back", action="store_true",
                    help="merge new coverage of ok runs into the committed corpora")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    outdir = os.path.join(args.build, "fuzz-long")
    os.makedirs(outdir, exist_ok=True)
    args.results = os.path.abspath(args.results or os.path.join(outdir, "results.tsv"))
    if args.report:
        report(args.results)
        return 0

    every = targets()
    names = []
    for n in args.names or every:
        n = n if n.startswith("fuzz_") else "fuzz_" + n
        if n not in every:
            ap.error("no fuzz target %s" % n)
        names.append(n)
    missing = [n for n in names if not os.access(os.path.join(args.build, "fuzz", n), os.X_OK)]
    if missing:
        ap.error("not built (make fuzz): %s" % " ".join(missing))

    # Both stop the record cleanly (the KeyboardInterrupt below); a shell
    # that starts us with `&` has set SIGINT to be ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    done = read_results(args.results) if args.resume else {}
    todo = []
    for n in names:
        left = args.runs - done.get(n, 0)
        if left <= 0:
            say("%-30s skipped: %d executions recorded" % (n, done[n]))
        else:
            todo.append((n, left))
    say("results: %s; %d target(s) to run" % (args.results, len(todo)))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    futures = [pool.submit(run_one, args, n, left, outdir) for n, left in todo]
    try:
        bad = sum(1 for f in futures if not f.result())
    except KeyboardInterrupt:
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        with lock:
            procs = list(running)
        for p in procs:
            stop(p)
        pool.shutdown(wait=True)
        say("stopped")
        return 130
    pool.shutdown()
    say("%d run(s), %d with a finding or failure" % (len(todo), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
