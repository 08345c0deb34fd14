/* passwd_file: the users file (etc/users) of authd.  One line per user,
 * `ADDRESS:CRYPT-HASH[:more fields, ignored]`, `#` comments and blank
 * lines allowed; addresses are folded to lower case.  Passwords are
 * checked with crypt(3) (yescrypt, SHA-512, ...) and compared in constant
 * time; an unknown user costs the same crypt as a known one. */
#ifndef POSTERN_PASSWD_FILE_H
#define POSTERN_PASSWD_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#define PASSWD_FILE_MAX (64UL * 1024 * 1024)  /* largest users file */
#define PASSWD_LINE_MAX 4096                  /* longest line, LF included */
#define PASSWD_SECRET_MAX 512                 /* longest password crypt(3) takes */

struct passwd_file;

/* Parse users-file text (len bytes).  0, or -1 with *error_r =
 * "line N: message" (static). */
int passwd_file_parse(const char *text, size_t len, struct passwd_file **pf_r,
		      const char **error_r);
/* Read and parse the file at path (regular file, at most PASSWD_FILE_MAX);
 * st_r (may be NULL) gets the fstat of what was read.  0 or -1, *error_r. */
int passwd_file_load(const char *path, struct passwd_file **pf_r,
		     struct stat *st_r, const char **error_r);
/* Number of users. */
size_t passwd_file_count(const struct passwd_file *pf);
/* The stored hash for user (any case), or NULL; *canon_r (may be NULL)
 * gets the lower-case address as stored. */
const char *passwd_file_lookup(const struct passwd_file *pf, const char *user,
			       size_t user_len, const char **canon_r);
/* Check a password: 1 match, 0 no match or unknown user, -1 crypt failure
 * of a system nature (out of memory).  Always runs one crypt. */
int passwd_file_verify(const struct passwd_file *pf, const char *user, size_t user_len,
		       const char *password, size_t password_len, const char **canon_r);
/* Check a password against one crypt hash: 1, 0, -1 as above. */
int passwd_hash_verify(const char *hash, const char *password, size_t password_len);
/* Free; *pf = NULL. */
void passwd_file_free(struct passwd_file **pf);

#endif
