/* config: postern.conf and the table of every known key.
 *
 * Offers: config_load / config_parse read `key = value` text into a
 * process-wide table; typed getters read it back.  Every key has a type
 * (string, size, time, bool), a default and a one-line doc (and a size
 * key may have a smallest value, config_minimum), so that a bad
 * value is refused when the file is loaded, not when the value is first
 * used hours later, and so that `postern` can write a documented default
 * file (config_each_default).
 *
 * Syntax: `key = value`; `#` starts a comment only as the first non-blank
 * character of a line; blank lines are ignored; a line starting with
 * white space continues the previous value (joined with one space); CRLF
 * line ends are tolerated.  Sizes take k/m/g suffixes (1024-based), times
 * s/m/h/d/w (none = seconds), booleans yes/no/true/false/1/0.
 *
 * Trusts: the file only as far as its syntax; it is bounded (1 MiB, values
 * 4096 bytes) and parsed with (pointer, length).
 *
 * Fails: a parse error leaves the current settings untouched and returns
 * -1 with "file:LINE: message" in a static buffer.  Asking for a key that
 * is not in the table, or with the wrong type, is a programming error and
 * panics.  Pointers returned by config_str stay valid until the next
 * config_load, config_parse or config_reset. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_VALUE_MAX 4096
#define CONFIG_KEY_MAX 64

enum config_type { CONFIG_STR, CONFIG_SIZE, CONFIG_TIME, CONFIG_BOOL };

struct config_key {
	const char *name;
	enum config_type type;
	const char *def;
	const char *doc;
};

static const struct config_key config_table[] = {
	{ "myhostname", CONFIG_STR, "",
	  "Fully qualified name of this mail system, used in greetings and Received headers; empty means the system host name. It is always a local domain (as in etc/domains): the default sender of local mail is LOGIN@myhostname, and mail for it reaches whoever the aliases with a bare local part name." },
	{ "program_directory", CONFIG_STR, "",
	  "Directory holding the Postern programs the master starts; empty means the directory of the running executable, or ../libexec/postern beside it when the daemons are installed there (make install)." },
	{ "message_size_limit", CONFIG_SIZE, "10485760",
	  "Largest message, in bytes, that is accepted for delivery (k/m/g suffixes allowed); must be at least 1, there is no unlimited.  Also the largest IMAP literal (APPEND, APPENDLIMIT): a bigger one, or one that announces more than 64 bits hold, gets NO [TOOBIG] before it is sent." },
	{ "queue_minfree", CONFIG_SIZE, "50m",
	  "Free space, in bytes, the queue's file system must keep for mail to be taken: below it (counting a declared SIZE) the SMTP server answers MAIL and DATA with 452 4.3.1 and sendmail gets a temporary failure, so that the messages already being received, qmgr's status updates and bounces still fit.  Default 50m: five messages of the default message_size_limit; keep it at least twice message_size_limit when raising that.  0 disables the check (enqueue still answers a disk that fills up with a temporary failure and keeps no partial file)." },
	{ "smtpd_recipient_limit", CONFIG_SIZE, "1000",
	  "Most recipients the SMTP server accepts for one message, at most 4088 (fewer with NOTIFY and ORCPT, which take room in the enqueue request); every new RCPT beyond it gets 452 4.5.3 (one already accepted, named again, still gets 250), of which only the first of a transaction is logged and counts toward smtpd_hard_error_limit." },
	{ "smtpd_line_limit", CONFIG_SIZE, "4096",
	  "Longest SMTP command (AUTH and its initial response included) or message text line in bytes, CRLF included, 1000 to 1m; a longer command gets 500 5.5.2, a longer AUTH response 500 5.5.6, a message with a longer line 500 5.5.2 after its end." },
	{ "smtpd_timeout", CONFIG_TIME, "300s",
	  "How long the SMTP server waits for a client to send or accept data before it disconnects." },
	{ "smtpd_hard_error_limit", CONFIG_SIZE, "20",
	  "Errors a client may make in one session before the SMTP server answers 421 and disconnects." },
	{ "tls_cert_file", CONFIG_STR, "tls/cert.pem",
	  "PEM certificate chain of the TLS servers (every TLS port: SMTP, submission, POP3 and IMAP with STARTTLS/STLS, SMTPS, POP3S, IMAPS; policy in docs/tls.md); a relative path is taken from DIR/etc; read before privileges are dropped, again when the master replaces its children (reload)." },
	{ "tls_key_file", CONFIG_STR, "tls/key.pem",
	  "PEM private key matching tls_cert_file; a relative path is taken from DIR/etc; it may be readable by root only." },
	{ "tls_handshake_timeout", CONFIG_TIME, "10s",
	  "Longest time one TLS handshake may take as a whole, on every TLS port (SMTPS, SMTP STARTTLS, POP3S, POP3 STLS, IMAPS, IMAP STARTTLS) and for the remote delivery agent's STARTTLS; a peer that has not finished it by then is disconnected and logged, so a stalled handshake cannot hold a process for smtpd_timeout or pop3_timeout (0 = only those per-read timeouts)." },
	{ "smtpd_policy_services", CONFIG_STR, "",
	  "Policy servers (Postfix SMTP access policy protocol) asked in turn at each RCPT TO that the local checks accept, as inet:HOST:PORT or unix:PATH separated by spaces or commas, at most 8; a unix: PATH is taken inside the SMTP server's root, DIR/run/jail when chrooted (put the socket there, e.g. unix:policy/postgrey); empty means none." },
	{ "smtpd_end_of_data_policy_services", CONFIG_STR, "",
	  "Policy servers asked at the end of each message (protocol_state=END-OF-MESSAGE), before it is queued; same form as smtpd_policy_services; PREPEND and HOLD are ignored there (logged)." },
	{ "smtpd_policy_service_timeout", CONFIG_TIME, "100s",
	  "Longest time one policy request may take as a whole (connect, send, answer); then smtpd_policy_service_default_action applies." },
	{ "smtpd_policy_service_default_action", CONFIG_STR, "451 4.3.5 Server configuration problem",
	  "Action taken when a policy server cannot be reached, times out or answers garbage, as an access(5) action (e.g. DUNNO to accept without it)." },
	{ "smtpd_policy_service_request_limit", CONFIG_SIZE, "0",
	  "Requests sent over one policy server connection before it is closed and opened again (0 = no limit)." },
	{ "smtpd_policy_service_max_idle", CONFIG_TIME, "300s",
	  "A policy server connection unused for longer is closed and opened again at the next request (0 = kept)." },
	{ "smtpd_milters", CONFIG_STR, "",
	  "Mail filters (Sendmail milter protocol) the SMTP server consults at every stage of each session, in order, as inet:HOST:PORT or unix:PATH separated by spaces or commas, at most 8; a unix: PATH is taken inside the SMTP server's root, DIR/run/jail when chrooted (docs/operator.md, Milters); empty means none." },
	{ "non_smtpd_milters", CONFIG_STR, "",
	  "Mail filters (Sendmail milter protocol) for mail that does not arrive over SMTP: what local users send with sendmail(1), filtered by pickup as from localhost [127.0.0.1] with no HELO, after pickup added its Received, Date, Message-ID and From; same form as smtpd_milters; a unix: PATH is taken inside pickup's root, DIR/queue when chrooted (docs/operator.md, Milters); empty means none." },
	{ "milter_default_action", CONFIG_STR, "tempfail",
	  "What a milter that cannot be reached, times out or breaks the protocol means: tempfail (451 4.7.1 to the transaction commands of the session; sendmail(1) gets a temporary failure), reject (550 5.7.1 to them; sendmail(1) gets a refusal) or accept (go on without that milter for the rest of the session or submission)." },
	{ "milter_protocol", CONFIG_SIZE, "6",
	  "Milter protocol version offered to the filters, 2 to 6." },
	{ "milter_connect_timeout", CONFIG_TIME, "30s",
	  "Longest time connecting to a milter and negotiating with it may take." },
	{ "milter_command_timeout", CONFIG_TIME, "30s",
	  "Longest time a milter may take to answer a connect, HELO, MAIL, RCPT, DATA or end-of-header command." },
	{ "milter_content_timeout", CONFIG_TIME, "300s",
	  "Longest time a milter may take to take one header or body chunk, and to answer the end of the message with its modifications." },
	{ "milter_macro_daemon_name", CONFIG_STR, "",
	  "Value of the {daemon_name} macro sent to milters (OpenDKIM's MTA setting can key on it); empty means the service: smtp, submission or smtps." },
	{ "milter_connect_macros", CONFIG_STR, "j {daemon_name} {daemon_addr} {if_name} {if_addr} v _ {client_addr} {client_name} {client_ptr}",
	  "Macros sent to milters with the connect command (a milter's own list from the negotiation takes precedence)." },
	{ "milter_helo_macros", CONFIG_STR, "{tls_version} {cipher} {cipher_bits}",
	  "Macros sent with HELO/EHLO." },
	{ "milter_mail_macros", CONFIG_STR, "{auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	  "Macros sent with MAIL FROM." },
	{ "milter_rcpt_macros", CONFIG_STR, "{rcpt_addr} {rcpt_host} {rcpt_mailer}",
	  "Macros sent with RCPT TO." },
	{ "milter_data_macros", CONFIG_STR, "",
	  "Macros sent with DATA (or the first BDAT)." },
	{ "milter_end_of_header_macros", CONFIG_STR, "",
	  "Macros sent with the end of the header." },
	{ "milter_end_of_data_macros", CONFIG_STR, "",
	  "Macros sent with the end of the message." },
	{ "mynetworks", CONFIG_STR, "",
	  "Client networks trusted to relay mail to any domain without authentication, as CIDR blocks separated by spaces or commas (e.g. 127.0.0.0/8 ::1/128); empty means none." },
	{ "smtpd_sender_login_maps", CONFIG_STR, "",
	  "On submission, map (NAME or NAME.cdb relative to DIR/etc: the text map NAME that postern map compiles into NAME.cdb, which smtpd reads) from an envelope sender address or @domain to the login names, separated by spaces or commas, allowed to use it; empty means each user may send only as their own login address." },
	{ "smtpd_header_size_limit", CONFIG_SIZE, "102400",
	  "Largest header section of a message, in bytes (1k to 64m), whatever its number of lines; a bigger one is refused with 552 5.3.4 after the end of the data, and the SMTP server holds no more of it than this." },
	{ "smtpd_session_time_limit", CONFIG_TIME, "3600s",
	  "Longest time one SMTP session may last; then the server answers 421 4.4.2 and disconnects (0 = no limit)." },
	{ "smtpd_client_connection_limit", CONFIG_SIZE, "50",
	  "Most simultaneous SMTP sessions from one client IP address outside smtpd_client_limit_exceptions, across all SMTP services; one more gets 421 4.7.0 (0 = no limit).  A session stops counting at QUIT or as soon as its client is gone." },
	{ "smtpd_client_limit_exceptions", CONFIG_STR, "$mynetworks",
	  "Clients exempt from smtpd_client_connection_limit and the smtpd_client_*_rate_limit keys, as CIDR blocks separated by spaces or commas; the word $mynetworks stands for the blocks of mynetworks; empty means nobody is exempt." },
	{ "smtpd_auth_failure_limit", CONFIG_SIZE, "3",
	  "Failed AUTH attempts allowed in one SMTP session; the next failure is answered 421 4.7.0 and the client is disconnected." },
	{ "smtpd_auth_failure_delay", CONFIG_TIME, "1s",
	  "How long the SMTP server waits before answering a failed AUTH attempt (at most 60s)." },
	{ "smtpd_forbid_bare_newline", CONFIG_BOOL, "yes",
	  "Refuse a message containing a bare LF or bare CR with 550 5.5.2 (RFC 5321 2.3.8); no stores such lines as they are.  Either way only <CRLF>.<CRLF> ends DATA." },
	{ "smtpd_received_tls", CONFIG_BOOL, "yes",
	  "Name the TLS protocol and cipher in the Received header the SMTP server adds." },
	{ "smtpd_received_auth", CONFIG_BOOL, "yes",
	  "Name the authenticated user in the Received header the SMTP server adds." },
	/* Access control (smtpd/smtpd_access.c, docs/operator.md "Access control"). */
	{ "smtpd_client_access", CONFIG_STR, "",
	  "Map (NAME or NAME.cdb relative to DIR/etc, e.g. client_access, compiled into client_access.cdb by `postern map client_access`; smtpd does not start without the .cdb) looked up at connect with the client name (\"unknown\" while it has no validated one) and its parent domains, then the client address and its network prefixes; a value is an access(5) action: OK, DUNNO, REJECT [text] (554 5.7.1 greeting, then only QUIT), DEFER [text] (421 4.7.1, disconnect), 4NN/5NN text, HOLD or DISCARD (for every message of the session); empty means none." },
	{ "smtpd_helo_access", CONFIG_STR, "",
	  "Map (named as smtpd_client_access) looked up at HELO/EHLO with the name given and its parent domains; REJECT is 554 5.7.1, DEFER 450 4.7.1 (the HELO is then not taken), HOLD and DISCARD hold every message of the session; empty means none." },
	{ "smtpd_sender_access", CONFIG_STR, "",
	  "Map (named as smtpd_client_access) looked up at MAIL FROM with user@domain, domain and parent domains, then user@ (the null sender as <>); REJECT is 554 5.7.1, DEFER 450 4.7.1, HOLD and DISCARD apply to that message; empty means none." },
	{ "smtpd_recipient_access", CONFIG_STR, "",
	  "Map (named as smtpd_client_access) looked up at RCPT TO like smtpd_sender_access, before the recipient checks (an OK there does not allow relaying); REJECT is 554 5.7.1, DEFER 450 4.7.1, HOLD and DISCARD apply to the message once the recipient is accepted; empty means none." },
	{ "smtpd_dnsbl_sites", CONFIG_STR, "",
	  "DNS block and allow lists asked at connect about each client outside mynetworks, as zone[=filter][*weight] separated by spaces or commas (at most 16): filter an IPv4 answer that counts, whose octets may be ranges [lo..hi] (e.g. zen.example=127.0.0.[2..11]*2), weight an integer from -1000 to 1000 (default 1, negative for allow lists); the weights of the lists naming the client are added up; resolvers and timeouts are dns_servers, dns_timeout and dns_tries; empty means none." },
	{ "smtpd_dnsbl_threshold", CONFIG_SIZE, "1",
	  "Score of smtpd_dnsbl_sites at which a client is refused: a 554 5.7.1 greeting naming the first list, after which only QUIT is served." },
	{ "front_connection_limit", CONFIG_SIZE, "10000",
	  "Most client connections the connection front (docs/front.md) holds at once, greeted and waiting for their first line; one more is answered 421 4.3.2 (POP3: -ERR [SYS/TEMP], IMAP: * BYE [UNAVAILABLE]) and closed.  The front raises its RLIMIT_NOFILE to this plus 64 within the hard limit, and logs and holds fewer when the hard limit is lower (1 to 1000000)." },
	{ "front_client_connection_limit", CONFIG_SIZE, "50",
	  "Most connections from one client IP address the connection front holds at once; one more is answered 421 4.7.0 (POP3: -ERR [SYS/TEMP], IMAP: * BYE [UNAVAILABLE]) and closed (no exceptions: a real client passes the front within one line)." },
	{ "front_line_timeout", CONFIG_TIME, "300s",
	  "How long the connection front waits, after its greeting, for the client's first complete line, at most the service's own timeout (smtpd_timeout, pop3_timeout, imap_login_timeout); then the protocol's timeout reply (SMTP 421 4.4.2, POP3 -ERR, IMAP * BYE) and close.  300s is the five minutes RFC 5321 4.5.3.2.7 gives a server to wait for a command." },
	{ "front_peek_limit", CONFIG_SIZE, "1024",
	  "Bytes of the client's first line the connection front looks at for its LF (64 to 65536); that many without one pass the client on as well, and the service answers the long line itself." },
	{ "smtpd_pregreet_wait", CONFIG_TIME, "0s",
	  "On the smtp service (port 25), how long the server waits before its greeting to see whether the client talks first; one that does is answered 554 5.5.1 and disconnected (logged as PREGREET); clients in mynetworks are greeted at once; at most 10s; 0 = greet at once (1s is a good value on an MX).  The connection front on port 25, when used, runs the same test." },
	{ "smtpd_client_connection_rate_limit", CONFIG_SIZE, "0",
	  "Most SMTP connections one client address may open in smtpd_client_rate_window, across all SMTP services; one more is answered 421 4.7.0 and closed (0 = no limit; clients in smtpd_client_limit_exceptions are exempt)." },
	{ "smtpd_client_message_rate_limit", CONFIG_SIZE, "0",
	  "Most MAIL FROM commands one client address may give in smtpd_client_rate_window; one more is answered 450 4.7.1 (0 = no limit; smtpd_client_limit_exceptions are exempt)." },
	{ "smtpd_client_recipient_rate_limit", CONFIG_SIZE, "0",
	  "Most RCPT TO commands one client address may give in smtpd_client_rate_window; one more is answered 450 4.7.1 (0 = no limit; smtpd_client_limit_exceptions are exempt)." },
	{ "smtpd_user_message_rate_limit", CONFIG_SIZE, "0",
	  "Most MAIL FROM commands one authenticated user may give in smtpd_client_rate_window, whatever the address; one more is answered 450 4.7.1 (0 = no limit)." },
	{ "smtpd_user_recipient_rate_limit", CONFIG_SIZE, "0",
	  "Most RCPT TO commands one authenticated user may give in smtpd_client_rate_window; one more is answered 450 4.7.1 (0 = no limit)." },
	{ "smtpd_client_rate_window", CONFIG_TIME, "60s",
	  "The time over which the smtpd_*_rate_limit counts run: a key's window opens at its first event and its counts start over when it ends (1s to 1d); the counters live in DIR/run/smtpd.rates, shared by all SMTP server processes (16384 keys, the oldest evicted first)." },
	{ "spf_check", CONFIG_BOOL, "yes",
	  "Check SPF (RFC 7208) on the SMTP port (25): the HELO name and the MAIL FROM domain (postmaster@HELO for <>) of each client that is not in mynetworks, not authenticated and not in spf_skip_addresses; the result goes into an Authentication-Results header (authserv_id).  Lookups use dns_servers." },
	{ "spf_reject_fail", CONFIG_BOOL, "no",
	  "Refuse the recipients of a message whose SPF result is fail with 550 5.7.23 (the domain's exp= text quoted); no only records the result." },
	{ "spf_skip_addresses", CONFIG_STR, "127.0.0.0/8 ::1/128",
	  "Clients whose SPF is not checked, as CIDR blocks separated by spaces or commas (as policyd-spf's skip_addresses); empty means none besides mynetworks." },
	{ "spf_time_limit", CONFIG_TIME, "20s",
	  "Longest time one SPF check (HELO or MAIL FROM, all its DNS lookups) may take; then its result is temperror (RFC 7208 4.6.4)." },
	{ "authserv_id", CONFIG_STR, "",
	  "The authserv-id of the Authentication-Results headers the SMTP server adds (RFC 8601 2.5); incoming ones with this id are removed.  Empty means myhostname." },
	{ "seccomp", CONFIG_BOOL, "yes",
	  "yes: every service process but the master installs a seccomp-bpf filter after its setup (an allow-list of system calls per program; local, whose commands inherit it, a deny-list of calls such as mount, ptrace and bpf), and a forbidden call kills it with a log line naming the call (docs/confinement.md).  no: no filter, to find out whether a failure is the filter's." },
	{ "landlock", CONFIG_BOOL, "yes",
	  "yes: where the kernel has Landlock, every service process but the master and local may afterwards reach only its root directory in the file system, and smtpd, the login processes, remote, dkim-sign and metrics only for reading; on kernels without it this is logged and skipped (docs/confinement.md).  no: chroot and users only." },
	{ "group_commit", CONFIG_BOOL, "no",
	  "yes: make new queue files (enqueue) and Maildir deliveries (local) durable with a flush of their whole file system (syncfs) that each program's processes share, one for every message written while the last one ran, instead of fsyncs of each file and directory: the same guarantee (no 250 and no \"delivered\" before the message is on stable storage) with far fewer flushes under load.  The flush also writes whatever else is dirty on that file system, so use it where DIR/queue and DIR/mail are file systems of their own (a Maildir on another file system than DIR/mail keeps its fsyncs).  no: one fsync of the file and one of its directory per message." },
	{ "queue_spare_files", CONFIG_SIZE, "1000",
	  "Most emptied queue files kept in DIR/queue/spare/ for new messages to reuse: the queue manager empties the file of a finished message and keeps it there instead of removing it, and a new message takes one instead of creating a file, which spares the file system an inode allocation and release per message (docs/queue.md, \"Spare files\"); each holds an inode and no data.  0: files are removed and created as before." },
	{ "queue_run_delay", CONFIG_TIME, "300s",
	  "Interval between scans of the queue for deferred mail." },
	{ "minimal_backoff_time", CONFIG_TIME, "300s",
	  "Shortest wait before a deferred message is tried again." },
	{ "maximal_backoff_time", CONFIG_TIME, "4000s",
	  "Longest wait between two delivery attempts of a deferred message." },
	{ "maximal_queue_lifetime", CONFIG_TIME, "5d",
	  "How long an undeliverable message stays in the queue before it is returned to the sender." },
	{ "qmgr_local_concurrency", CONFIG_SIZE, "10",
	  "Most deliveries the queue manager runs in parallel through the local delivery agent." },
	{ "qmgr_active_limit", CONFIG_SIZE, "1000",
	  "Most messages the queue manager takes into active/ at once; the rest waits in incoming/ or deferred/." },
	{ "qmgr_local_retry_time", CONFIG_TIME, "10s",
	  "Wait before retrying a message whose delivery agent could not be reached or broke off mid-answer (no attempt is counted)." },
	{ "qmgr_remote_concurrency", CONFIG_SIZE, "20",
	  "Most deliveries the queue manager runs in parallel through the remote delivery agent (at most 100)." },
	{ "qmgr_destination_concurrency", CONFIG_SIZE, "20",
	  "Most deliveries the queue manager runs in parallel to one destination: one transport (local or remote) and one recipient domain, or for remote with a relayhost the relayhost." },
	{ "delay_warning_time", CONFIG_TIME, "0",
	  "After a message has waited this long in the queue, its sender gets one delay warning (RFC 3464, Action: delayed); 0 sends none." },
	{ "bounce_size_limit", CONFIG_SIZE, "50000",
	  "Largest original message returned whole in a delivery status notification; a bigger one (or RET=HDRS) is returned as its header only." },
	{ "bounce_notice_recipient", CONFIG_STR, "postmaster",
	  "Who is told when a notification to a sender (or other mail from the null sender) cannot be delivered; a bare local part gets the first domain of etc/domains." },
	{ "pop3_timeout", CONFIG_TIME, "600s",
	  "How long the POP3 server waits for a client command before it disconnects." },
	{ "pop3_hard_error_limit", CONFIG_SIZE, "10",
	  "Errors a POP3 client may make in one session before the server disconnects (0 = no limit)." },
	{ "pop3_auth_failure_delay", CONFIG_TIME, "1s",
	  "How long the POP3 server waits before answering a failed login (at most 60s)." },
	{ "pop3_auth_failure_delay_max", CONFIG_TIME, "16s",
	  "The POP3 failed-login delay doubles with each failure authd has counted for the client address or user, up to this (at most 60s)." },
	{ "pop3_plaintext_auth", CONFIG_STR, "loopback",
	  "When POP3 accepts USER/PASS and AUTH PLAIN: loopback (over TLS, or from a loopback address), yes (always), no (only over TLS); otherwise the commands get -ERR [AUTH] and CAPA does not offer them." },
	{ "imap_timeout", CONFIG_TIME, "30m",
	  "How long the IMAP server waits for a client command, and how long IDLE may last without a word from the client, before it disconnects (RFC 9051 asks for at least 30 minutes)." },
	{ "imap_login_timeout", CONFIG_TIME, "60s",
	  "How long an IMAP client that has not logged in may stay silent before the login process disconnects it." },
	{ "imap_hard_error_limit", CONFIG_SIZE, "20",
	  "Errors (BAD replies) an IMAP client may cause in one connection before the server disconnects (0 = no limit)." },
	{ "imap_auth_failure_delay", CONFIG_TIME, "1s",
	  "How long the IMAP server waits before answering a failed login (at most 60s)." },
	{ "imap_auth_failure_delay_max", CONFIG_TIME, "16s",
	  "The IMAP failed-login delay doubles with each failure authd has counted for the client address or user, up to this (at most 60s)." },
	{ "imap_plaintext_auth", CONFIG_STR, "loopback",
	  "When IMAP accepts LOGIN and AUTHENTICATE PLAIN/LOGIN: loopback (over TLS, or from a loopback address), yes (always), no (only over TLS); otherwise CAPABILITY says LOGINDISABLED and they get NO [PRIVACYREQUIRED]." },
	{ "imap_user_session_limit", CONFIG_SIZE, "50",
	  "IMAP sessions one user may have at once, across all session processes; one more gets NO [LIMIT] at login (0 = no limit, at most 4096)." },
	{ "imap_client_session_limit", CONFIG_SIZE, "200",
	  "IMAP sessions one client address may have at once, whatever the users; one more gets NO [LIMIT] at login (0 = no limit, at most 4096)." },
	{ "imap_hibernate_timeout", CONFIG_TIME, "10s",
	  "How long an IMAP session may sit in IDLE with nothing to send before its session process hands it (the client's connection and a small record of its state) to imap-hibernate, the one process that holds idle sessions, and is free for another client; the session is taken up again in a session process as soon as its folder changes or the client speaks.  0 = never.  A session with COMPRESS active stays in its process." },
	{ "imap_hibernate_limit", CONFIG_SIZE, "10000",
	  "Most IMAP sessions imap-hibernate holds at once (each costs a descriptor and a few hundred bytes; its descriptor limit, raised to the hard limit, bounds this too); sessions beyond it stay in IDLE in their session process." },
	{ "imap_line_limit", CONFIG_SIZE, "65536",
	  "Longest IMAP command line outside its literals, in bytes (RFC 7162 asks for at least 8192), and longest AUTHENTICATE response or line in IDLE; a longer one gets BAD [TOOBIG] as soon as it passes the limit, and the rest of it is dropped as it arrives.  Taken as at least 8192 and at most 16 MiB." },
	{ "login_proxy_limit", CONFIG_SIZE, "256",
	  "Most TLS clients one POP3 or IMAP login process (pop3s, imaps, or pop3 and imap after STLS or STARTTLS) relays at once between their TLS session and their session process after login; each costs two descriptors and, while data flows, up to 32 KB.  With this many the process takes no new client and the master starts another one, up to the service's maxproc (1 to 100000; 0 means 1).  A relay ends when either side closes or after pop3_timeout (imap_timeout for IMAP) and a minute without a byte either way." },
	{ "auth_ticket_lifetime", CONFIG_TIME, "30s",
	  "How long a one-time login ticket that authd gives a login process stays valid before a session process redeems it (at most 1h)." },
	{ "auth_failure_window", CONFIG_TIME, "15m",
	  "authd forgets the failed logins of a client address or user when the last one is older than this." },
	{ "auth_failure_limit_client", CONFIG_SIZE, "10",
	  "Failed logins from one client address within auth_failure_window after which authd refuses every login from it without trying the password (0 = no limit)." },
	{ "auth_failure_limit_user", CONFIG_SIZE, "30",
	  "Failed logins for one existing user within auth_failure_window after which authd refuses every login as that user without trying the password (0 = no limit)." },
	{ "auth_cache_size", CONFIG_SIZE, "1000",
	  "Recent successful logins the authd processes remember, in one table they share (at most 1000000, 0 = none), so that a client logging in again with the same password is not made to wait for the password hash: an entry holds a keyed hash of user, stored hash and password under a secret the master makes at every start and reload and keeps only in memory, never the password.  An entry counts only while etc/users holds the same hash for the user (`postern user passwd` or `del` voids it at once); failures are never remembered and throttling counts them as before." },
	{ "auth_cache_ttl", CONFIG_TIME, "1h",
	  "How long an auth_cache_size entry is trusted after the password check that made it (0 = no cache)." },
	{ "ipc_timeout", CONFIG_TIME, "60s",
	  "Limit on any single exchange between two Postern processes." },
	{ "daemon_idle_timeout", CONFIG_TIME, "100s",
	  "An idle service process exits after waiting this long for a client; 0 means it waits for ever." },
	{ "daemon_max_use", CONFIG_SIZE, "100",
	  "Clients a service process serves before it exits and the master replaces it." },
	{ "master_stop_timeout", CONFIG_TIME, "30s",
	  "How long the master waits for its children to exit on stop before it kills them.  Idle IMAP and POP3 sessions do not count: they are told at once and end with their protocol's goodbye; this bounds clients in the middle of a command.  It also bounds how long a qmgr told to stop (a stop, a reload, a replaced domains map) waits for the answers of the deliveries under way before it leaves them to the next qmgr, which waits for it, and new mail with it." },
	{ "metrics_timeout", CONFIG_TIME, "10s",
	  "How long the metrics service (off unless its line in master.conf is enabled, see docs/metrics.md) waits for a scraper's whole request, and then for it to take the whole answer; a slower client is closed unanswered." },
	{ "metrics_queue_scan_limit", CONFIG_SIZE, "100000",
	  "Most entries the metrics service (at each scrape) and postern status read in each queue directory (incoming, active, deferred, hold); a directory with more is counted up to this and reported as capped." },
	{ "log_file", CONFIG_STR, "",
	  "Where every Postern process logs: empty means syslog (mail facility; stderr with start -f); a path (relative to DIR) makes the master append each line, in the format syslog daemons write (Mmm dd hh:mm:ss host postern/SERVICE[pid]: text, postern being syslog_name), to that file, reopened on SIGHUP (postern reload) for log rotation; - means the master's stderr." },
	{ "syslog_name", CONFIG_STR, "postern",
	  "The first part of every log line's tag, SYSLOG_NAME/SERVICE[pid] (as Postfix's syslog_name): 1 to 63 letters, digits and ._-/ characters.  Tools that only know Postfix's name (prometheus-postfix-exporter) read the log with postfix here; pflogsumm takes --syslog-name=postern instead." },
	{ "relayhost", CONFIG_STR, "",
	  "Send all non-local mail through this server instead of the recipients' MX hosts: host (its MX records are looked up), [host] (its addresses only), either with :port; empty means deliver directly." },
	{ "dns_servers", CONFIG_STR, "",
	  "DNS resolvers of the remote delivery agent and of the SMTP server's SPF checks and DKIM key lookups as numeric host[:port] or [IPv6]:port, separated by spaces or commas; empty means those of the system's resolv.conf (read at start)." },
	{ "dns_timeout", CONFIG_TIME, "5s",
	  "How long the remote delivery agent (and the SPF check, and a DKIM key lookup) waits for one DNS answer before it asks again or the next resolver." },
	{ "dns_tries", CONFIG_SIZE, "2",
	  "How often a DNS query is sent to each resolver before the lookup counts as a temporary failure (remote delivery defers the mail; an SPF check says temperror)." },
	{ "remote_smtp_port", CONFIG_SIZE, "25",
	  "TCP port of the SMTP servers that the remote delivery agent connects to for MX hosts and relayhost without a port." },
	{ "remote_helo_name", CONFIG_STR, "",
	  "Name the remote delivery agent gives in EHLO/HELO; empty means myhostname." },
	{ "remote_address_family", CONFIG_STR, "any",
	  "Address families the remote delivery agent connects over: any (IPv6 and IPv4 alternating, IPv6 first), ipv4 or ipv6." },
	{ "remote_address_limit", CONFIG_SIZE, "5",
	  "Most server addresses (over all MX hosts) the remote delivery agent tries for one delivery before it defers the rest." },
	{ "remote_session_limit", CONFIG_SIZE, "2",
	  "Most SMTP sessions that got past the greeting but broke off, per delivery, before the remote delivery agent defers the rest." },
	{ "remote_connect_timeout", CONFIG_TIME, "30s",
	  "How long the remote delivery agent waits for a TCP connection to a server before it tries the next address." },
	{ "remote_greeting_timeout", CONFIG_TIME, "300s",
	  "How long the remote delivery agent waits for a server's 220 greeting (RFC 5321 4.5.3.2.1: 5 minutes)." },
	{ "remote_helo_timeout", CONFIG_TIME, "300s",
	  "How long the remote delivery agent waits for the reply to EHLO, HELO and AUTH." },
	{ "remote_starttls_timeout", CONFIG_TIME, "300s",
	  "How long the remote delivery agent waits for the reply to STARTTLS and for each step of the TLS handshake (the whole handshake: tls_handshake_timeout)." },
	{ "remote_mail_timeout", CONFIG_TIME, "300s",
	  "How long the remote delivery agent waits for the reply to MAIL FROM (RFC 5321 4.5.3.2.2: 5 minutes)." },
	{ "remote_rcpt_timeout", CONFIG_TIME, "300s",
	  "How long the remote delivery agent waits for the reply to each RCPT TO (RFC 5321 4.5.3.2.3: 5 minutes)." },
	{ "remote_data_init_timeout", CONFIG_TIME, "120s",
	  "How long the remote delivery agent waits for the 354 reply to DATA (RFC 5321 4.5.3.2.4: 2 minutes)." },
	{ "remote_data_block_timeout", CONFIG_TIME, "180s",
	  "How long the remote delivery agent waits for the server to take each block of message data (RFC 5321 4.5.3.2.5: 3 minutes)." },
	{ "remote_data_done_timeout", CONFIG_TIME, "600s",
	  "How long the remote delivery agent waits for the reply to the final dot (RFC 5321 4.5.3.2.6: 10 minutes); on timeout the recipients are deferred and may receive the message twice." },
	{ "remote_rset_timeout", CONFIG_TIME, "20s",
	  "How long the remote delivery agent waits for the reply to RSET before reusing a session." },
	{ "remote_quit_timeout", CONFIG_TIME, "10s",
	  "How long the remote delivery agent waits for the reply to QUIT before it closes the connection." },
	{ "remote_tls_security_level", CONFIG_STR, "may",
	  "Default TLS policy of the remote delivery agent: none (never STARTTLS), may (STARTTLS when offered, any certificate), encrypt (TLS required, any certificate) or verify (TLS required, chain and host name checked); a failed requirement defers." },
	{ "remote_tls_policy_map", CONFIG_STR, "tls_policy",
	  "Map (NAME or NAME.cdb relative to DIR/etc, or absolute: the text map NAME compiled into NAME.cdb by postern map) from a destination domain, the relayhost value as written (e.g. [relay.example]:587, as Postfix keys it) or its host name to its TLS policy (none, may, encrypt, verify); a missing file means remote_tls_security_level everywhere." },
	{ "remote_tls_ca_file", CONFIG_STR, "/etc/ssl/certs/ca-certificates.crt",
	  "PEM bundle of the CA certificates that policy verify trusts, loaded at start; empty means the OpenSSL default store (which may not be readable after the chroot)." },
	{ "remote_auth_map", CONFIG_STR, "relay_passwords",
	  "Map (named as remote_tls_policy_map) from the relayhost value as written (or its host name) to user:password for AUTH PLAIN or LOGIN; a missing file means no AUTH.  It holds passwords: chmod 600 the text map; postern map gives the .cdb its mode and owner, and postern check reports it as a problem while either is readable by others." },
	{ "remote_auth_plaintext", CONFIG_BOOL, "no",
	  "Let the remote delivery agent send AUTH credentials over a connection without TLS." },
	{ "remote_connection_reuse_time", CONFIG_TIME, "5s",
	  "How long the remote delivery agent keeps an idle SMTP session open for the next message to the same destination (0 = a new connection per message)." },
	{ "remote_connection_reuse_limit", CONFIG_SIZE, "100",
	  "Most messages the remote delivery agent sends over one SMTP session." },
	{ "remote_connection_cache_limit", CONFIG_SIZE, "8",
	  "Most idle SMTP sessions one remote delivery process keeps open (at most 64)." },
	{ "remote_destination_concurrency_limit", CONFIG_SIZE, "20",
	  "Most SMTP sessions, open or idle, to one destination across all remote delivery processes; a delivery waits up to remote_connect_timeout for a free one, then defers (0 = no limit)." },
	{ "recipient_delimiter", CONFIG_STR, "+",
	  "Characters that separate a local part from its extension (user+tag@domain is delivered to user, into the Maildir++ folder .tag when it exists); empty disables extensions." },
	{ "hopcount_limit", CONFIG_SIZE, "50",
	  "A message with more Received headers than this is a mail loop and is bounced (5.4.6) by local delivery; 0 disables the check." },
	{ "alias_nesting_limit", CONFIG_SIZE, "10",
	  "How many levels of aliases local delivery expands before it gives up with 5.4.6 (nesting this deep is taken for a loop)." },
	{ "alias_expansion_limit", CONFIG_SIZE, "1000",
	  "Most targets (mailboxes, forwards, commands) one recipient may expand to through aliases; more is refused with 5.3.0." },
	{ "mailbox_quota", CONFIG_SIZE, "0",
	  "Largest size in bytes of one Maildir++ mailbox, all folders counted, kept in its maildirsize file (k/m/g suffixes); 0 means no quota.  A mailbox listed in the map etc/quota (ADDRESS SIZE[,COUNT]) has that quota instead.  Local delivery defers or bounces what does not fit; IMAP APPEND and COPY answer NO [OVERQUOTA], and IMAP clients see it with GETQUOTAROOT (RFC 9208)." },
	{ "mailbox_quota_messages", CONFIG_SIZE, "0",
	  "Most messages in one Maildir++ mailbox, all folders counted (the Maildir++ count quota, the C of maildirsize); 0 means no limit.  An etc/quota entry SIZE,COUNT sets its own; an entry with SIZE alone keeps this one." },
	{ "mailbox_quota_action", CONFIG_STR, "defer",
	  "What local delivery does with a message that does not fit the quota: defer (4.2.2, retried until the queue lifetime ends) or bounce (5.2.2)." },
	{ "local_command_user", CONFIG_STR, "nobody",
	  "Unprivileged system user that runs |command targets of the aliases map when Postern runs as root." },
	{ "local_command_timeout", CONFIG_TIME, "60s",
	  "Longest run of one |command alias target; after it the command's process group is killed and the delivery deferred." },
	{ "lmtp_timeout", CONFIG_TIME, "300s",
	  "Limit on connecting to an LMTP server named in the transport map and on each of its replies." },
	{ "lmtp_verify_recipients", CONFIG_BOOL, "yes",
	  "Verify each recipient of a domain that etc/transport sends over LMTP when the SMTP client names it (RCPT), by asking the LMTP server through the verify service (LHLO, MAIL FROM:<>, RCPT TO, QUIT; no mail is sent): one it refuses gets 550, one it cannot answer for now 450/451, so that mail to unknown users is never accepted and then bounced to a possibly forged sender; no accepts every recipient of those domains and leaves the answer to delivery." },
	{ "lmtp_verify_timeout", CONFIG_TIME, "10s",
	  "Longest time one verification probe may take, connect to RCPT reply (at least 1s); a server that has not answered by then makes the recipient a temporary 451 4.4.2, and the SMTP client tries again later." },
	{ "lmtp_verify_positive_ttl", CONFIG_TIME, "1h",
	  "How long the answer of an LMTP server that took a recipient is remembered (DIR/run/verify.cache) and given without a new probe; 0 asks every time." },
	{ "lmtp_verify_negative_ttl", CONFIG_TIME, "10m",
	  "How long the answer of an LMTP server that refused a recipient (5xx) is remembered; 0 asks every time.  Temporary answers are never remembered." },
	{ "pickup_sender_domain", CONFIG_STR, "",
	  "Domain of the default sender user@DOMAIN that pickup gives mail submitted by a local user through sendmail; empty means myhostname." },
	{ "mailq_restrict", CONFIG_BOOL, "no",
	  "Whether only root and the queue owner may list the queue through pickup (mailq, sendmail -bp); no lets every local user see every queued message's envelope, as Postfix does." },
	/* DKIM signing (docs/dkim.md) */
	{ "dkim_signing", CONFIG_BOOL, "yes",
	  "Sign submitted mail (SMTP AUTH on 587/465, sendmail) with DKIM when etc/dkim_keys has a key for the domain of its From (or a parent domain); mail received unauthenticated is never signed." },
	{ "dkim_signed_headers", CONFIG_STR, "from reply-to subject date to cc resent-date resent-from resent-to resent-cc in-reply-to references list-id list-help list-unsubscribe list-subscribe list-post list-owner list-archive message-id mime-version content-type content-transfer-encoding",
	  "Header fields a DKIM signature covers (h=), each once per occurrence; from, reply-to, subject, date, to and cc once more, so that none can be added (RFC 6376 8.15)." },
	{ "dkim_canonicalization", CONFIG_STR, "relaxed/relaxed",
	  "DKIM canonicalization header/body (c=): relaxed/relaxed, relaxed/simple, simple/relaxed or simple/simple." },
	{ "dkim_signature_ttl", CONFIG_TIME, "0",
	  "Validity of a DKIM signature (x= = t= + this); 0 writes no x=." },
	{ "dkim_sign_timeout", CONFIG_TIME, "10s",
	  "How long enqueue waits for each answer of the dkim-sign service; then signing has failed (dkim_sign_failure).  Keep it well below ipc_timeout, which bounds the whole exchange of smtpd or pickup with enqueue." },
	{ "dkim_sign_failure", CONFIG_STR, "tempfail",
	  "What enqueue does when a message should be signed and the dkim-sign service does not answer: tempfail (the client retries; nothing leaves unsigned) or accept (queued unsigned, with a warning)." },
	{ "dkim_key_limit", CONFIG_SIZE, "1000",
	  "Most lines of etc/dkim_keys the dkim-sign service loads; a longer map is refused." },
	{ "dkim_prepend_slot", CONFIG_SIZE, "4096",
	  "Bytes reserved in a queue file for the header fields written before the message once its data is in (DKIM-Signature, and the Authentication-Results field of verified mail); a signature that does not fit is a signing failure (dkim_sign_failure).  At least 1024, at most 16384 (the decoded fields are at most 4096 bytes)." },
	{ "dkim_verify", CONFIG_BOOL, "yes",
	  "Verify the DKIM signatures (RFC 6376, RFC 8463; no rsa-sha1 and no RSA key under 1024 bits, RFC 8301) of mail from unauthenticated clients on the SMTP port (25); the results (dkim=pass, fail, neutral, policy, temperror, permerror, or none without a signature) join the Authentication-Results header (authserv_id), which such mail then gets in the queue file's prepend slot, above our Received header.  Keys are looked up with dns_servers.  Verification never refuses mail." },
	{ "dkim_verify_skip_addresses", CONFIG_STR, "127.0.0.0/8 ::1/128",
	  "Clients whose mail is not DKIM-verified, as CIDR blocks separated by spaces or commas (local software re-injecting mail); mynetworks and authenticated clients are never verified either.  Their mail keeps the Authentication-Results field of SPF alone, right below our Received header." },
	{ "dkim_verify_signature_limit", CONFIG_SIZE, "5",
	  "Most DKIM-Signature fields verified per message (1 to 15); the ones after them are reported dkim=neutral (too many signatures)." },
	{ "dkim_dns_timeout", CONFIG_TIME, "10s",
	  "Longest time the key lookups of one message may take, counted from the end of its data; a key not found in that time makes its signature dkim=temperror.  Each query also waits at most dns_timeout, dns_tries times." },
	{ "dmarc_check", CONFIG_BOOL, "yes",
	  "Evaluate DMARC (RFC 7489) for the mail that is DKIM-verified (dkim_verify: port 25, clients outside mynetworks, not authenticated, not in dkim_verify_skip_addresses): the policy record of the From domain (or of its Organizational Domain) is looked up with dns_servers and the SPF and DKIM results are checked for alignment; the result (dmarc=pass, fail, none, temperror, permerror) joins the Authentication-Results header.  With dkim_verify = no nothing is evaluated." },
	{ "dmarc_enforce", CONFIG_BOOL, "no",
	  "Act on the policy of a domain whose mail fails DMARC: p=reject is answered 550 5.7.1 at the end of the data, p=quarantine as dmarc_quarantine says (as OpenDMARC's RejectFailures); no only records the result (dis=none).  A DNS error is never a refusal." },
	{ "dmarc_quarantine", CONFIG_STR, "hold",
	  "What dmarc_enforce does with mail that fails DMARC under p=quarantine (or p=reject outside its pct=): hold (into the hold queue, `postern queue release` lets it go on) or mark (delivered, dis=quarantine in Authentication-Results for filters to act on)." },
	{ "dmarc_public_suffix_list", CONFIG_STR, "/usr/share/publicsuffix/public_suffix_list.dat",
	  "The Public Suffix List (Debian package publicsuffix) that gives Organizational Domains (RFC 7489 3.2), read once by each SMTP server process at start (at most 8 MiB and 100000 rules); when it cannot be read, or the value is empty, the last two labels of a name are its Organizational Domain, with a warning." },
};

