# libFuzzer targets (tests/fuzz/fuzz-*.c), included by the Makefile.
#
#   make fuzz-build              build bin/fuzz/fuzz-* with clang
#   make fuzz FUZZ_SECONDS=600   run each target that long, one at a time
#   make fuzz FUZZ_TARGETS='vmdk qcow2'  only these
#   make fuzz FUZZ_OUT=/some/dir  corpora, crashes and logs there
#
# The library is built again with clang and -fsanitize=fuzzer-no-link
# (coverage feedback) plus ASan and UBSan, under build/fuzz/.  Targets that
# fuzz program code (VMX, OVF machine, records: cmd/virt-define; OVA:
# cmd/img-convert) are linked with that program's files, less its main.c.
# Seed corpora are made at build time (tests/fuzz/seeds.sh: qemu-img,
# tests/tools/vmdk-gen, ../shared/samples) under build/fuzz/seeds/; what a
# run finds goes to build/fuzz/corpus/TARGET/ (or FUZZ_OUT), crashes to
# build/fuzz/crashes/TARGET/.  tests/fuzz/TARGET.dict, where there is one,
# is the target's dictionary (the format's magic numbers and keywords).

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g -std=gnu11 -D_GNU_SOURCE -Ilib -I$(OBJ)/gen $(PKG_CFLAGS) \
  $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unused-parameter
FZ = build/fuzz

FUZZ_DISK_FORMATS = vmdk vhd vhdx qcow2 probe
FUZZ_OTHER = vmdk-desc vmdk-stream ova ovf vmx jsonl soap http-range
FUZZ_ALL = $(FUZZ_DISK_FORMATS) $(FUZZ_OTHER)
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BINS = $(FUZZ_ALL:%=bin/fuzz/fuzz-%)

FUZZ_LIB_OBJS = $(LIB_SRCS:%.c=$(FZ)/%.o)
FUZZ_VD_OBJS = $(patsubst %.c,$(FZ)/%.o,$(filter-out cmd/virt-define/main.c,$(wildcard cmd/virt-define/*.c)))
FUZZ_IC_OBJS = $(patsubst %.c,$(FZ)/%.o,$(filter-out cmd/img-convert/main.c,$(wildcard cmd/img-convert/*.c)))

$(FZ)/%.o: %.c config.mk tests/fuzz/fuzz.mk | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(call quiet,FUZZCC,$<)$(FUZZ_CC) $(FUZZ_CFLAGS) -Icmd/$(word 2,$(subst /, ,$<)) -Itests/fuzz -MMD -MP -c -o $@ $<

$(FZ)/libh2k.a: $(FUZZ_LIB_OBJS)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(FZ)/tests/fuzz/fuzz-disk-%.o: tests/fuzz/fuzz-disk.c tests/fuzz/fuzz.h config.mk tests/fuzz/fuzz.mk | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(call quiet,FUZZCC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/fuzz \
	  $(if $(filter probe,$*),,-DFUZZ_FORMAT='"$*"') -c -o $@ $<

FUZZ_LINK = $(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FZ)/libh2k.a $(PKG_LIBS) -lpthread -lm

$(FUZZ_DISK_FORMATS:%=bin/fuzz/fuzz-%): bin/fuzz/fuzz-%: $(FZ)/tests/fuzz/fuzz-disk-%.o $(FZ)/libh2k.a
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(FUZZ_LINK)

bin/fuzz/fuzz-vmx bin/fuzz/fuzz-ovf bin/fuzz/fuzz-jsonl: bin/fuzz/fuzz-%: $(FZ)/tests/fuzz/fuzz-%.o $(FUZZ_VD_OBJS) $(FZ)/libh2k.a
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(FUZZ_LINK)

bin/fuzz/fuzz-ova: $(FZ)/tests/fuzz/fuzz-ova.o $(FUZZ_IC_OBJS) $(FZ)/libh2k.a
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(FUZZ_LINK)

bin/fuzz/fuzz-vmdk-desc bin/fuzz/fuzz-vmdk-stream bin/fuzz/fuzz-soap bin/fuzz/fuzz-http-range: bin/fuzz/fuzz-%: $(FZ)/tests/fuzz/fuzz-%.o $(FZ)/libh2k.a
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(FUZZ_LINK)

# The OVA target compiles img-convert's ova.c, which includes its own
# header by plain name.
$(FZ)/tests/fuzz/fuzz-ova.o: FUZZ_CFLAGS += -Icmd/img-convert
$(FZ)/tests/fuzz/fuzz-vmx.o $(FZ)/tests/fuzz/fuzz-ovf.o $(FZ)/tests/fuzz/fuzz-jsonl.o: FUZZ_CFLAGS += -Icmd/virt-define

$(FZ)/seeds.stamp: tests/fuzz/seeds.sh $(BIN)/tests/vmdk-gen
	$(call quiet,SEEDS,$(FZ)/seeds)H2K_BIN=$(CURDIR)/$(BIN) bash tests/fuzz/seeds.sh $(FZ)/seeds && touch $@

.PHONY: fuzz fuzz-build fuzz-regress
fuzz-build: $(FUZZ_BINS) $(FZ)/seeds.stamp

# Each target in turn, FUZZ_SECONDS each; a summary line per target in
# build/fuzz/summary.txt (tests/fuzz/run.sh).
# FUZZ_OUT=DIR keeps the corpora, crashes, logs and summary there instead
# (a long run, outside the work tree).
FUZZ_OUT ?= $(FZ)
fuzz: fuzz-build
	@FUZZ_OUT='$(FUZZ_OUT)' bash tests/fuzz/run.sh $(FZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

-include $(shell find $(FZ) -name '*.d' 2>/dev/null)

# make check builds the targets when it runs tests/test-fuzz-regress.sh
# (the whole suite, or that file) and clang is there; without clang that
# test skips.
ifneq ($(filter %test-fuzz-regress.sh,$(TESTS)),)
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
check: fuzz-build
endif
endif
