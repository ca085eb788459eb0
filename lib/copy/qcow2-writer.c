/* The qcow2 v3 writer: streaming and appending, in bounded memory.
 *
 * The guest arrives in ascending order (sink.h).  Cluster 0 is reserved
 * for the header, which is written last.  Every non-zero guest cluster is
 * appended at the next free host cluster (or, compressed, packed at a byte
 * cursor inside clusters the writer owns); zero clusters are left
 * unallocated.  An L2 table is appended as soon as the guest passes the
 * range it maps.  Refcounts are kept for one refcount block at a time:
 * when host allocation enters the range of the next block, the finished
 * block is appended there and only its offset is kept.  At the end come
 * the L1 table, the refcount table and the last refcount blocks, sized by
 * a fixed point (docs/formats.md 6.7), and finally the header.
 *
 * Memory: one L2 table, one refcount block, the L1 table (8 bytes per L2
 * table), the refcount table (8 bytes per block), and for compression two
 * batches of clusters in flight -- whatever the size of the disk.
 *
 * Every cluster in use has refcount 1 except compressed clusters, which
 * count one reference per compressed entry that overlaps them, as
 * qemu-img check counts (formats.md 6.6).  COPIED is set on every L1
 * entry and every standard L2 entry, never on compressed ones.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compress.h"
#include "util/die.h"
#include "disk/qcow2-format.h"
#include "sink.h"
#include "util/xio.h"

/* Bytes of guest data per compression batch, and the number of batches:
 * one being filled, the others queued for or being compressed. */
#define BATCH_BYTES (2u << 20)
#define NBATCH 4
#define MAX_IOV 1024
#define REFCOUNT_MAX 0xffff     /* refcount_order 4: 16-bit counts */

struct batch {
  size_t len;
  bool inflight;            /* submitted, not yet collected */
  uint64_t *gidx;           /* guest cluster index of each slot */
  unsigned char *in;        /* len * cs bytes */
  unsigned char *out;
  struct cjob *jobs;
  struct cbatch cb;
};

struct qw {
  struct sink sink;
  int fd;
  const char *name;
  unsigned cbits;
  uint64_t cs;              /* cluster size */
  uint64_t l2e;             /* entries per L2 table */
  uint64_t rbe;             /* entries per refcount block */
  bool compress;
  int ctype;

  uint64_t next_cluster;    /* next free host cluster */
  uint64_t cbyte;           /* compressed cursor (host byte), 0 = none */

  unsigned char *rb;        /* the refcount block being filled (BE u16) */
  uint64_t rb_idx;
  uint64_t *reftable;       /* host offsets of the blocks written so far */
  size_t reftable_cap;

  uint64_t *l1;             /* host-endian, with COPIED */
  size_t l1_len, l1_cap;
  uint64_t *l2;             /* host-endian */
  uint64_t l2_idx;
  bool l2_used;

  uint64_t max_clusters;    /* guest clusters the L1 limit allows */
  uint64_t next_gidx;       /* lowest guest cluster still writable */

  /* Uncompressed: the partial cluster being assembled. */
  unsigned char *pend;
  uint64_t pend_gidx;
  bool pend_used;

  /* Compressed: a ring of batches.  b[cur] is being filled; the ones
   * after it (in ring order) that are in flight are collected oldest
   * first. */
  struct cpool *pool;
  struct batch b[NBATCH];
  int cur;
  size_t batch_cap;

  /* Output gathered into one pwritev per contiguous run. */
  struct iovec iov[MAX_IOV];
  int iov_len;
  uint64_t iov_off, iov_bytes;
};

static int
io_flush (struct qw *w)
{
  uint64_t off = w->iov_off;
  struct iovec *v = w->iov;
  int n = w->iov_len;

  while (n > 0) {
    ssize_t r = pwritev (w->fd, v, n, off);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return h2k_seterr ("%s: write: %m", w->name);
    }
    off += r;
    while (n > 0 && (size_t) r >= v->iov_len) {
      r -= v->iov_len;
      v++, n--;
    }
    if (n > 0) {
      v->iov_base = (char *) v->iov_base + r;
      v->iov_len -= r;
    }
  }
  w->iov_len = 0;
  w->iov_bytes = 0;
  return 0;
}

