/* Fix "network": make the guest's network configuration work on the new
 * NIC.
 *
 * On VMware the NIC is a vmxnet3 or e1000 card named after its slot
 * (ens192, ens160) or eth0, and configurations name it, or its VMware
 * MAC address.  On KVM the virtio NIC gets another name, which depends on
 * the PCI slot libvirt picks, so no configuration can be rewritten to it
 * offline.  Instead the virtio NIC is given the old name by a udev rule;
 * every configuration (ifupdown, NetworkManager, ifcfg, systemd-networkd,
 * netplan, wicked) and its static addresses then work unchanged.  With
 * one NIC the rule matches the virtio driver and MAC bindings are dropped
 * (the new NIC's MAC may differ); with several, each is matched by the MAC
 * address its configuration names, which the migrated machine keeps.
 *
 * A configuration that names a NIC only by its predictable name (ens192,
 * no MAC address) still says which card it means: systemd's slot name
 * (ID_NET_NAME_SLOT, "en" "s" slot, function suffix left out for a
 * single-function device) is the number the firmware gives the NIC's PCI
 * slot, and VMware's firmware numbers each slot by the device's
 * pciSlotNumber (ens160, ens192, ens224, ens256, ens33 for a legacy PCI
 * slot).  vs-ls records that number as each NIC's "pci_slot", so with
 * --source the MAC address comes from the record's NIC in that slot.
 * Path names (enp11s0: bus 11, device 0) cannot be mapped that way: the
 * bus number is the one the guest's firmware gave the bridge the NIC sits
 * behind, which depends on the VM's whole bridge layout and is not in the
 * record (VMware's pciSlotNumber encodes the bridge, not the bus). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

struct nic {
  char *name;
  char *mac;                    /* lower case, or NULL */
  json_object *files;           /* configurations naming it */
  long pci_slot;                /* from an ensN name, or -1 */
  bool mac_from_source;         /* MAC taken from the --source record */
  char *source_nic;             /* that record NIC's label, or "nics[N]" */
  char *why;                    /* why no MAC was found, or NULL */
};

struct nics {
  struct nic v[32];
  size_t n;
};

/* Names of physical NICs as kernels and udev give them: not loopback,
 * bridges, bonds, VLANs or aliases, whose names do not change. */
static bool
physical_name (const char *n)
{
  if (strchr (n, '.') || strchr (n, ':') || strchr (n, '*'))
    return false;
  return strncmp (n, "eth", 3) == 0 || strncmp (n, "en", 2) == 0
    || strncmp (n, "em", 2) == 0
    || (n[0] == 'p' && isdigit ((unsigned char) n[1]));
}

static void
add_nic (struct nics *ns, const char *name, const char *mac, const char *file)
{
  if (!physical_name (name))
    return;
  struct nic *nic = NULL;
  for (size_t i = 0; i < ns->n; i++)
    if (strcmp (ns->v[i].name, name) == 0)
      nic = &ns->v[i];
  if (!nic) {
    if (ns->n == sizeof ns->v / sizeof ns->v[0])
      return;
    nic = &ns->v[ns->n++];
    *nic = (struct nic) { .name = strdup (name), .pci_slot = -1,
                          .files = json_object_new_array () };
  }
  if (mac && !nic->mac) {
    nic->mac = strdup (mac);
    for (char *p = nic->mac; *p; p++)
      *p = tolower ((unsigned char) *p);
  }
  size_t nf = json_object_array_length (nic->files);
  for (size_t i = 0; i < nf; i++)
    if (strcmp (json_object_get_string (
                  json_object_array_get_idx (nic->files, i)), file) == 0)
      return;
  json_object_array_add (nic->files, json_object_new_string (file));
}

/* Trimmed value after "KEY=" at the start of LINE, quotes removed. */
static char *
keyval (const char *line, const char *key)
{
  const char *p = line + strspn (line, " \t");
  size_t kl = strlen (key);
  if (strncmp (p, key, kl) != 0)
    return NULL;
  p += kl;
  p += strspn (p, " \t\"'");
  size_t len = strcspn (p, " \t\"'\r");
  return len ? strndup (p, len) : NULL;
}

