"""The service table (common/service_table.c, printed by the hidden
`postern services`) is what the running system does: `postern init`
writes it as master.conf, and the master links into each root exactly the
sockets its services use (docs/tree.md, "Roots and sockets").  Who may
call each socket is checked in test_peer_checks.py."""

import os
import unittest

from postern_harness import HOST, SERVICE_TABLE, PosternTestCase


class ServiceTable(PosternTestCase):

    def test_init_writes_one_master_conf_line_per_row(self):
        t = self.start_tree(start=False)
        with open(os.path.join(t.dir, "etc", "master.conf")) as f:
            lines = [line.split() for line in f if line.strip() and not line.lstrip().startswith("#")]
        want = []
        for row in SERVICE_TABLE:
            listen = "%s:%d" % (HOST, t.port_base + row["port"]) if row["type"] == "inet" else row["name"]
            want.append([row["name"], row["type"], listen, row["user"], row["root"], str(row["maxproc"]),
                         row["command"]] + row["args"])
        self.assertEqual(lines, want)

    def test_each_root_links_the_sockets_its_services_use(self):
        t = self.start_tree()
        want = {}
        for row in SERVICE_TABLE:
            if row["root"] != "-":
                want.setdefault(row["root"], set()).update(row["uses"])
        got = {root: set(os.listdir(os.path.join(t.dir, root, "private"))) for root in want}
        self.assertEqual(got, want)
        # DIR/private holds every unix listener, linked or not.
        unix = {row["name"] for row in SERVICE_TABLE if row["type"] == "unix"}
        self.assertEqual(set(os.listdir(os.path.join(t.dir, "private"))), unix)

    def test_callers_are_the_users_of_the_services_that_use_it(self):
        # The table's own rule, seen from outside: each unix socket that
        # checks its callers lets in root and the users of its users.
        for row in SERVICE_TABLE:
            if row["type"] != "unix" or row["callers"] is None:
                continue
            users = {u["user"] for u in SERVICE_TABLE if row["name"] in u["uses"]}
            self.assertEqual(set(row["callers"]), users | {"root"}, row["name"])
        self.assertIsNone({r["name"]: r for r in SERVICE_TABLE}["pickup"]["callers"])


if __name__ == "__main__":
    unittest.main()
