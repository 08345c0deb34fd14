/* http_request: the bounded parser of one HTTP/1.0 or HTTP/1.1 request
 * head (RFC 9112), as the metrics service needs it: the request line
 * and the header lines up to the empty line, nothing else (no body, no
 * keep-alive).  It decides the answer's status; the caller writes it. */
#ifndef POSTERN_HTTP_REQUEST_H
#define POSTERN_HTTP_REQUEST_H

#include <stddef.h>

#define HTTP_REQUEST_MAX 8192      /* bytes of the head, the empty line included */
#define HTTP_HEADERS_MAX 64        /* header lines */
#define HTTP_TARGET_MAX 256        /* bytes of the request target */

struct http_request {
	int status;                   /* 200, 400, 404, 405 */
	int head;                     /* HEAD: the answer without its body */
	int openmetrics;              /* an Accept field names application/openmetrics-text */
	char path[HTTP_TARGET_MAX];   /* the target without its query, when status is 200 or 404 */
};

/* Parse the head at the start of (p, n).  1: complete (*r filled, its
 * status says what to answer); 0: no end of the head yet within n bytes
 * (read more, unless n has reached HTTP_REQUEST_MAX: then it is a 400);
 * the bytes after the head are ignored.  The only path served is the
 * one given (say "/metrics"); GET and HEAD are the only methods.  Of
 * the fields only Host (counted) and Accept (does it name OpenMetrics?)
 * are looked at. */
int http_request_parse(const char *p, size_t n, const char *served, struct http_request *r);
/* The reason phrase of a status this parser gives. */
const char *http_status_text(int status);

#endif
