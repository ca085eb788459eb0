# h2k: one non-recursive Makefile.
#
#   make                 build lib/libh2k.a and every program into bin/
#   make check           build everything and run every test through prove
#   make check SANITIZE=1   the same with ASan+UBSan (programs in bin/san/)
#   make check TESTS='tests/test-vmdk-flatten-*.sh'   a subset
#   make WERROR=1        treat warnings as errors (CI does)
#   make deps            install every Debian package build and tests need
#   make install PREFIX=/usr DESTDIR=/tmp/stage ; make uninstall
#   V=1                  show the commands
#
# Programs are discovered: every cmd/PROG/ directory becomes bin/PROG, every
# .c file under lib/ goes into lib/libh2k.a, every tests/unit/test-*.c is a
# unit test.

include config.mk

ifeq ($(V),1)
Q =
quiet =
else
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

# Evaluated on first use, not when the Makefile is read, so that
# "make deps all" works on a machine where deps installs the libraries.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)

ALL_CFLAGS = $(CFLAGS) -D_GNU_SOURCE -Ilib -I$(OBJ)/gen $(PKG_CFLAGS)
ifeq ($(WERROR),1)
ALL_CFLAGS += -Werror
endif

# The sanitizer build lives beside the normal one so both can exist at once.
ifeq ($(SANITIZE),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ALL_CFLAGS += $(SANFLAGS) -O1
LDFLAGS += $(SANFLAGS)
OBJ = build/san
BIN = bin/san
else
OBJ = build/std
BIN = bin
endif

# The version, from one place: build-aux/version-gen (the VERSION file of a
# release tarball, or `git describe` in a checkout).  Evaluated on first
# use, so that "make deps" works anywhere.  It reaches the C code through a
# generated header, rewritten only when the version changes, so that only
# the files that include util/version.h are rebuilt after a commit (its
# rule is beside install, below).
VERSION = $(eval VERSION := $$(shell build-aux/version-gen))$(VERSION)
VERSION_H = $(OBJ)/gen/util/h2k-version.h


# Flags a distribution adds to ours (debian/rules passes dpkg-buildflags'
# hardening and debug-path flags here) rather than replacing them.
ALL_CFLAGS += $(DISTRO_CPPFLAGS) $(DISTRO_CFLAGS)
LDFLAGS += $(DISTRO_LDFLAGS)

LIBS = $(OBJ)/libh2k.a $(PKG_LIBS) -lpthread -lm

LIB_SRCS  := $(sort $(shell find lib -name '*.c'))
LIB_OBJS  := $(LIB_SRCS:%.c=$(OBJ)/%.o)
PROGRAMS  := $(sort $(notdir $(patsubst %/,%,$(wildcard cmd/*/))))
PROG_BINS := $(PROGRAMS:%=$(BIN)/%)
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BIN)/tests/%)
# The scripts users run (the systemd unit scripts/h2k-watch@.service shares
# their prefix but is not one).
SCRIPTS   := $(sort $(filter-out %.service,$(wildcard scripts/h2k-*)))
UNITS     := $(sort $(wildcard scripts/*.service))
SCRIPT_MAKEFILES := $(sort $(wildcard scripts/*.mk))
DOCS      := README.md
MANPAGES  := $(sort $(wildcard man/*.1))

# Helper programs that tests need but users do not (test data writers,
# fault-injecting servers): tests/tools/NAME/*.c becomes $(BIN)/tests/NAME.
TOOL_DIRS := $(sort $(notdir $(patsubst %/,%,$(wildcard tests/tools/*/))))
TOOL_BINS := $(TOOL_DIRS:%=$(BIN)/tests/%)

.SECONDARY:
.PHONY: all check check-layout check-valgrind demo check-programs deps install uninstall clean vcsim dist
all: $(PROG_BINS) lib/libh2k.a

# The scripts next to the programs in $(BIN), so that one PATH entry runs
# both (tests and the demo put $(BIN) on PATH).
SCRIPT_BINS := $(patsubst scripts/%,$(BIN)/%,$(SCRIPTS))
all: $(SCRIPT_BINS)
# A new file renamed into place: bash reads a script as it runs it, so one
# rewritten in place would break a run in progress.
$(SCRIPT_BINS): $(BIN)/%: scripts/%
	$(Q)mkdir -p $(@D) && cp -p $< $@.tmp && mv -f $@.tmp $@

# A stable path for the archive, whatever the build variant.
lib/libh2k.a: $(OBJ)/libh2k.a
	$(Q)ln -sf ../$(OBJ)/libh2k.a $@

$(OBJ)/libh2k.a: $(LIB_OBJS)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(OBJ)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(ALL_CFLAGS) -Icmd/$(word 2,$(subst /, ,$<)) -MMD -MP -c -o $@ $<

-include $(shell find build -name '*.d' 2>/dev/null)

define program_rule
$(BIN)/$(1): $(patsubst %.c,$(OBJ)/%.o,$(wildcard cmd/$(1)/*.c)) $(OBJ)/libh2k.a
	@mkdir -p $$(dir $$@)
	$$(call quiet,LINK,$$@)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

define tool_rule
$(BIN)/tests/$(1): $(patsubst %.c,$(OBJ)/%.o,$(wildcard tests/tools/$(1)/*.c)) $(OBJ)/libh2k.a
	@mkdir -p $$(dir $$@)
	$$(call quiet,LINK,$$@)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LIBS)
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_rule,$(t))))

$(BIN)/tests/test-%: $(OBJ)/tests/unit/test-%.o $(OBJ)/libh2k.a
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBS)

# The vCenter simulator the vSphere tests run against (Go, Debian's govmomi).
vcsim: tests/vcsim/h2k-vcsim
tests/vcsim/h2k-vcsim: $(wildcard tests/vcsim/*.go)
	$(call quiet,GO,$@)cd tests/vcsim && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$${GOCACHE:-/tmp/h2k-gocache} go build -o h2k-vcsim .

# The scripts are copied beside the programs they call, so that under
# SANITIZE=1 they run the sanitized ones (bin/san/).
CHECK_DEPS = $(PROG_BINS) $(SCRIPT_BINS) $(UNIT_BINS) $(TOOL_BINS)
ifneq ($(wildcard tests/vcsim/*.go),)
CHECK_DEPS += tests/vcsim/h2k-vcsim
endif

# The slow tests (guest builds and boots) start first, so that the quick
# ones run beside them instead of after them.
SLOW_TESTS = $(wildcard tests/test-guest-fix-*.sh tests/test-virt-define-boot.sh tests/test-virt-define-uefi.sh)
SLOW_TESTS += $(wildcard tests/test-h2k-migrate-demo.sh tests/test-h2k-migrate-readme.sh)
TESTS ?= $(SLOW_TESTS) $(filter-out $(SLOW_TESTS),$(wildcard tests/test-*.sh))
PROVE_JOBS ?= 2

# Files skipped whole, with their reasons, are listed after the summary.
SKIP_LOG = $(OBJ)/check-skipped.txt

# The layout rules of DESIGN.md section 3 (which wing may include which).
check-layout:
	@tests/check-layout.sh

# A test that leaves a file in the work tree fails the run: the tree's
# untracked files are listed before and after the tests and compared (only
# in a git checkout; a release tarball has no index to compare with).
TREE_STATE = git -C $(CURDIR) status --porcelain --untracked-files=all 2>/dev/null

check: check-layout $(CHECK_DEPS)
	@mkdir -p $(OBJ); : > $(SKIP_LOG); rc=0; \
	$(TREE_STATE) > $(OBJ)/tree-before.txt || true; \
	H2K_BIN=$(CURDIR)/$(BIN) H2K_TOP=$(CURDIR) H2K_SANITIZE=$(SANITIZE) \
	  H2K_SKIP_LOG=$(CURDIR)/$(SKIP_LOG) PATH=$(CURDIR)/$(BIN):$$PATH \
	  prove --timer --failures -j$(PROVE_JOBS) $(if $(filter 1,$(V)),-v) \
	    --exec tests/run-test $(UNIT_BINS) $(TESTS) || rc=$$?; \
	if [ -s $(SKIP_LOG) ]; then \
	  echo "skipped whole ($$(wc -l < $(SKIP_LOG)) files):"; sed 's/^/  /' $(SKIP_LOG); \
	fi; \
	$(TREE_STATE) > $(OBJ)/tree-after.txt || true; \
	if ! cmp -s $(OBJ)/tree-before.txt $(OBJ)/tree-after.txt; then \
	  echo "the tests changed the work tree (they must write under \$$tmp):"; \
	  diff $(OBJ)/tree-before.txt $(OBJ)/tree-after.txt | sed -n 's/^[<>] /  /p'; rc=1; \
	fi; exit $$rc

# The unit tests under valgrind, then the parsers' malformed-input test
# files with every program they run under valgrind (H2K_VALGRIND=1: see
# tests/functions.sh): any error or definite leak fails.  Valgrind costs
# about half a second of CPU per program run whatever the run does, so the
# set is the files of bad inputs (every parser's error paths, where leaks
# and overreads hide), not those of valid images compared with qemu-img
# (test-disk-qcow2/vhd/vhdx, test-vmdk-flatten-forms: 250 s of CPU more
# under valgrind; the fuzz targets and the sanitizer run read valid images
# too).  Left out: the guest tests (minutes each without valgrind) and
# test-fuzz-regress.sh (its targets are ASan builds, which valgrind cannot
# run).  VALGRIND_TESTS='tests/test-foo.sh' runs others.
VALGRIND_TESTS ?= $(wildcard tests/test-vmdk-flatten-bad.sh tests/test-img-convert-bad.sh \
  tests/test-disk-malformed.sh tests/test-virt-define-errors.sh tests/test-virt-define-vmx.sh \
  tests/test-virt-define-ovf.sh tests/test-harden-defects.sh tests/test-valgrind-wrap.sh)
check-valgrind: $(CHECK_DEPS)
	@if [ '$(SANITIZE)' = 1 ]; then echo 'check-valgrind: valgrind cannot run the sanitizer build (drop SANITIZE=1)' >&2; exit 2; fi
	@prove -j$(PROVE_JOBS) --exec 'valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite' $(UNIT_BINS)
	@mkdir -p $(OBJ); : > $(SKIP_LOG); rc=0; \
	H2K_VALGRIND=1 H2K_BIN=$(CURDIR)/$(BIN) H2K_TOP=$(CURDIR) H2K_SANITIZE= \
	  H2K_SKIP_LOG=$(CURDIR)/$(SKIP_LOG) PATH=$(CURDIR)/$(BIN):$$PATH \
	  prove --timer --failures -j$(PROVE_JOBS) $(if $(filter 1,$(V)),-v) \
	    --exec tests/run-test $(VALGRIND_TESTS) || rc=$$?; \
	if [ -s $(SKIP_LOG) ]; then \
	  echo "skipped whole ($$(wc -l < $(SKIP_LOG)) files):"; sed 's/^/  /' $(SKIP_LOG); \
	fi; exit $$rc

# A first run for newcomers: builds a VMware snapshot chain, flattens it
# and checks the result against qemu-img.
# The demo migrates a bootable guest out of the simulator and boots it.
demo: all $(TOOL_BINS) tests/vcsim/h2k-vcsim
	@PATH=$(CURDIR)/$(BIN):$$PATH H2K_BIN=$(CURDIR)/$(BIN) bash tests/demo.sh

# Every Debian package the build, the programs and the tests need.
DEPS = build-essential pkg-config libcurl4-openssl-dev libxml2-dev \
  libxml2-utils libguestfs-dev libguestfs-tools zlib1g-dev libzstd-dev \
  libarchive-dev libssl-dev libjson-c-dev jq qemu-utils qemu-system-x86 \
  libvirt-clients libvirt-daemon-driver-qemu golang-go golang-github-vmware-govmomi-dev debootstrap \
  ovmf libhivex-bin fdisk e2fsprogs valgrind curl openssl bzip2 unzip lvm2 \
  time python3 initramfs-tools-core virt-v2v nbdkit libnbd-bin \
  bash-completion shellcheck clang \
  debhelper dpkg-dev lintian man-db \
  inotify-tools parallel openssh-server openssh-client

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all installed"; fi

# bash-completion loads a command's completion from a file of the command's
# name: one script, linked under every name.
COMPLETED := $(PROGRAMS) $(notdir $(SCRIPTS))

install: all
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(COMPLETIONDIR)'
	$(if $(PROG_BINS)$(SCRIPTS),install -m 755 $(PROG_BINS) $(SCRIPTS) '$(DESTDIR)$(BINDIR)')
	$(if $(MANPAGES),install -m 644 $(MANPAGES) '$(DESTDIR)$(MANDIR)/man1')
	install -m 644 scripts/bash-completion/h2k '$(DESTDIR)$(COMPLETIONDIR)/h2k'
	for c in $(COMPLETED); do ln -sf h2k "$(DESTDIR)$(COMPLETIONDIR)/$$c"; done
	$(if $(SCRIPT_MAKEFILES),install -d '$(DESTDIR)$(DATADIR)' && install -m 644 $(SCRIPT_MAKEFILES) '$(DESTDIR)$(DATADIR)')
	install -d '$(DESTDIR)$(DOCDIR)' && install -m 644 $(DOCS) '$(DESTDIR)$(DOCDIR)'
	@# A unit names the script it starts by its installed path, whatever
	@# the unit in the tree says: the prefix is only known here.
	$(if $(UNITS),install -d '$(DESTDIR)$(SYSTEMDUNITDIR)')
	for u in $(UNITS); do \
	  sed -E 's#^(Exec[A-Za-z]*=[-@:+!]*)(/[^ ]*/)?(h2k-[A-Za-z0-9_-]+)#\1$(BINDIR)/\3#' "$$u" > "$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}" && \
	  chmod 644 "$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}" || exit 1; \
	done

uninstall:
	rm -f $(patsubst %,'$(DESTDIR)$(BINDIR)/%',$(PROGRAMS) $(notdir $(SCRIPTS)))
	rm -f $(patsubst %,'$(DESTDIR)$(MANDIR)/man1/%',$(notdir $(MANPAGES)))
	rm -f '$(DESTDIR)$(COMPLETIONDIR)/h2k' $(patsubst %,'$(DESTDIR)$(COMPLETIONDIR)/%',$(COMPLETED))
	rm -f $(patsubst %,'$(DESTDIR)$(DATADIR)/%',$(notdir $(SCRIPT_MAKEFILES)))
	rm -f $(patsubst %,'$(DESTDIR)$(DOCDIR)/%',$(notdir $(DOCS)))
	rm -f $(patsubst %,'$(DESTDIR)$(SYSTEMDUNITDIR)/%',$(notdir $(UNITS)))
	@# Only the directories that are h2k's own.
	-rmdir '$(DESTDIR)$(DATADIR)' '$(DESTDIR)$(DOCDIR)' 2>/dev/null

# A release tarball, h2k-VERSION.tar.gz in DIST_DIR: the committed tree of
# HEAD and a VERSION file, from which build-aux/version-gen takes the version
# when there is no git (make check runs from it; its tree-cleanliness check
# needs git and is skipped there).
DIST_DIR ?= .
DIST_NAME = h2k-$(VERSION)
dist:
	@git -C '$(CURDIR)' rev-parse --verify -q HEAD >/dev/null || { echo 'make dist: needs a git checkout' >&2; exit 1; }
	@test -n '$(VERSION)' || { echo 'make dist: no version: see build-aux/version-gen' >&2; exit 1; }
	@rm -rf '$(OBJ)/dist' && mkdir -p '$(OBJ)/dist' && echo '$(VERSION)' > '$(OBJ)/dist/VERSION'
	git -C '$(CURDIR)' archive --format=tar.gz --prefix='$(DIST_NAME)/' \
	  --add-file='$(CURDIR)/$(OBJ)/dist/VERSION' -o '$(abspath $(DIST_DIR))/$(DIST_NAME).tar.gz' HEAD
	@echo '$(abspath $(DIST_DIR))/$(DIST_NAME).tar.gz'

clean:
	rm -rf build bin lib/libh2k.a tests/vcsim/h2k-vcsim

# The version (see the version section at the top) and its header.
.PHONY: FORCE version
version:
	@echo $(VERSION)

$(VERSION_H): FORCE
	@test -n '$(VERSION)' || { echo 'no version: see build-aux/version-gen' >&2; exit 1; }
	@mkdir -p $(dir $@); v='#define H2K_VERSION "$(VERSION)"'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" > $@

# Every object waits for the version header: on a first build there are no
# .d files yet to say which objects include it.
ALL_OBJS := $(LIB_OBJS) $(patsubst %.c,$(OBJ)/%.o,$(wildcard cmd/*/*.c tests/unit/test-*.c tests/tools/*/*.c))
$(ALL_OBJS): | $(VERSION_H)

# Fuzzing (clang's libFuzzer): make fuzz FUZZ_SECONDS=N; see tests/fuzz/fuzz.mk.
include tests/fuzz/fuzz.mk

# The suite with LOAD_LOOPS busy loops beside it (tests/check-load.sh).
LOAD_LOOPS ?= 12
.PHONY: check-load
check-load:
	@tests/check-load.sh $(LOAD_LOOPS) $(MAKE) $(if $(TESTS),TESTS='$(TESTS)')
