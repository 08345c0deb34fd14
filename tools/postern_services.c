/* postern_services: the hidden `postern services`, which prints the
 * service table (common/service_table.c) for the tests and for the
 * curious: one line per service, tab-separated, after a `#` line naming
 * the columns:
 *
 *   name type port user root maxproc command args uses callers default started
 *
 * port is the standard port of an inet service (listened on at the port
 * base plus it) or `-`; args the arguments after `-c DIR/etc` or `-`;
 * uses the unix services it connects to, comma-separated, or `-`;
 * callers who may connect to it: `*` for anyone (an inet service, or
 * pickup), else `root` and the users of the services that use it;
 * default `on`, or `off` for a service the default master.conf has
 * commented out (metrics); started `resident` for a service the master
 * keeps a process of at all times (qmgr, metrics), `demand` for one it
 * starts when a client waits (docs/master.md).
 *
 * Trusts: the table (ours; no field holds a tab, a newline or a comma,
 * which tests/unit/test_service_table.c checks).
 *
 * Fails: exit 1 when stdout cannot be written. */
#include <stdio.h>

#include "postern.h"
#include "service_table.h"

#define POSTERN_SERVICES_CALLERS_MAX 16

static int postern_services_list(struct buf *out, const char *const *names, size_t n, const char *none)
{
	if (n == 0)
		return buf_append_str(out, none);
	for (size_t i = 0; i < n; i++)
		if ((i > 0 && buf_putc(out, ',') < 0) || buf_append_str(out, names[i]) < 0)
			return -1;
	return 0;
}

static int postern_services_row(struct buf *out, const struct service_entry *e)
{
	const char *callers[POSTERN_SERVICES_CALLERS_MAX + 1] = { "root" };
	size_t nuses = 0, ncallers;

	while (nuses < SERVICE_USES_MAX && e->uses[nuses] != NULL)
		nuses++;
	ncallers = service_table_callers(e, callers + 1, POSTERN_SERVICES_CALLERS_MAX);
	if (ncallers > POSTERN_SERVICES_CALLERS_MAX)
		return -1;
	if (buf_printf(out, "%s\t%s\t", e->name, e->kind == SERVICE_KIND_INET ? "inet" : "unix") < 0 ||
	    (e->kind == SERVICE_KIND_INET ? buf_printf(out, "%u\t", e->port) : buf_append_str(out, "-\t")) < 0 ||
	    buf_printf(out, "%s\t%s\t%u\t%s\t%s\t", e->user, e->root, e->maxproc, e->command,
		       e->args != NULL ? e->args : "-") < 0 ||
	    postern_services_list(out, e->uses, nuses, "-") < 0 || buf_putc(out, '\t') < 0)
		return -1;
	if (!service_table_checks_callers(e) ? buf_putc(out, '*') < 0 :
	    postern_services_list(out, callers, ncallers + 1, "-") < 0)
		return -1;
	return buf_printf(out, "\t%s\t%s\n", e->off ? "off" : "on", e->resident ? "resident" : "demand");
}

int postern_cmd_services(int argc, char **argv)
{
	struct buf out;
	int r = 0;

	(void)argv;
	if (argc != 1)
		return postern_usage();
	buf_init(&out, 64 * 1024);
	if (buf_append_str(&out, "# name\ttype\tport\tuser\troot\tmaxproc\tcommand\targs\tuses\tcallers\tdefault\tstarted\n") < 0)
		r = -1;
	for (size_t i = 0; r == 0 && service_table_get(i) != NULL; i++)
		r = postern_services_row(&out, service_table_get(i));
	return postern_print(&out, r, "the service table");
}
