/* VMDK: the pieces of the format that other code can reuse.
 *
 * Programs open VMDKs through lib/disk/bdev.h (driver "vmdk": descriptor files,
 * hosted sparse "KDMV" files incl. streamOptimized, ESX COWD and seSparse
 * extents, whole chains).  This header is for code that cannot seek, such
 * as a reader of a streamOptimized disk inside an OVA tar stream:
 *
 *   h2k_vmdk_parse_header   the 512-byte KDMV header, checked
 *   h2k_vmdk_parse_marker   a grain or metadata marker of a stream
 *   h2k_vmdk_inflate_grain  one compressed grain (zlib) into its buffer
 *   h2k_vmdk_desc_parse     descriptor text (standalone or embedded)
 *
 * A sequential reader of a streamOptimized file: parse the header, skip to
 * header.overhead sectors (or past the descriptor), then read markers at
 * each 512-byte boundary: a grain marker (size > 0) is followed by SIZE
 * bytes of zlib data for LBA val, padded to 512; a metadata marker (GT, GD,
 * footer, progress) is followed by val sectors to skip; EOS ends the
 * stream.  All functions return 0 or -1 with h2k_seterr; their messages
 * carry no file name (prefix it with h2k_seterr_prefix).
 */
#ifndef H2K_VMDK_H
#define H2K_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vector.h"

#define H2K_VMDK_SECTOR 512
/* gd_offset of a stream whose grain directory is in the footer. */
#define H2K_VMDK_GD_AT_END UINT64_MAX
/* Nothing VMware or qemu writes comes close: a header claiming more is
 * lying (seSparse, the largest format, stops just under 64 TiB). */
#define H2K_VMDK_MAX_CAPACITY (UINT64_C (64) << 40)

#define H2K_VMDK_FLAG_NL_DETECT   0x00000001u
#define H2K_VMDK_FLAG_RGD         0x00000002u
#define H2K_VMDK_FLAG_ZERO_GRAIN  0x00000004u
#define H2K_VMDK_FLAG_COMPRESSED  0x00010000u
#define H2K_VMDK_FLAG_MARKERS     0x00020000u

struct h2k_vmdk_header {
  uint32_t version;
  uint32_t flags;
  uint64_t capacity;          /* sectors */
  uint64_t grain_size;        /* sectors */
  uint64_t desc_offset;       /* sectors, 0 = no embedded descriptor */
  uint64_t desc_size;         /* sectors */
  uint32_t num_gtes_per_gt;
  uint64_t rgd_offset;        /* sectors */
  uint64_t gd_offset;         /* sectors, or H2K_VMDK_GD_AT_END */
  uint64_t overhead;          /* sectors */
  bool unclean_shutdown;
  uint16_t compress_algorithm;/* 0 none, 1 deflate */
  bool compressed;            /* grains are zlib streams */
  bool markers;               /* grains carry a 12-byte marker */
};

/* Parse and check a KDMV header (magic, version, flags, capacity, grain
 * size, table size).  BUF holds at least 512 bytes.  gd_offset is not
 * checked against a file size: the caller knows it. */
int h2k_vmdk_parse_header (const void *buf, struct h2k_vmdk_header *h);
/* Number of grain directory entries the header implies. */
uint64_t h2k_vmdk_gd_entries (const struct h2k_vmdk_header *h);

enum h2k_vmdk_marker_type {
  H2K_VMDK_MARKER_GRAIN = -1,  /* compressed grain: val = LBA, size bytes */
  H2K_VMDK_MARKER_EOS = 0,
  H2K_VMDK_MARKER_GT = 1,
  H2K_VMDK_MARKER_GD = 2,
  H2K_VMDK_MARKER_FOOTER = 3,
  H2K_VMDK_MARKER_PROGRESS = 4, /* undocumented; vSphere writes it */
};

struct h2k_vmdk_marker {
  uint64_t val;     /* grain: LBA; metadata: sectors that follow */
  uint32_t size;    /* grain: compressed bytes after the 12-byte marker */
  enum h2k_vmdk_marker_type type;
};

/* Parse a marker from BUF (LEN >= 16 bytes: a metadata marker's type is
 * at byte 12).  Unknown metadata types fail. */
int h2k_vmdk_parse_marker (const void *buf, size_t len,
                           struct h2k_vmdk_marker *m);
/* Bytes a grain marker and its payload occupy, padded to 512. */
uint64_t h2k_vmdk_grain_record_bytes (const struct h2k_vmdk_marker *m);

/* Inflate one zlib stream SRC into DST (DSTLEN bytes, normally the grain
 * size); *OUTLEN gets the bytes produced.  Fails on corrupt data and on
 * data that would not fit. */
int h2k_vmdk_inflate_grain (const void *src, size_t srclen,
                            void *dst, size_t dstlen, size_t *outlen);

/* Descriptors. */
enum h2k_vmdk_access { H2K_VMDK_RW, H2K_VMDK_RDONLY, H2K_VMDK_NOACCESS };
enum h2k_vmdk_extent_type {
  H2K_VMDK_EXT_FLAT,        /* FLAT, VMFS and VMFSRAW: plain bytes */
  H2K_VMDK_EXT_SPARSE,      /* SPARSE, VMFSSPARSE, SESPARSE: by magic */
  H2K_VMDK_EXT_ZERO,
};

struct h2k_vmdk_desc_extent {
  enum h2k_vmdk_access access;
  enum h2k_vmdk_extent_type type;
  const char *type_name;    /* as written: "VMFSSPARSE" */
  uint64_t sectors;
  char *filename;           /* UTF-8; NULL for ZERO */
  uint64_t offset;          /* sectors into the file (flat extents) */
};
DEFINE_VECTOR_TYPE (h2k_vmdk_desc_extent_vector, struct h2k_vmdk_desc_extent);

struct h2k_vmdk_desc {
  int version;
  char *encoding;           /* NULL if absent */
  char *create_type;        /* NULL if absent */
  bool has_cid, has_parent_cid;
  uint32_t cid, parent_cid; /* parent_cid 0xffffffff: no parent */
  char *parent_hint;        /* parentFileNameHint in UTF-8, or NULL */
  h2k_vmdk_desc_extent_vector extents;
  uint64_t total_sectors;   /* sum of the extents */
};

/* Parse descriptor TEXT (LEN bytes; a NUL ends it early, as in embedded
 * descriptors).  Lines may end in CRLF, keys may have spaces around '=',
 * file names are converted from `encoding` to UTF-8.  Fails on binary
 * data, malformed extent lines and unknown extent types. */
int h2k_vmdk_desc_parse (const char *text, size_t len,
                         struct h2k_vmdk_desc *d);
void h2k_vmdk_desc_free (struct h2k_vmdk_desc *d);

#endif
