/* The parts of an OVF descriptor img-convert needs: which files are disks,
 * in DiskSection order, with their References/File attributes. */
#ifndef IMGCONV_OVF_H
#define IMGCONV_OVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vector.h"

struct ovf_disk {
  char *disk_id;
  char *href;               /* the member name, checked to be a plain name */
  uint64_t size;            /* ovf:size, 0 if absent */
  char *compression;        /* NULL, "identity" or "gzip" */
  bool chunked;             /* ovf:chunkSize given */
};
DEFINE_VECTOR_TYPE (ovf_disk_vector, struct ovf_disk);

/* Parse the descriptor XML (through libxml2).  NAME is for messages. */
int ovf_parse (const char *xml, size_t len, const char *name,
               ovf_disk_vector *disks);
void ovf_free (ovf_disk_vector *disks);
/* A member or file name that is safe to use: not empty, no '/', not "."
 * or "..", no control characters. */
bool ovf_name_is_plain (const char *name);

#endif
