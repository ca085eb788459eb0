/* The domain writer: libvirt domain XML from the source model and the
 * mapping options, written with xmlTextWriter into memory.  The document
 * is only handed back when it is complete, so main.c never writes half
 * of one.
 *
 * The choices (why these devices):
 *  - q35 and virtio everywhere: guest-fix puts the virtio drivers in the
 *    guest; the disks stay in the source's order, and boot in the
 *    source's boot order (a NIC in it boots from the network), or, when
 *    it gives none, the first disk first.
 *  - cache='none' io='native' and discard/detect_zeroes='unmap': no host
 *    page cache doubling the guest's, and a qcow2 that stays sparse when
 *    the guest trims or writes zeros.  A file system without O_DIRECT
 *    (tmpfs) gets cache='writeback' instead, or the domain would not
 *    start.
 *  - the NICs keep their MAC addresses: guest-fix renames interfaces by
 *    MAC, and DHCP reservations follow it.
 *  - a serial console, the guest agent channel, a virtio RNG and the
 *    balloon, which every converted guest can use once fixed.
 *  - Windows guests keep their clock in local time, as on VMware, and get
 *    the Hyper-V enlightenments that make them run well on KVM.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlwriter.h>

#include "util/h2k.h"
#include "virt-define.h"
#include "xml-writer.h"

#define H2K_NS "urn:x-h2k:virt-define:1"

/* Defaults for what neither the source nor the options say. */
#define DEFAULT_MEMORY_MIB 1024
#define DEFAULT_VCPUS 1

struct plan {
  const char *name;
  char *name_buf;               /* the name when it had to be changed */
  const char *uuid;
  char *title;                  /* first line of the annotation */
  char *description;
  int64_t memory_mib;
  int64_t vcpus, sockets, cores;
  bool efi, secure_boot;
  struct vd_ovmf ovmf;
  bool windows;
  const char *bus;              /* virtio, scsi, sata */
  char **macs;                  /* normalised, or NULL: libvirt picks */
  size_t *disk_boot, *nic_boot; /* <boot order>, 0 for none */
};

static void
plan_free (struct plan *p, size_t nnics)
{
  free (p->name_buf);
  free (p->title);
  free (p->description);
  if (p->macs)
    for (size_t i = 0; i < nnics; i++)
      free (p->macs[i]);
  free (p->macs);
  free (p->disk_boot);
  free (p->nic_boot);
}

static bool
is_windows (const struct vd_source *src)
{
  const char *g = src->guest_id, *d = src->os_description;
  return (g && (strncasecmp (g, "win", 3) == 0 || strcasestr (g, "windows")))
    || (d && strcasestr (d, "windows"));
}

/* sda, sdb, ..., sdz, sdaa: the names libvirt and Linux use. */
static void
disk_name (const char *prefix, size_t index, char *buf, size_t len)
{
  char letters[8];
  size_t n = 0;
  index++;
  while (index > 0 && n < sizeof letters) {
    index--;
    letters[n++] = (char) ('a' + index % 26);
    index /= 26;
  }
  size_t pl = strlen (prefix);
  if (pl + n + 1 > len)
    n = len - pl - 1;
  memcpy (buf, prefix, pl);
  for (size_t i = 0; i < n; i++)
    buf[pl + i] = letters[n - 1 - i];
  buf[pl + n] = '\0';
}

/* Find SRC in a list of "SRC=DST" / "DST" options.  Returns the DST of an
 * exact match, or NULL; *dflt gets the last bare "DST". */
static const char *
lookup_map (char **list, size_t n, const char *src, const char **dflt)
{
  const char *found = NULL;
  for (size_t i = 0; i < n; i++) {
    const char *eq = strrchr (list[i], '=');
    if (eq == NULL) {
      *dflt = list[i];
      continue;
    }
    if (src && (size_t) (eq - list[i]) == strlen (src)
        && strncmp (list[i], src, (size_t) (eq - list[i])) == 0)
      found = eq + 1;
  }
  return found;
}

/* The <boot order> of each disk and NIC.  With the source's boot order,
 * the devices it names come first, in its order (a NIC there is a network
 * boot), and the other disks after them in the source's order; CD-ROMs
 * and floppies are not carried over, so their places are dropped, said.
 * Without one, the disks boot in the source's order. */
