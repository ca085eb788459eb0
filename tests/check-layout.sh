#!/usr/bin/env bash
# The layout rules of DESIGN.md section 3, checked on the source tree:
#
#   * a file in a wing of lib/ includes only its own wing's headers and
#     those of the wings it may use (below);
#   * a program under cmd/ includes lib's headers and its own files, never
#     another program's;
#   * no two .c files under lib/ share a base name, because ar(1) keeps
#     one member per name and would silently drop the other.
#
# Prints one line per violation on stderr and exits 1 if there is any.
# Usage: tests/check-layout.sh [TOP]
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"

# What each wing may include besides itself.
declare -A may_use=(
  [util]=""
  [disk]="util"
  [copy]="util disk"
  [http]="util"
  [vsphere]="util"
  [ovf]="util"
)

bad=0
violation ()
{
  printf 'check-layout: %s\n' "$*" >&2
  bad=1
}

# The quoted includes of FILE, one per line.
includes ()
{
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

# The wing of lib/ that an include names, or "" when it names none.
wing_of ()
{
  local inc=$1 w
  for w in "${!may_use[@]}"; do
    if [[ "$inc" == "$w/"* ]]; then
      printf '%s\n' "$w"
      return 0
    fi
  done
  return 0
}

while IFS= read -r -d '' f; do
  rel=${f#lib/}
  own=${rel%%/*}
  if [ "$own" = "$rel" ]; then
    violation "$f: lib/ holds only wings (util, disk, copy, http, vsphere, ovf), not files"
    continue
  fi
  if [ -z "${may_use[$own]+set}" ]; then
    violation "$f: lib/$own is not a wing of DESIGN.md section 3"
    continue
  fi
  dir=$(dirname "$f")
  while IFS= read -r inc; do
    [ -e "$dir/$inc" ] && continue          # a file beside it: its own wing
    w=$(wing_of "$inc")
    if [ -z "$w" ]; then
      violation "$f: includes \"$inc\", which is neither beside it nor in a wing"
    elif [ "$w" != "$own" ] && [[ " ${may_use[$own]} " != *" $w "* ]]; then
      violation "$f: the $own wing must not include \"$inc\" (it may use: ${may_use[$own]:-nothing else in lib})"
    fi
  done < <(includes "$f")
done < <(find lib -name '*.[ch]' -print0 | sort -z)

while IFS= read -r -d '' f; do
  dir=$(dirname "$f")
  while IFS= read -r inc; do
    [ -e "$dir/$inc" ] && [[ "$inc" != *..* ]] && continue
    [ -n "$(wing_of "$inc")" ] && [ -e "lib/$inc" ] && continue
    violation "$f: includes \"$inc\", which is neither its program's own file nor a lib/ header"
  done < <(includes "$f")
done < <(find cmd -name '*.[ch]' -print0 | sort -z)

dups=$(find lib -name '*.c' -printf '%f\n' | sort | uniq -d)
for d in $dups; do
  violation "lib: more than one $d: $(find lib -name "$d" | tr '\n' ' ')"
done

exit "$bad"
