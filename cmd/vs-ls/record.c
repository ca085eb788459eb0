/* The VM record (DESIGN.md section 2) from a VirtualMachine's properties.
 * A field the server did not give is left out, never invented. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vs-ls.h"

/* The properties a VM record needs; nothing else is asked for. */
static const char *const base_paths[] = {
  "name", "config.uuid", "config.instanceUuid", "config.guestId",
  "config.guestFullName", "config.firmware", "config.version",
  "config.hardware.numCPU", "config.hardware.numCoresPerSocket",
  "config.hardware.memoryMB", "config.hardware.device",
  "config.changeTrackingEnabled", "config.template",
  "runtime.powerState", "runtime.host", "snapshot",
  "summary.config.vmPathName",
  /* What the later steps of a migration need: the description, the boot
   * order, where the VM sits in the inventory (for selections), and
   * VMware Tools' state and the guest's addresses (for shutting it down
   * and quiescing). */
  "config.annotation", "config.bootOptions.bootOrder", "parent", "resourcePool",
  "guest.toolsRunningStatus", "guest.toolsStatus", "guest.ipAddress", "guest.net",
  NULL
};

/* A server refuses the whole call when one path does not exist in its API
 * version: secure boot is asked for only from 6.5 on, where it appeared. */
void
vm_paths (struct ls *ls, const char *paths[static 40])
{
  size_t n = 0;
  for (const char *const *p = base_paths; *p; p++)
    paths[n++] = *p;
  const char *v = h2k_vs_content (ls->vs)->api_version;
  if (v && strtod (v, NULL) >= 6.5)
    paths[n++] = "config.bootOptions.efiSecureBootEnabled";
  if (ls->o->chain) {
    paths[n++] = "layoutEx.file";
    paths[n++] = "layoutEx.disk";
  }
  paths[n] = NULL;
}

static void
set_str (json_object *obj, const char *key, const char *val)
{
  if (val)
    json_object_object_add (obj, key, json_object_new_string (val));
}

/* Copy a property's text into the record under KEY. */
static void
prop_str (json_object *rec, xmlNode *o, const char *prop, const char *key)
{
  xmlNode *v = h2k_vs_prop (o, prop);
  if (v) {
    char *s = h2k_xml_text (v);
    set_str (rec, key, s);
    free (s);
  }
}

static void
prop_int (json_object *rec, xmlNode *o, const char *prop, const char *key)
{
  xmlNode *v = h2k_vs_prop (o, prop);
  char *s = v ? h2k_xml_text (v) : NULL;
  char *end;
  if (s && *s) {
    long long n = strtoll (s, &end, 10);
    if (*end == '\0')
      json_object_object_add (rec, key, json_object_new_int64 (n));
  }
  free (s);
}

static void
prop_bool (json_object *rec, xmlNode *o, const char *prop, const char *key)
{
  xmlNode *v = h2k_vs_prop (o, prop);
  char *s = v ? h2k_xml_text (v) : NULL;
  if (s && (strcmp (s, "true") == 0 || strcmp (s, "false") == 0))
    json_object_object_add (rec, key, json_object_new_boolean (s[0] == 't'));
  free (s);
}

static void
child_str (json_object *rec, xmlNode *n, const char *child, const char *key)
{
  char *s = h2k_xml_child_text (n, child);
  if (s && *s)
    set_str (rec, key, s);
  free (s);
}

static void
child_int (json_object *rec, xmlNode *n, const char *child, const char *key)
{
  int64_t v;
  if (h2k_xml_child_int64 (n, child, &v))
    json_object_object_add (rec, key, json_object_new_int64 (v));
}

static void
child_bool (json_object *rec, xmlNode *n, const char *child, const char *key)
{
  bool v;
  if (h2k_xml_child_bool (n, child, &v))
    json_object_object_add (rec, key, json_object_new_boolean (v));
}

