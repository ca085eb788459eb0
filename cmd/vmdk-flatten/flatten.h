/* vmdk-flatten's steps: write the flattened disk, print its map. */
#ifndef VMDK_FLATTEN_H
#define VMDK_FLATTEN_H

#include <stdint.h>

#include "disk/bdev.h"
#include "util/outfile.h"
#include "util/progress.h"

struct flatten_stats {
  uint64_t data_bytes;      /* bytes of data read from the chain */
  uint64_t written_bytes;   /* bytes written (zero blocks are skipped) */
  uint64_t extents;         /* data extents */
};

/* Write the guest-visible disk BD to OUT: a sparse file (data written,
 * zero runs left as holes) or a stream in order (stdout). */
int flatten_write (struct h2k_bdev *bd, struct h2k_outfile *out,
                   struct h2k_progress *pr, struct flatten_stats *st);

/* Print the allocation of BD as extent records on stdout; FILE names the
 * input in each record. */
int flatten_map (struct h2k_bdev *bd, const char *file,
                 struct h2k_progress *pr);

#endif
