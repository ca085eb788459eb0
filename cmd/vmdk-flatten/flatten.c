/* Writing the flattened disk.  The chain's allocation is read a window at
 * a time; DATA extents are read in pieces of at most BUF_SIZE and written,
 * zero blocks inside them skipped (so zero runs become holes), ZERO and
 * HOLE extents skipped too.  A stream gets every byte, in order.  Memory
 * is NBUF buffers plus the extent list of one window, whatever the disk. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "flatten.h"
#include "util/xio.h"

#define WINDOW (256u << 20)    /* extents asked for at once */
/* Data is read and written in pieces of this size.  Larger writes into
 * the page cache were measured to be many times slower on the test
 * machines (dirty-page throttling hits a big write as a whole): 64-256 KiB
 * is the sweet spot, as in qemu-img's 64 KiB. */
#define BUF_SIZE (256u << 10)
#define ZBLOCK 4096            /* granularity of zero detection */

static const char *
out_name (const struct h2k_outfile *out)
{
  return out->part ? out->part : out->path ? out->path : "<stdout>";
}

static int
write_zeros (struct h2k_outfile *out, const unsigned char *zeros,
             uint64_t offset, uint64_t len)
{
  while (len > 0) {
    size_t n = len < BUF_SIZE ? len : BUF_SIZE;
    int r = out->is_stdout ? h2k_write_full (out->fd, zeros, n)
      : h2k_pwrite_full (out->fd, zeros, n, offset);
    if (r == -1)
      return h2k_seterr ("%s: write: %m", out_name (out));
    offset += n;
    len -= n;
  }
  return 0;
}

/* Write BUF (LEN bytes of data at OFFSET), skipping zero blocks when the
 * output is a sparse file. */
static int
write_data (struct h2k_outfile *out, const unsigned char *buf, uint64_t len,
            uint64_t offset, struct flatten_stats *st)
{
  const char *name = out_name (out);

  if (out->is_stdout || out->is_blockdev) {
    int r = out->is_stdout ? h2k_write_full (out->fd, buf, len)
      : h2k_pwrite_full (out->fd, buf, len, offset);
    if (r == -1)
      return h2k_seterr ("%s: write: %m", name);
    st->written_bytes += len;
    return 0;
  }
  uint64_t i = 0;
  while (i < len) {
    /* Skip zero blocks, then write the run of non-zero blocks. */
    while (i < len) {
      uint64_t n = len - i < ZBLOCK ? len - i : ZBLOCK;
      if (!h2k_is_zero (buf + i, n))
        break;
      i += n;
    }
    uint64_t s = i;
    while (i < len) {
      uint64_t n = len - i < ZBLOCK ? len - i : ZBLOCK;
      if (h2k_is_zero (buf + i, n))
        break;
      i += n;
    }
    if (i > s) {
      if (h2k_pwrite_full (out->fd, buf + s, i - s, offset + s) == -1)
        return h2k_seterr ("%s: write: %m", name);
      st->written_bytes += i - s;
    }
  }
  return 0;
}

/* The pipeline: this thread walks the chain and reads (the block device
 * is used by this thread only), a writer thread writes, so that reading
 * goes on while a write waits for the page cache.  NBUF buffers bound the
 * memory; pieces are written in order. */
#define NBUF 8

struct piece {
  uint64_t offset, length;
  bool data;                /* else LENGTH bytes of zeros (streams only) */
  unsigned char *buf;
};

struct pipeline {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct piece ring[NBUF];
  unsigned head, count;     /* pieces queued, oldest at HEAD */
  bool done, failed;
  char err[512];            /* the writer's message (h2k_errmsg is per thread) */
  struct h2k_outfile *out;
  struct h2k_progress *pr;
  struct flatten_stats *st;
  unsigned char *zeros;
};

static void *
writer (void *arg)
{
  struct pipeline *p = arg;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    while (p->count == 0 && !p->done)
      pthread_cond_wait (&p->changed, &p->lock);
    if (p->count == 0)
      break;
    struct piece pc = p->ring[p->head];
    pthread_mutex_unlock (&p->lock);

    int r = pc.data ? write_data (p->out, pc.buf, pc.length, pc.offset, p->st)
      : write_zeros (p->out, p->zeros, pc.offset, pc.length);
    if (r == 0)
      h2k_progress_update (p->pr, pc.offset + pc.length);

    pthread_mutex_lock (&p->lock);
    if (r == -1) {
      snprintf (p->err, sizeof p->err, "%s", h2k_errmsg ());
      p->failed = true;
      pthread_cond_broadcast (&p->changed);
      break;
    }
    p->head = (p->head + 1) % NBUF;
    p->count--;
    pthread_cond_broadcast (&p->changed);
  }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