/* xsd:dateTime ("2026-11-01T10:00:00.123+02:00") to RFC 3339 UTC. */
static char *
rfc3339_utc (const char *s)
{
  struct tm tm = { 0 };
  const char *p = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p)
    return NULL;
  if (*p == '.')
    while (*++p >= '0' && *p <= '9')
      ;
  long offset = 0;
  if (*p == '+' || *p == '-') {
    int hh, mm;
    if (sscanf (p + 1, "%d:%d", &hh, &mm) != 2)
      return NULL;
    offset = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
  }
  else if (*p != 'Z' && *p != '\0')
    return NULL;
  time_t t = timegm (&tm) - offset;
  struct tm utc;
  char out[32];
  if (!gmtime_r (&t, &utc) || !strftime (out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc))
    return NULL;
  return strdup (out);
}

static const char *
short_name (const char *type, const char *const table[][2])
{
  for (size_t i = 0; type && table[i][0]; i++)
    if (strcmp (type, table[i][0]) == 0)
      return table[i][1];
  return NULL;
}

static const char *const controller_types[][2] = {
  { "ParaVirtualSCSIController", "pvscsi" },
  { "VirtualLsiLogicController", "lsilogic" },
  { "VirtualLsiLogicSASController", "lsilogic-sas" },
  { "VirtualBusLogicController", "buslogic" },
  { "VirtualAHCIController", "sata" },
  { "VirtualSATAController", "sata" },
  { "VirtualIDEController", "ide" },
  { "VirtualNVMEController", "nvme" },
  { NULL, NULL }
};

static const char *const nic_types[][2] = {
  { "VirtualVmxnet3", "vmxnet3" },
  { "VirtualVmxnet3Vrdma", "vmxnet3-vrdma" },
  { "VirtualVmxnet2", "vmxnet2" },
  { "VirtualVmxnet", "vmxnet" },
  { "VirtualE1000", "e1000" },
  { "VirtualE1000e", "e1000e" },
  { "VirtualPCNet32", "pcnet32" },
  { "VirtualSriovEthernetCard", "sriov" },
  { NULL, NULL }
};

static const char *const disk_backings[][2] = {
  { "VirtualDiskFlatVer2BackingInfo", "flat" },
  { "VirtualDiskFlatVer1BackingInfo", "flat1" },
  { "VirtualDiskSparseVer2BackingInfo", "sparse" },
  { "VirtualDiskSparseVer1BackingInfo", "sparse1" },
  { "VirtualDiskSeSparseBackingInfo", "sesparse" },
  { "VirtualDiskRawDiskMappingVer1BackingInfo", "rdm" },
  { "VirtualDiskRawDiskVer2BackingInfo", "raw" },
  { "VirtualDiskLocalPMemBackingInfo", "pmem" },
  { NULL, NULL }
};

struct controller {
  int64_t key;
  const char *kind;
  int64_t bus;
};
DEFINE_VECTOR_TYPE (controller_vector, struct controller);

/* The datastore name of a backing: from its datastore moref, else from
 * the "[name]" of its file name. */
static void
backing_datastore (struct ls *ls, json_object *rec, xmlNode *backing,
                   const char *file)
{
  xmlNode *ds = h2k_xml_child (backing, "datastore");
  if (ds) {
    char *moref = h2k_xml_text (ds);
    const char *name = moref ? name_of (ls, "Datastore", moref) : NULL;
    free (moref);
    if (name) {
      set_str (rec, "datastore", name);
      return;
    }
  }
  char *dsname = NULL, *path = NULL;
  if (file && h2k_vs_parse_dspath (file, &dsname, &path) == 0)
    set_str (rec, "datastore", dsname);
  free (dsname);
  free (path);
}

/* The chain from the backing's parent links, base first (used when the
 * server gives no layoutEx). */
