#!/usr/bin/env bash
# img-convert from raw input (file and stdin) to qcow2 and raw.
# Oracles: qemu-img check (no errors, no leaks), qemu-img compare, sha256sum.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires python3 --version

# check_qcow2 DESC IMG REF: clean image identical to REF.
check_qcow2 ()
{
  local desc=$1 img=$2 ref=$3 out
  if out=$(qemu-img check "$img" 2>&1); then
    pass "$desc: qemu-img check clean"
  else
    fail "$desc: qemu-img check"; diag "$out"
  fi
  ok "$desc: qemu-img compare identical" qemu-img compare -q "$ref" "$img"
}

# A mixed disk: zeros, random, compressible text, a sub-sector tail.
python3 - "$tmp/mixed.raw" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], 'wb') as f:
    for i in range(2500):
        k = random.randint(0, 3)
        if k == 0: f.write(b'\0' * 4096)
        elif k == 1: f.write(random.randbytes(4096))
        else:
            line = b'block %06d of some compressible text\n' % i
            f.write((line * 200)[:4096])
    f.write(b'tail!')
PY
size=$(stat -c %s "$tmp/mixed.raw")
[ $((size % 65536)) -ne 0 ] && pass "fixture size $size is not a multiple of the cluster size"

for cs in 512 4k 64k 2M; do
  for comp in none zlib zstd; do
    case $comp in
      none) copt=() ;;
      zlib) copt=(-c) ;;
      zstd) copt=(-o compression_type=zstd) ;;
    esac
    out=$tmp/m-$cs-$comp.qcow2
    ok "cluster_size=$cs $comp: convert" img-convert -o cluster_size=$cs "${copt[@]}" "$tmp/mixed.raw" "$out"
    check_qcow2 "cluster_size=$cs $comp" "$out" "$tmp/mixed.raw"
    [ -e "$out.part" ] && fail "no .part left" || pass "cluster_size=$cs $comp: no .part left"
  done
done
qemu-img info "$tmp/m-64k-zstd.qcow2" | grep -q 'compression type: zstd' \
  && pass "zstd output says compression type zstd" || fail "zstd compression type"
qemu-img info "$tmp/m-64k-zlib.qcow2" | grep -q 'compression type: zlib' \
  && pass "zlib output says compression type zlib" || fail "zlib compression type"
[ "$(stat -c %s "$tmp/m-64k-zlib.qcow2")" -lt "$(stat -c %s "$tmp/m-64k-none.qcow2")" ] \
  && pass "compression makes the file smaller" || fail "compression makes the file smaller"

# Compression levels.
ok "zlib level 1" img-convert -c -o compression_level=1 "$tmp/mixed.raw" "$tmp/l1.qcow2"
check_qcow2 "zlib level 1" "$tmp/l1.qcow2" "$tmp/mixed.raw"
ok "zstd level 19" img-convert -o compression_type=zstd,compression_level=19 "$tmp/mixed.raw" "$tmp/l19.qcow2"
check_qcow2 "zstd level 19" "$tmp/l19.qcow2" "$tmp/mixed.raw"

# The output does not depend on the number of threads.
for comp in zlib zstd; do
  for j in 1 2 5; do
    img-convert -j $j -c -o compression_type=$comp "$tmp/mixed.raw" "$tmp/j$j-$comp.qcow2"
  done
  same_file "$comp: -j 1 and -j 2 give the same bytes" "$tmp/j1-$comp.qcow2" "$tmp/j2-$comp.qcow2"
  same_file "$comp: -j 1 and -j 5 give the same bytes" "$tmp/j1-$comp.qcow2" "$tmp/j5-$comp.qcow2"
done

# Standard input gives the same file as the file itself.
img-convert "$tmp/mixed.raw" "$tmp/file.qcow2"
img-convert - "$tmp/stdin.qcow2" < "$tmp/mixed.raw"
same_file "stdin (redirect) = file" "$tmp/file.qcow2" "$tmp/stdin.qcow2"
cat "$tmp/mixed.raw" | img-convert - "$tmp/pipe.qcow2"
same_file "stdin (pipe) = file" "$tmp/file.qcow2" "$tmp/pipe.qcow2"
cat "$tmp/mixed.raw" | img-convert -c -o compression_type=zstd - "$tmp/pipez.qcow2"
same_file "stdin (pipe, zstd) = file" "$tmp/j1-zstd.qcow2" "$tmp/pipez.qcow2"