typedef void (*scan_fn) (struct nics *ns, const char *file, char *text);

static void
scan_ifupdown (struct nics *ns, const char *file, char *text)
{
  for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
    char *save, *w = strtok_r (line, " \t", &save);
    if (!w)
      continue;
    if (strcmp (w, "auto") == 0 || strncmp (w, "allow-", 6) == 0)
      for (char *n; (n = strtok_r (NULL, " \t", &save)) != NULL; )
        add_nic (ns, n, NULL, file);
    else if (strcmp (w, "iface") == 0) {
      char *n = strtok_r (NULL, " \t", &save);
      if (n)
        add_nic (ns, n, NULL, file);
    }
  }
}

static void
scan_keyfile (struct nics *ns, const char *file, char *text)
{
  CLEANUP_FREE char *name = NULL, *mac = NULL;
  for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
    char *v;
    if ((v = keyval (line, "interface-name=")) != NULL) {
      free (name);
      name = v;
    }
    else if ((v = keyval (line, "mac-address=")) != NULL) {
      free (mac);
      mac = v;
    }
  }
  if (name)
    add_nic (ns, name, mac, file);
}

static void
scan_ifcfg (struct nics *ns, const char *file, char *text)
{
  CLEANUP_FREE char *name = NULL, *mac = NULL;
  for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
    char *v;
    if ((v = keyval (line, "DEVICE=")) != NULL) {
      free (name);
      name = v;
    }
    else if ((v = keyval (line, "HWADDR=")) != NULL) {
      free (mac);
      mac = v;
    }
  }
  if (!name) {
    /* SUSE's ifcfg files are named after the interface. */
    const char *b = strrchr (file, '/');
    if (b && strncmp (b + 1, "ifcfg-", 6) == 0)
      name = strdup (b + 7);
  }
  if (name)
    add_nic (ns, name, mac, file);
}

static void
scan_networkd (struct nics *ns, const char *file, char *text)
{
  CLEANUP_FREE char *name = NULL, *mac = NULL;
  for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
    char *v;
    if ((v = keyval (line, "Name=")) != NULL) {
      free (name);
      name = v;
    }
    else if ((v = keyval (line, "MACAddress=")) != NULL) {
      free (mac);
      mac = v;
    }
  }
  if (name)
    add_nic (ns, name, mac, file);
}

/* netplan: the keys directly under "ethernets:" are interface names (or
 * ids; an id with "match: macaddress" and "set-name" names its NIC). */
static void
scan_netplan (struct nics *ns, const char *file, char *text)
{
  int eth_indent = -1, key_indent = -1;
  CLEANUP_FREE char *cur = NULL;
  for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
    int ind = strspn (line, " ");
    char *p = line + ind;
    if (*p == '#' || *p == '\0')
      continue;
    if (strncmp (p, "ethernets:", 10) == 0) {
      eth_indent = ind;
      key_indent = -1;
      continue;
    }
    if (eth_indent < 0)
      continue;
    if (ind <= eth_indent) {
      eth_indent = -1;
      continue;
    }
    if (key_indent < 0)
      key_indent = ind;
    if (ind == key_indent) {
      size_t len = strcspn (p, ":");
      free (cur);
      cur = strndup (p, len);
      add_nic (ns, cur, NULL, file);
    }
    else if (cur) {
      char *v;
      if ((v = keyval (p, "set-name:")) != NULL) {
        add_nic (ns, v, NULL, file);
        free (v);
      }
      else if ((v = keyval (p, "macaddress:")) != NULL) {
        add_nic (ns, cur, v, file);
        free (v);
      }
    }
  }
}

static void
scan (struct gf *gf, struct nics *ns, const char *pattern, scan_fn fn)
{
  char **files = gglob (gf, pattern);
  for (size_t i = 0; files[i]; i++) {
    if (!gfile_exists (gf, files[i]))
      continue;
    CLEANUP_FREE char *text = gfile_read (gf, files[i], NULL);
    if (text)
      fn (ns, files[i], text);
  }
  strv_free (files);
}

