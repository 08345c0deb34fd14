/* self_pid: the process's pid, asked of the kernel once per process (see
 * self_pid.h).  Trusts nothing; cannot fail (getpid cannot). */
#include <pthread.h>
#include <unistd.h>

#include "self_pid.h"

static pid_t self_pid_cache;
static pthread_once_t self_pid_once = PTHREAD_ONCE_INIT;

/* In the child of a fork: the cached pid is the parent's. */
static void self_pid_forked(void)
{
	self_pid_cache = 0;
}

static void self_pid_register(void)
{
	pthread_atfork(NULL, NULL, self_pid_forked);
}

pid_t self_pid(void)
{
	if (self_pid_cache == 0) {
		pthread_once(&self_pid_once, self_pid_register);
		self_pid_cache = getpid();
	}
	return self_pid_cache;
}