static int
plan_boot (const struct vd_source *src, struct plan *p)
{
  p->disk_boot = calloc (src->disks.len + 1, sizeof *p->disk_boot);
  p->nic_boot = calloc (src->nics.len + 1, sizeof *p->nic_boot);
  if (p->disk_boot == NULL || p->nic_boot == NULL)
    return h2k_seterr ("out of memory");
  size_t next = 1;
  for (size_t i = 0; i < src->boot.len; i++) {
    const struct vd_boot *b = &src->boot.ptr[i];
    switch (b->type) {
    case VD_BOOT_DISK:
      if (p->disk_boot[b->index] == 0)
        p->disk_boot[b->index] = next++;
      break;
    case VD_BOOT_NIC:
      if (p->nic_boot[b->index] == 0)
        p->nic_boot[b->index] = next++;
      break;
    default:
      h2k_warn ("%s: boot order: entry %zu, the %s, left out: CD-ROMs and "
                "floppies are not carried over", p->name, i + 1,
                b->type == VD_BOOT_CDROM ? "CD-ROM" : "floppy");
    }
  }
  for (size_t i = 0; i < src->disks.len; i++)
    if (p->disk_boot[i] == 0)
      p->disk_boot[i] = next++;
  return 0;
}

/* Check and settle everything that can fail, before writing starts. */
static int
make_plan (const struct vd_source *src, const struct vd_map *map,
           struct plan *p)
{
  p->name = map->name ? map->name : src->name;
  if (p->name == NULL || *p->name == '\0')
    return h2k_seterr ("the source gives no name: use --name");
  if (!vd_xml_text_ok (p->name, false))
    return h2k_seterr ("name \"%s\": not valid UTF-8, or holds control "
                       "characters or line breaks", p->name);
  /* libvirt refuses a '/' in a name (it becomes part of file names);
   * vSphere itself escapes it as "%2f" in names, so do the same. */
  if (strchr (p->name, '/')) {
    size_t n = 0;
    for (const char *c = p->name; *c; c++)
      n += *c == '/' ? 3 : 1;
    char *e = malloc (n + 1), *q = e;
    if (e == NULL)
      return h2k_seterr ("out of memory");
    for (const char *c = p->name; *c; c++)
      if (*c == '/') {
        memcpy (q, "%2f", 3);
        q += 3;
      } else
        *q++ = *c;
    *q = '\0';
    if (vd_soft_error (map, "name \"%s\": libvirt does not allow '/' in a "
                       "domain name: using \"%s\" (--name to choose)",
                       p->name, e) == -1) {
      free (e);
      return -1;
    }
    p->name = p->name_buf = e;
  }
  p->uuid = src->uuid;

  if (src->annotation && *src->annotation) {
    p->description = vd_xml_text_clean (src->annotation);
    if (p->description == NULL)
      return -1;
    if (strcmp (p->description, src->annotation) != 0)
      h2k_warn ("%s: annotation: characters XML cannot hold were replaced by '?'",
                p->name);
    /* libvirt's title is one line: the annotation's first one. */
    size_t first = strcspn (p->description, "\r\n");
    if (first > 0 && (p->title = strndup (p->description, first)) == NULL)
      return h2k_seterr ("out of memory");
  }

  p->memory_mib = map->memory_mib > 0 ? map->memory_mib : src->memory_mib;
  if (p->memory_mib <= 0) {
    if (vd_soft_error (map, "%s: the source gives no memory size: using %d MiB "
                       "(--memory to choose)", p->name, DEFAULT_MEMORY_MIB) == -1)
      return -1;
    p->memory_mib = DEFAULT_MEMORY_MIB;
  }
  p->vcpus = map->vcpus > 0 ? map->vcpus : src->cpus;
  if (p->vcpus <= 0) {
    if (vd_soft_error (map, "%s: the source gives no number of CPUs: using %d "
                       "(--vcpus to choose)", p->name, DEFAULT_VCPUS) == -1)
      return -1;
    p->vcpus = DEFAULT_VCPUS;
  }
  if (p->vcpus > 4096)
    return h2k_seterr ("%s: %lld vCPUs is more than libvirt allows", p->name,
                       (long long) p->vcpus);
  p->cores = src->cores_per_socket > 0 ? src->cores_per_socket : 1;
  if (p->vcpus % p->cores != 0) {
    h2k_warn ("%s: %lld vCPUs cannot be split in sockets of %lld cores: "
              "using one core per socket", p->name, (long long) p->vcpus,
              (long long) p->cores);
    p->cores = 1;
  }
  p->sockets = p->vcpus / p->cores;

