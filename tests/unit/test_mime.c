/* Unit tests for common/mime.c: the part tree (offsets, wire sizes,
 * line counts), Content-* fields and their defaults, RFC 2231
 * parameters, boundaries (preamble, epilogue, trailing white space,
 * missing close delimiter), message/rfc822, LF against CRLF, every hard
 * limit, and the CTE decoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mime.h"

static struct mime_message *parse(const char *s, size_t len)
{
	struct mime_message *m;
	const char *error;

	assert_int_equal(mime_parse(s, len, &m, &error), 0);
	return m;
}

static struct mime_message *parse_str(const char *s)
{
	return parse(s, strlen(s));
}

/* The bytes of a region as a C string (static buffer). */
static const char *region_text(const struct mime_message *m, const struct mime_region *r)
{
	static char text[4096];

	assert_true(r->size < sizeof(text));
	memcpy(text, m->data + r->offset, r->size);
	text[r->size] = '\0';
	return text;
}

static void assert_str(const struct mime_str *s, const char *want)
{
	if (want == NULL) {
		assert_null(s->p);
		return;
	}
	assert_non_null(s->p);
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->p, want, s->len);
}

static void test_mime_simple_message_regions(void **state)
{
	static const char msg[] = "Subject: x\nFrom: a@b\n\nline 1\nline 2\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *r = m->root;

	(void)state;
	assert_int_equal(m->n_parts, 1);
	assert_int_equal(r->header.offset, 0);
	assert_int_equal(r->header.size, 22);        /* both fields and the blank line */
	assert_int_equal(r->header.wire_size, 25);
	assert_int_equal(r->header.lines, 3);
	assert_int_equal(r->body.offset, 22);
	assert_string_equal(region_text(m, &r->body), "line 1\nline 2\n");
	assert_int_equal(r->body.wire_size, 16);
	assert_int_equal(r->body.lines, 2);
	assert_true(r->flags & MIME_PART_DEFAULT_TYPE);
	assert_true(r->flags & MIME_PART_EMBEDDED);
	assert_str(&r->type, "text");
	assert_str(&r->subtype, "plain");
	assert_int_equal(r->n_params, 0);
	mime_message_free(&m);
	assert_null(m);
}

static void test_mime_header_only_and_empty(void **state)
{
	struct mime_message *m = parse_str("Subject: no blank line");

	(void)state;
	assert_int_equal(m->root->header.size, 22);
	assert_int_equal(m->root->body.offset, 22);
	assert_int_equal(m->root->body.size, 0);
	mime_message_free(&m);
	m = parse("", 0);
	assert_int_equal(m->root->header.size, 0);
	assert_int_equal(m->root->body.size, 0);
	assert_str(&m->root->type, "text");
	mime_message_free(&m);
}

static void test_mime_multipart_preamble_epilogue(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		"preamble\n--b\n\nfirst\n--b\nContent-Type: text/html\n\n<p>\n\n--b--\nepilogue\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *r = m->root, *c1, *c2;

	(void)state;
	assert_true(r->flags & MIME_PART_MULTIPART);
	assert_int_equal(r->n_children, 2);
	assert_int_equal(m->n_parts, 3);
	c1 = mime_part_child(r, 1);
	c2 = mime_part_child(r, 2);
	assert_null(mime_part_child(r, 3));
	assert_null(mime_part_child(r, 0));
	assert_ptr_equal(c1->next, c2);
	assert_ptr_equal(c1->parent, r);
	assert_int_equal(c1->depth, 1);
	assert_string_equal(region_text(m, &c1->header), "\n");
	/* the line end before a boundary belongs to the boundary */
	assert_string_equal(region_text(m, &c1->body), "first");
	assert_int_equal(c1->body.lines, 0);
	assert_string_equal(region_text(m, &c2->header), "Content-Type: text/html\n\n");
	assert_string_equal(region_text(m, &c2->body), "<p>\n");
	assert_str(&c2->subtype, "html");
	/* the root's body runs to the end: preamble and epilogue included */
	assert_int_equal(r->body.offset + r->body.size, strlen(msg));
	mime_message_free(&m);
}

