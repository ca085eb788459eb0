/* OVA input: a tar read in one pass with libarchive.  The OVF descriptor
 * (which must come first, as VMware's tools require) says which members
 * are disks; each selected disk is decoded from the archive stream straight
 * into its output; every member is hashed as it streams by and checked
 * against the manifest (.mf) at the end.  Outputs are renamed into place
 * only when the whole archive has been read and verified. */
#ifndef IMGCONV_OVA_H
#define IMGCONV_OVA_H

#include <stdbool.h>

#include "copy/bstream.h"
#include "copy/convert.h"

struct ova_options {
  const struct out_options *out;
  unsigned disk;            /* --disk N (from 1), 0 = not given */
  bool all;                 /* --all: OUTPUT is a directory */
  bool sha256;
  const char *progress;     /* --progress argument, or NULL */
};

int ova_convert_file (const char *path, const char *output,
                      const struct ova_options *opt);
int ova_convert_stream (struct bstream *bs, const char *output,
                        const struct ova_options *opt);

#endif
