/* postern_check_tree: the file system and network part of `postern check`.
 *
 * Offers: postern_check_tree checks each directory of docs/tree.md: it
 * exists, it is writable by nobody but its owner (and for the queue,
 * mail and private directories readable by nobody else, as `postern init`
 * makes them), and, when run as root on a tree made by root, it is owned
 * by the user DESIGN.md gives it (the queue by postern-queue, the mail
 * root by postern-vmail, the private socket directories by group
 * postern); the TLS key must not be readable by others.
 * postern_check_ports tries each inet listener of master.conf: when the
 * master is not running, it binds it as the master would (inet_listen),
 * so a port held by another program or an address this host lacks shows
 * now rather than at start.  When it is running, the same bind must
 * fail with EADDRINUSE (something listens there); only where this user
 * may not bind (a port below 1024 as an operator who is not root) does it
 * connect instead, which the listener logs as a lost connection.
 *
 * Trusts: the file system as it is; nothing is changed.  A listener is
 * bound for a moment and closed, never accepted on, so a check of a
 * running tree leaves no trace in its log or metrics.
 *
 * Fails: never; every problem is a line (postern_check_fail). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "sockets.h"
#include "postern.h"
#include "tls.h"

#define POSTERN_CHECK_CONNECT_MS 3000   /* a running listener answers a connect in this time */

enum postern_check_owner { OWN_ROOT, OWN_QUEUE, OWN_VMAIL, OWN_GROUP };

/* The directories of docs/tree.md as `postern init` makes them: who owns
 * each (as root) and the mode bits it must not have. */
static const struct {
	const char *dir;
	enum postern_check_owner owner;
	mode_t forbidden;
} postern_check_dirs[] = {
	{ "etc", OWN_ROOT, 0022 },
	{ "etc/tls", OWN_ROOT, 0022 },
	{ "private", OWN_GROUP, 0027 },
	{ "queue", OWN_ROOT, 0022 },
	{ "queue/tmp", OWN_QUEUE, 0077 },
	{ "queue/incoming", OWN_QUEUE, 0077 },
	{ "queue/active", OWN_QUEUE, 0077 },
	{ "queue/deferred", OWN_QUEUE, 0077 },
	{ "queue/hold", OWN_QUEUE, 0077 },
	{ "queue/defer", OWN_QUEUE, 0077 },
	{ "queue/state", OWN_QUEUE, 0077 },
	{ "queue/spare", OWN_QUEUE, 0077 },
	{ "queue/private", OWN_GROUP, 0027 },
	{ "mail", OWN_VMAIL, 0027 },
	{ "mail/private", OWN_GROUP, 0027 },
	{ "run", OWN_ROOT, 0022 },
	{ "run/jail", OWN_ROOT, 0022 },
	{ "run/jail/private", OWN_GROUP, 0027 },
};

struct postern_check_ids {
	int known;            /* as root, and the Postern users exist */
	uid_t queue, vmail;
	gid_t group;
};

static void postern_check_ids(struct postern_check_ids *ids, const char *tree)
{
	uid_t u;
	gid_t g;

	memset(ids, 0, sizeof(*ids));
	/* Owners are the postern-* users only in a tree root made; another
	 * user's tree is all that user's. */
	ids->known = geteuid() == 0 && postern_tree_made_by_root(tree) && postern_user_ids("postern-queue", &ids->queue, &g) == 0 &&
		     postern_user_ids("postern-vmail", &ids->vmail, &g) == 0 &&
		     postern_group_id("postern", &ids->group) == 0 && postern_user_ids("root", &u, &g) == 0;
}

/* The owner a directory must have, or NULL when it is fine. */
static const char *postern_check_owner_bad(const struct postern_check_ids *ids,
					   enum postern_check_owner owner, const struct stat *st)
{
	if (!ids->known)
		return NULL;
	switch (owner) {
	case OWN_ROOT:
		return st->st_uid == 0 ? NULL : "root";
	case OWN_QUEUE:
		return st->st_uid == ids->queue ? NULL : "postern-queue";
	case OWN_VMAIL:
		return st->st_uid == ids->vmail ? NULL : "postern-vmail";
	case OWN_GROUP:
		return st->st_uid == 0 && st->st_gid == ids->group ? NULL : "root, group postern";
	}
	return NULL;
}

