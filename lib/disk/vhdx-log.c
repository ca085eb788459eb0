/* VHDX log replay, in memory (MS-VHDX 2.3).
 *
 * The log is a circular buffer of entries.  Each entry is a 4 KiB-aligned
 * run of sectors: a header and descriptors ("desc": a 4 KiB write whose
 * data follows in a "data" sector; "zero": a zeroed range), CRC-32C over
 * the whole entry.  The active sequence is the newest run of consecutive,
 * valid entries whose head entry's Tail points inside the run; its
 * entries are replayed from that tail to the head.  The whole log is read
 * into memory first (it is small: 1 MiB in practice, bounded by
 * H2K_VHDX_MAX_LOG), which makes the wrap-around easy.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/crc32c.h"
#include "util/die.h"
#include "vhdx.h"
#include "util/xio.h"

#define LOG_SECTOR 4096

static uint32_t
le32 (const unsigned char *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return le32toh (v);
}

static uint64_t
le64 (const unsigned char *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return le64toh (v);
}

int
h2k_vhdx_file_read (struct h2k_vhdx_file *f, void *buf, size_t count,
                    uint64_t offset, const char *what)
{
  if (offset > f->size || count > f->size - offset)
    return h2k_seterr ("%s: %s (offset %" PRIu64 ", %zu bytes) is beyond the end of the file (%" PRIu64 " bytes)",
                       f->path, what, offset, count, f->size);
  size_t phys = 0;
  if (offset < f->physical_size) {
    phys = f->physical_size - offset < count ? f->physical_size - offset : count;
    ssize_t r = h2k_pread_full (f->fd, buf, phys, offset);
    if (r < 0)
      return h2k_seterr ("%s: %m", f->path);
    if ((size_t) r < phys)
      return h2k_seterr ("%s: file shrank while reading %s", f->path, what);
  }
  /* The log may have extended the file: past the end it reads zeros. */
  memset ((char *) buf + phys, 0, count - phys);

  if (f->overlay.len == 0 || offset >= f->overlay_end
      || offset + count <= f->overlay_start)
    return 0;
  /* Later writes win: apply them in log order. */
  for (size_t i = 0; i < f->overlay.len; i++) {
    struct h2k_vhdx_write *w = &f->overlay.ptr[i];
    uint64_t s = w->offset > offset ? w->offset : offset;
    uint64_t e = w->offset + w->length < offset + count
      ? w->offset + w->length : offset + count;
    if (s >= e)
      continue;
    char *dst = (char *) buf + (s - offset);
    if (w->data)
      memcpy (dst, w->data + (s - w->offset), e - s);
    else
      memset (dst, 0, e - s);
  }
  return 0;
}

void
h2k_vhdx_file_free_overlay (struct h2k_vhdx_file *f)
{
  for (size_t i = 0; i < f->overlay.len; i++)
    free (f->overlay.ptr[i].data);
  h2k_vhdx_write_vector_reset (&f->overlay);
}

struct log {
  const unsigned char *buf;     /* the whole log */
  uint32_t length;
  const unsigned char *guid;
  unsigned char *scratch;       /* one entry, unwrapped */
};

/* Copy LEN bytes of the circular log from OFF into OUT. */
static void
log_copy (const struct log *l, uint32_t off, uint32_t len, unsigned char *out)
{
  uint32_t first = l->length - off < len ? l->length - off : len;
  memcpy (out, l->buf + off, first);
  memcpy (out + first, l->buf, len - first);
}

struct entry {
  uint32_t offset;
  uint32_t length;
  uint32_t tail;
  uint64_t seq;
  uint64_t flushed_offset;
  uint64_t last_offset;
};

static uint32_t
desc_sectors (uint32_t count)
{
  /* The first sector holds the 64-byte header and 126 descriptors. */
  return (count + 2 + 127) / 128;
}

/* Is there a valid entry at OFF?  Fills E (and leaves the unwrapped entry
 * in l->scratch). */
