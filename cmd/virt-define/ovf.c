/* The machine an OVF describes, read through lib/ovf (which parses the
 * descriptor strictly and matches elements by namespace and local name).
 *
 * VirtualBox puts the contents of vbox:Machine in the default (OVF)
 * namespace.  OVF 1.x and 2.x differ in the envelope namespace, and 2.x
 * adds StorageItem (sasd) and EthernetPortItem (epasd) beside Item
 * (rasd); all three are read the same way.
 *
 * What is read (formats.md section 8.4): the name, annotation, guest OS,
 * the CPU and memory items, the disks with their controllers and files,
 * the NICs, the CD-ROMs and floppies (reported, not carried over), and the
 * firmware from VMware's vmw:Config or VirtualBox's vbox:Machine.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ovf/ovf.h"
#include "util/h2k.h"
#include "virt-define.h"

#define NS_CIM "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
#define NS_VMW "http://www.vmware.com/schema/ovf"
#define NS_VBOX "http://www.virtualbox.org/ovf/machine"

/* CIM ResourceType values (formats.md section 8.4). */
enum {
  RT_OTHER = 1, RT_CPU = 3, RT_MEMORY = 4, RT_IDE = 5, RT_SCSI = 6,
  RT_NIC = 10, RT_FLOPPY = 14, RT_CDDRIVE = 15, RT_DVDDRIVE = 16,
  RT_DISK = 17, RT_OTHER_STORAGE = 20, RT_LOGICAL_DISK = 31,
};

struct ovf {
  struct h2k_ovf x;             /* the descriptor */
  const char *name;             /* for messages */
  xmlNode *envelope;
  xmlNode *hw;                  /* the VirtualHardwareSection */
  const char *config;           /* the default deployment option, or NULL */
};

static void cleanup_xmlfree (void *p)
{
  xmlFree (*(void **) p);
}
#define CLEANUP_XMLFREE __attribute__ ((cleanup (cleanup_xmlfree)))

static bool
ns_is (const xmlNode *n, const char *href)
{
  return n->ns && n->ns->href && strcmp ((const char *) n->ns->href, href) == 0;
}

/* The CIM setting-data namespaces: rasd, vssd, sasd, epasd.  VirtualBox
 * writes the last two with a ".xsd" suffix, so that is accepted too. */
static bool
ns_is_cim (const xmlNode *n, const char *class)
{
  if (n->ns == NULL || n->ns->href == NULL)
    return false;
  const char *h = (const char *) n->ns->href;
  size_t pl = strlen (NS_CIM), cl = strlen (class);
  if (strncmp (h, NS_CIM, pl) != 0 || strncmp (h + pl, class, cl) != 0)
    return false;
  return h[pl + cl] == '\0' || strcmp (h + pl + cl, ".xsd") == 0;
}

static bool
is_elem (const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && strcmp ((const char *) n->name, name) == 0;
}

/* The text of an element with surrounding white space removed; the
 * caller frees it with free(). */
static char *
text_of (const xmlNode *n)
{
  xmlChar *c = xmlNodeGetContent (n);
  if (c == NULL)
    return strdup ("");
  const char *s = (const char *) c;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  size_t len = strlen (s);
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'
                     || s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  char *r = strndup (s, len);
  xmlFree (c);
  return r;
}

/* A field of an Item: the child element FIELD in one of the setting-data
 * namespaces.  Returns its trimmed text or NULL. */
static char *
item_field (const xmlNode *item, const char *field)
{
  for (xmlNode *c = item->children; c; c = c->next)
    if (is_elem (c, field)
        && (ns_is_cim (c, "CIM_ResourceAllocationSettingData")
            || ns_is_cim (c, "CIM_StorageAllocationSettingData")
            || ns_is_cim (c, "CIM_EthernetPortAllocationSettingData")))
      return text_of (c);
  return NULL;
}

/* Parse a whole non-negative decimal number. */
static int
parse_uint (const char *s, int64_t *out)
{
  char *end;
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0)
    return -1;
  *out = v;
  return 0;
}

/* Is this Item part of the configuration being read?  Items can be
 * limited to some deployment options (ovf:configuration) and can give
 * the minimum or maximum of a range (ovf:bound); only the default
 * option's normal values describe the machine. */
