/* qcow2 on-disk definitions shared by the qcow2 reader (qcow2-read.c) and
 * the qcow2 writer: header layout, feature bits, table entry masks.
 * Everything on disk is big-endian; see docs/formats.md section 6 and
 * QEMU's docs/interop/qcow2.txt.
 */
#ifndef H2K_QCOW2_FORMAT_H
#define H2K_QCOW2_FORMAT_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#define QCOW2_MAGIC 0x514649fbU           /* "QFI\xfb" */

/* Header field offsets (bytes from the start of the file). */
#define QCOW2_OFF_MAGIC                  0
#define QCOW2_OFF_VERSION                4
#define QCOW2_OFF_BACKING_FILE_OFFSET    8
#define QCOW2_OFF_BACKING_FILE_SIZE     16
#define QCOW2_OFF_CLUSTER_BITS          20
#define QCOW2_OFF_SIZE                  24
#define QCOW2_OFF_CRYPT_METHOD          32
#define QCOW2_OFF_L1_SIZE               36
#define QCOW2_OFF_L1_TABLE_OFFSET       40
#define QCOW2_OFF_REFCOUNT_TABLE_OFFSET 48
#define QCOW2_OFF_REFCOUNT_TABLE_CLUSTERS 56
#define QCOW2_OFF_NB_SNAPSHOTS          60
#define QCOW2_OFF_SNAPSHOTS_OFFSET      64
/* Version 3 only: */
#define QCOW2_OFF_INCOMPATIBLE          72
#define QCOW2_OFF_COMPATIBLE            80
#define QCOW2_OFF_AUTOCLEAR             88
#define QCOW2_OFF_REFCOUNT_ORDER        96
#define QCOW2_OFF_HEADER_LENGTH        100
#define QCOW2_OFF_COMPRESSION_TYPE     104   /* present when header_length >= 105 */

#define QCOW2_V2_HEADER_LENGTH  72
#define QCOW2_V3_HEADER_LENGTH 104           /* minimum */
#define QCOW2_V3_HEADER_LENGTH_COMPRESSION 112

/* cluster_bits limits as QEMU enforces them. */
#define QCOW2_MIN_CLUSTER_BITS  9
#define QCOW2_MAX_CLUSTER_BITS 21

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY        (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ULL << 4)
/* Compatible feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)
/* Autoclear feature bits. */
#define QCOW2_AUTOCLEAR_BITMAPS       (1ULL << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ULL << 1)

/* crypt_method values. */
#define QCOW2_CRYPT_NONE 0
#define QCOW2_CRYPT_AES  1
#define QCOW2_CRYPT_LUKS 2

/* compression_type values. */
#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* Header extension types. */
#define QCOW2_EXT_END              0x00000000U
#define QCOW2_EXT_BACKING_FORMAT   0xE2792ACAU
#define QCOW2_EXT_FEATURE_TABLE    0x6803F857U
#define QCOW2_EXT_BITMAPS          0x23852875U
#define QCOW2_EXT_CRYPTO           0x0537BE77U
#define QCOW2_EXT_DATA_FILE        0x44415441U

/* L1 and L2 entries. */
#define QCOW2_OFLAG_COPIED     (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO       (1ULL << 0)
#define QCOW2_L1E_OFFSET_MASK  0x00fffffffffffe00ULL
#define QCOW2_L2E_OFFSET_MASK  0x00fffffffffffe00ULL
#define QCOW2_L1E_RESERVED_MASK 0x7f000000000001ffULL
#define QCOW2_L2E_RESERVED_MASK 0x3f000000000001feULL
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ULL

/* Largest tables QEMU accepts (bytes). */
#define QCOW2_MAX_L1_SIZE       (32 * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_SIZE (8 * 1024 * 1024)
#define QCOW2_MAX_BACKING_NAME  1023

/* Compressed L2 entries: bits 0..x-1 are the host byte offset and bits
 * x..61 the number of additional 512-byte sectors, x = 62 - (cluster_bits
 * - 8). */
static inline unsigned
qcow2_csize_shift (unsigned cluster_bits)
{
  return 62 - (cluster_bits - 8);
}

static inline uint64_t
qcow2_compressed_offset (uint64_t l2e, unsigned cluster_bits)
{
  return l2e & ((1ULL << qcow2_csize_shift (cluster_bits)) - 1);
}

/* Number of 512-byte sectors the compressed data may occupy, counted from
 * the sector holding its first byte. */
static inline uint64_t
qcow2_compressed_sectors (uint64_t l2e, unsigned cluster_bits)
{
  unsigned shift = qcow2_csize_shift (cluster_bits);
  uint64_t mask = (1ULL << (cluster_bits - 8)) - 1;
  return ((l2e >> shift) & mask) + 1;
}

/* Unaligned big-endian loads and stores. */
static inline uint32_t
qcow2_get_be32 (const void *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

static inline uint64_t
qcow2_get_be64 (const void *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

static inline void
qcow2_put_be32 (void *p, uint32_t v)
{
  v = htobe32 (v);
  memcpy (p, &v, 4);
}

static inline void
qcow2_put_be64 (void *p, uint64_t v)
{
  v = htobe64 (v);
  memcpy (p, &v, 8);
}

#endif
