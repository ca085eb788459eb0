/* qcow2 reader (versions 2 and 3): standard, zero and compressed clusters
 * (zlib and zstd), extended L2 entries (subclusters), backing files.
 * docs/formats.md section 6.
 *
 * The L1 table is read at open (QEMU caps it at 32 MiB, and it must lie
 * inside the file); L2 tables go through a small LRU cache, so memory does
 * not grow with the disk size.  Images this reader cannot read correctly
 * are refused at open with the reason: unknown incompatible features,
 * encryption, external data files, images marked corrupt.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "bdev.h"
#include "util/cleanup.h"
#include "util/die.h"
#include "qcow2-format.h"
#include "vhd-util.h"
#include "util/xio.h"

#define L2_CACHE_BYTES (4 * 1024 * 1024)
#define L2_CACHE_MAX 32
#define L2_CACHE_MIN 2

struct l2_slot {
  uint64_t offset;          /* file offset of the table, 0 when empty */
  uint64_t used;            /* LRU tick */
  uint64_t *table;          /* host-endian entries */
};

struct qcow2 {
  int fd;
  uint64_t filesize;
  unsigned version;
  unsigned cluster_bits;
  uint64_t cluster_size;
  unsigned l2_bits;         /* log2 of entries per L2 table */
  bool extl2;               /* extended L2 entries: 32 subclusters each */
  unsigned sc_bits;         /* log2 of the subcluster size */
  uint64_t l1_size;
  uint64_t *l1;
  unsigned compression;     /* QCOW2_COMPRESSION_* */
  char backing_format[32];  /* from the header extension, or "" */

  struct l2_slot cache[L2_CACHE_MAX];
  unsigned ncache;
  uint64_t tick;

  /* Compressed clusters: the last one decompressed is kept. */
  unsigned char *cbuf;      /* compressed input, up to 2 clusters */
  unsigned char *ubuf;      /* one decompressed cluster */
  uint64_t ubuf_entry;      /* the L2 entry ubuf holds, or 0 */
  z_stream zs;
  bool zs_ready;
  ZSTD_DCtx *zd;
};

static int
qcow2_probe (const unsigned char *head, size_t len, int fd, uint64_t filesize)
{
  return len >= 4 && qcow2_get_be32 (head) == QCOW2_MAGIC ? 100 : 0;
}

/* Names of incompatible feature bits from the feature-name table, for
 * the message that refuses them. */
static void
describe_features (const unsigned char *tbl, size_t tlen, uint64_t bits,
                   char *out, size_t outlen)
{
  size_t n = 0;
  out[0] = '\0';
  for (unsigned bit = 0; bit < 64; bit++) {
    if (!(bits & (1ULL << bit)))
      continue;
    const char *name = NULL;
    char namebuf[47];
    for (size_t i = 0; tbl && i + 48 <= tlen; i += 48)
      if (tbl[i] == 0 && tbl[i + 1] == bit) {
        memcpy (namebuf, tbl + i + 2, 46);
        namebuf[46] = '\0';
        name = namebuf;
      }
    int w = snprintf (out + n, outlen - n, "%s%u%s%s%s", n ? ", " : "",
                      bit, name ? " (" : "", name ? name : "", name ? ")" : "");
    if (w < 0 || (size_t) w >= outlen - n)
      break;
    n += w;
  }
}

/* The fields of a version 3 header: its length, the incompatible
 * features, the compression type. */
