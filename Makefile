# Postern build.  `make` builds everything under build/ and installs nothing;
# `make install` / `make install-sendmail` copy it (PREFIX, DESTDIR, below);
# `make test` installs what the build and the tests need (`make deps`), then
# builds on every core and runs the unit, fuzz and integration suites;
# `make test SANITIZE=1` does the same with ASan + UBSan under build-san/,
# but for the fuzz targets, which are ASan + UBSan builds in both (clang,
# FUZZ_CFLAGS) and run under `make test`; `make run` (deps, build, demo).  Programs are found by file name prefix, so a
# new source file needs no edit here.

CC       ?= cc
SANITIZE ?= 0
PYTHON   ?= python3
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD    := build-san
OPT      := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
HARDEN   := -fstack-protector-strong
LDSAN    := -fsanitize=address,undefined
else
BUILD    := build
OPT      := -O2
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=3
LDSAN    :=
endif

CFLAGS   := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) $(HARDEN) -fPIE -Icommon $(EXTRA_CFLAGS)
LDFLAGS  := -pie -Wl,-z,relro,-z,now $(LDSAN)
LIBS     := -lssl -lcrypto -lcares -lcdb -lcrypt -lz -lseccomp -pthread
# TEST_HOOKS=1 (the default of a source build) compiles test-only hooks:
# SIGUSR2 makes a confined daemon attempt a forbidden system call
# (common/sandbox.c, tests/integration/test_sandbox.py).  The Debian
# package is built with TEST_HOOKS=0.
TEST_HOOKS ?= 1
ifeq ($(TEST_HOOKS),1)
CFLAGS   += -DPOSTERN_TEST_HOOKS
endif

# Debian packages the build and the tests need (`make deps`).
DEPS_PKGS := build-essential libssl-dev libc-ares-dev libcdb-dev libcmocka-dev libseccomp-dev \
             libcrypt-dev python3 clang swaks socat openssl postfix dnsmasq-base mutt \
             curl fetchmail getmail6 libnet-ssleay-perl libclang-rt-dev iproute2 stress-ng \
             dovecot-imapd isync tmux zlib1g-dev debhelper groff-base python3-cryptography \
             prometheus pflogsumm prometheus-postfix-exporter postgrey postfix-policyd-spf-python \
             python3-dkim python3-nacl rspamd opendkim opendkim-tools publicsuffix \
             faketime
# (installed without recommends: swaks needs libnet-ssleay-perl for TLS, the
# fuzz targets need clang's libFuzzer runtime from libclang-rt-dev, the
# two-host remote test needs ip from iproute2; dovecot-imapd (with
# dovecot-core: /usr/sbin/dovecot and /usr/lib/dovecot/imap) is the peer of
# the Dovecot format and swap tests, run privately, never as the system's
# IMAP server; isync (mbsync) and tmux (which drives mutt) are the
# real IMAP clients of the client tests; pflogsumm and
# prometheus-postfix-exporter read the log in test_log_tools; zlib1g-dev is zlib, the
# deflate of IMAP COMPRESS (common/stream_deflate.c); stress-ng keeps the cores
# busy to check that the suite passes on a loaded machine:
# `stress-ng --cpu 2 & make test`; debhelper (with dpkg-dev) builds the
# .deb of tests/integration/test_deb_package.py, groff-base renders the man
# pages in test_install.py; python3-cryptography makes the expired,
# foreign and mismatched certificates of test_postern_check.py;
# prometheus brings promtool, which checks the metrics service's text in
# test_metrics.py; python3-dkim (dkimpy, for Debian's /usr/bin/python3)
# gave the expected values of tests/unit/test_dkim_canon.c
# (tests/unit/dkim_canon_vectors.py) and is the independent signer and
# verifier of the DKIM tests (docs/dkim.md), with python3-nacl for its
# Ed25519; rspamd (its proxy worker in milter mode), opendkim and
# opendkim-tools (opendkim-genkey) are the real milters of
# test_smtpd_milter_peers.py, run privately on loopback ports; publicsuffix
# is the Public Suffix List smtpd reads for DMARC's Organizational Domains
# (dmarc_public_suffix_list; tests/unit/test_psl.c checks it); systemd-analyze comes with systemd, which is not
# installed for the tests: test_install.py skips without it)