static void test_mime_boundary_with_trailing_white_space_and_no_close(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=zz\n\n"
		"--zz \t\n\nA\n--zz  \nContent-Type: text/plain\n\nB, never closed\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *c2;

	(void)state;
	assert_int_equal(m->root->n_children, 2);
	assert_string_equal(region_text(m, &mime_part_child(m->root, 1)->body), "A");
	c2 = mime_part_child(m->root, 2);
	/* no close delimiter: the last part runs to the end of the message */
	assert_string_equal(region_text(m, &c2->body), "B, never closed\n");
	assert_int_equal(c2->body.lines, 1);
	mime_message_free(&m);
}

static void test_mime_outer_boundary_closes_inner_parts(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=o\n\n"
		"--o\nContent-Type: multipart/related; boundary=i\n\n--i\n\nin\n--o\n\nafter\n--o--\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *inner = mime_part_child(m->root, 1);

	(void)state;
	assert_int_equal(m->root->n_children, 2);
	assert_int_equal(inner->n_children, 1);
	assert_string_equal(region_text(m, &inner->children->body), "in");
	assert_string_equal(region_text(m, &mime_part_child(m->root, 2)->body), "after");
	mime_message_free(&m);
}

static void test_mime_close_delimiter_keeps_its_line_end(void **state)
{
	/* as Dovecot: the inner multipart's body ends after "--b2--\n" */
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\n\nx\n--b2--\n--b--\n";
	struct mime_message *m = parse_str(msg);

	(void)state;
	assert_string_equal(region_text(m, &mime_part_child(m->root, 1)->body), "--b2\n\nx\n--b2--\n");
	mime_message_free(&m);
}

static void test_mime_header_cut_by_boundary(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: text/html\n--b\nContent-Type: text/plain\n\n--b--\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *c1 = mime_part_child(m->root, 1), *c2 = mime_part_child(m->root, 2);

	(void)state;
	assert_string_equal(region_text(m, &c1->header), "Content-Type: text/html");
	assert_int_equal(c1->body.size, 0);
	assert_str(&c1->subtype, "html");
	/* Dovecot: BODY[2.MIME] is the field without the blank line's CRLF */
	assert_string_equal(region_text(m, &c2->header), "Content-Type: text/plain\n");
	assert_int_equal(c2->body.size, 0);
	mime_message_free(&m);
}

static void test_mime_boundary_prefix_match_and_missing(void **state)
{
	struct mime_message *m;

	(void)state;
	/* "--bXYZ" starts with the boundary: a delimiter line (as Dovecot) */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n--bXYZ\n\nA\n--b\n\nB\n--b--\n");
	assert_int_equal(m->root->n_children, 2);
	mime_message_free(&m);
	/* no boundary parameter: a multipart without children */
	m = parse_str("Content-Type: multipart/mixed\n\n--b\n\nA\n");
	assert_true(m->root->flags & MIME_PART_MULTIPART);
	assert_int_equal(m->root->n_children, 0);
	mime_message_free(&m);
	/* boundary never seen */
	m = parse_str("Content-Type: multipart/mixed; boundary=q\n\nhello\n");
	assert_int_equal(m->root->n_children, 0);
	assert_string_equal(region_text(m, &m->root->body), "hello\n");
	mime_message_free(&m);
}