#define CONFIG_NKEYS (sizeof(config_table) / sizeof(config_table[0]))

/* Size and time keys with a smallest value: every limit is explicit
 * (DESIGN.md, Invariants), so these have no "0 means unlimited". */
static const struct {
	const char *name;
	unsigned long long min;
} config_minimum[] = {
	{ "message_size_limit", 1 },
	{ "lmtp_verify_timeout", 1 },
	{ "smtpd_client_rate_window", 1 },
	{ "smtpd_dnsbl_threshold", 1 },   /* seconds: a probe with no bound would hold an SMTP client */
	{ "dkim_prepend_slot", 1024 },  /* two RSA-4096 signatures */
	{ "dkim_sign_timeout", 1 },
	{ "dkim_verify_signature_limit", 1 },
	{ "dkim_dns_timeout", 1 },
};

/* Current values; NULL means the default. */
static char *config_values[CONFIG_NKEYS];
static char config_error[512];
static char config_hostname[256];
static char config_progdir[PATH_MAX];

/* ---- the table ---- */

/* Daemons look the same keys up per message, nearly always through the
 * same string literal: where a key pointer was last found is remembered
 * (a hit costs one strcmp instead of a search through every key, ~2% of
 * local's CPU under load), and checked, since a caller's buffer may hold
 * another key next time. */
