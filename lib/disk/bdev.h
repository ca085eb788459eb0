/* The disk wing of lib/ (lib/disk/): reading disk images.  This header
 * is its interface; raw.c, qcow2.c, vhd.c, vhdx.c and vmdk/ are one driver
 * each, registry.c lists them, bdev.c is the chain layer.  The wing uses
 * only lib/util/: it never reaches the network (lib/http, lib/vsphere) and
 * never writes images (that is lib/copy/).
 *
 * The block-device interface: every disk format h2k reads sits behind it,
 * so that programs never branch on format names.
 *
 * A driver (struct h2k_bdev_ops) reads ONE layer of a disk: one VMDK
 * (with all of its extent files), one VHD, one qcow2 file...  A layer says
 * for each byte range whether it holds data, reads as zeros, or is a hole
 * (not allocated here).  The chain layer (bdev.c) links each layer to its
 * parent and lets holes fall through, so h2k_bdev_pread and
 * h2k_bdev_extents on the top layer give the guest-visible disk.
 *
 *   struct h2k_bdev *bd;
 *   if (h2k_chain_open (path, NULL, 0, &bd) == -1)
 *     h2k_die ("%s", h2k_errmsg ());
 *   h2k_bdev_pread (bd, buf, n, offset);     guest-visible bytes
 *   h2k_bdev_extents (bd, off, len, &ext);   allocation of the whole chain
 *   h2k_bdev_close (bd);                     closes the parents too
 *
 * Functions return 0 (or a count) on success and -1 with h2k_seterr on
 * failure; messages name the file.  A struct h2k_bdev is not thread-safe:
 * use it from one thread at a time.
 *
 * Writing a driver: fill a struct h2k_bdev_ops, add it to registry.c.
 *  - probe:  score HEAD (the first bytes of the file, up to 64 KiB) from
 *            0 (not mine) to 100 (magic matched); raw answers 1.
 *  - open:   takes ownership of FD only if it succeeds.  Parse and check the headers (never trust them: bound every
 *            size before allocating or seeking), set bd->size, and
 *            bd->parent_path (+ bd->parent_alt) when the layer has a
 *            parent.  Memory must stay bounded whatever the headers claim.
 *  - pread:  fill BUF for [offset, offset+count) within bd->size: the
 *            layer's data where it has data, zeros elsewhere (the chain
 *            layer only calls it for DATA ranges, but zeros are the safe
 *            answer).
 *  - extents: append to OUT extents that cover [offset, offset+length)
 *            contiguously and in order (they may start before offset and
 *            end after; adjacent extents of the same type may be merged
 *            or not).
 *  - check_parent (optional): verify PARENT is the parent CHILD expects
 *            (VMDK CID/parentCID, VHD parent UUID); flags carry
 *            H2K_OPEN_IGNORE_PARENT_ID.
 *  - check (optional): deep verification for --check: every table entry
 *            in bounds, and so on.
 *  - file (optional): the Ith (from 0) file this layer reads besides
 *            bd->path (a VMDK descriptor's extent files), NULL past the
 *            last: for listings (img-convert --list-files).
 *  - close:  free bd->data and close files (not bd->path: bdev.c owns it).
 */
#ifndef H2K_BDEV_H
#define H2K_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vector.h"

enum h2k_extent_type {
  H2K_EXTENT_DATA = 0,  /* bytes stored in this layer */
  H2K_EXTENT_ZERO = 1,  /* reads as zeros; hides the parent */
  H2K_EXTENT_HOLE = 2,  /* not allocated: the parent's bytes, or zeros */
};

struct h2k_extent {
  uint64_t offset;
  uint64_t length;
  enum h2k_extent_type type;
};
DEFINE_VECTOR_TYPE (h2k_extent_vector, struct h2k_extent);

/* Open flags. */
#define H2K_OPEN_IGNORE_PARENT_ID 0x1  /* accept a parent whose identity
                                          does not match the child's */
#define H2K_OPEN_NO_PARENT        0x2  /* open the top layer alone */

/* The h2k_errcode of a chain that failed to open because a parent is not
 * the one its child was made from (a VMDK CID, a VHD UUID, a VHDX
 * DataWriteGuid, a qcow2 backing format).  Programs that offer
 * H2K_OPEN_IGNORE_PARENT_ID name their option for it in the message:
 * the library cannot know it. */
#define H2K_ERR_PARENT_ID 1

/* Longest chain h2k follows: a loop or an absurd depth fails cleanly. */
#define H2K_CHAIN_MAX_DEPTH 255

struct h2k_bdev;

struct h2k_bdev_ops {
  const char *name;
  int (*probe) (const unsigned char *head, size_t len, int fd, uint64_t filesize);
  int (*open) (struct h2k_bdev *bd, int fd, unsigned flags);
  int (*pread) (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset);
  int (*extents) (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
                  struct h2k_extent_vector *out);
  int (*check_parent) (struct h2k_bdev *child, struct h2k_bdev *parent,
                       unsigned flags);
  int (*check) (struct h2k_bdev *bd);
  const char *(*file) (struct h2k_bdev *bd, size_t i);
  void (*close) (struct h2k_bdev *bd);
};

