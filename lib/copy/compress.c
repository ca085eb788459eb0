/* Cluster compression threads (see compress.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <stdio.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "compress.h"
#include "util/die.h"
#include "disk/qcow2-format.h"
#include "util/xio.h"

struct codec {
  int type;
  int level;
  z_stream zs;
  bool zs_init;
  ZSTD_CCtx *zc;
};

struct cpool {
  pthread_mutex_t lock;
  pthread_cond_t work;        /* a batch was submitted, or quit */
  pthread_cond_t done;        /* a batch is complete */
  struct cbatch *head, *tail; /* batches with jobs not yet handed out */
  bool quit;
  bool failed;
  char errmsg[256];
  size_t cluster_size;
  int type, level;
  unsigned nthreads;
  pthread_t *threads;
};

int
compress_default_level (int type)
{
  /* The defaults QEMU uses, so that sizes compare like for like. */
  return type == QCOW2_COMPRESSION_ZSTD ? ZSTD_CLEVEL_DEFAULT
    : Z_DEFAULT_COMPRESSION;
}

int
compress_check_level (int type, int level)
{
  if (type == QCOW2_COMPRESSION_ZSTD) {
    if (level < 1 || level > ZSTD_maxCLevel ())
      return h2k_seterr ("zstd compression level must be 1 to %d",
                         ZSTD_maxCLevel ());
  }
  else if (level < 1 || level > 9)
    return h2k_seterr ("zlib compression level must be 1 to 9");
  return 0;
}

static int
codec_init (struct codec *c, int type, int level)
{
  memset (c, 0, sizeof *c);
  c->type = type;
  c->level = level;
  if (type == QCOW2_COMPRESSION_ZSTD) {
    c->zc = ZSTD_createCCtx ();
    if (c->zc == NULL
        || ZSTD_isError (ZSTD_CCtx_setParameter (c->zc, ZSTD_c_compressionLevel,
                                                 level)))
      return h2k_seterr ("cannot set up zstd");
    return 0;
  }
  /* qcow2 stores raw deflate with a 4 KiB window, as QEMU writes it. */
  if (deflateInit2 (&c->zs, level, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY)
      != Z_OK)
    return h2k_seterr ("cannot set up zlib");
  c->zs_init = true;
  return 0;
}

static void
codec_free (struct codec *c)
{
  if (c->zs_init)
    deflateEnd (&c->zs);
  ZSTD_freeCCtx (c->zc);
}

/* Compress one cluster into at most cluster_size - 1 bytes (QEMU's limit:
 * anything larger is stored uncompressed). */
static int
codec_run (struct codec *c, struct cjob *j, size_t cs)
{
  if (h2k_is_zero (j->in, cs)) {
    j->kind = CJOB_ZERO;
    return 0;
  }
  if (c->type == QCOW2_COMPRESSION_ZSTD) {
    size_t r = ZSTD_compress2 (c->zc, j->out, cs - 1, j->in, cs);
    if (ZSTD_isError (r)) {
      if (ZSTD_getErrorCode (r) != ZSTD_error_dstSize_tooSmall)
        return h2k_seterr ("zstd: %s", ZSTD_getErrorName (r));
      j->kind = CJOB_PLAIN;
      return 0;
    }
    j->outlen = r;
    j->kind = CJOB_COMPRESSED;
    return 0;
  }
  if (deflateReset (&c->zs) != Z_OK)
    return h2k_seterr ("zlib: deflateReset failed");
  c->zs.next_in = (unsigned char *) j->in;
  c->zs.avail_in = cs;
  c->zs.next_out = j->out;
  c->zs.avail_out = cs - 1;
  int r = deflate (&c->zs, Z_FINISH);
  if (r == Z_STREAM_END) {
    j->outlen = cs - 1 - c->zs.avail_out;
    j->kind = CJOB_COMPRESSED;
  }
  else if (r == Z_OK || r == Z_BUF_ERROR)
    j->kind = CJOB_PLAIN;
  else
    return h2k_seterr ("zlib: deflate failed (%d)", r);
  return 0;
}

static void *
worker (void *arg)
{
  struct cpool *p = arg;
  struct codec c;
  bool ok = codec_init (&c, p->type, p->level) == 0;

  pthread_mutex_lock (&p->lock);
  if (!ok && !p->failed) {
    p->failed = true;
    snprintf (p->errmsg, sizeof p->errmsg, "%s", h2k_errmsg ());
  }
  for (;;) {
    while (!p->quit && p->head == NULL)
      pthread_cond_wait (&p->work, &p->lock);
    if (p->quit)
      break;
    struct cbatch *b = p->head;
    struct cjob *j = &b->jobs[b->next++];
    if (b->next == b->n) {
      /* Every job of this batch is handed out: dequeue it. */
      p->head = b->qnext;
      if (p->head == NULL)
        p->tail = NULL;
    }
    pthread_mutex_unlock (&p->lock);
    int r = ok ? codec_run (&c, j, p->cluster_size) : -1;
    pthread_mutex_lock (&p->lock);
    if (r == -1 && !p->failed) {
      p->failed = true;
      snprintf (p->errmsg, sizeof p->errmsg, "%s", h2k_errmsg ());
    }
    if (++b->finished == b->n)
      pthread_cond_broadcast (&p->done);
  }
  pthread_mutex_unlock (&p->lock);
  codec_free (&c);
  return NULL;
}

struct cpool *
cpool_new (unsigned threads, int type, int level, size_t cluster_size)
{
  struct cpool *p = calloc (1, sizeof *p);
  if (p == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->work, NULL);
  pthread_cond_init (&p->done, NULL);
  p->cluster_size = cluster_size;
  p->type = type;
  p->level = level;
  p->threads = calloc (threads, sizeof *p->threads);
  if (p->threads == NULL) {
    free (p);
    h2k_seterr ("out of memory");
    return NULL;
  }
  for (unsigned i = 0; i < threads; i++) {
    int e = pthread_create (&p->threads[i], NULL, worker, p);
    if (e) {
      h2k_seterr ("cannot start a compression thread: %s", strerror (e));
      cpool_free (p);
      return NULL;
    }
    p->nthreads++;
  }
  return p;
}

void
cpool_submit (struct cpool *p, struct cbatch *b)
{
  b->next = b->finished = 0;
  b->qnext = NULL;
  if (b->n == 0)
    return;
  pthread_mutex_lock (&p->lock);
  if (p->tail)
    p->tail->qnext = b;
  else
    p->head = b;
  p->tail = b;
  pthread_cond_broadcast (&p->work);
  pthread_mutex_unlock (&p->lock);
}

int
cpool_wait (struct cpool *p, struct cbatch *b)
{
  pthread_mutex_lock (&p->lock);
  while (b->finished < b->n)
    pthread_cond_wait (&p->done, &p->lock);
  bool failed = p->failed;
  pthread_mutex_unlock (&p->lock);
  if (failed)
    return h2k_seterr ("%s", p->errmsg);
  return 0;
}

void
cpool_free (struct cpool *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  p->quit = true;
  pthread_cond_broadcast (&p->work);
  pthread_mutex_unlock (&p->lock);
  for (unsigned i = 0; i < p->nthreads; i++)
    pthread_join (p->threads[i], NULL);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->work);
  pthread_cond_destroy (&p->done);
  free (p->threads);
  free (p);
}
