"""The master under systemd (etc/systemd/postern.service.in; issue 12).

Readiness: with NOTIFY_SOCKET set (a datagram socket the test made, as
systemd would), the master sends READY=1 (with its MAINPID) only once
every listener is bound: when the test reads it, every inet port takes
a connection and every unix socket is in DIR/private; a master that
cannot bind one of its ports never sends it.  A reload is RELOADING=1
(with MONOTONIC_USEC) then READY=1, a stop STOPPING=1; the abstract
namespace ("@name") works too.

Capabilities: as root, a master whose capability bounding set is exactly
the unit's CapabilityBoundingSet (setpriv, as systemd would set it),
listening on ports below 1024, takes a message over SMTP, delivers it,
serves it over POP3, reloads and stops cleanly: the set is enough.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import unittest

from postern_harness import (HOST, PORT_OFFSETS, SOURCE, PosternTestCase, SCALE, SERVICE_TABLE, is_root,
                             port_free, wait_for)

UNIT = os.path.join(SOURCE, "etc", "systemd", "postern.service.in")


class Notifications:
    """The datagrams a master sends to one NOTIFY_SOCKET."""

    def __init__(self, address, bind_to):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.setblocking(False)
        self.seen = []

    def next(self, want, seconds=30, detail=None):
        """The next datagram (a dict of its KEY=VALUE lines), which must
        hold want (e.g. "READY=1"); fails at the deadline."""
        def read():
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return None
            self.seen.append(data)
            return data
        data = wait_for(read, seconds, "a notification with %s (seen: %r)" % (want, self.seen),
                        detail=detail, interval=0.01)
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        k, v = want.split("=", 1)
        if fields.get(k) != v:
            raise AssertionError("expected %s, got %r (all so far: %r)" % (want, data, self.seen))
        return fields

    def close(self):
        self.sock.close()


class NotifyTest(PosternTestCase):

    def start_notified(self, abstract=False):
        t = self.start_tree(start=False)
        if abstract:
            name = "postern-test-%d-%s" % (os.getpid(), os.path.basename(t.dir))
            n = Notifications("@" + name, "\0" + name)
        else:
            path = os.path.join(t.dir, "notify")
            n = Notifications(path, path)
        self.addCleanup(n.close)
        t.extra_env["NOTIFY_SOCKET"] = n.address
        t.start(wait=False)
        return t, n

    def assert_all_bound(self, t):
        for row in SERVICE_TABLE:
            if row["type"] == "inet":
                s = socket.create_connection((HOST, t.port(row["name"])), timeout=10 * SCALE)
                s.close()
            else:
                path = os.path.join(t.dir, "private", row["name"])
                self.assertTrue(os.path.exists(path), "%s not bound at READY=1" % path)

    def test_ready_only_when_every_listener_is_bound_then_reload_and_stop(self):
        t, n = self.start_notified()
        ready = n.next("READY=1", detail=t.log_tail)
        # Read at READY=1, before anything else: all listeners are there.
        self.assert_all_bound(t)
        self.assertEqual(int(ready["MAINPID"]), t.master.pid)
        t.wait_ready()
        os.kill(t.master.pid, signal.SIGHUP)
        reloading = n.next("RELOADING=1", detail=t.log_tail)
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^[0-9]+$")
        n.next("READY=1", detail=t.log_tail)
        t.wait_ready()
        os.kill(t.master.pid, signal.SIGTERM)
        n.next("STOPPING=1", detail=t.log_tail)
        self.assertEqual(t.master.wait(60 * SCALE), 0)

    def test_abstract_notify_socket(self):
        t, n = self.start_notified(abstract=True)
        n.next("READY=1", detail=t.log_tail)
        self.assert_all_bound(t)

    def test_no_ready_when_a_listener_cannot_be_bound(self):
        t = self.start_tree(start=False)
        path = os.path.join(t.dir, "notify")
        n = Notifications(path, path)
        self.addCleanup(n.close)
        # Someone else holds the POP3 port: the master must give up
        # without telling systemd it is ready.
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((HOST, t.port("pop3")))
        squatter.listen(1)
        self.addCleanup(squatter.close)
        t.extra_env["NOTIFY_SOCKET"] = path
        t.start(wait=False)
        rc = wait_for(lambda: t.master.poll() is not None, 30, "the master to give up", detail=t.log_tail)
        self.assertTrue(rc)
        self.assertNotEqual(t.master.returncode, 0)
        self.assertRegex(t.log_text(), r"listen .*:%d" % t.port("pop3"))
        try:
            data = n.sock.recv(4096)
        except BlockingIOError:
            data = b""
        self.assertNotIn(b"READY=1", data)


def unit_capabilities():
    text = open(UNIT).read()
    m = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    if not m:
        raise AssertionError("%s: no CapabilityBoundingSet" % UNIT)
    return [c.lower().replace("cap_", "") for c in m.group(1).split()]


def low_port_base():
    """A base N from 1 to 30 with every N + standard port free: every
    service then listens below 1024 (NET_BIND_SERVICE is needed)."""
    for base in range(1, 31):
        if all(port_free(base + off) for off in PORT_OFFSETS.values()):
            return base
    return None


class CapabilityTest(PosternTestCase):

    def test_the_units_capability_set_is_enough(self):
        if not is_root():
            self.skipTest("capabilities matter only for a master started as root")
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            self.skipTest("setpriv (util-linux) is not installed")
        base = low_port_base()
        if base is None:
            self.skipTest("no port base from 1 to 30 with every port free")
        caps = unit_capabilities()
        self.assertIn("net_bind_service", caps)
        t = self.start_tree(start=False)
        t.port_base = base
        t.run("init", "-d", t.dir, "--domain", t.domain, "--listen", HOST, "--port-base", str(base), "--force")
        argv = [setpriv, "--bounding-set=-all," + ",".join("+" + c for c in caps), "--inh-caps=-all",
                t.postern, "start", "-d", t.dir, "-f"]
        t.start(argv=argv)
        status = open("/proc/%d/status" % t.master.pid).read()
        bound = int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
        self.assertEqual(bin(bound).count("1"), len(caps), "the master's bounding set: %x" % bound)
        t.send(t.addr("alice"), "caps-1")
        t.wait_ids("alice", ["caps-1"])
        p = t.pop3_retrying("alice")
        try:
            self.assertEqual(p.stat()[0], 1)
        finally:
            p.quit()
        mark = t.log_mark()
        os.kill(t.master.pid, signal.SIGHUP)
        t.wait_log(r"reload: rereading configuration", after=mark)
        t.send(t.addr("bob"), "caps-2")
        t.wait_ids("bob", ["caps-2"])
        self.assertNotRegex(t.log_text(), r"Operation not permitted|Permission denied")
        os.kill(t.master.pid, signal.SIGTERM)
        self.assertEqual(t.master.wait(60 * SCALE), 0, t.log_tail())
        wait_for(lambda: not t.pids("smtp") and not t.pids("qmgr"), 10, "every service to stop")


if __name__ == "__main__":
    unittest.main()