static json_object *
parent_chain (xmlNode *backing)
{
  json_object *top_first = json_object_new_array ();
  for (xmlNode *b = backing; b; b = h2k_xml_child (b, "parent")) {
    char *f = h2k_xml_child_text (b, "fileName");
    if (f)
      json_object_array_add (top_first, json_object_new_string (f));
    free (f);
  }
  json_object *chain = json_object_new_array ();
  for (size_t i = json_object_array_length (top_first); i > 0; i--)
    json_object_array_add (chain, json_object_get (json_object_array_get_idx (top_first, i - 1)));
  json_object_put (top_first);
  return chain;
}

/* layoutEx: the chain of disk KEY, base first, and its files. */
static void
layout_chain (xmlNode *o, int64_t key, json_object *disk)
{
  xmlNode *files = h2k_vs_prop (o, "layoutEx.file");
  xmlNode *disks = h2k_vs_prop (o, "layoutEx.disk");
  xmlNode *layout = NULL;

  for (xmlNode *d = disks ? h2k_xml_child (disks, NULL) : NULL; d;
       d = h2k_xml_next (d, NULL)) {
    int64_t k;
    if (h2k_xml_child_int64 (d, "key", &k) && k == key)
      layout = d;
  }
  if (!layout || !files)
    return;

  json_object *chain = json_object_new_array ();
  json_object *cfiles = json_object_new_array ();
  for (xmlNode *unit = h2k_xml_child (layout, "chain"); unit;
       unit = h2k_xml_next (unit, "chain")) {
    for (xmlNode *fk = h2k_xml_child (unit, "fileKey"); fk;
         fk = h2k_xml_next (fk, "fileKey")) {
      char *ks = h2k_xml_text (fk);
      int64_t want = ks ? atoll (ks) : -1;
      free (ks);
      for (xmlNode *f = h2k_xml_child (files, NULL); f; f = h2k_xml_next (f, NULL)) {
        int64_t fkey;
        if (!h2k_xml_child_int64 (f, "key", &fkey) || fkey != want)
          continue;
        json_object *jf = json_object_new_object ();
        child_str (jf, f, "name", "name");
        child_str (jf, f, "type", "type");
        child_int (jf, f, "size", "size");
        char *type = h2k_xml_child_text (f, "type");
        char *name = h2k_xml_child_text (f, "name");
        if (type && name && strcmp (type, "diskDescriptor") == 0)
          json_object_array_add (chain, json_object_new_string (name));
        free (type);
        free (name);
        json_object_array_add (cfiles, jf);
      }
    }
  }
  json_object_object_add (disk, "chain", chain);
  json_object_object_add (disk, "chain_files", cfiles);
}

static json_object *
disk_record (struct ls *ls, xmlNode *o, xmlNode *dev, const controller_vector *ctrls)
{
  json_object *d = json_object_new_object ();
  xmlNode *backing = h2k_xml_child (dev, "backing");
  int64_t key = -1, ckey = -1, kb;

  child_int (d, dev, "key", "key");
  h2k_xml_child_int64 (dev, "key", &key);
  child_str (d, h2k_xml_child (dev, "deviceInfo"), "label", "label");

  char *file = h2k_xml_child_text (backing, "fileName");
  set_str (d, "file", file);
  backing_datastore (ls, d, backing, file);
  free (file);

  int64_t bytes;
  if (h2k_xml_child_int64 (dev, "capacityInBytes", &bytes) && bytes > 0)
    json_object_object_add (d, "capacity", json_object_new_int64 (bytes));
  else if (h2k_xml_child_int64 (dev, "capacityInKB", &kb))
    json_object_object_add (d, "capacity", json_object_new_int64 (kb * 1024));

  if (h2k_xml_child_int64 (dev, "controllerKey", &ckey))
    for (size_t i = 0; i < ctrls->len; i++)
      if (ctrls->ptr[i].key == ckey) {
        set_str (d, "controller", ctrls->ptr[i].kind);
        json_object_object_add (d, "bus", json_object_new_int64 (ctrls->ptr[i].bus));
      }
  child_int (d, dev, "unitNumber", "unit");

  char *btype = h2k_xml_type (backing);
  set_str (d, "backing", short_name (btype, disk_backings));
  free (btype);
  child_bool (d, backing, "thinProvisioned", "thin");
  child_str (d, backing, "diskMode", "mode");
  child_str (d, backing, "changeId", "change_id");
  child_str (d, backing, "uuid", "uuid");
  child_str (d, backing, "compatibilityMode", "rdm_mode");
  child_str (d, backing, "deviceName", "rdm_device");

  if (ls->o->chain) {
    layout_chain (o, key, d);
    if (!json_object_object_get_ex (d, "chain", NULL))
      json_object_object_add (d, "chain", parent_chain (backing));
  }
  return d;
}

