/* greeting: the protocols' greetings and IMAP's capabilities (greeting.h).
 *
 * Trusts: hostname, checked by the caller (myhostname: one word of at
 * most 255 bytes).  Fails: -1 when the text would not fit; never
 * truncates. */
#include "greeting.h"

#include <stdio.h>

#include "buf.h"

int greeting_smtp(char *out, size_t len, const char *hostname)
{
	int n = snprintf(out, len, "220 %s ESMTP Postern", hostname);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* What the session offers once logged in (RFC 9051 6.1.1); the login
 * process announces the same so that clients need not ask again.
 * LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) are part of
 * IMAP4rev2, announced for IMAP4rev1 clients. */
#define GREETING_IMAP_CAPS "IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE ID IDLE NAMESPACE UNSELECT UIDPLUS MOVE MULTIAPPEND CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH SEARCHRES WITHIN BINARY CONDSTORE QRESYNC PREVIEW UTF8=ACCEPT COMPRESS=DEFLATE OBJECTID SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE"

static char greeting_imap_caps[sizeof(GREETING_IMAP_CAPS) + 64] = GREETING_IMAP_CAPS;

void greeting_imap_init(unsigned long long appendlimit)
{
	/* RFC 8438 STATUS=SIZE; RFC 7889 APPENDLIMIT: message_size_limit,
	 * the same for every mailbox. */
	snprintf(greeting_imap_caps, sizeof(greeting_imap_caps), "%s STATUS=SIZE APPENDLIMIT=%llu",
		 GREETING_IMAP_CAPS, appendlimit);
}

const char *greeting_imap_session_caps(void)
{
	return greeting_imap_caps;
}

/* STARTTLS when it may be used, AUTH=PLAIN AUTH=LOGIN when plaintext
 * logins are allowed, else LOGINDISABLED (RFC 9051 6.2.3). */
static int greeting_imap_caps_print(struct buf *out, const char *prefix, int starttls, int plaintext_ok,
				    const char *suffix)
{
	buf_reset(out);
	return buf_printf(out, "%s%s SASL-IR%s%s%s", prefix, greeting_imap_caps, starttls ? " STARTTLS" : "",
			  plaintext_ok ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED", suffix);
}

int greeting_imap_login_caps(struct buf *out, int starttls, int plaintext_ok)
{
	return greeting_imap_caps_print(out, "", starttls, plaintext_ok, "");
}

int greeting_imap(struct buf *out, int starttls, int plaintext_ok)
{
	/* RFC 9051 7.1.1: the greeting carries the capabilities */
	return greeting_imap_caps_print(out, "* OK [CAPABILITY ", starttls, plaintext_ok, "] Postern IMAP ready");
}
