/* Internal interface between the VHDX reader (vhdx.c) and its log replay
 * (vhdx-log.c).  docs/formats.md section 7.2; MS-VHDX 2.3.
 *
 * A VHDX whose log holds an active sequence must have it replayed before
 * anything but the headers and the log is read.  h2k never writes to its
 * inputs, so the replay happens in memory: the log's writes become an
 * overlay that every later read of the file goes through
 * (h2k_vhdx_file_read).  The overlay is bounded by the log's size.
 */
#ifndef H2K_VHDX_H
#define H2K_VHDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vector.h"

/* One replayed write: LENGTH bytes at file offset OFFSET, from DATA, or
 * zeros when DATA is NULL. */
struct h2k_vhdx_write {
  uint64_t offset;
  uint64_t length;
  unsigned char *data;
};
DEFINE_VECTOR_TYPE (h2k_vhdx_write_vector, struct h2k_vhdx_write);

struct h2k_vhdx_file {
  int fd;
  const char *path;          /* for messages */
  uint64_t physical_size;    /* of the file on disk */
  uint64_t size;             /* after replay (the log may extend it) */
  h2k_vhdx_write_vector overlay;
  uint64_t overlay_start, overlay_end;   /* span of all overlay writes */
};

/* Read exactly COUNT bytes at OFFSET of the replayed file; fails with a
 * message naming WHAT when the range is beyond its end. */
int h2k_vhdx_file_read (struct h2k_vhdx_file *f, void *buf, size_t count,
                        uint64_t offset, const char *what);

/* Find the log's active sequence and replay it into F's overlay.  LOG_GUID
 * is the current header's LogGuid; *REPLAYED tells whether anything was
 * replayed.  Fails on a log that cannot be trusted. */
int h2k_vhdx_log_replay (struct h2k_vhdx_file *f, uint64_t log_offset,
                         uint32_t log_length, const unsigned char log_guid[16],
                         bool *replayed);

void h2k_vhdx_file_free_overlay (struct h2k_vhdx_file *f);

/* Largest log h2k replays (QEMU and Hyper-V use 1 MiB). */
#define H2K_VHDX_MAX_LOG (64 * 1024 * 1024)

#endif
