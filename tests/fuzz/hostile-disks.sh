# shellcheck shell=bash
# Disks whose tables are small but claim a huge disk, for the tests (sourced
# by tests/test-fuzz-regress.sh, tests/test-disk-malformed.sh and
# tests/test-vmdk-flatten-bad.sh).  Every directory entry points at the
# same full table, so a deep check that walks the claimed size entry by
# entry takes minutes on an input of a MiB (the fuzz targets' 10 s timeout
# caught it); the check walks a shared table once.  Written with printf
# (little- or big-endian fields spelled out), nothing committed as binary.

# qcow2_shared_l2 FILE L1_ENTRIES [bad]: a qcow2 v2 image, 64 KiB clusters,
# L1_ENTRIES * 512 MiB, whose L1 entries all point at one L2 table (at
# 0x10000 + the L1, rounded) whose 8,192 entries all point at one data
# cluster.  With "bad", the table's last entry has a reserved bit set.
qcow2_shared_l2 ()
{
  local f=$1 n=$2 bad=${3:-}
  # The L1 table at 0x10000; the L2 table and the data cluster after it.
  local l1_clusters=$(( (n * 8 + 65535) / 65536 ))
  local l2=$(( 0x10000 + l1_clusters * 65536 )) size=$(( n * 512 * 1048576 ))
  local data=$(( l2 + 65536 ))
  # be64 V: V as 8 big-endian bytes, in printf escapes.
  be64 () { printf '\\x%02x' $(( ($1 >> 56) & 255 )) $(( ($1 >> 48) & 255 )) \
    $(( ($1 >> 40) & 255 )) $(( ($1 >> 32) & 255 )) $(( ($1 >> 24) & 255 )) \
    $(( ($1 >> 16) & 255 )) $(( ($1 >> 8) & 255 )) $(( $1 & 255 )); }
  be32 () { printf '\\x%02x' $(( ($1 >> 24) & 255 )) $(( ($1 >> 16) & 255 )) \
    $(( ($1 >> 8) & 255 )) $(( $1 & 255 )); }
  # Header: magic, version 2, no backing file, cluster_bits 16, size, no
  # encryption, L1 size and offset, a refcount table of one cluster after
  # the data cluster, no snapshots.
  # shellcheck disable=SC2059
  printf "QFI\\xfb$(be32 2)$(be64 0)$(be32 0)$(be32 16)$(be64 "$size")$(be32 0)$(be32 "$n")$(be64 65536)$(be64 $(( data + 65536 )))$(be32 1)$(be32 0)$(be64 0)" > "$f"
  truncate -s 65536 "$f"
  local l1e l2e i
  l1e=$(be64 $(( (1 << 63) | l2 )))
  l2e=$(be64 $(( (1 << 63) | data )))
  # shellcheck disable=SC2059
  for ((i = 0; i < n; i += 1024)); do
    printf "$l1e%.0s" $(seq $(( n - i < 1024 ? n - i : 1024 )))
  done >> "$f"
  truncate -s "$l2" "$f"
  # shellcheck disable=SC2059
  printf "$l2e%.0s" $(seq 8191) >> "$f"
  if [ -n "$bad" ]; then
    # shellcheck disable=SC2059
    printf "$(be64 $(( (1 << 63) | data | 2 )))" >> "$f"
  else
    # shellcheck disable=SC2059
    printf "$l2e" >> "$f"
  fi
  truncate -s $(( data + 2 * 65536 )) "$f"
}

# vmdk_shared_gt FILE GD_ENTRIES [bad]: a hosted sparse VMDK (KDMV),
# 64 KiB grains, 512 entries a table, GD_ENTRIES * 32 MiB (a multiple of
# 8), whose directory entries all point at one grain table whose entries
# all point at one grain.  With "bad", the table's last entry points past
# the end of the file.
vmdk_shared_gt ()
{
  local f=$1 n=$2 bad=${3:-}
  le32 () { printf '\\x%02x' $(( $1 & 255 )) $(( ($1 >> 8) & 255 )) \
    $(( ($1 >> 16) & 255 )) $(( ($1 >> 24) & 255 )); }
  le64 () { le32 $(( $1 & 0xffffffff )); le32 $(( $1 >> 32 )); }
  # The directory at sector 1, the table after it, the grain after that.
  local gt=$(( 1 + (n * 4 + 511) / 512 ))
  local grain=$(( gt + 4 ))
  # Header: magic, version 1, no flags, capacity (sectors), grain 128
  # sectors, no descriptor, 512 entries a table, no redundant directory,
  # the directory at sector 1, overhead up to the grain.
  # shellcheck disable=SC2059
  printf "KDMV$(le32 1)$(le32 0)$(le64 $(( n * 65536 )))$(le64 128)$(le64 0)$(le64 0)$(le32 512)$(le64 0)$(le64 1)$(le64 "$grain")" > "$f"
  truncate -s 512 "$f"
  local gde gte i
  gde=$(le32 "$gt")
  gte=$(le32 "$grain")
  # shellcheck disable=SC2059
  for ((i = 0; i < n; i += 1024)); do
    printf "$gde%.0s" $(seq $(( n - i < 1024 ? n - i : 1024 )))
  done >> "$f"
  truncate -s $(( gt * 512 )) "$f"
  # shellcheck disable=SC2059
  printf "$gte%.0s" $(seq 511) >> "$f"
  if [ -n "$bad" ]; then
    # shellcheck disable=SC2059
    printf "$(le32 0x7fffffff)" >> "$f"
  else
    # shellcheck disable=SC2059
    printf "$gte" >> "$f"
  fi
  truncate -s $(( (grain + 128) * 512 )) "$f"
}