static bool
entry_valid (const struct log *l, uint32_t off, struct entry *e)
{
  const unsigned char *h = l->buf + off;
  uint32_t len = le32 (h + 8);
  uint32_t count = le32 (h + 24);

  if (memcmp (h, "loge", 4) != 0 || len == 0 || len % LOG_SECTOR
      || len > l->length || memcmp (h + 32, l->guid, 16) != 0)
    return false;
  e->seq = le64 (h + 16);
  if (e->seq == 0 || count > (len / LOG_SECTOR) * 128
      || desc_sectors (count) > len / LOG_SECTOR)
    return false;
  e->offset = off;
  e->length = len;
  e->tail = le32 (h + 12);
  e->flushed_offset = le64 (h + 48);
  e->last_offset = le64 (h + 56);

  unsigned char *s = l->scratch;
  log_copy (l, off, len, s);
  uint32_t stored = le32 (s + 4);
  memset (s + 4, 0, 4);
  uint32_t crc = h2k_crc32c (0, s, len);
  memcpy (s + 4, &(uint32_t) { htole32 (stored) }, 4);
  if (crc != stored)
    return false;

  /* Descriptors carry the entry's sequence number; each data descriptor
   * has its data sector, in order, after the descriptor sectors. */
  uint32_t data_sector = desc_sectors (count);
  for (uint32_t i = 0; i < count; i++) {
    const unsigned char *d = s + 64 + 32 * (uint64_t) i;
    if (le64 (d + 24) != e->seq || le64 (d + 16) % LOG_SECTOR)
      return false;
    if (memcmp (d, "desc", 4) == 0) {
      if (data_sector >= len / LOG_SECTOR)
        return false;
      const unsigned char *ds = s + (uint64_t) data_sector * LOG_SECTOR;
      if (memcmp (ds, "data", 4) != 0
          || le32 (ds + 4) != (uint32_t) (e->seq >> 32)
          || le32 (ds + 4092) != (uint32_t) e->seq)
        return false;
      data_sector++;
    }
    else if (memcmp (d, "zero", 4) == 0) {
      if (le64 (d + 8) % LOG_SECTOR)
        return false;
    }
    else
      return false;
  }
  return true;
}

/* Replay the entry at E into the overlay. */
static int
replay_entry (struct h2k_vhdx_file *f, const struct log *l,
              const struct entry *e)
{
  unsigned char *s = l->scratch;
  log_copy (l, e->offset, e->length, s);
  uint32_t count = le32 (s + 24);
  uint32_t data_sector = desc_sectors (count);

  for (uint32_t i = 0; i < count; i++) {
    const unsigned char *d = s + 64 + 32 * (uint64_t) i;
    struct h2k_vhdx_write w = { .offset = le64 (d + 16) };
    if (memcmp (d, "desc", 4) == 0) {
      const unsigned char *ds = s + (uint64_t) data_sector++ * LOG_SECTOR;
      w.length = LOG_SECTOR;
      w.data = malloc (LOG_SECTOR);
      if (w.data == NULL)
        return h2k_seterr ("%s: out of memory", f->path);
      /* The first 8 and the last 4 bytes were moved to the descriptor to
       * make room for the signature and the sequence number. */
      memcpy (w.data, d + 8, 8);
      memcpy (w.data + 8, ds + 8, 4084);
      memcpy (w.data + 4092, d + 4, 4);
    }
    else
      w.length = le64 (d + 8);
    if (w.offset > UINT64_MAX / 2 || w.length > UINT64_MAX / 2) {
      free (w.data);
      return h2k_seterr ("%s: log entry writes at an absurd offset", f->path);
    }
    if (h2k_vhdx_write_vector_append (&f->overlay, w) == -1) {
      free (w.data);
      return h2k_seterr ("%s: out of memory", f->path);
    }
    if (f->overlay.len == 1 || w.offset < f->overlay_start)
      f->overlay_start = w.offset;
    if (w.offset + w.length > f->overlay_end)
      f->overlay_end = w.offset + w.length;
    if (w.offset + w.length > f->size)
      f->size = w.offset + w.length;
  }
  return 0;
}

