/* postern_check_dmarc: the DMARC part of `postern check`
 * (docs/operator.md, "DMARC").
 *
 * Offers postern_check_dmarc: dmarc_quarantine must be hold or mark
 * (smtpd refuses to start otherwise); when DMARC is evaluated
 * (dmarc_check and dkim_verify), the public suffix list must load as
 * smtpd loads it, else a warning: smtpd would fall back to the last two
 * labels of a name.
 *
 * Trusts: nothing in the list; it is only parsed (common/psl.c). */
#include <string.h>

#include "config.h"
#include "postern.h"
#include "psl.h"

void postern_check_dmarc(struct postern_check *ck)
{
	const char *q = config_str("dmarc_quarantine"), *path = config_str("dmarc_public_suffix_list");
	const char *err = NULL;
	struct psl *psl = NULL;

	if (strcmp(q, "hold") != 0 && strcmp(q, "mark") != 0)
		postern_check_fail(ck, "dmarc_quarantine = %s: not hold or mark", q);
	if (!config_bool("dmarc_check") || !config_bool("dkim_verify"))
		return;
	if (*path == '\0')
		postern_check_warn(ck, "dmarc_public_suffix_list is empty: Organizational Domains are the last two labels");
	else if (psl_load(path, &psl, &err) < 0)
		postern_check_warn(ck, "dmarc_public_suffix_list %s: %s (apt-get install publicsuffix); "
				   "Organizational Domains are the last two labels", path, err);
	else if (psl_skipped(psl) > 0)
		postern_check_warn(ck, "dmarc_public_suffix_list %s: %zu invalid rules skipped", path, psl_skipped(psl));
	psl_free(&psl);
}
