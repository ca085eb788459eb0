# Helpers for the vs-cbt and h2k-sync tests.  Source after functions.sh
# and vcsim.sh, then start the simulator with cbt_start.
#
#   cbt_start VM=SIZE[,SIZE..] [h2k-vcsim flags]   start it, VM with disks
#   cbt_disk VM N SIZE          write a descriptor and a flat file of SIZE
#                               random bytes for diskN of VM
#   cbt_flat VM N               the local path of that flat file
#   guest_write VM N OFFSET LEN random bytes into it (a "guest write";
#                               only while no snapshot is open)
#   cbt_ctl OP=VM...            POST /h2k/control (fail-create=VM, ...), in order
#   folder_bytes                bytes served by /folder GETs so far
#   snapshots VM                the VM's snapshot names, one a line (vs-ls)
#   cbt_soap BODY               a SOAP call with a logged-in cookie jar
#   wait_until SECS CMD...      poll CMD until it succeeds (fails after SECS)
#   has_snapshots VM N          the VM has exactly N snapshots
#   fetched_more_than N         /folder served more than N bytes

cbt_start ()
{
  local spec=$1; shift
  start_vcsim -cbt-disks "$spec" "$@"
  export GOVC_INSECURE=1
}

cbt_flat ()
{
  printf '%s\n' "$VCSIM_DS_0_DIR/$1/disk$2-flat.vmdk"
}

cbt_disk ()
{
  local vm=$1 n=$2 size=$3 dir=$VCSIM_DS_0_DIR/$1
  mkdir -p "$dir"
  head -c "$size" /dev/urandom > "$dir/disk$n-flat.vmdk"
  cat > "$dir/disk$n.vmdk" <<EOD
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW $(( size / 512 )) VMFS "disk$n-flat.vmdk"

# The Disk Data Base
ddb.adapterType = "lsilogic"
ddb.virtualHWVersion = "13"
EOD
}

guest_write ()
{
  local f new old
  f=$(cbt_flat "$1" "$2")
  new=$(mktemp) old=$(mktemp)
  dd if="$f" of="$old" bs=64K iflag=skip_bytes,count_bytes skip="$3" count="$4" status=none
  # Random bytes that differ from what is there: a short write of random
  # bytes can equal the old ones (1 in 256 for one byte), and then no
  # block changed, which a test counting changed blocks would see as lost.
  while head -c "$4" /dev/urandom > "$new" && cmp -s "$new" "$old"; do :; done
  dd if="$new" of="$f" bs=64K iflag=fullblock oflag=seek_bytes seek="$3" conv=notrunc status=none
  rm -f "$new" "$old"
}

cbt_ctl ()
{
  # One request per operation: they take effect in the order given.
  local a
  for a in "$@"; do
    curl -sfk -X POST "https://$VCSIM_HOSTPORT/h2k/control?$a" >/dev/null
  done
}

folder_bytes ()
{
  curl -sfk "https://$VCSIM_HOSTPORT/h2k/folder-bytes" | jq .bytes
}

snapshots ()
{
  vs-ls --vm "$1" | jq -r '.snapshots[]?.name'
}

cbt_soap ()
{
  local jar=$VCSIM_DIR/cbt-jar
  if [ ! -s "$jar" ]; then
    printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>%s</userName><password>%s</password></Login></soapenv:Body></soapenv:Envelope>' "$GOVC_USERNAME" "$GOVC_PASSWORD" \
      | curl -sk -b "$jar" -c "$jar" "$VCSIM_URL" -H 'Content-Type: text/xml; charset=utf-8' \
          -H 'SOAPAction: "urn:vim25/6.5"' --data-binary @- >/dev/null
  fi
  printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' "$1" \
    | curl -sk -b "$jar" -c "$jar" "$VCSIM_URL" -H 'Content-Type: text/xml; charset=utf-8' \
        -H 'SOAPAction: "urn:vim25/6.5"' --data-binary @-
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds; fail
# after SECONDS (generous: the machine may be loaded).
wait_until ()
{
  local limit=$(( $1 * 10 )) i; shift
  for (( i = 0; i < limit; i++ )); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# has_snapshots VM N: the VM has exactly N snapshots.
has_snapshots () { [ "$(snapshots "$1" | wc -l)" -eq "$2" ]; }

# fetched_more_than N: /folder has served more than N bytes.
fetched_more_than () { [ "$(folder_bytes)" -gt "$1" ]; }
