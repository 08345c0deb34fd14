/* qmgr_clock: qmgr's two clocks (docs/queue.md, "Clocks").  Its own
 * timers run on CLOCK_MONOTONIC (qmgr_clock), so that a step of the wall
 * clock neither cuts a delivery short nor puts off a scan; and a message's
 * age (maximal_queue_lifetime, delay_warning_time) leaves out the forward
 * steps of the wall clock taken since it arrived (common/clock_jumps.h),
 * so that a step of days does not expire queued mail early.
 *
 * Reads and writes queue/state/clock-jumps (qmgr's root is the queue
 * directory): read at start, replaced whole (atomic_file) when a step is
 * found.  Fails: a ledger that cannot be read or parsed is logged and
 * ages are plain wall-clock ages; one that cannot be written is logged
 * and kept in memory (a restart of qmgr then forgets the step). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "atomic_file.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "qmgr.h"

time_t qmgr_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void qmgr_jumps_load(struct qmgr *q)
{
	struct buf text;

	clock_jumps_init(&q->jumps);
	buf_init(&text, CLOCK_JUMPS_FILE_MAX);
	if (file_read_all(CLOCK_JUMPS_NAME, O_NOFOLLOW, &text, CLOCK_JUMPS_FILE_MAX) < 0) {
		if (errno != ENOENT)
			log_warn("%s: %s: message ages ignore earlier steps of the clock", CLOCK_JUMPS_NAME,
				 strerror(errno));
	} else if (clock_jumps_parse(&q->jumps, text.data, text.len) < 0) {
		log_warn("%s: not a ledger of clock steps: message ages ignore earlier steps of the clock",
			 CLOCK_JUMPS_NAME);
	}
	buf_free(&text);
	qmgr_jumps_watch(q);
}

/* Rare, and without it a restart would forget the step: synced. */
static int qmgr_jumps_write(const char *text, size_t len)
{
	return atomic_file_write(AT_FDCWD, CLOCK_JUMPS_NAME, NULL, text, len, 0600, ATOMIC_SYNC | ATOMIC_SYNC_DIR);
}

void qmgr_jumps_watch(struct qmgr *q)
{
	struct timespec boot;
	char text[CLOCK_JUMPS_FILE_MAX];
	long long delta;
	size_t len;

	/* CLOCK_BOOTTIME goes on during a suspend: a machine that slept
	 * for a day has not had its clock stepped. */
	clock_gettime(CLOCK_BOOTTIME, &boot);
	if (!clock_jumps_observe(&q->jumps, (long long)time(NULL), (long long)boot.tv_sec, q->lifetime, &delta))
		return;
	log_warn("the wall clock jumped %lld seconds ahead: message ages leave the step out", delta);
	len = clock_jumps_format(&q->jumps, text, sizeof(text));
	if (len == 0) {
		log_warn("%s: cannot write: too long", CLOCK_JUMPS_NAME);
		return;
	}
	/* Trees older than state/ get it here when qmgr may make it (else
	 * from `postern init --force` or the package's postinst). */
	if (qmgr_jumps_write(text, len) < 0 && (errno != ENOENT || mkdir("state", 0700) < 0 ||
						qmgr_jumps_write(text, len) < 0))
		log_warn("%s: cannot write: %s (a restart of qmgr forgets the step)", CLOCK_JUMPS_NAME,
			 strerror(errno));
}

unsigned long long qmgr_age(const struct qmgr *q, const struct qmgr_msg *m, time_t now)
{
	return clock_jumps_age(&q->jumps, (long long)m->qf.time, (long long)now);
}
