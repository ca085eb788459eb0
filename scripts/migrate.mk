# migrate.mk: migrate a batch of VMs with h2k-migrate, one make target per
# VM and step, so that make -j runs several at once, make -k goes on past
# a failed VM, and a rerun redoes only what is missing.
#
#   make -f migrate.mk -j4 VMS="web01 db01" OUT=out
#   make -f migrate.mk -j4 -k VMLIST=vms.txt OUT=out FLAGS="--no-fix -c"
#   make -f migrate.mk VMLIST=vms.txt OUT=/shared/out HOSTS=hosts.txt   # GNU parallel over SSH
#
# VMS is a list of names without spaces; VMLIST a file of names, one a
# line, any characters.  Each VM goes through these steps, each a target
# whose stamp is in OUT/.batch/ (named by the hex of the VM's name, or its
# SHA-256 when long, so any name is a safe file name):
#
#   ID.migrated   h2k-migrate --out OUT FLAGS -- VM   (itself resumable)
#   ID.verified   qemu-img check of every disk of OUT/<VM>/migration.json
#   ID.defined    virsh define OUT/<VM>/domain.xml (only with DEFINE=1)
#
# The log of each VM is OUT/logs/<VM>.log (the name made safe as
# h2k-migrate makes it); the summary at the end lists what migrated, what
# failed with the step and its message, and what was skipped.  The VM
# names never go through make: they are read from files by the recipes,
# in quotes.
#
# HOSTS=FILE spreads the batch over the hosts of FILE (GNU parallel's
# --sshloginfile: one "[N/][ssh options] [user@]host" a line) instead:
# each VM on one host, retried on another when its host fails or is down;
# OUT must be the same path on every host (shared storage), and h2k
# installed on each.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.SUFFIXES:
.DELETE_ON_ERROR:
# Every stamp is kept, intermediate or not: a rerun must see what was done.
.SECONDARY:
MAKEFLAGS += --no-builtin-rules

THIS := $(lastword $(MAKEFILE_LIST))
OUT ?= .
VMS ?=
VMLIST ?=
FLAGS ?=
DEFINE ?= 0
CONNECT ?=
HOSTS ?=
H2K_MIGRATE ?= h2k-migrate
# The variables the hosts of HOSTS get (GNU parallel --env).  Never the
# password: it would travel on the ssh command line.
PASS_ENV ?= GOVC_URL GOVC_USERNAME GOVC_INSECURE GOVC_DATACENTER GOVC_TLS_CA_CERTS GOVC_TLS_KNOWN_HOSTS
RETRIES ?= 2