#define CONFIG_INDEX_CACHE 64

static long config_index(const char *key)
{
	static struct { const char *key; long i; } cache[CONFIG_INDEX_CACHE];
	size_t slot = ((uintptr_t)key >> 3) % CONFIG_INDEX_CACHE;

	if (cache[slot].key == key && strcmp(config_table[cache[slot].i].name, key) == 0)
		return cache[slot].i;
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_table[i].name, key) == 0) {
			cache[slot].key = key;
			cache[slot].i = (long)i;
			return (long)i;
		}
	return -1;
}

static long config_index_n(const char *key, size_t len)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strlen(config_table[i].name) == len &&
		    memcmp(config_table[i].name, key, len) == 0)
			return (long)i;
	return -1;
}

static size_t config_must_index(const char *key, enum config_type type)
{
	long i = config_index(key);

	if (i < 0)
		log_panic("config: unknown key %s", key);
	if (config_table[i].type != type)
		log_panic("config: key %s read with the wrong type", key);
	return (size_t)i;
}

static const char *config_raw(size_t i)
{
	return config_values[i] != NULL ? config_values[i] : config_table[i].def;
}

static void config_free_values(char **values)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		free(values[i]);
		values[i] = NULL;
	}
}

void config_reset(void)
{
	config_free_values(config_values);
}

