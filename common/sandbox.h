/* sandbox: confine a service process in the kernel after its setup: a
 * seccomp-bpf filter (an allow-list per program; a deny-list for local,
 * which runs operators' commands) and, where the kernel has Landlock, a
 * file system rule set limited to the process's root (docs/confinement.md). */
#ifndef POSTERN_SANDBOX_H
#define POSTERN_SANDBOX_H

/* What a program may do; sandbox_profile() maps program and role to one. */
enum sandbox_profile {
	SANDBOX_NONE,       /* unknown program: not confined (a warning) */
	SANDBOX_SMTPD,      /* network-facing receiver: DNS, milters, no writes */
	SANDBOX_LOGIN,      /* POP3/IMAP login: Unix sockets only, no writes */
	SANDBOX_REMOTE,     /* network-facing client: DNS and SMTP, no writes */
	SANDBOX_QUEUE,      /* enqueue, qmgr: files in the queue */
	SANDBOX_PICKUP,     /* pickup: the queue, and milters over TCP */
	SANDBOX_MAILBOX,    /* POP3/IMAP sessions, hibernate: the mail root */
	SANDBOX_VERIFY,     /* verify: the mail root and LMTP over TCP */
	SANDBOX_AUTHD,      /* authd: its state files under the tree */
	SANDBOX_DKIM,       /* dkim-sign: reads keys, writes nothing */
	SANDBOX_METRICS,    /* metrics: reads the queue, answers HTTP on its socket */
	SANDBOX_LOCAL,      /* local: deny-list, since its commands inherit it */
	SANDBOX_FRONT,      /* connection front: Unix sockets only, no writes */
	SANDBOX_COMMAND,    /* local's command helper and its commands: local's
			     * deny-list, answered EPERM instead of a kill */
};

/* The profile of program (master.conf's command) in role (its first
 * argument, or "" / NULL). */
enum sandbox_profile sandbox_profile(const char *program, const char *role);
/* The profile's name for the log. */
const char *sandbox_profile_name(enum sandbox_profile p);
/* Confine this process (seccomp when seccomp = yes, Landlock when
 * landlock = yes and the kernel has it), the current directory being its
 * root; chrooted says whether that is "/".  Exits with a log line on failure. */
void sandbox_enter(enum sandbox_profile p, int chrooted);
/* The name of system call nr, or "?" (async-signal-safe after sandbox_enter). */
const char *sandbox_syscall_name(int nr);

#endif