static bool
item_selected (const struct ovf *o, const xmlNode *item)
{
  CLEANUP_XMLFREE char *bound = h2k_ovf_attr (&o->x, item, "bound");
  if (bound && strcmp (bound, "normal") != 0)
    return false;
  CLEANUP_XMLFREE char *configs = h2k_ovf_attr (&o->x, item, "configuration");
  if (configs == NULL)
    return true;
  if (o->config == NULL)
    return false;
  size_t cl = strlen (o->config);
  for (const char *p = configs; *p; ) {
    while (*p == ' ')
      p++;
    size_t n = strcspn (p, " ");
    if (n == cl && strncmp (p, o->config, n) == 0)
      return true;
    p += n;
  }
  return false;
}

/* The default deployment option of DeploymentOptionSection, if any. */
static char *
default_configuration (const struct ovf *o)
{
  xmlNode *sec = h2k_ovf_child (&o->x, o->envelope, "DeploymentOptionSection");
  if (sec == NULL)
    return NULL;
  char *first = NULL;
  for (xmlNode *c = sec->children; c; c = c->next) {
    if (!h2k_ovf_is (&o->x, c, "Configuration"))
      continue;
    CLEANUP_XMLFREE char *def = h2k_ovf_attr (&o->x, c, "default");
    char *id = h2k_ovf_attr (&o->x, c, "id");
    if (id == NULL)
      continue;
    if (def && strcmp (def, "true") == 0) {
      xmlFree (first);
      return id;
    }
    if (first == NULL)
      first = id;
    else
      xmlFree (id);
  }
  return first;
}

static int
item_resource_type (const xmlNode *item, const char *name, int64_t *rt)
{
  CLEANUP_FREE char *s = item_field (item, "ResourceType");
  if (s == NULL)
    return h2k_seterr ("%s: an Item has no ResourceType", name);
  if (parse_uint (s, rt) == -1)
    return h2k_seterr ("%s: ResourceType \"%s\" is not a number", name, s);
  return 0;
}

/* A label for messages and for the record: ElementName, else Caption
 * (VirtualBox), else the InstanceID. */
static char *
item_label (const xmlNode *item)
{
  char *s = item_field (item, "ElementName");
  if (s == NULL || *s == '\0') {
    free (s);
    s = item_field (item, "Caption");
  }
  if (s == NULL || *s == '\0') {
    free (s);
    CLEANUP_FREE char *id = item_field (item, "InstanceID");
    if (id == NULL || asprintf (&s, "item %s", id) == -1)
      s = strdup ("item");
  }
  return s;
}

static bool
is_item (const struct ovf *o, const xmlNode *n)
{
  return h2k_ovf_is (&o->x, n, "Item") || h2k_ovf_is (&o->x, n, "StorageItem")
    || h2k_ovf_is (&o->x, n, "EthernetPortItem");
}

static xmlNode *
find_item_by_id (const struct ovf *o, const char *id)
{
  for (xmlNode *c = o->hw->children; c; c = c->next) {
    if (!is_item (o, c) || !item_selected (o, c))
      continue;
    CLEANUP_FREE char *iid = item_field (c, "InstanceID");
    if (iid && strcmp (iid, id) == 0)
      return c;
  }
  return NULL;
}

/* Quantity × AllocationUnits in bytes. */
static int
item_bytes (const struct ovf *o, const xmlNode *item, const char *what,
            const char *default_units, uint64_t *bytes)
{
  CLEANUP_FREE char *q = item_field (item, "VirtualQuantity");
  CLEANUP_FREE char *u = item_field (item, "AllocationUnits");
  int64_t n;
  uint64_t mult;

  if (q == NULL)
    return h2k_seterr ("%s: %s item has no VirtualQuantity", o->name, what);
  if (parse_uint (q, &n) == -1)
    return h2k_seterr ("%s: %s: VirtualQuantity \"%s\" is not a number",
                       o->name, what, q);
  if (u == NULL) {
    /* virt-v2v assumes MiB here too; say so rather than guess silently. */
    h2k_warn ("%s: %s item has no AllocationUnits: assuming \"%s\"",
              o->name, what, default_units);
    if (vd_parse_units (default_units, &mult) == -1)
      return -1;
  } else if (vd_parse_units (u, &mult) == -1)
    return h2k_seterr_prefix ("%s: %s", o->name, what);
  if ((uint64_t) n > UINT64_MAX / mult)
    return h2k_seterr ("%s: %s: %s × %s is too large", o->name, what, q, u);
  *bytes = (uint64_t) n * mult;
  return 0;
}

