/* The VMX reader.
 *
 * A .vmx file is lines of `key = "value"`, with '#' comments and blank
 * lines.  Keys are case-insensitive to VMware.  Inside values VMware
 * writes a byte it cannot put between quotes as '|' and two hex digits
 * ("|22" is '"', "|0A" a newline, "|7C" the '|' itself).  `.encoding`
 * names the character set of the values; anything but UTF-8 is converted
 * with iconv.  A line that is none of these is refused with its number:
 * a file that does not parse is not a VM description to guess from.
 */

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/h2k.h"
#include "virt-define.h"

struct kv {
  char *key;            /* lower case */
  char *value;          /* decoded */
};
DEFINE_VECTOR_TYPE (kv_list, struct kv);

struct vmx {
  const char *name;
  kv_list kv;
};

static void
vmx_free (struct vmx *v)
{
  for (size_t i = 0; i < v->kv.len; i++) {
    free (v->kv.ptr[i].key);
    free (v->kv.ptr[i].value);
  }
  kv_list_reset (&v->kv);
}

/* The last value given for KEY (VMware keeps the last one too). */
static const char *
get (const struct vmx *v, const char *key)
{
  for (size_t i = v->kv.len; i-- > 0; )
    if (strcasecmp (v->kv.ptr[i].key, key) == 0)
      return v->kv.ptr[i].value;
  return NULL;
}

static const char *
getf (const struct vmx *v, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
static const char *
getf (const struct vmx *v, const char *fmt, ...)
{
  char key[256];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (key, sizeof key, fmt, ap);
  va_end (ap);
  return get (v, key);
}

static bool
is_true (const char *s)
{
  return s && (strcasecmp (s, "true") == 0 || strcasecmp (s, "yes") == 0
               || strcmp (s, "1") == 0);
}

static bool
is_false (const char *s)
{
  return s && (strcasecmp (s, "false") == 0 || strcasecmp (s, "no") == 0
               || strcmp (s, "0") == 0);
}

static int
hexval (int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool
key_char (int c)
{
  return isalnum (c) || c == '_' || c == '.' || c == ':' || c == '-';
}

/* Parse one line (without its newline).  Returns 0 (a pair was added or
 * the line is blank or a comment), or -1 with h2k_seterr. */
static int
parse_line (struct vmx *v, char *line, unsigned long lineno)
{
  char *p = line;
  size_t len = strlen (p);
  if (len > 0 && p[len - 1] == '\r')
    p[--len] = '\0';
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '\0' || *p == '#')
    return 0;

  char *key = p;
  while (key_char ((unsigned char) *p))
    p++;
  char *key_end = p;
  while (*p == ' ' || *p == '\t')
    p++;
  if (key_end == key || *p != '=') {
    CLEANUP_FREE char *shown = vd_xml_text_clean (line);
    return h2k_seterr ("%s: line %lu: \"%.40s\": not a `key = \"value\"` line",
                       v->name, lineno, shown ? shown : "");
  }
  *key_end = '\0';
  p++;
  while (*p == ' ' || *p == '\t')
    p++;

  CLEANUP_FREE char *value = malloc (strlen (p) + 1);
  if (value == NULL)
    return h2k_seterr ("out of memory");
  char *q = value;
  if (*p == '"') {
    p++;
    while (*p && *p != '"') {
      if (*p == '|') {
        int h = hexval ((unsigned char) p[1]);
        int l = h >= 0 ? hexval ((unsigned char) p[2]) : -1;
        if (h < 0 || l < 0)
          return h2k_seterr ("%s: line %lu: %s: bad escape \"%.3s\" (VMX "
                             "escapes are '|' and two hex digits)",
                             v->name, lineno, key, p);
        if (h == 0 && l == 0)
          return h2k_seterr ("%s: line %lu: %s: NUL byte in value", v->name,
                             lineno, key);
        *q++ = (char) (h << 4 | l);
        p += 3;
      } else
        *q++ = *p++;
    }
    if (*p != '"')
      return h2k_seterr ("%s: line %lu: %s: unterminated quoted value",
                         v->name, lineno, key);
    p++;
  } else {
    /* Hand-edited files sometimes leave simple values unquoted. */
    while (*p && *p != ' ' && *p != '\t' && *p != '"' && *p != '#')
      *q++ = *p++;
    if (q == value)
      return h2k_seterr ("%s: line %lu: %s: no value", v->name, lineno, key);
  }
  *q = '\0';
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p != '\0' && *p != '#')
    return h2k_seterr ("%s: line %lu: %s: trailing characters after the value",
                       v->name, lineno, key);

  struct kv kv = { .key = strdup (key), .value = value };
  if (kv.key == NULL || kv_list_append (&v->kv, kv) == -1) {
    free (kv.key);
    return h2k_seterr ("out of memory");
  }
  value = NULL;
  return 0;
}