/* ---- value syntax ---- */

/* Decimal digits then at most one suffix letter; multiplier from unit(). */
static int config_parse_number(const char *s, size_t len,
			       unsigned long long (*unit)(char),
			       unsigned long long *value_r)
{
	unsigned long long v = 0, mul = 1;
	size_t i = 0;

	if (len == 0 || s[0] < '0' || s[0] > '9')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (__builtin_mul_overflow(v, 10ULL, &v) ||
		    __builtin_add_overflow(v, (unsigned long long)(s[i] - '0'), &v))
			return -1;
	}
	if (i < len) {
		if (i + 1 != len)
			return -1;
		mul = unit(s[i]);
		if (mul == 0)
			return -1;
	}
	if (__builtin_mul_overflow(v, mul, &v))
		return -1;
	*value_r = v;
	return 0;
}

static unsigned long long config_size_unit(char c)
{
	switch (c) {
	case 'k': case 'K': return 1024ULL;
	case 'm': case 'M': return 1024ULL * 1024;
	case 'g': case 'G': return 1024ULL * 1024 * 1024;
	default: return 0;
	}
}

static unsigned long long config_time_unit(char c)
{
	switch (c) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	case 'w': return 7 * 86400;
	default: return 0;
	}
}

static int config_parse_bool(const char *s, size_t len, int *value_r)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0) {
			*value_r = 1;
			return 0;
		}
		if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0) {
			*value_r = 0;
			return 0;
		}
	}
	return -1;
}

