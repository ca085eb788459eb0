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

ALL_CFLAGS = $(CFLAGS) -D_GNU_SOURCE -DH2K_VERSION='"$(VERSION)"' -Ilib $(PKG_CFLAGS)
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

LIBS = $(OBJ)/libh2k.a $(PKG_LIBS) -lpthread -lm

LIB_SRCS  := $(sort $(shell find lib -name '*.c'))
LIB_OBJS  := $(LIB_SRCS:%.c=$(OBJ)/%.o)
PROGRAMS  := $(sort $(notdir $(patsubst %/,%,$(wildcard cmd/*/))))
PROG_BINS := $(PROGRAMS:%=$(BIN)/%)
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BIN)/tests/%)
SCRIPTS   := $(sort $(filter-out %.service,$(wildcard scripts/h2k-*)))
UNITS     := $(sort $(wildcard scripts/*.service))
MANPAGES  := $(sort $(wildcard man/*.1))

# Helper programs that tests need but users do not (test data writers,
# fault-injecting servers): tests/tools/NAME/*.c becomes $(BIN)/tests/NAME.
TOOL_DIRS := $(sort $(notdir $(patsubst %/,%,$(wildcard tests/tools/*/))))
TOOL_BINS := $(TOOL_DIRS:%=$(BIN)/tests/%)

.SECONDARY:
.PHONY: all check check-layout check-valgrind demo check-programs deps install uninstall clean vcsim
all: $(PROG_BINS) lib/libh2k.a

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

CHECK_DEPS = $(PROG_BINS) $(UNIT_BINS) $(TOOL_BINS)
ifneq ($(wildcard tests/vcsim/*.go),)
CHECK_DEPS += tests/vcsim/h2k-vcsim
endif

# The slow tests (guest builds and boots) start first, so that the quick
# ones run beside them instead of after them.
SLOW_TESTS = $(wildcard tests/test-guest-fix-*.sh tests/test-virt-define-boot.sh tests/test-virt-define-uefi.sh)
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
	  prove --timer -j$(PROVE_JOBS) $(if $(filter 1,$(V)),-v) \
	    --exec tests/run-test $(UNIT_BINS) $(TESTS) || rc=$$?; \
	if [ -s $(SKIP_LOG) ]; then \
	  echo "skipped whole ($$(wc -l < $(SKIP_LOG)) files):"; sed 's/^/  /' $(SKIP_LOG); \
	fi; \
	$(TREE_STATE) > $(OBJ)/tree-after.txt || true; \
	if ! cmp -s $(OBJ)/tree-before.txt $(OBJ)/tree-after.txt; then \
	  echo "the tests changed the work tree (they must write under \$$tmp):"; \
	  diff $(OBJ)/tree-before.txt $(OBJ)/tree-after.txt | sed -n 's/^[<>] /  /p'; rc=1; \
	fi; exit $$rc

# The unit tests under valgrind: any error or definite leak fails.
check-valgrind: $(UNIT_BINS)
	@prove -j$(PROVE_JOBS) --exec 'valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite' $(UNIT_BINS)

# A first run for newcomers: builds a VMware snapshot chain, flattens it
# and checks the result against qemu-img.
demo: all
	@PATH=$(CURDIR)/$(BIN):$$PATH sh tests/demo.sh

# Every Debian package the build, the programs and the tests need.
DEPS = build-essential pkg-config libcurl4-openssl-dev libxml2-dev \
  libxml2-utils libguestfs-dev libguestfs-tools zlib1g-dev libzstd-dev \
  libarchive-dev libssl-dev libjson-c-dev jq qemu-utils qemu-system-x86 \
  libvirt-clients libvirt-daemon-driver-qemu golang-go golang-github-vmware-govmomi-dev debootstrap \
  ovmf libhivex-bin fdisk e2fsprogs valgrind curl openssl bzip2 unzip lvm2 \
  time python3 initramfs-tools-core virt-v2v nbdkit libnbd-bin \
  bash-completion shellcheck inotify-tools parallel openssh-server openssh-client

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
	install -d '$(DESTDIR)$(UNITDIR)' '$(DESTDIR)$(DATADIR)'
	for u in $(UNITS); do sed 's|@BINDIR@|$(BINDIR)|g' "$$u" > "$(DESTDIR)$(UNITDIR)/$${u##*/}" && chmod 644 "$(DESTDIR)$(UNITDIR)/$${u##*/}"; done
	install -m 644 scripts/migrate.mk '$(DESTDIR)$(DATADIR)/migrate.mk'

uninstall:
	rm -f $(patsubst %,'$(DESTDIR)$(BINDIR)/%',$(PROGRAMS) $(notdir $(SCRIPTS)))
	rm -f $(patsubst %,'$(DESTDIR)$(MANDIR)/man1/%',$(notdir $(MANPAGES)))
	rm -f '$(DESTDIR)$(COMPLETIONDIR)/h2k' $(patsubst %,'$(DESTDIR)$(COMPLETIONDIR)/%',$(COMPLETED))
	rm -f $(patsubst %,'$(DESTDIR)$(UNITDIR)/%',$(notdir $(UNITS))) '$(DESTDIR)$(DATADIR)/migrate.mk'
	-rmdir '$(DESTDIR)$(DATADIR)' 2>/dev/null

clean:
	rm -rf build bin lib/libh2k.a tests/vcsim/h2k-vcsim