/* Convert every value from the file's .encoding to UTF-8. */
static int
convert_encoding (struct vmx *v)
{
  const char *e = get (v, ".encoding");
  if (e == NULL || strcasecmp (e, "UTF-8") == 0 || strcasecmp (e, "UTF8") == 0)
    return 0;
  /* A copy: the loop below converts (and frees) the .encoding value too,
   * and a later message names the encoding (the fuzzer found the use
   * after free). */
  CLEANUP_FREE char *enc = strdup (e);
  if (enc == NULL)
    return h2k_seterr ("out of memory");
  iconv_t cd = iconv_open ("UTF-8", enc);
  if (cd == (iconv_t) -1)
    return h2k_seterr ("%s: .encoding \"%s\" is not a character set this "
                       "system can convert", v->name, enc);
  int ret = 0;
  for (size_t i = 0; i < v->kv.len && ret == 0; i++) {
    char *in = v->kv.ptr[i].value;
    size_t inleft = strlen (in), outcap = inleft * 4 + 1, outleft = outcap - 1;
    char *out = malloc (outcap), *o = out;
    if (out == NULL) {
      ret = h2k_seterr ("out of memory");
      break;
    }
    iconv (cd, NULL, NULL, NULL, NULL);
    if (iconv (cd, &in, &inleft, &o, &outleft) == (size_t) -1) {
      ret = h2k_seterr ("%s: %s: not valid %s", v->name, v->kv.ptr[i].key, enc);
      free (out);
      break;
    }
    *o = '\0';
    free (v->kv.ptr[i].value);
    v->kv.ptr[i].value = out;
  }
  iconv_close (cd);
  return ret;
}

/* A disk or CD-ROM slot: scsi0:1, sata0:0, ide1:0, nvme0:0. */
struct slot {
  int kind;             /* index into kinds[] */
  int ctl, unit;
};
DEFINE_VECTOR_TYPE (slot_list, struct slot);

/* The order disks are given in when the VMX does not say
 * (bios.hddOrder): SCSI first, as VMware's BIOS tries it first. */
static const char *kinds[] = { "scsi", "sata", "nvme", "ide" };
#define NKINDS (sizeof kinds / sizeof kinds[0])

static int
parse_slot (const char *s, struct slot *out, const char **rest)
{
  for (size_t k = 0; k < NKINDS; k++) {
    size_t kl = strlen (kinds[k]);
    if (strncasecmp (s, kinds[k], kl) != 0 || !isdigit ((unsigned char) s[kl]))
      continue;
    char *end;
    long ctl = strtol (s + kl, &end, 10);
    if (*end != ':' || !isdigit ((unsigned char) end[1]) || ctl > 255)
      return -1;
    long unit = strtol (end + 1, &end, 10);
    if (unit > 255)
      return -1;
    out->kind = (int) k;
    out->ctl = (int) ctl;
    out->unit = (int) unit;
    *rest = end;
    return 0;
  }
  return -1;
}

/* Where SLOT appears in bios.hddOrder ("scsi0:1,sata0:0"), or a large
 * number when it does not. */
static int
boot_rank (const char *order, const struct slot *s)
{
  int rank = 0;
  for (const char *p = order; p && *p; ) {
    struct slot o;
    const char *rest;
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == '\0')
      break;
    if (parse_slot (p, &o, &rest) == 0) {
      if (o.kind == s->kind && o.ctl == s->ctl && o.unit == s->unit)
        return rank;
      p = rest;
    } else
      p += strcspn (p, ", ");
    rank++;
  }
  return 1000;
}