/* With one NIC, configurations bound to the VMware card's MAC address
 * would ignore the new card: comment those lines out. */
static char *
unbind_mac_line (struct gf *gf, const char *line, void *data)
{
  static const char *const keys[] = {
    "mac-address=", "HWADDR=", "MACAddress=", NULL
  };
  const char *p = line + strspn (line, " \t");
  for (size_t i = 0; keys[i]; i++)
    if (strncmp (p, keys[i], strlen (keys[i])) == 0) {
      char *s;
      if (asprintf (&s, "# %s  # h2k guest-fix: bound to the VMware NIC",
                    line) == -1)
        h2k_die ("out of memory");
      return s;
    }
  return NULL;
}

/* The PCI slot number in a systemd slot name: "ens192" is 192.  Only the
 * plain form: a function (ens192f1), port (ens192d1, ens192np0) or domain
 * (enP1s192) suffix means a card VMware does not make. */
static long
slot_of_name (const char *name)
{
  if (strncmp (name, "ens", 3) != 0 || !isdigit ((unsigned char) name[3])
      || (name[3] == '0' && name[4] != '\0'))
    return -1;
  char *end;
  long n = strtol (name + 3, &end, 10);
  return *end == '\0' && n <= 65535 ? n : -1;
}

/* A record's MAC address in lower case, or NULL when it is not one
 * (it goes into a udev rule, so nothing else may pass). */
static char *
record_mac (const char *s)
{
  if (s == NULL || strlen (s) != 17)
    return NULL;
  for (size_t i = 0; i < 17; i++)
    if (i % 3 == 2 ? s[i] != ':' && s[i] != '-'
        : !isxdigit ((unsigned char) s[i]))
      return NULL;
  char *m = strdup (s);
  if (m == NULL)
    h2k_die ("out of memory");
  for (char *p = m; *p; p++)
    *p = *p == '-' ? ':' : tolower ((unsigned char) *p);
  return m;
}

static char *
xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) == -1)
    h2k_die ("out of memory");
  va_end (ap);
  return s;
}

/* With several NICs: give each NIC named by slot and by no MAC address
 * the MAC of the --source record's NIC in that slot, and check the MACs
 * configurations name against the record. */
static void
macs_from_source (struct gf *gf, struct nics *ns)
{
  json_object *rnics = NULL;
  json_object_object_get_ex (gf->source, "nics", &rnics);
  size_t nr = rnics && json_object_is_type (rnics, json_type_array)
    ? json_object_array_length (rnics) : 0;

  for (size_t i = 0; i < ns->n; i++) {
    struct nic *nic = &ns->v[i];
    if (nic->mac) {
      /* The new machine gets the record's MAC addresses (virt-define):
       * a rule for any other address would never match. */
      bool known = false;
      for (size_t k = 0; k < nr && !known; k++) {
        const char *m;
        CLEANUP_FREE char *rm = NULL;
        if (h2k_json_get_string (json_object_array_get_idx (rnics, k), "mac", &m)
            && (rm = record_mac (m)) != NULL)
          known = strcmp (rm, nic->mac) == 0;
      }
      if (!known)
        gf_warn (gf, "network: %s: its configuration's MAC address %s is no "
                 "NIC's in %s: the rule matches only if the new machine has "
                 "that address", nic->name, nic->mac, gf->source_name);
      continue;
    }
    if (nic->pci_slot < 0)
      continue;

    json_object *found = NULL;
    size_t at = 0;
    for (size_t k = 0; k < nr && !found; k++) {
      json_object *rn = json_object_array_get_idx (rnics, k);
      int64_t slot;
      if (h2k_json_get_int64 (rn, "pci_slot", &slot) && slot == nic->pci_slot) {
        found = rn;
        at = k;
      }
    }
    if (found == NULL) {
      nic->why = xasprintf ("%s has no NIC in PCI slot %ld",
                                gf->source_name, nic->pci_slot);
      continue;
    }
    const char *m = NULL;
    char *mac = h2k_json_get_string (found, "mac", &m) ? record_mac (m) : NULL;
    if (mac == NULL) {
      nic->why = xasprintf ("the NIC in PCI slot %ld in %s has no usable "
                                "MAC address", nic->pci_slot, gf->source_name);
      continue;
    }
    /* Two rules for one address would fight over the card. */
    const char *other = NULL;
    for (size_t j = 0; j < ns->n && !other; j++)
      if (j != i && ns->v[j].mac && strcmp (ns->v[j].mac, mac) == 0)
        other = ns->v[j].name;
    if (other) {
      nic->why = xasprintf ("the NIC in PCI slot %ld in %s has MAC address "
                                "%s, which the configuration of %s names",
                                nic->pci_slot, gf->source_name, mac, other);
      free (mac);
      continue;
    }
    const char *label;
    nic->mac = mac;
    nic->mac_from_source = true;
    if (h2k_json_get_string (found, "label", &label))
      nic->source_nic = strdup (label);
    else
      nic->source_nic = xasprintf ("nics[%zu]", at);
  }
}