  enum vd_firmware fw = map->firmware != VD_FW_UNKNOWN ? map->firmware
    : src->firmware;
  p->efi = fw == VD_FW_EFI;
  p->secure_boot = p->efi && src->secure_boot == VD_YES;
  if (p->secure_boot && (strcmp (map->machine, "pc") == 0
                         || strncmp (map->machine, "pc-i440fx", 9) == 0))
    return h2k_seterr ("%s: the source boots with UEFI secure boot, which "
                       "needs the q35 machine, not %s", p->name, map->machine);
  if (p->efi) {
    vd_find_ovmf (p->secure_boot, &p->ovmf);
    if (!p->ovmf.found
        && vd_soft_error (map, "%s: UEFI firmware %s not found: install "
                          "Debian's ovmf package", p->name, p->ovmf.code) == -1)
      return -1;
  }
  p->windows = is_windows (src);
  p->bus = map->bus;

  if (src->disks.len == 0)
    h2k_warn ("%s: the domain has no disks", p->name);

  p->macs = calloc (src->nics.len + 1, sizeof *p->macs);
  if (p->macs == NULL)
    return h2k_seterr ("out of memory");
  for (size_t i = 0; i < src->nics.len; i++) {
    const struct vd_nic *n = &src->nics.ptr[i];
    if (n->mac == NULL) {
      if (vd_soft_error (map, "%s: NIC %zu has no MAC address in the source: "
                         "libvirt will make one up", p->name, i + 1) == -1)
        return -1;
      continue;
    }
    char *mac = vd_normalize_mac (n->mac);
    unsigned first = 0;
    if (mac)
      sscanf (mac, "%2x", &first);
    if (mac == NULL || (first & 1) || strcmp (mac, "00:00:00:00:00:00") == 0) {
      free (mac);
      if (vd_soft_error (map, "%s: NIC %zu: \"%s\" is not a usable MAC address: "
                         "libvirt will make one up", p->name, i + 1, n->mac) == -1)
        return -1;
      continue;
    }
    p->macs[i] = mac;
  }
  return plan_boot (src, p);
}

static void
write_os (xmlTextWriterPtr xo, const struct plan *p, const struct vd_map *map)
{
  start_element ("os") {
    start_element ("type") {
      attribute ("arch", "x86_64");
      attribute ("machine", map->machine);
      string ("hvm");
    }
    if (p->efi) {
      start_element ("loader") {
        attribute ("readonly", "yes");
        attribute ("secure", p->secure_boot ? "yes" : "no");
        attribute ("type", "pflash");
        string (p->ovmf.code);
      }
      /* libvirt copies the template to the domain's own variable store
       * when it first starts the domain. */
      empty_element ("nvram") { attribute ("template", p->ovmf.vars); }
    }
  }
}

static void
write_cpu (xmlTextWriterPtr xo, const struct plan *p, const struct vd_map *map)
{
  const char *mode = map->cpu;
  bool builtin = strcmp (mode, "host-model") == 0
    || strcmp (mode, "host-passthrough") == 0 || strcmp (mode, "maximum") == 0;
  start_element ("cpu") {
    if (builtin)
      attribute ("mode", mode);
    else {
      attribute ("mode", "custom");
      attribute ("match", "exact");
      start_element ("model") {
        attribute ("fallback", "allow");
        string (mode);
      }
    }
    empty_element ("topology") {
      attribute_format ("sockets", "%lld", (long long) p->sockets);
      attribute ("dies", "1");
      attribute_format ("cores", "%lld", (long long) p->cores);
      attribute ("threads", "1");
    }
  }
}

