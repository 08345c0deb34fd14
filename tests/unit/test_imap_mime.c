/* Unit tests for common/imap_mime.c: ENVELOPE, BODY and BODYSTRUCTURE
 * golden cases, FETCH BODY[section] and BINARY[].
 *
 * The golden answers marked "Dovecot 2.3.19" are what Dovecot's imap
 * answered for the same message (a throwaway dovecot-imapd over a
 * Maildir in /tmp); the ones marked "ours" differ from Dovecot on
 * purpose, for the reason given.  The section answers are all
 * Dovecot's.  Messages are written with LF line ends unless their name
 * starts with crlf_, which must give the same sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_mime.h"
#include "mime.h"

struct golden_case {
	const char *name;
	const char *message;
	const char *expected;   /* "BODYSTRUCTURE ... ENVELOPE ... BODY ..." */
};

struct section_case {
	const char *message_name;
	const char *spec;       /* as in BODY[spec] */
	const char *expected;
};

static const struct golden_case golden_cases[] = {
	{ "simple",
	  /* Dovecot 2.3.19 */
	  "From: Alice <alice@example.org>\n"
	  "To: bob@example.net\n"
	  "Subject: Hello\n"
	  "Date: Tue, 2 Jan 2024 10:11:12 +0000\n"
	  "Message-ID: <1@example.org>\n"
	  "\n"
	  "Hello Bob.\n"
	  "Second line.\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 26 2 NIL NIL NIL NIL) ENVELOPE (\"Tue, 2 Jan 2024 10:"
	  "11:12 +0000\" \"Hello\" ((\"Alice\" NIL \"alice\" \"example.org\")) ("
	  "(\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \""
	  "example.org\")) ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \""
	  "<1@example.org>\") BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\""
	  ") NIL NIL \"7bit\" 26 2)" },
	{ "crlf_simple",
	  /* Dovecot 2.3.19 */
	  "From: Alice <alice@example.org>\r\n"
	  "To: bob@example.net\r\n"
	  "Subject: Hello\r\n"
	  "Date: Tue, 2 Jan 2024 10:11:12 +0000\r\n"
	  "Message-ID: <1@example.org>\r\n"
	  "\r\n"
	  "Hello Bob.\r\n"
	  "Second line.\r\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 26 2 NIL NIL NIL NIL) ENVELOPE (\"Tue, 2 Jan 2024 10:"
	  "11:12 +0000\" \"Hello\" ((\"Alice\" NIL \"alice\" \"example.org\")) ("
	  "(\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \""
	  "example.org\")) ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \""
	  "<1@example.org>\") BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\""
	  ") NIL NIL \"7bit\" 26 2)" },
	{ "alternative",
	  /* Dovecot 2.3.19 */
	  "From: a@b.c\n"
	  "Subject: alt\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"ALT\"\n"
	  "\n"
	  "This is a MIME message.\n"
	  "\n"
	  "--ALT\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "Gr=C3=BC=C3=9Fe\n"
	  "--ALT\n"
	  "Content-Type: text/html; charset=utf-8\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "PHA+R3LDvMOfZTwvcD4K\n"
	  "--ALT--\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \""
	  "quoted-printable\" 15 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"char"
	  "set\" \"utf-8\") NIL NIL \"base64\" 20 0 NIL NIL NIL NIL) \"altern"
	  "ative\" (\"boundary\" \"ALT\") NIL NIL NIL) ENVELOPE (NIL \"alt\" ("
	  "(NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b."
	  "c\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" \""
	  "utf-8\") NIL NIL \"quoted-printable\" 15 0)(\"text\" \"html\" (\"cha"
	  "rset\" \"utf-8\") NIL NIL \"base64\" 20 0) \"alternative\")" },
	{ "mixed_nested",
	  /* Dovecot 2.3.19 */
	  "From: \"Carol Q. Sender\" <carol@example.com>\n"
	  "To: Dave <dave@example.com>, erin@example.com\n"
	  "Cc: Team: frank@example.com, \"Grace H.\" <grace@example.com>;"
	  "\n"
	  "Subject: Report with attachments\n"
	  "Date: Wed, 03 Jan 2024 08:00:00 -0500 (EST)\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"outer\"\n"
	  "\n"
	  "--outer\n"
	  "Content-Type: multipart/alternative; boundary=\"inner\"\n"
	  "\n"
	  "--inner\n"
	  "Content-Type: text/plain; charset=us-ascii\n"
	  "\n"
	  "See attached.\n"
	  "\n"
	  "--inner\n"
	  "Content-Type: text/html; charset=us-ascii\n"
	  "\n"
	  "<p>See attached.</p>\n"
	  "\n"
	  "--inner--\n"
	  "\n"
	  "--outer\n"
	  "Content-Type: application/pdf; name=\"report.pdf\"\n"
	  "Content-Disposition: attachment; filename=\"report.pdf\"\n"
	  "Content-Transfer-Encoding: base64\n"
	  "Content-ID: <part1@example.com>\n"
	  "Content-Description: The report\n"
	  "\n"
	  "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0Zp"
	  "bHRlci9GbGF0ZURl\n"
	  "Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnC"
	  "tRTyuAIBAKz7Bx8K\n"
	  "--outer\n"
	  "Content-Type: image/png\n"
	  "Content-Disposition: inline\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "iVBORw0KGgo=\n"
	  "--outer--\n"
	  "trailing epilogue\n",
	  "BODYSTRUCTURE (((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL N"
	  "IL \"7bit\" 15 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us"
	  "-ascii\") NIL NIL \"7bit\" 22 1 NIL NIL NIL NIL) \"alternative\" "
	  "(\"boundary\" \"inner\") NIL NIL NIL)(\"application\" \"pdf\" (\"name"
	  "\" \"report.pdf\") \"<part1@example.com>\" \"The report\" \"base64\" "
	  "154 NIL (\"attachment\" (\"filename\" \"report.pdf\")) NIL NIL)(\"i"
	  "mage\" \"png\" NIL NIL NIL \"base64\" 12 NIL (\"inline\" NIL) NIL N"
	  "IL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL) ENVELOPE (\"Wed"
	  ", 03 Jan 2024 08:00:00 -0500 (EST)\" \"Report with attachments"
	  "\" ((\"Carol Q. Sender\" NIL \"carol\" \"example.com\")) ((\"Carol Q"
	  ". Sender\" NIL \"carol\" \"example.com\")) ((\"Carol Q. Sender\" NI"
	  "L \"carol\" \"example.com\")) ((\"Dave\" NIL \"dave\" \"example.com\")"
	  "(NIL NIL \"erin\" \"example.com\")) ((NIL NIL \"Team\" NIL)(NIL NI"
	  "L \"frank\" \"example.com\")(\"Grace H.\" NIL \"grace\" \"example.com"
	  "\")(NIL NIL NIL NIL)) NIL NIL NIL) BODY (((\"text\" \"plain\" (\"c"
	  "harset\" \"us-ascii\") NIL NIL \"7bit\" 15 1)(\"text\" \"html\" (\"cha"
	  "rset\" \"us-ascii\") NIL NIL \"7bit\" 22 1) \"alternative\")(\"appli"
	  "cation\" \"pdf\" (\"name\" \"report.pdf\") \"<part1@example.com>\" \"T"
	  "he report\" \"base64\" 154)(\"image\" \"png\" NIL NIL NIL \"base64\" "
	  "12) \"mixed\")" },
	{ "crlf_nested",
	  /* Dovecot 2.3.19 */
	  "From: \"Carol Q. Sender\" <carol@example.com>\r\n"
	  "To: Dave <dave@example.com>, erin@example.com\r\n"
	  "Cc: Team: frank@example.com, \"Grace H.\" <grace@example.com>;"
	  "\r\n"
	  "Subject: Report with attachments\r\n"
	  "Date: Wed, 03 Jan 2024 08:00:00 -0500 (EST)\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	  "\r\n"
	  "--outer\r\n"
	  "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	  "\r\n"
	  "--inner\r\n"
	  "Content-Type: text/plain; charset=us-ascii\r\n"
	  "\r\n"
	  "See attached.\r\n"
	  "\r\n"
	  "--inner\r\n"
	  "Content-Type: text/html; charset=us-ascii\r\n"
	  "\r\n"
	  "<p>See attached.</p>\r\n"
	  "\r\n"
	  "--inner--\r\n"
	  "\r\n"
	  "--outer\r\n"
	  "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	  "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "Content-ID: <part1@example.com>\r\n"
	  "Content-Description: The report\r\n"
	  "\r\n"
	  "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0Zp"
	  "bHRlci9GbGF0ZURl\r\n"
	  "Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnC"
	  "tRTyuAIBAKz7Bx8K\r\n"
	  "--outer\r\n"
	  "Content-Type: image/png\r\n"
	  "Content-Disposition: inline\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "iVBORw0KGgo=\r\n"
	  "--outer--\r\n"
	  "trailing epilogue\r\n",
	  "BODYSTRUCTURE (((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL N"
	  "IL \"7bit\" 15 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us"
	  "-ascii\") NIL NIL \"7bit\" 22 1 NIL NIL NIL NIL) \"alternative\" "
	  "(\"boundary\" \"inner\") NIL NIL NIL)(\"application\" \"pdf\" (\"name"
	  "\" \"report.pdf\") \"<part1@example.com>\" \"The report\" \"base64\" "
	  "154 NIL (\"attachment\" (\"filename\" \"report.pdf\")) NIL NIL)(\"i"
	  "mage\" \"png\" NIL NIL NIL \"base64\" 12 NIL (\"inline\" NIL) NIL N"
	  "IL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL) ENVELOPE (\"Wed"
	  ", 03 Jan 2024 08:00:00 -0500 (EST)\" \"Report with attachments"
	  "\" ((\"Carol Q. Sender\" NIL \"carol\" \"example.com\")) ((\"Carol Q"
	  ". Sender\" NIL \"carol\" \"example.com\")) ((\"Carol Q. Sender\" NI"
	  "L \"carol\" \"example.com\")) ((\"Dave\" NIL \"dave\" \"example.com\")"
	  "(NIL NIL \"erin\" \"example.com\")) ((NIL NIL \"Team\" NIL)(NIL NI"
	  "L \"frank\" \"example.com\")(\"Grace H.\" NIL \"grace\" \"example.com"
	  "\")(NIL NIL NIL NIL)) NIL NIL NIL) BODY (((\"text\" \"plain\" (\"c"
	  "harset\" \"us-ascii\") NIL NIL \"7bit\" 15 1)(\"text\" \"html\" (\"cha"
	  "rset\" \"us-ascii\") NIL NIL \"7bit\" 22 1) \"alternative\")(\"appli"
	  "cation\" \"pdf\" (\"name\" \"report.pdf\") \"<part1@example.com>\" \"T"
	  "he report\" \"base64\" 154)(\"image\" \"png\" NIL NIL NIL \"base64\" "
	  "12) \"mixed\")" },
	{ "rfc822_inside",
	  /* Dovecot 2.3.19 */
	  "From: fwd@example.com\n"
	  "To: x@example.com\n"
	  "Subject: Fwd: original\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	  "\n"
	  "--b1\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "Forwarded message below.\n"
	  "--b1\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Disposition: attachment\n"
	  "\n"
	  "From: Original <orig@example.com>\n"
	  "To: someone@example.com\n"
	  "Subject: original\n"
	  "Date: Mon, 1 Jan 2024 00:00:00 +0100\n"
	  "Message-ID: <orig@example.com>\n"
	  "In-Reply-To: <prev@example.com>\n"
	  "Content-Type: multipart/mixed; boundary=\"b2\"\n"
	  "\n"
	  "--b2\n"
	  "Content-Type: text/plain; charset=iso-8859-1\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "Caf\xe9\n"
	  "--b2\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: deep\n"
	  "From: deep@example.com\n"
	  "\n"
	  "deep body\n"
	  "--b2--\n"
	  "\n"
	  "--b1--\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 24 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NI"
	  "L \"7bit\" 421 (\"Mon, 1 Jan 2024 00:00:00 +0100\" \"original\" (("
	  "\"Original\" NIL \"orig\" \"example.com\")) ((\"Original\" NIL \"orig"
	  "\" \"example.com\")) ((\"Original\" NIL \"orig\" \"example.com\")) (("
	  "NIL NIL \"someone\" \"example.com\")) NIL NIL \"<prev@example.com"
	  ">\" \"<orig@example.com>\") ((\"text\" \"plain\" (\"charset\" \"iso-88"
	  "59-1\") NIL NIL \"8bit\" 4 0 NIL NIL NIL NIL)(\"message\" \"rfc822"
	  "\" NIL NIL NIL \"7bit\" 50 (NIL \"deep\" ((NIL NIL \"deep\" \"exampl"
	  "e.com\")) ((NIL NIL \"deep\" \"example.com\")) ((NIL NIL \"deep\" \""
	  "example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charse"
	  "t\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) 3 NIL NIL"
	  " NIL NIL) \"mixed\" (\"boundary\" \"b2\") NIL NIL NIL) 21 NIL (\"at"
	  "tachment\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NI"
	  "L) ENVELOPE (NIL \"Fwd: original\" ((NIL NIL \"fwd\" \"example.co"
	  "m\")) ((NIL NIL \"fwd\" \"example.com\")) ((NIL NIL \"fwd\" \"exampl"
	  "e.com\")) ((NIL NIL \"x\" \"example.com\")) NIL NIL NIL NIL) BODY"
	  " ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 24 0"
	  ")(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 421 (\"Mon, 1 Jan 202"
	  "4 00:00:00 +0100\" \"original\" ((\"Original\" NIL \"orig\" \"exampl"
	  "e.com\")) ((\"Original\" NIL \"orig\" \"example.com\")) ((\"Original"
	  "\" NIL \"orig\" \"example.com\")) ((NIL NIL \"someone\" \"example.co"
	  "m\")) NIL NIL \"<prev@example.com>\" \"<orig@example.com>\") ((\"t"
	  "ext\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"8bit\" 4 0)(\"m"
	  "essage\" \"rfc822\" NIL NIL NIL \"7bit\" 50 (NIL \"deep\" ((NIL NIL"
	  " \"deep\" \"example.com\")) ((NIL NIL \"deep\" \"example.com\")) ((N"
	  "IL NIL \"deep\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \""
	  "plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) 3) \"mixed\""
	  ") 21) \"mixed\")" },
	{ "crlf_rfc822",
	  /* Dovecot 2.3.19 */
	  "From: fwd@example.com\r\n"
	  "To: x@example.com\r\n"
	  "Subject: Fwd: original\r\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	  "\r\n"
	  "--b1\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "Forwarded message below.\r\n"
	  "--b1\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "Content-Disposition: attachment\r\n"
	  "\r\n"
	  "From: Original <orig@example.com>\r\n"
	  "To: someone@example.com\r\n"
	  "Subject: original\r\n"
	  "Date: Mon, 1 Jan 2024 00:00:00 +0100\r\n"
	  "Message-ID: <orig@example.com>\r\n"
	  "In-Reply-To: <prev@example.com>\r\n"
	  "Content-Type: multipart/mixed; boundary=\"b2\"\r\n"
	  "\r\n"
	  "--b2\r\n"
	  "Content-Type: text/plain; charset=iso-8859-1\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n"
	  "\r\n"
	  "Caf\xe9\r\n"
	  "--b2\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "Subject: deep\r\n"
	  "From: deep@example.com\r\n"
	  "\r\n"
	  "deep body\r\n"
	  "--b2--\r\n"
	  "\r\n"
	  "--b1--\r\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 24 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NI"
	  "L \"7bit\" 421 (\"Mon, 1 Jan 2024 00:00:00 +0100\" \"original\" (("
	  "\"Original\" NIL \"orig\" \"example.com\")) ((\"Original\" NIL \"orig"
	  "\" \"example.com\")) ((\"Original\" NIL \"orig\" \"example.com\")) (("
	  "NIL NIL \"someone\" \"example.com\")) NIL NIL \"<prev@example.com"
	  ">\" \"<orig@example.com>\") ((\"text\" \"plain\" (\"charset\" \"iso-88"
	  "59-1\") NIL NIL \"8bit\" 4 0 NIL NIL NIL NIL)(\"message\" \"rfc822"
	  "\" NIL NIL NIL \"7bit\" 50 (NIL \"deep\" ((NIL NIL \"deep\" \"exampl"
	  "e.com\")) ((NIL NIL \"deep\" \"example.com\")) ((NIL NIL \"deep\" \""
	  "example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charse"
	  "t\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) 3 NIL NIL"
	  " NIL NIL) \"mixed\" (\"boundary\" \"b2\") NIL NIL NIL) 21 NIL (\"at"
	  "tachment\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NI"
	  "L) ENVELOPE (NIL \"Fwd: original\" ((NIL NIL \"fwd\" \"example.co"
	  "m\")) ((NIL NIL \"fwd\" \"example.com\")) ((NIL NIL \"fwd\" \"exampl"
	  "e.com\")) ((NIL NIL \"x\" \"example.com\")) NIL NIL NIL NIL) BODY"
	  " ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 24 0"
	  ")(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 421 (\"Mon, 1 Jan 202"
	  "4 00:00:00 +0100\" \"original\" ((\"Original\" NIL \"orig\" \"exampl"
	  "e.com\")) ((\"Original\" NIL \"orig\" \"example.com\")) ((\"Original"
	  "\" NIL \"orig\" \"example.com\")) ((NIL NIL \"someone\" \"example.co"
	  "m\")) NIL NIL \"<prev@example.com>\" \"<orig@example.com>\") ((\"t"
	  "ext\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"8bit\" 4 0)(\"m"
	  "essage\" \"rfc822\" NIL NIL NIL \"7bit\" 50 (NIL \"deep\" ((NIL NIL"
	  " \"deep\" \"example.com\")) ((NIL NIL \"deep\" \"example.com\")) ((N"
	  "IL NIL \"deep\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \""
	  "plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) 3) \"mixed\""
	  ") 21) \"mixed\")" },
	{ "toplevel_rfc822",
	  /* Dovecot 2.3.19 */
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: inner\n"
	  "Content-Type: multipart/mixed; boundary=a\n"
	  "\n"
	  "--a\n"
	  "\n"
	  "x\n"
	  "--a\n"
	  "\n"
	  "y\n"
	  "--a--\n",
	  "BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 88 (NIL"
	  " \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\" ("
	  "\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"t"
	  "ext\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL N"
	  "IL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL) 10 NIL NIL"
	  " NIL NIL) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
	  " BODY (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 88 (NIL \"inner\""
	  " NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset"
	  "\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\") 10)" },
	{ "digest",
	  /* Dovecot 2.3.19 */
	  "Subject: digest\n"
	  "Content-Type: multipart/digest; boundary=\"d\"\n"
	  "\n"
	  "--d\n"
	  "\n"
	  "From: one@example.com\n"
	  "Subject: one\n"
	  "\n"
	  "one\n"
	  "--d\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "not a message\n"
	  "--d\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: three\n"
	  "\n"
	  "three\n"
	  "--d--\n",
	  "BODYSTRUCTURE ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 42 (NI"
	  "L \"one\" ((NIL NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"exa"
	  "mple.com\")) ((NIL NIL \"one\" \"example.com\")) NIL NIL NIL NIL "
	  "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	  " 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"char"
	  "set\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL)(\"messa"
	  "ge\" \"rfc822\" NIL NIL NIL \"7bit\" 23 (NIL \"three\" NIL NIL NIL "
	  "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	  "NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"dige"
	  "st\" (\"boundary\" \"d\") NIL NIL NIL) ENVELOPE (NIL \"digest\" NIL"
	  " NIL NIL NIL NIL NIL NIL NIL) BODY ((\"message\" \"rfc822\" NIL "
	  "NIL NIL \"7bit\" 42 (NIL \"one\" ((NIL NIL \"one\" \"example.com\"))"
	  " ((NIL NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"example.co"
	  "m\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-asc"
	  "ii\") NIL NIL \"7bit\" 3 0) 3)(\"text\" \"plain\" (\"charset\" \"us-as"
	  "cii\") NIL NIL \"7bit\" 13 0)(\"message\" \"rfc822\" NIL NIL NIL \"7"
	  "bit\" 23 (NIL \"three\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text"
	  "\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) 2) \"dig"
	  "est\")" },
	{ "rfc2231",
	  /* ours: RFC 9051 7.5.2: parameters decoded per RFC 2231 (Dovecot sends name* still encoded, extended ones last) */
	  "Subject: params\n"
	  "Content-Type: multipart/mixed; boundary=xx\n"
	  "\n"
	  "--xx\n"
	  "Content-Type: application/octet-stream;\n"
	  " name*0*=utf-8''%E2%82%AC%20rates;\n"
	  " name*1=\".txt\"\n"
	  "Content-Disposition: attachment;\n"
	  " filename*=UTF-8''r%C3%A9sum%C3%A9.pdf; size=1234;\n"
	  " creation-date=\"Mon, 1 Jan 2024 00:00:00 +0000\"\n"
	  "Content-Language: en-GB, fr\n"
	  "Content-Location: http://example.com/x\n"
	  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	  "\n"
	  "AAAA\n"
	  "--xx\n"
	  "Content-Type: text/plain; charset*=iso-8859-1'en'latin%2D1; "
	  "title*=iso-8859-1''caf%E9\n"
	  "\n"
	  "x\n"
	  "--xx--\n",
	  "BODYSTRUCTURE ((\"application\" \"octet-stream\" (\"name\" {13}\r\n"
	  "\xe2\x82\xac rates.txt) NIL NIL \"7bit\" 4 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" ("
	  "\"attachment\" (\"filename\" {12}\r\n"
	  "r\xc3\xa9sum\xc3\xa9.pdf \"size\" \"1234\" \"creation-date\" \"Mon, 1 Jan 2024 "
	  "00:00:00 +0000\")) (\"en-GB\" \"fr\") \"http://example.com/x\")(\"te"
	  "xt\" \"plain\" (\"charset\" \"latin-1\" \"title\" {5}\r\n"
	  "caf\xc3\xa9) NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundar"
	  "y\" \"xx\") NIL NIL NIL) ENVELOPE (NIL \"params\" NIL NIL NIL NIL"
	  " NIL NIL NIL NIL) BODY ((\"application\" \"octet-stream\" (\"name"
	  "\" {13}\r\n"
	  "\xe2\x82\xac rates.txt) NIL NIL \"7bit\" 4)(\"text\" \"plain\" (\"charset\" \""
	  "latin-1\" \"title\" {5}\r\n"
	  "caf\xc3\xa9) NIL NIL \"7bit\" 1 0) \"mixed\")" },
	{ "unknown_charset",
	  /* ours: RFC 2231 continuations joined; the unknown charset keeps the encoded form, attribute-chars left unescaped */
	  "Content-Type: text/plain; name*0*=x-unknown'en'%41%42; name*"
	  "1*=%43\n"
	  "\n"
	  "x\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"name*\" \"x-unknown'en'ABC\" \"c"
	  "harset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL) ENVE"
	  "LOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY (\"text\" "
	  "\"plain\" (\"name*\" \"x-unknown'en'ABC\" \"charset\" \"us-ascii\") NI"
	  "L NIL \"7bit\" 3 1)" },
	{ "rfc2047",
	  /* ours: same text; Dovecot sends the folded subject as a literal, we quote it */
	  "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"
	  "\n"
	  "To: =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>\n"
	  "CC: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>\n"
	  "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
	  " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n"
	  "Content-Type: text/plain; charset=ISO-8859-1\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "body\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NIL N"
	  "IL \"quoted-printable\" 6 1 NIL NIL NIL NIL) ENVELOPE (NIL \"=?"
	  "ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2"
	  "?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\" ((\"=?ISO-8859-1?Q"
	  "?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?ISO-8"
	  "859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\""
	  "=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be"
	  "\")) ((\"=?US-ASCII?Q?Keith_Moore?=\" NIL \"moore\" \"cs.utk.edu\")"
	  ") ((\"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=\" NIL \"keld\" \"dkuu"
	  "g.dk\")) NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"ISO-88"
	  "59-1\") NIL NIL \"quoted-printable\" 6 1)" },
	{ "broken_boundary",
	  /* Dovecot 2.3.19 */
	  "Subject: broken\n"
	  "Content-Type: multipart/mixed; boundary=\"zzz\"\n"
	  "\n"
	  "preamble\n"
	  "--zzz\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "first part\n"
	  "--zzz\t \n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "second part, no close delimiter\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 10 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us"
	  "-ascii\") NIL NIL \"7bit\" 33 1 NIL NIL NIL NIL) \"mixed\" (\"boun"
	  "dary\" \"zzz\") NIL NIL NIL) ENVELOPE (NIL \"broken\" NIL NIL NIL"
	  " NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" \"us-a"
	  "scii\") NIL NIL \"7bit\" 10 0)(\"text\" \"plain\" (\"charset\" \"us-as"
	  "cii\") NIL NIL \"7bit\" 33 1) \"mixed\")" },
	{ "cut_header",
	  /* Dovecot 2.3.19 */
	  "Content-Type: multipart/mixed; boundary=b\n"
	  "\n"
	  "--b\n"
	  "Content-Type: text/plain\n"
	  "--b\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "--b\n"
	  "\n"
	  "last\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-"
	  "ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" ("
	  "\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) \"m"
	  "ixed\" (\"boundary\" \"b\") NIL NIL NIL) ENVELOPE (NIL NIL NIL NI"
	  "L NIL NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"u"
	  "s-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-"
	  "ascii\") NIL NIL \"7bit\" 6 1) \"mixed\")" },
	{ "prefix_boundary",
	  /* Dovecot 2.3.19 */
	  "Content-Type: multipart/mixed; boundary=b\n"
	  "\n"
	  "--bXYZ\n"
	  "\n"
	  "A\n"
	  "--b\n"
	  "\n"
	  "B\n"
	  "--b--\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 1 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-"
	  "ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"bounda"
	  "ry\" \"b\") NIL NIL NIL) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL "
	  "NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NI"
	  "L NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	  "NIL \"7bit\" 1 0) \"mixed\")" },
	{ "outer_closes_inner",
	  /* Dovecot 2.3.19 */
	  "Content-Type: multipart/mixed; boundary=o\n"
	  "\n"
	  "--o\n"
	  "Content-Type: multipart/related; boundary=i\n"
	  "\n"
	  "--i\n"
	  "\n"
	  "in\n"
	  "--o\n"
	  "\n"
	  "after\n"
	  "--o--\n",
	  "BODYSTRUCTURE (((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL N"
	  "IL \"7bit\" 2 0 NIL NIL NIL NIL) \"related\" (\"boundary\" \"i\") NI"
	  "L NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7b"
	  "it\" 5 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NI"
	  "L) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY ("
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0) "
	  "\"related\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7b"
	  "it\" 5 0) \"mixed\")" },
	{ "multipart_noboundary",
	  /* Dovecot 2.3.19 */
	  "Content-Type: multipart/mixed\n"
	  "\n"
	  "hello\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL) ENVEL"
	  "OPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY ((\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "multipart_nochild",
	  /* Dovecot 2.3.19 */
	  "Content-Type: multipart/mixed; boundary=q\n"
	  "\n"
	  "hello\n",
	  "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"q\") NIL N"
	  "IL NIL) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) B"
	  "ODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	  " 0) \"mixed\")" },
	{ "base64_rfc822",
	  /* ours: the line end before the boundary belongs to the boundary (Dovecot counts it into the message part: 22 / 1) */
	  "Content-Type: multipart/mixed; boundary=b\n"
	  "\n"
	  "--b\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "U3ViamVjdDogeAoKeQo=\n"
	  "--b--\n",
	  "BODYSTRUCTURE ((\"message\" \"rfc822\" NIL NIL NIL \"base64\" 20 ("
	  "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"c"
	  "harset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NI"
	  "L NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL) ENVELOP"
	  "E (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY ((\"message\""
	  " \"rfc822\" NIL NIL NIL \"base64\" 20 (NIL NIL NIL NIL NIL NIL N"
	  "IL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL N"
	  "IL \"7bit\" 0 0) 0) \"mixed\")" },
	{ "no_body",
	  /* Dovecot 2.3.19 */
	  "Subject: only header\n"
	  "From: x@y\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 0 0 NIL NIL NIL NIL) ENVELOPE (NIL \"only header\" ((N"
	  "IL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL"
	  " NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\""
	  ") NIL NIL \"7bit\" 0 0)" },
	{ "empty",
	  /* Dovecot 2.3.19 */
	  "",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 0 0 NIL NIL NIL NIL) ENVELOPE (NIL NIL NIL NIL NIL N"
	  "IL NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-asci"
	  "i\") NIL NIL \"7bit\" 0 0)" },
	{ "groups",
	  /* Dovecot 2.3.19 */
	  "From: A Group: ;\n"
	  "To: undisclosed-recipients:;\n"
	  "Cc: list: a@b.c, b@c.d;, solo@e.f\n"
	  "Bcc: <@r1.example,@r2.example:user@host.example>\n"
	  "Reply-To: \"Doe, John\" <john@example.com> (work)\n"
	  "Sender: nobody (Nobody At All)\n"
	  "Subject: groups\n"
	  "\n"
	  "x\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 3 1 NIL NIL NIL NIL) ENVELOPE (NIL \"groups\" ((NIL NI"
	  "L \"A Group\" NIL)(NIL NIL NIL NIL)) ((\"Nobody At All\" NIL \"no"
	  "body\" \"MISSING_DOMAIN\")) ((\"Doe, John\" NIL \"john\" \"example.c"
	  "om\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NI"
	  "L)) ((NIL NIL \"list\" NIL)(NIL NIL \"a\" \"b.c\")(NIL NIL \"b\" \"c."
	  "d\")(NIL NIL NIL NIL)(NIL NIL \"solo\" \"e.f\")) ((NIL \"@r1.examp"
	  "le,@r2.example\" \"user\" \"host.example\")) NIL NIL) BODY (\"text"
	  "\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)" },
	{ "multi_to",
	  /* Dovecot 2.3.19 */
	  "To: a@example.org\n"
	  "To: b@example.org\n"
	  "Subject: first\n"
	  "Subject: second\n"
	  "From: x@example.org\n"
	  "Sender:\n"
	  "\n"
	  "body\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 6 1 NIL NIL NIL NIL) ENVELOPE (NIL \"second\" ((NIL NI"
	  "L \"x\" \"example.org\")) ((NIL NIL \"x\" \"example.org\")) ((NIL NI"
	  "L \"x\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")(NIL NIL \""
	  "b\" \"example.org\")) NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"c"
	  "harset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)" },
	{ "8bit_header",
	  /* Dovecot 2.3.19 */
	  "Subject: caf\xc3\xa9 \"quoted\" back\\slash\n"
	  "From: J\xc3\xb6rg <j@x.y>\n"
	  "Content-Type: text/plain; name=\"\xc3\xa9t\xc3\xa9.txt\"\n"
	  "\n"
	  "x\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"name\" {9}\r\n"
	  "\xc3\xa9t\xc3\xa9.txt \"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL N"
	  "IL NIL) ENVELOPE (NIL {25}\r\n"
	  "caf\xc3\xa9 \"quoted\" back\\slash (({5}\r\n"
	  "J\xc3\xb6rg NIL \"j\" \"x.y\")) (({5}\r\n"
	  "J\xc3\xb6rg NIL \"j\" \"x.y\")) (({5}\r\n"
	  "J\xc3\xb6rg NIL \"j\" \"x.y\")) NIL NIL NIL NIL NIL) BODY (\"text\" \"pla"
	  "in\" (\"name\" {9}\r\n"
	  "\xc3\xa9t\xc3\xa9.txt \"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)" },
	{ "folded",
	  /* ours: RFC 5322 2.2.3 unfolding keeps the tab and spaces (Dovecot makes them one space each); Message-ID trimmed */
	  "Subject: a\n"
	  "\tb\n"
	  "  c\n"
	  "Message-ID:\n"
	  " <id@host>\n"
	  "Content-Type: text/plain;\n"
	  "\tcharset=\"utf-8\"\n"
	  "\n"
	  "x\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7"
	  "bit\" 3 1 NIL NIL NIL NIL) ENVELOPE (NIL {6}\r\n"
	  "a\tb  c NIL NIL NIL NIL NIL NIL NIL \"<id@host>\") BODY (\"text\""
	  " \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)" },
	{ "bare_cr",
	  /* Dovecot 2.3.19 */
	  "Subject: cr\n"
	  "\n"
	  "line\rwith cr\r\n"
	  "mixed\n"
	  "end",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 24 2 NIL NIL NIL NIL) ENVELOPE (NIL \"cr\" NIL NIL NIL"
	  " NIL NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-as"
	  "cii\") NIL NIL \"7bit\" 24 2)" },
	{ "qp_body",
	  /* Dovecot 2.3.19 */
	  "Content-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "soft=\n"
	  "break =3D done  \n"
	  "hard\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"quoted-printable\" 31 3 NIL NIL NIL NIL) ENVELOPE (NIL NIL "
	  "NIL NIL NIL NIL NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"char"
	  "set\" \"us-ascii\") NIL NIL \"quoted-printable\" 31 3)" },
	{ "many_lang",
	  /* Dovecot 2.3.19 */
	  "Content-Type: text/plain\n"
	  "Content-Language: en (english), de\n"
	  "Content-Disposition: inline; filename=a.txt\n"
	  "\n"
	  "x\n",
	  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	  " \"7bit\" 3 1 NIL (\"inline\" (\"filename\" \"a.txt\")) (\"en\" \"de\") "
	  "NIL) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY"
	  " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)" },
	{ "global",
	  /* Dovecot 2.3.19 */
	  "Content-Type: message/global\n"
	  "\n"
	  "Subject: caf\xc3\xa9\n"
	  "From: j\xc3\xb6rg@example.org\n"
	  "\n"
	  "body\n",
	  "BODYSTRUCTURE (\"message\" \"global\" NIL NIL NIL \"7bit\" 49 NIL "
	  "NIL NIL NIL) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL N"
	  "IL) BODY (\"message\" \"global\" NIL NIL NIL \"7bit\" 49)" },
};

