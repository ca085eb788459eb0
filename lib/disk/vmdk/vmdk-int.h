/* Internals of the VMDK driver, shared by its files (vmdk*.c, cowd.c,
 * sesparse.c).  Not for other code: use bdev.h or vmdk.h.
 *
 * The three sparse extent formats (hosted sparse KDMV, ESX COWD, seSparse)
 * differ only in how a grain index maps to a place in the file, so each
 * provides a lookup function and the generic code in vmdk-sparse.c does
 * extents, reads, decompression and checks for all of them.  Tables are
 * read through a small cache of fixed-size blocks, so memory does not grow
 * with the disk: a 64 TiB seSparse costs the same as a 1 MiB one.
 */
#ifndef H2K_VMDK_INT_H
#define H2K_VMDK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "disk/bdev.h"
#include "vmdk.h"

#define VMDK_MAX_GRAIN_SECTORS 2048         /* 1 MiB grains */
#define VMDK_MAX_DESC_SECTORS 20480         /* VirtualBox's limit, 10 MiB */
#define VMDK_MAX_DESC_FILE (4u << 20)       /* a descriptor file */
#define VMDK_MAX_EXTENTS 65536
#define VMDK_TCACHE_SLOTS 16

static inline uint32_t
vmdk_le32 (const unsigned char *p)
{
  return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t) p[3] << 24);
}

static inline uint64_t
vmdk_le64 (const unsigned char *p)
{
  return vmdk_le32 (p) | ((uint64_t) vmdk_le32 (p + 4) << 32);
}

/* A cache of BLKSIZE-byte blocks of one file, keyed by file offset. */
struct vmdk_tcache {
  size_t blksize;
  uint64_t clock;
  struct {
    uint64_t off;
    uint64_t stamp;
    unsigned char *buf;
  } slot[VMDK_TCACHE_SLOTS];
};
/* The BLKSIZE bytes at OFF of FD (bytes past the end of the file read as
 * zeros: the caller checks the bounds of what it uses); NULL with
 * h2k_seterr on a read error. */
const unsigned char *vmdk_tcache_get (struct vmdk_tcache *c, int fd,
                                      uint64_t off, const char *path);
void vmdk_tcache_free (struct vmdk_tcache *c);

enum vmdk_grain_state {
  VG_HOLE,        /* not allocated here: the parent's, or zeros */
  VG_ZERO,        /* reads as zeros, hides the parent */
  VG_DATA,        /* uncompressed, at OFF */
  VG_COMPRESSED,  /* a compressed grain (with marker) at OFF */
};

struct vmdk_grain {
  enum vmdk_grain_state st;
  uint64_t off;   /* byte offset in the file */
  uint64_t run;   /* >= 1: grains from this one known to share ST (holes
                     of a whole missing table); 1 for data */
  uint64_t table; /* byte offset of the grain table the entry is in, 0
                     when the directory has no table there */
};

struct vmdk_sparse;

struct vmdk_sparse_ops {
  /* Map GRAIN (< sp->ngrains) to its state, checking every table entry
   * it reads against the file's bounds. */
  int (*lookup) (struct vmdk_sparse *sp, uint64_t grain, struct vmdk_grain *g);
  /* Inflate compressed GRAIN whose record starts at OFF into sp->zbuf. */
  int (*read_compressed) (struct vmdk_sparse *sp, uint64_t grain, uint64_t off);
};

struct vmdk_sparse {
  const struct vmdk_sparse_ops *ops;
  char *path;
  int fd;
  uint64_t filesize;
  uint64_t capacity;      /* bytes */
  uint64_t grain_bytes;
  uint64_t ngrains;
  uint64_t gt_grains;     /* grains one grain table maps */
  struct vmdk_tcache gd, gt;
  /* The last decompressed grain (streamOptimized reads it piecewise). */
  unsigned char *zbuf, *cbuf;
  uint64_t zgrain;
  /* Embedded descriptor text (hosted sparse only), or NULL. */
  char *desc_text;
  size_t desc_len;
  void *priv;             /* the format's state, freed with free() */
};

/* Open the sparse extent in FD (KDMV, COWD or seSparse, by magic).  FD is
 * owned by the result on success, untouched on failure. */
int vmdk_sparse_open (const char *path, int fd, struct vmdk_sparse **out);
/* Which sparse format HEAD (>= 8 bytes) starts with, or NULL. */
const char *vmdk_sparse_magic (const unsigned char *head, size_t len);
int vmdk_sparse_extents (struct vmdk_sparse *sp, uint64_t off, uint64_t len,
                         uint64_t base, struct h2k_extent_vector *out);
int vmdk_sparse_pread (struct vmdk_sparse *sp, void *buf, uint64_t count,
                       uint64_t off);
int vmdk_sparse_check (struct vmdk_sparse *sp);
void vmdk_sparse_free (struct vmdk_sparse *sp);

/* Helpers for the format files. */
/* Entry GDI of the grain directory at byte GD_OFF, whose entries are
 * ESIZE (4 or 8) bytes, little-endian, read through the directory cache
 * (sp->gd, in blocks of sp->gd.blksize). */
int vmdk_gd_entry (struct vmdk_sparse *sp, uint64_t gd_off, uint64_t gdi,
                   unsigned esize, uint64_t *gde);
/* The grain table that directory entry GDI (GDE, in sectors) points to,
 * GT_BYTES long, read through the table cache; NULL with h2k_seterr when
 * it lies beyond the end of the file. */
const unsigned char *vmdk_gt_at (struct vmdk_sparse *sp, uint64_t gdi,
                                 uint64_t gde, uint64_t gt_bytes);
int vmdk_sparse_data_in_file (struct vmdk_sparse *sp, uint64_t grain,
                              uint64_t off);
int vmdk_kdmv_open (struct vmdk_sparse *sp, const unsigned char *head);
int vmdk_cowd_open (struct vmdk_sparse *sp, const unsigned char *head);
int vmdk_sesparse_open (struct vmdk_sparse *sp, const unsigned char *head);

#endif
