/* The copy wing of lib/ (lib/copy/): moving a disk's guest-visible bytes
 * from a source (source.h: a chain opened through lib/disk, raw bytes on a
 * pipe, a streamOptimized VMDK in a stream) to a sink (sink.h: the raw and
 * qcow2 writers, compress.h for qcow2's compressed clusters).  It uses
 * lib/util/ and lib/disk/, never the network wings.
 *
 * The pump: read a source, feed a sink, hash and report progress on the
 * way.  And the outputs: OUTPUT.part files with the sink on them. */
#ifndef IMGCONV_CONVERT_H
#define IMGCONV_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/outfile.h"
#include "util/progress.h"
#include "sink.h"
#include "source.h"

struct out_options {
  bool raw;                     /* -O raw */
  struct qcow2_options qcow2;
};

struct output {
  struct h2k_outfile of;
  struct sink *sink;
  char *path;
  bool open;
  uint64_t data_bytes;          /* bytes of data the source handed over */
};

/* Progress callback: called after each chunk with the guest position. */
typedef void (*tick_fn) (void *arg, uint64_t guest_pos);

/* Convert SRC into OUT.  If SHA256 is non-NULL, it receives the 32-byte
 * digest of the guest-visible bytes.  Returns 0 or -1 (h2k_errmsg). */
int convert (struct source *src, struct output *out, unsigned char *sha256,
             tick_fn tick, void *tick_arg);

int output_open (struct output *o, const char *path,
                 const struct out_options *opt, uint64_t size_hint);
int output_commit (struct output *o);
void output_abort (struct output *o);

/* Names of the .part files now open, for the signal handler. */
void output_register_signals (void);

#endif
