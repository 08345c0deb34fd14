/* master_conf: reads etc/master.conf (docs/tree.md).
 *
 * One service per line: name type listen user root maxproc command [args].
 * `#` starts a comment line.  The file is written by root (postern init or
 * the operator); it is still parsed strictly, since a typo here decides
 * which user a network-facing process runs as.  Errors name file:line. */
#include "master.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "master_line.h"

#define MASTER_CONF_LINE_MAX MASTER_LINE_MAX

static char master_conf_error[512];

static int master_conf_fail(const char *path, unsigned line, const char *msg, const char **error_r)
{
	snprintf(master_conf_error, sizeof master_conf_error, "%s:%u: %s", path, line, msg);
	*error_r = master_conf_error;
	return -1;
}

static int master_conf_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Copy fields that master_line_check accepted into svc (their lengths
 * fit, it checked them against the same sizes). */
static const char *master_conf_fields(struct service *svc, char **f, size_t nf)
{
	const char *why = master_line_check(f, nf);

	if (why != NULL)
		return why;
	if (master_conf_copy(svc->name, sizeof svc->name, f[0]) < 0 ||
	    master_conf_copy(svc->listen, sizeof svc->listen, f[2]) < 0 ||
	    master_conf_copy(svc->user, sizeof svc->user, f[3]) < 0 ||
	    master_conf_copy(svc->root, sizeof svc->root, f[4]) < 0 ||
	    master_conf_copy(svc->command, sizeof svc->command, f[6]) < 0)
		return "field too long";
	svc->type = strcmp(f[1], "inet") == 0 ? SERVICE_INET : SERVICE_UNIX;
	svc->maxproc = (unsigned)strtoul(f[5], NULL, 10);
	for (size_t i = 7; i < nf; i++) {
		svc->args[svc->nargs] = strdup(f[i]);
		if (svc->args[svc->nargs] == NULL)
			return "out of memory";
		svc->nargs++;
	}
	return NULL;
}

void master_service_clear(struct service *svc)
{
	for (size_t i = 0; i < svc->nargs; i++)
		free(svc->args[i]);
	svc->nargs = 0;
}

static int master_conf_line(const char *path, unsigned lineno, char *line,
			    struct service *svcs, size_t *n, size_t max, const char **error_r)
{
	char *f[MASTER_LINE_FIELDS + 1];
	size_t nf = master_line_split(line, f, MASTER_LINE_FIELDS + 1);
	const char *msg;

	if (nf > MASTER_LINE_FIELDS + 1)
		return master_conf_fail(path, lineno, "too many fields", error_r);
	if (master_line_is_comment(f, nf))
		return 0;
	if (*n == max)
		return master_conf_fail(path, lineno, "too many services", error_r);
	struct service *svc = &svcs[*n];
	memset(svc, 0, sizeof *svc);
	svc->listen_fd = svc->status_r = svc->status_w = -1;
	if ((msg = master_conf_fields(svc, f, nf)) != NULL) {
		master_service_clear(svc);
		return master_conf_fail(path, lineno, msg, error_r);
	}
	for (size_t i = 0; i < *n; i++)
		if (strcmp(svcs[i].name, svc->name) == 0) {
			master_service_clear(svc);
			return master_conf_fail(path, lineno, "duplicate service name", error_r);
		}
	(*n)++;
	return 0;
}

int master_conf_load(const char *path, struct service *svcs, size_t max, const char **error_r)
{
	char line[MASTER_CONF_LINE_MAX + 2];
	unsigned lineno = 0;
	size_t n = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		snprintf(master_conf_error, sizeof master_conf_error, "%s: %s", path, strerror(errno));
		*error_r = master_conf_error;
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			fclose(fp);
			for (size_t i = 0; i < n; i++)
				master_service_clear(&svcs[i]);
			return master_conf_fail(path, lineno, "line too long", error_r);
		}
		if (master_conf_line(path, lineno, line, svcs, &n, max, error_r) < 0) {
			fclose(fp);
			for (size_t i = 0; i < n; i++)
				master_service_clear(&svcs[i]);
			return -1;
		}
	}
	fclose(fp);
	if (n == 0)
		return master_conf_fail(path, lineno, "no services", error_r);
	return (int)n;
}