/* 0, or -1 with *why_r (in why) when key has a smallest value above v. */
static int config_check_minimum(const char *key, unsigned long long v, char *why, size_t whylen,
				const char **why_r)
{
	for (size_t k = 0; k < sizeof config_minimum / sizeof config_minimum[0]; k++) {
		if (strcmp(config_minimum[k].name, key) == 0 && v < config_minimum[k].min) {
			snprintf(why, whylen, "must be at least %llu", config_minimum[k].min);
			*why_r = why;
			return -1;
		}
	}
	return 0;
}

/* Whether s is a valid value for key i; *why_r names the expected form. */
static int config_check_value(size_t i, const char *s, size_t len, const char **why_r)
{
	static char why[64];
	unsigned long long v;
	int b;

	switch (config_table[i].type) {
	case CONFIG_STR:
		return 0;
	case CONFIG_SIZE:
		*why_r = "expected a number with optional k/m/g suffix";
		if (config_parse_number(s, len, config_size_unit, &v) < 0)
			return -1;
		return config_check_minimum(config_table[i].name, v, why, sizeof why, why_r);
	case CONFIG_TIME:
		*why_r = "expected a time with optional s/m/h/d/w suffix";
		if (config_parse_number(s, len, config_time_unit, &v) < 0)
			return -1;
		return config_check_minimum(config_table[i].name, v, why, sizeof why, why_r);
	case CONFIG_BOOL:
		*why_r = "expected yes or no";
		return config_parse_bool(s, len, &b);
	}
	*why_r = "bad type";
	return -1;
}