static int
parse_v3_fields (struct h2k_bdev *bd, const unsigned char *h, size_t hlen,
                 uint64_t *header_length_out, uint64_t *incompat_out)
{
  struct qcow2 *q = bd->data;
  if (hlen < QCOW2_V3_HEADER_LENGTH)
    return h2k_seterr ("%s: qcow2 v3 header truncated (%zu bytes)", bd->path, hlen);
  uint64_t header_length = qcow2_get_be32 (h + QCOW2_OFF_HEADER_LENGTH);
  if (header_length < QCOW2_V3_HEADER_LENGTH || header_length > hlen
      || header_length > q->cluster_size)
    return h2k_seterr ("%s: invalid qcow2 header_length %" PRIu64, bd->path,
                       header_length);
  uint64_t incompat = qcow2_get_be64 (h + QCOW2_OFF_INCOMPATIBLE);
  uint32_t refcount_order = qcow2_get_be32 (h + QCOW2_OFF_REFCOUNT_ORDER);
  if (refcount_order > 6)
    return h2k_seterr ("%s: invalid qcow2 refcount_order %" PRIu32, bd->path,
                       refcount_order);
  if (header_length > QCOW2_OFF_COMPRESSION_TYPE)
    q->compression = h[QCOW2_OFF_COMPRESSION_TYPE];
  else if (incompat & QCOW2_INCOMPAT_COMPRESSION)
    return h2k_seterr ("%s: qcow2 compression-type feature bit set, but the header (%" PRIu64 " bytes) has no compression type",
                       bd->path, header_length);
  if (!(incompat & QCOW2_INCOMPAT_COMPRESSION)
      && q->compression != QCOW2_COMPRESSION_ZLIB)
    return h2k_seterr ("%s: qcow2 compression type %u without the compression-type feature bit",
                       bd->path, q->compression);
  if (q->compression != QCOW2_COMPRESSION_ZLIB
      && q->compression != QCOW2_COMPRESSION_ZSTD)
    return h2k_seterr ("%s: unknown qcow2 compression type %u", bd->path,
                       q->compression);
  *header_length_out = header_length;
  *incompat_out = incompat;
  return 0;
}

/* The header extensions, from the end of the header to the backing file
 * name (or the end of cluster 0): the backing format, and the feature
 * table that names unknown features in messages. */
static int
read_extensions (struct h2k_bdev *bd, const unsigned char *h, size_t hlen,
                 uint64_t header_length, const unsigned char **feature_table_out,
                 size_t *feature_len_out)
{
  struct qcow2 *q = bd->data;
  uint64_t backing_off = qcow2_get_be64 (h + QCOW2_OFF_BACKING_FILE_OFFSET);
  uint64_t ext_end = hlen;
  if (backing_off && backing_off > header_length && backing_off < ext_end)
    ext_end = backing_off;
  const unsigned char *feature_table = NULL;
  size_t feature_len = 0;
  for (uint64_t p = header_length; p + 8 <= ext_end; ) {
    uint32_t type = qcow2_get_be32 (h + p);
    uint32_t len = qcow2_get_be32 (h + p + 4);
    if (type == QCOW2_EXT_END)
      break;
    if (len > ext_end - p - 8)
      return h2k_seterr ("%s: qcow2 header extension 0x%08" PRIx32 " at %" PRIu64 " overruns the header",
                         bd->path, type, p);
    if (type == QCOW2_EXT_FEATURE_TABLE) {
      feature_table = h + p + 8;
      feature_len = len;
    }
    if (type == QCOW2_EXT_CRYPTO)
      return h2k_seterr ("%s: encrypted qcow2 images are not supported", bd->path);
    if (type == QCOW2_EXT_BACKING_FORMAT) {
      size_t n = len < sizeof q->backing_format - 1 ? len : sizeof q->backing_format - 1;
      memcpy (q->backing_format, h + p + 8, n);
      q->backing_format[n] = '\0';
    }
    p += 8 + ((uint64_t) len + 7) / 8 * 8;
  }
  *feature_table_out = feature_table;
  *feature_len_out = feature_len;
  return 0;
}

/* Refuse what cannot be read; switch to extended L2 entries. */
static int
check_features (struct h2k_bdev *bd, uint64_t incompat,
                const unsigned char *feature_table, size_t feature_len)
{
  struct qcow2 *q = bd->data;
  const uint64_t known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT
    | QCOW2_INCOMPAT_DATA_FILE | QCOW2_INCOMPAT_COMPRESSION
    | QCOW2_INCOMPAT_EXTL2;
  if (incompat & ~known) {
    char names[512];
    describe_features (feature_table, feature_len, incompat & ~known, names,
                       sizeof names);
    return h2k_seterr ("%s: qcow2 image uses unknown incompatible features: bit %s",
                       bd->path, names);
  }
  if (incompat & QCOW2_INCOMPAT_CORRUPT)
    return h2k_seterr ("%s: qcow2 image is marked corrupt; repair it with 'qemu-img check -r all' first",
                       bd->path);
  if (incompat & QCOW2_INCOMPAT_DATA_FILE)
    return h2k_seterr ("%s: qcow2 images with an external data file are not supported",
                       bd->path);
  if (incompat & QCOW2_INCOMPAT_EXTL2) {
    /* 128-bit L2 entries: the standard entry, then a bitmap of 32
     * subclusters (allocated in bits 0-31, reads-as-zero in 32-63). */
    if (q->cluster_bits < 14)
      return h2k_seterr ("%s: qcow2 extended L2 entries need clusters of at least 16 KiB (cluster_bits %u)",
                         bd->path, q->cluster_bits);
    q->extl2 = true;
    q->l2_bits = q->cluster_bits - 4;
    q->sc_bits = q->cluster_bits - 5;
  }
  /* The dirty bit only says the refcounts may be stale: reading does not
   * use them. */
  return 0;
}

