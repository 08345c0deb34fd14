#!/usr/bin/env python3
"""run_all: run every Postern test suite against one build and count.

    python3 tests/run_all.py --build BUILD [--suite unit,fuzz,integration] [-k PATTERN]

Suites, in order:
  unit         every executable BUILD/tests/test_* (CMocka); its summary
               lines "[  PASSED  ] N test(s)." etc. are counted; a binary
               that crashes or exits non-zero without a failure in its
               summary counts as one more failure.
  fuzz         every BUILD/fuzz/fuzz_* once for a short bounded run
               (-runs=20000 -max_total_time=10); one test per fuzzer; a
               crash is a failure shown with the tail of its output.
  integration  unittest discovery in tests/integration, in a child process
               (so that a hang is bounded and its daemons are stopped);
               one test per test method.

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
FUZZ_SECONDS = 10
FUZZ_TIMEOUT = 180          # seconds per fuzzer, start-up included
# The integration suite takes 4-5 min on a quiet 2-core machine, 8-9 min
# with both cores busy (stress-ng --cpu 2): 30 min leaves room for that
# and for the suite to grow.
INTEGRATION_TIMEOUT = 1800  # seconds for the whole integration suite (x2 for -san)
TAIL = 40


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

def run_fuzz(build):
    c = Counts()
    srcs = sorted(glob.glob(os.path.join(SOURCE, "tests", "fuzz", "fuzz_*.c")))
    names = sorted({os.path.splitext(os.path.basename(s))[0] for s in srcs} |
                   {os.path.basename(b) for b in executables(os.path.join(build, "fuzz", "fuzz_*"))})
    say("== fuzz: %d fuzz targets" % len(names))
    have_clang = shutil.which("clang") is not None
    for name in names:
        path = os.path.join(build, "fuzz", name)
        if not os.access(path, os.X_OK):
            if not have_clang:
                reason = "clang (libFuzzer) not installed; `make deps` installs it"
                c.skipped += 1
                c.skips.append(("fuzz", name, reason))
                say("   %-32s skipped: %s" % (name, reason))
            else:
                c.failed += 1
                c.failures.append(("fuzz", name, "not built: %s (make fuzz)" % path))
                say("   %-32s FAILED: not built: %s" % (name, path))
            continue
        work = tempfile.mkdtemp(prefix="postern-fuzz-")
        try:
            cmd = [path, "-runs=%d" % FUZZ_RUNS, "-max_total_time=%d" % FUZZ_SECONDS,
                   "-timeout=20", "-rss_limit_mb=2048", "-artifact_prefix=%s/" % work]
            corpus = os.path.join(SOURCE, "tests", "fuzz", "corpus", name[len("fuzz_"):])
            if not os.path.isdir(corpus):
                corpus = os.path.join(SOURCE, "tests", "fuzz", "corpus", name)
            if os.path.isdir(corpus):
                # libFuzzer writes into its first corpus dir: give it a copy.
                copy = os.path.join(work, "corpus")
                shutil.copytree(corpus, copy)
                cmd.append(copy)
            t0 = time.monotonic()
            rc, out = run_bounded(cmd, FUZZ_TIMEOUT * timeout_scale(), cwd=work)
            text = out.decode("utf-8", "replace")
            if rc == 0:
                c.passed += 1
                m = re.findall(r"Done (\d+) runs", text)
                say("   %-32s ok (%s runs, %.1fs)" % (name, m[-1] if m else "?", time.monotonic() - t0))
            else:
                c.failed += 1
                arts = sorted(os.listdir(work))
                c.failures.append(("fuzz", name, describe_status(rc)))
                say("   %-32s FAILED: %s; artifacts: %s" % (name, describe_status(rc),
                                                             ", ".join(a for a in arts if a != "corpus") or "none"))
                say(tail(text))
                crash = [a for a in arts if a != "corpus"]
                if crash:
                    keep = tempfile.mkdtemp(prefix="postern-fuzz-crash-")
                    for a in crash:
                        shutil.copy(os.path.join(work, a), keep)
                    say("    crash inputs kept in %s" % keep)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return c


# ---------------------------------------------------------------- integration

class CountingResult(unittest.TextTestResult):
    """Counts each test method once: pass, fail (failure, error, failing
    subtest, unexpected success) or skip."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcome = {}       # test id -> "pass" | "fail" | "skip"
        self.reasons = {}

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


def integration_child(args):
    """In the child: discover, run, write the counts as JSON to args.child_json."""
    os.environ["POSTERN_BUILD"] = os.path.abspath(args.build)
    top = os.path.join(HERE, "integration")
    sys.path.insert(0, top)
    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = ["*%s*" % p for p in args.k]
    suite = loader.discover(top, pattern="test_*.py", top_level_dir=top)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult)
    result = runner.run(suite)
    data = {"passed": 0, "failed": 0, "skipped": 0, "failures": [], "skips": []}
    for tid, state in sorted(result.outcome.items()):
        key = {"pass": "passed", "fail": "failed", "skip": "skipped"}[state]
        data[key] += 1
        if state == "fail":
            data["failures"].append([tid, result.reasons.get(tid, "")])
        elif state == "skip":
            data["skips"].append([tid, result.reasons.get(tid, "")])
    with open(args.child_json, "w") as f:
        json.dump(data, f)
    return 0


def run_integration(build, san, patterns):
    c = Counts()
    say("== integration: tests/integration against %s" % build)
    fd, out_json = tempfile.mkstemp(prefix="postern-it-", suffix=".json")
    os.close(fd)
    os.unlink(out_json)
    cmd = [sys.executable, os.path.abspath(__file__), "--build", build, "--child-json", out_json]
    for p in patterns or ():
        cmd += ["-k", p]
    env = dict(os.environ)
    env["POSTERN_BUILD"] = build
    env["PYTHONUNBUFFERED"] = "1"
    limit = INTEGRATION_TIMEOUT * (2 if san else 1) * timeout_scale()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, cwd=SOURCE)
    try:
        rc = p.wait(limit)
    except subprocess.TimeoutExpired:
        say("integration: still running after %ds; stopping it" % limit)
        p.send_signal(signal.SIGTERM)      # the harness stops its masters first
        try:
            rc = p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        rc = None
    try:
        with open(out_json) as f:
            data = json.load(f)
        os.unlink(out_json)
    except (OSError, ValueError):
        c.failed += 1
        c.failures.append(("integration", "suite", "the test runner %s without a result"
                           % describe_status(rc)))
        say("integration: FAILED: the runner %s without a result" % describe_status(rc))
        return c
    c.passed, c.failed, c.skipped = data["passed"], data["failed"], data["skipped"]
    c.failures += [("integration", t, r) for t, r in data["failures"]]
    c.skips += [("integration", t, r) for t, r in data["skips"]]
    say("integration: %d passed, %d failed, %d skipped (%.0fs)"
        % (c.passed, c.failed, c.skipped, time.monotonic() - t0))
    return c


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Run Postern's unit, fuzz and integration tests.")
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--suite", default="unit,fuzz,integration",
                    help="comma-separated suites to run (default all)")
    ap.add_argument("-k", action="append", metavar="PATTERN",
                    help="run only integration tests whose name contains PATTERN")
    ap.add_argument("--child-json", help=argparse.SUPPRESS)
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
    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    total = Counts()
    for s in suites:
        if s == "unit":
            total.add(run_unit(args.build, san))
        elif s == "fuzz":
            total.add(run_fuzz(args.build))
        elif s == "integration":
            total.add(run_integration(args.build, san, args.k))
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