/* The PCI slot number VMware gave a device (VMware's "ens192" is the NIC
 * in slot 192), from its slotInfo. */
static void
pci_slot (json_object *rec, xmlNode *dev)
{
  child_int (rec, h2k_xml_child (dev, "slotInfo"), "pciSlotNumber", "pci_slot");
}

/* The guest's addresses on the NIC with this MAC (guest.net, from VMware
 * Tools), or NULL. */
static json_object *
guest_ips (xmlNode *guest_net, const char *mac)
{
  json_object *ips = NULL;
  for (xmlNode *g = guest_net ? h2k_xml_child (guest_net, NULL) : NULL; g; g = h2k_xml_next (g, NULL)) {
    char *m = h2k_xml_child_text (g, "macAddress");
    bool same = m && (mac == NULL || strcasecmp (m, mac) == 0);
    free (m);
    if (!same)
      continue;
    for (xmlNode *a = h2k_xml_child (g, "ipAddress"); a; a = h2k_xml_next (a, "ipAddress")) {
      char *ip = h2k_xml_text (a);
      if (ip && *ip) {
        if (!ips)
          ips = json_object_new_array ();
        json_object_array_add (ips, json_object_new_string (ip));
      }
      free (ip);
    }
  }
  return ips;
}

static json_object *
nic_record (struct ls *ls, xmlNode *o, xmlNode *dev, const char *kind)
{
  json_object *n = json_object_new_object ();
  xmlNode *backing = h2k_xml_child (dev, "backing");

  child_int (n, dev, "key", "key");
  child_str (n, h2k_xml_child (dev, "deviceInfo"), "label", "label");
  child_str (n, dev, "macAddress", "mac");
  child_str (n, dev, "addressType", "mac_type");
  set_str (n, "type", kind);

  /* A standard port group names itself; a distributed one is named by
   * looking up its key; an NSX network by its id. */
  char *btype = h2k_xml_type (backing);
  if (btype && strcmp (btype, "VirtualEthernetCardDistributedVirtualPortBackingInfo") == 0) {
    char *pg = h2k_xml_child_text (h2k_xml_child (backing, "port"), "portgroupKey");
    const char *name = pg ? name_of (ls, "DistributedVirtualPortgroup", pg) : NULL;
    set_str (n, "network", name);
    set_str (n, "portgroup_key", pg);
    free (pg);
  }
  else if (btype && strcmp (btype, "VirtualEthernetCardOpaqueNetworkBackingInfo") == 0)
    child_str (n, backing, "opaqueNetworkId", "network");
  else
    child_str (n, backing, "deviceName", "network");
  free (btype);

  xmlNode *conn = h2k_xml_child (dev, "connectable");
  child_bool (n, conn, "startConnected", "start_connected");
  pci_slot (n, dev);
  char *mac = h2k_xml_child_text (dev, "macAddress");
  json_object *ips = mac ? guest_ips (h2k_vs_prop (o, "guest.net"), mac) : NULL;
  if (ips)
    json_object_object_add (n, "guest_ips", ips);
  free (mac);
  return n;
}

/* A CD-ROM drive: what is in it (an ISO on a datastore, the host's
 * drive, the client's), so that a migration can say what it leaves out. */