static int
compare_slots (const void *a, const void *b, void *hdd_order)
{
  const struct slot *x = a, *y = b;
  int rx = boot_rank (hdd_order, x), ry = boot_rank (hdd_order, y);
  if (rx != ry) return rx - ry;
  if (x->kind != y->kind) return x->kind - y->kind;
  if (x->ctl != y->ctl) return x->ctl - y->ctl;
  return x->unit - y->unit;
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t l = strlen (s), sl = strlen (suffix);
  return l >= sl && strcasecmp (s + l - sl, suffix) == 0;
}

static const char *
scsi_controller (const char *dev)
{
  if (dev == NULL) return "scsi";
  if (strcasecmp (dev, "lsisas1068") == 0) return "lsilogic-sas";
  return dev;
}

static int
read_disks (const struct vmx *v, struct vd_source *src)
{
  slot_list slots = { 0 };
  int ret = -1;

  for (size_t i = 0; i < v->kv.len; i++) {
    struct slot s;
    const char *rest;
    if (parse_slot (v->kv.ptr[i].key, &s, &rest) == 0
        && strcasecmp (rest, ".present") == 0 && is_true (v->kv.ptr[i].value)) {
      bool dup = false;
      for (size_t j = 0; j < slots.len; j++)
        dup |= slots.ptr[j].kind == s.kind && slots.ptr[j].ctl == s.ctl
          && slots.ptr[j].unit == s.unit;
      if (!dup && slot_list_append (&slots, s) == -1)
        goto out;
    }
  }
  /* qsort with a NULL base is undefined even for no element (a VMX
   * without disks). */
  if (slots.len > 1)
    qsort_r (slots.ptr, slots.len, sizeof slots.ptr[0], compare_slots,
             (void *) get (v, "bios.hddOrder"));

  for (size_t i = 0; i < slots.len; i++) {
    const struct slot *s = &slots.ptr[i];
    const char *k = kinds[s->kind];
    char label[64];
    snprintf (label, sizeof label, "%s%d:%d", k, s->ctl, s->unit);
    const char *type = getf (v, "%s.deviceType", label);
    const char *file = getf (v, "%s.fileName", label);

    bool cdrom = (type && strcasestr (type, "cdrom"))
      || (type == NULL && file && ends_with (file, ".iso"));
    bool disk = !cdrom
      && ((type && (strcasestr (type, "hardDisk") || strcasecmp (type, "disk") == 0
                    || strcasestr (type, "rawDisk") || strcasestr (type, "plainDisk")))
          || (type == NULL && file && ends_with (file, ".vmdk")));
    if (cdrom) {
      if (vd_source_add_removable (src, "cdrom", label) == -1)
        goto out;
      continue;
    }
    if (!disk) {
      h2k_warn ("%s: %s: device type \"%s\" is not a disk: left out",
                v->name, label, type ? type : "(none)");
      continue;
    }
    if (file == NULL) {
      h2k_seterr ("%s: %s: disk without a fileName", v->name, label);
      goto out;
    }
    struct vd_disk *d = vd_source_add_disk (src);
    const char *ctl = s->kind == 0
      ? scsi_controller (getf (v, "scsi%d.virtualDev", s->ctl)) : k;
    if (d == NULL || vd_set (&d->label, label) == -1
        || vd_set (&d->file, file) == -1 || vd_set (&d->controller, ctl) == -1)
      goto out;
    d->bus = s->ctl;
    d->unit = s->unit;
  }
  ret = 0;
 out:
  slot_list_reset (&slots);
  return ret;
}

static int
compare_ints (const void *a, const void *b)
{
  return *(const int *) a - *(const int *) b;
}

