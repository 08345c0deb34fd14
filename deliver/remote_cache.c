/* remote_cache: sessions kept open between messages, and the bound on
 * sessions per destination.
 *
 * Offers: a small per-process cache of idle SMTP sessions keyed by
 * destination (next hop and TLS policy): after a transaction the session
 * stays open for remote_connection_reuse_time, at most
 * remote_connection_reuse_limit messages, at most
 * remote_connection_cache_limit sessions; a reused session is checked
 * with RSET first (remote_route.c).  And destination slots: each session
 * holds one of remote_destination_concurrency_limit slots of its
 * destination, an abstract Unix socket name bound by the holder, so the
 * bound holds across every remote process of the tree, needs no file in
 * the chroot, and is released by the kernel when a process dies.
 *
 * Trusts: only itself; the slot names hash the tree and the destination.
 *
 * Fails: a session that cannot be cached is closed (QUIT); no free slot
 * within the wait is reported to the caller, which defers (4.4.5). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "remote.h"

#define REMOTE_CACHE_MAX 64           /* hard ceiling on remote_connection_cache_limit */
#define REMOTE_SLOT_POLL_MS 20        /* wait between tries for a free slot */

static struct remote_session *remote_cache[REMOTE_CACHE_MAX];
static size_t remote_cache_n;

static long long remote_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void remote_cache_drop(size_t i)
{
	remote_cache[i] = remote_cache[--remote_cache_n];
	remote_cache[remote_cache_n] = NULL;
}

struct remote_session *remote_cache_take(struct remote_ctx *ctx, const char *key)
{
	(void)remote_cache_expire(ctx);
	for (size_t i = 0; i < remote_cache_n; i++) {
		struct remote_session *s = remote_cache[i];
		if (strcmp(s->dest_key, key) == 0) {
			remote_cache_drop(i);
			return s;
		}
	}
	return NULL;
}

void remote_cache_put(struct remote_ctx *ctx, struct remote_session *s)
{
	size_t limit = ctx->conf.cache_limit < REMOTE_CACHE_MAX ? ctx->conf.cache_limit : REMOTE_CACHE_MAX;

	/* A transaction can end with the session gone (the server said 421
	 * or hung up after refusing the last recipient): its answers are
	 * still final and must reach qmgr, so this is no error. */
	if (s == NULL)
		return;
	if (ctx->conf.reuse_ms <= 0 || limit == 0 || s->messages >= ctx->conf.reuse_limit ||
	    ctx->standalone) {
		remote_smtp_close(ctx, &s, 1);
		return;
	}
	if (remote_cache_n >= limit) {
		/* Full: the oldest idle session makes room. */
		size_t oldest = 0;
		for (size_t i = 1; i < remote_cache_n; i++)
			if (remote_ms_since(&remote_cache[i]->idle_since) > remote_ms_since(&remote_cache[oldest]->idle_since))
				oldest = i;
		struct remote_session *old = remote_cache[oldest];
		remote_cache_drop(oldest);
		remote_smtp_close(ctx, &old, 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &s->idle_since);
	remote_cache[remote_cache_n++] = s;
}

int remote_cache_expire(struct remote_ctx *ctx)
{
	long long next = -1;

	for (size_t i = 0; i < remote_cache_n;) {
		long long left = ctx->conf.reuse_ms - remote_ms_since(&remote_cache[i]->idle_since);
		if (left <= 0) {
			struct remote_session *s = remote_cache[i];
			remote_cache_drop(i);
			log_debug("closing the idle session with %s", s->target.text);
			remote_smtp_close(ctx, &s, 1);
			continue;
		}
		if (next < 0 || left < next)
			next = left;
		i++;
	}
	return next < 0 ? -1 : next > 60000 ? 60000 : (int)next;
}

void remote_cache_flush(struct remote_ctx *ctx)
{
	while (remote_cache_n > 0) {
		struct remote_session *s = remote_cache[remote_cache_n - 1];
		remote_cache_drop(remote_cache_n - 1);
		remote_smtp_close(ctx, &s, 1);
	}
}

/* FNV-1a, 64 bits: names a slot; collisions only make two destinations share a bound. */
static unsigned long long remote_hash(const char *a, const char *b)
{
	unsigned long long h = hash_fnv64_str(HASH_FNV64_INIT, a);

	h = hash_fnv64_byte(h, '\n');   /* a separator: ("ab", "c") is not ("a", "bc") */
	return hash_fnv64_str(h, b);
}

/* Bind slot i of the destination: fd, -1 taken, -2 error. */
static int remote_slot_bind(unsigned long long tree, unsigned long long dest, unsigned i)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int n;

	if (fd < 0)
		return -2;
	/* Abstract namespace (leading NUL): no file, gone with the process. */
	n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "postern-remote/%016llx/%016llx/%u", tree, dest, i);
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) == 0)
		return fd;
	n = errno;
	close(fd);
	return n == EADDRINUSE ? -1 : -2;
}

int remote_slot_take(struct remote_ctx *ctx, const char *key, int wait_ms)
{
	unsigned long long tree = remote_hash(ctx->base_dir, ""), dest = remote_hash(key, "");
	struct timespec start;

	if (ctx->conf.dest_limit == 0)
		return -2;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		for (unsigned i = 0; i < ctx->conf.dest_limit; i++) {
			int fd = remote_slot_bind(tree, dest, i);
			if (fd >= 0)
				return fd;
			if (fd == -2) {
				log_warn("destination slot for %s: %s; not limiting", key, strerror(errno));
				return -2;
			}
		}
		if (wait_ms >= 0 && remote_ms_since(&start) >= wait_ms)
			return -1;
		poll(NULL, 0, REMOTE_SLOT_POLL_MS);
	}
}
