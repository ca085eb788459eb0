#!/usr/bin/env bash
# TLS and credentials: verification on by default, --insecure, thumbprint
# pins (SHA-1, SHA-256, govc known_hosts) checked before anything is sent,
# CA files, a wrong password, and no password in any output.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires openssl version

pw='s3cret-Pa55word'
start_vcsim -username alice -password "$pw" -trace-file "$tmp/trace"
unset GOVC_INSECURE GOVC_TLS_CA_CERTS GOVC_TLS_KNOWN_HOSTS
out=$tmp/out err=$tmp/err

# The simulator's built-in certificate is self-signed (and RSA-1024, which
# OpenSSL 3 refuses as too weak): verification must fail, naming the
# certificate's thumbprint, before any request reaches the server.
: > "$tmp/trace"
expect_fail "verification is on by default" "TLS: .*$VCSIM_THUMBPRINT" vs-ls
is "nothing reached the server" "$(wc -c < "$tmp/trace")" 0

ok "--insecure" quiet vs-ls --insecure
ok "GOVC_INSECURE=1" quiet env GOVC_INSECURE=1 vs-ls
is "--insecure lists the VMs" "$(vs-ls --insecure | wc -l)" 4
ok "--thumbprint SHA-1" quiet vs-ls --thumbprint "$VCSIM_THUMBPRINT"
ok "--thumbprint SHA-256" quiet vs-ls --thumbprint "$VCSIM_THUMBPRINT256"
ok "--thumbprint lowercase without colons" \
  quiet vs-ls --thumbprint "$(echo "$VCSIM_THUMBPRINT" | tr -d : | tr A-F a-f)"

# A wrong pin: refused in the handshake, so the trace stays empty and the
# password never leaves.
wrong=00:${VCSIM_THUMBPRINT#??:}
: > "$tmp/trace"
expect_fail "a wrong thumbprint fails" "does not match the thumbprint.*nothing was sent" \
  vs-ls --thumbprint "$wrong"
is "a wrong pin sends nothing at all" "$(wc -c < "$tmp/trace")" 0
expect_fail "a pin is checked even with --insecure" "does not match" \
  vs-ls --insecure --thumbprint "$wrong"
EXPECT_STATUS=2 expect_fail "a malformed thumbprint is a usage error" "not a SHA-1 or SHA-256" \
  vs-ls --thumbprint 12:34

# govc's known_hosts file.
printf 'other.example.com %s\n%s %s\n' "$wrong" "$VCSIM_HOSTPORT" "$VCSIM_THUMBPRINT" > "$tmp/known"
ok "GOVC_TLS_KNOWN_HOSTS pins by host:port" quiet env GOVC_TLS_KNOWN_HOSTS="$tmp/known" vs-ls
printf '%s %s\n' "$VCSIM_HOSTPORT" "$wrong" > "$tmp/known-bad"
: > "$tmp/trace"
expect_fail "a known_hosts mismatch fails" "thumbprint from $tmp/known-bad" \
  vs-ls --known-hosts "$tmp/known-bad"
is "a known_hosts mismatch sends nothing" "$(wc -c < "$tmp/trace")" 0

# The password never appears in output, in any failure.
for args in "" "--insecure --vm nosuch" "--thumbprint $wrong"; do
  vs-ls $args >"$out" 2>"$err" || true
  if grep -qF "$pw" "$out" "$err"; then fail "no password in output ($args)"
  else pass "no password in output ($args)"; fi
done

# Wrong credentials: the server's own words, exit 1, no password echoed.
echo 'not-the-password' > "$tmp/pwfile"
EXPECT_STATUS=1 expect_fail "a wrong password" "Login: InvalidLogin: " \
  vs-ls --insecure --url "$VCSIM_URL" --username alice --password-file "$tmp/pwfile"
vs-ls --insecure --url "$VCSIM_URL" --username alice --password-file "$tmp/pwfile" 2>"$err" || true
ok "the wrong password is not echoed" bash -c "! grep -q not-the-password '$err'"
echo "$pw" > "$tmp/pwfile"
ok "--password-file" quiet env -u GOVC_PASSWORD GOVC_URL="$VCSIM_URL" \
  vs-ls --insecure --username alice --password-file "$tmp/pwfile"
ok "GOVC_USERNAME and GOVC_PASSWORD" quiet env GOVC_URL="$VCSIM_URL" GOVC_USERNAME=alice \
  GOVC_PASSWORD="$pw" vs-ls --insecure
expect_fail "a missing password file" "nosuch: No such file" \
  vs-ls --insecure --url "$VCSIM_URL" --username alice --password-file "$tmp/nosuch"
expect_fail "no password and no terminal" "no password" \
  setsid env -u GOVC_PASSWORD GOVC_URL="$VCSIM_URL" GOVC_USERNAME=alice vs-ls --insecure </dev/null
ok "the login request carried the password (the trace sees it)" grep -qF "$pw" "$tmp/trace"

# A prompt on the terminal, without echo.
if command -v script >/dev/null; then
  (sleep 1; printf '%s\n' "$pw") | env -u GOVC_PASSWORD GOVC_URL="$VCSIM_URL" GOVC_USERNAME=alice \
    script -qec "vs-ls --insecure --vm DC0_H0_VM0" "$tmp/typescript" > "$tmp/tty" 2>&1 || true
  ok "the terminal prompt names the server" grep -q "Password for $VCSIM_HOSTPORT: " "$tmp/tty"
  ok "the password typed at the prompt logs in" grep -q '"name":"DC0_H0_VM0"' "$tmp/tty"
  ok "the typed password is not echoed" bash -c "! grep -qF '$pw' '$tmp/tty'"
else
  skip "no script(1) for a terminal"
fi

# Real verification: a simulator with an RSA-2048 certificate for
# 127.0.0.1, trusted through GOVC_TLS_CA_CERTS.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
start_vcsim -tlscert "$tmp/cert.pem" -tlskey "$tmp/key.pem"
ok "GOVC_TLS_CA_CERTS trusts a CA" quiet env GOVC_TLS_CA_CERTS="$tmp/cert.pem" vs-ls
ok "--ca-certs with several files" quiet vs-ls --ca-certs "$VCSIM_CERT:$tmp/cert.pem"
expect_fail "without the CA it fails" "TLS: .*self-signed" vs-ls
expect_fail "a missing CA file" "nosuch.pem" vs-ls --ca-certs "$tmp/nosuch.pem"
