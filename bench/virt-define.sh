#!/usr/bin/env bash
# Benchmark virt-define on batches of VM records (1,000 and 10,000 VMs,
# two disks and two NICs each, as vs-ls | vs-pull write them), one
# domain file per VM with --out-dir: wall time, CPU time and peak RSS
# (/usr/bin/time -v).  For scale, the next step users take with the same
# files: virt-xml-validate on each, and virsh define on each (libvirt's
# test driver, no daemon), timed over the first 200 files and scaled.
# There is no other tool in Debian that writes domain XML from VMware
# descriptions without converting the disks too (virt-v2v does both).
#
#   make && bench/virt-define.sh [SIZES...]      (default: 1000 10000)
#
# Prints a Markdown table for bench/RESULTS.md.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }
command -v jq >/dev/null || { echo "needs jq" >&2; exit 1; }
sizes=${*:-1000 10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The converted disks: one sparse raw file per disk, so that every disk
# is found and has its format read from the file, as in a real run.
records ()
{
  local n=$1 i
  mkdir -p "$work/disks"
  for ((i = 0; i < n; i++)); do
    truncate -s 1G "$work/disks/vm$i-1.raw" "$work/disks/vm$i-2.raw"
  done
  jq -cn --argjson n "$n" --arg d "$work/disks" '
    def hex2: [(. / 16 | floor), (. % 16)] | map("0123456789abcdef"[.:(. + 1)]) | join("");
    range($n) as $i
    | {kind: "vm", name: "vm-\($i) <&> ünï", moref: "vm-\($i)",
       uuid: "4210c8e1-9a7c-4b2d-8e3f-\("000000000000\($i)" | .[-12:])",
       firmware: (if $i % 2 == 0 then "bios" else "efi" end), secure_boot: false,
       cpus: 4, cores_per_socket: 2, memory_mib: 8192, guest_id: "rhel8_64Guest",
       disks: [{label: "Hard disk 1", file: "[ds1] vm\($i)/vm\($i).vmdk", controller: "pvscsi",
                capacity: 21474836480, local: "\($d)/vm\($i)-1.raw"},
               {label: "Hard disk 2", file: "[ds1] vm\($i)/vm\($i)_1.vmdk", controller: "pvscsi",
                capacity: 1073741824, local: "\($d)/vm\($i)-2.raw"}],
       nics: [{mac: "00:50:56:\(($i / 65536 | floor) % 256 | hex2):\(($i / 256 | floor) % 256 | hex2):\($i % 256 | hex2)",
               type: "vmxnet3", network: "VM Network"},
              {type: "e1000e", network: "DMZ"}]}'
}

echo "| VMs | step | wall | CPU (s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
for n in $sizes; do
  rm -rf "$work/disks" "$work/out"
  records "$n" > "$work/vms.jsonl"
  /usr/bin/time -v -o "$work/time" virt-define --network DMZ=dmz --out-dir "$work/out" \
    < "$work/vms.jsonl" 2>"$work/err"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$work/time")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.1f", $2 / 1024}' "$work/time")
  printf '| %s | virt-define, %s domain files | %s | %s | %s |\n' "$n" "$(ls "$work/out" | wc -l)" "$wall" "$cpu" "$rss"

  sample=$(ls "$work/out" | head -n 200)
  k=$(wc -l <<<"$sample")
  for step in validate define; do
    start=$(date +%s.%N)
    while read -r f; do
      if [ $step = validate ]; then virt-xml-validate "$work/out/$f" domain >/dev/null 2>&1
      else virsh -c test:///default define "$work/out/$f" >/dev/null; fi
    done <<<"$sample"
    end=$(date +%s.%N)
    printf '| %s | %s on each (%s timed, scaled) | %.1f s | | |\n' "$n" \
      "$([ $step = validate ] && echo virt-xml-validate || echo 'virsh define (test driver)')" \
      "$k" "$(echo "($end - $start) * $n / $k" | bc -l)"
  done
done
