#!/usr/bin/env bash
# The layout check (tests/check-layout.sh) on the tree, and on copies of it
# with one rule broken each, so that the check itself is known to work.
. "$(dirname "$0")/functions.sh"

ok "the tree keeps the layout rules" "$H2K_TOP/tests/check-layout.sh" "$H2K_TOP"

# A copy of what the check reads: lib/ and cmd/.
fresh ()
{
  rm -rf "$tmp/t"; mkdir -p "$tmp/t"
  cp -r "$H2K_TOP/lib" "$H2K_TOP/cmd" "$tmp/t/"
  find "$tmp/t" \( -name '*.o' -o -name '*.a' \) -delete
}

broken ()
{
  local name=$1 want=$2
  EXPECT_STATUS=1 expect_fail "$name" "$want" "$H2K_TOP/tests/check-layout.sh" "$tmp/t"
}

fresh
sed -i '0,/#include "util\/die.h"/s//#include "util\/die.h"\n#include "vsphere\/vsphere.h"/' "$tmp/t/lib/disk/vhd.c"
broken "a disk-wing file including a vsphere header" \
  'lib/disk/vhd.c: the disk wing must not include "vsphere/vsphere.h"'

fresh
echo '#include "disk/bdev.h"' >> "$tmp/t/lib/util/die.c"
broken "a util file including a disk header" 'the util wing must not include "disk/bdev.h"'

fresh
echo '#include "copy/source.h"' >> "$tmp/t/lib/vsphere/xml.c"
broken "the vsphere wing including the copy wing" 'the vsphere wing must not include "copy/source.h"'

fresh
echo '#include "../vs-ls/vs-ls.h"' >> "$tmp/t/cmd/vs-pull/show.c"
broken "a program including another program's header" \
  'cmd/vs-pull/show.c: includes "../vs-ls/vs-ls.h"'

fresh
echo '#include "nowhere.h"' >> "$tmp/t/lib/disk/bdev.c"
broken "an include that names no wing" 'includes "nowhere.h", which is neither beside it nor in a wing'

fresh
cp "$tmp/t/lib/util/size.c" "$tmp/t/lib/size.c"
broken "a file at the top of lib/" 'lib/size.c: lib/ holds only wings'

fresh
cp "$tmp/t/lib/util/size.c" "$tmp/t/lib/disk/size.c"
broken "two lib files with one base name (ar keeps one)" 'lib: more than one size.c'