int
h2k_vhdx_log_replay (struct h2k_vhdx_file *f, uint64_t log_offset,
                     uint32_t log_length, const unsigned char log_guid[16],
                     bool *replayed)
{
  *replayed = false;
  if (log_length % (1024 * 1024) || log_offset % (1024 * 1024) || log_offset == 0)
    return h2k_seterr ("%s: invalid log location (offset %" PRIu64 ", length %" PRIu32 ")",
                       f->path, log_offset, log_length);
  if (log_length > H2K_VHDX_MAX_LOG)
    return h2k_seterr ("%s: the log (%" PRIu32 " bytes) is too large to replay",
                       f->path, log_length);
  if (log_offset > f->physical_size || f->physical_size - log_offset < log_length)
    return h2k_seterr ("%s: the log (offset %" PRIu64 ", %" PRIu32 " bytes) is beyond the end of the file",
                       f->path, log_offset, log_length);

  CLEANUP_FREE unsigned char *buf = malloc (log_length);
  CLEANUP_FREE unsigned char *scratch = malloc (log_length);
  size_t max_entries = log_length / LOG_SECTOR;
  CLEANUP_FREE struct entry *cur = malloc (max_entries * sizeof *cur);
  CLEANUP_FREE struct entry *best = malloc (max_entries * sizeof *best);
  if (buf == NULL || scratch == NULL || cur == NULL || best == NULL)
    return h2k_seterr ("%s: out of memory", f->path);
  if (h2k_pread_exact (f->fd, buf, log_length, log_offset, f->path) == -1)
    return -1;
  struct log l = { buf, log_length, log_guid, scratch };

  /* Is anything there at all?  A log whose entries are all damaged must
   * not pass for an empty one. */
  bool any_entry = false;
  for (uint32_t off = 0; off < log_length; off += LOG_SECTOR)
    if (memcmp (buf + off, "loge", 4) == 0 && memcmp (buf + off + 32, log_guid, 16) == 0)
      any_entry = true;

  /* The search of MS-VHDX 2.3.3. */
  size_t nbest = 0, ncur;
  uint32_t tail = 0, old_tail = 0;
  for (;;) {
    uint32_t head = tail;
    struct entry e;
    ncur = 0;
    while (ncur < max_entries && entry_valid (&l, head, &e)
           && (ncur == 0 || e.seq == cur[ncur - 1].seq + 1)) {
      cur[ncur++] = e;
      head = (uint32_t) (((uint64_t) head + e.length) % log_length);
    }
    /* Valid when the head's tail is one of the sequence's entries; the
     * sequence then starts there. */
    size_t start = ncur;
    for (size_t i = 0; ncur && i < ncur; i++)
      if (cur[i].offset == cur[ncur - 1].tail)
        start = i;
    bool valid = ncur > 0 && start < ncur;
    if (valid && (nbest == 0 || cur[ncur - 1].seq > best[nbest - 1].seq)) {
      nbest = ncur - start;
      memcpy (best, cur + start, nbest * sizeof *best);
    }
    if (!valid)
      tail = (uint32_t) (((uint64_t) tail + LOG_SECTOR) % log_length);
    else
      tail = head;
    if (tail < old_tail || (valid && tail == old_tail))
      break;
    old_tail = tail;
  }

  if (nbest == 0) {
    if (any_entry)
      return h2k_seterr ("%s: the log holds entries but no valid sequence; refusing to read a disk whose log cannot be replayed",
                         f->path);
    return 0;   /* an empty log */
  }
  const struct entry *headent = &best[nbest - 1];
  if (headent->flushed_offset > f->physical_size)
    return h2k_seterr ("%s: the file is truncated: the log says it was at least %" PRIu64 " bytes, it is %" PRIu64,
                       f->path, headent->flushed_offset, f->physical_size);
  for (size_t i = 0; i < nbest; i++)
    if (replay_entry (f, &l, &best[i]) == -1)
      return -1;
  if (headent->last_offset > f->size)
    f->size = headent->last_offset;
  *replayed = true;
  return 0;
}
