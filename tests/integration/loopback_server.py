"""A test server on loopback (TCP on HOST, or a Unix socket at a path):
accepts in a thread and serves each connection in its own thread with
the subclass's serve(conn, state), where state is what accepted(conn)
returned; stop() closes the listener and every connection."""

import os
import socket
import threading

from postern_harness import HOST


class LoopbackServer:

    def __init__(self, unix_path=None, port=0):
        """port: the TCP port to listen on (0: one the kernel picks)."""
        self.lock = threading.Lock()
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o666)    # smtpd connects as postern-smtpd
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((HOST, port))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(8)
        self.conns = []
        self.stopped = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def spec(self):
        return "inet:%s:%d" % (HOST, self.port)

    def accepted(self, conn):
        """Called under the lock for each new connection."""
        return None

    def serve(self, conn, state):
        raise NotImplementedError

    def accept_loop(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
                state = self.accepted(c)
            threading.Thread(target=self.serve, args=(c, state), daemon=True).start()

    def stop(self):
        self.stopped = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
