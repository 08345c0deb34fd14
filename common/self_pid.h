/* self_pid: getpid() without a system call each time.  glibc no longer
 * caches the pid, and a log line, a status record, a queue file name and a
 * Maildir name each asked for it: several system calls per message, which
 * cost microseconds each on a virtual machine.  The cache is cleared in
 * the child of every fork(2) (pthread_atfork), so a forked process never
 * reports its parent's pid. */
#ifndef POSTERN_SELF_PID_H
#define POSTERN_SELF_PID_H

#include <sys/types.h>

/* The calling process's pid. */
pid_t self_pid(void);

#endif