static void test_mime_message_rfc822_is_parsed(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: message/rfc822\n\n"
		"Subject: inner\nContent-Type: multipart/alternative; boundary=b2\n\n"
		"--b2\n\nx\n--b2\nContent-Type: text/html\n\n<b>\n--b2--\n--b1--\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *r = mime_part_child(m->root, 1), *e;

	(void)state;
	assert_true(r->flags & MIME_PART_MESSAGE);
	assert_int_equal(r->n_children, 1);
	e = r->children;
	assert_true(e->flags & MIME_PART_EMBEDDED);
	assert_true(e->flags & MIME_PART_MULTIPART);
	assert_int_equal(e->depth, 2);
	assert_int_equal(e->n_children, 2);
	assert_int_equal(e->header.offset, r->body.offset);
	assert_int_equal(e->body.offset + e->body.size, r->body.offset + r->body.size);
	assert_string_equal(region_text(m, &e->header),
			    "Subject: inner\nContent-Type: multipart/alternative; boundary=b2\n\n");
	/* Dovecot: message part 125 bytes and 11 lines on the wire */
	assert_int_equal(r->body.wire_size, 125);
	assert_int_equal(r->body.lines, 11);
	assert_int_equal(m->n_parts, 5);
	mime_message_free(&m);
}

static void test_mime_digest_defaults_to_message(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody\n"
		"--d\nContent-Type: text/plain\n\nx\n--d--\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *c1 = mime_part_child(m->root, 1);

	(void)state;
	assert_str(&c1->type, "message");
	assert_str(&c1->subtype, "rfc822");
	assert_true(c1->flags & MIME_PART_DEFAULT_TYPE);
	assert_true(c1->flags & MIME_PART_MESSAGE);
	assert_non_null(c1->children);
	assert_str(&mime_part_child(m->root, 2)->type, "text");
	mime_message_free(&m);
}

static void test_mime_content_fields(void **state)
{
	static const char msg[] =
		"Content-Type: TEXT/Plain (comment) ; Charset = \"utf\\-8\" (c2); name=\"a;b\"\n"
		"Content-Type: text/html\n"
		"content-transfer-encoding: Quoted-Printable\n"
		"Content-ID:  <id@x>  \n"
		"Content-Description: a\n  folded description\n"
		"Content-MD5: Q2hlY2s=\n"
		"Content-Location: http://x/y\n"
		"Content-Disposition: ATTACHMENT; filename=\"r.pdf\"; size=10\n"
		"Content-Language: en (english), de-CH\n\nx\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *r = m->root;
	size_t len;

	(void)state;
	assert_str(&r->type, "TEXT");               /* case kept */
	assert_str(&r->subtype, "Plain");
	assert_false(r->flags & MIME_PART_DEFAULT_TYPE);
	assert_int_equal(r->n_params, 2);           /* the second Content-Type is ignored */
	assert_str(&r->params[0].name, "Charset");
	assert_str(&r->params[0].value, "utf-8");
	assert_str(&r->params[1].value, "a;b");
	assert_string_equal(mime_part_charset(r, &len), "utf-8");
	assert_str(&r->encoding, "Quoted-Printable");
	assert_int_equal(mime_cte_of(&r->encoding), MIME_CTE_QP);
	assert_str(&r->id, "<id@x>");
	assert_str(&r->description, "a  folded description");
	assert_str(&r->md5, "Q2hlY2s=");
	assert_str(&r->location, "http://x/y");
	assert_str(&r->disposition, "ATTACHMENT");
	assert_int_equal(r->n_disp_params, 2);
	assert_str(&mime_param_find(r->disp_params, r->n_disp_params, "FILENAME")->value, "r.pdf");
	assert_int_equal(r->n_languages, 2);
	assert_str(&r->languages[0], "en");
	assert_str(&r->languages[1], "de-CH");
	assert_true(mime_part_is(r, "text", "plain"));
	assert_false(mime_part_is(r, "text", "html"));
	mime_message_free(&m);
}

static void test_mime_invalid_type_is_text_plain(void **state)
{
	struct mime_message *m = parse_str("Content-Type: text; charset=x\n\nbody\n");
	size_t len;

	(void)state;
	assert_str(&m->root->type, "text");
	assert_str(&m->root->subtype, "plain");
	assert_true(m->root->flags & MIME_PART_DEFAULT_TYPE);
	assert_string_equal(mime_part_charset(m->root, &len), "us-ascii");
	mime_message_free(&m);
	m = parse_str("Content-Type: application/octet-stream\n\nx");
	assert_null(mime_part_charset(m->root, &len));
	mime_message_free(&m);
}

