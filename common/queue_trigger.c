/* queue_trigger: the lines on qmgr's trigger socket (queue_trigger.h).
 *
 * Trusts: nothing: the bytes come from enqueue (a peer checked by
 * SO_PEERCRED) but are read as untrusted.  A line is a queue ID only if
 * queuefile_id_valid says so, and even then it only names a file that
 * qmgr tries to rename out of incoming/: a wrong name costs a failed
 * rename, never a message (the writer's file is found by a pass over
 * incoming/ at the latest, every queue_run_delay).
 *
 * Fails: never; every byte ends up in a named ID or in a flag. */
#include "queue_trigger.h"

#include <string.h>

/* A line that ended: what it means. */
static unsigned queue_trigger_line_end(struct queue_trigger_in *in, void (*named)(void *, const char *),
				       void *arg)
{
	unsigned flags = 0;

	if (!in->overlong && queuefile_id_valid(in->line, in->len)) {
		in->line[in->len] = '\0';
		named(arg, in->line);
	} else if (!in->overlong && in->len == 5 && memcmp(in->line, "flush", 5) == 0) {
		flags = QUEUE_TRIGGER_WAKE | QUEUE_TRIGGER_FLUSH;
	} else {
		flags = QUEUE_TRIGGER_WAKE;
	}
	in->len = 0;
	in->overlong = 0;
	return flags;
}

unsigned queue_trigger_feed(struct queue_trigger_in *in, const char *data, size_t len,
			    void (*named)(void *arg, const char *id), void *arg)
{
	unsigned flags = 0;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t part = nl != NULL ? (size_t)(nl - data) : len;

		/* Longer than any ID: no need to keep it, only to know. */
		if (in->overlong || part > QUEUEFILE_ID_MAX - in->len) {
			in->overlong = 1;
			in->len = 0;
		} else {
			memcpy(in->line + in->len, data, part);
			in->len += part;
		}
		if (nl == NULL)
			break;
		flags |= queue_trigger_line_end(in, named, arg);
		data = nl + 1;
		len -= part + 1;
	}
	return flags;
}

int queue_trigger_partial(const struct queue_trigger_in *in)
{
	return in->len > 0 || in->overlong;
}

size_t queue_trigger_line(const char *id, char *out, size_t outlen)
{
	size_t n = strlen(id);

	if (!queuefile_id_valid(id, n) || outlen < n + 2)
		return 0;
	memcpy(out, id, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	return n + 1;
}
