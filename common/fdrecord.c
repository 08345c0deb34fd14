/* fdrecord: one record and at most one descriptor (see fdrecord.h).
 *
 * Trusts: nothing the peer sends; the caller bounds the buffer.  Fails:
 * -1 with errno, never a descriptor left open that the caller does not
 * know of (fdrecord_read: none left open at all). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fdrecord.h"
#include "sockets.h"

int fdrecord_recv(int sock, int plain, void *p, size_t cap, size_t *n_r, int *fd_r)
{
	ssize_t n;
	int fd = -1;

	*n_r = 0;
	do
		n = plain ? read(sock, p, cap) : fd_recv(sock, p, cap, &fd);
	while (n < 0 && errno == EINTR);
	if (fd >= 0 && *fd_r != -1) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	if (fd >= 0)
		*fd_r = fd;
	if (n < 0)
		return -1;
	*n_r = (size_t)n;
	return 0;
}

size_t fdrecord_end(const char *data, size_t len, size_t *scanned)
{
	size_t from = *scanned > 0 ? *scanned - 1 : 0;   /* "\n\n" may straddle two reads */
	const char *hit;

	if (len > 0 && data[0] == '\n')
		return 1;                                   /* the empty record */
	hit = len > from ? memmem(data + from, len - from, "\n\n", 2) : NULL;
	*scanned = len;
	return hit != NULL ? (size_t)(hit - data) + 2 : 0;
}

#define FDRECORD_BLOCK 8192   /* bytes asked of one receive */

/* Wait for input: 1 readable, -1 with errno (ETIMEDOUT, EINTR when
 * w->stop says so, poll's). */
static int fdrecord_wait_input(int sock, int ms, const struct fdrecord_wait *w)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR || (w->stop != NULL && w->stop()))
			return -1;
	}
}

/* One more block into b.  1 data, 0 end of input, -1 error (errno). */
static int fdrecord_read_block(int sock, int plain, struct buf *b, int *fd_r)
{
	size_t want = b->max - b->len < FDRECORD_BLOCK ? b->max - b->len : FDRECORD_BLOCK;
	char *room;
	size_t n;

	if (want == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((room = buf_room(b, want)) == NULL ||
	    fdrecord_recv(sock, plain, room, want, &n, fd_r) < 0)
		return -1;
	buf_extend(b, n);
	return n > 0;
}

int fdrecord_read(int sock, int plain, struct buf *b, int max_fds, const struct fdrecord_wait *w,
		  size_t *end_r, int *fd_r)
{
	size_t scanned = 0;
	int fd = max_fds > 0 ? -1 : FDRECORD_NO_FD;

	*fd_r = -1;
	*end_r = 0;
	buf_reset(b);
	while ((*end_r = fdrecord_end(b->data, b->len, &scanned)) == 0) {
		/* A descriptor comes with at least one byte: b->len tells. */
		int r = fdrecord_wait_input(sock, b->len == 0 ? w->first_ms : w->next_ms, w);
		if (r > 0)
			r = fdrecord_read_block(sock, plain, b, &fd);
		if (r == 0 && b->len == 0 && fd < 0)
			return 0;
		if (r <= 0) {
			int e = r == 0 ? ECONNRESET : errno;
			if (fd >= 0)
				close(fd);
			errno = e;
			return -1;
		}
	}
	*fd_r = fd >= 0 ? fd : -1;
	return 1;
}
