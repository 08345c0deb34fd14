"""The harness itself (issue 9, item 4): the suite must not depend on where
it is cloned nor on how busy the machine is.

A program run as another user comes from Tree.bin_for_others(), never
from the build directory, which may lie under a directory that user
cannot enter; wait_for() is the one deadline, and says what it waited for;
wait_log(after=) sees only lines written after its mark."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest
from unittest import mock

import postern_harness
from postern_harness import (BIN, PROGRAMS_FOR_OTHERS, SCALE, PosternTestCase, as_user, daemon_env, is_root,
                             unreachable_by_others, wait_for)


class ProgramsForOtherUsers(PosternTestCase):

    def closed_build(self):
        """A copy of BIN inside a 0700 directory, as in a checkout under
        /root or in a mktemp -d directory."""
        closed = tempfile.mkdtemp(prefix="postern-closed-")
        self.addCleanup(shutil.rmtree, closed, True)
        self.assertEqual(os.stat(closed).st_mode & 0o777, 0o700)
        bin_dir = os.path.join(closed, "build", "bin")
        os.makedirs(bin_dir)
        for name in PROGRAMS_FOR_OTHERS:
            shutil.copy(os.path.join(BIN, name), bin_dir)
        os.symlink("sendmail", os.path.join(bin_dir, "mailq"))
        return closed, bin_dir

    @unittest.skipUnless(is_root(), "needs root to run a program as nobody")
    def test_mailq_as_nobody_works_from_a_closed_checkout(self):
        t = self.start_tree()
        closed, bin_dir = self.closed_build()
        env = dict(daemon_env(), POSTERN_DIR=t.dir)
        self.assertEqual(unreachable_by_others(bin_dir), closed)
        # What the tests did before: run from the build directory.
        with self.assertRaises(PermissionError):
            subprocess.run([os.path.join(bin_dir, "mailq")], env=env, timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, **as_user("nobody"))
        # What they do now: the tree's copy.
        with mock.patch.object(postern_harness, "BIN", bin_dir):
            others = t.bin_for_others()
        self.assertIsNone(unreachable_by_others(others))
        p = subprocess.run([os.path.join(others, "mailq")], env=env, timeout=60, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, **as_user("nobody"))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"empty", p.stdout)

    def test_the_tree_is_reachable_by_others(self):
        t = self.start_tree(start=False)
        self.assertIsNone(unreachable_by_others(t.dir))
        self.assertIsNone(unreachable_by_others(t.bin_for_others()))


class WaitFor(unittest.TestCase):

    def test_returns_the_first_true_value(self):
        calls = []
        self.assertEqual(wait_for(lambda: calls.append(1) or (len(calls) >= 3 and "done"), 10, "three calls",
                                  interval=0.01), "done")
        self.assertEqual(len(calls), 3)

    def test_timeout_names_what_and_the_last_value(self):
        started = time.monotonic()
        with self.assertRaises(AssertionError) as cm:
            wait_for(lambda: [], 0.2, "the moon", detail=lambda: "log tail here")
        took = time.monotonic() - started
        text = str(cm.exception)
        self.assertIn("timed out after %.1fs waiting for the moon (last: [])" % (0.2 * SCALE), text)
        self.assertIn("log tail here", text)
        # Margin: the deadline is 0.2 s (x SCALE); 5 s more is slack for a busy machine.
        self.assertGreaterEqual(took, 0.2 * SCALE)
        self.assertLess(took, 0.2 * SCALE + 5)

    def test_ignored_exceptions_are_not_yet_and_are_reported(self):
        with self.assertRaises(AssertionError) as cm:
            wait_for(lambda: 1 / 0, 0.1, "a division", ignore=(ZeroDivisionError,))
        self.assertIn("ZeroDivisionError", str(cm.exception))
        with self.assertRaises(KeyError):
            wait_for(lambda: {}["x"], 5, "a key", ignore=(ZeroDivisionError,))

    def test_without_fail_the_last_value_is_returned(self):
        self.assertEqual(wait_for(lambda: 0, 0.05, "zero", fail=False), 0)
        self.assertIsNone(wait_for(lambda: 1 / 0, 0.05, "x", ignore=(ZeroDivisionError,), fail=False))

    def test_scale_comes_from_the_environment(self):
        env = dict(os.environ, POSTERN_TEST_TIMEOUT_SCALE="2.5")
        code = "import postern_harness as h; print(h.SCALE / (3.0 if h.SANITIZED else 1.0))"
        p = subprocess.run(["python3", "-c", code], env=env, cwd=os.path.dirname(os.path.abspath(__file__)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.stdout.strip(), b"2.5", p.stdout)
        env["POSTERN_TEST_TIMEOUT_SCALE"] = "fast"
        p = subprocess.run(["python3", "-c", code], env=env, cwd=os.path.dirname(os.path.abspath(__file__)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"POSTERN_TEST_TIMEOUT_SCALE='fast'", p.stdout)


class WaitLog(PosternTestCase):

    def test_wait_log_after_a_mark_sees_only_later_lines(self):
        t = self.start_tree(start=False)
        with open(t.log_path, "a") as f:
            f.write("x[1]: event one\n")
        mark = t.log_mark()
        self.assertEqual(t.wait_log(r"event (\w+)").group(1), "one")
        with self.assertRaises(AssertionError) as cm:
            t.wait_log(r"event one", seconds=0.2, after=mark)
        self.assertIn("tail of %s" % t.log_path, str(cm.exception))
        with open(t.log_path, "a") as f:
            f.write("x[1]: event two\n")
        self.assertEqual(t.wait_log(r"event (\w+)", after=mark).group(1), "two")


if __name__ == "__main__":
    unittest.main()
