"""`postern check` covers everything that can stop mail (issue 12, section
2): one broken thing per test, made in a fresh tree, gives its own line
"postern: check: ..." and exit 1; a warning (a certificate that expires
soon or is self-signed) is its own "postern: check: warning: ..." line
and leaves exit 0; a clean tree passes with exit 0."""

import datetime
import os
import socket
import unittest

from postern_harness import HOST, SELF_SIGNED_WARNING, PosternTestCase, is_root, wait_for

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError:   # Debian python3-cryptography (DEPS_PKGS)
    x509 = None

DAY = datetime.timedelta(days=1)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject_key, subject, issuer_key=None, issuer=None, before=-1, after=365, ca=False):
    """A certificate for subject_key named CN=subject, signed by issuer_key
    (itself when None), valid from now + before to now + after days."""
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or subject)]))
         .public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now + before * DAY)
         .not_valid_after(now + after * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                                          encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return b.sign(issuer_key or subject_key, hashes.SHA256())


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class PosternCheck(PosternTestCase):

    def tree(self, start=False):
        return self.start_tree(users=("alice",), start=start)

    def etc(self, t, *names):
        return os.path.join(t.dir, "etc", *names)

    def assert_problem(self, t, line):
        """check exits 1 and prints line (a whole line, prefix included)."""
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn(line + "\n", out)
        return out

    def write_pair(self, t, cert_pem, key_pem):
        with open(self.etc(t, "tls", "cert.pem"), "wb") as f:
            f.write(cert_pem)
        with open(self.etc(t, "tls", "key.pem"), "wb") as f:
            f.write(key_pem)

    def need_crypto(self):
        if x509 is None:
            self.skipTest("python3 cryptography is not installed (Debian python3-cryptography, in DEPS_PKGS)")

    # ---- a clean tree

    def test_a_fresh_tree_passes_with_only_the_self_signed_warning(self):
        t = self.tree()
        p = t.run("check", "-d", t.dir, check=False)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(p.stdout.decode(),
                         "postern: check: warning: tls_cert_file %s: %s: clients that verify cannot trust it "
                         "(replace it with one from a CA)\n" % (self.etc(t, "tls", "cert.pem"), SELF_SIGNED_WARNING))
        # And with its master running (the listeners answer).
        t.start()
        self.assertEqual(t.check(), (0, ""))

    def test_a_chain_from_a_trusted_ca_passes_without_any_warning(self):
        self.need_crypto()
        t = self.tree()
        ca_key, key = _key(), _key()
        ca = _cert(ca_key, "Test CA", ca=True)
        with open(self.etc(t, "ca.pem"), "wb") as f:
            f.write(_pem(ca))
        self.write_pair(t, _pem(_cert(key, "mx.example.test", ca_key, "Test CA")), _pem(key))
        t.set_conf(remote_tls_ca_file=self.etc(t, "ca.pem"))
        p = t.run("check", "-d", t.dir, check=False)
        self.assertEqual((p.returncode, p.stdout), (0, b""))

    # ---- TLS

    def test_certificate_from_an_unknown_ca(self):
        self.need_crypto()
        t = self.tree()
        ca_key, key = _key(), _key()
        self.write_pair(t, _pem(_cert(key, "mx.example.test", ca_key, "Unknown CA")), _pem(key))
        self.assert_problem(t, "postern: check: tls_cert_file %s: the chain does not verify "
                               "(unable to get local issuer certificate, certificate 0)"
                               % self.etc(t, "tls", "cert.pem"))

    def test_expired_certificate(self):
        self.need_crypto()
        t = self.tree()
        key = _key()
        self.write_pair(t, _pem(_cert(key, "mx.example.test", before=-30, after=-1)), _pem(key))
        self.assert_problem(t, "postern: check: tls_cert_file %s: the certificate has expired"
                            % self.etc(t, "tls", "cert.pem"))

    def test_certificate_not_valid_yet(self):
        self.need_crypto()
        t = self.tree()
        key = _key()
        self.write_pair(t, _pem(_cert(key, "mx.example.test", before=2, after=300)), _pem(key))
        self.assert_problem(t, "postern: check: tls_cert_file %s: the certificate is not valid yet"
                            % self.etc(t, "tls", "cert.pem"))

    def test_certificate_expiring_within_30_days_is_a_warning(self):
        self.need_crypto()
        t = self.tree()
        key = _key()
        self.write_pair(t, _pem(_cert(key, "mx.example.test", after=10.5)), _pem(key))
        code, out = t.check()
        self.assertEqual(code, 0, out)
        self.assertEqual(out, "postern: check: warning: tls_cert_file %s: the certificate expires in 10 days\n"
                         % self.etc(t, "tls", "cert.pem"))

    def test_key_that_does_not_match_the_certificate(self):
        self.need_crypto()
        t = self.tree()
        with open(self.etc(t, "tls", "key.pem"), "wb") as f:
            f.write(_pem(_key()))
        self.assert_problem(t, "postern: check: tls_key_file %s is not the key of tls_cert_file %s"
                            % (self.etc(t, "tls", "key.pem"), self.etc(t, "tls", "cert.pem")))

    def test_missing_or_garbled_key_and_certificate(self):
        t = self.tree()
        os.unlink(self.etc(t, "tls", "key.pem"))
        self.assert_problem(t, "postern: check: tls_key_file %s: No such file or directory"
                            % self.etc(t, "tls", "key.pem"))
        with open(self.etc(t, "tls", "cert.pem"), "w") as f:
            f.write("not a certificate\n")
        out = self.assert_problem(t, "postern: check: tls_key_file %s: No such file or directory"
                                  % self.etc(t, "tls", "key.pem"))
        self.assertIn("postern: check: tls_cert_file %s: no certificate: " % self.etc(t, "tls", "cert.pem"), out)

    def test_key_readable_by_others(self):
        t = self.tree()
        os.chmod(self.etc(t, "tls", "key.pem"), 0o644)
        self.assert_problem(t, "postern: check: tls_key_file %s is readable by others (mode 0644): chmod 600 it"
                            % self.etc(t, "tls", "key.pem"))

    # ---- maps

    def test_map_older_than_its_source(self):
        t = self.tree()
        src = self.etc(t, "mailboxes")
        later = os.stat(src + ".cdb").st_mtime + 60
        os.utime(src, (later, later))
        self.assert_problem(t, "postern: check: %s.cdb is older than %s: run postern map -d %s mailboxes"
                            % (src, src, t.dir))

    def test_map_missing_its_cdb(self):
        t = self.tree()
        os.unlink(self.etc(t, "domains.cdb"))
        self.assert_problem(t, "postern: check: %s is missing: run postern map -d %s domains"
                            % (self.etc(t, "domains.cdb"), t.dir))

    def test_access_map_smtpd_cannot_open(self):
        # smtpd does not start without the map an smtpd_*_access setting
        # names; check once passed it and port 25 went down at the reload.
        t = self.tree()
        t.set_conf(smtpd_client_access="client_access.cdb")
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn("postern: check: smtpd_client_access = client_access.cdb: ", out)
        self.assertIn("(smtpd would not start;", out)
        with open(self.etc(t, "client_access"), "w") as f:
            f.write("192.0.2.1 REJECT\n")
        t.run("map", "-d", t.dir, "client_access")
        self.assertEqual(t.check(), (0, ""))
        t.run("conf", "-d", t.dir, "smtpd_client_access=/etc/client_access.cdb")
        self.assert_problem(t, "postern: check: smtpd_client_access = /etc/client_access.cdb: must be a map "
                               "relative to %s/etc (smtpd would not start)" % t.dir)
        # The map's name works as well as its .cdb; its text is checked.
        t.run("conf", "-d", t.dir, "smtpd_client_access=client_access")
        self.assertEqual(t.check(), (0, ""))
        with open(self.etc(t, "client_access"), "a") as f:
            f.write("192.0.2.2 MAYBE\n")
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn("client_access:2: ", out)

    def test_log_file_the_master_cannot_open(self):
        t = self.tree()
        t.set_conf(log_file="maillog")
        self.assertEqual(t.check(), (0, ""))
        t.run("conf", "-d", t.dir, "log_file=/nonexistent-postern-dir/maillog")
        self.assert_problem(t, "postern: check: log_file /nonexistent-postern-dir/maillog: its directory "
                               "/nonexistent-postern-dir does not exist (the master would not start)")
        os.mkdir(self.etc(t, "maillog.d"))
        t.run("conf", "-d", t.dir, "log_file=etc/maillog.d")
        self.assert_problem(t, "postern: check: log_file %s: not a regular file (the master would not start)"
                            % self.etc(t, "maillog.d"))

    @unittest.skipUnless(is_root(), "needs root: root acting on a tree another user made")
    def test_root_on_a_tree_another_user_made(self):
        # As root, `postern user add` gave such a tree a root-owned
        # etc/users and postern-vmail mailboxes its owner's services could
        # not read, and check listed every directory as wrongly owned.
        import pwd
        t = self.tree()
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(t.dir):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
        os.lchown(t.dir, nobody.pw_uid, nobody.pw_gid)
        with open(self.etc(t, "users"), "rb") as f:
            users = f.read()
        p = t.run("user", "add", "-d", t.dir, "dave@%s" % t.domain, "--", "pw-dave-1", check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(b"was made by nobody, not root: run this as nobody", p.stdout)
        with open(self.etc(t, "users"), "rb") as f:
            self.assertEqual(f.read(), users)
        self.assertEqual(os.stat(self.etc(t, "users")).st_uid, nobody.pw_uid)
        p = t.run("dkim", "keygen", "-d", t.dir, t.domain, "s1", check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(b"not root: run this as nobody", p.stdout)
        self.assertNotIn(b"must be", t.run("check", "-d", t.dir, check=False).stdout)

    # ---- directories

    def test_queue_directory_open_to_others(self):
        t = self.tree()
        path = os.path.join(t.dir, "queue", "incoming")
        os.chmod(path, 0o755)
        self.assert_problem(t, "postern: check: directory %s has mode 0755: chmod 0700 it "
                               "(postern init --force does)" % path)

    def test_missing_directory(self):
        t = self.tree()
        path = os.path.join(t.dir, "queue", "hold")
        os.rmdir(path)
        self.assert_problem(t, "postern: check: directory %s is missing (postern init --force recreates it)" % path)

    @unittest.skipUnless(is_root(), "owners are only checked on a tree made by root")
    def test_mail_root_owned_by_the_wrong_user(self):
        t = self.tree()
        path = os.path.join(t.dir, "mail")
        st = os.stat(path)
        os.chown(path, 0, st.st_gid)
        self.assert_problem(t, "postern: check: directory %s is owned by uid 0 gid %d; it must be postern-vmail "
                               "(postern init --force sets it)" % (path, st.st_gid))

    # ---- master.conf

    @unittest.skipUnless(is_root(), "users are only switched (and checked) as root")
    def test_master_conf_user_that_does_not_exist(self):
        t = self.tree()
        t.run("conf", "-d", t.dir, "-F", "pop3/inet/user=postern-nosuch")
        out = self.assert_problem(t, "postern: check: %s:%d: no such system user postern-nosuch (postern init "
                                     "as root creates the postern-* users)"
                                  % (self.etc(t, "master.conf"), self.master_line(t, "pop3")))
        self.assertEqual(out.count("\n"), 1, out)

    def master_line(self, t, name):
        with open(self.etc(t, "master.conf")) as f:
            for n, line in enumerate(f, 1):
                if line.split()[:1] == [name]:
                    return n
        raise AssertionError("no %s in master.conf" % name)

    # ---- ports

    def test_port_held_by_another_program(self):
        t = self.tree()
        s = socket.socket()
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, t.port("pop3")))
        s.listen(1)
        self.assert_problem(t, "postern: check: pop3/inet: cannot listen on %s:%d: Address already in use "
                               "(the master would not start)" % (HOST, t.port("pop3")))

    def test_listener_that_does_not_answer_while_the_master_runs(self):
        t = self.tree(start=True)
        # An entry added but not yet reloaded: nothing listens there (a
        # port the kernel just handed out and took back is free).
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        t.run("conf", "-d", t.dir, "-M",
              "smtp-alt/inet=smtp-alt inet %s:%d postern-smtpd run/jail 5 smtpd" % (HOST, port))
        self.assert_problem(t, "postern: check: smtp-alt/inet: nothing answers on %s:%d although the master "
                               "runs (pid %d)" % (HOST, port, t.pidfile_pid()))
        # Once the reload has bound it, it answers.
        t.run("reload", "-d", t.dir)
        wait_for(lambda: t.check() == (0, ""), 30, "postern check passing after the reload bound smtp-alt",
                 detail=t.check, interval=0.5)

    def test_check_of_a_running_tree_leaves_no_trace_in_its_log(self):
        t = self.tree(start=True)
        mark = t.log_mark()
        self.assertEqual(t.check(), (0, ""))
        # A session of ours after the check: once smtpd logged its end, a
        # connection the check had made would have been logged before it.
        s = t.smtp()
        self.assertEqual(s.quit()[0], 221)
        t.wait_log(r"disconnect from .* service=smtp", after=mark)
        log = t.log_text(mark)
        self.assertEqual(log.count(": connect from "), log.count(": disconnect from "), log)
        self.assertNotIn("lost connection", log)
        self.assertNotIn("handshake", log)

    # ---- DMARC

    def test_dmarc_quarantine_and_suffix_list(self):
        t = self.tree()
        t.set_conf(dmarc_quarantine="drop")
        self.assert_problem(t, "postern: check: dmarc_quarantine = drop: not hold or mark")
        t.run("conf", "-d", t.dir, "dmarc_quarantine=mark", "dmarc_public_suffix_list=/nonexistent/psl.dat")
        code, out = t.check()
        self.assertEqual(code, 0, out)
        self.assertIn("postern: check: warning: dmarc_public_suffix_list /nonexistent/psl.dat: No such file or "
                      "directory (apt-get install publicsuffix); Organizational Domains are the last two labels\n",
                      out)
        # not evaluated without DKIM verification: no warning
        t.set_conf(dkim_verify="no")
        code, out = t.check()
        self.assertEqual(code, 0, out)
        self.assertNotIn("dmarc", out)
