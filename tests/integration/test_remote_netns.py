"""Remote delivery between two hosts: two network namespaces made here.

Host A and host B each get their own namespace and address (a veth
pair, 10.231.N.1 and 10.231.N.2); B runs dnsmasq (port 53, serving
b.test's MX) and a Postern master listening on port 25; A runs the
remote agent with dns_servers pointing at B.  A message from A for
alice@b.test must land in B's Maildir after an MX lookup and an SMTP
session across the link.  Needs root and `ip netns`; otherwise the test
is skipped and says why.  The namespaces are deleted afterwards.
"""

import os
import shutil
import signal
import subprocess
import unittest

from postern_harness import POSTERN, SCALE, Tree, daemon_env, is_root, wait_for
import test_remote_delivery as rd


def netns_usable():
    if not is_root():
        return "needs root (ip netns)"
    if shutil.which("ip") is None:
        return "the ip command is missing (iproute2)"
    name = "pst-probe-%d" % os.getpid()
    p = subprocess.run(["ip", "netns", "add", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        return "ip netns add failed: %s" % p.stdout.decode(errors="replace").strip()
    subprocess.run(["ip", "netns", "del", name])
    return None


WHY_NOT = netns_usable()


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@unittest.skipIf(WHY_NOT is not None, WHY_NOT or "")
@unittest.skipUnless(rd.have(rd.DNSMASQ), "dnsmasq is not installed (apt-get install dnsmasq-base)")
class RemoteAcrossNamespacesTest(unittest.TestCase):

    def setUp(self):
        n = os.getpid() % 200 + 20
        self.ns_a, self.ns_b = "pst-a-%d" % os.getpid(), "pst-b-%d" % os.getpid()
        self.ip_a, self.ip_b = "10.231.%d.1" % n, "10.231.%d.2" % n
        self.procs = []
        self.addCleanup(self.cleanup)
        veth_a, veth_b = "pva%d" % os.getpid(), "pvb%d" % os.getpid()
        for ns in (self.ns_a, self.ns_b):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", veth_a[:15], "netns", self.ns_a, "type", "veth",
           "peer", "name", veth_b[:15], "netns", self.ns_b)
        sh("ip", "-n", self.ns_a, "addr", "add", self.ip_a + "/24", "dev", veth_a[:15])
        sh("ip", "-n", self.ns_b, "addr", "add", self.ip_b + "/24", "dev", veth_b[:15])
        sh("ip", "-n", self.ns_a, "link", "set", veth_a[:15], "up")
        sh("ip", "-n", self.ns_b, "link", "set", veth_b[:15], "up")

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(15 * SCALE)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(5)
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_in(self, ns, cmd, log):
        f = open(log, "ab")
        try:
            p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=daemon_env(), start_new_session=True)
        finally:
            f.close()
        self.procs.append(p)
        return p

    def wait_port(self, ns, host, port, seconds=20):
        probe = "import socket; socket.create_connection((%r, %d), timeout=1).close()" % (host, port)
        wait_for(lambda: subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", probe],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0,
                 seconds, "something listening on %s:%d in %s" % (host, port, ns), interval=0.2)

    def test_mail_from_host_a_reaches_host_b_through_mx(self):
        # Host B: Postern for b.test on IP_B:25, and the DNS server.
        b = Tree(domain="b.test")
        self.addCleanup(b.remove)
        b.run("init", "-d", b.dir, "--domain", "b.test", "--listen", self.ip_b, "--port-base", "0")
        b.run("user", "add", "-d", b.dir, "alice@b.test", "pw-alice-1")
        self.start_in(self.ns_b, [POSTERN, "start", "-d", b.dir, "-f"], os.path.join(b.dir, "master.log"))
        dns = self.start_in(self.ns_b, [rd.DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts",
                                        "--bind-interfaces", "--listen-address=" + self.ip_b, "--port=53",
                                        "--local=/test/", "--mx-host=b.test,mx.b.test,10",
                                        "--host-record=mx.b.test," + self.ip_b],
                            os.path.join(b.dir, "dnsmasq.log"))
        self.wait_port(self.ns_b, self.ip_b, 25)
        self.assertIsNone(dns.poll(), "dnsmasq exited")

        # Host A: the sending tree, its agent run inside namespace A.
        a = rd.RemoteTree(self, {"dns_servers": self.ip_b + ":53", "remote_smtp_port": "25",
                                 "myhostname": "a.test", "remote_connect_timeout": "5s"})
        body = b"Subject: across\nX-Test-Id: netns-1\n\nfrom host A\n"
        name = "msg-netns"
        path = os.path.join(a.dir, "run", "jail", name)
        with open(path, "wb") as f:
            f.write(body)
        req = rd.request_text("NETNS1", "s@a.test", len(body), ["alice@b.test"], queue_file=name)
        p = subprocess.run(["ip", "netns", "exec", self.ns_a, rd.REMOTE, "-c", os.path.join(a.dir, "etc"),
                            "-i", "-v"], input=req, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=daemon_env(), timeout=60 * SCALE)
        log = p.stderr.decode(errors="replace")
        ans = rd.parse_records(p.stdout.decode(errors="replace"))
        self.assertEqual(len(ans), 1, log)
        self.assertEqual(ans[0]["status"], "delivered", (ans, log))
        self.assertIn("mx.b.test[%s]:25" % self.ip_b, ans[0]["reason"])
        self.assertEqual(b.wait_count("alice", 1), 1, b.log_tail())
        ids = b.test_ids("alice")
        self.assertEqual(ids, {"netns-1": 1})
        # B saw the client at A's address, not loopback.
        with open(b.message_paths("alice")[0], "rb") as f:
            self.assertIn(self.ip_a.encode(), f.read())


if __name__ == "__main__":
    unittest.main()
