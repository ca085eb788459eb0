/* The pump: read a source, feed a sink, hash and report progress on the
 * way.  And the outputs: OUTPUT.part files with the sink on them. */
#ifndef IMGCONV_CONVERT_H
#define IMGCONV_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "outfile.h"
#include "progress.h"
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
