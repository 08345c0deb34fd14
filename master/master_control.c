/* master_control: the state of the services for `postern status`.
 *
 * Offers: a Unix stream socket at DIR/run/master.sock, mode 0600 (root,
 * or the developer who runs the master): a client that connects gets
 * one line per service, "service NAME PROCESSES RESTARTS" (the records
 * the metrics service gets, common/metric.h), and the connection closes.
 *
 * Trusts: nothing, and reads nothing: the client's bytes are never
 * looked at, so the master still parses no input.
 *
 * Fails: a socket that cannot be made is a warning (postern status then
 * reports only whether the master runs); an answer the client's socket
 * cannot take at once (it is a few KB) is cut, and the client sees a
 * short answer. */
#include "master.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metric.h"

#define MASTER_CONTROL_BACKLOG 16

int master_control_open(const char *base_dir)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, n = snprintf(sun.sun_path, sizeof sun.sun_path, "%s/run/master.sock", base_dir);

	if (n < 0 || (size_t)n >= sizeof sun.sun_path) {
		log_warn("%s/run/master.sock: path too long; postern status shows no services", base_dir);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_warn("%s: %s", sun.sun_path, strerror(errno));
		return -1;
	}
	/* the lock (run/master.lock) is ours: an old socket is a dead master's */
	unlink(sun.sun_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || chmod(sun.sun_path, 0600) < 0 ||
	    listen(fd, MASTER_CONTROL_BACKLOG) < 0) {
		log_warn("%s: %s; postern status shows no services", sun.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void master_control_answer(int fd, const struct service *svcs, size_t n)
{
	int c;

	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct buf out;
		int ok = 1;

		buf_init(&out, 64 * 1024);
		for (size_t i = 0; i < n && ok; i++) {
			char rec[METRIC_RECORD_MAX];
			size_t len;
			if (svcs[i].retired)
				continue;
			ok = metric_service_record(rec, sizeof rec, svcs[i].name, master_service_processes(&svcs[i]),
						   svcs[i].restarts, &len) == 0 &&
			     buf_append(&out, rec, len) == 0;
		}
		/* never wait for a client: what the socket does not take is lost */
		if (ok && out.len > 0 && send(c, out.data, out.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("postern status client: %s", strerror(errno));
		buf_free(&out);
		close(c);
	}
}