# make cannot name a file whose path holds a space or a special character:
# OUT must be a plain path (the VM names may be anything).
ifneq ($(shell printf '%s' '$(subst ','\'',$(OUT))' | LC_ALL=C grep -c '[^][A-Za-z0-9._/+@%,:=~-]'),0)
$(error OUT='$(OUT)': make cannot use a path with spaces or special characters here; use a plain one (a symbolic link will do))
endif

STATE := $(OUT)/.batch
export OUT VMS VMLIST FLAGS DEFINE CONNECT HOSTS H2K_MIGRATE STATE PASS_ENV RETRIES

.PHONY: all batch summary hosts list
ifeq ($(strip $(HOSTS)),)
all:
	@$(MAKE) --no-print-directory -f '$(THIS)' list
	@st=0; $(MAKE) --no-print-directory -f '$(THIS)' batch || st=$$?; \
	$(MAKE) --no-print-directory -f '$(THIS)' summary || st=1; exit $$st
else
all:
	@$(MAKE) --no-print-directory -f '$(THIS)' list
	@$(MAKE) --no-print-directory -f '$(THIS)' hosts
endif

# The list of VMs, as IDs (the hex of each name; "sha256-" and the name's
# SHA-256 for a name of more than 100 bytes, whose hex would be too long a
# file name) with one file per VM holding its name, in STATE/vms.mk; made
# first, read by the later makes.
list:
	@command -v "$$H2K_MIGRATE" >/dev/null || { echo "migrate.mk: $$H2K_MIGRATE: not found (the batch needs h2k-migrate, scripts/h2k-migrate in the source tree; or set H2K_MIGRATE=PATH)" >&2; exit 1; }
	@mkdir -p "$$STATE" "$$OUT/logs"
	@hex () { local h; h=$$(printf '%s' "$$1" | od -An -tx1 -v | tr -d ' \n'); \
	  [ "$${#h}" -le 200 ] || h=sha256-$$(printf '%s' "$$1" | sha256sum | cut -d' ' -f1); \
	  printf '%s' "$$h"; }; \
	ids=(); \
	add () { [ -n "$$1" ] || return 0; local h; h=$$(hex "$$1"); \
	  printf '%s' "$$1" > "$$STATE/$$h.name"; ids+=("$$h"); }; \
	for v in $$VMS; do add "$$v"; done; \
	if [ -n "$$VMLIST" ]; then \
	  [ -r "$$VMLIST" ] || { echo "migrate.mk: $$VMLIST: cannot read the VM list" >&2; exit 1; }; \
	  while IFS= read -r v || [ -n "$$v" ]; do add "$${v%$$'\r'}"; done < "$$VMLIST"; \
	fi; \
	[ "$${#ids[@]}" -gt 0 ] || { echo "migrate.mk: no VM given (VMS=\"a b\" or VMLIST=FILE)" >&2; exit 1; }; \
	printf 'IDS := %s\n' "$${ids[*]}" > "$$STATE/vms.mk.part" && mv -f "$$STATE/vms.mk.part" "$$STATE/vms.mk"

ifneq ($(filter batch batch-migrated summary hosts,$(MAKECMDGOALS)),)
include $(STATE)/vms.mk
endif

LAST := $(if $(filter 1,$(DEFINE)),defined,verified)
batch: $(IDS:%=$(STATE)/%.$(LAST))

# After HOSTS: the later steps, here, for the VMs the hosts migrated.
.PHONY: batch-migrated
batch-migrated: $(patsubst %.migrated,%.$(LAST),$(wildcard $(IDS:%=$(STATE)/%.migrated)))

# Shell helpers of the recipes: the VM's name (read from its file, a
# trailing newline kept), its directory in OUT and its log, as h2k-migrate
# names them (control characters and / made _, a leading dot prefixed,
# bytes that are not UTF-8 made U+FFFD, cut at 200 bytes).
define vm_id
name=$$(cat "$$STATE/$(1).name"; printf x); name=$${name%x}; \
safe=$$(printf '%s' "$$name" | jq -Rsj '.[:200] | gsub("[/\\x00-\\x1f\\x7f]"; "_") | until(utf8bytelength <= 200; .[:-1]) | if startswith(".") then "_" + . else . end'); \
dir=$$OUT/$$safe; log=$$OUT/logs/$$safe.log
endef
vm_of = $(call vm_id,$*)

$(STATE)/%.migrated:
	@$(vm_of); rm -f "$$STATE/$*.failed"; \
	printf 'migrate.mk: %s: migrating\n' "$$name" >&2; \
	printf '== %s h2k-migrate\n' "$$(date -u +%FT%TZ)" >> "$$log"; \
	st=0; "$$H2K_MIGRATE" --out "$$OUT" $$FLAGS -- "$$name" >> "$$log" 2>&1 || st=$$?; \
	if [ "$$st" -ne 0 ]; then \
	  step=$$(jq -r '.failed_step // empty' "$$dir/migration.json" 2>/dev/null || true); \
	  msg=$$(grep -v '^[[:space:]]*$$' "$$log" | tail -n 1); \
	  jq -n --arg vm "$$name" --arg step "h2k-migrate$${step:+ $$step}" --arg message "$$msg" --argjson st "$$st" \
	    '{vm: $$vm, step: $$step, message: $$message, exit_status: $$st}' > "$$STATE/$*.failed"; \
	  printf 'migrate.mk: %s: failed (h2k-migrate%s, exit %s): see %s\n' "$$name" "$${step:+ $$step}" "$$st" "$$log" >&2; \
	  exit 1; \
	fi; \
	touch "$@"

$(STATE)/%.verified: $(STATE)/%.migrated
	@$(vm_of); \
	fail () { jq -n --arg vm "$$name" --arg message "$$1" \
	  '{vm: $$vm, step: "verify", message: $$message, exit_status: 1}' > "$$STATE/$*.failed"; \
	  printf 'migrate.mk: %s: verify: %s\n' "$$name" "$$1" >&2; exit 1; }; \
	jq -e '.status == "done"' "$$dir/migration.json" >/dev/null 2>&1 || fail "$$dir/migration.json does not say done"; \
	[ -s "$$dir/domain.xml" ] || fail "no domain.xml in $$dir"; \
	n=0; while IFS= read -r -d '' d; do \
	  n=$$((n + 1)); \
	  qemu-img check -q "$$dir/$$d" >> "$$log" 2>&1 || fail "qemu-img check $$dir/$$d failed"; \
	done < <(jq -j '.disks[].file + "\u0000"' "$$dir/migration.json"); \
	[ "$$n" -gt 0 ] || fail "migration.json lists no disk"; \
	printf 'migrate.mk: %s: migrated and checked (%s disks)\n' "$$name" "$$n" >&2; \
	touch "$@"

$(STATE)/%.defined: $(STATE)/%.verified
	@$(vm_of); \
	if ! virsh $${CONNECT:+--connect "$$CONNECT"} define "$$dir/domain.xml" >> "$$log" 2>&1; then \
	  jq -n --arg vm "$$name" --arg message "$$(tail -n 1 "$$log")" \
	    '{vm: $$vm, step: "define", message: $$message, exit_status: 1}' > "$$STATE/$*.failed"; \
	  printf 'migrate.mk: %s: virsh define failed: see %s\n' "$$name" "$$log" >&2; exit 1; \
	fi; \
	touch "$@"

# The summary: every VM of the list, done, failed (the step and its
# message) or skipped (not tried: make stopped first, without -k).
summary:
	@done=0; failed=0; skipped=0; \
	for id in $(IDS); do \
	  name=$$(cat "$$STATE/$$id.name"; printf x); name=$${name%x}; \
	  if [ -e "$$STATE/$$id.$(LAST)" ]; then done=$$((done + 1)); printf 'migrated  %s\n' "$$name"; \
	  elif [ -e "$$STATE/$$id.failed" ]; then failed=$$((failed + 1)); \
	    jq -r '"failed    \(.vm)  (\(.step): \(.message))"' "$$STATE/$$id.failed"; \
	  else skipped=$$((skipped + 1)); printf 'skipped   %s\n' "$$name"; fi; \
	done; \
	printf 'migrate.mk: %s migrated, %s failed, %s skipped (logs in %s/logs/)\n' "$$done" "$$failed" "$$skipped" "$$OUT"; \
	[ "$$failed" -eq 0 ] && [ "$$skipped" -eq 0 ]

# Many hosts: GNU parallel over SSH, one VM a job, a job that fails
# (its host down: ssh's exit 255, or the migration) retried on another
# host.  The job log says which host ran what; hosts that failed are
# reported.  The names reach the hosts quoted by parallel.
hosts:
	@command -v parallel >/dev/null || { echo "migrate.mk: HOSTS needs GNU parallel (apt-get install parallel)" >&2; exit 1; }
	@[ -r "$$HOSTS" ] || { echo "migrate.mk: $$HOSTS: cannot read the host file" >&2; exit 1; }
	@[ -z "$${GOVC_PASSWORD-}" ] || { echo "migrate.mk: GOVC_PASSWORD would travel on the ssh command line: put the password in a file every host reads and pass FLAGS=--password-file=FILE" >&2; exit 1; }
	@up=0; while IFS= read -r line || [ -n "$$line" ]; do \
	  line=$${line%%#*}; [ -n "$${line// }" ] || continue; \
	  login=$${line#*/}; [[ "$$line" =~ ^[0-9]+/ ]] || login=$$line; \
	  [[ "$$login" == *" "* ]] || login="ssh $$login"; \
	  if err=$$(timeout 60 $$login -o BatchMode=yes true 2>&1 </dev/null); then up=$$((up + 1)); \
	  else printf 'migrate.mk: host %s: unreachable (%s): its VMs go to the other hosts\n' "$${login##* }" "$$(printf '%s' "$$err" | tail -n 1)" >&2; fi; \
	done < "$$HOSTS"; \
	[ "$$up" -gt 0 ] || { echo "migrate.mk: $$HOSTS: no host answers" >&2; exit 1; }
	@envs=(); for v in $$PASS_ENV; do [ -z "$${!v+x}" ] || envs+=(--env "$$v"); done; \
	list=(); for id in $(IDS); do [ -e "$$STATE/$$id.migrated" ] || list+=("$$STATE/$$id.name"); done; \
	st=0; \
	if [ "$${#list[@]}" -gt 0 ]; then \
	  : > "$$STATE/parallel.log"; \
	  printf '%s\0' "$${list[@]}" | \
	    parallel -0 --sshloginfile "$$HOSTS" --retries "$$RETRIES" --joblog "$$STATE/parallel.log" \
	      "$${envs[@]}" \
	      'name=$$(cat {}; printf x); name=$${name%x}; printf "== %s h2k-migrate on %s\n" "$$(date -u +%FT%TZ)" "$$(uname -n)" >> {.}.log; '"$$(printf '%q' "$$H2K_MIGRATE")"' --out '"$$(printf '%q' "$$OUT")"' '"$$FLAGS"' -- "$$name" >> {.}.log 2>&1 && touch {.}.migrated' \
	    || st=$$?; \
	  awk -F'\t' 'NR > 1 && $$7 == 255 { n = split($$2, w, " "); print w[n] }' "$$STATE/parallel.log" | sort -u | \
	    while IFS= read -r h; do printf 'migrate.mk: host %s: lost during the batch (ssh exit 255): its VMs were retried on the other hosts\n' "$$h" >&2; done; \
	  awk -F'\t' 'NR > 1 && $$7 == 0 { n = split($$2, w, " "); print w[n] }' "$$STATE/parallel.log" | sort | uniq -c | \
	    while read -r n h; do printf 'migrate.mk: host %s: %s VMs migrated\n' "$$h" "$$n" >&2; done; \
	fi; \
	for id in $(IDS); do \
	  $(call vm_id,$$id); \
	  if [ -e "$$STATE/$$id.log" ]; then cat "$$STATE/$$id.log" >> "$$log" && rm -f "$$STATE/$$id.log"; fi; \
	  if [ ! -e "$$STATE/$$id.migrated" ]; then \
	    jq -n --arg vm "$$name" '{vm: $$vm, step: "h2k-migrate", message: "failed on every host tried (see the job log .batch/parallel.log)", exit_status: 1}' > "$$STATE/$$id.failed"; \
	  else rm -f "$$STATE/$$id.failed"; fi; \
	done; \
	$(MAKE) --no-print-directory -f '$(THIS)' -k batch-migrated || st=1; \
	$(MAKE) --no-print-directory -f '$(THIS)' summary || st=1; exit $$st