static json_object *
cdrom_record (xmlNode *dev, const controller_vector *ctrls)
{
  static const char *const backings[][2] = {
    { "VirtualCdromIsoBackingInfo", "iso" },
    { "VirtualCdromAtapiBackingInfo", "host" },
    { "VirtualCdromPassthroughBackingInfo", "passthrough" },
    { "VirtualCdromRemoteAtapiBackingInfo", "client" },
    { "VirtualCdromRemotePassthroughBackingInfo", "client" },
    { NULL, NULL }
  };
  json_object *c = json_object_new_object ();
  xmlNode *backing = h2k_xml_child (dev, "backing");
  int64_t ckey;
  child_int (c, dev, "key", "key");
  child_str (c, h2k_xml_child (dev, "deviceInfo"), "label", "label");
  if (h2k_xml_child_int64 (dev, "controllerKey", &ckey))
    for (size_t i = 0; i < ctrls->len; i++)
      if (ctrls->ptr[i].key == ckey) {
        set_str (c, "controller", ctrls->ptr[i].kind);
        json_object_object_add (c, "bus", json_object_new_int64 (ctrls->ptr[i].bus));
      }
  child_int (c, dev, "unitNumber", "unit");
  char *btype = h2k_xml_type (backing);
  set_str (c, "backing", short_name (btype, backings));
  free (btype);
  /* The ISO's datastore path; a host or client drive's device name says
   * nothing a migration can use (and the simulator makes it random). */
  child_str (c, backing, "fileName", "file");
  xmlNode *conn = h2k_xml_child (dev, "connectable");
  child_bool (c, conn, "startConnected", "start_connected");
  child_bool (c, conn, "connected", "connected");
  return c;
}

/* config.bootOptions.bootOrder: the devices the firmware tries, in order
 * (an empty or missing list leaves the order to the firmware). */
static json_object *
boot_order (xmlNode *order)
{
  static const char *const kinds[][2] = {
    { "VirtualMachineBootOptionsBootableDiskDevice", "disk" },
    { "VirtualMachineBootOptionsBootableCdromDevice", "cdrom" },
    { "VirtualMachineBootOptionsBootableEthernetDevice", "ethernet" },
    { "VirtualMachineBootOptionsBootableFloppyDevice", "floppy" },
    { NULL, NULL }
  };
  json_object *list = json_object_new_array ();
  for (xmlNode *b = order ? h2k_xml_child (order, NULL) : NULL; b; b = h2k_xml_next (b, NULL)) {
    json_object *e = json_object_new_object ();
    char *t = h2k_xml_type (b);
    set_str (e, "type", short_name (t, kinds));
    free (t);
    child_int (e, b, "deviceKey", "key");
    json_object_array_add (list, e);
  }
  return list;
}

static void
add_snapshots (json_object *list, xmlNode *tree, const char *parent)
{
  for (xmlNode *t = tree; t; t = h2k_xml_next (t, (const char *) tree->name)) {
    json_object *s = json_object_new_object ();
    char *moref = h2k_xml_child_text (t, "snapshot");
    set_str (s, "moref", moref);
    child_str (s, t, "name", "name");
    child_str (s, t, "description", "description");
    child_int (s, t, "id", "id");
    char *created = h2k_xml_child_text (t, "createTime");
    char *utc = created ? rfc3339_utc (created) : NULL;
    set_str (s, "created", utc);
    free (created);
    free (utc);
    child_str (s, t, "state", "power_state");
    child_bool (s, t, "quiesced", "quiesced");
    set_str (s, "parent", parent);
    json_object_array_add (list, s);
    add_snapshots (list, h2k_xml_child (t, "childSnapshotList"), moref);
    free (moref);
  }
}

