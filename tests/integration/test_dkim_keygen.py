"""`postern dkim keygen DOMAIN SELECTOR` (docs/dkim.md): the key it writes
and the TXT record it prints work with an independent DKIM
implementation.  python3-dkim (Debian's dkimpy, run by /usr/bin/python3)
signs a message with the written private key and verifies it against
the printed record (served by its dnsfunc hook, no DNS), for RSA and
Ed25519; a changed body fails.  The key is 0600 in a 0700 directory, its
line is in etc/dkim_keys, and nothing is overwritten.  `postern check`
accepts what keygen wrote and names a missing, unreadable-by-all,
mistyped or short key, a bad map line and bad dkim_* settings."""

import os
import re
import stat
import subprocess

from postern_harness import SCALE, PosternTestCase

DEBIAN_PYTHON = "/usr/bin/python3"

# Signs with the key file, verifies against the record; prints the two
# verdicts (intact, tampered).
SIGN_AND_VERIFY = r'''
import base64, re, sys
import dkim
from cryptography.hazmat.primitives import serialization
keyfile, record, sel, dom, kind = sys.argv[1:6]
pem = open(keyfile, "rb").read()
if kind == "ed25519":
    k = serialization.load_pem_private_key(pem, None)
    priv = base64.b64encode(k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption()))
else:
    priv = pem
txt = "".join(re.findall(r'"([^"]*)"', record)).encode()
msg = b"From: a@" + dom.encode() + b"\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n"
sig = dkim.sign(msg, sel.encode(), dom.encode(), priv, signature_algorithm=(kind + "-sha256").encode(),
                include_headers=[b"from", b"to", b"subject"])
def dnsfunc(name, timeout=5):
    if name != (sel + "._domainkey." + dom + ".").encode():
        return None
    return txt
print(dkim.verify(sig + msg, dnsfunc=dnsfunc), dkim.verify(sig + msg.replace(b"body", b"bodx"), dnsfunc=dnsfunc))
'''


