/* The OVA reader: find the OVF descriptor inside the archive.
 *
 * An OVA is a tar with the .ovf first (formats.md section 8.1), but
 * virt-v2v also accepts compressed tars and zip files, so libarchive is
 * asked to recognise every format and filter it knows.  Only the
 * descriptor is read; the disks are img-convert's business.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>

#include "util/h2k.h"
#include "virt-define.h"

/* A descriptor is a few kilobytes; anything this large is not one, and
 * reading it whole would let a hostile archive exhaust memory. */
#define MAX_OVF_SIZE (16 << 20)

static void
cleanup_archive (void *p)
{
  struct archive *a = *(struct archive **) p;
  if (a)
    archive_read_free (a);
}
#define CLEANUP_ARCHIVE __attribute__ ((cleanup (cleanup_archive)))

static bool
is_ovf_name (const char *name)
{
  size_t len = strlen (name);
  return len > 4 && strcasecmp (name + len - 4, ".ovf") == 0;
}

struct vd_source *
vd_read_ova (const char *path)
{
  CLEANUP_ARCHIVE struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  unsigned members = 0;
  int r;

  if (a == NULL) {
    h2k_seterr ("%s: out of memory", path);
    return NULL;
  }
  archive_read_support_filter_all (a);
  archive_read_support_format_all (a);
  if (archive_read_open_filename (a, path, 65536) != ARCHIVE_OK) {
    h2k_seterr ("%s: %s", path, archive_error_string (a));
    return NULL;
  }

  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname (entry);
    members++;
    if (name == NULL || archive_entry_filetype (entry) != AE_IFREG
        || !is_ovf_name (name))
      continue;
    if (members > 1)
      h2k_warn ("%s: the descriptor %s is not the first member (VMware "
                "tools expect it first)", path, name);

    la_int64_t size = archive_entry_size (entry);
    if (archive_entry_size_is_set (entry) && size > MAX_OVF_SIZE) {
      h2k_seterr ("%s: %s: %lld bytes is too large for an OVF descriptor",
                  path, name, (long long) size);
      return NULL;
    }
    size_t cap = 65536, len = 0;
    CLEANUP_FREE char *buf = malloc (cap);
    if (buf == NULL) {
      h2k_seterr ("out of memory");
      return NULL;
    }
    for (;;) {
      if (len == cap) {
        if (cap >= MAX_OVF_SIZE) {
          h2k_seterr ("%s: %s: too large for an OVF descriptor", path, name);
          return NULL;
        }
        char *nb = realloc (buf, cap * 2);
        if (nb == NULL) {
          h2k_seterr ("out of memory");
          return NULL;
        }
        buf = nb;
        cap *= 2;
      }
      la_ssize_t n = archive_read_data (a, buf + len, cap - len);
      if (n < 0) {
        h2k_seterr ("%s: %s: %s", path, name, archive_error_string (a));
        return NULL;
      }
      if (n == 0)
        break;
      len += (size_t) n;
    }

    CLEANUP_FREE char *where = NULL;
    if (asprintf (&where, "%s: %s", path, name) == -1) {
      h2k_seterr ("out of memory");
      return NULL;
    }
    struct vd_source *src = vd_read_ovf (buf, len, where);
    if (src)
      src->origin = "ova";
    return src;
  }
  if (r != ARCHIVE_EOF)
    h2k_seterr ("%s: not a readable archive: %s", path, archive_error_string (a));
  else
    h2k_seterr ("%s: no .ovf descriptor in the archive", path);
  return NULL;
}