/* The controller a disk hangs from, named the way VM records name them. */
static int
controller_of (const struct ovf *o, const char *parent, struct vd_disk *d)
{
  xmlNode *ctl = find_item_by_id (o, parent);
  if (ctl == NULL) {
    h2k_warn ("%s: %s: no controller with InstanceID %s", o->name,
              d->label ? d->label : "disk", parent);
    return 0;
  }
  int64_t rt;
  if (item_resource_type (ctl, o->name, &rt) == -1)
    return -1;
  CLEANUP_FREE char *sub = item_field (ctl, "ResourceSubType");
  CLEANUP_FREE char *addr = item_field (ctl, "Address");
  const char *kind;

  switch (rt) {
  case RT_IDE:
    kind = "ide";
    break;
  case RT_SCSI:
    if (sub == NULL) kind = "scsi";
    else if (strcasecmp (sub, "VirtualSCSI") == 0) kind = "pvscsi";
    else if (strcasecmp (sub, "lsilogic") == 0) kind = "lsilogic";
    else if (strcasecmp (sub, "lsilogicsas") == 0) kind = "lsilogic-sas";
    else if (strcasecmp (sub, "buslogic") == 0) kind = "buslogic";
    else kind = "scsi";
    break;
  case RT_OTHER_STORAGE:
    /* Type 20 is SATA or NVMe; only the subtype tells (formats.md 8.4). */
    if (sub && strcasestr (sub, "nvme")) kind = "nvme";
    else if (sub && strcasestr (sub, "virtio")) kind = "virtio-scsi";
    else kind = "sata";
    break;
  default:
    kind = NULL;
  }
  if (kind && vd_set (&d->controller, kind) == -1)
    return -1;
  int64_t bus;
  if (addr && parse_uint (addr, &bus) == 0 && bus <= 0xffff)
    d->bus = (int) bus;
  return 0;
}

/* rasd:HostResource "ovf:/disk/ID" names a Disk of the DiskSection;
 * "ovf:/file/ID" (ova-compose writes it for CD images) a File. */
static int
disk_item (const struct ovf *o, const xmlNode *item, struct vd_source *src)
{
  CLEANUP_FREE char *label = item_label (item);
  CLEANUP_FREE char *host = item_field (item, "HostResource");
  CLEANUP_FREE char *parent = item_field (item, "Parent");
  CLEANUP_FREE char *aop = item_field (item, "AddressOnParent");
  CLEANUP_XMLFREE char *file_id = NULL;
  struct vd_disk *d = vd_source_add_disk (src);
  if (d == NULL || vd_set (&d->label, label) == -1)
    return -1;

  if (host == NULL || *host == '\0')
    return h2k_seterr ("%s: %s: no HostResource", o->name, label);
  const char *p = host;
  if (strncmp (p, "ovf:", 4) == 0)
    p += 4;
  while (*p == '/')
    p++;
  if (strncmp (p, "disk/", 5) == 0) {
    xmlNode *disk = h2k_ovf_disk (&o->x, p + 5);
    if (disk == NULL)
      return h2k_seterr ("%s: %s: HostResource \"%s\" names no Disk in the "
                         "DiskSection", o->name, label, host);
    CLEANUP_XMLFREE char *cap = h2k_ovf_attr (&o->x, disk, "capacity");
    CLEANUP_XMLFREE char *units = h2k_ovf_attr (&o->x, disk, "capacityAllocationUnits");
    if (cap) {
      int64_t n;
      uint64_t mult = 1;
      if (parse_uint (cap, &n) == -1)
        return h2k_seterr ("%s: %s: capacity \"%s\" is not a number",
                           o->name, label, cap);
      if (units && vd_parse_units (units, &mult) == -1)
        return h2k_seterr_prefix ("%s: %s: capacity", o->name, label);
      if ((uint64_t) n > (uint64_t) INT64_MAX / mult)
        return h2k_seterr ("%s: %s: capacity %s × %s is too large",
                           o->name, label, cap, units);
      d->capacity = n * (int64_t) mult;
    }
    file_id = h2k_ovf_attr (&o->x, disk, "fileRef");
    /* A Disk without fileRef is a blank disk created on import. */
  } else if (strncmp (p, "file/", 5) == 0)
    file_id = (char *) xmlStrdup (BAD_CAST (p + 5));
  else
    return h2k_seterr ("%s: %s: HostResource \"%s\" not understood",
                       o->name, label, host);

  if (file_id) {
    xmlNode *f = h2k_ovf_file (&o->x, file_id);
    if (f == NULL)
      return h2k_seterr ("%s: %s: no File \"%s\" in References", o->name,
                         label, file_id);
    CLEANUP_XMLFREE char *href = h2k_ovf_attr (&o->x, f, "href");
    if (href == NULL)
      return h2k_seterr ("%s: %s: File \"%s\" has no href", o->name,
                         label, file_id);
    if (vd_set (&d->file, href) == -1)
      return -1;
  }

  if (parent && controller_of (o, parent, d) == -1)
    return -1;
  int64_t unit;
  if (aop && parse_uint (aop, &unit) == 0 && unit <= 0xffff)
    d->unit = (int) unit;
  return 0;
}