# --sha256 is the digest of the guest bytes, whatever the output.
want=$(sha256 "$tmp/mixed.raw")
got=$(img-convert --sha256 "$tmp/mixed.raw" "$tmp/s.qcow2" | cut -d' ' -f1)
is "--sha256 (qcow2) = sha256sum of the input" "$got" "$want"
got=$(img-convert --sha256 -O raw - "$tmp/s.raw" < "$tmp/mixed.raw" | cut -d' ' -f1)
is "--sha256 (stdin to raw)" "$got" "$want"

# Raw output: identical and sparse; raw to stdout.
truncate -s 100M "$tmp/sparse.raw"
printf 'data' | dd of="$tmp/sparse.raw" bs=1 seek=50000000 conv=notrunc 2>/dev/null
ok "raw to raw" img-convert -O raw "$tmp/sparse.raw" "$tmp/sparse2.raw"
same_file "raw output identical" "$tmp/sparse.raw" "$tmp/sparse2.raw"
[ "$(du -k "$tmp/sparse2.raw" | cut -f1)" -lt 100 ] && pass "raw output is sparse" \
  || fail "raw output is sparse ($(du -k "$tmp/sparse2.raw"))"
img-convert -O raw "$tmp/mixed.raw" - > "$tmp/stdout.raw"
same_file "raw to stdout" "$tmp/mixed.raw" "$tmp/stdout.raw"
# A character device or a FIFO is written to, never replaced.
mkfifo "$tmp/fifo"
cat "$tmp/fifo" > "$tmp/fromfifo.raw" &
img-convert -O raw "$tmp/mixed.raw" "$tmp/fifo"
wait
same_file "raw into a FIFO" "$tmp/mixed.raw" "$tmp/fromfifo.raw"
[ -p "$tmp/fifo" ] && pass "the FIFO is still a FIFO" || fail "the FIFO was replaced"
cat "$tmp/fifo" > /dev/null &
got=$(img-convert --sha256 -O raw "$tmp/mixed.raw" "$tmp/fifo" | cut -d' ' -f1)
wait
is "raw into a FIFO with --sha256" "$got" "$(sha256 "$tmp/mixed.raw")"
EXPECT_STATUS=1 expect_fail "qcow2 into a FIFO" "needs a seekable file" img-convert "$tmp/mixed.raw" "$tmp/fifo"

# A 0-byte disk.
: > "$tmp/empty.raw"
ok "0-byte disk" img-convert "$tmp/empty.raw" "$tmp/empty.qcow2"
check_qcow2 "0-byte disk" "$tmp/empty.qcow2" "$tmp/empty.raw"
ok "0-byte disk from stdin, compressed" img-convert -c - "$tmp/empty2.qcow2" < "$tmp/empty.raw"
check_qcow2 "0-byte disk from stdin" "$tmp/empty2.qcow2" "$tmp/empty.raw"

# A sparse 2 TiB disk with a few MiB of data: seconds, a tiny file.
truncate -s 2T "$tmp/big.raw"
head -c 3M /dev/urandom | dd of="$tmp/big.raw" bs=1M seek=1500000 conv=notrunc 2>/dev/null
head -c 2M /dev/urandom | dd of="$tmp/big.raw" bs=1M seek=10 conv=notrunc 2>/dev/null
start=$(date +%s)
ok "2 TiB sparse disk" img-convert "$tmp/big.raw" "$tmp/big.qcow2"
took=$(( $(date +%s) - start ))
[ "$took" -le 10 ] && pass "2 TiB sparse disk in ${took}s" || fail "2 TiB sparse disk took ${took}s"
bsize=$(stat -c %s "$tmp/big.qcow2")
[ "$bsize" -lt $((16 << 20)) ] && pass "2 TiB output is tiny ($bsize bytes)" || fail "2 TiB output is $bsize bytes"
check_qcow2 "2 TiB sparse disk" "$tmp/big.qcow2" "$tmp/big.raw"
ok "2 TiB sparse disk, zstd" img-convert -c -o compression_type=zstd "$tmp/big.raw" "$tmp/bigz.qcow2"
check_qcow2 "2 TiB sparse disk, zstd" "$tmp/bigz.qcow2" "$tmp/big.raw"

# Progress lines for scripts.
img-convert --progress=3 "$tmp/mixed.raw" "$tmp/p.qcow2" 3>"$tmp/progress.txt"
is "--progress=FD ends with 100/100" "$(tail -n1 "$tmp/progress.txt")" "100/100"