static void
write_features (xmlTextWriterPtr xo, const struct plan *p)
{
  start_element ("features") {
    empty_element ("acpi") {}
    empty_element ("apic") {}
    if (p->windows) {
      start_element ("hyperv") {
        attribute ("mode", "custom");
        empty_element ("relaxed") { attribute ("state", "on"); }
        empty_element ("vapic") { attribute ("state", "on"); }
        empty_element ("spinlocks") {
          attribute ("state", "on");
          attribute ("retries", "8191");
        }
      }
    }
    /* Secure boot needs SMM so the guest cannot write the variables. */
    if (p->secure_boot) {
      empty_element ("smm") { attribute ("state", "on"); }
    }
  }
}

static void
write_clock (xmlTextWriterPtr xo, const struct plan *p)
{
  start_element ("clock") {
    attribute ("offset", p->windows ? "localtime" : "utc");
    empty_element ("timer") {
      attribute ("name", "rtc");
      attribute ("tickpolicy", "catchup");
    }
    empty_element ("timer") {
      attribute ("name", "pit");
      attribute ("tickpolicy", "delay");
    }
    empty_element ("timer") {
      attribute ("name", "hpet");
      attribute ("present", "no");
    }
    if (p->windows) {
      empty_element ("timer") {
        attribute ("name", "hypervclock");
        attribute ("present", "yes");
      }
    }
  }
}

static void
write_disks (xmlTextWriterPtr xo, const struct vd_source *src,
             const struct plan *p)
{
  bool virtio = strcmp (p->bus, "virtio") == 0;
  for (size_t i = 0; i < src->disks.len; i++) {
    const struct vd_disk *d = &src->disks.ptr[i];
    char dev[16];
    disk_name (virtio ? "vd" : "sd", i, dev, sizeof dev);
    start_element ("disk") {
      attribute ("type", d->block ? "block" : "file");
      attribute ("device", "disk");
      empty_element ("driver") {
        attribute ("name", "qemu");
        attribute ("type", d->format);
        if (d->direct_io) {
          attribute ("cache", "none");
          attribute ("io", "native");
        } else {
          attribute ("cache", "writeback");
        }
        attribute ("discard", "unmap");
        if (strcmp (d->format, "qcow2") == 0)
          attribute ("detect_zeroes", "unmap");
      }
      empty_element ("source") {
        attribute (d->block ? "dev" : "file", d->path);
      }
      empty_element ("target") {
        attribute ("dev", dev);
        attribute ("bus", p->bus);
      }
      empty_element ("boot") { attribute_format ("order", "%zu", p->disk_boot[i]); }
    }
  }
  if (strcmp (p->bus, "scsi") == 0) {
    empty_element ("controller") {
      attribute ("type", "scsi");
      attribute ("index", "0");
      attribute ("model", "virtio-scsi");
    }
  }
}

static void
write_nics (xmlTextWriterPtr xo, const struct vd_source *src,
            const struct plan *p, const struct vd_map *map)
{
  for (size_t i = 0; i < src->nics.len; i++) {
    const struct vd_nic *n = &src->nics.ptr[i];
    const char *dnet = NULL, *dbr = NULL;
    const char *net = lookup_map (map->networks, map->nnetworks, n->network, &dnet);
    const char *br = net ? NULL
      : lookup_map (map->bridges, map->nbridges, n->network, &dbr);
    if (net == NULL && br == NULL) {
      if (dbr)
        br = dbr;
      else
        net = dnet ? dnet : "default";
    }
    start_element ("interface") {
      attribute ("type", br ? "bridge" : "network");
      if (p->macs[i]) {
        empty_element ("mac") { attribute ("address", p->macs[i]); }
      }
      empty_element ("source") {
        attribute (br ? "bridge" : "network", br ? br : net);
      }
      empty_element ("model") { attribute ("type", "virtio"); }
      if (p->nic_boot[i]) {
        empty_element ("boot") { attribute_format ("order", "%zu", p->nic_boot[i]); }
      }
    }
  }
}

