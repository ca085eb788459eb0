#!/usr/bin/env bash
# Bad input and broken servers: clear messages, exit 1 (2 for usage), no
# crash, nothing on stdout.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
export GOVC_INSECURE=1
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_DATACENTER

# Usage errors.
EXPECT_STATUS=2 expect_fail "no server" "no server: give --url or set GOVC_URL" vs-ls
EXPECT_STATUS=2 expect_fail "a URL with another scheme" "scheme must be https" vs-ls --url ftp://x/sdk
EXPECT_STATUS=2 expect_fail "an unknown --type" "unknown type 'vms'" vs-ls --url x --type vms
EXPECT_STATUS=2 expect_fail "a bad --page-size" "--page-size: '0' is out of range" vs-ls --url x --page-size 0
EXPECT_STATUS=2 expect_fail "a bad --power-state" "--power-state: 'on'" vs-ls --url x --power-state on
EXPECT_STATUS=2 expect_fail "--vm with --type host" "only apply to --type vm" vs-ls --url x --type host --vm a
EXPECT_STATUS=2 expect_fail "a stray argument" "unexpected argument 'web01'" vs-ls --url x web01

# Servers that are not there, or not vSphere.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EXPECT_STATUS=1 expect_fail "nothing listening" "127.0.0.1:$port: .*(connect|Connection refused)" \
  vs-ls --url "https://127.0.0.1:$port/sdk" --username u
EXPECT_STATUS=1 expect_fail "a host that does not resolve" "no-such-host.invalid" \
  vs-ls --url https://no-such-host.invalid/sdk --username u

start_vcsim -garbage html
EXPECT_STATUS=1 expect_fail "a server answering with HTML" \
  "RetrieveServiceContent: HTTP 503 .*not a SOAP answer: 503 Service Unavailable Service Unavailable The vCenter service is starting up" vs-ls
start_vcsim -garbage junk
EXPECT_STATUS=1 expect_fail "a server answering with junk" \
  "RetrieveServiceContent: the server's answer is not SOAP: \?\? this is <not xml" vs-ls

# A plain-HTTP client on the TLS port, and HTTPS to a plain-HTTP port.
start_vcsim -tls=false
EXPECT_STATUS=1 expect_fail "TLS to a plain HTTP server" "TLS|SSL" \
  vs-ls --url "https://$VCSIM_HOSTPORT/sdk"
ok "plain http works when asked for" quiet vs-ls --url "http://$VCSIM_HOSTPORT/sdk"

# A server that is fine, and a stdout that is not.
start_vcsim
EXPECT_STATUS=1 expect_fail "a full stdout" "" bash -c 'vs-ls > /dev/full'
EXPECT_STATUS=1 expect_fail "unknown VM" "no VM named 'web01'" vs-ls --vm web01
out=$(vs-ls --vm web01 2>/dev/null || true)
is "nothing on stdout for an unknown VM" "$out" ""