/* A free slot (waiting for the writer if all are queued), or NULL when the
 * writer has failed. */
static struct piece *
free_slot (struct pipeline *p)
{
  struct piece *pc = NULL;
  pthread_mutex_lock (&p->lock);
  while (p->count == NBUF && !p->failed)
    pthread_cond_wait (&p->changed, &p->lock);
  if (!p->failed)
    pc = &p->ring[(p->head + p->count) % NBUF];
  pthread_mutex_unlock (&p->lock);
  return pc;
}

static void
queue_piece (struct pipeline *p)
{
  pthread_mutex_lock (&p->lock);
  p->count++;
  pthread_cond_broadcast (&p->changed);
  pthread_mutex_unlock (&p->lock);
}

/* Read the chain and queue its pieces; -1 on a read error (the writer's
 * failure is reported by the caller). */
static int
reader (struct h2k_bdev *bd, struct pipeline *p, bool write_holes)
{
  struct h2k_extent_vector v = { 0 };
  int r = -1;

  for (uint64_t pos = 0; pos < bd->size; ) {
    uint64_t wlen = bd->size - pos < WINDOW ? bd->size - pos : WINDOW;
    if (h2k_bdev_extents (bd, pos, wlen, &v) == -1)
      goto out;
    for (size_t i = 0; i < v.len; i++) {
      struct h2k_extent *e = &v.ptr[i];
      bool data = e->type == H2K_EXTENT_DATA;
      /* Holes stay holes in a file; a stream or a device gets zeros. */
      if (!data && !write_holes)
        continue;
      if (data)
        p->st->extents++;
      for (uint64_t o = e->offset; o < e->offset + e->length; ) {
        uint64_t n = e->offset + e->length - o;
        if (n > BUF_SIZE)
          n = BUF_SIZE;
        struct piece *pc = free_slot (p);
        if (pc == NULL) {
          r = 0;    /* the writer failed: it has the message */
          goto out;
        }
        pc->offset = o;
        pc->length = n;
        pc->data = data;
        if (data) {
          if (h2k_bdev_pread (bd, pc->buf, n, o) == -1)
            goto out;
          p->st->data_bytes += n;
        }
        queue_piece (p);
        o += n;
      }
    }
    pos += wlen;
  }
  r = 0;
 out:
  h2k_extent_vector_reset (&v);
  return r;
}

int
flatten_write (struct h2k_bdev *bd, struct h2k_outfile *out,
               struct h2k_progress *pr, struct flatten_stats *st)
{
  struct pipeline p = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER,
    .out = out, .pr = pr, .st = st,
  };
  pthread_t tid;
  int r = -1;

  memset (st, 0, sizeof *st);
  p.zeros = calloc (1, BUF_SIZE);
  for (unsigned i = 0; i < NBUF; i++)
    p.ring[i].buf = malloc (BUF_SIZE);
  for (unsigned i = 0; i < NBUF; i++)
    if (p.ring[i].buf == NULL)
      p.zeros = NULL;
  if (p.zeros == NULL) {
    h2k_seterr ("out of memory");
    goto out;
  }
  if (h2k_outfile_set_size (out, bd->size) == -1)
    goto out;
  errno = pthread_create (&tid, NULL, writer, &p);
  if (errno != 0) {
    h2k_seterr ("cannot start the writer thread: %m");
    goto out;
  }
  int rr = reader (bd, &p, out->is_stdout || out->is_blockdev);
  /* On a read error, stop the writer: what is queued is not needed. */
  pthread_mutex_lock (&p.lock);
  p.done = true;
  if (rr == -1)
    p.count = 0;
  pthread_cond_broadcast (&p.changed);
  pthread_mutex_unlock (&p.lock);
  pthread_join (tid, NULL);
  if (p.failed)
    h2k_seterr ("%s", p.err);
  else if (rr == 0)
    r = 0;
 out:
  for (unsigned i = 0; i < NBUF; i++)
    free (p.ring[i].buf);
  free (p.zeros);
  return r;
}