json_object *
vm_record (struct ls *ls, const struct dc *dc, const char *moref, xmlNode *o)
{
  json_object *rec = json_object_new_object ();
  set_str (rec, "kind", "vm");
  prop_str (rec, o, "name", "name");
  set_str (rec, "moref", moref);
  prop_str (rec, o, "config.uuid", "uuid");
  prop_str (rec, o, "config.instanceUuid", "instance_uuid");
  set_str (rec, "datacenter", dc->name);
  set_str (rec, "dc_path", dc->path);

  xmlNode *host = h2k_vs_prop (o, "runtime.host");
  if (host) {
    char *hm = h2k_xml_text (host);
    set_str (rec, "host", hm ? name_of (ls, "HostSystem", hm) : NULL);
    free (hm);
  }
  prop_str (rec, o, "runtime.powerState", "power_state");
  prop_str (rec, o, "config.guestId", "guest_id");
  prop_str (rec, o, "config.guestFullName", "guest_name");
  prop_str (rec, o, "config.firmware", "firmware");
  prop_bool (rec, o, "config.bootOptions.efiSecureBootEnabled", "secure_boot");
  prop_int (rec, o, "config.hardware.numCPU", "cpus");
  prop_int (rec, o, "config.hardware.numCoresPerSocket", "cores_per_socket");
  prop_int (rec, o, "config.hardware.memoryMB", "memory_mib");
  prop_str (rec, o, "config.version", "hw_version");
  prop_bool (rec, o, "config.changeTrackingEnabled", "cbt");
  prop_bool (rec, o, "config.template", "template");
  prop_str (rec, o, "summary.config.vmPathName", "vmx");
  prop_str (rec, o, "config.annotation", "annotation");

  xmlNode *parent = h2k_vs_prop (o, "parent");
  if (parent) {
    char *pm = h2k_xml_text (parent);
    char *path = pm ? vm_folder_path (ls, dc, pm) : NULL;
    set_str (rec, "folder", path);
    free (path);
    free (pm);
  }
  xmlNode *pool = h2k_vs_prop (o, "resourcePool");
  if (pool) {
    char *pm = h2k_xml_text (pool);
    set_str (rec, "resource_pool", pm ? name_of (ls, "ResourcePool", pm) : NULL);
    free (pm);
  }
  prop_str (rec, o, "guest.toolsRunningStatus", "tools_running");
  prop_str (rec, o, "guest.toolsStatus", "tools_status");
  prop_str (rec, o, "guest.ipAddress", "guest_ip");
  json_object *ips = guest_ips (h2k_vs_prop (o, "guest.net"), NULL);
  if (ips)
    json_object_object_add (rec, "guest_ips", ips);
  xmlNode *order = h2k_vs_prop (o, "config.bootOptions.bootOrder");
  if (order)
    json_object_object_add (rec, "boot_order", boot_order (order));

  /* Devices: controllers first, so that disks can name theirs. */
  xmlNode *devs = h2k_vs_prop (o, "config.hardware.device");
  controller_vector ctrls = { 0 };
  for (xmlNode *d = devs ? h2k_xml_child (devs, NULL) : NULL; d; d = h2k_xml_next (d, NULL)) {
    char *type = h2k_xml_type (d);
    const char *kind = short_name (type, controller_types);
    struct controller c = { .kind = kind, .bus = 0 };
    if (kind && h2k_xml_child_int64 (d, "key", &c.key)) {
      h2k_xml_child_int64 (d, "busNumber", &c.bus);
      controller_vector_append (&ctrls, c);
    }
    free (type);
  }
  json_object *disks = json_object_new_array ();
  json_object *nics = json_object_new_array ();
  json_object *cdroms = json_object_new_array ();
  for (xmlNode *d = devs ? h2k_xml_child (devs, NULL) : NULL; d; d = h2k_xml_next (d, NULL)) {
    char *type = h2k_xml_type (d);
    const char *nic = short_name (type, nic_types);
    if (type && strcmp (type, "VirtualDisk") == 0)
      json_object_array_add (disks, disk_record (ls, o, d, &ctrls));
    else if (type && strcmp (type, "VirtualCdrom") == 0)
      json_object_array_add (cdroms, cdrom_record (d, &ctrls));
    else if (nic)
      json_object_array_add (nics, nic_record (ls, o, d, nic));
    free (type);
  }
  controller_vector_reset (&ctrls);
  if (devs) {
    json_object_object_add (rec, "disks", disks);
    json_object_object_add (rec, "nics", nics);
    json_object_object_add (rec, "cdroms", cdroms);
  }
  else {
    json_object_put (disks);
    json_object_put (nics);
    json_object_put (cdroms);
  }

  xmlNode *snap = h2k_vs_prop (o, "snapshot");
  json_object *snaps = json_object_new_array ();
  if (snap) {
    add_snapshots (snaps, h2k_xml_child (snap, "rootSnapshotList"), NULL);
    child_str (rec, snap, "currentSnapshot", "current_snapshot");
  }
  json_object_object_add (rec, "snapshots", snaps);
  return rec;
}