/* The disk size and the L1 table, loaded and checked. */
static int
load_l1 (struct h2k_bdev *bd, const unsigned char *h)
{
  struct qcow2 *q = bd->data;
  bd->size = qcow2_get_be64 (h + QCOW2_OFF_SIZE);
  unsigned shift = q->cluster_bits + q->l2_bits;
  uint64_t need = (bd->size >> shift) + ((bd->size & ((1ULL << shift) - 1)) != 0);
  q->l1_size = qcow2_get_be32 (h + QCOW2_OFF_L1_SIZE);
  uint64_t l1_off = qcow2_get_be64 (h + QCOW2_OFF_L1_TABLE_OFFSET);
  if (bd->size > (UINT64_C (1) << 62) || need > QCOW2_MAX_L1_SIZE / 8)
    return h2k_seterr ("%s: qcow2 disk size %" PRIu64 " is too large", bd->path,
                       bd->size);
  if (q->l1_size < need)
    return h2k_seterr ("%s: qcow2 L1 table too small: %" PRIu64 " entries for a disk that needs %" PRIu64,
                       bd->path, q->l1_size, need);
  if (q->l1_size > QCOW2_MAX_L1_SIZE / 8)
    return h2k_seterr ("%s: qcow2 L1 table too large (%" PRIu64 " entries)",
                       bd->path, q->l1_size);
  /* Entries past what the disk needs are never used: don't load them. */
  q->l1_size = need;
  if (q->l1_size) {
    if (l1_off & (q->cluster_size - 1))
      return h2k_seterr ("%s: qcow2 L1 table offset %" PRIu64 " is not cluster-aligned",
                         bd->path, l1_off);
    if (l1_off > q->filesize || q->filesize - l1_off < q->l1_size * 8)
      return h2k_seterr ("%s: qcow2 L1 table (offset %" PRIu64 ", %" PRIu64 " entries) is beyond the end of the file",
                         bd->path, l1_off, q->l1_size);
    q->l1 = malloc (q->l1_size * 8);
    if (q->l1 == NULL)
      return h2k_seterr ("%s: out of memory", bd->path);
    if (h2k_pread_exact (q->fd, q->l1, q->l1_size * 8, l1_off, bd->path) == -1)
      return -1;
    /* Check the L1 entries now (the L2 entries are checked as they are
     * used: reading them all could mean reading much of the file). */
    for (uint64_t i = 0; i < q->l1_size; i++) {
      uint64_t e = q->l1[i] = be64toh (q->l1[i]);
      uint64_t l2off = e & QCOW2_L1E_OFFSET_MASK;
      if (e & QCOW2_L1E_RESERVED_MASK)
        return h2k_seterr ("%s: L1 entry %" PRIu64 " has reserved bits set (0x%016" PRIx64 ")",
                           bd->path, i, e);
      if (l2off & (q->cluster_size - 1))
        return h2k_seterr ("%s: L1 entry %" PRIu64 ": L2 table offset %" PRIu64 " is not cluster-aligned",
                           bd->path, i, l2off);
      if (l2off && (l2off > q->filesize || q->filesize - l2off < q->cluster_size))
        return h2k_seterr ("%s: L1 entry %" PRIu64 ": L2 table offset %" PRIu64 " is beyond the end of the file (%" PRIu64 " bytes)",
                           bd->path, i, l2off, q->filesize);
    }
  }
  return 0;
}

/* The backing file: its name sits in cluster 0. */
static int
read_backing_name (struct h2k_bdev *bd, const unsigned char *h, size_t hlen)
{
  uint64_t backing_off = qcow2_get_be64 (h + QCOW2_OFF_BACKING_FILE_OFFSET);
  uint32_t backing_len = qcow2_get_be32 (h + QCOW2_OFF_BACKING_FILE_SIZE);
  if (backing_off) {
    if (backing_len == 0 || backing_len > QCOW2_MAX_BACKING_NAME
        || backing_off > hlen || hlen - backing_off < backing_len)
      return h2k_seterr ("%s: qcow2 backing file name (offset %" PRIu64 ", length %" PRIu32 ") is out of bounds",
                         bd->path, backing_off, backing_len);
    char name[QCOW2_MAX_BACKING_NAME + 1];
    memcpy (name, h + backing_off, backing_len);
    name[backing_len] = '\0';
    if (strlen (name) != backing_len)
      return h2k_seterr ("%s: qcow2 backing file name contains a NUL byte", bd->path);
    if (strncmp (name, "json:", 5) == 0 || strstr (name, "://") != NULL)
      return h2k_seterr ("%s: qcow2 backing file '%s' is not a local file",
                         bd->path, name);
    bd->parent_path = h2k_path_relative_to (bd->path, name);
    if (bd->parent_path == NULL)
      return -1;
  }
  return 0;
}