static int
nic_item (const struct ovf *o, const xmlNode *item, struct vd_source *src)
{
  CLEANUP_FREE char *label = item_label (item);
  CLEANUP_FREE char *addr = item_field (item, "Address");
  CLEANUP_FREE char *sub = item_field (item, "ResourceSubType");
  CLEANUP_FREE char *conn = item_field (item, "Connection");
  struct vd_nic *n = vd_source_add_nic (src);

  if (n == NULL || vd_set (&n->label, label) == -1
      || (conn && *conn && vd_set (&n->network, conn) == -1))
    return -1;
  if (sub && *sub) {
    for (char *p = sub; *p; p++)
      *p = (char) tolower ((unsigned char) *p);
    if (vd_set (&n->type, sub) == -1)
      return -1;
  }
  /* ovftool puts the MAC in rasd:Address when asked to export it. */
  if (addr && *addr) {
    CLEANUP_FREE char *mac = vd_normalize_mac (addr);
    if (mac && vd_set (&n->mac, addr) == -1)
      return -1;
  }
  return 0;
}

static int
vmw_config (const struct ovf *o, struct vd_source *src)
{
  for (xmlNode *c = o->hw->children; c; c = c->next) {
    if (!is_elem (c, "Config") || !ns_is (c, NS_VMW))
      continue;
    CLEANUP_XMLFREE char *key = (char *) xmlGetNsProp (c, BAD_CAST "key", BAD_CAST NS_VMW);
    CLEANUP_XMLFREE char *val = (char *) xmlGetNsProp (c, BAD_CAST "value", BAD_CAST NS_VMW);
    if (key == NULL || val == NULL)
      continue;
    if (strcmp (key, "firmware") == 0) {
      if (strcasecmp (val, "efi") == 0)
        src->firmware = VD_FW_EFI;
      else if (strcasecmp (val, "bios") == 0)
        src->firmware = VD_FW_BIOS;
      else
        return h2k_seterr ("%s: firmware \"%s\" not understood", o->name, val);
    } else if (strcmp (key, "bootOptions.efiSecureBootEnabled") == 0)
      src->secure_boot = strcasecmp (val, "true") == 0 ? VD_YES : VD_NO;
  }
  return 0;
}

/* VirtualBox's own settings: the machine UUID (which VirtualBox also
 * gives the guest as its SMBIOS UUID), the firmware and the MAC
 * addresses, none of which its OVF items carry. */
