"""bench/imap_report.py: the Markdown sections of bench/imap.py's results.

Report is a base class of imap.py's Bench: it reads what the runs noted,
self.res[(key, server name)] = [values] (the median is reported), and
self.loads[section] (load averages), and writes "## IMAP" (fetch, search,
select, idle) and "## IMAP: idle sessions, mix, QRESYNC" (the others),
each with the command line, the machine, the commit and the load, and a
ratio column: above 1, Postern is better."""

import os
import statistics
import time

from imap_servers import MAIL_USER

FLAGGED, EXPUNGED = 100, 10          # qresync: the other session's changes


def top_comm(by_comm, most=3):
    """The processes that hold the most Pss: "imapd 201: 40123 kB, ..."."""
    rows = sorted(by_comm.items(), key=lambda kv: -kv[1][1])[:most]
    return ", ".join("%s %d: %d kB" % (comm, n, pss) for comm, (n, pss) in rows)


class Report:
    def med(self, key, name):
        v = self.res.get((key, name))
        return statistics.median(v) if v else None

    def names(self):
        return [s.name for s in self.servers]

    def cell(self, key, name, fmt):
        v = self.med(key, name)
        return "-" if v is None else fmt % v

    def ratio(self, key, better="low"):
        """[] with one server; else the medians' ratio, above 1 when Postern
        is better: Dovecot / Postern where lower is better (times, memory),
        Postern / Dovecot where higher is (rates); "" for a plain count."""
        names = self.names()
        if len(names) < 2:
            return []
        pv, dv = self.med(key, names[0]), self.med(key, names[1])
        if better is None:
            return [""]
        if better == "high":
            pv, dv = dv, pv
        return ["**%.2f**" % (dv / pv) if pv and dv else "-"]

    def table(self, head, rows, ratio_label):
        """A Markdown table, a row per (label, key, format, better) with a
        value per server and the ratio; rows no server has are left out."""
        names = self.names()
        both = len(names) == 2
        out = ["| %s | %s |" % (head, " | ".join(names + ([ratio_label] if both else []))),
               "|---|" + "---|" * (len(names) + both)]
        for label, key, fmt, better in rows:
            if any(self.med(key, n) is not None for n in names):
                out.append("| %s | %s |" % (label, " | ".join([self.cell(key, n, fmt) for n in names] +
                                                               self.ratio(key, better))))
        return out + [""] if len(out) > 2 else []

    def header(self, title, group, started, ended, load0):
        a = self.args
        dv = next((s for s in self.servers if s.name == "Dovecot"), None)
        loads = self.loads.get(group, [])
        out = ["## " + title, "",
               "`%s` (as root) on %s, %s–%s UTC; %d CPUs, %.0f GB RAM, Linux %s%s." % (
                   a.command, time.strftime("%Y-%m-%d", time.gmtime(started)),
                   time.strftime("%H:%M", time.gmtime(started)), time.strftime("%H:%M", time.gmtime(ended)),
                   os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
                   os.uname().release, "; Dovecot %s" % dv.version if dv else ""),
               "Postern built from commit %s%s." % (a.commit, " (with uncommitted changes)" if a.dirty else "")]
        if loads:
            out.append("Load average (1 min): %.1f at the start, %.1f–%.1f (median %.1f) at the "
                       "measurements; other sessions' work shared the 2 cores." % (
                           load0, min(loads), max(loads), statistics.median(loads)))
        return out + [""]

    def report(self, started, ended, load0):
        """The Markdown sections of the parts that ran."""
        out = []
        if "main" in self.loads:
            out.append(self.report_main(self.header("IMAP", "main", started, ended, load0)))
        if "load" in self.loads:
            out.append(self.report_load(self.header("IMAP: idle sessions, mix, QRESYNC", "load",
                                                    started, ended, load0)))
        return out

    def report_main(self, out):
        a = self.args
        names = self.names()
        both = len(names) == 2
        p = out.append
        p("%d messages (seed 1; %d for SELECT, seed 2) made by bench/imap_messages.py: 2–50 KB "
          "(log-uniform), text, alternative and mixed with base64 attachments, encoded words; "
          "files in cur/ with S= and W= in the name, the same files for both servers (`cp -a`), "
          "owned by %s, which both serve mail as.  Before each run: server stopped, Maildir a "
          "fresh copy (no index, no UID list, no cache), `sync`, server started.  Time: monotonic "
          "clock from sending the command to the last byte of its tagged reply (raw socket, "
          "loopback, nothing parsed meanwhile).  CPU: on-CPU time of the session process "
          "(/proc/PID/task/*/schedstat) over the same command, which the load of the machine "
          "disturbs much less than the time.  Median of %d; Postern's and Dovecot's runs "
          "alternate.  cold = the first run after the start, warm = the second, same session; "
          "the message files are in the page cache for both (just copied)."
          % (a.n, a.big, MAIL_USER, a.repeat))
        p("")
        rows = [("`UID FETCH 1:* (FLAGS BODY.PEEK[])` cold", "body_cold"),
                ("`UID FETCH 1:* (FLAGS BODY.PEEK[])` warm", "body_warm"),
                ("`FETCH 1:* (ENVELOPE BODYSTRUCTURE)` cold", "env_cold"),
                ("`FETCH 1:* (ENVELOPE BODYSTRUCTURE)` warm", "env_warm"),
                ("`SEARCH TEXT %s` first" % a.word, "search_first"),
                ("`SEARCH TEXT %s` second" % a.word, "search_second"),
                ("SELECT of %d, first (for the FETCH runs)" % a.n, "select_small"),
                ("SELECT of %d cold (first after placing)" % a.big, "select_cold"),
                ("SELECT of %d warm (next session)" % a.big, "select_warm")]
        mem = [("%d messages: VmRSS" % a.n, "idle_small_rss", "%d", "low"),
               ("%d messages: Pss" % a.n, "idle_small_pss", "%d", "low"),
               ("%d messages: VmRSS" % a.big, "idle_big_rss", "%d", "low"),
               ("%d messages: Pss" % a.big, "idle_big_pss", "%d", "low")]
        if any(self.med(key, n) is not None for _, key in rows for n in names):
            p("| command (%d messages unless said) | %s | %s |" % (
                a.n, " | ".join("%s s" % n for n in names) + (" | Dovecot / Postern" if both else ""),
                " | ".join("%s CPU s" % n for n in names) + (" | Dovecot / Postern" if both else "")))
            p("|---|" + "---|" * (2 * (len(names) + both)))
            for label, key in rows:
                if any(self.med(key, n) is not None for n in names):
                    p("| %s | %s |" % (label, " | ".join(
                        [self.cell(key, n, "%.3f") for n in names] + self.ratio(key) +
                        [self.cell(key + "_cpu", n, "%.3f") for n in names] + self.ratio(key + "_cpu"))))
            p("")
        out += self.table("one session in IDLE (kB)", mem, "Dovecot / Postern")
        p("Dovecot / Postern: above 1, Postern is faster (or smaller); below 1, slower (larger).")
        extra = []
        for n in names:
            if ("session_comm", n) in self.res:
                extra.append("%s's session process is `%s`" % (n, self.res[("session_comm", n)]))
            if ("body_bytes", n) in self.res:
                extra.append("%s sent %d bytes for the BODY.PEEK[] fetch" % (n, self.res[("body_bytes", n)]))
            if ("env_bytes", n) in self.res:
                extra.append("%d for ENVELOPE BODYSTRUCTURE" % self.res[("env_bytes", n)])
            if ("search_hits", n) in self.res:
                extra.append("%s found %d messages" % (n, self.res[("search_hits", n)]))
        if both and ("search_set", names[0]) in self.res:
            same = self.res[("search_set", names[0])] == self.res[("search_set", names[1])]
            extra.append("the SEARCH results are %s" % ("the same" if same else "NOT the same"))
        if extra:
            p("Checks: " + "; ".join(extra) + ".")
        return "\n".join(out) + "\n"

    def report_load(self, out):
        a = self.args
        names = self.names()
        p = out.append
        label = "ratio (above 1: Postern better)"
        cheap = a.crowd_hash == "sha512" and any(self.med("idle10k_per", n) is not None for n in names)
        p("Both servers check the same password against the same hash: Postern's yescrypt hash (its "
          "etc/users, as `postern user add` made it) is Dovecot's passdb entry ({CRYPT})%s.  Both at their "
          "defaults for repeated logins: Postern's authd remembers a success (auth_cache_size 1000, "
          "auth_cache_ttl 1h) and skips the hash when the same password comes again; Dovecot's "
          "auth_cache is off by default, and when on it still hashes the password on a hit, in its one "
          "auth process (tried: the mix ran slower with it).  Median of "
          "%d; Postern's and Dovecot's runs alternate.  The ratio is Dovecot / Postern for times, memory "
          "and CPU, Postern / Dovecot for rates: above 1, Postern is better." % (
              "; for idle10k a SHA-512 crypt hash in both (a yescrypt check costs 30–60 ms of CPU: "
              "10,000 logins would take minutes of it per server)" if cheap else "", a.repeat))
        p("")
        crowd = [k for k in ("idle200", "idle10k") if any(self.med(k + "_per", n) is not None for n in names)]
        if crowd:
            hib = "; ".join("%s %s" % (sv.name, sv.hibernate or "has no such key") for sv in self.servers)
            ino = self.res.get(("inotify", ""))
            p("Idle sessions: %d users (userNNN@example.test), each INBOX a fresh copy of %d messages "
              "(seed 4); every folder selected once, one session at a time, then the sessions held "
              "at once (spread over the users), each after LOGIN, SELECT INBOX and IDLE (its `+` "
              "seen).  Memory: Pss (smaps_rollup) summed over every process of the server (Postern: "
              "the master and every process below it; Dovecot: its master and every process below "
              "it), %g s after the last session entered IDLE, minus the same sum with no client "
              "(%g s after the folders were selected), divided by the sessions still held.  "
              "imap_hibernate_timeout: %s.%s" % (
                  a.users, a.user_messages, a.settle, a.settle, hib,
                  "  fs.inotify.max_user_instances raised from %d to %d for the run (both servers "
                  "watch an IDLE folder with one inotify instance, all as %s)." % (ino[0], ino[1], MAIL_USER)
                  if ino else ""))
            p("")
        for key, n in (("idle200", a.sessions), ("idle10k", a.crowd)):
            if key not in crowd:
                continue
            out += self.table("%d sessions in IDLE%s" % (n, ", then one new message per user" if key == "idle10k"
                                                          else ""), [
                ("seconds until all were in IDLE", key + "_open", "%.1f", "low"),
                ("sessions held after %g s" % a.settle, key + "_held", "%d", None),
                ("Pss with no client (kB)", key + "_base", "%d", None),
                ("Pss with the sessions (kB)", key + "_pss", "%d", None),
                ("**Pss per session (kB)**", key + "_per", "%.0f", "low"),
                ("delivery done (s; Postern: SMTP accepted it, Dovecot: every dovecot-lda exited)",
                 key + "_delivered", "%.2f", None),
                ("first EXISTS seen (s after the delivery began)", key + "_first", "%.2f", "low"),
                ("median EXISTS seen (s)", key + "_median", "%.2f", "low"),
                ("**last EXISTS seen (s)**", key + "_last", "%.2f", "low"),
                ("sessions that saw the EXISTS (of %d)" % n, key + "_seen", "%d", None),
                ("sessions held after the delivery", key + "_after", "%d", None)], label)
            procs = ["%s %d → %d (%s)" % ((nm,) + self.res[(key + "_procs", nm)])
                     for nm in names if (key + "_procs", nm) in self.res]
            p("Processes with no client → with the sessions, and those holding the most Pss: " +
              "; ".join(procs) + ".")
            drops = ["%s: %r" % (nm, self.res[(key + "_dropped", nm)])
                     for nm in names if (key + "_dropped", nm) in self.res]
            if drops:
                p("Dropped sessions: " + "; ".join(drops) + ".")
            p("")
        if any(self.med("mix_commands", n) is not None for n in names):
            p("Mix: %d clients (processes, bench/imap_mix.py) on alice's INBOX, a fresh copy of %d messages "
              "(seed 3) and an Archive folder, each a random mix (seed %d) of LOGOUT + LOGIN + SELECT "
              "cycles, SELECT, FETCH of flags (up to 50 messages), header fields (up to 20) and one body, "
              "SEARCH (UNSEEN, FLAGGED, SUBJECT, FROM, SINCE, TEXT), STORE, APPEND, COPY, STORE \\Deleted "
              "+ EXPUNGE and NOOP for %g s, each command waiting for the previous one's reply.  Server "
              "CPU: utime + stime of every process of the server and of the children they reaped "
              "(/proc/PID/stat), over the run." % (a.mix_clients, a.mix_messages, a.seed, a.mix_seconds))
            p("")
            out += self.table("%d-client mix, %g s" % (a.mix_clients, a.mix_seconds), [
                ("**commands/s**", "mix_commands", "%.0f", "high"),
                ("**logins/s**", "mix_logins", "%.1f", "high"),
                ("**appends/s**", "mix_appends", "%.1f", "high"),
                ("server CPU ms per command", "mix_cpu", "%.2f", "low"),
                ("NO replies (a message another session expunged)", "mix_no", "%d", None)], label)
        if any(self.med("qresync_select", n) is not None for n in names):
            p("QRESYNC: the %d-message folder (seed 2) indexed once; a client enables QRESYNC, selects it "
              "and notes UIDVALIDITY and HIGHESTMODSEQ; another session sets \\Flagged on %d unflagged "
              "messages (one STORE each) and expunges %d others; the client comes back: `SELECT INBOX "
              "(QRESYNC (UIDVALIDITY MODSEQ))`, then in that session `FETCH 1:* (FLAGS)`.  Bytes: all "
              "the client received for the command." % (a.big, FLAGGED, EXPUNGED))
            p("")
            out += self.table("%d messages, after %d flag changes and %d expunges" % (a.big, FLAGGED, EXPUNGED), [
                ("`SELECT INBOX (QRESYNC (…))` s", "qresync_select", "%.3f", "low"),
                ("`SELECT INBOX (QRESYNC (…))` CPU s", "qresync_select_cpu", "%.3f", "low"),
                ("`SELECT INBOX (QRESYNC (…))` bytes", "qresync_select_bytes", "%d", "low"),
                ("`FETCH 1:* (FLAGS)` s", "qresync_full", "%.3f", "low"),
                ("`FETCH 1:* (FLAGS)` CPU s", "qresync_full_cpu", "%.3f", "low"),
                ("`FETCH 1:* (FLAGS)` bytes", "qresync_full_bytes", "%d", "low")], label)
            parts = []
            for n in names:
                f = [(self.med("qresync_select" + k, n), self.med("qresync_full" + k, n)) for k in ("", "_bytes")]
                if all(x and y for x, y in f):
                    parts.append("%s %.3f of the time, %.4f of the bytes (%s)" % (
                        n, f[0][0] / f[0][1], f[1][0] / f[1][1], self.res.get(("qresync_check", n), "")))
            p("QRESYNC SELECT / full FETCH FLAGS: " + "; ".join(parts) + ".")
        return "\n".join(out) + "\n"
