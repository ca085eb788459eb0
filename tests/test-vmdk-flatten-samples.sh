#!/usr/bin/env bash
# vmdk-flatten on real files from other projects (../shared/samples, see
# SOURCES.md there), checked against the content their projects document
# and the hashes qemu-img gave.  Skipped when the samples are absent.
. "$(dirname "$0")/functions.sh"
S=$H2K_SAMPLES
[ -d "$S/vmdk-streamoptimized" ] || skip_all "no samples in $S"
cd "$tmp"

hash_of () { vmdk-flatten "$1" - | sha256sum | cut -d' ' -f1; }

requires qemu-img --version

# streamOptimized from ovftool 4.6.3 (GD at the end, an empty disk), from
# VMware's open-vmdk (GD at the start), from VirtualBox.
is "ovftool 4.6.3 stream (1 MiB of zeros)" "$(hash_of "$S/vmdk-streamoptimized/mdx1-ovftool463-1mb.vmdk")" \
  30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58
is "open-vmdk stream (64 KiB)" "$(hash_of "$S/vmdk-streamoptimized/mdx1-open-vmdk-64KiB.vmdk")" \
  de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31
is "VirtualBox stream (4 MiB)" "$(hash_of "$S/vmdk-streamoptimized/xo-virtualbox-test.vmdk")" \
  bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8

# qemu's iotest-version3: a real ovftool/vSphere export, 16 GiB.  Its
# documented content: at i*655360 + i*512 the 512 bytes are '0'+i%10.
if command -v bzcat >/dev/null; then
  bzcat "$S/vmdk-streamoptimized/qemu-iotest-version3.vmdk.bz2" > v3.vmdk
  ok "iotest-version3: flatten 16 GiB sparse" vmdk-flatten v3.vmdk v3.raw
  # (Hashing 16 GiB is slow; qemu-img compare skips the holes.)
  ok "iotest-version3: same bytes as qemu-img" qemu-img compare -q -f raw -F vmdk v3.raw v3.vmdk
  good=0
  for i in $(seq 0 99); do
    want=$(printf "\\$(printf '%03o' $((48 + i % 10)))%.0s" $(seq 512) | sha256sum)
    got=$(dd if=v3.raw bs=512 skip=$((i * 1280 + i)) count=1 status=none | sha256sum)
    [ "$want" = "$got" ] && good=$((good + 1))
  done
  is "iotest-version3: the 100 documented sectors" "$good" 100
  is "iotest-version3: --map shows 151 grains of data" \
    "$(vmdk-flatten --map v3.vmdk | jq -s 'map(select(.data).length) | add / 65536')" 151
  ok "iotest-version3: --check" bash -c "vmdk-flatten --check v3.vmdk >/dev/null"

  bzcat "$S/vmdk-invalid/qemu-afl9.vmdk.bz2" > afl9.vmdk
  EXPECT_STATUS=1 expect_fail "qemu's afl9 fuzzed header is refused" \
    "afl9.vmdk: invalid number of entries per grain table" vmdk-flatten afl9.vmdk afl9.raw
else
  skip "bzcat missing"
fi

# seSparse extent, probably from ESXi: dissect documents 16 MiB of 'a'.
zcat "$S/vmdk-sesparse/dissect-sesparse.vmdk.gz" > ses-sesparse.vmdk
printf '%s\n' '# Disk DescriptorFile' 'version=1' 'CID=fffffffe' 'parentCID=ffffffff' \
  'createType="seSparse"' 'RW 1048576 SESPARSE "ses-sesparse.vmdk"' > ses.vmdk
is "seSparse sample through a descriptor" "$(hash_of ses.vmdk)" \
  3afa48010241335528fe402f083fc9f3a1013a49485221443a78d9a8604e2f90
is "seSparse sample opened bare" "$(hash_of ses-sesparse.vmdk)" \
  3afa48010241335528fe402f083fc9f3a1013a49485221443a78d9a8604e2f90
is "seSparse sample: the first 16 MiB are 'a'" \
  "$(vmdk-flatten ses.vmdk - | head -c 16777216 | tr -d a | wc -c)" 0

# libvmdk's descriptor: parsed (its extent file is not there).
if [ -f "$S/vmdk-descriptor/libvmdk-descriptor_file.1.txt" ]; then
  cp "$S/vmdk-descriptor/libvmdk-descriptor_file.1.txt" libvmdk.vmdk
  EXPECT_STATUS=1 expect_fail "libvmdk descriptor: parsed, its extent is missing" \
    "test1.vmdk: No such file or directory" vmdk-flatten libvmdk.vmdk x.raw
fi

# A truncated ovftool stream inside a sample OVA (no footer).
for o in "$S"/ova*/*.ova; do
  [ -f "$o" ] || continue
  if tar tf "$o" 2>/dev/null | grep -q 'disk1.vmdk$' && [ "$(tar tf "$o" | grep -c vmdk)" -eq 1 ]; then
    tar xf "$o" -C . --wildcards '*disk1.vmdk' 2>/dev/null || continue
    f=$(ls ./*disk1.vmdk | head -n1)
    EXPECT_STATUS=1 expect_fail "$(basename "$o"): its truncated stream vmdk is refused" \
      "no footer and end-of-stream marker \(truncated\?\)" vmdk-flatten "$f" trunc.raw
    [ ! -e trunc.raw.part ] && [ ! -e trunc.raw ] && pass "no partial output" || fail "no partial output"
    break
  fi
done