static const char *param(const struct mime_part *p, const char *name)
{
	const struct mime_param *pm = mime_param_find(p->params, p->n_params, name);

	return pm != NULL ? pm->value.p : NULL;
}

static void test_mime_rfc2231_parameters(void **state)
{
	static const char msg[] =
		"Content-Type: application/x;\n"
		" name*1=\" rates.txt\"; name*0*=utf-8''%E2%82%AC;\n"        /* out of order */
		" title*=iso-8859-1'en'caf%E9;\n"
		" plain=old; plain*=us-ascii''new;\n"                        /* the RFC 2231 form wins */
		" gap*0=a; gap*2=c;\n"                                       /* sections after a gap dropped */
		" odd*=utf-8''%C3;\n"                                        /* invalid UTF-8: kept encoded */
		" unk*=x-klingon'tlh'%41%ff;\n"
		" nocs*=%41%42\n\nx\n";
	struct mime_message *m = parse_str(msg);
	const struct mime_part *r = m->root;

	(void)state;
	assert_string_equal(param(r, "name"), "\xe2\x82\xac rates.txt");
	assert_string_equal(param(r, "title"), "caf\xc3\xa9");
	assert_string_equal(param(r, "plain"), "new");
	assert_string_equal(param(r, "gap"), "a");
	assert_null(param(r, "odd"));
	assert_string_equal(param(r, "odd*"), "utf-8''%C3");
	assert_string_equal(param(r, "unk*"), "x-klingon'tlh'A%FF");
	assert_string_equal(param(r, "nocs"), "AB");
	assert_int_equal(r->n_params, 7);
	assert_str(&r->params[0].name, "name");       /* order of first appearance */
	mime_message_free(&m);
}

/* The same message with LF and with CRLF: same wire sizes and lines. */
static void compare_trees(const struct mime_part *a, const struct mime_part *b)
{
	assert_int_equal(a->n_children, b->n_children);
	assert_int_equal(a->header.wire_size, b->header.wire_size);
	assert_int_equal(a->body.wire_size, b->body.wire_size);
	assert_int_equal(a->header.lines, b->header.lines);
	assert_int_equal(a->body.lines, b->body.lines);
	assert_int_equal(b->header.size, b->header.wire_size);   /* CRLF already */
	assert_int_equal(b->body.size, b->body.wire_size);
	for (a = a->children, b = b->children; a != NULL; a = a->next, b = b->next)
		compare_trees(a, b);
}

static void test_mime_lf_and_crlf_give_the_same_wire_sizes(void **state)
{
	static const char *const msgs[] = {
		"Subject: x\n\nhello\nworld\n",
		"Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\nA\n\n--b\n"
		"Content-Type: message/rfc822\n\nSubject: in\nContent-Type: multipart/alternative; "
		"boundary=c\n\n--c\n\nx\n--c--\n--b--\nepi\n",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b\n\n\n--b",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct buf crlf;
		struct mime_message *a, *b;

		buf_init(&crlf, 1 << 16);
		for (const char *p = msgs[i]; *p != '\0'; p++)
			assert_int_equal(*p == '\n' ? buf_append(&crlf, "\r\n", 2) : buf_putc(&crlf, *p), 0);
		a = parse_str(msgs[i]);
		b = parse(crlf.data, crlf.len);
		compare_trees(a->root, b->root);
		mime_message_free(&a);
		mime_message_free(&b);
		buf_free(&crlf);
	}
}