void postern_check_tree(struct postern_check *ck)
{
	struct postern_check_ids ids;
	char path[PATH_MAX], etc[PATH_MAX];
	struct stat st;

	postern_check_ids(&ids, ck->tree);
	/* As root the services' sockets are shared through this group. */
	if (geteuid() == 0 && postern_tree_made_by_root(ck->tree) && postern_group_id("postern", &ids.group) < 0)
		postern_check_fail(ck, "no system group postern (postern init as root creates it)");
	for (size_t i = 0; i < sizeof(postern_check_dirs) / sizeof(postern_check_dirs[0]); i++) {
		const char *want;

		if (postern_path(path, sizeof(path), "%s/%s", ck->tree, postern_check_dirs[i].dir) < 0)
			return;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			postern_check_fail(ck, "directory %s is missing (postern init --force recreates it)", path);
			continue;
		}
		if (st.st_mode & postern_check_dirs[i].forbidden)
			postern_check_fail(ck, "directory %s has mode %04o: chmod %04o it (postern init --force does)",
					   path, (unsigned)(st.st_mode & 07777),
					   (unsigned)(st.st_mode & 07777 & ~postern_check_dirs[i].forbidden));
		want = postern_check_owner_bad(&ids, postern_check_dirs[i].owner, &st);
		if (want != NULL)
			postern_check_fail(ck, "directory %s is owned by uid %lu gid %lu; it must be %s "
					   "(postern init --force sets it)", path, (unsigned long)st.st_uid,
					   (unsigned long)st.st_gid, want);
	}
	/* The TLS key: a secret, like etc/users (postern_check_users). */
	if (postern_path(etc, sizeof(etc), "%s/etc", ck->tree) < 0 ||
	    tls_conf_path(etc, config_str("tls_key_file"), path, sizeof(path)) < 0)
		return;
	if (stat(path, &st) == 0 && (st.st_mode & 0007))
		postern_check_fail(ck, "tls_key_file %s is readable by others (mode %04o): chmod 600 it",
				   path, (unsigned)(st.st_mode & 07777));
}

/* Connect to listen ("*" means this host); 0 when something accepted. */
static int postern_check_connect(const char *listen)
{
	char host[300], *colon;
	struct addrinfo hints, *res = NULL;
	int fd = -1, r = -1;
	struct pollfd pfd;
	int err = 0;
	socklen_t len = sizeof(err);

	if (str_copy(host, sizeof(host), listen) < 0 || (colon = strrchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host + 1) + 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(strcmp(host, "*") == 0 ? "127.0.0.1" : host, colon + 1, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && (connect(fd, res->ai_addr, res->ai_addrlen) == 0 || errno == EINPROGRESS)) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, POSTERN_CHECK_CONNECT_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			r = 0;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return r;
}

/* With the master running: does something listen on listen?  1 yes, 0 no. */
static int postern_check_listening(const char *listen)
{
	const char *error = "";
	int fd = inet_listen(listen, 1, &error);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EADDRINUSE)
		return 1;
	/* Not ours to bind (EACCES): ask the listener itself. */
	return postern_check_connect(listen) == 0;
}

void postern_check_ports(struct postern_check *ck)
{
	pid_t master = postern_master_pid(ck->tree);

	for (size_t i = 0; i < ck->nlisteners; i++) {
		const struct postern_check_listener *l = &ck->listeners[i];
		const char *error = "";
		int fd;

		if (master > 0) {
			if (!postern_check_listening(l->listen))
				postern_check_fail(ck, "%s/inet: nothing answers on %s although the master runs "
						   "(pid %ld)", l->name, l->listen, (long)master);
			continue;
		}
		fd = inet_listen(l->listen, 1, &error);
		if (fd < 0)
			postern_check_fail(ck, "%s/inet: cannot listen on %s: %s (the master would not start)",
					   l->name, l->listen, strerror(errno));
		else
			close(fd);
	}
}