static int
parse_header (struct h2k_bdev *bd, const unsigned char *h, size_t hlen)
{
  struct qcow2 *q = bd->data;

  if (hlen < QCOW2_V2_HEADER_LENGTH)
    return h2k_seterr ("%s: qcow2 header truncated (%zu bytes)", bd->path, hlen);
  if (qcow2_get_be32 (h + QCOW2_OFF_MAGIC) != QCOW2_MAGIC)
    return h2k_seterr ("%s: not a qcow2 image (no \"QFI\\xfb\" magic)", bd->path);
  q->version = qcow2_get_be32 (h + QCOW2_OFF_VERSION);
  if (q->version != 2 && q->version != 3)
    return h2k_seterr ("%s: unsupported qcow2 version %u", bd->path, q->version);
  q->cluster_bits = qcow2_get_be32 (h + QCOW2_OFF_CLUSTER_BITS);
  if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS
      || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    return h2k_seterr ("%s: invalid qcow2 cluster_bits %u (must be %d to %d)",
                       bd->path, q->cluster_bits, QCOW2_MIN_CLUSTER_BITS,
                       QCOW2_MAX_CLUSTER_BITS);
  q->cluster_size = 1ULL << q->cluster_bits;
  q->l2_bits = q->cluster_bits - 3;

  uint64_t header_length = QCOW2_V2_HEADER_LENGTH, incompat = 0;
  q->compression = QCOW2_COMPRESSION_ZLIB;
  if (q->version == 3
      && parse_v3_fields (bd, h, hlen, &header_length, &incompat) == -1)
    return -1;

  uint32_t crypt = qcow2_get_be32 (h + QCOW2_OFF_CRYPT_METHOD);
  if (crypt != QCOW2_CRYPT_NONE)
    return h2k_seterr ("%s: encrypted qcow2 images (%s) are not supported; decrypt it first with qemu-img convert",
                       bd->path, crypt == QCOW2_CRYPT_AES ? "AES"
                       : crypt == QCOW2_CRYPT_LUKS ? "LUKS" : "unknown method");

  const unsigned char *feature_table = NULL;
  size_t feature_len = 0;
  if (read_extensions (bd, h, hlen, header_length, &feature_table,
                       &feature_len) == -1
      || check_features (bd, incompat, feature_table, feature_len) == -1
      || load_l1 (bd, h) == -1
      || read_backing_name (bd, h, hlen) == -1)
    return -1;
  return 0;
}

static void
free_state (struct qcow2 *q)
{
  free (q->l1);
  for (unsigned i = 0; i < q->ncache; i++)
    free (q->cache[i].table);
  free (q->cbuf);
  free (q->ubuf);
  if (q->zs_ready)
    inflateEnd (&q->zs);
  ZSTD_freeDCtx (q->zd);
  free (q);
}

