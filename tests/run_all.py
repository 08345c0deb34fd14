#!/usr/bin/env python3
"""run_all: run every Postern test suite against one build and count.

    python3 tests/run_all.py --build BUILD [--suite unit,fuzz,integration] [-k PATTERN]

Suites, in order:
  unit         every executable BUILD/tests/test_* (CMocka); its summary
               lines "[  PASSED  ] N test(s)." etc. are counted; a binary
               that crashes or exits non-zero without a failure in its
               summary counts as one more failure.
  fuzz         every BUILD/fuzz/fuzz_* once for a short bounded run
               (-runs=20000 -max_total_time=5); one test per fuzzer; a
               crash is a failure shown with the tail of its output.  Not
               by default for a -san build: the fuzz targets are ASan +
               UBSan builds in both, so `make test` has run them.
  integration  the modules tests/integration/test_*.py, run by -j worker
               processes (default POSTERN_TEST_JOBS, else 3, or 2 for a -san
               build; at most 3) that
               each take the next module from a shared queue; a child
               process bounds a hang and stops its daemons; one test per
               test method.  Each worker draws its trees' port bases from
               its own slice of the ports below the kernel's ephemeral
               range (postern_harness.free_port_base).

The last line printed is exactly "N passed, N failed, N skipped" (CI reads
it).  The exit status is 0 only when nothing failed and something passed.

POSTERN_TEST_TIMEOUT_SCALE (default 1) stretches every deadline of the
integration tests, for a slow or busy machine (postern_harness.py).

A build directory whose name ends in "-san" is the ASan + UBSan build:
unit tests keep leak detection; the daemons of the integration tests run
with detect_leaks=0 (it cannot work across chroot and setuid), and their
log is scanned for sanitizer reports (tests/integration/postern_harness.py).
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)

# The time limits below guard against hangs; they are no speed checks.
# Each is multiplied by POSTERN_TEST_TIMEOUT_SCALE, like the harness's
# deadlines.
UNIT_TIMEOUT = 300          # seconds per unit test binary
FUZZ_RUNS = 20000
FUZZ_SECONDS = 5
FUZZ_TIMEOUT = 180          # seconds per fuzzer, start-up included
# The integration suite takes 4-5 min on a quiet 2-core machine, 8-9 min
# with both cores busy (stress-ng --cpu 2): 30 min leaves room for that
# and for the suite to grow.
INTEGRATION_TIMEOUT = 1800  # seconds for the whole integration suite (x2 for -san)
TAIL = 40
DEFAULT_SUITES = "unit,fuzz,integration"
# Integration modules that take longest, started first (see the
# "slowest modules" line a run prints).
SLOW_MODULES = ["test_pickup_milter", "test_imap_hibernate", "test_restart", "test_deb_package",
                "test_smtpd_milter_peers", "test_imap_model", "test_queue_control", "test_dovecot_swap",
                "test_imap_two_sessions", "test_smtpd_access", "test_smtpd_limits", "test_queue_crash",
                "test_smtpd_dmarc", "test_smtpd_dkim_verify"]


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []      # (suite, name, detail)
        self.skips = []         # (suite, name, reason)

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.failures += other.failures
        self.skips += other.skips

    def line(self):
        return "%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped)


def timeout_scale():
    """POSTERN_TEST_TIMEOUT_SCALE as a number (1 when unset or not one;
    the harness refuses a bad value with a message)."""
    try:
        v = float(os.environ.get("POSTERN_TEST_TIMEOUT_SCALE", "") or 1)
    except ValueError:
        return 1.0
    return v if v > 0 else 1.0


def default_jobs(san):
    """POSTERN_TEST_JOBS, else 3 (2 for a sanitizer build): the
    integration tests mostly wait on daemons, disks and timers (in the
    plain build about 70% of two cores with two workers), so more
    workers finish sooner even on two busy cores; under ASan they are
    CPU-bound already at two (a third was tried: 1295 s instead of
    1261 s, more CPU for the contention)."""
    fallback = 2 if san else 3
    try:
        n = int(os.environ.get("POSTERN_TEST_JOBS", "") or fallback)
    except ValueError:
        return fallback
    return min(max(n, 1), 3)


def say(*args):
    print(*args, flush=True)


def tail(text, n=TAIL):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.rstrip("\n").splitlines()
    return "\n".join("    | " + l for l in lines[-n:])


def is_san(build):
    return os.path.basename(build.rstrip("/")).endswith("-san")


def executables(pattern):
    return sorted(p for p in glob.glob(pattern)
                  if os.path.isfile(p) and os.access(p, os.X_OK) and not os.path.splitext(p)[1])


def run_bounded(cmd, timeout, env=None, cwd=None):
    """(returncode or None on timeout, output) of cmd in its own process group."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, cwd=cwd, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        return None, out