def dkimpy_missing():
    if not os.path.exists(DEBIAN_PYTHON):
        return "no %s" % DEBIAN_PYTHON
    p = subprocess.run([DEBIAN_PYTHON, "-c", "import dkim, nacl, cryptography"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return None if p.returncode == 0 else "python3-dkim (with python3-nacl, python3-cryptography) is not installed"


class DkimKeygen(PosternTestCase):

    def keygen(self, t, *args, code=0):
        p = t.run("dkim", "keygen", "-d", t.dir, *args, check=False)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, code, out)
        return out

    def check_with_dkimpy(self, t, domain, selector, kind, out):
        why = dkimpy_missing()
        if why:
            self.skipTest(why)
        lines = [l for l in out.splitlines() if l.startswith(selector + "._domainkey.")]
        self.assertEqual(len(lines), 1, out)
        record = lines[0]
        self.assertTrue(record.startswith("%s._domainkey.%s. IN TXT (\"v=DKIM1; k=%s; p=" % (selector, domain, kind)),
                        record)
        for s in re.findall(r'"([^"]*)"', record):
            self.assertLessEqual(len(s), 255)   # RFC 1035 character-strings
        key = os.path.join(t.dir, "etc", "dkim", "%s.%s.%s.pem" % (domain, selector, kind))
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(key)).st_mode), 0o700)
        p = subprocess.run([DEBIAN_PYTHON, "-c", SIGN_AND_VERIFY, key, record, selector, domain, kind],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SCALE)
        self.assertEqual(p.stdout.decode("utf-8", "replace").strip(), "True False")

    def test_rsa_key_verifies_with_python_dkim(self):
        t = self.start_tree(users=(), start=False)
        out = self.keygen(t, "Example.ORG", "s2026")
        self.check_with_dkimpy(t, "example.org", "s2026", "rsa", out)
        # 2048 bits: the record's value is longer than one string
        record = [l for l in out.splitlines() if l.startswith("s2026.")][0]
        self.assertGreater(len(re.findall(r'"([^"]*)"', record)), 1)

    def test_ed25519_key_verifies_with_python_dkim(self):
        t = self.start_tree(users=(), start=False)
        out = self.keygen(t, "--type", "ed25519", "example.org", "e2026")
        self.check_with_dkimpy(t, "example.org", "e2026", "ed25519", out)

    def test_map_line_and_no_overwrite(self):
        t = self.start_tree(users=(), start=False)
        self.keygen(t, "example.org", "s1")
        self.keygen(t, "--type", "ed25519", "example.org", "e1")
        key = os.path.join(t.dir, "etc", "dkim", "example.org.s1.rsa.pem")
        with open(key, "rb") as f:
            before = f.read()
        self.assertIn("exists; not overwritten", self.keygen(t, "example.org", "s1", code=1))
        # another algorithm under a selector already used: refused, no key left behind
        self.assertIn("already has a key", self.keygen(t, "--type", "ed25519", "example.org", "s1", code=1))
        self.assertFalse(os.path.exists(os.path.join(t.dir, "etc", "dkim", "example.org.s1.ed25519.pem")))
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)
        with open(os.path.join(t.dir, "etc", "dkim_keys")) as f:
            lines = [l for l in f.read().splitlines() if l and not l.startswith("#")]
        self.assertEqual(lines, ["example.org s1 rsa example.org.s1.rsa.pem",
                                 "example.org e1 ed25519 example.org.e1.ed25519.pem"])
        self.keygen(t, "bad_domain!", "s1", code=2)
        self.keygen(t, "example.org", "s1", "--bits", "512", code=2)
        # an Ed25519 key has no size: --bits with it is refused, not ignored
        self.keygen(t, "--type", "ed25519", "--bits", "2048", "example.org", "e9", code=2)

    def test_postern_check_keys_and_settings(self):
        t = self.start_tree(users=(), start=False)
        self.keygen(t, "example.org", "s1")
        self.keygen(t, "--type", "ed25519", "example.org", "e1")
        self.assertEqual(t.check(), (0, ""))
        keys = os.path.join(t.dir, "etc", "dkim")
        mapfile = os.path.join(t.dir, "etc", "dkim_keys")
        with open(mapfile) as f:
            good_map = f.read()
        # a key readable by others; a line naming a missing file
        os.chmod(os.path.join(keys, "example.org.s1.rsa.pem"), 0o644)
        with open(mapfile, "a") as f:
            f.write("other.test s1 rsa missing.pem\n")
        code, out = t.check()
        self.assertEqual(code, 1, out)
        self.assertIn("example.org.s1.rsa.pem is readable by group or others", out)
        self.assertRegex(out, r"missing\.pem \(key of other\.test, selector s1\): No such file")
        os.chmod(os.path.join(keys, "example.org.s1.rsa.pem"), 0o600)
        # the Ed25519 key named as RSA; a bad line
        with open(mapfile, "w") as f:
            f.write(good_map.replace("e1 ed25519", "e1 rsa").replace("s1 rsa", "s1 ed25519"))
        code, out = t.check()
        self.assertIn("not an RSA key, as etc/dkim_keys says", out)
        self.assertIn("not an Ed25519 key, as etc/dkim_keys says", out)
        with open(mapfile, "w") as f:
            f.write(good_map + "example.org s9 dsa x.pem\n")
        code, out = t.check()
        self.assertRegex(out, r"dkim_keys:\d+: algorithm must be rsa or ed25519")
        # a 1024-bit key is a warning (RFC 8301), not a problem
        with open(mapfile, "w") as f:
            f.write(good_map)
        self.keygen(t, "--bits", "1024", "short.test", "s1")
        code, out = t.check()
        self.assertEqual(code, 0, out)
        self.assertIn("RSA key of 1024 bits; RFC 8301 asks for 2048", out)
        # settings enqueue would not take
        t.set_conf(dkim_canonicalization="loose/loose", dkim_sign_failure="maybe",
                   dkim_signed_headers="subject to", dkim_verify_signature_limit="16")
        code, out = t.check()
        self.assertEqual(code, 1, out)
        for what in ("dkim_canonicalization = loose/loose", "dkim_sign_failure = maybe",
                     "dkim_signed_headers does not name from", "dkim_verify_signature_limit = 16: more than 15"):
            self.assertIn(what, out)
