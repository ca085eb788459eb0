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
 * address its configuration names, which the migrated machine keeps. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

struct nic {
  char *name;
  char *mac;                    /* lower case, or NULL */
  json_object *files;           /* configurations naming it */
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
    nic->name = strdup (name);
    nic->files = json_object_new_array ();
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

static void
write_rules (struct gf *gf, struct fixrun *fx, struct nics *ns)
{
  CLEANUP_FREE char *rules = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&rules, &len);
  fputs ("# Written by h2k guest-fix: the virtio NIC of the KVM machine\n"
         "# keeps the name the network configuration expects.\n", fp);
  size_t written = 0;
  if (ns->n == 1) {
    fprintf (fp, "SUBSYSTEM==\"net\", ACTION==\"add\", "
             "DRIVERS==\"virtio_net\", NAME=\"%s\"\n", ns->v[0].name);
    written++;
  }
  else
    for (size_t i = 0; i < ns->n; i++) {
      if (!ns->v[i].mac) {
        gf_warn (gf, "network: %s: several NICs and no MAC address for "
                 "this one: name it on the new machine by hand",
                 ns->v[i].name);
        continue;
      }
      fprintf (fp, "SUBSYSTEM==\"net\", ACTION==\"add\", "
               "ATTR{address}==\"%s\", NAME=\"%s\"\n",
               ns->v[i].mac, ns->v[i].name);
      written++;
    }
  fclose (fp);
  if (written == 0)
    return;
  if (!gf->dry_run && guestfs_mkdir_p (gf->g, "/etc/udev/rules.d") == -1) {
    fx_fail (fx, "/etc/udev/rules.d: %s", gerr (gf));
    return;
  }
  gfile_write (gf, fx, "/etc/udev/rules.d/70-h2k-net.rules", rules, len,
               "create", ns->n == 1
               ? "the virtio NIC takes the configured name"
               : "each NIC, by MAC address, takes its configured name");
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

  json_object *list = json_object_new_array ();
  for (size_t i = 0; i < ns.n; i++) {
    json_object *o = json_object_new_object ();
    json_object_object_add (o, "name", json_object_new_string (ns.v[i].name));
    if (ns.v[i].mac)
      json_object_object_add (o, "mac", json_object_new_string (ns.v[i].mac));
    json_object_object_add (o, "configured_in", ns.v[i].files);
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
  }
}