static int
vbox_machine (const struct ovf *o, const xmlNode *vs, struct vd_source *src)
{
  const xmlNode *m = NULL;
  for (xmlNode *c = vs->children; c && !m; c = c->next)
    if (is_elem (c, "Machine") && ns_is (c, NS_VBOX))
      m = c;
  if (m == NULL)
    return 0;

  CLEANUP_XMLFREE char *uuid = (char *) xmlGetNoNsProp (m, BAD_CAST "uuid");
  if (uuid && src->uuid == NULL)
    src->uuid = vd_normalize_uuid (uuid);

  const xmlNode *hw = NULL;
  for (xmlNode *c = m->children; c && !hw; c = c->next)
    if (is_elem (c, "Hardware"))
      hw = c;
  if (hw == NULL)
    return 0;
  /* VirtualBox leaves Firmware out when it is the default, BIOS. */
  if (src->firmware == VD_FW_UNKNOWN)
    src->firmware = VD_FW_BIOS;
  size_t nic = 0;
  for (xmlNode *c = hw->children; c; c = c->next) {
    if (is_elem (c, "Firmware")) {
      CLEANUP_XMLFREE char *type = (char *) xmlGetNoNsProp (c, BAD_CAST "type");
      if (type && strncasecmp (type, "EFI", 3) == 0)
        src->firmware = VD_FW_EFI;
    } else if (is_elem (c, "Network")) {
      /* Adapters are listed by slot; the OVF's NIC items are the enabled
       * ones in the same order. */
      for (xmlNode *a = c->children; a; a = a->next) {
        if (!is_elem (a, "Adapter"))
          continue;
        CLEANUP_XMLFREE char *en = (char *) xmlGetNoNsProp (a, BAD_CAST "enabled");
        CLEANUP_XMLFREE char *mac = (char *) xmlGetNoNsProp (a, BAD_CAST "MACAddress");
        if (en && strcmp (en, "true") != 0)
          continue;
        if (nic < src->nics.len && mac && src->nics.ptr[nic].mac == NULL
            && vd_set (&src->nics.ptr[nic].mac, mac) == -1)
          return -1;
        nic++;
      }
    }
  }
  return 0;
}

static int
read_hardware (struct ovf *o, struct vd_source *src)
{
  for (xmlNode *c = o->hw->children; c; c = c->next) {
    if (h2k_ovf_is (&o->x, c, "System")) {
      for (xmlNode *s = c->children; s; s = s->next)
        if (is_elem (s, "VirtualSystemType")
            && ns_is_cim (s, "CIM_VirtualSystemSettingData")) {
          CLEANUP_FREE char *t = text_of (s);
          if (t && *t && vd_set (&src->hw_version, t) == -1)
            return -1;
        }
      continue;
    }
    if (!is_item (o, c) || !item_selected (o, c))
      continue;

    int64_t rt;
    uint64_t bytes = 0;
    if (item_resource_type (c, o->name, &rt) == -1)
      return -1;
    switch (rt) {
    case RT_CPU: {
      CLEANUP_FREE char *q = item_field (c, "VirtualQuantity");
      if (q == NULL || parse_uint (q, &src->cpus) == -1 || src->cpus == 0)
        return h2k_seterr ("%s: CPU item: VirtualQuantity \"%s\" is not a "
                           "number of CPUs", o->name, q ? q : "");
      for (xmlNode *v = c->children; v; v = v->next)
        if (is_elem (v, "CoresPerSocket") && ns_is (v, NS_VMW)) {
          CLEANUP_FREE char *t = text_of (v);
          if (parse_uint (t, &src->cores_per_socket) == -1
              || src->cores_per_socket == 0)
            return h2k_seterr ("%s: CoresPerSocket \"%s\" is not a number",
                               o->name, t);
        }
      break;
    }
    case RT_MEMORY:
      if (item_bytes (o, c, "memory", "byte * 2^20", &bytes) == -1)
        return -1;
      if (bytes == 0)
        return h2k_seterr ("%s: memory size is 0", o->name);
      src->memory_mib = (int64_t) ((bytes + (1 << 20) - 1) >> 20);
      break;
    case RT_DISK:
    case RT_LOGICAL_DISK:
      if (disk_item (o, c, src) == -1)
        return -1;
      break;
    case RT_NIC:
      if (nic_item (o, c, src) == -1)
        return -1;
      break;
    case RT_CDDRIVE:
    case RT_DVDDRIVE:
    case RT_FLOPPY: {
      CLEANUP_FREE char *label = item_label (c);
      if (vd_source_add_removable (src, rt == RT_FLOPPY ? "floppy" : "cdrom",
                                   label) == -1)
        return -1;
      break;
    }
    default:
      /* Controllers are read through the disks that use them; video,
       * VMCI, USB and sound have no counterpart worth carrying over. */
      break;
    }
  }
  return 0;
}

