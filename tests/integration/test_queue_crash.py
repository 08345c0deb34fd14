"""Queue crash safety (issue 4, item 2; docs/queue.md "Crash safety"),
with one fsync per file and directory and with group commit (issue 15).

While 2,000 messages are sent over SMTP by a few concurrent clients, and
then while the queue drains, a killer thread sends SIGKILL to a process of
qmgr, local or enqueue (chosen at random among those running) at random
moments every few hundred milliseconds.  Afterwards every message that got 250 must be in the
Maildir.  Duplicates are allowed (a kill between the Maildir write and the
durable result): they are counted and printed, not failed.

The master restarts a service with an exponential backoff that only
resets after 10 s of life, so each service is killed at most KILLS_PER_SERVICE
times: enough kills to land in every state, few enough that the backoff
(0.25 s doubling) stays within the time budget.
"""

import os
import random
import signal
import smtplib
import threading
import time
import unittest

from postern_harness import PosternTestCase, SCALE, deadline, make_message

MESSAGES = 2000
CLIENTS = 4
KILLS_PER_SERVICE = 6
VICTIMS = ("qmgr", "local", "enqueue")


class QueueCrash(PosternTestCase):

    def sender(self, tree, ids, accepted, lock, stop):
        rcpt = tree.addr("alice")
        s = None
        for test_id in ids:
            if stop.is_set():
                return
            msg = make_message(test_id, "crash@example.org", rcpt, b"crash test body\r\n")
            # A 4xx while enqueue is down, or a broken session: not
            # accepted, so not our concern; a fresh session next time.
            s, error = tree.smtp_send(s, "crash@example.org", [rcpt], msg, timeout=30)
            if error is None:
                with lock:
                    accepted.append(test_id)
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def killer(self, tree, stop, kills):
        rng = random.Random(os.getpid())
        while not stop.wait(rng.uniform(0.2, 0.6)):
            candidates = [v for v in VICTIMS if kills[v] < KILLS_PER_SERVICE]
            if not candidates:
                return
            victim = rng.choice(candidates)
            pids = tree.pids(victim)
            if not pids:
                continue    # in its restart backoff
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills[victim] += 1
            except ProcessLookupError:
                pass

    def test_kill_9_during_2000_messages_loses_nothing_accepted(self):
        self.crash_run(group_commit="no")

    def test_kill_9_with_group_commit_loses_nothing_accepted(self):
        # enqueue and local share their flushes: a process killed while
        # it leads one (holding the shared lock) must leave the others
        # able to go on, and nothing acknowledged unflushed.
        self.crash_run(group_commit="yes")

    def crash_run(self, **conf):
        t = self.start_tree(start=False)
        t.set_conf(qmgr_local_retry_time="1s", minimal_backoff_time="1s",
                   maximal_backoff_time="2s", queue_run_delay="3s", **conf)
        t.start()
        ids = ["crash-%05d" % i for i in range(MESSAGES)]
        accepted, lock, stop, stop_kills = [], threading.Lock(), threading.Event(), threading.Event()
        kills = {v: 0 for v in VICTIMS}
        senders = [threading.Thread(target=self.sender, args=(t, ids[k::CLIENTS], accepted, lock, stop))
                   for k in range(CLIENTS)]
        killer = threading.Thread(target=self.killer, args=(t, stop_kills, kills))
        started = time.monotonic()
        for th in senders:
            th.start()
        killer.start()
        send_deadline = deadline(120)
        for th in senders:
            th.join(max(0.0, send_deadline - time.monotonic()))
        stop.set()
        for th in senders:
            th.join(30 * SCALE)
        self.assertFalse(any(th.is_alive() for th in senders), "senders did not finish")
        sent_time = time.monotonic() - started

        # Kills go on while the queue drains, until each service had its share.
        got = t.wait_ids("alice", accepted, seconds=120)
        stop_kills.set()
        killer.join(10)
        got = t.wait_ids("alice", accepted, seconds=120)
        missing = sorted(set(accepted) - set(got))
        duplicates = sum(n - 1 for n in got.values() if n > 1)
        print("\ncrash test: %d sent, %d accepted (250), %d delivered, %d duplicates, "
              "kills %s, sending took %.1fs"
              % (MESSAGES, len(accepted), len(set(got) & set(accepted)), duplicates, kills, sent_time))
        self.assertEqual(missing, [], "accepted but never delivered (%d): %s\n%s"
                         % (len(missing), missing[:20], t.log_tail()))
        self.assertGreater(len(accepted), MESSAGES // 4, "too few messages accepted to mean anything")
        self.assertGreater(sum(kills.values()), 0, "nothing was killed")
        # Everything accepted also leaves the queue.
        t.wait_queue(lambda q: q == [], 60, "an empty queue")


if __name__ == "__main__":
    unittest.main()
