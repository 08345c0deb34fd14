/* master_log: where the master and its children log (log_file in
 * postern.conf).  Empty: syslog, or stderr in the foreground, as before.
 * A path: the master owns the file; children write their lines into a
 * pipe that is their stderr, the master copies whole lines into the file
 * and reopens it on SIGHUP.  "-": everyone writes to the master's stderr.
 * See docs/master.md, "Log file". */
#ifndef POSTERN_MASTER_LOG_H
#define POSTERN_MASTER_LOG_H

/* At start, before daemonizing (a failure is still seen on the terminal):
 * apply log_file for the master itself.  base_dir is the tree (a relative
 * log_file is under it).  0, or -1 with a warning logged. */
int master_log_open(const char *base_dir, int foreground, int verbose);
/* On SIGHUP, after rereading postern.conf: reopen log_file (logrotate
 * renamed it) or switch to its new value; on failure the log stays where
 * it was, with a warning. */
void master_log_reopen(void);
/* The read end of the children's log pipe, to poll for input now, or -1:
 * none, or (*wait_ms >= 0) not for that many milliseconds, the pause
 * after a drain that copied lines (batching under load). */
int master_log_pipe(int *wait_ms);
/* Copy the complete lines waiting in the log pipe into the log file;
 * never blocks. */
void master_log_drain(void);
/* POSTERN_LOG for a child started now: "file" with log_file, else
 * "stderr" in the foreground and "syslog" in the background. */
const char *master_log_mode(int foreground);
/* In a child between fork and exec: make fd 2 the log pipe (or the
 * master's stderr for "-"); nothing when logging to syslog. */
void master_log_child(void);

#endif