/* Every VirtualSystem of the envelope, at the top or inside a
 * VirtualSystemCollection. */
static void
find_systems (const struct ovf *o, xmlNode *parent, xmlNode **found,
              size_t *n)
{
  for (xmlNode *c = parent->children; c; c = c->next) {
    if (h2k_ovf_is (&o->x, c, "VirtualSystem")) {
      if (*n == 0)
        *found = c;
      (*n)++;
    } else if (h2k_ovf_is (&o->x, c, "VirtualSystemCollection"))
      find_systems (o, c, found, n);
  }
}

/* The one VirtualSystem of the parsed descriptor PO as a source. */
static struct vd_source *
read_system (const struct ovf *po)
{
  struct ovf o = *po;
  const char *name = o.name;
  xmlNode *vs = NULL;
  size_t nvs = 0;
  find_systems (&o, o.envelope, &vs, &nvs);
  if (nvs == 0) {
    h2k_seterr ("%s: no VirtualSystem in the OVF", name);
    return NULL;
  }
  if (nvs > 1) {
    h2k_seterr ("%s: the OVF describes %zu virtual systems; only single-VM "
                "OVFs are supported", name, nvs);
    return NULL;
  }
  o.hw = h2k_ovf_child (&o.x, vs, "VirtualHardwareSection");
  if (o.hw == NULL) {
    h2k_seterr ("%s: the VirtualSystem has no VirtualHardwareSection", name);
    return NULL;
  }
  CLEANUP_XMLFREE char *config = default_configuration (&o);
  o.config = config;

  struct vd_source *src = vd_source_new ("ovf");
  if (src == NULL)
    return NULL;

  xmlNode *n = h2k_ovf_child (&o.x, vs, "Name");
  CLEANUP_FREE char *vname = n ? text_of (n) : NULL;
  CLEANUP_XMLFREE char *vsid = h2k_ovf_attr (&o.x, vs, "id");
  if (vd_set (&src->name, vname && *vname ? vname : vsid) == -1)
    goto err;

  xmlNode *ann = h2k_ovf_child (&o.x, vs, "AnnotationSection");
  if (ann && (n = h2k_ovf_child (&o.x, ann, "Annotation")) != NULL) {
    CLEANUP_FREE char *t = text_of (n);
    if (t && *t && vd_set (&src->annotation, t) == -1)
      goto err;
  }

  xmlNode *os = h2k_ovf_child (&o.x, vs, "OperatingSystemSection");
  if (os) {
    CLEANUP_XMLFREE char *ostype = (char *) xmlGetNsProp (os, BAD_CAST "osType",
                                                          BAD_CAST NS_VMW);
    if (ostype && vd_set (&src->guest_id, ostype) == -1)
      goto err;
    for (xmlNode *c = os->children; c; c = c->next) {
      if (is_elem (c, "OSType") && ns_is (c, NS_VBOX) && src->guest_id == NULL) {
        CLEANUP_FREE char *t = text_of (c);
        if (t && *t && vd_set (&src->guest_id, t) == -1)
          goto err;
      } else if (h2k_ovf_is (&o.x, c, "Description")) {
        CLEANUP_FREE char *t = text_of (c);
        if (t && *t && vd_set (&src->os_description, t) == -1)
          goto err;
      }
    }
  }

  if (read_hardware (&o, src) == -1 || vmw_config (&o, src) == -1
      || vbox_machine (&o, vs, src) == -1)
    goto err;
  return src;

 err:
  vd_source_free (src);
  return NULL;
}

struct vd_source *
vd_read_ovf (const char *buf, size_t len, const char *name)
{
  struct ovf o = { .name = name };
  if (h2k_ovf_parse (buf, len, name, &o.x) == -1)
    return NULL;
  o.envelope = o.x.envelope;
  struct vd_source *src = read_system (&o);
  h2k_ovf_free (&o.x);
  return src;
}
