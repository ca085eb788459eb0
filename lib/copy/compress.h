/* Cluster compression for the qcow2 writer, on a pool of threads.
 *
 * The writer fills a batch of clusters, submits it, and keeps reading
 * while the threads compress; it then collects the batch and appends the
 * results in cluster order.  Each cluster is compressed on its own with a
 * fixed codec and level, so the bytes produced do not depend on which
 * thread did the work or on how many there are: the output file is the
 * same for every -j.
 */
#ifndef IMGCONV_COMPRESS_H
#define IMGCONV_COMPRESS_H

#include <stddef.h>

enum cjob_kind {
  CJOB_ZERO,          /* all zeros: nothing to store */
  CJOB_COMPRESSED,    /* out[0..outlen) holds the compressed cluster */
  CJOB_PLAIN,         /* did not shrink: store the input as it is */
};

struct cjob {
  const unsigned char *in;  /* cluster_size bytes */
  unsigned char *out;       /* cluster_size bytes of room */
  size_t outlen;
  enum cjob_kind kind;
};

/* A batch of jobs.  Several batches may be queued: the threads work
 * through them in submission order, so they never wait for the writer as
 * long as one batch is queued behind the one it is collecting. */
struct cbatch {
  struct cjob *jobs;
  size_t n;
  /* Owned by the pool between submit and wait: */
  size_t next, finished;
  struct cbatch *qnext;
};

struct cpool;

/* TYPE is QCOW2_COMPRESSION_ZLIB or _ZSTD; LEVEL 0 means the default. */
struct cpool *cpool_new (unsigned threads, int type, int level,
                         size_t cluster_size);
/* Queue B (B->jobs[0..B->n)); the jobs must stay valid until cpool_wait. */
void cpool_submit (struct cpool *p, struct cbatch *b);
/* Wait until every job of B is done; returns -1 with h2k_seterr if a
 * codec failed. */
int cpool_wait (struct cpool *p, struct cbatch *b);
void cpool_free (struct cpool *p);

/* The level used when the user gives none. */
int compress_default_level (int type);
/* Check LEVEL for TYPE; -1 with h2k_seterr if out of range. */
int compress_check_level (int type, int level);

#endif