static const struct section_case section_cases[] = {
	{ "mixed_nested", "", "From: \"Carol Q. Sender\" <carol@example.com>\r\nTo: Dave <dave@example.com>, erin@example.com\r\nCc: Team: frank@example.com, \"Grace H.\" <grace@example.com>;\r\nSubject: Report with attachments\r\nDate: Wed, 03 Jan 2024 08:00:00 -0500 (EST)\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>See attached.</p>\r\n\r\n--inner--\r\n\r\n--outer\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <part1@example.com>\r\nContent-Description: The report\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\nY29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtRTyuAIBAKz7Bx8K\r\n--outer\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer--\r\ntrailing epilogue\r\n" },
	{ "mixed_nested", "HEADER", "From: \"Carol Q. Sender\" <carol@example.com>\r\nTo: Dave <dave@example.com>, erin@example.com\r\nCc: Team: frank@example.com, \"Grace H.\" <grace@example.com>;\r\nSubject: Report with attachments\r\nDate: Wed, 03 Jan 2024 08:00:00 -0500 (EST)\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" },
	{ "mixed_nested", "TEXT", "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>See attached.</p>\r\n\r\n--inner--\r\n\r\n--outer\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <part1@example.com>\r\nContent-Description: The report\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\nY29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtRTyuAIBAKz7Bx8K\r\n--outer\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer--\r\ntrailing epilogue\r\n" },
	{ "mixed_nested", "1", "--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>See attached.</p>\r\n\r\n--inner--\r\n" },
	{ "mixed_nested", "1.MIME", "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n" },
	{ "mixed_nested", "1.1", "See attached.\r\n" },
	{ "mixed_nested", "1.2.MIME", "Content-Type: text/html; charset=us-ascii\r\n\r\n" },
	{ "mixed_nested", "2", "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\nY29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtRTyuAIBAKz7Bx8K" },
	{ "mixed_nested", "2.MIME", "Content-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <part1@example.com>\r\nContent-Description: The report\r\n\r\n" },
	{ "mixed_nested", "3", "iVBORw0KGgo=" },
	{ "mixed_nested", "4", "" },
	{ "mixed_nested", "HEADER.FIELDS (SUBJECT TO)", "To: Dave <dave@example.com>, erin@example.com\r\nSubject: Report with attachments\r\n\r\n" },
	{ "mixed_nested", "HEADER.FIELDS.NOT (FROM TO CC SUBJECT DATE CONTENT-TYPE)", "MIME-Version: 1.0\r\n\r\n" },
	{ "rfc822_inside", "2", "From: Original <orig@example.com>\r\nTo: someone@example.com\r\nSubject: original\r\nDate: Mon, 1 Jan 2024 00:00:00 +0100\r\nMessage-ID: <orig@example.com>\r\nIn-Reply-To: <prev@example.com>\r\nContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n--b2\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\nFrom: deep@example.com\r\n\r\ndeep body\r\n--b2--\r\n" },
	{ "rfc822_inside", "2.HEADER", "From: Original <orig@example.com>\r\nTo: someone@example.com\r\nSubject: original\r\nDate: Mon, 1 Jan 2024 00:00:00 +0100\r\nMessage-ID: <orig@example.com>\r\nIn-Reply-To: <prev@example.com>\r\nContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n" },
	{ "rfc822_inside", "2.TEXT", "--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n--b2\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\nFrom: deep@example.com\r\n\r\ndeep body\r\n--b2--\r\n" },
	{ "rfc822_inside", "2.MIME", "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" },
	{ "rfc822_inside", "2.1", "Caf\xe9" },
	{ "rfc822_inside", "2.1.MIME", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" },
	{ "rfc822_inside", "2.2", "Subject: deep\r\nFrom: deep@example.com\r\n\r\ndeep body" },
	{ "rfc822_inside", "2.2.HEADER", "Subject: deep\r\nFrom: deep@example.com\r\n\r\n" },
	{ "rfc822_inside", "2.2.TEXT", "deep body" },
	{ "rfc822_inside", "2.2.1", "deep body" },
	{ "rfc822_inside", "2.HEADER.FIELDS (Subject In-Reply-To)", "Subject: original\r\nIn-Reply-To: <prev@example.com>\r\n\r\n" },
	{ "crlf_rfc822", "2", "From: Original <orig@example.com>\r\nTo: someone@example.com\r\nSubject: original\r\nDate: Mon, 1 Jan 2024 00:00:00 +0100\r\nMessage-ID: <orig@example.com>\r\nIn-Reply-To: <prev@example.com>\r\nContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n--b2\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\nFrom: deep@example.com\r\n\r\ndeep body\r\n--b2--\r\n" },
	{ "crlf_rfc822", "2.HEADER", "From: Original <orig@example.com>\r\nTo: someone@example.com\r\nSubject: original\r\nDate: Mon, 1 Jan 2024 00:00:00 +0100\r\nMessage-ID: <orig@example.com>\r\nIn-Reply-To: <prev@example.com>\r\nContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n" },
	{ "crlf_rfc822", "2.1", "Caf\xe9" },
	{ "crlf_rfc822", "2.2.TEXT", "deep body" },
	{ "toplevel_rfc822", "1", "Subject: inner\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a\r\n\r\ny\r\n--a--\r\n" },
	{ "toplevel_rfc822", "1.1", "x" },
	{ "toplevel_rfc822", "1.2", "y" },
	{ "toplevel_rfc822", "1.1.MIME", "\r\n" },
	{ "toplevel_rfc822", "1.HEADER", "Subject: inner\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" },
	{ "toplevel_rfc822", "1.TEXT", "--a\r\n\r\nx\r\n--a\r\n\r\ny\r\n--a--\r\n" },
	{ "toplevel_rfc822", "TEXT", "Subject: inner\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a\r\n\r\ny\r\n--a--\r\n" },
	{ "cut_header", "1", "" },
	{ "cut_header", "1.MIME", "Content-Type: text/plain" },
	{ "cut_header", "2", "" },
	{ "cut_header", "2.MIME", "Content-Type: text/plain\r\n" },
	{ "cut_header", "3", "last\r\n" },
	{ "cut_header", "3.MIME", "\r\n" },
	{ "simple", "1", "Hello Bob.\r\nSecond line.\r\n" },
	{ "simple", "1.MIME", "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Hello\r\nDate: Tue, 2 Jan 2024 10:11:12 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n" },
	{ "simple", "TEXT", "Hello Bob.\r\nSecond line.\r\n" },
	{ "simple", "2", "" },
	{ "simple", "1.1", "" },
	{ "bare_cr", "TEXT", "line\rwith cr\r\nmixed\r\nend" },
	{ "bare_cr", "1", "line\rwith cr\r\nmixed\r\nend" },
	{ "multipart_nochild", "1", "" },
	{ "multipart_nochild", "1.MIME", "" },
	{ "multipart_nochild", "TEXT", "hello\r\n" },
	{ "no_body", "HEADER", "Subject: only header\r\nFrom: x@y\r\n" },
	{ "no_body", "TEXT", "" },
	{ "no_body", "HEADER.FIELDS (SUBJECT)", "Subject: only header\r\n\r\n" },
	{ "outer_closes_inner", "1", "--i\r\n\r\nin" },
	{ "outer_closes_inner", "1.1", "in" },
	{ "outer_closes_inner", "2", "after" },
	{ "outer_closes_inner", "1.1.MIME", "\r\n" },
};

static size_t case_len(const char *s, const char *name)
{
	/* "empty" is the only message of zero bytes; the rest are C strings */
	return strcmp(name, "empty") == 0 ? 0 : strlen(s);
}

/* BODYSTRUCTURE, ENVELOPE of the message and BODY, as FETCH shows them. */
static void fetch_items(const char *msg, size_t len, unsigned int flags, struct buf *out)
{
	struct mime_message *m;
	const char *error;

	assert_int_equal(mime_parse(msg, len, &m, &error), 0);
	assert_int_equal(buf_append_str(out, "BODYSTRUCTURE "), 0);
	assert_int_equal(imap_bodystructure_write(out, m, 1, flags), 0);
	assert_int_equal(buf_append_str(out, " ENVELOPE "), 0);
	assert_int_equal(imap_envelope_write(out, msg + m->root->header.offset, m->root->header.size, flags), 0);
	assert_int_equal(buf_append_str(out, " BODY "), 0);
	assert_int_equal(imap_bodystructure_write(out, m, 0, flags), 0);
	mime_message_free(&m);
}

static void test_imap_mime_golden_fetch(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]); i++) {
		const struct golden_case *c = &golden_cases[i];
		struct buf out;

		buf_init(&out, 1 << 20);
		fetch_items(c->message, case_len(c->message, c->name), 0, &out);
		if (strcmp(buf_cstr(&out), c->expected) != 0)
			fail_msg("%s:\n got  %s\n want %s", c->name, buf_cstr(&out), c->expected);
		buf_free(&out);
	}
}