static int
read_nics (const struct vmx *v, struct vd_source *src)
{
  int idx[64];
  size_t n = 0;

  for (size_t i = 0; i < v->kv.len && n < 64; i++) {
    const char *key = v->kv.ptr[i].key;
    char *end;
    if (strncasecmp (key, "ethernet", 8) != 0 || !isdigit ((unsigned char) key[8]))
      continue;
    long e = strtol (key + 8, &end, 10);
    if (strcasecmp (end, ".present") != 0 || e > 1000
        || !is_true (v->kv.ptr[i].value))
      continue;
    bool dup = false;
    for (size_t j = 0; j < n; j++)
      dup |= idx[j] == e;
    if (!dup)
      idx[n++] = (int) e;
  }
  if (n > 1)
    qsort (idx, n, sizeof idx[0], compare_ints);

  for (size_t i = 0; i < n; i++) {
    int e = idx[i];
    char label[32];
    snprintf (label, sizeof label, "ethernet%d", e);
    const char *atype = getf (v, "%s.addressType", label);
    const char *stat = getf (v, "%s.address", label);
    const char *gen = getf (v, "%s.generatedAddress", label);
    const char *mac = (atype && strcasecmp (atype, "static") == 0)
      ? (stat ? stat : gen) : (gen ? gen : stat);
    const char *net = getf (v, "%s.networkName", label);
    /* Workstation has no network names, only the connection type. */
    if (net == NULL)
      net = getf (v, "%s.connectionType", label);

    struct vd_nic *nic = vd_source_add_nic (src);
    if (nic == NULL || vd_set (&nic->label, label) == -1
        || vd_set (&nic->mac, mac) == -1
        || vd_set (&nic->type, getf (v, "%s.virtualDev", label)) == -1
        || vd_set (&nic->network, net) == -1)
      return -1;
    const char *slot = getf (v, "%s.pciSlotNumber", label);
    char *end;
    long sn = slot ? strtol (slot, &end, 10) : -1;
    if (slot && *end == '\0' && sn >= 0 && sn <= 65535)
      nic->pci_slot = sn;
  }

  for (int f = 0; f < 4; f++) {
    char label[24];
    snprintf (label, sizeof label, "floppy%d", f);
    if (is_true (getf (v, "%s.present", label))
        && vd_source_add_removable (src, "floppy", label) == -1)
      return -1;
  }
  return 0;
}

/* bios.bootOrder ("ethernet5,ethernet2,hdd,cdrom,floppy", VMware KB
 * 2011654): "hdd" is every disk, in bios.hddOrder's order (the order
 * read_disks gave them), "ethernetN" one NIC, "cdrom" and "floppy" every
 * drive of that kind.  Without the key the source gives no order. */
static int
read_boot_order (const struct vmx *v, struct vd_source *src)
{
  const char *order = get (v, "bios.bootOrder");
  if (order == NULL)
    return 0;
  CLEANUP_FREE char *copy = strdup (order);
  if (copy == NULL)
    return h2k_seterr ("out of memory");
  char *save = NULL;
  for (char *w = strtok_r (copy, ", ", &save); w; w = strtok_r (NULL, ", ", &save)) {
    int r = 0;
    if (strcasecmp (w, "hdd") == 0) {
      for (size_t i = 0; i < src->disks.len && r == 0; i++) {
        bool dup = false;
        for (size_t k = 0; k < src->boot.len; k++)
          dup |= src->boot.ptr[k].type == VD_BOOT_DISK && src->boot.ptr[k].index == i;
        if (!dup)
          r = vd_source_add_boot (src, VD_BOOT_DISK, i);
      }
    } else if (strcasecmp (w, "cdrom") == 0)
      r = vd_source_add_boot (src, VD_BOOT_CDROM, 0);
    else if (strcasecmp (w, "floppy") == 0)
      r = vd_source_add_boot (src, VD_BOOT_FLOPPY, 0);
    else if (strncasecmp (w, "ethernet", 8) == 0) {
      size_t i;
      for (i = 0; i < src->nics.len; i++)
        if (strcasecmp (src->nics.ptr[i].label, w) == 0)
          break;
      if (i < src->nics.len)
        r = vd_source_add_boot (src, VD_BOOT_NIC, i);
      else
        h2k_warn ("%s: bios.bootOrder: %s is not a NIC of this VM: left out",
                  v->name, w);
    } else
      h2k_warn ("%s: bios.bootOrder: \"%s\" not understood (hdd, cdrom, "
                "floppy or ethernetN): left out", v->name, w);
    if (r == -1)
      return h2k_seterr ("out of memory");
  }
  return 0;
}