static void
write_devices (xmlTextWriterPtr xo, const struct vd_source *src,
               const struct plan *p, const struct vd_map *map)
{
  start_element ("devices") {
    write_disks (xo, src, p);
    write_nics (xo, src, p, map);

    start_element ("serial") {
      attribute ("type", "pty");
      empty_element ("target") { attribute ("port", "0"); }
    }
    start_element ("console") {
      attribute ("type", "pty");
      empty_element ("target") {
        attribute ("type", "serial");
        attribute ("port", "0");
      }
    }
    start_element ("channel") {
      attribute ("type", "unix");
      empty_element ("target") {
        attribute ("type", "virtio");
        attribute ("name", "org.qemu.guest_agent.0");
      }
    }

    const char *video = "none";
    if (strcmp (map->graphics, "none") != 0) {
      /* A tablet keeps the pointer where the viewer shows it. */
      empty_element ("input") {
        attribute ("type", "tablet");
        attribute ("bus", "usb");
      }
      empty_element ("graphics") {
        attribute ("type", map->graphics);
        attribute ("autoport", "yes");
      }
      if (strcmp (map->graphics, "spice") == 0) {
        start_element ("channel") {
          attribute ("type", "spicevmc");
          empty_element ("target") {
            attribute ("type", "virtio");
            attribute ("name", "com.redhat.spice.0");
          }
        }
        video = "qxl";
      } else
        video = "vga";
    }
    start_element ("video") {
      empty_element ("model") { attribute ("type", video); }
    }
    empty_element ("memballoon") { attribute ("model", "virtio"); }
    start_element ("rng") {
      attribute ("model", "virtio");
      start_element ("backend") {
        attribute ("model", "random");
        string ("/dev/urandom");
      }
    }
  }
}

char *
vd_write_domain (const struct vd_source *src, const struct vd_map *map)
{
  struct plan p = { 0 };
  if (make_plan (src, map, &p) == -1) {
    plan_free (&p, src->nics.len);
    return NULL;
  }

  xmlBufferPtr buf = xmlBufferCreate ();
  if (buf == NULL)
    xml_fail ("xmlBufferCreate");
  xmlTextWriterPtr xo = xmlNewTextWriterMemory (buf, 0);
  if (xo == NULL)
    xml_fail ("xmlNewTextWriterMemory");
  if (xmlTextWriterSetIndent (xo, 1) == -1
      || xmlTextWriterSetIndentString (xo, BAD_CAST "  ") == -1)
    xml_fail ("xmlTextWriterSetIndent");
  if (xmlTextWriterStartDocument (xo, NULL, "UTF-8", NULL) == -1)
    xml_fail ("xmlTextWriterStartDocument");

  start_element ("domain") {
    attribute ("type", map->virt_type);
    single_element ("name", p.name);
    if (p.uuid)
      single_element ("uuid", p.uuid);
    if (p.title)
      single_element ("title", p.title);
    if (p.description)
      single_element ("description", p.description);
    start_element ("metadata") {
      /* Where this domain came from, for whoever looks at it later. */
      if (xmlTextWriterStartElementNS (xo, BAD_CAST "h2k", BAD_CAST "source",
                                       BAD_CAST H2K_NS) == -1)
        xml_fail ("xmlTextWriterStartElementNS");
      attribute ("origin", src->origin);
      if (src->guest_id && vd_xml_text_ok (src->guest_id, false))
        attribute ("guest_id", src->guest_id);
      if (src->hw_version && vd_xml_text_ok (src->hw_version, false))
        attribute ("hw_version", src->hw_version);
      end_element ();
    }
    start_element ("memory") {
      attribute ("unit", "MiB");
      string_format ("%lld", (long long) p.memory_mib);
    }
    start_element ("currentMemory") {
      attribute ("unit", "MiB");
      string_format ("%lld", (long long) p.memory_mib);
    }
    single_element_format ("vcpu", "%lld", (long long) p.vcpus);
    write_os (xo, &p, map);
    write_features (xo, &p);
    write_cpu (xo, &p, map);
    write_clock (xo, &p);
    single_element ("on_poweroff", "destroy");
    single_element ("on_reboot", "restart");
    single_element ("on_crash", "destroy");
    start_element ("pm") {
      empty_element ("suspend-to-mem") { attribute ("enabled", "no"); }
      empty_element ("suspend-to-disk") { attribute ("enabled", "no"); }
    }
    write_devices (xo, src, &p, map);
  }
  if (xmlTextWriterEndDocument (xo) == -1)
    xml_fail ("xmlTextWriterEndDocument");
  xmlFreeTextWriter (xo);

  char *doc = strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  plan_free (&p, src->nics.len);
  if (doc == NULL)
    h2k_seterr ("out of memory");
  return doc;
}