static const char *golden_message(const char *name)
{
	for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]); i++)
		if (strcmp(golden_cases[i].name, name) == 0)
			return golden_cases[i].message;
	fail_msg("no golden message %s", name);
	return NULL;
}

/* Parse "1.2.HEADER.FIELDS (A B)" into sec (names copied into names[]). */
static void parse_spec(const char *s, uint32_t *parts, char names[][32], const char **fields,
		       struct imap_mime_section *sec)
{
	memset(sec, 0, sizeof(*sec));
	sec->parts = parts;
	sec->fields = fields;
	while (*s >= '0' && *s <= '9') {
		parts[sec->nparts++] = (uint32_t)strtoul(s, (char **)&s, 10);
		if (*s == '.')
			s++;
	}
	if (strncmp(s, "HEADER.FIELDS.NOT", 17) == 0)
		sec->text = IMAP_MIME_HEADER_FIELDS_NOT;
	else if (strncmp(s, "HEADER.FIELDS", 13) == 0)
		sec->text = IMAP_MIME_HEADER_FIELDS;
	else if (strncmp(s, "HEADER", 6) == 0)
		sec->text = IMAP_MIME_HEADER;
	else if (strncmp(s, "TEXT", 4) == 0)
		sec->text = IMAP_MIME_TEXT;
	else if (strncmp(s, "MIME", 4) == 0)
		sec->text = IMAP_MIME_MIME;
	else
		sec->text = IMAP_MIME_WHOLE;
	s = strchr(s, '(');
	while (s != NULL && *++s != '\0' && *s != ')') {
		size_t n = 0;
		while (s[n] != ' ' && s[n] != ')')
			n++;
		assert_true(n < 32);
		memcpy(names[sec->nfields], s, n);
		names[sec->nfields][n] = '\0';
		fields[sec->nfields] = names[sec->nfields];
		sec->nfields++;
		s += n;
		if (*s == ')')
			break;
	}
}

