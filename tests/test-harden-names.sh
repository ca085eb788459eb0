#!/usr/bin/env bash
# Hostile names where a name becomes a path, a JSON string, an XML text or
# a message: '/', '..', a leading '-', control characters, line breaks, a
# 4 KiB name, invalid UTF-8, shell syntax.  vs-pull --dir keeps every VM
# inside DIR (one directory each), virt-define --out-dir keeps every
# domain inside DIR or refuses the name, records stay one valid JSON line
# each, and no message is broken over two lines.
. "$(dirname "$0")/functions.sh"
requires python3 --version
requires jq --version
requires xmllint --version
cd "$tmp"

long=$(head -c 4096 /dev/zero | tr '\0' n)
names=('../../etc' '..' '.' '/' '-rf' '--help' $'a\nb' $'cr\rlf' $'esc\e[31mred' \
       $'tab\there' '$(touch pwned)' '`touch pwned`' "$long" 'ok name' 'a/b/../../c' '~root')

# A file server for vs-pull's VM records (any /folder path: 1 MiB).
python3 "$H2K_TOP/tests/hostileserver.py" --mode plain --log "$tmp/srv.log" > srv.out 2>/dev/null &
cleanup_fn kill "$!"
for _ in $(seq 300); do grep -q PORT= srv.out 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/PORT=//p' srv.out)
url="http://127.0.0.1:$port/folder/w/w.vmdk?dsName=ds1"

: > recs
for n in "${names[@]}"; do
  jq -nc --arg n "$n" --arg u "$url" '{kind:"vm",name:$n,disks:[{key:1,file:$u,chain:[$u]}]}' >> recs
done
# Invalid UTF-8 cannot come through jq: written by hand.
printf '{"kind":"vm","name":"bad\xff\xfeutf8","disks":[{"key":1,"file":"%s","chain":["%s"]}]}\n' "$url" "$url" >> recs
nrec=$(wc -l < recs)

st=0
vs-pull --dir d < recs > out 2> err || st=$?
if [ "$st" -eq 0 ]; then
  pass "vs-pull --dir: $nrec VMs with hostile names pulled"
else
  fail "vs-pull --dir: exit $st"; diag "$(cat err)"
fi
is "... one record out per record in, each one JSON line" "$(jq -c . out | wc -l)" "$nrec"
ok "... names unchanged in the records" \
  test "$(jq -r .name out | head -n 1)" = '../../etc'
# Every path the records point to is DIR/<one component>/w.vmdk, a
# real file inside d/, and nothing was made outside d/.
bad=0 seen=0
while IFS= read -r -d '' l; do
  seen=$((seen + 1))
  case $l in
    d/*/w.vmdk) ;;
    *) bad=$((bad + 1)); diag "local path outside the pattern: $(printf %q "$l")" ;;
  esac
  rest=${l#d/}; rest=${rest%/w.vmdk}
  case $rest in */*|.|..|'') bad=$((bad + 1)); diag "VM directory $(printf %q "$rest")" ;; esac
  [[ $rest == *[$'\n\r\e']* ]] && { bad=$((bad + 1)); diag "control character in $(printf %q "$rest")"; }
  [ -f "$l" ] || { bad=$((bad + 1)); diag "missing $(printf %q "$l")"; }
done < <(jq -j '.disks[0].local + "\u0000"' out)
is "... a local path in every record" "$seen" "$nrec"
is "... every local path is d/<one name>/w.vmdk" "$bad" 0
ok "... no file outside d/" test ! -e etc -a ! -e pwned -a ! -e ../etc
ndirs=$(find d -mindepth 1 -maxdepth 1 -type d | wc -l)
diag "vs-pull made $ndirs VM directories for $nrec names"
ok "... no name longer than a file name may be" \
  bash -c '! find d -mindepth 1 | awk -F/ "{ for (i = 1; i <= NF; i++) if (length(\$i) > 255) exit 1 }" | grep -q .'

# virt-define --out-dir: each name a domain file inside DIR, or a clear
# refusal; messages one line each.
qemu_ok=false
command -v qemu-img > /dev/null && qemu_ok=true
if $qemu_ok; then qemu-img create -q -f qcow2 w.qcow2 1M; else printf 'QFI\373' > w.qcow2; fi
n=0
for name in "${names[@]}" $'bad\xff\xfeutf8'; do
  n=$((n + 1))
  rm -rf "vd$n"
  printf '{"kind":"vm","name":"%s","cpus":1,"memory_mb":512,"disks":[{"key":1,"file":"[ds] w/w.vmdk","local":"%s/w.qcow2","capacity":1048576}]}\n' \
    "$(jq -rn --arg n "$name" '$n | @json | .[1:-1]' 2>/dev/null || printf 'bad\xff\xfeutf8')" "$tmp" > "rec$n"
  st=0
  virt-define --out-dir "vd$n" < "rec$n" > /dev/null 2> "err$n" || st=$?
  lines=$(grep -c '' "err$n" || true)
  # Each message starts with the program's name: nothing broke a line.
  stray=$(grep -vc '^virt-define: ' "err$n" || true)
  if [ "$st" -eq 0 ]; then
    files=$(find "vd$n" -type f | wc -l)
    outside=$(find "vd$n" -mindepth 2 | wc -l)
    if [ "$files" -eq 1 ] && [ "$outside" -eq 0 ] && [ "$stray" -eq 0 ] \
       && xmllint --noout "vd$n"/*; then
      pass "virt-define --out-dir, name $n: one well-formed file inside DIR"
    else
      fail "virt-define --out-dir, name $n: $files files, $outside nested, $stray broken lines"
      diag "$(cat "err$n")"
    fi
  elif [ "$st" -eq 1 ] && [ "$stray" -eq 0 ] && [ -z "$(ls -A "vd$n" 2>/dev/null)" ]; then
    pass "virt-define --out-dir, name $n: refused in one line: $(head -c 200 "err$n")"
  else
    fail "virt-define --out-dir, name $n: exit $st, $lines lines"
    diag "$(cat "err$n")"
  fi
done
ok "no file outside its DIR" test ! -e etc -a ! -e pwned
diag "hostile names: ${#names[@]} names (+ invalid UTF-8) through vs-pull and virt-define"