/* ---- the parser ---- */

struct config_parser {
	const char *name;
	char *values[CONFIG_NKEYS];   /* staged values */
	long cur;                     /* key of the logical line, -1 none */
	size_t cur_line;              /* its line number */
	struct buf value;             /* its value so far */
};

static int config_fail(const struct config_parser *p, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record "name:LINE: message"; the message names only our own table
 * entries, so the error buffer is large enough; the file name is
 * clipped at worst, which only shortens a diagnostic. */
static int config_fail(const struct config_parser *p, size_t line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(config_error, sizeof(config_error), "%s:%zu: %s", p->name, line, msg);
	return -1;
}

static int config_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static void config_trim(const char **s, size_t *len)
{
	while (*len > 0 && config_is_space((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && config_is_space((*s)[*len - 1]))
		(*len)--;
}

/* Finish the pending logical line: check its value and stage it. */
static int config_commit(struct config_parser *p)
{
	const char *why = "";
	size_t i;

	if (p->cur < 0)
		return 0;
	i = (size_t)p->cur;
	p->cur = -1;
	if (config_check_value(i, buf_cstr(&p->value), p->value.len, &why) < 0)
		return config_fail(p, p->cur_line, "bad value for %s: %s",
				   config_table[i].name, why);
	p->values[i] = strdup(buf_cstr(&p->value));
	if (p->values[i] == NULL)
		return config_fail(p, p->cur_line, "%s", "out of memory");
	return 0;
}

static int config_add_value(struct config_parser *p, size_t line, const char *s, size_t len)
{
	if (buf_append(&p->value, s, len) < 0)
		return config_fail(p, line, "%s", errno == EMSGSIZE ?
				   "value too long" : "out of memory");
	return 0;
}

static int config_continuation(struct config_parser *p, size_t line, const char *s, size_t len)
{
	if (p->cur < 0)
		return config_fail(p, line, "%s", "continuation line without a key");
	if (p->value.len > 0 && config_add_value(p, line, " ", 1) < 0)
		return -1;
	return config_add_value(p, line, s, len);
}

static int config_key_ok(const char *s, size_t len)
{
	if (len == 0 || len > CONFIG_KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int config_assignment(struct config_parser *p, size_t line, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	const char *key = s, *val;
	size_t klen, vlen;
	char kbuf[CONFIG_KEY_MAX + 1];
	long i;

	if (eq == NULL)
		return config_fail(p, line, "%s", "missing '=' in line");
	klen = (size_t)(eq - s);
	config_trim(&key, &klen);
	if (!config_key_ok(key, klen))
		return config_fail(p, line, "%s", "bad key name");
	i = config_index_n(key, klen);
	memcpy(kbuf, key, klen);
	kbuf[klen] = '\0';
	if (i < 0)
		return config_fail(p, line, "unknown key %s", kbuf);
	if (p->values[i] != NULL)
		return config_fail(p, line, "duplicate key %s", kbuf);
	val = eq + 1;
	vlen = (size_t)(s + len - val);
	config_trim(&val, &vlen);
	p->cur = i;
	p->cur_line = line;
	buf_reset(&p->value);
	return config_add_value(p, line, val, vlen);
}

/* One physical line (without its LF, CR stripped). */
static int config_line(struct config_parser *p, size_t line, const char *s, size_t len)
{
	const char *t = s;
	size_t tlen = len;

	config_trim(&t, &tlen);
	if (tlen == 0 || t[0] == '#')
		return 0;
	if (memchr(s, '\0', len) != NULL)
		return config_fail(p, line, "%s", "NUL byte in line");
	if (config_is_space(s[0]))
		return config_continuation(p, line, t, tlen);
	if (config_commit(p) < 0)
		return -1;
	return config_assignment(p, line, t, tlen);
}

static int config_parse_lines(struct config_parser *p, const char *text, size_t len)
{
	size_t pos = 0, line = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t llen = end - pos;

		line++;
		if (llen > 0 && text[pos + llen - 1] == '\r')
			llen--;
		if (config_line(p, line, text + pos, llen) < 0)
			return -1;
		pos = nl != NULL ? end + 1 : len;
	}
	return config_commit(p);
}

int config_parse(const char *name, const char *text, size_t len, const char **error_r)
{
	struct config_parser p;
	int r;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.cur = -1;
	buf_init(&p.value, CONFIG_VALUE_MAX);
	if (len > CONFIG_FILE_MAX)
		r = config_fail(&p, 0, "%s", "file larger than 1 MiB");
	else
		r = config_parse_lines(&p, text, len);
	buf_free(&p.value);
	if (r < 0) {
		config_free_values(p.values);
		*error_r = config_error;
		return -1;
	}
	/* All or nothing: only a fully valid file replaces the settings. */
	config_reset();
	memcpy(config_values, p.values, sizeof(config_values));
	return 0;
}

int config_load(const char *path, const char **error_r)
{
	struct buf text;
	int r;

	buf_init(&text, CONFIG_FILE_MAX);
	if (file_read_all(path, 0, &text, CONFIG_FILE_MAX) < 0) {
		snprintf(config_error, sizeof(config_error), "%s:0: %s", path,
			 errno == EFBIG || errno == EMSGSIZE ? "file larger than 1 MiB" : strerror(errno));
		buf_free(&text);
		*error_r = config_error;
		return -1;
	}
	r = config_parse(path, buf_cstr(&text), text.len, error_r);
	buf_free(&text);
	return r;
}

/* ---- getters ---- */

static const char *config_resolve_hostname(void)
{
	if (config_hostname[0] == '\0') {
		if (gethostname(config_hostname, sizeof(config_hostname)) < 0 ||
		    memchr(config_hostname, '\0', sizeof(config_hostname)) == NULL)
			log_fatal("config: cannot determine the host name; set myhostname");
	}
	return config_hostname;
}

static const char *config_resolve_progdir(void)
{
	if (config_progdir[0] == '\0' && layout_program_dir(config_progdir, sizeof(config_progdir)) < 0)
		log_fatal("config: cannot find the program directory (%s); set program_directory",
			  strerror(errno));
	return config_progdir;
}

const char *config_str(const char *key)
{
	size_t i = config_must_index(key, CONFIG_STR);
	const char *v = config_raw(i);

	if (v[0] == '\0' && strcmp(key, "myhostname") == 0)
		return config_resolve_hostname();
	if (v[0] == '\0' && strcmp(key, "program_directory") == 0)
		return config_resolve_progdir();
	return v;
}

int config_parse_size(const char *s, size_t len, unsigned long long *value_r)
{
	return config_parse_number(s, len, config_size_unit, value_r);
}

unsigned long long config_size(const char *key)
{
	size_t i = config_must_index(key, CONFIG_SIZE);
	const char *v = config_raw(i);
	unsigned long long n;

	if (config_parse_number(v, strlen(v), config_size_unit, &n) < 0)
		log_panic("config: bad stored value for %s", key);
	return n;
}

unsigned long long config_time(const char *key)
{
	size_t i = config_must_index(key, CONFIG_TIME);
	const char *v = config_raw(i);
	unsigned long long n;

	if (config_parse_number(v, strlen(v), config_time_unit, &n) < 0)
		log_panic("config: bad stored value for %s", key);
	return n;
}

int config_bool(const char *key)
{
	size_t i = config_must_index(key, CONFIG_BOOL);
	const char *v = config_raw(i);
	int b;

	if (config_parse_bool(v, strlen(v), &b) < 0)
		log_panic("config: bad stored value for %s", key);
	return b;
}

const char *config_default(const char *key)
{
	long i = config_index(key);

	return i < 0 ? NULL : config_table[i].def;
}

const char *config_setting(const char *key)
{
	long i = config_index(key);

	return i < 0 ? NULL : config_values[i];
}

int config_check(const char *key, const char *value, const char **error_r)
{
	long i = config_index(key);
	const char *why = "";

	if (i < 0) {
		snprintf(config_error, sizeof(config_error), "unknown key %.*s", CONFIG_KEY_MAX, key);
		*error_r = config_error;
		return -1;
	}
	if (strlen(value) > CONFIG_VALUE_MAX || strchr(value, '\n') != NULL) {
		snprintf(config_error, sizeof(config_error), "bad value for %s: %s", key,
			 strchr(value, '\n') != NULL ? "a newline in a value" : "value too long");
		*error_r = config_error;
		return -1;
	}
	if (config_check_value((size_t)i, value, strlen(value), &why) < 0) {
		snprintf(config_error, sizeof(config_error), "bad value for %s: %s", key, why);
		*error_r = config_error;
		return -1;
	}
	return 0;
}

void config_each(void (*fn)(const char *key, const char *value, const char *doc, void *arg), void *arg)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const char *v = config_table[i].type == CONFIG_STR ?
			config_str(config_table[i].name) : config_raw(i);
		fn(config_table[i].name, v, config_table[i].doc, arg);
	}
}

void config_each_default(void (*fn)(const char *key, const char *value, const char *doc, void *arg), void *arg)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		fn(config_table[i].name, config_table[i].def, config_table[i].doc, arg);
}

/* Only [a-z0-9_-] plus extra: master.cf names end up in argv[0], paths
 * and log lines. */
int config_word_ok(const char *s, const char *extra)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '-' && *s != '_' && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

int config_list_next(const char *v, size_t len, size_t *pos, const char **item_r, size_t *n_r)
{
	size_t i = *pos, w;

	while (i < len && (v[i] == ' ' || v[i] == ',' || v[i] == '\t'))
		i++;
	w = i;
	while (i < len && v[i] != ' ' && v[i] != ',' && v[i] != '\t')
		i++;
	*pos = i;
	*item_r = v + w;
	*n_r = i - w;
	return i > w;
}