struct h2k_bdev {
  const struct h2k_bdev_ops *ops;
  char *path;               /* as given (owned by bdev.c) */
  uint64_t size;            /* guest-visible size in bytes */
  char *parent_path;        /* set by open when this layer has a parent */
  char *parent_alt;         /* a second place to look for it (same dir) */
  struct h2k_bdev *parent;  /* set by h2k_chain_open */
  unsigned depth;           /* 0 for the top layer */
  void *data;               /* the driver's state */
};

/* The drivers, in probe order (bdev-registry.c). */
extern const struct h2k_bdev_ops *const h2k_bdev_drivers[];

/* What a file whose first LEN bytes are HEAD plainly is when it is not a
 * disk image (an XML document, a tar archive, a compressed file), or NULL:
 * such a file is not taken as a raw disk unless its format is given. */
const char *h2k_raw_not_a_disk (const unsigned char *head, size_t len);
const struct h2k_bdev_ops *h2k_bdev_find_driver (const char *name);

/* Open one layer.  FORMAT is a driver name, or NULL to detect it from the
 * content (never from the file name). */
int h2k_bdev_open (const char *path, const char *format, unsigned flags,
                   struct h2k_bdev **out);
/* Open PATH and every parent down to the base, checking each link. */
int h2k_chain_open (const char *path, const char *format, unsigned flags,
                    struct h2k_bdev **out);
/* As h2k_chain_open, but when it fails *OUT is the part of the chain that
 * did open (top first, linked through ->parent; NULL when the top layer
 * did not), for a caller that lists what it found: the last layer's
 * parent_path (and parent_alt) name the parent that could not be opened
 * or checked.  The caller closes *OUT in both cases. */
int h2k_chain_open_partial (const char *path, const char *format,
                            unsigned flags, struct h2k_bdev **out);
void h2k_bdev_close (struct h2k_bdev *bd);
/* The files of one layer, for listings: I = 0 is bd->path, then the
 * driver's other files (its file hook); NULL past the last. */
const char *h2k_bdev_file (struct h2k_bdev *bd, size_t i);

/* Guest-visible reads through the chain.  Reads beyond bd->size fail. */
int h2k_bdev_pread (struct h2k_bdev *bd, void *buf, size_t count,
                    uint64_t offset);
/* Allocation of the chain: DATA somewhere in the chain, ZERO (a layer says
 * zeros), HOLE (no layer has it).  Replaces the contents of OUT with
 * extents exactly covering [offset, offset+length), merged. */
int h2k_bdev_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
                      struct h2k_extent_vector *out);
/* Run every layer's check hook. */
int h2k_bdev_check (struct h2k_bdev *bd);

/* The extents of a whole range, one at a time, in ascending order.  The
 * chain is asked a window at a time (h2k_bdev_extents), so memory stays
 * bounded whatever the disk; the caller never sees the windows.
 *
 *   struct h2k_extent_iter it;
 *   struct h2k_extent e;
 *   h2k_extent_iter_init (&it, bd, 0, bd->size, 0);
 *   while ((r = h2k_extent_iter_next (&it, &e)) > 0)
 *     use e
 *   h2k_extent_iter_reset (&it);         r == -1: h2k_errmsg ()
 *
 * With H2K_EXTENT_ITER_MERGE, adjacent extents of one type are merged
 * across windows too (for a map); without it, no extent spans a window
 * boundary, so a copy starts reading data before the whole disk's
 * allocation is known. */
#define H2K_EXTENT_ITER_MERGE 0x1

struct h2k_extent_iter {
  struct h2k_bdev *bd;
  uint64_t pos, end;            /* the next window starts at POS */
  unsigned flags;
  struct h2k_extent_vector win; /* the current window's extents */
  size_t i;                     /* the next of them */
  bool have_pending;
  struct h2k_extent pending;    /* merged so far (with MERGE) */
};

void h2k_extent_iter_init (struct h2k_extent_iter *it, struct h2k_bdev *bd,
                           uint64_t offset, uint64_t length, unsigned flags);
/* 1 and the next extent in OUT, 0 at the end, -1 on error. */
int h2k_extent_iter_next (struct h2k_extent_iter *it, struct h2k_extent *out);
void h2k_extent_iter_reset (struct h2k_extent_iter *it);

/* Helpers for drivers. */
/* For check_parent: 0 when PARENT was opened by OPS (the child's own
 * driver), else -1 with "CHILD: parent P is not a WHAT (it reads as ...)". */
int h2k_parent_same_format (const struct h2k_bdev *child,
                            const struct h2k_bdev *parent,
                            const struct h2k_bdev_ops *ops, const char *what);
int h2k_bdev_add_extent (struct h2k_extent_vector *out, uint64_t offset,
                         uint64_t length, enum h2k_extent_type type);
/* Append to OUT the extents of guest range [GOFF, GOFF+LEN), stored at
 * host offset HOFF of FD: DATA where the host file has data, ZERO where it
 * has holes or ends (both read as zeros), so that sparse raw files and
 * preallocated blocks that were never written are not read as data.
 * Without SEEK_DATA support (a block device) everything is DATA. */
int h2k_host_extents (int fd, const char *path, uint64_t hoff, uint64_t len,
                      uint64_t goff, struct h2k_extent_vector *out);
/* Resolve NAME (from a header or descriptor) relative to the directory of
 * BASE; returns a malloc'd path or NULL with h2k_seterr. */
char *h2k_path_relative_to (const char *base, const char *name);

#endif
