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

/* Allocation is asked for in windows, which bounds the extent list. */
#define WINDOW (1ULL << 30)
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
  struct h2k_extent_vector ext;
  size_t ei;
  uint64_t pos;         /* next byte to read inside ext.ptr[ei] */
  uint64_t win_end;     /* the end of the window in ext */

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
  for (;;) {
    if (s->ei < s->ext.len) {
      struct h2k_extent *e = &s->ext.ptr[s->ei];
      uint64_t end = e->offset + e->length;
      if (e->type != H2K_EXTENT_DATA) {
        s->ei++;
        continue;
      }
      if (s->pos < e->offset)
        s->pos = e->offset;
      uint64_t n = SOURCE_BUFSIZE - s->pos % SOURCE_BUFSIZE;
      if (n > end - s->pos)
        n = end - s->pos;
      if (h2k_bdev_pread (s->bd, buf, n, s->pos) == -1)
        return -1;
      *out = (struct chunk) { s->pos, n, buf };
      s->pos += n;
      if (s->pos == end)
        s->ei++;
      return 1;
    }
    if (s->win_end >= s->src.size)
      return 0;
    uint64_t len = s->src.size - s->win_end < WINDOW
      ? s->src.size - s->win_end : WINDOW;
    if (h2k_bdev_extents (s->bd, s->win_end, len, &s->ext) == -1)
      return -1;
    s->ei = 0;
    s->pos = s->win_end;
    s->win_end += len;
  }
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
  h2k_extent_vector_reset (&s->ext);
  for (int i = 0; i < NSLOTS; i++)
    free (s->slots[i].buf);
  free (s);
}

static const struct source_ops sb_ops = {
  .next = sb_next,
  .close = sb_close,
};

struct source *
source_bdev_open (const char *path, const char *format, unsigned open_flags)
{
  struct sb *s = calloc (1, sizeof *s);
  if (s == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->cond, NULL);
  s->src.ops = &sb_ops;
  for (int i = 0; i < NSLOTS; i++)
    if ((s->slots[i].buf = malloc (SOURCE_BUFSIZE)) == NULL) {
      h2k_seterr ("out of memory");
      sb_close (&s->src);
      return NULL;
    }
  if (h2k_chain_open (path, format, open_flags, &s->bd) == -1) {
    sb_close (&s->src);
    return NULL;
  }
  s->src.size = s->bd->size;
  s->src.name = s->bd->path;
  int e = pthread_create (&s->thread, NULL, reader, s);
  if (e) {
    h2k_seterr ("cannot start the reader thread: %s", strerror (e));
    sb_close (&s->src);
    return NULL;
  }
  s->started = true;
  return &s->src;
}