static int
get_number (const struct vmx *v, const char *key, int64_t *out)
{
  const char *s = get (v, key);
  if (s == NULL)
    return 0;
  char *end;
  errno = 0;
  long long n = strtoll (s, &end, 10);
  if (errno || end == s || *end != '\0' || n <= 0)
    return h2k_seterr ("%s: %s = \"%s\": not a positive number", v->name, key, s);
  *out = n;
  return 0;
}

struct vd_source *
vd_read_vmx (const char *buf, size_t len, const char *name)
{
  struct vmx v = { .name = name };
  struct vd_source *src = NULL;

  if (memchr (buf, '\0', len)) {
    h2k_seterr ("%s: not a VMX file (it holds NUL bytes)", name);
    return NULL;
  }
  CLEANUP_FREE char *copy = strndup (buf, len);
  if (copy == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  unsigned long lineno = 0;
  for (char *line = copy, *next; line; line = next) {
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    lineno++;
    if (parse_line (&v, line, lineno) == -1)
      goto err;
  }
  if (v.kv.len == 0) {
    h2k_seterr ("%s: empty VMX file", name);
    goto err;
  }
  if (convert_encoding (&v) == -1)
    goto err;

  if ((src = vd_source_new ("vmx")) == NULL)
    goto err;
  const char *dn = get (&v, "displayName");
  if (dn == NULL) {
    /* No display name: the file's name without .vmx, as VMware shows it. */
    const char *base = strrchr (name, '/');
    base = base ? base + 1 : name;
    CLEANUP_FREE char *stem = strdup (base);
    if (stem && ends_with (stem, ".vmx"))
      stem[strlen (stem) - 4] = '\0';
    if (vd_set (&src->name, stem) == -1)
      goto err;
  } else if (vd_set (&src->name, dn) == -1)
    goto err;

  const char *uuid = get (&v, "uuid.bios");
  if (uuid && (src->uuid = vd_normalize_uuid (uuid)) == NULL)
    h2k_warn ("%s: uuid.bios = \"%s\": not a UUID: left out", name, uuid);
  const char *ann = get (&v, "annotation");
  if (ann && *ann && vd_set (&src->annotation, ann) == -1)
    goto err;
  if (vd_set (&src->guest_id, get (&v, "guestOS")) == -1)
    goto err;
  const char *hw = get (&v, "virtualHW.version");
  if (hw) {
    char *end;
    long n = strtol (hw, &end, 10);
    if (*end == '\0' && n > 0 && n < 1000
        && asprintf (&src->hw_version, "vmx-%02ld", n) == -1)
      goto err;
  }

  /* VMware's default firmware for a VMX without the key is BIOS. */
  const char *fw = get (&v, "firmware");
  if (fw == NULL || strcasecmp (fw, "bios") == 0)
    src->firmware = VD_FW_BIOS;
  else if (strcasecmp (fw, "efi") == 0)
    src->firmware = VD_FW_EFI;
  else {
    h2k_seterr ("%s: firmware = \"%s\" not understood", name, fw);
    goto err;
  }
  const char *sb = get (&v, "uefi.secureBoot.enabled");
  if (is_true (sb))
    src->secure_boot = VD_YES;
  else if (is_false (sb))
    src->secure_boot = VD_NO;

  if (get_number (&v, "numvcpus", &src->cpus) == -1
      || get_number (&v, "cpuid.coresPerSocket", &src->cores_per_socket) == -1
      || get_number (&v, "memsize", &src->memory_mib) == -1
      || read_disks (&v, src) == -1 || read_nics (&v, src) == -1
      || read_boot_order (&v, src) == -1)
    goto err;

  vmx_free (&v);
  return src;

 err:
  vmx_free (&v);
  vd_source_free (src);
  return NULL;
}