static void
write_rules (struct gf *gf, struct fixrun *fx, struct nics *ns)
{
  CLEANUP_FREE char *rules = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&rules, &len);
  fputs ("# Written by h2k guest-fix: the virtio NIC of the KVM machine\n"
         "# keeps the name the network configuration expects.\n", fp);
  size_t written = 0, from_source = 0;
  if (ns->n == 1) {
    fprintf (fp, "SUBSYSTEM==\"net\", ACTION==\"add\", "
             "DRIVERS==\"virtio_net\", NAME=\"%s\"\n", ns->v[0].name);
    written++;
  }
  else
    for (size_t i = 0; i < ns->n; i++) {
      if (!ns->v[i].mac) {
        if (ns->v[i].why)
          gf_warn (gf, "network: %s: several NICs and no MAC address for "
                   "this one (%s): name it on the new machine by hand",
                   ns->v[i].name, ns->v[i].why);
        else if (ns->v[i].pci_slot >= 0)
          gf_warn (gf, "network: %s: several NICs and no MAC address for "
                   "this one: give the VM record (--source) for the MAC of "
                   "the NIC in PCI slot %ld, or name it on the new machine "
                   "by hand", ns->v[i].name, ns->v[i].pci_slot);
        else
          gf_warn (gf, "network: %s: several NICs and no MAC address for "
                   "this one: name it on the new machine by hand",
                   ns->v[i].name);
        continue;
      }
      if (ns->v[i].mac_from_source) {
        fprintf (fp, "# %s: the MAC address of %s, in PCI slot %ld (from the "
                 "VM record)\n", ns->v[i].name, ns->v[i].source_nic,
                 ns->v[i].pci_slot);
        from_source++;
      }
      fprintf (fp, "SUBSYSTEM==\"net\", ACTION==\"add\", "
               "ATTR{address}==\"%s\", NAME=\"%s\"\n",
               ns->v[i].mac, ns->v[i].name);
      written++;
    }
  fclose (fp);
  if (written == 0)
    return;
  /* The rules themselves, in the report: which name each address gets is
   * what a reader of a dry run wants to check. */
  json_object *lines = json_object_new_array ();
  CLEANUP_FREE char *copy = strdup (rules);
  if (copy == NULL)
    h2k_die ("out of memory");
  char *save = NULL;
  for (char *l = strtok_r (copy, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    if (l[0] != '#')
      json_object_array_add (lines, json_object_new_string (l));
  fx_note (fx, "udev_rules", lines);
  if (!gf->dry_run && guestfs_mkdir_p (gf->g, "/etc/udev/rules.d") == -1) {
    fx_fail (fx, "/etc/udev/rules.d: %s", gerr (gf));
    return;
  }
  CLEANUP_FREE char *detail = NULL;
  if (ns->n == 1)
    detail = strdup ("the virtio NIC takes the configured name");
  else if (from_source == 0)
    detail = strdup ("each NIC, by MAC address, takes its configured name");
  else
    detail = xasprintf ("each NIC, by MAC address, takes its configured "
                            "name (%zu MAC address%s from the VM record, by "
                            "PCI slot)", from_source,
                            from_source == 1 ? "" : "es");
  if (detail == NULL)
    h2k_die ("out of memory");
  gfile_write (gf, fx, "/etc/udev/rules.d/70-h2k-net.rules", rules, len,
               "create", detail);
}

void
fix_network (struct gf *gf, struct fixrun *fx)
{
  /* Rules that pinned names to the VMware cards' MAC addresses would give
   * the new NIC a fresh name (eth1) instead. */
  static const char *const stale[] = {
    "/etc/udev/rules.d/70-persistent-net.rules", NULL
  };
  for (size_t i = 0; stale[i]; i++)
    if (gfile_exists (gf, stale[i])) {
      if (!gf->dry_run && guestfs_rm (gf->g, stale[i]) == -1) {
        fx_fail (fx, "%s: %s", stale[i], gerr (gf));
        return;
      }
      fx_change (fx, stale[i], "remove", "persistent names of the VMware NICs");
    }

  struct nics ns = { .n = 0 };
  scan (gf, &ns, "/etc/network/interfaces", scan_ifupdown);
  scan (gf, &ns, "/etc/network/interfaces.d/*", scan_ifupdown);
  scan (gf, &ns, "/etc/NetworkManager/system-connections/*", scan_keyfile);
  scan (gf, &ns, "/etc/sysconfig/network-scripts/ifcfg-*", scan_ifcfg);
  scan (gf, &ns, "/etc/sysconfig/network/ifcfg-*", scan_ifcfg);
  scan (gf, &ns, "/etc/systemd/network/*.network", scan_networkd);
  scan (gf, &ns, "/etc/netplan/*.yaml", scan_netplan);

  for (size_t i = 0; i < ns.n; i++)
    ns.v[i].pci_slot = slot_of_name (ns.v[i].name);
  if (ns.n > 1 && gf->source)
    macs_from_source (gf, &ns);

  json_object *list = json_object_new_array ();
  for (size_t i = 0; i < ns.n; i++) {
    const struct nic *nic = &ns.v[i];
    json_object *o = json_object_new_object ();
    json_object_object_add (o, "name", json_object_new_string (nic->name));
    if (nic->pci_slot >= 0)
      json_object_object_add (o, "pci_slot", json_object_new_int64 (nic->pci_slot));
    if (nic->mac) {
      json_object_object_add (o, "mac", json_object_new_string (nic->mac));
      json_object_object_add (o, "mac_from", json_object_new_string (
                                nic->mac_from_source ? "source" : "configuration"));
    }
    if (nic->source_nic)
      json_object_object_add (o, "source_nic",
                              json_object_new_string (nic->source_nic));
    json_object_object_add (o, "configured_in", nic->files);
    json_object_array_add (list, o);
  }
  fx_note (fx, "interfaces", list);

  if (ns.n == 0) {
    if (json_object_array_length (fx->changes) == 0)
      fx_skip (fx, "no configuration names a network interface");
  }
  else {
    write_rules (gf, fx, &ns);
    if (ns.n == 1 && !fx->failed) {
      static const char *const bound[] = {
        "/etc/NetworkManager/system-connections/*",
        "/etc/sysconfig/network-scripts/ifcfg-*",
        "/etc/sysconfig/network/ifcfg-*",
        "/etc/systemd/network/*.network", NULL
      };
      for (size_t i = 0; bound[i]; i++) {
        char **files = gglob (gf, bound[i]);
        for (size_t j = 0; files[j]; j++)
          if (gfile_exists (gf, files[j]))
            gfile_edit_lines (gf, fx, files[j], unbind_mac_line, NULL);
        strv_free (files);
      }
    }
  }
  for (size_t i = 0; i < ns.n; i++) {
    free (ns.v[i].name);
    free (ns.v[i].mac);
    free (ns.v[i].source_nic);
    free (ns.v[i].why);
  }
}
