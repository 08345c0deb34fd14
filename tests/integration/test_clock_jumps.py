"""The wall clock jumps under qmgr (issue 14, section 2): the queue neither
stalls nor gives up on a delivery early (docs/queue.md, "Clocks").

qmgr alone runs under libfaketime (Debian package faketime): the tree's
program_directory is a directory of links to the build's programs in
which qmgr is a wrapper that preloads the library, reading the offset
from a file in qmgr's chroot that the test rewrites.  Only the wall clock
is faked (DONT_FAKE_MONOTONIC), as a real jump leaves the monotonic
clock alone; file times are left as the kernel keeps them (NO_FAKE_STAT).
The machine's clock is never touched.

- Backwards: a message deferred for a minute before qmgr's clock goes back
  two hours has a next try (its mtime) two hours and a minute ahead of
  qmgr; further ahead than any backoff, so qmgr tries it at its next scan
  instead of waiting for the clock to catch up.
- Forwards: a delivery in flight when qmgr's clock jumps a day ahead is
  not cut off as timed out (the agents' deadlines are on the monotonic
  clock): the next hop gets it once.
- Forwards by more than maximal_queue_lifetime: a deferred message is
  tried again (due early) but not expired, since its age leaves the step
  out; the step is kept in queue/state/clock-jumps, so a restarted qmgr (still
  on the jumped clock) does not expire it either."""

import os
import re
import unittest

from postern_harness import BIN, HOST, PosternTestCase, free_port, make_message, wait_for
from test_kill_daemons import HoldingSink

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
FOREIGN = "far@remote.example"

