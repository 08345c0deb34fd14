/* postern_check_dkim: the DKIM part of `postern check` (docs/dkim.md).
 *
 * Offers postern_check_dkim: the dkim_* settings enqueue would replace
 * by their defaults (a warning in its log, a problem here), the key map
 * etc/dkim_keys as dkim-sign parses it, and each key it names: present,
 * a private key of the named algorithm, RSA of 1024 to 4096 bits (under
 * 2048 a warning, RFC 8301), not readable by group or others; keys in
 * the map but no dkim-sign service in master.conf (a warning: nothing
 * would be signed).
 *
 * Trusts: nothing in the files; they are only parsed.  Reads the keys
 * (as dkim-sign would, as root), keeps nothing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "config.h"
#include "dkim_keys.h"
#include "dkim_verify.h"
#include "postern.h"
#include "queuefile.h"

static void postern_check_dkim_conf(struct postern_check *ck)
{
	static const char *const canons[] = { "simple/simple", "simple/relaxed", "relaxed/simple",
					      "relaxed/relaxed" };
	const char *canon = config_str("dkim_canonicalization"), *fail = config_str("dkim_sign_failure");
	const char *list = config_str("dkim_signed_headers"), *item;
	size_t pos = 0, n, k;
	int from = 0;

	for (k = 0; k < 4 && strcasecmp(canon, canons[k]) != 0; k++)
		;
	if (k == 4)
		postern_check_fail(ck, "dkim_canonicalization = %s: not simple/simple, simple/relaxed, "
				   "relaxed/simple or relaxed/relaxed", canon);
	if (strcmp(fail, "tempfail") != 0 && strcmp(fail, "accept") != 0)
		postern_check_fail(ck, "dkim_sign_failure = %s: not tempfail or accept", fail);
	while (config_list_next(list, strlen(list), &pos, &item, &n))
		from |= n == 4 && strncasecmp(item, "from", 4) == 0;
	if (!from)
		postern_check_fail(ck, "dkim_signed_headers does not name from (RFC 6376 5.4)");
	if (config_size("dkim_prepend_slot") > QUEUEFILE_PREPEND_SLOT_MAX)
		postern_check_fail(ck, "dkim_prepend_slot = %llu: more than %d",
				   config_size("dkim_prepend_slot"), QUEUEFILE_PREPEND_SLOT_MAX);
	if (config_size("dkim_verify_signature_limit") > DKIM_VERIFY_LIMIT_MAX)
		postern_check_fail(ck, "dkim_verify_signature_limit = %llu: more than %d",
				   config_size("dkim_verify_signature_limit"), DKIM_VERIFY_LIMIT_MAX);
}

/* One key file of the map. */
static void postern_check_dkim_key(struct postern_check *ck, const struct dkim_key_entry *e)
{
	char path[PATH_MAX];
	struct stat st;
	EVP_PKEY *key;
	FILE *f;
	int bits;

	if (postern_path(path, sizeof(path), "%s/etc/dkim/%s", ck->tree, e->file) < 0)
		return;
	if ((f = fopen(path, "re")) == NULL) {
		postern_check_fail(ck, "%s (key of %s, selector %s): %s", path, e->domain, e->selector,
				   strerror(errno));
		return;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		postern_check_fail(ck, "%s is readable by group or others (mode %o; want 0600)", path,
				   (unsigned)(st.st_mode & 07777));
	fclose(f);
	if (key == NULL) {
		postern_check_fail(ck, "%s: not a PEM private key", path);
		return;
	}
	bits = EVP_PKEY_get_bits(key);
	if (e->alg == DKIM_ALG_ED25519_SHA256 && EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
		postern_check_fail(ck, "%s: not an Ed25519 key, as etc/dkim_keys says", path);
	else if (e->alg == DKIM_ALG_RSA_SHA256 && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		postern_check_fail(ck, "%s: not an RSA key, as etc/dkim_keys says", path);
	else if (e->alg == DKIM_ALG_RSA_SHA256 && (bits < 1024 || bits > 4096))
		postern_check_fail(ck, "%s: RSA key of %d bits (1024 to 4096 sign)", path, bits);
	else if (e->alg == DKIM_ALG_RSA_SHA256 && bits < 2048)
		postern_check_warn(ck, "%s: RSA key of %d bits; RFC 8301 asks for 2048", path, bits);
	EVP_PKEY_free(key);
}

/* Whether master.conf has a line running dkim-sign. */
static int postern_check_dkim_service(const struct postern_check *ck)
{
	char path[PATH_MAX], line[4096];
	FILE *f;
	int found = 0;

	if (postern_path(path, sizeof(path), "%s/etc/master.conf", ck->tree) < 0 || (f = fopen(path, "re")) == NULL)
		return 1;   /* postern_check_master reports it */
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *cmd = NULL, *save = NULL, *w = strtok_r(line, " \t\n", &save);

		for (int i = 0; w != NULL && w[0] != '#' && i < 7; i++, w = strtok_r(NULL, " \t\n", &save))
			cmd = w;
		found = cmd != NULL && strcmp(cmd, "dkim-sign") == 0;
	}
	fclose(f);
	return found;
}

void postern_check_dkim(struct postern_check *ck)
{
	struct dkim_key_entry *e = NULL;
	char path[PATH_MAX];
	const char *err;
	size_t n = 0, line;
	struct stat st;
	char *text;
	FILE *f;

	postern_check_dkim_conf(ck);
	if (postern_path(path, sizeof(path), "%s/etc/dkim_keys", ck->tree) < 0)
		return;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			postern_check_fail(ck, "%s: %s", path, strerror(errno));
		return;   /* no map: nothing is signed */
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size > DKIM_KEYS_TEXT_MAX ||
	    (text = malloc((size_t)st.st_size + 1)) == NULL) {
		postern_check_fail(ck, "%s: not a file of at most %d bytes", path, DKIM_KEYS_TEXT_MAX);
		fclose(f);
		return;
	}
	if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		postern_check_fail(ck, "%s: cannot read", path);
	else if (dkim_keys_parse(text, (size_t)st.st_size, config_size("dkim_key_limit"), &e, &n, &line, &err) < 0)
		postern_check_fail(ck, "%s:%zu: %s", path, line, err);
	fclose(f);
	free(text);
	for (size_t i = 0; i < n; i++)
		postern_check_dkim_key(ck, &e[i]);
	if (n > 0 && !postern_check_dkim_service(ck))
		postern_check_warn(ck, "etc/dkim_keys has keys but master.conf runs no dkim-sign: nothing is signed");
	free(e);
}
