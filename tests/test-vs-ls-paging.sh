#!/usr/bin/env bash
# Paging with ContinueRetrievePropertiesEx, re-login after an expired
# session, and a session that expires in the middle of a listing.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
export GOVC_INSECURE=1

# 3 datacenters x (2 standalone + 2 clustered VMs) = 12 VMs; one
# datacenter sits in a folder.
start_vcsim -dc 3 -folder 1 -trace-file "$tmp/trace"
vs-ls > "$tmp/whole.jsonl"
is "twelve VMs in three datacenters" "$(jq -r .datacenter "$tmp/whole.jsonl" | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" "4 4 4 "
is "datacenter inventory paths" "$(vs-ls --type datacenter | jq -r .dc_path | sort | tr '\n' ' ')" "DC0 DC1 F0/DC2 "
is "--datacenter by path" "$(vs-ls --datacenter F0/DC2 | jq -r .dc_path | sort -u)" "F0/DC2"
is "--datacenter by name" "$(vs-ls --datacenter DC2 --vm DC2_H0_VM0 | jq -r .dc_path)" "F0/DC2"

: > "$tmp/trace"
vs-ls --page-size 1 > "$tmp/paged.jsonl"
same_file "--page-size 1 gives the same listing" "$tmp/whole.jsonl" "$tmp/paged.jsonl"
n=$(grep -c '<ContinueRetrievePropertiesEx' "$tmp/trace")
if [ "$n" -ge 9 ]; then pass "pages were fetched with ContinueRetrievePropertiesEx ($n)"
else fail "pages were fetched with ContinueRetrievePropertiesEx ($n)"; fi
ok "each page asked for one object" grep -q '<maxObjects>1</maxObjects>' "$tmp/trace"

# A server that caps pages below what the client asks for.
start_vcsim -dc 3 -folder 1 -max-objects 2
vs-ls > "$tmp/capped.jsonl"
same_file "a server-side page cap gives the same listing" "$tmp/whole.jsonl" "$tmp/capped.jsonl"
is "filters work across pages" "$(vs-ls --vm '*_H0_VM1' | jq -r .name | tr '\n' ' ')" \
  "DC0_H0_VM1 DC1_H0_VM1 DC2_H0_VM1 "

# The session of the first authenticated call (CreateContainerView) is
# ended by the server: vs-ls logs in again and carries on.
start_vcsim -expire-after 1 -trace-file "$tmp/trace1"
vs-ls > "$tmp/relogin.jsonl"
is "the listing survives an expired session" "$(wc -l < "$tmp/relogin.jsonl")" 4
is "it logged in twice" "$(grep -c '<Login' "$tmp/trace1")" 2

# The session ends in the middle of a paged listing: the server forgets
# the paging token with it, so the listing cannot go on.  A clear message,
# exit 1, and no partial output.
start_vcsim -expire-after 6 -max-objects 1
st=0
vs-ls > "$tmp/partial.jsonl" 2> "$tmp/err" || st=$?
is "a session that expires mid-listing: exit 1" "$st" 1
ok "... with a clear message" grep -Eq \
  "^vs-ls: the session expired during the listing.*ContinueRetrievePropertiesEx: InvalidArgument" "$tmp/err"
is "... and no partial output" "$(wc -c < "$tmp/partial.jsonl")" 0
