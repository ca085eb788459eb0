/* The source for files: any format the block-device layer opens, chains
 * included.  Only DATA extents are read; ZERO and HOLE ranges are skipped
 * (the output has no backing file, so both read as zeros).  Reads are
 * large and aligned to SOURCE_BUFSIZE so the writer sees whole clusters.
 *
 * A reader thread runs ahead of the writer by up to NSLOTS buffers, so
 * that reading the input and writing the output overlap.  The block
 * device is used only by that thread (struct h2k_bdev is not
 * thread-safe); the chunks come out in the same order either way.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/bdev.h"
#include "util/die.h"
#include "source.h"

#define NSLOTS 3

enum slot_state { EMPTY, FULL, END, FAILED };

struct slot {
  unsigned char *buf;
  struct chunk c;
  enum slot_state state;
};

struct sb {
  struct source src;
  struct h2k_bdev *bd;
  struct h2k_extent_iter it;
  struct h2k_extent cur;  /* the DATA extent being read */
  uint64_t pos;           /* its next byte to read; cur is done at its end */

  pthread_t thread;
  bool started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct slot slots[NSLOTS];
  unsigned rd, wr;      /* next slot to hand out / to fill */
  bool held;            /* slots[rd] is with the consumer */
  bool quit;
  char errmsg[1024];
};

/* Produce the next chunk into BUF: 1, 0 at the end, -1 on error. */
static int
produce (struct sb *s, unsigned char *buf, struct chunk *out)
{
  while (s->pos == s->cur.offset + s->cur.length) {
    int r = h2k_extent_iter_next (&s->it, &s->cur);
    if (r <= 0)
      return r;
    if (s->cur.type != H2K_EXTENT_DATA)
      s->cur.length = 0;        /* read as zeros: skipped */
    s->pos = s->cur.offset;
  }
  uint64_t end = s->cur.offset + s->cur.length;
  uint64_t n = SOURCE_BUFSIZE - s->pos % SOURCE_BUFSIZE;
  if (n > end - s->pos)
    n = end - s->pos;
  if (h2k_bdev_pread (s->bd, buf, n, s->pos) == -1)
    return -1;
  *out = (struct chunk) { s->pos, n, buf };
  s->pos += n;
  return 1;
}

static void *
reader (void *arg)
{
  struct sb *s = arg;

  for (;;) {
    struct slot *sl = &s->slots[s->wr];
    pthread_mutex_lock (&s->lock);
    while (!s->quit && sl->state != EMPTY)
      pthread_cond_wait (&s->cond, &s->lock);
    bool quit = s->quit;
    pthread_mutex_unlock (&s->lock);
    if (quit)
      return NULL;

    struct chunk c;
    int r = produce (s, sl->buf, &c);

    pthread_mutex_lock (&s->lock);
    if (r > 0) {
      sl->c = c;
      sl->state = FULL;
    }
    else if (r == 0)
      sl->state = END;
    else {
      snprintf (s->errmsg, sizeof s->errmsg, "%s", h2k_errmsg ());
      sl->state = FAILED;
    }
    pthread_cond_broadcast (&s->cond);
    pthread_mutex_unlock (&s->lock);
    if (r <= 0)
      return NULL;
    s->wr = (s->wr + 1) % NSLOTS;
  }
}

static int
sb_next (struct source *src, struct chunk *out)
{
  struct sb *s = (struct sb *) src;
  int r;

  pthread_mutex_lock (&s->lock);
  if (s->held) {
    /* The consumer is done with the previous chunk. */
    s->slots[s->rd].state = EMPTY;
    s->rd = (s->rd + 1) % NSLOTS;
    s->held = false;
    pthread_cond_broadcast (&s->cond);
  }
  struct slot *sl = &s->slots[s->rd];
  while (sl->state == EMPTY)
    pthread_cond_wait (&s->cond, &s->lock);
  switch (sl->state) {
  case FULL:
    *out = sl->c;
    s->held = true;
    r = 1;
    break;
  case END:
    r = 0;
    break;
  default:
    h2k_seterr ("%s", s->errmsg);
    r = -1;
    break;
  }
  pthread_mutex_unlock (&s->lock);
  return r;
}

static void
sb_close (struct source *src)
{
  struct sb *s = (struct sb *) src;
  if (s->started) {
    pthread_mutex_lock (&s->lock);
    s->quit = true;
    pthread_cond_broadcast (&s->cond);
    pthread_mutex_unlock (&s->lock);
    pthread_join (s->thread, NULL);
  }
  pthread_mutex_destroy (&s->lock);
  pthread_cond_destroy (&s->cond);
  h2k_bdev_close (s->bd);
  h2k_extent_iter_reset (&s->it);
  for (int i = 0; i < NSLOTS; i++)
    free (s->slots[i].buf);
  free (s);
}

static const struct source_ops sb_ops = {
  .next = sb_next,
  .close = sb_close,
};

struct source *
source_bdev_new (struct h2k_bdev *bd)
{
  struct sb *s = calloc (1, sizeof *s);
  if (s == NULL) {
    h2k_bdev_close (bd);
    h2k_seterr ("out of memory");
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->cond, NULL);
  s->src.ops = &sb_ops;
  s->bd = bd;
  s->src.size = bd->size;
  s->src.name = bd->path;
  h2k_extent_iter_init (&s->it, bd, 0, bd->size, 0);
  for (int i = 0; i < NSLOTS; i++)
    if ((s->slots[i].buf = malloc (SOURCE_BUFSIZE)) == NULL) {
      h2k_seterr ("out of memory");
      sb_close (&s->src);
      return NULL;
    }
  int e = pthread_create (&s->thread, NULL, reader, s);
  if (e) {
    h2k_seterr ("cannot start the reader thread: %s", strerror (e));
    sb_close (&s->src);
    return NULL;
  }
  s->started = true;
  return &s->src;
}

struct source *
source_bdev_open (const char *path, const char *format, unsigned open_flags)
{
  struct h2k_bdev *bd;
  if (h2k_chain_open (path, format, open_flags, &bd) == -1)
    return NULL;
  return source_bdev_new (bd);
}
