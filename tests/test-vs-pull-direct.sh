#!/usr/bin/env bash
# vs-pull --direct against the simulator: files come from a host that
# mounts the datastore, with a generic service ticket per request.  The
# simulator (tests/vcsim/tickets.go) plays the hosts: it records every
# ticket it hands out and serves a host's /folder only with an unused
# ticket for that very method and URL; --connect-to sends the hosts'
# names, which resolve nowhere, to its one address.
#
# Checked here: files of several sizes bit-identical at -j 4; ranges,
# stdout, VM and extent records; one ticket per request, counted by both
# sides; the vCenter session cookie never reaches a host; the simulator
# really refuses missing, reused, made-up and mismatched tickets (curl); a
# certificate that does not match the ticket's thumbprint fails at once
# without writing anything, and a known_hosts entry overrides the ticket;
# a server without tickets fails clearly; a standalone host needs none.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires curl --version
requires xmllint --version

secret=pw-Direct-0815
start_vcsim -ds 2 -username admin -password "$secret"
unset GOVC_INSECURE
ds0=$VCSIM_DS_0_DIR
port=${VCSIM_HOSTPORT##*:}
stats_url=${VCSIM_URL%/sdk}/h2k/stats
# vCenter's certificate is pinned; the hosts' is pinned by the tickets.
export VSPULL_PIN=$VCSIM_THUMBPRINT

# --connect-to for every host of the simulator.
connect_all ()
{
  local h
  CT=()
  while read -r h; do
    CT+=(--connect-to "$h:443:127.0.0.1:$1")
  done <<<"$VCSIM_HOSTS"
}
connect_all "$port"
vsd () { vs-pull --thumbprint "$VSPULL_PIN" --direct "${CT[@]}" "$@"; }
stat_of () { curl -sk "$stats_url" | jq -r ".$1"; }

# Files of several sizes, odd ones included.
mkdir -p "$ds0/files" "$tmp/out"
: > "$ds0/files/empty.bin"
head -c 1 /dev/urandom > "$ds0/files/one.bin"
head -c 70001 /dev/urandom > "$ds0/files/small.bin"
{ head -c 3M /dev/urandom; head -c 2M /dev/zero; head -c 5 /dev/urandom; } > "$ds0/files/mid.bin"
head -c 9M /dev/urandom > "$ds0/files/big.bin"
names="empty.bin one.bin small.bin mid.bin big.bin"
srcs=()
expect_requests=0
for n in $names; do
  srcs+=("[LocalDS_0] files/$n")
  size=$(stat -c %s "$ds0/files/$n")
  # One HEAD, then one GET per 1 MiB chunk.
  expect_requests=$((expect_requests + 1 + (size + 1048575) / 1048576))
done

EXPECT_STATUS=1 expect_fail "without --connect-to the hosts' names do not resolve" \
  "DC0_C0_H2|resolve" vs-pull --thumbprint "$VSPULL_PIN" --direct --retries 0 \
  -o "$tmp/out/nores" "[LocalDS_0] files/one.bin"

t0=$(stat_of tickets_issued); r0=$(stat_of host_requests)
st=0
vsd -v -j 4 --chunk-size 1M --sha256 --dir "$tmp/out/d" "${srcs[@]}" \
  > "$tmp/sums" 2> "$tmp/d.err" || st=$?
is "--direct -j 4: five files" "$st" 0
[ "$st" = 0 ] || diag "$(cat "$tmp/d.err")"
for n in $names; do
  same_file "--direct: $n is bit-identical" "$tmp/out/d/$n" "$ds0/files/$n"
  is "--direct: $n has the SHA-256 of the original" \
    "$(grep " $tmp/out/d/$n\$" "$tmp/sums" | cut -d' ' -f1)" "$(sha256 "$ds0/files/$n")"
done
t1=$(stat_of tickets_issued); r1=$(stat_of host_requests)
is "one ticket issued per request the hosts saw" "$((t1 - t0))" "$((r1 - r0))"
is "... and as many requests as HEADs and 1 MiB chunks" "$((r1 - r0))" "$expect_requests"
is "vs-pull counts the same tickets" \
  "$(awk '/service tickets?, one per request/ { for (i = 1; i < NF; i++) if ($(i + 1) == "service") n += $i } END { print n + 0 }' "$tmp/d.err")" \
  "$((t1 - t0))"
grep -q "datastore 'LocalDS_0' from host DC0_C0_H2" "$tmp/d.err" \
  && pass "the host is one that mounts the datastore" \
  || fail "the host is one that mounts the datastore"
is "no request was refused" "$(stat_of host_requests_refused)" 0
is "the vCenter session cookie never went to a host" \
  "$(stat_of host_requests_with_session_cookie)" 0

# Ranges, stdout, the datacenter path.
f=$ds0/files/big.bin
vsd --chunk-size 64K --range 4096:8192 --range 5M:200K -o "$tmp/out/r" "[LocalDS_0] files/big.bin"
{ dd if="$f" bs=4096 skip=1 count=2 status=none
  dd if="$f" bs=1K skip=5120 count=200 status=none; } > "$tmp/out/r.want"
same_file "--direct --range" "$tmp/out/r" "$tmp/out/r.want"
is "--direct -o - (stdout)" \
  "$(vsd -j 4 -o - "[LocalDS_0] files/mid.bin" | sha256sum | cut -d' ' -f1)" \
  "$(sha256 "$ds0/files/mid.bin")"
ok "--direct --datacenter DC0" vsd --datacenter DC0 -o "$tmp/out/dc" "[LocalDS_0] files/small.bin"
same_file "--direct --datacenter: identical" "$tmp/out/dc" "$ds0/files/small.bin"
EXPECT_STATUS=1 expect_fail "--direct: an unknown datacenter" "no datacenter at inventory path 'NoDC'" \
  vsd --datacenter NoDC -o "$tmp/out/x" "[LocalDS_0] files/small.bin"
EXPECT_STATUS=1 expect_fail "--direct: an unknown datastore" "no datastore named 'NoSuchDS'" \
  vsd -o "$tmp/out/x" "[NoSuchDS] files/small.bin"
EXPECT_STATUS=1 expect_fail "--direct: a file that is not there" "nope.bin: server answered 404" \
  vsd -o "$tmp/out/x" "[LocalDS_0] files/nope.bin"

# VM records and extent records.
vm=DC0_H0_VM0
head -c 4M /dev/urandom > "$ds0/$vm/disk1-flat.vmdk"
vs-ls --thumbprint "$VSPULL_PIN" --chain --vm "$vm" > "$tmp/rec.jsonl"
vsd --dir "$tmp/out/vms" < "$tmp/rec.jsonl" > "$tmp/rec.out"
same_file "--direct with VM records" "$tmp/out/vms/$vm/disk1-flat.vmdk" "$ds0/$vm/disk1-flat.vmdk"
jq -nc --arg f "[LocalDS_0] $vm/disk1-flat.vmdk" \
  '{kind:"extent",vm:"x",disk:2000,file:$f,offset:65536,length:65536}' > "$tmp/ext.jsonl"
vsd --patch "$tmp/out/target" < "$tmp/ext.jsonl"
cmp -s <(dd if="$tmp/out/target" bs=64k skip=1 count=1 status=none) \
       <(dd if="$ds0/$vm/disk1-flat.vmdk" bs=64k skip=1 count=1 status=none) \
  && pass "--direct with extent records (--patch)" || fail "--direct with extent records (--patch)"
is "still one ticket per request" "$(( $(stat_of tickets_issued) - t0 ))" "$(( $(stat_of host_requests) - r0 ))"

# The simulator really checks tickets: by hand with curl.
soap ()
{
  printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' "$1" \
    | curl -sk -b "$tmp/jar" -c "$tmp/jar" "$VCSIM_URL" -H 'Content-Type: text/xml; charset=utf-8' \
        -H 'SOAPAction: "urn:vim25/6.5"' --data-binary @-
}
ticket ()   # METHOD URL: a ticket id
{
  soap "<AcquireGenericServiceTicket xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><spec xsi:type=\"SessionManagerHttpServiceRequestSpec\"><method>$1</method><url>$2</url></spec></AcquireGenericServiceTicket>" \
    | xmllint --xpath 'string(//*[local-name()="returnval"]/*[local-name()="id"])' -
}
hostget ()  # COOKIE URL [curl options]: the HTTP status
{
  local c=$1 u=$2; shift 2
  curl -sk --connect-to "DC0_C0_H2:443:127.0.0.1:$port" ${c:+-b "vmware_cgi_ticket=$c"} \
    -o "$tmp/hostget" -w '%{http_code}' "$@" "$u"
}
url="https://DC0_C0_H2/folder/files/small.bin?dsName=LocalDS_0"
: > "$tmp/jar"
soap '<AcquireGenericServiceTicket xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><spec xsi:type="SessionManagerHttpServiceRequestSpec"><method>httpGet</method><url>'"$url"'</url></spec></AcquireGenericServiceTicket>' \
  > "$tmp/nosession.xml"
grep -q NotAuthenticated "$tmp/nosession.xml" && pass "no ticket without a session" \
  || fail "no ticket without a session"
soap "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>admin</userName><password>$secret</password></Login>" >/dev/null
is "curl: no ticket: 401" "$(hostget '' "$url")" 401
id=$(ticket httpGet "$url")
is "curl: a fresh ticket: 200" "$(hostget "$id" "$url")" 200
same_file "curl: ... with the file" "$tmp/hostget" "$ds0/files/small.bin"
is "curl: the same ticket again: 401" "$(hostget "$id" "$url")" 401
is "curl: a made-up ticket: 401" "$(hostget "52a1b2c3-0000-4000-8000-000000000000" "$url")" 401
id=$(ticket httpGet "https://DC0_C0_H2/folder/files/one.bin?dsName=LocalDS_0")
is "curl: a ticket for another file: 403" "$(hostget "$id" "$url")" 403
id=$(ticket httpHead "$url")
is "curl: a HEAD ticket for a GET: 403" "$(hostget "$id" "$url")" 403
id=$(ticket httpGet "$url")
is "curl: a ticket used through vCenter's address still counts as the host's: 403" \
  "$(curl -sk -b "vmware_cgi_ticket=$id" -o /dev/null -w '%{http_code}' "${VCSIM_URL%/sdk}/folder/files/small.bin?dsName=LocalDS_0")" 403
id=$(ticket httpGet "$url")
is "curl: a ranged GET with a ticket: 206" "$(hostget "$id" "$url" -r 100-199)" 206
cmp -s "$tmp/hostget" <(dd if="$ds0/files/small.bin" bs=100 skip=1 count=1 status=none) \
  && pass "curl: ... with those bytes" || fail "curl: ... with those bytes"

# Host certificates.  A known_hosts entry for the host is the user's pin.
printf 'DC0_C0_H2 00:%s\n' "${VCSIM_THUMBPRINT:3}" > "$tmp/kh-bad"
EXPECT_STATUS=1 expect_fail "a known_hosts entry for the host that does not match" \
  "host DC0_C0_H2: its certificate does not match the thumbprint 00:.* from $tmp/kh-bad" \
  vsd --known-hosts "$tmp/kh-bad" -o "$tmp/out/kh" "[LocalDS_0] files/small.bin"
[ ! -e "$tmp/out/kh" ] && [ ! -e "$tmp/out/kh.part" ] \
  && pass "... and nothing was written" || fail "... and nothing was written"

# A vCenter whose record of the host's certificate is wrong.
start_vcsim -username admin -password "$secret" -ticket-thumbprint "00:${VCSIM_THUMBPRINT:3}"
connect_all "${VCSIM_HOSTPORT##*:}"
stats_url=${VCSIM_URL%/sdk}/h2k/stats
echo data > "$VCSIM_DS_0_DIR/x.bin"
EXPECT_STATUS=1 expect_fail "a host certificate that does not match the ticket's thumbprint" \
  "host DC0_C0_H2: its certificate does not match the thumbprint 00:.* from vCenter's service ticket; its SHA-1 thumbprint is $VCSIM_THUMBPRINT" \
  vsd -o "$tmp/out/bad" "[LocalDS_0] x.bin"
[ ! -e "$tmp/out/bad" ] && [ ! -e "$tmp/out/bad.part" ] && [ ! -e "$tmp/out/bad.part.state" ] \
  && pass "... and OUTPUT was not written" || fail "... and OUTPUT was not written"
is "... and no ticket reached the host" "$(stat_of tickets_used)" 0
start=$(date +%s)
EXPECT_STATUS=1 expect_fail "... even with --insecure (a pin is always checked)" \
  "does not match the thumbprint" \
  vs-pull --insecure --direct "${CT[@]}" -o "$tmp/out/bad" "[LocalDS_0] x.bin"
is "... at once, not after retries" "$(( $(date +%s) - start < 5 ))" 1
printf 'DC0_C0_H2:443 %s\n' "$VCSIM_THUMBPRINT256" > "$tmp/kh-good"
ok "a known_hosts entry for the host overrides the ticket's thumbprint" \
  vsd --known-hosts "$tmp/kh-good" -o "$tmp/out/kh-good" "[LocalDS_0] x.bin"
same_file "... identical" "$tmp/out/kh-good" "$VCSIM_DS_0_DIR/x.bin"

# Tickets without a thumbprint: the host's certificate is verified as any
# other, against the CAs and for the host's name.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
  -days 2 -subj /CN=vcsim -addext \
  "subjectAltName=IP:127.0.0.1,$(sed 's/^/DNS:/' <<<"$VCSIM_HOSTS" | paste -sd,)" 2>/dev/null
start_vcsim -username admin -password "$secret" -tlscert "$tmp/cert.pem" \
  -tlskey "$tmp/key.pem" -ticket-thumbprint none
connect_all "${VCSIM_HOSTPORT##*:}"
echo data > "$VCSIM_DS_0_DIR/x.bin"
ok "no thumbprint in the ticket: the host's certificate checked against the CA" \
  vs-pull --ca-certs "$tmp/cert.pem" --direct "${CT[@]}" -o "$tmp/out/ca" "[LocalDS_0] x.bin"
same_file "... identical" "$tmp/out/ca" "$VCSIM_DS_0_DIR/x.bin"
printf 'DC0_C0_H2 %s\n' "$VCSIM_THUMBPRINT" > "$tmp/kh-vc"
EXPECT_STATUS=1 expect_fail "... and a host the CA does not vouch for is refused" \
  "host DC0_C0_H2: its certificate \(SHA-1 thumbprint $VCSIM_THUMBPRINT\) is not trusted" \
  vs-pull --thumbprint "$VCSIM_THUMBPRINT" --direct "${CT[@]}" -o "$tmp/out/ca2" "[LocalDS_0] x.bin"
[ ! -e "$tmp/out/ca2" ] && [ ! -e "$tmp/out/ca2.part" ] \
  && pass "... and nothing was written" || fail "... and nothing was written"
ok "... unless known_hosts pins it" \
  vs-pull --thumbprint "$VCSIM_THUMBPRINT" --known-hosts "$tmp/kh-vc" --direct "${CT[@]}" \
  -o "$tmp/out/ca3" "[LocalDS_0] x.bin"
ok "... or --insecure says not to check" \
  vs-pull --insecure --direct "${CT[@]}" -o "$tmp/out/ca4" "[LocalDS_0] x.bin"

# A server that offers no tickets: a clear failure, nothing written.
start_vcsim -username admin -password "$secret" -no-tickets
connect_all "${VCSIM_HOSTPORT##*:}"
echo data > "$VCSIM_DS_0_DIR/x.bin"
EXPECT_STATUS=1 expect_fail "no service tickets: a clear failure" \
  "does not offer generic service tickets \(NotSupported\): run without --direct" \
  vsd -o "$tmp/out/none" "[LocalDS_0] x.bin"
[ ! -e "$tmp/out/none" ] && [ ! -e "$tmp/out/none.part" ] \
  && pass "... and nothing was written" || fail "... and nothing was written"
ok "... and without --direct the file comes through vCenter" \
  vs-pull --thumbprint "$VSPULL_PIN" -o "$tmp/out/none" "[LocalDS_0] x.bin"

# A standalone host is already direct: no tickets, a warning.
start_vcsim -esx -username admin -password "$secret"
echo data > "$VCSIM_DS_0_DIR/x.bin"
vs-pull --thumbprint "$VSPULL_PIN" --direct -o "$tmp/out/esx" "[$VCSIM_DS_0_NAME] x.bin" 2> "$tmp/esx.err"
same_file "--direct against a standalone host" "$tmp/out/esx" "$VCSIM_DS_0_DIR/x.bin"
grep -q "is a host, not vCenter" "$tmp/esx.err" && pass "... says it needs no tickets" \
  || fail "... says it needs no tickets"

# Usage.
EXPECT_STATUS=2 expect_fail "--direct with a URL" "applies to datastore paths" \
  vs-pull --direct -o - "https://u:$secret@127.0.0.1:1/x"
EXPECT_STATUS=2 expect_fail "--connect-to needs four fields" "expected HOST:PORT:CONNECT-TO-HOST" \
  vs-pull --connect-to esx1:443:10.0.0.5 -o - "[ds] x"
EXPECT_STATUS=2 expect_fail "--connect-to: a bad port" "expected HOST:PORT" \
  vs-pull --connect-to esx1:99999:h:443 -o - "[ds] x"