# program = source files (by prefix) -> $(BUILD)/bin/program
PROGRAMS := master front smtpd enqueue qmgr local remote verify authd popd imapd postern pickup sendmail metrics dkim-sign
master_SRCS  := $(wildcard master/*.c)
smtpd_SRCS   := $(wildcard smtpd/*.c)
front_SRCS   := $(wildcard front/*.c)
enqueue_SRCS := $(wildcard queue/enqueue*.c)
qmgr_SRCS    := $(wildcard queue/qmgr*.c)
local_SRCS   := $(wildcard deliver/local*.c)
remote_SRCS  := $(wildcard deliver/remote*.c)
verify_SRCS  := $(wildcard deliver/verify*.c)
authd_SRCS   := $(wildcard auth/authd*.c)
popd_SRCS    := $(wildcard popd/*.c)
imapd_SRCS   := $(wildcard imapd/*.c)
metrics_SRCS := $(wildcard metrics/*.c)
dkim-sign_SRCS := $(wildcard dkim/*.c)
postern_SRCS := $(wildcard tools/postern*.c)
pickup_SRCS  := $(wildcard queue/pickup*.c)
sendmail_SRCS := $(wildcard tools/sendmail*.c)

LIB_SRCS := $(wildcard common/*.c)
LIB      := $(BUILD)/libpostern.a
BINS     := $(addprefix $(BUILD)/bin/,$(PROGRAMS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
# Test programs the integration tests run (not tests themselves).
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPERS  := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# `make install` (docs/operator.md, "Installing"): postern in sbin, the
# daemons in libexec/postern (where postern and the master find them:
# common/layout.c), man pages, the systemd unit.  `make install-sendmail`
# adds sendmail, mailq and newaliases where mail programs look for them,
# separately, so that another MTA's can stay.  Neither builds packages
# or touches the system beyond these files; `postern init` makes the tree.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/postern
MANDIR     ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DAEMONS    := master front smtpd enqueue qmgr local remote verify authd popd imapd pickup metrics dkim-sign
MAN8       := docs/man/postern.8 $(wildcard docs/man/*.8postern)
MAN5       := $(BUILD)/man/postern.conf.5 docs/man/master.conf.5

.PHONY: all deps test test-build unit run clean fuzz check-banned install install-sendmail uninstall
all: $(BINS) $(BUILD)/bin/mailq $(BUILD)/bin/newaliases $(BUILD)/man/postern.conf.5

# postern.conf(5): the hand-written page around the keys, which come from
# the key table that also writes etc/postern.conf (config-defaults --man).
$(BUILD)/man/postern.conf.5: docs/man/postern.conf.5.in $(BUILD)/bin/postern
	@mkdir -p $(dir $@)
	set -e; { sed '/^\.\\" @KEYS@$$/,$$d' $<; $(BUILD)/bin/postern config-defaults --man; \
	  sed '1,/^\.\\" @KEYS@$$/d' $<; } > $@.tmp
	mv $@.tmp $@

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BUILD)/bin/postern $(DESTDIR)$(SBINDIR)/postern
	install -m 0755 $(addprefix $(BUILD)/bin/,$(DAEMONS)) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/systemd/postern.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/postern.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/postern.service

# mailq and newaliases are sendmail under other names (links, as Postfix
# installs them), and so are their man pages.
install-sendmail: $(BUILD)/bin/sendmail
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BUILD)/bin/sendmail $(DESTDIR)$(SBINDIR)/sendmail
	for n in mailq newaliases; do \
	  ln -sf "$$(realpath -m --relative-to=$(BINDIR) $(SBINDIR)/sendmail)" $(DESTDIR)$(BINDIR)/$$n || exit 1; \
	  ln -sf sendmail.1 $(DESTDIR)$(MANDIR)/man1/$$n.1 || exit 1; \
	done
	install -m 0644 docs/man/sendmail.1 $(DESTDIR)$(MANDIR)/man1/sendmail.1

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/postern $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(DAEMONS)) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) $(DESTDIR)$(SYSTEMDUNITDIR)/postern.service \
	  $(DESTDIR)$(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq $(DESTDIR)$(BINDIR)/newaliases \
	  $(addprefix $(DESTDIR)$(MANDIR)/man1/,sendmail.1 mailq.1 newaliases.1)
	-rmdir $(DESTDIR)$(LIBEXECDIR)

# mailq(1) is sendmail -bp and newaliases(1) is sendmail -bi: the same
# program under other names.
$(BUILD)/bin/mailq $(BUILD)/bin/newaliases: $(BUILD)/bin/sendmail
	ln -sf sendmail $@

deps:
	@sh tools/deps.sh $(DEPS_PKGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(call obj,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define program_rule
$(BUILD)/bin/$(1): $(call obj,$($(1)_SRCS)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $(call obj,$($(1)_SRCS)) $(LIB) $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS) -lcmocka

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS)

# libFuzzer targets need clang; the library is built once more with
# coverage instrumentation (and ASan + UBSan) so the whole parser is fuzzed.
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -Icommon -fsanitize=address,undefined
FUZZ_LIB := $(BUILD)/libpostern-fuzz.a
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_LIB): $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRCS))
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LIBS)

fuzz: $(FUZZERS)

unit: $(UNITS) $(HELPERS)

# No strcpy/strcat/sprintf/gets anywhere: see ../shared/STYLE.md.
check-banned:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' $(LIB_SRCS) $(foreach p,$(PROGRAMS),$($(p)_SRCS)) \
	  || (echo "banned function used" >&2; false)

# deps first, on its own: a parallel make would otherwise compile while
# the packages are still being installed.
test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$(JOBS) test-build
	@$(PYTHON) tests/run_all.py --build $(BUILD)

ifeq ($(SANITIZE),1)
test-build: all $(UNITS) $(HELPERS)
else
test-build: all $(UNITS) $(HELPERS) $(FUZZERS)
endif

run:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@sh tools/run-demo.sh $(BUILD)

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj $(BUILD)/fuzzobj -name '*.d' 2>/dev/null)