/* Queue LEN bytes of BUF for host offset OFF (BUF must stay valid until
 * io_flush). */
static int
io_add (struct qw *w, uint64_t off, const void *buf, size_t len)
{
  if (w->iov_len > 0
      && (off != w->iov_off + w->iov_bytes || w->iov_len == MAX_IOV)
      && io_flush (w) == -1)
    return -1;
  if (w->iov_len == 0)
    w->iov_off = off;
  w->iov[w->iov_len++] = (struct iovec) { (void *) buf, len };
  w->iov_bytes += len;
  return 0;
}

static unsigned
rb_get (struct qw *w, uint64_t cluster)
{
  const unsigned char *p = w->rb + (cluster % w->rbe) * 2;
  return (p[0] << 8) | p[1];
}

static void
rb_put (unsigned char *rb, uint64_t rbe, uint64_t cluster, unsigned v)
{
  unsigned char *p = rb + (cluster % rbe) * 2;
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

/* Make the table *TABLE (of *CAP entries) hold index I: it grows by
 * doubling, new entries zero. */
static int
table_reserve (uint64_t **table, size_t *cap, uint64_t i)
{
  if (i < *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 64;
  while (ncap <= i)
    ncap *= 2;
  uint64_t *p = realloc (*table, ncap * sizeof *p);
  if (p == NULL)
    return h2k_seterr ("out of memory");
  memset (p + *cap, 0, (ncap - *cap) * sizeof *p);
  *table = p;
  *cap = ncap;
  return 0;
}

static int
reftable_set (struct qw *w, uint64_t block, uint64_t host)
{
  if (table_reserve (&w->reftable, &w->reftable_cap, block) == -1)
    return -1;
  w->reftable[block] = host;
  return 0;
}

/* Allocate the next host cluster with refcount REFS.  When allocation
 * enters the range of the next refcount block, the finished block is
 * appended first (in the first cluster of the new range, which the new
 * block counts). */
static int64_t
alloc_cluster (struct qw *w, unsigned refs)
{
  uint64_t idx = w->next_cluster;

  if (idx / w->rbe != w->rb_idx) {
    if (h2k_pwrite_full (w->fd, w->rb, w->cs, idx * w->cs) == -1)
      return h2k_seterr ("%s: write: %m", w->name);
    if (reftable_set (w, w->rb_idx, idx * w->cs) == -1)
      return -1;
    memset (w->rb, 0, w->cs);
    w->rb_idx++;
    rb_put (w->rb, w->rbe, idx, 1);
    idx++;
  }
  w->next_cluster = idx + 1;
  rb_put (w->rb, w->rbe, idx, refs);
  return idx;
}

static int
l1_set (struct qw *w, uint64_t t, uint64_t entry)
{
  if (table_reserve (&w->l1, &w->l1_cap, t) == -1)
    return -1;
  w->l1[t] = entry;
  if (t + 1 > w->l1_len)
    w->l1_len = t + 1;
  return 0;
}

/* Append the current L2 table if it maps anything. */
static int
finish_l2 (struct qw *w)
{
  if (!w->l2_used)
    return 0;
  int64_t c = alloc_cluster (w, 1);
  if (c < 0)
    return -1;
  w->cbyte = 0;
  if (io_flush (w) == -1)
    return -1;
  for (uint64_t i = 0; i < w->l2e; i++)
    w->l2[i] = htobe64 (w->l2[i]);
  if (h2k_pwrite_full (w->fd, w->l2, w->cs, (uint64_t) c * w->cs) == -1)
    return h2k_seterr ("%s: write: %m", w->name);
  memset (w->l2, 0, w->cs);
  w->l2_used = false;
  return l1_set (w, w->l2_idx, ((uint64_t) c * w->cs) | QCOW2_OFLAG_COPIED);
}

static int
set_l2 (struct qw *w, uint64_t gidx, uint64_t entry)
{
  uint64_t t = gidx / w->l2e;
  if (t != w->l2_idx) {
    if (finish_l2 (w) == -1)
      return -1;
    w->l2_idx = t;
  }
  w->l2[gidx % w->l2e] = entry;
  w->l2_used = true;
  return 0;
}

static int
emit_plain (struct qw *w, uint64_t gidx, const void *data)
{
  int64_t c = alloc_cluster (w, 1);
  if (c < 0)
    return -1;
  w->cbyte = 0;
  uint64_t host = (uint64_t) c * w->cs;
  if (set_l2 (w, gidx, host | QCOW2_OFLAG_COPIED) == -1)
    return -1;
  return io_add (w, host, data, w->cs);
}

/* Pack a compressed cluster at the byte cursor.  A blob may spill into the
 * next cluster only if that cluster is the next one free and is not where
 * a refcount block is about to go. */
static int
emit_compressed (struct qw *w, uint64_t gidx, const void *data, size_t len)
{
  uint64_t off = 0;

  if (w->cbyte % w->cs != 0) {
    uint64_t cur = w->cbyte / w->cs, end = w->cbyte + len;
    if (rb_get (w, cur) < REFCOUNT_MAX) {
      if ((end - 1) / w->cs == cur) {
        rb_put (w->rb, w->rbe, cur, rb_get (w, cur) + 1);
        off = w->cbyte;
      }
      else if (cur + 1 == w->next_cluster && (cur + 1) % w->rbe != 0) {
        rb_put (w->rb, w->rbe, cur, rb_get (w, cur) + 1);
        if (alloc_cluster (w, 1) < 0)
          return -1;
        off = w->cbyte;
      }
    }
  }
  if (off == 0) {
    int64_t c = alloc_cluster (w, 1);
    if (c < 0)
      return -1;
    off = (uint64_t) c * w->cs;
  }
  w->cbyte = off + len;

  uint64_t extra = (off + len - 1) / 512 - off / 512;
  uint64_t entry = QCOW2_OFLAG_COMPRESSED | off
    | (extra << qcow2_csize_shift (w->cbits));
  if (set_l2 (w, gidx, entry) == -1)
    return -1;
  return io_add (w, off, data, len);
}

static int
check_gidx (struct qw *w, uint64_t gidx)
{
  if (gidx >= w->max_clusters)
    return h2k_seterr ("%s: disk too large for qcow2 with %llu-byte clusters (use a larger cluster_size)",
                       w->name, (unsigned long long) w->cs);
  return 0;
}

/* ---- uncompressed ---- */

static int
plain_cluster (struct qw *w, uint64_t gidx, const void *data)
{
  if (h2k_is_zero (data, w->cs))
    return 0;
  return emit_plain (w, gidx, data);
}

static int
flush_pending (struct qw *w)
{
  if (!w->pend_used)
    return 0;
  w->pend_used = false;
  if (plain_cluster (w, w->pend_gidx, w->pend) == -1)
    return -1;
  /* The pending buffer is about to be reused. */
  return io_flush (w);
}

static int
plain_write (struct qw *w, uint64_t offset, const unsigned char *buf,
             size_t len)
{
  while (len > 0) {
    uint64_t g = offset / w->cs, within = offset % w->cs;
    size_t n = w->cs - within < len ? w->cs - within : len;
    if (check_gidx (w, g) == -1)
      return -1;
    if (w->pend_used && w->pend_gidx != g && flush_pending (w) == -1)
      return -1;
    if (n == w->cs) {
      if (plain_cluster (w, g, buf) == -1)
        return -1;
    }
    else {
      if (!w->pend_used) {
        memset (w->pend, 0, w->cs);
        w->pend_gidx = g;
        w->pend_used = true;
      }
      memcpy (w->pend + within, buf, n);
    }
    offset += n;
    buf += n;
    len -= n;
  }
  /* Queued buffers point into the caller's memory. */
  return io_flush (w);
}

/* ---- compressed ---- */

static int
batch_alloc (struct batch *b, size_t cap, size_t cs)
{
  b->gidx = calloc (cap, sizeof *b->gidx);
  b->jobs = calloc (cap, sizeof *b->jobs);
  b->in = malloc (cap * cs);
  b->out = malloc (cap * cs);
  if (!b->gidx || !b->jobs || !b->in || !b->out)
    return h2k_seterr ("out of memory");
  return 0;
}

static void
batch_free (struct batch *b)
{
  free (b->gidx);
  free (b->jobs);
  free (b->in);
  free (b->out);
}

/* Wait for batch B and append its clusters in order. */
static int
collect (struct qw *w, struct batch *b)
{
  if (!b->inflight)
    return 0;
  b->inflight = false;
  if (cpool_wait (w->pool, &b->cb) == -1)
    return h2k_seterr_prefix ("%s", w->name);
  for (size_t i = 0; i < b->len; i++) {
    struct cjob *j = &b->jobs[i];
    int r = 0;
    if (j->kind == CJOB_COMPRESSED)
      r = emit_compressed (w, b->gidx[i], j->out, j->outlen);
    else if (j->kind == CJOB_PLAIN)
      r = emit_plain (w, b->gidx[i], j->in);
    if (r == -1)
      return -1;
  }
  b->len = 0;
  return io_flush (w);
}

/* Queue the batch being filled and move to the next one in the ring,
 * collecting it first if it is still in flight (the oldest one). */
static int
submit (struct qw *w)
{
  struct batch *b = &w->b[w->cur];
  if (b->len > 0) {
    for (size_t i = 0; i < b->len; i++)
      b->jobs[i] = (struct cjob) { .in = b->in + i * w->cs,
                                   .out = b->out + i * w->cs };
    b->cb.jobs = b->jobs;
    b->cb.n = b->len;
    cpool_submit (w->pool, &b->cb);
    b->inflight = true;
  }
  w->cur = (w->cur + 1) % NBATCH;
  return collect (w, &w->b[w->cur]);
}

/* Collect everything in flight, oldest first. */
static int
drain (struct qw *w)
{
  for (int i = 1; i <= NBATCH; i++)
    if (collect (w, &w->b[(w->cur + i) % NBATCH]) == -1)
      return -1;
  return 0;
}

static int
compressed_write (struct qw *w, uint64_t offset, const unsigned char *buf,
                  size_t len)
{
  while (len > 0) {
    uint64_t g = offset / w->cs, within = offset % w->cs;
    size_t n = w->cs - within < len ? w->cs - within : len;
    struct batch *b = &w->b[w->cur];
    if (check_gidx (w, g) == -1)
      return -1;
    if (b->len == 0 || b->gidx[b->len - 1] != g) {
      /* The last slot is complete once a later cluster arrives. */
      if (b->len == w->batch_cap) {
        if (submit (w) == -1)
          return -1;
        b = &w->b[w->cur];
      }
      b->gidx[b->len++] = g;
      if (n != w->cs)
        memset (b->in + (b->len - 1) * w->cs, 0, w->cs);
    }
    memcpy (b->in + (b->len - 1) * w->cs + within, buf, n);
    offset += n;
    buf += n;
    len -= n;
  }
  return 0;
}

static int
qw_write (struct sink *s, uint64_t offset, const void *buf, size_t len)
{
  struct qw *w = (struct qw *) s;
  if (len == 0)
    return 0;
  if (offset / w->cs < w->next_gidx)
    return h2k_seterr ("%s: internal error: write at %llu out of order",
                       w->name, (unsigned long long) offset);
  w->next_gidx = (offset + len - 1) / w->cs;
  if (w->compress)
    return compressed_write (w, offset, buf, len);
  return plain_write (w, offset, buf, len);
}

/* ---- the end ---- */

static void
write_header (unsigned char *h, struct qw *w, uint64_t size,
              uint64_t l1_size, uint64_t l1_off, uint64_t rt_off,
              uint64_t rt_clusters)
{
  qcow2_put_be32 (h + QCOW2_OFF_MAGIC, QCOW2_MAGIC);
  qcow2_put_be32 (h + QCOW2_OFF_VERSION, 3);
  qcow2_put_be32 (h + QCOW2_OFF_CLUSTER_BITS, w->cbits);
  qcow2_put_be64 (h + QCOW2_OFF_SIZE, size);
  qcow2_put_be32 (h + QCOW2_OFF_L1_SIZE, l1_size);
  qcow2_put_be64 (h + QCOW2_OFF_L1_TABLE_OFFSET, l1_off);
  qcow2_put_be64 (h + QCOW2_OFF_REFCOUNT_TABLE_OFFSET, rt_off);
  qcow2_put_be32 (h + QCOW2_OFF_REFCOUNT_TABLE_CLUSTERS, rt_clusters);
  qcow2_put_be64 (h + QCOW2_OFF_INCOMPATIBLE,
                  w->ctype == QCOW2_COMPRESSION_ZSTD
                  ? QCOW2_INCOMPAT_COMPRESSION : 0);
  qcow2_put_be32 (h + QCOW2_OFF_REFCOUNT_ORDER, 4);
  qcow2_put_be32 (h + QCOW2_OFF_HEADER_LENGTH,
                  QCOW2_V3_HEADER_LENGTH_COMPRESSION);
  h[QCOW2_OFF_COMPRESSION_TYPE] = w->ctype;
  /* Bytes 112.. are zero: the end of the header extensions. */
}

static uint64_t
div_up (uint64_t a, uint64_t b)
{
  return a / b + (a % b != 0);
}

static int
qw_finish (struct sink *s, uint64_t size)
{
  struct qw *w = (struct qw *) s;

  if (w->compress) {
    if (submit (w) == -1 || drain (w) == -1)
      return -1;
  }
  else if (flush_pending (w) == -1)
    return -1;
  if (finish_l2 (w) == -1 || io_flush (w) == -1)
    return -1;

  /* QEMU counts a disk in 512-byte sectors and drops a partial last one,
   * so the virtual size is rounded up, as qemu-img convert does. */
  size = div_up (size, 512) * 512;
  uint64_t l1_size = div_up (size, w->cs * w->l2e);
  if (l1_size * 8 > QCOW2_MAX_L1_SIZE)
    return h2k_seterr ("%s: disk too large for qcow2 with %llu-byte clusters (use a larger cluster_size)",
                       w->name, (unsigned long long) w->cs);
  if (w->l1_len > l1_size)
    return h2k_seterr ("%s: internal error: data beyond the end of the disk",
                       w->name);

  /* The tail: L1, refcount table, then the refcount blocks from the one in
   * memory onwards, which must count the tail itself. */
  uint64_t n0 = w->next_cluster;
  /* An empty disk has no L1 table at all (offset 0), as QEMU makes it. */
  uint64_t a = div_up (l1_size * 8, w->cs);
  uint64_t t = 1, m = 1, total, nblocks;
  for (;;) {
    total = n0 + a + t + m;
    nblocks = div_up (total, w->rbe);
    uint64_t m2 = nblocks - w->rb_idx;
    uint64_t t2 = div_up (nblocks * 8, w->cs);
    if (m2 == m && t2 == t)
      break;
    m = m2 > m ? m2 : m;
    t = t2 > t ? t2 : t;
  }
  if (t * w->cs > QCOW2_MAX_REFTABLE_SIZE)
    return h2k_seterr ("%s: image too large for its refcount table", w->name);
  uint64_t l1_off = a ? n0 * w->cs : 0;
  uint64_t rt_off = (n0 + a) * w->cs;
  uint64_t blk0 = n0 + a + t;

  /* L1, padded to whole clusters. */
  size_t l1n = a * w->cs / 8;
  if (l1n > w->l1_cap) {
    uint64_t *p = realloc (w->l1, l1n * sizeof *p);
    if (p == NULL)
      return h2k_seterr ("out of memory");
    memset (p + w->l1_cap, 0, (l1n - w->l1_cap) * sizeof *p);
    w->l1 = p;
    w->l1_cap = l1n;
  }
  for (size_t i = 0; i < l1n; i++)
    w->l1[i] = htobe64 (w->l1[i]);
  if (a && h2k_pwrite_full (w->fd, w->l1, a * w->cs, l1_off) == -1)
    return h2k_seterr ("%s: write: %m", w->name);

  /* The refcount blocks. */
  for (uint64_t j = w->rb_idx; j < nblocks; j++) {
    if (j != w->rb_idx)
      memset (w->rb, 0, w->cs);
    uint64_t lo = j * w->rbe, hi = lo + w->rbe;
    for (uint64_t c = lo > n0 ? lo : n0; c < hi && c < total; c++)
      rb_put (w->rb, w->rbe, c, 1);
    uint64_t host = (blk0 + (j - w->rb_idx)) * w->cs;
    if (h2k_pwrite_full (w->fd, w->rb, w->cs, host) == -1)
      return h2k_seterr ("%s: write: %m", w->name);
    if (reftable_set (w, j, host) == -1)
      return -1;
  }

  /* The refcount table. */
  uint64_t *rt = calloc (t * w->cs / 8, sizeof *rt);
  if (rt == NULL)
    return h2k_seterr ("out of memory");
  for (uint64_t j = 0; j < nblocks; j++)
    rt[j] = htobe64 (w->reftable[j]);
  int r = h2k_pwrite_full (w->fd, rt, t * w->cs, rt_off);
  free (rt);
  if (r == -1)
    return h2k_seterr ("%s: write: %m", w->name);

  /* The header, last: until now the file has no magic. */
  unsigned char h[512] = { 0 };
  write_header (h, w, size, l1_size, l1_off, rt_off, t);
  if (h2k_pwrite_full (w->fd, h, sizeof h, 0) == -1)
    return h2k_seterr ("%s: write: %m", w->name);
  /* The file covers the last cluster in full (a block device already
   * does). */
  struct stat st;
  if (fstat (w->fd, &st) == 0 && S_ISREG (st.st_mode)
      && ftruncate (w->fd, total * w->cs) == -1)
    return h2k_seterr ("%s: truncate: %m", w->name);
  return 0;
}

static void
qw_free (struct sink *s)
{
  struct qw *w = (struct qw *) s;
  if (w == NULL)
    return;
  cpool_free (w->pool);
  for (int i = 0; i < NBATCH; i++)
    batch_free (&w->b[i]);
  free (w->rb);
  free (w->reftable);
  free (w->l1);
  free (w->l2);
  free (w->pend);
  free (w);
}

static const struct sink_ops qw_ops = {
  .write = qw_write,
  .finish = qw_finish,
  .free = qw_free,
};

struct sink *
qcow2_sink_new (int fd, const char *name, const struct qcow2_options *opt,
                uint64_t size_hint)
{
  struct qw *w = calloc (1, sizeof *w);
  if (w == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  w->sink.ops = &qw_ops;
  w->fd = fd;
  w->name = name;
  w->cbits = opt->cluster_bits;
  w->cs = 1ULL << w->cbits;
  w->l2e = w->cs / 8;
  w->rbe = w->cs * 8 / 16;
  w->compress = opt->compress;
  w->ctype = opt->compression_type;
  w->max_clusters = (uint64_t) (QCOW2_MAX_L1_SIZE / 8) * w->l2e;
  w->rb = calloc (1, w->cs);
  w->l2 = calloc (1, w->cs);
  w->pend = malloc (w->cs);
  if (!w->rb || !w->l2 || !w->pend) {
    h2k_seterr ("out of memory");
    goto fail;
  }
  if (size_hint != UINT64_MAX && div_up (size_hint, w->cs) > w->max_clusters) {
    h2k_seterr ("%s: disk too large for qcow2 with %llu-byte clusters (use a larger cluster_size)",
                name, (unsigned long long) w->cs);
    goto fail;
  }
  /* Cluster 0: the header. */
  rb_put (w->rb, w->rbe, 0, 1);
  w->next_cluster = 1;

  if (w->compress) {
    w->batch_cap = BATCH_BYTES / w->cs;
    if (w->batch_cap < opt->threads)
      w->batch_cap = opt->threads;
    if (w->batch_cap < 1)
      w->batch_cap = 1;
    for (int i = 0; i < NBATCH; i++)
      if (batch_alloc (&w->b[i], w->batch_cap, w->cs) == -1)
        goto fail;
    int level = opt->level ? opt->level
      : compress_default_level (opt->compression_type);
    w->pool = cpool_new (opt->threads, opt->compression_type, level, w->cs);
    if (w->pool == NULL)
      goto fail;
  }
  return &w->sink;

 fail:
  qw_free (&w->sink);
  return NULL;
}