/* The section as imapd would send it: "" when the part does not exist
 * or is not a message (what Dovecot sends). */
static void fetch_section(const char *msg, const char *spec, struct buf *out, int *rc_r)
{
	struct mime_message *m;
	struct imap_mime_section sec;
	struct imap_mime_data d;
	uint32_t parts[16];
	char names[16][32];
	const char *fields[16];
	const char *error;

	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	parse_spec(spec, parts, names, fields, &sec);
	*rc_r = imap_mime_section_resolve(m, &sec, &d);
	if (*rc_r == IMAP_MIME_OK) {
		assert_int_equal(imap_mime_data_write(m, &d, 0, d.wire_size + 10, out), 0);
		assert_int_equal(out->len, d.wire_size);
	}
	imap_mime_data_free(&d);
	mime_message_free(&m);
}

static void test_imap_mime_sections_as_dovecot(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(section_cases) / sizeof(section_cases[0]); i++) {
		const struct section_case *c = &section_cases[i];
		struct buf out;
		int rc;

		buf_init(&out, 1 << 20);
		fetch_section(golden_message(c->message_name), c->spec, &out, &rc);
		if (rc != IMAP_MIME_OK && rc != IMAP_MIME_NO_PART && rc != IMAP_MIME_NOT_MESSAGE)
			fail_msg("%s [%s]: error %d", c->message_name, c->spec, rc);
		if (strcmp(buf_cstr(&out), c->expected) != 0)
			fail_msg("%s [%s]:\n got  %s\n want %s", c->message_name, c->spec, buf_cstr(&out), c->expected);
		buf_free(&out);
	}
}