static int
qcow2_open (struct h2k_bdev *bd, int fd, unsigned flags)
{
  struct qcow2 *q = calloc (1, sizeof *q);
  off_t end = lseek (fd, 0, SEEK_END);

  if (q == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  if (end < 0) {
    free (q);
    return h2k_seterr ("%s: %m", bd->path);
  }
  q->fd = fd;
  q->filesize = end;
  bd->data = q;

  /* Cluster 0 holds the header, its extensions and the backing name; read
   * up to 64 KiB first to learn the cluster size, then the rest. */
  size_t hlen = q->filesize < 65536 ? q->filesize : 65536;
  CLEANUP_FREE unsigned char *h = malloc (hlen);
  if (h == NULL)
    goto oom;
  if (h2k_pread_exact (fd, h, hlen, 0, bd->path) == -1)
    goto fail;
  if (hlen >= 24) {
    uint32_t cb = qcow2_get_be32 (h + QCOW2_OFF_CLUSTER_BITS);
    if (cb > 16 && cb <= QCOW2_MAX_CLUSTER_BITS && q->filesize > hlen) {
      size_t want = q->filesize < (1ULL << cb) ? q->filesize : (1ULL << cb);
      unsigned char *h2 = realloc (h, want);
      if (h2 == NULL)
        goto oom;
      h = h2;
      if (h2k_pread_exact (fd, h + hlen, want - hlen, hlen, bd->path) == -1)
        goto fail;
      hlen = want;
    }
  }
  /* Only cluster 0 counts as the header. */
  size_t limit = hlen;
  if (hlen >= 24) {
    uint32_t cb = qcow2_get_be32 (h + QCOW2_OFF_CLUSTER_BITS);
    if (cb >= QCOW2_MIN_CLUSTER_BITS && cb <= QCOW2_MAX_CLUSTER_BITS
        && hlen > (1ULL << cb))
      limit = 1ULL << cb;
  }
  if (parse_header (bd, h, limit) == -1)
    goto fail;

  q->ncache = L2_CACHE_BYTES / q->cluster_size;
  if (q->ncache < L2_CACHE_MIN)
    q->ncache = L2_CACHE_MIN;
  if (q->ncache > L2_CACHE_MAX)
    q->ncache = L2_CACHE_MAX;
  for (unsigned i = 0; i < q->ncache; i++)
    if ((q->cache[i].table = malloc (q->cluster_size)) == NULL)
      goto oom;
  return 0;

 oom:
  h2k_seterr ("%s: out of memory", bd->path);
 fail:
  free (bd->parent_path);
  bd->parent_path = NULL;
  free_state (q);
  bd->data = NULL;
  return -1;
}

/* The L2 table at OFFSET, through the cache. */
static int
get_l2 (struct h2k_bdev *bd, uint64_t offset, const uint64_t **out)
{
  struct qcow2 *q = bd->data;
  struct l2_slot *victim = &q->cache[0];

  for (unsigned i = 0; i < q->ncache; i++) {
    struct l2_slot *s = &q->cache[i];
    if (s->offset == offset) {
      s->used = ++q->tick;
      *out = s->table;
      return 0;
    }
    if (s->used < victim->used)
      victim = s;
  }
  victim->offset = 0;
  if (h2k_pread_exact (q->fd, victim->table, q->cluster_size, offset,
                       bd->path) == -1)
    return h2k_seterr_prefix ("%s: reading L2 table at %" PRIu64, bd->path, offset);
  for (uint64_t i = 0; i < q->cluster_size / 8; i++)
    victim->table[i] = be64toh (victim->table[i]);
  victim->offset = offset;
  victim->used = ++q->tick;
  *out = victim->table;
  return 0;
}

enum ctype { C_HOLE, C_ZERO, C_DATA, C_COMPRESSED };

/* What guest cluster (or subcluster) at OFFSET is, its L2 entry and,
 * for data, the host offset of OFFSET.  *RUN is set to the number of bytes
 * from OFFSET known to be of the same kind when a whole L2 table is
 * missing (so that sparse disks are walked fast), else to the rest of the
 * cluster or subcluster. */
static int
lookup (struct h2k_bdev *bd, uint64_t offset, enum ctype *type,
        uint64_t *entry, uint64_t *run, uint64_t *host)
{
  struct qcow2 *q = bd->data;
  unsigned shift = q->cluster_bits + q->l2_bits;
  uint64_t l1i = offset >> shift;
  uint64_t l2i = (offset >> q->cluster_bits) & ((1ULL << q->l2_bits) - 1);

  *run = q->cluster_size - (offset & (q->cluster_size - 1));
  if (l1i >= q->l1_size)
    return h2k_seterr ("%s: offset %" PRIu64 " is beyond the L1 table", bd->path, offset);
  uint64_t l1e = q->l1[l1i];
  if (l1e & QCOW2_L1E_RESERVED_MASK)
    return h2k_seterr ("%s: L1 entry %" PRIu64 " has reserved bits set (0x%016" PRIx64 ")",
                       bd->path, l1i, l1e);
  uint64_t l2off = l1e & QCOW2_L1E_OFFSET_MASK;
  if (l2off == 0) {
    *type = C_HOLE;
    *entry = 0;
    *run = ((l1i + 1) << shift) - offset;
    return 0;
  }
  if (l2off & (q->cluster_size - 1))
    return h2k_seterr ("%s: L1 entry %" PRIu64 ": L2 table offset %" PRIu64 " is not cluster-aligned",
                       bd->path, l1i, l2off);
  if (l2off > q->filesize || q->filesize - l2off < q->cluster_size)
    return h2k_seterr ("%s: L1 entry %" PRIu64 ": L2 table offset %" PRIu64 " is beyond the end of the file (%" PRIu64 " bytes)",
                       bd->path, l1i, l2off, q->filesize);
  const uint64_t *l2 = NULL;
  if (get_l2 (bd, l2off, &l2) == -1)
    return -1;
  uint64_t e = l2[q->extl2 ? 2 * l2i : l2i];
  *entry = e;
  if (e & QCOW2_OFLAG_COMPRESSED) {
    if (e & QCOW2_OFLAG_COPIED)
      return h2k_seterr ("%s: compressed L2 entry for offset %" PRIu64 " has the COPIED flag",
                         bd->path, offset);
    uint64_t coff = qcow2_compressed_offset (e, q->cluster_bits);
    if (coff >= q->filesize)
      return h2k_seterr ("%s: compressed cluster for offset %" PRIu64 " is beyond the end of the file",
                         bd->path, offset);
    *type = C_COMPRESSED;
    return 0;
  }
  /* With extended L2 entries the zero flag is reserved too. */
  if (e & (QCOW2_L2E_RESERVED_MASK | (q->extl2 ? QCOW2_OFLAG_ZERO : 0)))
    return h2k_seterr ("%s: L2 entry for offset %" PRIu64 " has reserved bits set (0x%016" PRIx64 ")",
                       bd->path, offset, e);
  uint64_t hoff = e & QCOW2_L2E_OFFSET_MASK;
  if (q->extl2) {
    uint64_t bitmap = l2[2 * l2i + 1];
    unsigned sc = (offset >> q->sc_bits) & 31;
    bool alloc = (bitmap >> sc) & 1, zero = (bitmap >> (32 + sc)) & 1;
    *run = (1ULL << q->sc_bits) - (offset & ((1ULL << q->sc_bits) - 1));
    if (alloc && zero)
      return h2k_seterr ("%s: L2 entry for offset %" PRIu64 ": subcluster %u is both allocated and zero",
                         bd->path, offset, sc);
    if ((bitmap & 0xffffffff) && hoff == 0)
      return h2k_seterr ("%s: L2 entry for offset %" PRIu64 ": subclusters allocated in an unallocated cluster",
                         bd->path, offset);
    if (zero || !alloc) {
      *type = zero ? C_ZERO : C_HOLE;
      return 0;
    }
  }
  else if (e & QCOW2_OFLAG_ZERO) {
    *type = C_ZERO;
    return 0;
  }
  if (hoff == 0) {
    *type = C_HOLE;
    return 0;
  }
  if (hoff & (q->cluster_size - 1))
    return h2k_seterr ("%s: L2 entry for offset %" PRIu64 ": data offset %" PRIu64 " is not cluster-aligned",
                       bd->path, offset, hoff);
  if (hoff >= q->filesize)
    return h2k_seterr ("%s: L2 entry for offset %" PRIu64 ": data offset %" PRIu64 " is beyond the end of the file (%" PRIu64 " bytes)",
                       bd->path, offset, hoff, q->filesize);
  *type = C_DATA;
  *host = hoff + (offset & (q->cluster_size - 1));
  return 0;
}

static int
decompress (struct h2k_bdev *bd, uint64_t entry, uint64_t offset)
{
  struct qcow2 *q = bd->data;
  uint64_t coff = qcow2_compressed_offset (entry, q->cluster_bits);
  uint64_t csize = qcow2_compressed_sectors (entry, q->cluster_bits) * 512
    - (coff & 511);

  if (q->ubuf_entry == entry && entry != 0)
    return 0;
  q->ubuf_entry = 0;
  if (q->cbuf == NULL) {
    /* The size field can describe at most two clusters' worth of
     * sectors. */
    q->cbuf = malloc (2 * q->cluster_size);
    q->ubuf = malloc (q->cluster_size);
    if (q->cbuf == NULL || q->ubuf == NULL)
      return h2k_seterr ("%s: out of memory", bd->path);
  }
  if (csize > 2 * q->cluster_size)
    csize = 2 * q->cluster_size;
  /* The last compressed cluster may end before its last sector does. */
  if (csize > q->filesize - coff)
    csize = q->filesize - coff;
  ssize_t n = h2k_pread_full (q->fd, q->cbuf, csize, coff);
  if (n < 0)
    return h2k_seterr ("%s: %m", bd->path);

  bool good = false;
  if (q->compression == QCOW2_COMPRESSION_ZLIB) {
    if (!q->zs_ready) {
      /* Raw deflate; a 32 KiB window also reads QEMU's 4 KiB ones. */
      if (inflateInit2 (&q->zs, -15) != Z_OK)
        return h2k_seterr ("%s: zlib initialisation failed", bd->path);
      q->zs_ready = true;
    }
    else
      inflateReset (&q->zs);
    q->zs.next_in = q->cbuf;
    q->zs.avail_in = n;
    q->zs.next_out = q->ubuf;
    q->zs.avail_out = q->cluster_size;
    int r = inflate (&q->zs, Z_FINISH);
    /* Trailing input is allowed: the size is only known to the sector. */
    good = (r == Z_STREAM_END || r == Z_BUF_ERROR || r == Z_OK)
      && q->zs.avail_out == 0;
  }
  else {
    if (q->zd == NULL && (q->zd = ZSTD_createDCtx ()) == NULL)
      return h2k_seterr ("%s: zstd initialisation failed", bd->path);
    ZSTD_DCtx_reset (q->zd, ZSTD_reset_session_only);
    ZSTD_inBuffer in = { q->cbuf, n, 0 };
    ZSTD_outBuffer out = { q->ubuf, q->cluster_size, 0 };
    size_t r = 1;
    good = true;
    while (out.pos < out.size) {
      size_t ip = in.pos, op = out.pos;
      r = ZSTD_decompressStream (q->zd, &out, &in);
      if (ZSTD_isError (r) || (in.pos <= ip && out.pos <= op)) {
        good = false;
        break;
      }
    }
    /* The frame must end exactly at one cluster of output. */
    if (good && r != 0)
      good = false;
  }
  if (!good)
    return h2k_seterr ("%s: compressed cluster for offset %" PRIu64 " (at %" PRIu64 ", %" PRIu64 " bytes) does not decompress to %" PRIu64 " bytes",
                       bd->path, offset, coff, csize, q->cluster_size);
  q->ubuf_entry = entry;
  return 0;
}

static int
qcow2_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  struct qcow2 *q = bd->data;
  char *p = buf;

  while (count > 0) {
    enum ctype type;
    uint64_t entry, run, hoff = 0;
    if (lookup (bd, offset, &type, &entry, &run, &hoff) == -1)
      return -1;
    size_t n = run < count ? run : count;
    uint64_t in = offset & (q->cluster_size - 1);
    switch (type) {
    case C_HOLE:
    case C_ZERO:
      memset (p, 0, n);
      break;
    case C_DATA: {
      /* Clusters that follow each other in the file too are read with
       * one system call. */
      while (n < count) {
        enum ctype t2;
        uint64_t e2, r2, h2 = 0;
        if (lookup (bd, offset + n, &t2, &e2, &r2, &h2) == -1)
          return -1;
        if (t2 != C_DATA || h2 != hoff + n)
          break;
        n += r2 < count - n ? r2 : count - n;
      }
      ssize_t r = h2k_pread_full (q->fd, p, n, hoff);
      if (r < 0)
        return h2k_seterr ("%s: %m", bd->path);
      /* QEMU reads past the end of the file as zeros. */
      memset (p + r, 0, n - r);
      break;
    }
    case C_COMPRESSED:
      if (decompress (bd, entry, offset) == -1)
        return -1;
      memcpy (p, q->ubuf + in, n);
      break;
    }
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

static int
qcow2_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
               struct h2k_extent_vector *out)
{
  struct qcow2 *q = bd->data;
  uint64_t end = offset + length;

  while (offset < end) {
    enum ctype type;
    uint64_t entry, run, host = 0;
    if (lookup (bd, offset, &type, &entry, &run, &host) == -1)
      return -1;
    if (run > end - offset)
      run = end - offset;
    if (type == C_DATA) {
      /* Clusters contiguous in the file are asked about at once: which
       * parts of them the file really holds (a preallocated image's
       * unwritten clusters are holes, and read as zeros). */
      while (offset + run < end) {
        enum ctype t2;
        uint64_t e2, r2, h2 = 0;
        if (lookup (bd, offset + run, &t2, &e2, &r2, &h2) == -1)
          return -1;
        if (t2 != C_DATA || h2 != host + run)
          break;
        run += r2 < end - offset - run ? r2 : end - offset - run;
      }
      if (h2k_host_extents (q->fd, bd->path, host, run, offset, out) == -1)
        return -1;
    }
    else {
      enum h2k_extent_type t = type == C_HOLE ? H2K_EXTENT_HOLE
        : type == C_ZERO ? H2K_EXTENT_ZERO : H2K_EXTENT_DATA;
      if (h2k_bdev_add_extent (out, offset, run, t) == -1)
        return -1;
    }
    offset += run;
  }
  return 0;
}

struct l1_ref {
  uint64_t l2off, index;
};

static int
l1_ref_cmp (const void *a, const void *b)
{
  const struct l1_ref *x = a, *y = b;
  if (x->l2off != y->l2off)
    return x->l2off < y->l2off ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Deep check: every table entry of the disk is valid and in bounds.
 * An L2 table that several L1 entries point at is walked once, for the
 * first of them: what its entries say does not depend on the guest range
 * that uses them.  Otherwise a small file whose L1 entries all share one
 * full table costs as much as a fully allocated disk of the size it
 * claims (2 TiB in a 1 MiB file: 32 million lookups), and the check's
 * time is bounded by the file, not by the size the header claims. */
static int
qcow2_check (struct h2k_bdev *bd)
{
  struct qcow2 *q = bd->data;
  unsigned shift = q->cluster_bits + q->l2_bits;
  struct l1_ref *refs = malloc ((q->l1_size ? q->l1_size : 1) * sizeof *refs);
  bool *again = calloc (q->l1_size ? q->l1_size : 1, sizeof *again);
  int ret = -1;

  if (refs == NULL || again == NULL) {
    h2k_seterr ("%s: out of memory", bd->path);
    goto out;
  }
  /* The L1 entries were checked when the table was loaded. */
  for (uint64_t i = 0; i < q->l1_size; i++)
    refs[i] = (struct l1_ref) { q->l1[i] & QCOW2_L1E_OFFSET_MASK, i };
  qsort (refs, q->l1_size, sizeof *refs, l1_ref_cmp);
  for (uint64_t i = 1; i < q->l1_size; i++)
    if (refs[i].l2off && refs[i].l2off == refs[i - 1].l2off)
      again[refs[i].index] = true;

  for (uint64_t off = 0; off < bd->size; ) {
    uint64_t l1i = off >> shift;
    if (l1i < q->l1_size && again[l1i]) {
      off = (l1i + 1) << shift;
      continue;
    }
    enum ctype type;
    uint64_t entry, run, host;
    if (lookup (bd, off, &type, &entry, &run, &host) == -1)
      goto out;
    off += run;
  }
  ret = 0;
 out:
  free (refs);
  free (again);
  return ret;
}

/* The chain layer detects the backing file's format from its content.
 * When the image names that format, the two must agree: a backing file
 * declared raw whose content looks like a qcow2 (or VMDK...) image would
 * otherwise be read through headers a guest could have written, which
 * could point at any file of the host (QEMU trusts the declared format for
 * the same reason). */
static int
qcow2_check_parent (struct h2k_bdev *child, struct h2k_bdev *parent,
                    unsigned flags)
{
  struct qcow2 *q = child->data;
  static const struct { const char *qemu, *h2k; } names[] = {
    { "raw", "raw" }, { "qcow2", "qcow2" }, { "vmdk", "vmdk" },
    { "vpc", "vhd" }, { "vhdx", "vhdx" },
  };

  if (q->backing_format[0] == '\0' || (flags & H2K_OPEN_IGNORE_PARENT_ID))
    return 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (q->backing_format, names[i].qemu) == 0) {
      if (strcmp (parent->ops->name, names[i].h2k) == 0)
        return 0;
      h2k_seterr ("%s: backing file %s is declared %s but its content is %s; refusing it",
                  child->path, parent->path, q->backing_format,
                  parent->ops->name);
      return h2k_seterr_code (H2K_ERR_PARENT_ID);
    }
  return 0;
}

static void
qcow2_close (struct h2k_bdev *bd)
{
  struct qcow2 *q = bd->data;
  if (q) {
    close (q->fd);
    free_state (q);
  }
}

const struct h2k_bdev_ops h2k_qcow2_ops = {
  .name = "qcow2",
  .probe = qcow2_probe,
  .open = qcow2_open,
  .pread = qcow2_pread,
  .extents = qcow2_extents,
  .check_parent = qcow2_check_parent,
  .check = qcow2_check,
  .close = qcow2_close,
};