static int
append_text (string_vector *v, char *s)
{
  if (!s || string_vector_append (v, s) == -1) {
    free (s);
    return -1;
  }
  return 0;
}

/* The hosts, datastores and distributed port groups object O refers to. */
static int
object_refs (xmlNode *o, string_vector *hosts, string_vector *stores,
             string_vector *pgs)
{
  int r = 0;
  xmlNode *h = h2k_vs_prop (o, "runtime.host");
  if (h)
    r |= append_text (hosts, h2k_xml_text (h));
  xmlNode *devs = h2k_vs_prop (o, "config.hardware.device");
  for (xmlNode *d = devs ? h2k_xml_child (devs, NULL) : NULL; d; d = h2k_xml_next (d, NULL)) {
    xmlNode *backing = h2k_xml_child (d, "backing");
    xmlNode *ds = h2k_xml_child (backing, "datastore");
    if (ds)
      r |= append_text (stores, h2k_xml_text (ds));
    char *pg = h2k_xml_child_text (h2k_xml_child (backing, "port"), "portgroupKey");
    if (pg)
      r |= append_text (pgs, pg);
  }
  return r;
}

static void
free_refs (string_vector *all[3])
{
  for (size_t k = 0; k < 3; k++) {
    for (size_t i = 0; i < all[k]->len; i++)
      free (all[k]->ptr[i]);
    string_vector_reset (all[k]);
  }
}

bool
names_known (struct ls *ls, xmlNode *o)
{
  string_vector hosts = { 0 }, stores = { 0 }, pgs = { 0 };
  string_vector *all[] = { &hosts, &stores, &pgs };
  static const char *const types[] = {
    "HostSystem", "Datastore", "DistributedVirtualPortgroup"
  };
  bool known = object_refs (o, &hosts, &stores, &pgs) == 0;
  for (size_t k = 0; k < 3 && known; k++)
    for (size_t i = 0; i < all[k]->len && known; i++)
      known = name_cached (ls, types[k], all[k]->ptr[i]);
  free_refs (all);
  return known;
}

/* Before the records of N objects are built, ask for the names of the
 * hosts, datastores and distributed port groups they refer to, one call
 * per kind, instead of one call per object when each record needs it. */
int
prefetch_objects (struct ls *ls, xmlNode *const *objs, size_t n)
{
  string_vector hosts = { 0 }, stores = { 0 }, pgs = { 0 };
  string_vector *all[] = { &hosts, &stores, &pgs };
  int r = 0;

  for (size_t i = 0; i < n && r == 0; i++)
    r = object_refs (objs[i], &hosts, &stores, &pgs);
  if (r == 0)
    r = prefetch_names (ls, "HostSystem", &hosts);
  if (r == 0)
    r = prefetch_names (ls, "Datastore", &stores);
  if (r == 0)
    r = prefetch_names (ls, "DistributedVirtualPortgroup", &pgs);
  free_refs (all);
  return r == 0 ? 0 : h2k_seterr ("out of memory");
}