static void test_imap_mime_section_errors(void **state)
{
	struct buf out;
	int rc;

	(void)state;
	buf_init(&out, 1 << 16);
	fetch_section(golden_message("simple"), "2", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NO_PART);
	fetch_section(golden_message("simple"), "1.1", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NO_PART);
	fetch_section(golden_message("mixed_nested"), "5", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NO_PART);
	fetch_section(golden_message("mixed_nested"), "0", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NO_PART);
	fetch_section(golden_message("mixed_nested"), "MIME", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NO_PART);
	fetch_section(golden_message("mixed_nested"), "2.HEADER", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NOT_MESSAGE);
	fetch_section(golden_message("mixed_nested"), "1.TEXT", &out, &rc);
	assert_int_equal(rc, IMAP_MIME_NOT_MESSAGE);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void test_imap_mime_header_fields_adds_blank_line(void **state)
{
	static const char msg[] = "Subject: a\n\tfolded\nX-A: 1\nsubject: b\n\nbody\n";
	static const char eof_msg[] = "X: 1\nSubject: last";   /* no line end at all */
	struct buf out;
	int rc;

	(void)state;
	buf_init(&out, 1 << 16);
	fetch_section(msg, "HEADER.FIELDS (SUBJECT)", &out, &rc);
	assert_string_equal(buf_cstr(&out), "Subject: a\r\n\tfolded\r\nsubject: b\r\n\r\n");
	buf_reset(&out);
	fetch_section(msg, "HEADER.FIELDS.NOT (SUBJECT)", &out, &rc);
	assert_string_equal(buf_cstr(&out), "X-A: 1\r\n\r\n");
	buf_reset(&out);
	fetch_section(msg, "HEADER.FIELDS (NONE)", &out, &rc);
	assert_string_equal(buf_cstr(&out), "\r\n");
	buf_reset(&out);
	fetch_section(eof_msg, "HEADER.FIELDS (SUBJECT)", &out, &rc);
	assert_string_equal(buf_cstr(&out), "Subject: last\r\n\r\n");
	buf_free(&out);
}

static void test_imap_mime_partial_windows(void **state)
{
	const char *msg = golden_message("mixed_nested");
	struct mime_message *m;
	struct imap_mime_section sec = { NULL, 0, IMAP_MIME_WHOLE, NULL, 0 };
	struct imap_mime_data d;
	struct buf whole, part;
	const char *error;

	(void)state;
	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	assert_int_equal(imap_mime_section_resolve(m, &sec, &d), IMAP_MIME_OK);
	buf_init(&whole, 1 << 20);
	buf_init(&part, 1 << 20);
	assert_int_equal(imap_mime_data_write(m, &d, 0, d.wire_size, &whole), 0);
	/* every window, including ones that start or end between CR and LF */
	for (size_t start = 0; start <= d.wire_size + 1; start += 7) {
		for (size_t len = 0; len < 40; len += 3) {
			size_t want = start >= d.wire_size ? 0 : (len < d.wire_size - start ? len : d.wire_size - start);
			buf_reset(&part);
			assert_int_equal(imap_mime_data_write(m, &d, start, len, &part), 0);
			assert_int_equal(part.len, want);
			assert_memory_equal(part.data ? part.data : "", whole.data + (want ? start : 0), want);
		}
	}
	buf_free(&whole);
	buf_free(&part);
	imap_mime_data_free(&d);
	mime_message_free(&m);
}

static void test_imap_mime_binary(void **state)
{
	const char *msg = golden_message("alternative");
	struct mime_message *m;
	struct buf out;
	const char *error;
	uint32_t path[2] = { 1, 0 };
	size_t size;

	(void)state;
	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	buf_init(&out, 1 << 16);
	/* Dovecot: BINARY[1] ~{7} "Grüße", BINARY[2] ~{15} "<p>Grüße</p>\n" */
	assert_int_equal(imap_binary_decode(m, path, 1, &out), IMAP_MIME_OK);
	assert_string_equal(buf_cstr(&out), "Gr\xc3\xbc\xc3\x9f" "e");
	assert_int_equal(imap_binary_size(m, path, 1, &size), IMAP_MIME_OK);
	assert_int_equal(size, 7);
	path[0] = 2;
	buf_reset(&out);
	assert_int_equal(imap_binary_decode(m, path, 1, &out), IMAP_MIME_OK);
	assert_string_equal(buf_cstr(&out), "<p>Gr\xc3\xbc\xc3\x9f" "e</p>\n");
	assert_int_equal(imap_binary_size(m, path, 1, &size), IMAP_MIME_OK);
	assert_int_equal(size, 15);
	path[0] = 3;
	assert_int_equal(imap_binary_decode(m, path, 1, &out), IMAP_MIME_NO_PART);
	mime_message_free(&m);

	/* Dovecot: "softbreak = done\r\nhard\r\n" */
	msg = golden_message("qp_body");
	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	path[0] = 1;
	buf_reset(&out);
	assert_int_equal(imap_binary_decode(m, path, 1, &out), IMAP_MIME_OK);
	assert_string_equal(buf_cstr(&out), "softbreak = done\r\nhard\r\n");
	assert_int_equal(imap_binary_size(m, path, 1, &size), IMAP_MIME_OK);
	assert_int_equal(size, 24);
	mime_message_free(&m);

	/* an encoding nobody knows: RFC 3516 UNKNOWN-CTE */
	msg = "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n";
	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	assert_int_equal(imap_binary_decode(m, path, 1, &out), IMAP_MIME_UNKNOWN_CTE);
	assert_int_equal(imap_binary_size(m, path, 1, &size), IMAP_MIME_UNKNOWN_CTE);
	mime_message_free(&m);

	/* identity encodings come out in wire form; BINARY[] is BODY[] */
	msg = "Subject: x\n\na\nb\n";
	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	buf_reset(&out);
	assert_int_equal(imap_binary_decode(m, path, 1, &out), IMAP_MIME_OK);
	assert_string_equal(buf_cstr(&out), "a\r\nb\r\n");
	buf_reset(&out);
	assert_int_equal(imap_binary_decode(m, path, 0, &out), IMAP_MIME_OK);
	assert_string_equal(buf_cstr(&out), "Subject: x\r\n\r\na\r\nb\r\n");
	mime_message_free(&m);
	buf_free(&out);
}

static void test_imap_mime_global_is_a_message_in_rev2(void **state)
{
	const char *msg = golden_message("global");
	struct mime_message *m;
	struct buf out;
	const char *error;

	(void)state;
	assert_int_equal(mime_parse(msg, strlen(msg), &m, &error), 0);
	buf_init(&out, 1 << 16);
	assert_int_equal(imap_bodystructure_write(&out, m, 0, IMAP_STR_UTF8 | IMAP_MIME_GLOBAL), 0);
	assert_string_equal(buf_cstr(&out),
			    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 49 (NIL \"caf\xc3\xa9\" "
			    "((NIL NIL \"j\xc3\xb6rg\" \"example.org\")) ((NIL NIL \"j\xc3\xb6rg\" \"example.org\")) "
			    "((NIL NIL \"j\xc3\xb6rg\" \"example.org\")) NIL NIL NIL NIL NIL) "
			    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) 4)");
	mime_message_free(&m);
	buf_free(&out);
}

static void test_imap_mime_limits_still_serialize(void **state)
{
	struct buf msg, out;
	struct mime_message *m;
	const char *error;

	(void)state;
	/* message/rfc822 nested past MIME_MAX_DEPTH: the deepest one shows
	 * an empty envelope and body */
	buf_init(&msg, 1 << 20);
	for (int i = 0; i < MIME_MAX_DEPTH + 5; i++)
		assert_int_equal(buf_append_str(&msg, "Content-Type: message/rfc822\n\n"), 0);
	assert_int_equal(buf_append_str(&msg, "deep\n"), 0);
	assert_int_equal(mime_parse(msg.data, msg.len, &m, &error), 0);
	assert_true(m->limits & MIME_LIMIT_DEPTH);
	buf_init(&out, 1 << 22);
	assert_int_equal(imap_bodystructure_write(&out, m, 1, 0), 0);
	assert_non_null(strstr(buf_cstr(&out), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
					      "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"));
	mime_message_free(&m);
	buf_free(&msg);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imap_mime_golden_fetch),
		cmocka_unit_test(test_imap_mime_sections_as_dovecot),
		cmocka_unit_test(test_imap_mime_section_errors),
		cmocka_unit_test(test_imap_mime_header_fields_adds_blank_line),
		cmocka_unit_test(test_imap_mime_partial_windows),
		cmocka_unit_test(test_imap_mime_binary),
		cmocka_unit_test(test_imap_mime_global_is_a_message_in_rev2),
		cmocka_unit_test(test_imap_mime_limits_still_serialize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