def describe_status(rc):
    if rc is None:
        return "timed out"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


# ---------------------------------------------------------------- unit

CMOCKA_RE = {
    "passed": re.compile(r"^\[  PASSED  \] (\d+) test", re.M),
    "failed": re.compile(r"^\[  FAILED  \] (\d+) test", re.M),
    "skipped": re.compile(r"^\[  SKIPPED \] (\d+) test", re.M),
}
CMOCKA_FAILED_NAME = re.compile(r"^\[  FAILED  \] (\S+)$", re.M)
CMOCKA_SKIPPED_NAME = re.compile(r"^\[  SKIPPED \] (\S+)$", re.M)


def run_unit(build, san):
    c = Counts()
    bins = executables(os.path.join(build, "tests", "test_*"))
    say("== unit: %d test binaries in %s/tests" % (len(bins), build))
    env = dict(os.environ)
    env.pop("CMOCKA_MESSAGE_OUTPUT", None)   # the standard summary is parsed
    if san:
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    for path in bins:
        name = os.path.basename(path)
        t0 = time.monotonic()
        rc, out = run_bounded([path], UNIT_TIMEOUT * (2 if san else 1) * timeout_scale(), env=env)
        text = out.decode("utf-8", "replace")
        n = {k: sum(int(x) for x in r.findall(text)) for k, r in CMOCKA_RE.items()}
        summary = any(r.search(text) for r in CMOCKA_RE.values())
        extra = 0
        why = ""
        if not summary:
            extra, why = 1, "no CMocka summary (%s)" % describe_status(rc)
        elif rc != 0 and (rc is None or rc < 0 or n["failed"] == 0):
            extra, why = 1, "%s after its summary" % describe_status(rc)
        if san and re.search(r"(AddressSanitizer|LeakSanitizer|runtime error:)", text) and n["failed"] + extra == 0:
            extra, why = 1, "sanitizer report"
        c.passed += n["passed"]
        c.failed += n["failed"] + extra
        c.skipped += n["skipped"]
        for m in sorted(set(CMOCKA_SKIPPED_NAME.findall(text))):
            c.skips.append(("unit", "%s:%s" % (name, m), "skipped by the test"))
        status = "ok" if n["failed"] + extra == 0 else "FAILED"
        say("   %-32s %s: %d passed, %d failed, %d skipped (%.1fs)%s"
            % (name, status, n["passed"], n["failed"] + extra, n["skipped"], time.monotonic() - t0,
               ("  " + why) if why else ""))
        if n["failed"] + extra:
            names = sorted(set(CMOCKA_FAILED_NAME.findall(text)))
            c.failures.append(("unit", name, why or ("failed: " + ", ".join(names))))
            say(tail(text))
    return c


# ---------------------------------------------------------------- fuzz

def fuzz_jobs():
    """Fuzz targets run at once: one per core (each libFuzzer run is one
    single-threaded process, bounded by FUZZ_SECONDS)."""
    return max(1, os.cpu_count() or 1)