WRAPPER = """#!/bin/bash
# qmgr under libfaketime (tests/integration/test_clock_jumps.py)
export LD_PRELOAD=%(lib)s
export FAKETIME_TIMESTAMP_FILE=/faketime.rc
export FAKETIME_CACHE_DURATION=1
export DONT_FAKE_MONOTONIC=1
export NO_FAKE_STAT=1
export ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
exec -a postern/qmgr %(qmgr)s "$@"
"""

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) qmgr\[", re.M)


@unittest.skipUnless(os.path.exists(LIBFAKETIME), "libfaketime is not installed (apt-get install faketime)")
class ClockJumps(PosternTestCase):

    def start_faked_tree(self, **conf):
        t = self.start_tree(start=False)
        progs = os.path.join(t.dir, "programs")
        os.mkdir(progs)
        os.chmod(progs, 0o755)
        for name in os.listdir(BIN):
            if name != "qmgr":
                os.symlink(os.path.join(BIN, name), os.path.join(progs, name))
        wrapper = os.path.join(progs, "qmgr")
        with open(wrapper, "w") as f:
            f.write(WRAPPER % {"lib": LIBFAKETIME, "qmgr": os.path.join(BIN, "qmgr")})
        os.chmod(wrapper, 0o755)
        self.offset_file = os.path.join(t.dir, "queue", "faketime.rc")
        self.set_offset("+0")
        t.run("conf", "-d", t.dir, "program_directory=" + progs)
        t.set_conf(**conf)
        t.start()
        return t

    def set_offset(self, spec):
        tmp = self.offset_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(spec + "\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.offset_file)

    def wait_qmgr_clock(self, t, after, ahead):
        """Wait for a qmgr log line written after byte offset `after` whose
        time stamp is at least `ahead` seconds from the others' (ahead < 0:
        behind), i.e. until qmgr runs on the jumped clock."""
        import datetime

        def jumped():
            text = t.log_text(after)
            for m in STAMP.finditer(text):
                stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
                delta = (stamp - datetime.datetime.now()).total_seconds()
                if (ahead > 0 and delta >= ahead) or (ahead < 0 and delta <= ahead):
                    return True
            return False
        wait_for(jumped, 30, "qmgr running %+ds off" % ahead, detail=t.log_tail, interval=0.2)

    def test_backward_jump_does_not_stall_the_deferred_queue(self):
        port = free_port()
        t = self.start_faked_tree(relayhost="[%s]:%d" % (HOST, port), mynetworks="127.0.0.0/8",
                                  remote_tls_security_level="none", minimal_backoff_time="60s",
                                  maximal_backoff_time="120s", queue_run_delay="2s")
        s = t.smtp()
        s.sendmail("a@example.org", [FOREIGN], make_message("back-1", "a@example.org", FOREIGN, b"hi\r\n"))
        s.quit()
        # Nothing listens on port yet: deferred for a minute.
        t.wait_log(r"status=deferred", seconds=30)
        t.wait_queue(lambda q: len(q) == 1, 30, "the message deferred")
        sink = HoldingSink(hold=0, port=port)
        self.addCleanup(sink.stop)
        mark = t.log_mark()
        self.set_offset("-2h")
        self.wait_qmgr_clock(t, mark, -3600)
        # Its next try is now 2 h ahead of qmgr: taken at the next scan.
        wait_for(lambda: sink.delivered.get("back-1"), 30, "the deferred message at the next hop",
                 detail=t.log_tail)
        t.wait_log(r"beyond the longest backoff \(the clock went back, or the backoff was lowered\): "
                   r"trying now", after=mark)
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        self.assertEqual(sink.delivered, {"back-1": 1})

    def test_forward_jump_does_not_time_out_a_delivery_in_flight(self):
        sink = HoldingSink(hold=1)
        self.addCleanup(sink.stop)
        t = self.start_faked_tree(relayhost="[%s]:%d" % (HOST, sink.port), mynetworks="127.0.0.0/8",
                                  remote_tls_security_level="none", queue_run_delay="2s",
                                  qmgr_local_retry_time="1s", minimal_backoff_time="1s")
        s = t.smtp()
        s.sendmail("a@example.org", [FOREIGN], make_message("fwd-1", "a@example.org", FOREIGN, b"hi\r\n"))
        s.quit()
        wait_for(lambda: sink.held, 30, "remote waiting for the next hop's 250", detail=t.log_tail)
        mark = t.log_mark()
        self.set_offset("+1d")
        self.wait_qmgr_clock(t, mark, 3600)
        # Two periodic scans on the new clock: qmgr has checked its agents'
        # deadlines since the jump.
        wait_for(lambda: len(re.findall(r"deferred/ scanned", t.log_text(mark))) >= 2, 30,
                 "two queue scans after the jump", detail=t.log_tail)
        self.assertNotIn("delivery agent: timeout", t.log_text(mark))
        sink.release.set()
        wait_for(lambda: sink.delivered.get("fwd-1"), 30, "the message at the next hop", detail=t.log_tail)
        t.wait_queue(lambda q: q == [], 30, "an empty queue")
        self.assertEqual(sink.delivered, {"fwd-1": 1})
        self.assertNotIn("delivery agent", t.log_text(mark))

    def test_forward_jump_beyond_the_lifetime_does_not_expire_mail(self):
        port = free_port()     # nothing listens there: every try defers
        t = self.start_faked_tree(relayhost="[%s]:%d" % (HOST, port), mynetworks="127.0.0.0/8",
                                  remote_tls_security_level="none", minimal_backoff_time="60s",
                                  maximal_backoff_time="120s", queue_run_delay="2s",
                                  maximal_queue_lifetime="1d")
        s = t.smtp()
        s.sendmail("a@example.org", [FOREIGN], make_message("life-1", "a@example.org", FOREIGN, b"hi\r\n"))
        s.quit()
        t.wait_log(r"status=deferred", seconds=30)
        mark = t.log_mark()
        self.set_offset("+2d")
        self.wait_qmgr_clock(t, mark, 86400)
        t.wait_log(r"qmgr\[\d+\]: warning: the wall clock jumped \d+ seconds ahead", after=mark)
        # Its next try (a minute ahead before the step) is long past now:
        # tried at the next scan, and deferred again, not expired.
        t.wait_log(r"to=<%s>.*status=deferred" % FOREIGN, seconds=30, after=mark)
        with open(os.path.join(t.dir, "queue", "state", "clock-jumps")) as f:
            ledger = f.read().splitlines()
        self.assertEqual(ledger[0], "postern-clock-jumps 1")
        self.assertEqual(len(ledger), 2, ledger)
        self.assertGreaterEqual(int(ledger[1].split()[1]), 2 * 86400 - 60)
        # A new qmgr on the same jumped clock reads the ledger.
        old = t.pids("qmgr")
        mark = t.log_mark()
        os.kill(old[0], 9)
        t.wait_pids("qmgr", exclude=old, seconds=30)
        t.run("queue", "-d", t.dir, "flush")
        t.wait_log(r"to=<%s>.*status=deferred" % FOREIGN, seconds=30, after=mark)
        text = t.log_text()
        self.assertNotIn("expired", text)
        self.assertNotIn("status=bounced", text)
        t.wait_queue(lambda q: len(q) == 1, 30, "the message still queued")


if __name__ == "__main__":
    unittest.main()
