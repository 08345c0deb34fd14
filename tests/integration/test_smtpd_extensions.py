"""smtpd: CHUNKING/BDAT, SMTPUTF8, DSN parameters, 8BITMIME and the
error replies of RFC 5321 (issue 3, items 1, 5, 8), on the wire."""

import re
import time

from postern_harness import PosternTestCase, RawSMTP, header_value


class SmtpdExtensions(PosternTestCase):

    def setUp(self):
        self.tree = self.start_tree()
        self.c = RawSMTP(self.tree.port("smtp"))
        self.addCleanup(self.c.close)
        self.assertEqual(self.c.read_reply()[0], 220)
        code, lines = self.cmd(b"EHLO client.example")
        self.assertEqual(code, 250)
        self.ehlo = [l.upper() for l in lines]

    def cmd(self, line):
        self.c.send(line + b"\r\n")
        return self.c.read_reply()

    def begin(self, mail=b"MAIL FROM:<a@example.org>", rcpt=None):
        self.assertEqual(self.cmd(mail)[0], 250)
        rcpt = rcpt or b"RCPT TO:<" + self.tree.addr("alice").encode() + b">"
        self.assertEqual(self.cmd(rcpt)[0], 250)

    def delivered(self, test_id, user="alice"):
        ids = self.tree.wait_ids(user, {test_id})
        self.assertEqual(ids.get(test_id), 1)
        for p in self.tree.message_paths(user):
            data = open(p, "rb").read()
            if header_value(data, "X-Test-Id") == test_id:
                return data
        self.fail("lost " + test_id)

    def test_ehlo_announces_every_extension(self):
        for ext in (b"PIPELINING", b"8BITMIME", b"ENHANCEDSTATUSCODES", b"DSN", b"SMTPUTF8",
                    b"CHUNKING", b"STARTTLS"):
            self.assertIn(ext, self.ehlo)

    def test_bdat_chunks_pipelined_and_stored_with_lf(self):
        self.begin()
        part1 = b"X-Test-Id: bdat-1\r\nSubject: chunks\r\n\r\nline one\r"
        part2 = b"\nline two\r\n.not stuffed\r\n"
        self.c.send(b"BDAT %d\r\n" % len(part1) + part1 + b"BDAT %d LAST\r\n" % len(part2) + part2)
        r1, r2 = self.c.read_reply(), self.c.read_reply()
        self.assertEqual(r1[0], 250, r1)
        self.assertEqual(r2[0], 250, r2)
        self.assertIn(b"queued as", r2[1][-1])
        data = self.delivered("bdat-1")
        self.assertIn(b"\n\nline one\nline two\n.not stuffed\n", data)
        self.assertNotIn(b"\r", data)

    def test_bdat_out_of_sequence_is_read_and_refused(self):
        self.c.send(b"BDAT 12\r\nRSET\r\nQUIT\r\nNOOP\r\n")
        code, lines = self.c.read_reply()
        self.assertEqual((code, lines[-1][:5]), (503, b"5.5.1"))
        self.assertEqual(self.c.read_reply()[0], 250, "the NOOP after the chunk, not its content")
        self.begin()
        self.c.send(b"BDAT 5\r\nabcde")
        self.assertEqual(self.c.read_reply()[0], 250)
        code, _ = self.cmd(b"DATA")
        self.assertEqual(code, 503, "DATA after BDAT")
        self.assertEqual(self.cmd(b"RSET")[0], 250)
        # a command refused between chunks is not the message's refusal
        # (its ID exists from the first chunk on)
        self.tree.wait_log(r"smtpd\[\d+\]: DATA from unknown\[127\.0\.0\.1\]: 503 ")
        self.assertNotIn("END-OF-MESSAGE", self.tree.log_text())

    def test_bdat_without_a_final_line_end_is_stored_with_one(self):
        # BDAT's data may end inside a line; the message is stored with a
        # line end, so that its size (W=) is what IMAP and POP3 send.
        self.begin()
        body = b"X-Test-Id: bdat-2\r\nSubject: x\r\n\r\nlast line"
        self.c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertEqual(self.c.read_reply()[0], 250)
        data = self.delivered("bdat-2")
        self.assertTrue(data.endswith(b"\n\nlast line\n"), data)
        path = [p for p in self.tree.message_paths("alice")][0]
        self.assertEqual(int(re.search(r",W=(\d+)", path).group(1)), len(data.replace(b"\n", b"\r\n")))

    def test_bdat_bare_lf_refused(self):
        self.begin()
        body = b"X-Test-Id: bdat-lf\r\n\r\nbare\nlf\r\n"
        self.c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        code, lines = self.c.read_reply()
        self.assertEqual((code, lines[-1][:5]), (550, b"5.5.2"))

    def test_bdat_bad_size_ends_session(self):
        code, _ = self.cmd(b"BDAT lots")
        self.assertEqual(code, 501)
        with self.assertRaises(EOFError):
            self.c.read_reply()

    def test_smtputf8_address_needs_the_parameter(self):
        code, lines = self.cmd("MAIL FROM:<jörg@example.org>".encode())
        self.assertEqual((code, lines[-1][:5]), (553, b"5.6.7"))
        self.begin(mail="MAIL FROM:<jörg@exämple.org> SMTPUTF8".encode())
        self.assertEqual(self.cmd(b"DATA")[0], 354)
        self.c.send("X-Test-Id: utf8-1\r\nSubject: Grüße\r\n\r\nÄ\r\n.\r\n".encode())
        self.assertEqual(self.c.read_reply()[0], 250)
        data = self.delivered("utf8-1")
        self.assertIn(b"with UTF8SMTP", data)
        self.assertIn("Grüße".encode(), data)

    def test_dsn_parameters_accepted_and_checked(self):
        self.begin(mail=b"MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ+2B314",
                   rcpt=b"RCPT TO:<" + self.tree.addr("alice").encode() +
                   b"> NOTIFY=failure,DELAY ORCPT=rfc822;alice+40example.test")
        code, _ = self.cmd(b"RCPT TO:<" + self.tree.addr("bob").encode() + b"> NOTIFY=NEVER,SUCCESS")
        self.assertEqual(code, 501)
        code, _ = self.cmd(b"RCPT TO:<" + self.tree.addr("bob").encode() + b"> ORCPT=rfc822;bad+zz")
        self.assertEqual(code, 501)
        self.assertEqual(self.cmd(b"DATA")[0], 354)
        self.c.send(b"X-Test-Id: dsn-1\r\n\r\nx\r\n.\r\n")
        self.assertEqual(self.c.read_reply()[0], 250)
        self.delivered("dsn-1")
        self.assertEqual(self.cmd(b"MAIL FROM:<a@example.org> RET=SOME")[0], 501)
        self.assertEqual(self.cmd(b"MAIL FROM:<a@example.org> ENVID=a=b")[0], 501)

    def test_body_8bitmime_taken_binarymime_not(self):
        self.assertEqual(self.cmd(b"MAIL FROM:<a@example.org> BODY=BINARYMIME")[0], 501)
        self.begin(mail=b"MAIL FROM:<a@example.org> BODY=8BITMIME")
        self.assertEqual(self.cmd(b"DATA")[0], 354)
        self.c.send(b"X-Test-Id: 8bit-1\r\n\r\n\xe9t\xe9\r\n.\r\n")
        self.assertEqual(self.c.read_reply()[0], 250)
        self.assertIn(b"\xe9t\xe9\n", self.delivered("8bit-1"))

    def test_error_replies_carry_their_codes(self):
        cases = [
            (b"FROB", 500, b"5.5.2"),
            (b"MAIL FROM:<no-at-all@>", 501, b"5.1.3"),
            (b"MAIL TO:<a@example.org>", 501, b"5.5.4"),
            (b"MAIL FROM:<a@example.org> FOO=bar", 555, b"5.5.4"),
        ]
        for line, code, enh in cases:
            got, lines = self.cmd(line)
            self.assertEqual((got, lines[-1][:5]), (code, enh), line)
        self.assertEqual(self.cmd(b"MAIL FROM:<a@example.org>")[0], 250)
        got, lines = self.cmd(b"RCPT TO:<bad address>")
        self.assertEqual((got, lines[-1][:5]), (501, b"5.1.3"))
        got, lines = self.cmd(b"RCPT TO:<nobody@example.test>")
        self.assertEqual((got, lines[-1][:5]), (550, b"5.1.1"))
        got, lines = self.cmd(b"RCPT TO:<x@elsewhere.example>")
        self.assertEqual((got, lines[-1][:5]), (554, b"5.7.1"))
        got, lines = self.cmd(b"STARTTLS now")
        self.assertEqual((got, lines[-1][:5]), (501, b"5.5.4"))
