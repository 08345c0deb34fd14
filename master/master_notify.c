/* master_notify: tell systemd how the master is doing (sd_notify(3)'s
 * protocol, without libsystemd).
 *
 * Offers: master_notify_init() takes $NOTIFY_SOCKET (a path, or "@name"
 * for the abstract namespace) and removes it from the environment, so no
 * child could send in the master's name; master_notify() sends one
 * datagram of "KEY=VALUE" lines: READY=1 once every listener is bound,
 * RELOADING=1 / READY=1 around a reload, STOPPING=1 at stop
 * (etc/systemd/postern.service is Type=notify).
 *
 * Trusts: the environment it was started with (systemd or the operator).
 *
 * Fails: without NOTIFY_SOCKET it does nothing; a bad value or a failed
 * send is one warning in the log, never fatal: the master serves mail
 * with or without systemd listening. */
#include "master.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int master_notify_fd = -1;
static struct sockaddr_un master_notify_addr;
static socklen_t master_notify_len;

void master_notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (path == NULL)
		return;
	n = strlen(path);
	if (n < 2 || (path[0] != '/' && path[0] != '@') || n >= sizeof master_notify_addr.sun_path) {
		log_warn("NOTIFY_SOCKET %s: not a socket path or @name; systemd is not told", path);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&master_notify_addr, 0, sizeof master_notify_addr);
	master_notify_addr.sun_family = AF_UNIX;
	memcpy(master_notify_addr.sun_path, path, n);
	if (path[0] == '@')
		master_notify_addr.sun_path[0] = '\0';   /* abstract: no NUL at the end */
	master_notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	unsetenv("NOTIFY_SOCKET");
	master_notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (master_notify_fd < 0)
		log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
}

void master_notify(const char *state)
{
	if (master_notify_fd < 0)
		return;
	if (sendto(master_notify_fd, state, strlen(state), MSG_NOSIGNAL,
		   (const struct sockaddr *)&master_notify_addr, master_notify_len) < 0)
		log_warn("NOTIFY_SOCKET: cannot send %.*s: %s", (int)strcspn(state, "\n"), state,
			 strerror(errno));
}