static void test_mime_limit_depth(void **state)
{
	struct buf msg;
	struct mime_message *m;
	const struct mime_part *p;
	unsigned int depth = 0;

	(void)state;
	buf_init(&msg, 1 << 20);
	for (int i = 0; i < MIME_MAX_DEPTH + 50; i++)
		assert_int_equal(buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%dx\n\n--b%dx\n", i, i), 0);
	assert_int_equal(buf_append_str(&msg, "\ntext\n"), 0);
	m = parse(msg.data, msg.len);
	assert_true(m->limits & MIME_LIMIT_DEPTH);
	for (p = m->root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, MIME_MAX_DEPTH - 1);
	/* the deepest part keeps the rest as its opaque body */
	assert_int_equal(p->body.offset + p->body.size, msg.len);
	assert_int_equal(p->n_children, 0);
	mime_message_free(&m);
	buf_free(&msg);
}

static void test_mime_limit_parts(void **state)
{
	struct buf msg;
	struct mime_message *m;
	const struct mime_part *last;

	(void)state;
	buf_init(&msg, 1 << 24);
	assert_int_equal(buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=b\n\n"), 0);
	for (int i = 0; i < MIME_MAX_PARTS + 10; i++)
		assert_int_equal(buf_printf(&msg, "--b\n\npart %d\n", i), 0);
	assert_int_equal(buf_append_str(&msg, "--b--\n"), 0);
	m = parse(msg.data, msg.len);
	assert_true(m->limits & MIME_LIMIT_PARTS);
	assert_int_equal(m->n_parts, MIME_MAX_PARTS);
	assert_int_equal(m->root->n_children, MIME_MAX_PARTS - 1);
	last = mime_part_child(m->root, MIME_MAX_PARTS - 1);
	assert_string_equal(region_text(m, &last->body), "part 9998");
	assert_int_equal(m->root->body.offset + m->root->body.size, msg.len);
	mime_message_free(&m);
	buf_free(&msg);
}

static void test_mime_limit_header_lines_params_field_size(void **state)
{
	struct buf msg;
	struct mime_message *m;

	(void)state;
	buf_init(&msg, 1 << 24);
	for (int i = 0; i < MIME_MAX_HEADER_LINES; i++)
		assert_int_equal(buf_printf(&msg, "X-%d: y\n", i), 0);
	assert_int_equal(buf_append_str(&msg, "Content-Type: text/html\n\nbody\n"), 0);
	m = parse(msg.data, msg.len);
	assert_true(m->limits & MIME_LIMIT_HEADER_LINES);
	assert_str(&m->root->subtype, "plain");       /* the Content-Type was past the limit */
	assert_string_equal(region_text(m, &m->root->body), "body\n");
	mime_message_free(&m);

	buf_reset(&msg);
	assert_int_equal(buf_append_str(&msg, "Content-Type: text/plain"), 0);
	for (int i = 0; i < MIME_MAX_PARAMS + 5; i++)
		assert_int_equal(buf_printf(&msg, "; p%d=%d", i, i), 0);
	assert_int_equal(buf_append_str(&msg, "\n\nx\n"), 0);
	m = parse(msg.data, msg.len);
	assert_true(m->limits & MIME_LIMIT_PARAMS);
	assert_int_equal(m->root->n_params, MIME_MAX_PARAMS);
	mime_message_free(&m);

	buf_reset(&msg);
	assert_int_equal(buf_append_str(&msg, "Content-Type: text/html; x=\""), 0);
	for (int i = 0; i < MIME_MAX_FIELD_SIZE; i++)
		assert_int_equal(buf_putc(&msg, 'a'), 0);
	assert_int_equal(buf_append_str(&msg, "\"\n\nx\n"), 0);
	m = parse(msg.data, msg.len);
	assert_true(m->limits & MIME_LIMIT_FIELD_SIZE);
	assert_true(m->root->flags & MIME_PART_DEFAULT_TYPE);
	mime_message_free(&m);
	buf_free(&msg);
}

static void test_mime_never_reads_past_length(void **state)
{
	static const char msg[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\n--b--\n";
	size_t n = strlen(msg);

	(void)state;
	/* every prefix, in an exact-size heap copy (ASan checks the reads) */
	for (size_t len = 0; len <= n; len++) {
		char *copy = malloc(len ? len : 1);
		struct mime_message *m;
		memcpy(copy, msg, len);
		m = parse(copy, len);
		assert_int_equal(m->root->body.offset + m->root->body.size, len);
		mime_message_free(&m);
		free(copy);
	}
}

static void test_mime_base64_decode(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 16);
	assert_int_equal(mime_base64_decode("aGVs\r\nbG8g d29y*bGQ=\nignored", 35, &out), 0);
	assert_string_equal(buf_cstr(&out), "hello world");
	assert_int_equal(mime_base64_decoded_size("aGVs\r\nbG8g d29y*bGQ=\nignored", 35), 11);
	buf_reset(&out);
	assert_int_equal(mime_base64_decode("YQ", 2, &out), 0);   /* padding missing */
	assert_string_equal(buf_cstr(&out), "a");
	buf_reset(&out);
	assert_int_equal(mime_base64_decode("YWI", 3, &out), 0);
	assert_string_equal(buf_cstr(&out), "ab");
	buf_free(&out);
	buf_init(&out, 2);
	assert_int_equal(mime_base64_decode("YWJj", 4, &out), -1);   /* the cap */
	buf_free(&out);
}

static void test_mime_qp_decode(void **state)
{
	static const char in[] = "soft=\nbreak =3D done  \r\nhard =\r\nx=4\n=ZZ tail\t";
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 16);
	assert_int_equal(mime_qp_decode(in, strlen(in), &out), 0);
	assert_string_equal(buf_cstr(&out), "softbreak = done\r\nhard x=4\r\n=ZZ tail");
	assert_int_equal(mime_qp_decoded_size(in, strlen(in)), out.len);
	buf_free(&out);
}

static void test_mime_arena(void **state)
{
	struct mime_arena a;
	char *big, *s;

	(void)state;
	mime_arena_init(&a);
	s = mime_arena_strdup(&a, "abc", 3);
	assert_string_equal(s, "abc");
	big = mime_arena_alloc(&a, 100000);
	assert_non_null(big);
	memset(big, 'x', 100000);
	assert_string_equal(s, "abc");       /* earlier allocations stay */
	assert_int_equal((size_t)big % sizeof(void *), 0);
	assert_null(mime_arena_alloc(&a, (size_t)-1));
	mime_arena_free(&a);
	assert_null(a.chunks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mime_simple_message_regions),
		cmocka_unit_test(test_mime_header_only_and_empty),
		cmocka_unit_test(test_mime_multipart_preamble_epilogue),
		cmocka_unit_test(test_mime_boundary_with_trailing_white_space_and_no_close),
		cmocka_unit_test(test_mime_outer_boundary_closes_inner_parts),
		cmocka_unit_test(test_mime_close_delimiter_keeps_its_line_end),
		cmocka_unit_test(test_mime_header_cut_by_boundary),
		cmocka_unit_test(test_mime_boundary_prefix_match_and_missing),
		cmocka_unit_test(test_mime_message_rfc822_is_parsed),
		cmocka_unit_test(test_mime_digest_defaults_to_message),
		cmocka_unit_test(test_mime_content_fields),
		cmocka_unit_test(test_mime_invalid_type_is_text_plain),
		cmocka_unit_test(test_mime_rfc2231_parameters),
		cmocka_unit_test(test_mime_lf_and_crlf_give_the_same_wire_sizes),
		cmocka_unit_test(test_mime_limit_depth),
		cmocka_unit_test(test_mime_limit_parts),
		cmocka_unit_test(test_mime_limit_header_lines_params_field_size),
		cmocka_unit_test(test_mime_never_reads_past_length),
		cmocka_unit_test(test_mime_base64_decode),
		cmocka_unit_test(test_mime_qp_decode),
		cmocka_unit_test(test_mime_arena),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
