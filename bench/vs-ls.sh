#!/usr/bin/env bash
# Benchmark vs-ls against the simulator with 1,000 and 10,000 VMs:
# the whole listing, one VM by name, and ten VMs by a glob; wall time,
# CPU time and peak RSS of vs-ls (/usr/bin/time -v), SOAP round trips
# (vs-ls --stats).  For scale, the simulator's own time to answer one
# RetrievePropertiesEx for all VMs with the same properties (curl).
# Then the same sizes from a simulator that ignores the page size asked
# for and answers every VM in one reply (-ignore-max-objects, as
# upstream's simulator does): vs-ls, and BASELINE (another vs-ls binary,
# an older build to compare with) if given.
#
#   make all vcsim && bench/vs-ls.sh [SIZES...]      (default: 1000 10000)
#   BASELINE=/tmp/vs-ls.old ONE_REPLY_ONLY=1 bench/vs-ls.sh 200 2000
#
# Prints a Markdown table for bench/RESULTS.md.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
sim=$top/tests/vcsim/h2k-vcsim
[ -x "$sim" ] || { echo "build the simulator first: make vcsim" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }
sizes=${*:-1000 10000}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# measure NAME ARGS...: one row.
measure ()
{
  local name=$1; shift
  /usr/bin/time -v -o "$work/time" "${VS_LS:-vs-ls}" --insecure --stats "$@" >"$work/out" 2>"$work/stats"
  local wall cpu rss trips lines
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$work/time")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.1f", $2 / 1024}' "$work/time")
  trips=$(sed -n 's/.* \([0-9]*\) SOAP round trips/\1/p' "$work/stats")
  lines=$(wc -l < "$work/out")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$name" "$lines" "$wall" "$cpu" "$rss" "$trips"
}

soap ()
{
  printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' "$1" \
    | curl -sk -b "$work/jar" -c "$work/jar" "$VCSIM_URL" -H 'Content-Type: text/xml; charset=utf-8' \
        -H 'SOAPAction: "urn:vim25/6.5"' --data-binary @-
}

# The simulator alone: one RetrievePropertiesEx, all VMs, vs-ls's paths.
server_only ()
{
  rm -f "$work/jar"
  soap "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$GOVC_USERNAME</userName><password>$GOVC_PASSWORD</password></Login>" >/dev/null
  local view paths="" p
  view=$(soap '<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">ViewManager</_this><container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive></CreateContainerView>' \
         | xmllint --xpath "//*[local-name()='returnval']/text()" -)
  for p in name config.uuid config.instanceUuid config.guestId config.guestFullName \
           config.firmware config.bootOptions.efiSecureBootEnabled config.version \
           config.hardware.numCPU config.hardware.numCoresPerSocket config.hardware.memoryMB \
           config.hardware.device config.changeTrackingEnabled config.template \
           runtime.powerState runtime.host snapshot summary.config.vmPathName; do
    paths="$paths<pathSet>$p</pathSet>"
  done
  local start end
  start=$(date +%s.%N)
  soap "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet><propSet><type>VirtualMachine</type>$paths</propSet><objectSet><obj type=\"ContainerView\">$view</obj><skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options></options></RetrievePropertiesEx>" > "$work/all.xml"
  end=$(date +%s.%N)
  printf '| %s | simulator alone: one RetrievePropertiesEx (curl) | %s | %.2f s | | | 1 |\n' \
    "$n" "$(xmllint --xpath "count(//*[local-name()='objects'])" "$work/all.xml")" "$(echo "$end - $start" | bc)"
}

# start_sim N [FLAGS...]: the simulator with N VMs (two resource pools per
# datacenter in the default model: n/2 VMs each).
start_sim ()
{
  local n=$1; shift
  mkdir -p "$work/ds"
  TMPDIR=$work/ds "$sim" -l 127.0.0.1:0 -vm $((n / 2)) "$@" > "$work/env" 2>"$work/log" &
  pid=$!
  until grep -q '^export VCSIM_PID' "$work/env" 2>/dev/null; do sleep 0.5; done
  eval "$(cat "$work/env")"
}
stop_sim ()
{
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  rm -rf "$work/ds"
}

echo "| VMs | listing | records | wall | CPU (s) | peak RSS (MiB) | SOAP round trips |"
echo "|---|---|---|---|---|---|---|"
for n in $sizes; do
  [ -n "${ONE_REPLY_ONLY:-}" ] && continue
  start_sim "$n"
  measure "all VMs"
  measure "all VMs, --page-size 1000" --page-size 1000
  measure "all VMs, --chain" --chain
  measure "--vm DC0_H0_VM7 (one)" --vm DC0_H0_VM7
  measure "--vm 'DC0_H0_VM1?' (ten)" --vm 'DC0_H0_VM1?'
  server_only
  stop_sim
done
for n in $sizes; do
  start_sim "$n" -ignore-max-objects
  measure "all VMs, the server ignoring maxObjects (one reply)"
  if [ -n "${BASELINE:-}" ]; then
    VS_LS=$BASELINE measure "... the same, BASELINE ($(basename "$BASELINE"))"
  fi
  stop_sim
done