def fuzz_one(build, name, have_clang):
    """One short bounded run of BUILD/fuzz/NAME from a copy of its corpus:
    (state, reason, lines to print), state "pass" | "fail" | "skip"."""
    path = os.path.join(build, "fuzz", name)
    if not os.access(path, os.X_OK):
        if not have_clang:
            reason = "clang (libFuzzer) not installed; `make deps` installs it"
            return "skip", reason, ["   %-32s skipped: %s" % (name, reason)]
        return "fail", "not built: %s (make fuzz)" % path, ["   %-32s FAILED: not built: %s" % (name, path)]
    work = tempfile.mkdtemp(prefix="postern-fuzz-")
    try:
        cmd = [path, "-runs=%d" % FUZZ_RUNS, "-max_total_time=%d" % FUZZ_SECONDS,
               "-timeout=20", "-rss_limit_mb=2048", "-artifact_prefix=%s/" % work]
        corpus = os.path.join(SOURCE, "tests", "fuzz", "corpus", name[len("fuzz_"):])
        if not os.path.isdir(corpus) or not os.listdir(corpus):
            # A target without seeds would fuzz from nothing and pass
            # all the same: every target has a committed corpus.
            why = "no seed corpus in %s (docs/fuzzing.md, Seed corpora)" % os.path.relpath(corpus, SOURCE)
            return "fail", why, ["   %-32s FAILED: %s" % (name, why)]
        # libFuzzer writes into its first corpus dir: give it a copy.
        copy = os.path.join(work, "corpus")
        shutil.copytree(corpus, copy)
        cmd.append(copy)
        t0 = time.monotonic()
        rc, out = run_bounded(cmd, FUZZ_TIMEOUT * timeout_scale(), cwd=work)
        text = out.decode("utf-8", "replace")
        if rc == 0:
            m = re.findall(r"Done (\d+) runs", text)
            return "pass", "", ["   %-32s ok (%s runs, %.1fs)" % (name, m[-1] if m else "?", time.monotonic() - t0)]
        arts = sorted(a for a in os.listdir(work) if a != "corpus")
        lines = ["   %-32s FAILED: %s; artifacts: %s" % (name, describe_status(rc), ", ".join(arts) or "none"),
                 tail(text)]
        if arts:
            keep = tempfile.mkdtemp(prefix="postern-fuzz-crash-")
            for a in arts:
                shutil.copy(os.path.join(work, a), keep)
            lines.append("    crash inputs kept in %s" % keep)
        return "fail", describe_status(rc), lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_fuzz(build):
    import concurrent.futures
    c = Counts()
    srcs = sorted(glob.glob(os.path.join(SOURCE, "tests", "fuzz", "fuzz_*.c")))
    names = sorted({os.path.splitext(os.path.basename(s))[0] for s in srcs} |
                   {os.path.basename(b) for b in executables(os.path.join(build, "fuzz", "fuzz_*"))})
    jobs = fuzz_jobs()
    say("== fuzz: %d fuzz targets, %d at a time" % (len(names), jobs))
    have_clang = shutil.which("clang") is not None
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = [(name, pool.submit(fuzz_one, build, name, have_clang)) for name in names]
        for name, run in runs:          # printed in name order as they end
            state, reason, lines = run.result()
            for line in lines:
                say(line)
            if state == "pass":
                c.passed += 1
            elif state == "skip":
                c.skipped += 1
                c.skips.append(("fuzz", name, reason))
            else:
                c.failed += 1
                c.failures.append(("fuzz", name, reason))
    return c


# ---------------------------------------------------------------- integration

class CountingResult(unittest.TextTestResult):
    """Counts each test method once: pass, fail (failure, error, failing
    subtest, unexpected success) or skip."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcome = {}       # test id -> "pass" | "fail" | "skip"
        self.reasons = {}
        self.times = {}         # test id -> [wall s, CPU s] (setUp and tearDown included)
        self._started = None

    def startTest(self, test):
        self._started = (time.monotonic(), cpu_seconds())
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self._started:
            t0, c0 = self._started
            self.times[test.id()] = [round(time.monotonic() - t0, 1), round(cpu_seconds() - c0, 1)]

    def _set(self, test, state, reason=""):
        tid = test.id()
        if self.outcome.get(tid) == "fail":
            return
        self.outcome[tid] = state
        if reason:
            self.reasons[tid] = reason

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "fail", self._reason(err))

    def addError(self, test, err):
        super().addError(test, err)
        self._set(test, "fail", self._reason(err))

    @staticmethod
    def _reason(err):
        """First line of the exception: the short why for the summary."""
        lines = str(err[1]).strip().splitlines()
        return "%s: %s" % (err[0].__name__, lines[0][:300] if lines else "")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "pass")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "fail", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._set(test, "fail", "subtest %s" % subtest._subDescription())


def claim_module(queue_dir):
    """The next module name of the shared queue (None when it is empty):
    each worker takes one at a time under a lock, so that the workers
    stay busy until the end whatever each module costs."""
    import fcntl
    with open(os.path.join(queue_dir, "next"), "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        i = int(f.read() or 0)
        with open(os.path.join(queue_dir, "modules")) as m:
            names = m.read().split()
        if i >= len(names):
            return None
        f.seek(0)
        f.write(str(i + 1))
        f.truncate()
        return names[i]


def cpu_seconds():
    """CPU time of this process and of every process below it that has
    been waited for (the trees' masters reap their daemons)."""
    import resource
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def integration_child(args):
    """In a worker: take modules from the queue and run them, then write
    the counts (and each module's time) as JSON to args.child_json."""
    os.environ["POSTERN_BUILD"] = os.path.abspath(args.build)
    top = os.path.join(HERE, "integration")
    sys.path.insert(0, top)
    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = ["*%s*" % p for p in args.k]
    data = {"passed": 0, "failed": 0, "skipped": 0, "failures": [], "skips": [], "times": {},
            "test_times": {}}

    def write():
        with open(args.child_json + ".tmp", "w") as f:
            json.dump(data, f)
        os.rename(args.child_json + ".tmp", args.child_json)

    while True:
        name = claim_module(args.queue)
        if name is None:
            break
        suite = loader.loadTestsFromName(name)
        if suite.countTestCases() == 0:
            continue
        t0, c0 = time.monotonic(), cpu_seconds()
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult)
        result = runner.run(suite)
        data["times"][name] = [round(time.monotonic() - t0, 1), round(cpu_seconds() - c0, 1)]
        data["test_times"].update(result.times)
        for tid, state in sorted(result.outcome.items()):
            key = {"pass": "passed", "fail": "failed", "skip": "skipped"}[state]
            data[key] += 1
            if state == "fail":
                data["failures"].append([tid, result.reasons.get(tid, "")])
            elif state == "skip":
                data["skips"].append([tid, result.reasons.get(tid, "")])
        write()         # after each module: a worker killed later keeps these
    write()
    return 0


