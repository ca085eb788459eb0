/* vmdk-flatten's own step: print the map.  (Writing the disk is the copy
 * wing's: lib/copy/.) */
#ifndef VMDK_FLATTEN_H
#define VMDK_FLATTEN_H

#include "disk/bdev.h"
#include "util/progress.h"

/* Print the allocation of BD as extent records on stdout; FILE names the
 * input in each record. */
int flatten_map (struct h2k_bdev *bd, const char *file,
                 struct h2k_progress *pr);

#endif
