/* Byte streams (see bstream.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bstream.h"
#include "util/die.h"
#include "util/xio.h"

ssize_t
bstream_read (struct bstream *bs, void *buf, size_t count)
{
  size_t done = 0;

  if (bs->pb_off < bs->pb_len) {
    size_t n = bs->pb_len - bs->pb_off;
    if (n > count)
      n = count;
    memcpy (buf, bs->pushback + bs->pb_off, n);
    bs->pb_off += n;
    done = n;
    if (bs->pb_off == bs->pb_len)
      bstream_free_pushback (bs);
  }
  while (done < count) {
    ssize_t r = bs->read (bs, (char *) buf + done, count - done);
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    done += r;
  }
  bs->pos += done;
  return done;
}

int
bstream_read_exact (struct bstream *bs, void *buf, size_t count,
                    const char *what)
{
  ssize_t r = bstream_read (bs, buf, count);
  if (r < 0)
    return -1;
  if ((size_t) r < count)
    return h2k_seterr ("%s: truncated: the stream ends in the %s (at byte %llu)",
                       bs->name, what, (unsigned long long) bs->pos);
  return 0;
}

int
bstream_skip (struct bstream *bs, uint64_t count, const char *what)
{
  char buf[65536];
  while (count > 0) {
    size_t n = count < sizeof buf ? count : sizeof buf;
    if (bstream_read_exact (bs, buf, n, what) == -1)
      return -1;
    count -= n;
  }
  return 0;
}

int
bstream_unread (struct bstream *bs, const void *buf, size_t count)
{
  if (count == 0)
    return 0;
  bstream_free_pushback (bs);
  bs->pushback = malloc (count);
  if (bs->pushback == NULL)
    return h2k_seterr ("out of memory");
  memcpy (bs->pushback, buf, count);
  bs->pb_len = count;
  bs->pb_off = 0;
  bs->pos -= count;
  return 0;
}

void
bstream_free_pushback (struct bstream *bs)
{
  free (bs->pushback);
  bs->pushback = NULL;
  bs->pb_len = bs->pb_off = 0;
}

static ssize_t
fd_read (struct bstream *bs, void *buf, size_t count)
{
  ssize_t r = h2k_read_full (*(int *) bs->opaque, buf, count);
  if (r < 0)
    return h2k_seterr ("%s: read: %m", bs->name);
  return r;
}

void
bstream_init_fd (struct bstream *bs, int *fdp, const char *name)
{
  memset (bs, 0, sizeof *bs);
  bs->read = fd_read;
  bs->opaque = fdp;
  bs->name = name;
}