def integration_modules():
    """Module names of tests/integration/test_*.py, the long ones first
    (SLOW_MODULES) so that no worker is left with one at the end."""
    names = sorted(os.path.splitext(os.path.basename(p))[0]
                   for p in glob.glob(os.path.join(HERE, "integration", "test_*.py")))
    slow = [m for m in SLOW_MODULES if m in names]
    return slow + [m for m in names if m not in slow]


def make_system_users(build):
    """As root, one `postern init` in a scratch dir before the workers
    start: it creates the postern-* system users once, where two workers'
    first trees would otherwise run useradd at the same time (and one
    fail on the lock of /etc/passwd)."""
    if os.geteuid() != 0:
        return
    postern = os.path.join(build, "bin", "postern")
    scratch = tempfile.mkdtemp(prefix="postern-users-")
    try:
        rc, out = run_bounded([postern, "init", "-d", scratch, "--domain", "example.test",
                               "--listen", "127.0.0.1", "--port-base", "10000"], 120 * timeout_scale())
        if rc != 0:
            say("integration: `postern init` for the system users: %s\n%s" % (describe_status(rc), tail(out)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_integration(build, san, patterns, jobs):
    c = Counts()
    say("== integration: tests/integration against %s, %d worker(s)" % (build, jobs))
    work = tempfile.mkdtemp(prefix="postern-it-")
    modules = integration_modules()
    with open(os.path.join(work, "modules"), "w") as f:
        f.write("\n".join(modules) + "\n")
    with open(os.path.join(work, "next"), "w") as f:
        f.write("0")
    if jobs > 1:
        make_system_users(build)
    limit = INTEGRATION_TIMEOUT * (2 if san else 1) * timeout_scale()
    t0 = time.monotonic()
    workers = []
    for w in range(jobs):
        out_json = os.path.join(work, "worker%d.json" % w)
        cmd = [sys.executable, os.path.abspath(__file__), "--build", build, "--child-json", out_json,
               "--queue", work]
        for p in patterns or ():
            cmd += ["-k", p]
        env = dict(os.environ)
        env["POSTERN_BUILD"] = build
        env["PYTHONUNBUFFERED"] = "1"
        # Each worker takes its port bases from its own slice
        # (postern_harness.free_port_base).
        env["POSTERN_TEST_WORKER"] = "%d/%d" % (w, jobs)
        # One worker writes straight to our output; with several, each
        # has a log, shown whole when it ends so that lines do not mix.
        log = None if jobs == 1 else open(os.path.join(work, "worker%d.log" % w), "w+b")
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, cwd=SOURCE,
                             stdout=log, stderr=subprocess.STDOUT if log else None)
        workers.append((w, p, log, out_json))
    status = {}
    for w, p, log, out_json in workers:
        try:
            status[w] = p.wait(max(1, limit - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            say("integration: worker %d still running after %ds; stopping it" % (w, limit))
            p.send_signal(signal.SIGTERM)      # the harness stops its masters first
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            status[w] = None
        if log:
            log.seek(0)
            sys.stdout.flush()
            say("---- integration worker %d (%s)" % (w, describe_status(status[w])))
            shutil.copyfileobj(log, sys.stdout.buffer)
            sys.stdout.flush()
            log.close()
    times, test_times = {}, {}
    for w, p, log, out_json in workers:
        try:
            with open(out_json) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = None
        if data is None or status[w] != 0:
            c.failed += 1
            c.failures.append(("integration", "worker %d" % w, "the test runner %s%s"
                               % (describe_status(status[w]), "" if data else " without a result")))
            say("integration: FAILED: worker %d %s" % (w, describe_status(status[w])))
        if data is None:
            continue
        c.passed += data["passed"]
        c.failed += data["failed"]
        c.skipped += data["skipped"]
        c.failures += [("integration", t, r) for t, r in data["failures"]]
        c.skips += [("integration", t, r) for t, r in data["skips"]]
        times.update(data["times"])
        test_times.update(data.get("test_times", {}))
    shutil.rmtree(work, ignore_errors=True)
    slowest = sorted(times.items(), key=lambda kv: -kv[1][0])[:12]
    say("integration: slowest modules (wall/CPU): " +
        ", ".join("%s %.0f/%.0fs" % (m, w, c) for m, (w, c) in slowest))
    # CPU of a test counts what its trees' daemons used (the masters reap
    # them), so that a test's cost shows even when it mostly waits.
    slowest = sorted(test_times.items(), key=lambda kv: -kv[1][1])[:15]
    say("integration: costliest tests (wall/CPU): " +
        ", ".join("%s %.0f/%.0fs" % (t, w, c) for t, (w, c) in slowest))
    say("integration: %.0fs of module time, %.0fs of CPU" % (sum(w for w, c in times.values()),
                                                           sum(c for w, c in times.values())))
    say("integration: %d passed, %d failed, %d skipped (%.0fs)"
        % (c.passed, c.failed, c.skipped, time.monotonic() - t0))
    return c


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Run Postern's unit, fuzz and integration tests.")
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--suite", default=DEFAULT_SUITES,
                    help="comma-separated suites to run (default all)")
    ap.add_argument("-k", action="append", metavar="PATTERN",
                    help="run only integration tests whose name contains PATTERN")
    ap.add_argument("-j", "--jobs", type=int,
                    help="integration workers run at once (default POSTERN_TEST_JOBS, else 3; 2 for a "
                    "sanitizer build)")
    ap.add_argument("--child-json", help=argparse.SUPPRESS)
    ap.add_argument("--queue", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if not os.path.isabs(args.build):
        args.build = os.path.join(SOURCE, args.build)
    args.build = os.path.normpath(args.build)
    if args.child_json:
        return integration_child(args)
    if not os.path.isdir(args.build):
        say("run_all: no build directory %s" % args.build)
        say("0 passed, 1 failed, 0 skipped")
        return 1

    san = is_san(args.build)
    if args.jobs is None:
        args.jobs = default_jobs(san)
    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    if san and args.suite == DEFAULT_SUITES:
        # The fuzz targets are the same ASan + UBSan binaries in both
        # builds (Makefile FUZZ_CFLAGS): `make test` runs them.
        suites.remove("fuzz")
        say("== fuzz: not run for %s: the fuzz targets are ASan + UBSan builds either way, "
            "run by `make test` (or --suite fuzz --build build)" % args.build)
    total = Counts()
    for s in suites:
        if s == "unit":
            total.add(run_unit(args.build, san))
        elif s == "fuzz":
            total.add(run_fuzz(args.build))
        elif s == "integration":
            total.add(run_integration(args.build, san, args.k, args.jobs))
        else:
            ap.error("unknown suite %r" % s)

    say("")
    say("== summary (%s)" % args.build)
    for suite, name, reason in total.skips:
        say("   skipped  %-12s %s: %s" % (suite, name, reason))
    for suite, name, detail in total.failures:
        say("   FAILED   %-12s %s: %s" % (suite, name, detail))
    say(total.line())
    return 0 if total.failed == 0 and total.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
