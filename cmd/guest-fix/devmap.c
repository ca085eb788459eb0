/* Device names.
 *
 * On VMware the guest's disks are SCSI or SATA (/dev/sda...) or, on old
 * guests, IDE (/dev/hda...); on KVM they are virtio (/dev/vda...).  The
 * appliance sees the disks in the order they were given, as /dev/sda...,
 * which is also the order the guest saw them on VMware, so the guest's
 * /dev/sdb2 (or /dev/hdb2) is the appliance's /dev/sdb2.  A name is
 * replaced by the UUID of what is on it, which survives any controller,
 * and only where there is no UUID by the virtio name. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

/* Parse /dev/sdXN or /dev/hdXN: the disk index and the partition suffix
 * (digits, possibly empty).  Returns -1 when NAME is not such a name. */
static long
parse_name (const char *name, const char **part)
{
  if (strncmp (name, "/dev/sd", 7) != 0 && strncmp (name, "/dev/hd", 7) != 0)
    return -1;
  const char *p = name + 7;
  long idx = 0;
  if (!islower ((unsigned char) *p))
    return -1;
  /* sda..sdz, then sdaa..sdzz as the kernel numbers them. */
  while (islower ((unsigned char) *p)) {
    idx = idx * 26 + (*p - 'a' + 1);
    if (idx > 100000)
      return -1;
    p++;
  }
  idx--;
  const char *d = p;
  while (isdigit ((unsigned char) *p))
    p++;
  if (*p != '\0')
    return -1;
  *part = d;
  return idx;
}

static char *
disk_letters (long idx, const char *prefix, const char *part)
{
  char letters[16];
  int n = 0;
  char tmp[16];
  idx++;
  while (idx > 0 && n < 15) {
    idx--;
    tmp[n++] = 'a' + idx % 26;
    idx /= 26;
  }
  for (int i = 0; i < n; i++)
    letters[i] = tmp[n - 1 - i];
  letters[n] = '\0';
  char *s;
  if (asprintf (&s, "%s%s%s", prefix, letters, part) == -1)
    h2k_die ("out of memory");
  return s;
}

char *
devmap_virtio (struct gf *gf, const char *name)
{
  const char *part;
  long idx = parse_name (name, &part);
  if (idx < 0 || (size_t) idx >= gf->ndisks)
    return NULL;
  return disk_letters (idx, "/dev/vd", part);
}

char *
devmap_stable (struct gf *gf, const char *name)
{
  const char *part;
  long idx = parse_name (name, &part);
  if (idx < 0 || (size_t) idx >= gf->ndisks)
    return NULL;

  CLEANUP_FREE char *adev = disk_letters (idx, "/dev/sd", part);
  CLEANUP_FREE char *type = guestfs_vfs_type (gf->g, adev);
  /* A physical volume's or RAID member's UUID names no block device the
   * guest could mount. */
  if (type && *type && strcmp (type, "LVM2_member") != 0
      && strcmp (type, "linux_raid_member") != 0) {
    CLEANUP_FREE char *uuid = guestfs_vfs_uuid (gf->g, adev);
    if (uuid && *uuid) {
      char *s;
      if (asprintf (&s, "UUID=%s", uuid) == -1)
        h2k_die ("out of memory");
      return s;
    }
  }
  return disk_letters (idx, "/dev/vd", part);
}

static bool
is_key_start (const char *line, const char *p)
{
  return p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '"'
    || p[-1] == '\'';
}

char *
devmap_params (struct gf *gf, const char *line)
{
  static const char *const keys[] = { "root=", "resume=", "RESUME=", NULL };
  CLEANUP_FREE char *out = strdup (line);
  bool changed = false;

  if (!out)
    h2k_die ("out of memory");
  for (size_t k = 0; keys[k]; k++) {
    size_t klen = strlen (keys[k]);
    char *p = out;
    while ((p = strstr (p, keys[k])) != NULL) {
      if (!is_key_start (out, p)) {
        p += klen;
        continue;
      }
      char *v = p + klen;
      size_t vlen = strcspn (v, " \t\"'");
      CLEANUP_FREE char *name = strndup (v, vlen);
      CLEANUP_FREE char *repl = name ? devmap_stable (gf, name) : NULL;
      if (!repl) {
        p = v + vlen;
        continue;
      }
      char *n;
      if (asprintf (&n, "%.*s%s%s", (int) (v - out), out, repl,
                    v + vlen) == -1)
        h2k_die ("out of memory");
      size_t at = (v - out) + strlen (repl);
      free (out);
      out = n;
      p = out + at;
      changed = true;
    }
  }
  if (!changed)
    return NULL;
  char *r = out;
  out = NULL;
  return r;
}
