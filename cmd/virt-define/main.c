/* virt-define: libvirt domain XML from VM records, OVF/OVA or VMX.
 *
 * The story: parse the options; read the source(s) into the source
 * model; with --print-source, show the model and stop; otherwise map the
 * disks, write every domain into memory, and only when all of them are
 * complete write them out (stdout, or DIR/NAME.xml through NAME.xml.part
 * and a rename), so that bad input never leaves half a domain behind.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "util/h2k.h"
#include "virt-define.h"

DEFINE_VECTOR_TYPE (source_list, struct vd_source *);
DEFINE_VECTOR_TYPE (string_list, char *);

/* The file being written, removed by the die hook if we fail midway. */
static struct h2k_outfile *current_out;

static void
abort_current_out (void)
{
  if (current_out)
    h2k_outfile_abort (current_out);
}

enum {
  NAME_OPTION = H2K_OPT_PROGRAM, CPU_OPTION, MACHINE_OPTION, VIRT_TYPE_OPTION,
  FIRMWARE_OPTION, VCPUS_OPTION, MEMORY_OPTION, BUS_OPTION, DISK_OPTION,
  DISK_DIR_OPTION, NETWORK_OPTION, BRIDGE_OPTION, GRAPHICS_OPTION,
  OUT_DIR_OPTION, PRINT_SOURCE_OPTION, STRICT_OPTION,
};

static const char short_options[] = H2K_SHORT_OPTIONS_COMMON;
static const struct option long_options[] = {
  H2K_LONG_OPTIONS_COMMON,
  { "name",          required_argument, NULL, NAME_OPTION },
  { "cpu",           required_argument, NULL, CPU_OPTION },
  { "machine",       required_argument, NULL, MACHINE_OPTION },
  { "virt-type",     required_argument, NULL, VIRT_TYPE_OPTION },
  { "firmware",      required_argument, NULL, FIRMWARE_OPTION },
  { "vcpus",         required_argument, NULL, VCPUS_OPTION },
  { "memory",        required_argument, NULL, MEMORY_OPTION },
  { "bus",           required_argument, NULL, BUS_OPTION },
  { "disk",          required_argument, NULL, DISK_OPTION },
  { "disk-dir",      required_argument, NULL, DISK_DIR_OPTION },
  { "network",       required_argument, NULL, NETWORK_OPTION },
  { "bridge",        required_argument, NULL, BRIDGE_OPTION },
  { "graphics",      required_argument, NULL, GRAPHICS_OPTION },
  { "out-dir",       required_argument, NULL, OUT_DIR_OPTION },
  { "print-source",  no_argument,       NULL, PRINT_SOURCE_OPTION },
  { "strict",        no_argument,       NULL, STRICT_OPTION },
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *fp)
{
  fprintf (fp, "%s: libvirt domain XML from VM records, OVF/OVA or VMX\n"
          "\n"
          "Usage:\n"
          "  %s [OPTIONS] FILE.ovf|FILE.ova|FILE.vmx|RECORDS.jsonl\n"
          "  %s [OPTIONS] < RECORDS.jsonl      VM records from vs-ls/vs-pull\n"
          "\n"
          "Source:\n"
          "  --print-source        print what was read as a JSON record, and stop\n"
          "  --name NAME           the domain's name (default: the source's)\n"
          "\n"
          "Disks:\n"
          "  --disk PATH           the converted disk for each source disk, in order\n"
          "                        (repeatable)\n"
          "  --disk-dir DIR        find DIR/NAME.qcow2 (or .raw, .img) for each source\n"
          "                        disk NAME.vmdk (default: the records' \"local\")\n"
          "  --bus virtio|scsi|sata   disk bus (default virtio)\n"
          "\n"
          "Machine:\n"
          "  --machine q35|pc      machine type (default q35)\n"
          "  --firmware bios|efi   override the source's firmware (default: the\n"
          "                        source's, BIOS when it does not say)\n"
          "  --cpu MODE            host-model (default), host-passthrough, maximum,\n"
          "                        or a CPU model name\n"
          "  --vcpus N             override the number of vCPUs\n"
          "  --memory SIZE         override the memory size (4096 = MiB, or 4G)\n"
          "  --virt-type kvm|qemu  libvirt domain type (default kvm)\n"
          "  --graphics vnc|spice|none   the display (default vnc)\n"
          "\n"
          "Networks:\n"
          "  --network SRC=DST     source network SRC on libvirt network DST\n"
          "  --network DST         every other NIC on libvirt network DST\n"
          "  --bridge SRC=BR       source network SRC on host bridge BR\n"
          "  --bridge BR           every other NIC on host bridge BR\n"
          "                        (NICs mapped nowhere go to the network 'default')\n"
          "\n"
          "Output:\n"
          "  --out-dir DIR         write DIR/NAME.xml for each VM (default: stdout,\n"
          "                        one VM only)\n"
          "  --strict              missing disks, MACs and firmware are errors\n"
          "  -V, --version         print the version\n"
          "  --help                this help\n"
          "\n"
          "For more information, see the manpage %s(1).\n",
          h2k_program (), h2k_program (), h2k_program (), h2k_program ());
}

static void
one_of (const char *opt, const char *val, const char *const *allowed)
{
  for (size_t i = 0; allowed[i]; i++)
    if (strcmp (val, allowed[i]) == 0)
      return;
  h2k_usage_error ("%s: \"%s\" is not one of the accepted values", opt, val);
}

static int64_t
parse_memory (const char *val)
{
  uint64_t bytes;
  size_t digits = strspn (val, "0123456789");
  if (digits > 0 && val[digits] == '\0') {
    /* A bare number is MiB, as virt-install takes it. */
    return h2k_option_uint ("--memory", val, 1, INT64_MAX >> 20);
  }
  if (h2k_parse_size (val, &bytes) == -1 || bytes < (1 << 20))
    h2k_usage_error ("--memory: could not parse: %s", val);
  return (int64_t) ((bytes + (1 << 20) - 1) >> 20);
}

/* Read a whole (small) file: descriptors, not disks. */
static char *
slurp (const char *path, size_t max, size_t *len)
{
  CLEANUP_FCLOSE FILE *fp = fopen (path, "rb");
  if (fp == NULL) {
    h2k_seterr ("%s: %m", path);
    return NULL;
  }
  size_t cap = 65536, n = 0;
  char *buf = malloc (cap + 1);
  if (buf == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  for (;;) {
    if (n == cap) {
      if (cap >= max) {
        free (buf);
        h2k_seterr ("%s: larger than %zu MiB: not a VM description", path,
                    max >> 20);
        return NULL;
      }
      char *nb = realloc (buf, cap * 2 + 1);
      if (nb == NULL) {
        free (buf);
        h2k_seterr ("out of memory");
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread (buf + n, 1, cap - n, fp);
    n += r;
    if (r == 0) {
      if (ferror (fp)) {
        free (buf);
        h2k_seterr ("%s: read error: %m", path);
        return NULL;
      }
      break;
    }
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

enum kind { K_OVF, K_OVA, K_VMX, K_RECORDS };

static enum kind
input_kind (const char *path)
{
  size_t l = strlen (path);
  if (l > 4 && strcasecmp (path + l - 4, ".ovf") == 0) return K_OVF;
  if (l > 4 && strcasecmp (path + l - 4, ".ova") == 0) return K_OVA;
  if (l > 4 && strcasecmp (path + l - 4, ".vmx") == 0) return K_VMX;
  if ((l > 5 && strcasecmp (path + l - 5, ".json") == 0)
      || (l > 6 && strcasecmp (path + l - 6, ".jsonl") == 0))
    return K_RECORDS;

  /* No telling extension: look at the first bytes. */
  unsigned char h[512] = { 0 };
  CLEANUP_FCLOSE FILE *fp = fopen (path, "rb");
  size_t n = fp ? fread (h, 1, sizeof h, fp) : 0;
  if (n >= 262 && memcmp (h + 257, "ustar", 5) == 0) return K_OVA;
  if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) return K_OVA;
  if (n >= 6 && memcmp (h, "\xfd" "7zXZ", 5) == 0) return K_OVA;
  if (n >= 4 && memcmp (h, "PK\3\4", 4) == 0) return K_OVA;
  size_t i = 0;
  if (n >= 3 && memcmp (h, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r'))
    i++;
  if (i < n && h[i] == '<') return K_OVF;
  if (i < n && h[i] == '{') return K_RECORDS;
  return K_VMX;
}

static int
read_records (FILE *fp, const char *name, source_list *sources)
{
  struct h2k_jsonl_reader r;
  json_object *obj;
  int ret, status = 0;

  h2k_jsonl_reader_init (&r, fp, name);
  while ((ret = h2k_jsonl_read (&r, &obj)) == 1) {
    CLEANUP_JSON json_object *o = obj;
    CLEANUP_FREE char *where = NULL;
    const char *kind;
    if (asprintf (&where, "%s: line %lu", name, r.lineno) == -1) {
      status = h2k_seterr ("out of memory");
      break;
    }
    /* vs-ls can list datastores and hosts too; only VMs become domains. */
    if (h2k_json_get_string (o, "kind", &kind) && strcmp (kind, "vm") != 0) {
      h2k_warn ("%s: a \"%s\" record, not a VM: skipped", where, kind);
      continue;
    }
    struct vd_source *src = vd_read_record (o, where);
    if (src == NULL || source_list_append (sources, src) == -1) {
      vd_source_free (src);
      status = -1;
      break;
    }
  }
  if (ret == -1)
    status = -1;
  h2k_jsonl_reader_free (&r);
  if (status == 0 && sources->len == 0)
    status = h2k_seterr ("%s: no VM record", name);
  return status;
}

static int
read_input (const char *path, source_list *sources)
{
  struct vd_source *src = NULL;
  CLEANUP_FREE char *buf = NULL;
  size_t len;

  switch (input_kind (path)) {
  case K_OVA:
    src = vd_read_ova (path);
    break;
  case K_OVF:
    if ((buf = slurp (path, 16 << 20, &len)) != NULL)
      src = vd_read_ovf (buf, len, path);
    break;
  case K_VMX:
    if ((buf = slurp (path, 4 << 20, &len)) != NULL)
      src = vd_read_vmx (buf, len, path);
    break;
  case K_RECORDS: {
    CLEANUP_FCLOSE FILE *fp = fopen (path, "r");
    if (fp == NULL)
      return h2k_seterr ("%s: %m", path);
    return read_records (fp, path, sources);
  }
  }
  if (src == NULL)
    return -1;
  if (source_list_append (sources, src) == -1) {
    vd_source_free (src);
    return -1;
  }
  return 0;
}

/* Warn about source networks named in --network/--bridge that no NIC
 * uses: usually a typo, and the NIC silently lands on the default. */
static void
check_network_names (const source_list *sources, char **list, size_t n,
                     const char *opt)
{
  for (size_t i = 0; i < n; i++) {
    const char *eq = strrchr (list[i], '=');
    if (eq == NULL)
      continue;
    bool used = false;
    for (size_t s = 0; s < sources->len && !used; s++)
      for (size_t k = 0; k < sources->ptr[s]->nics.len && !used; k++) {
        const char *net = sources->ptr[s]->nics.ptr[k].network;
        used = net && strlen (net) == (size_t) (eq - list[i])
          && strncmp (net, list[i], (size_t) (eq - list[i])) == 0;
      }
    if (!used)
      h2k_warn ("%s %s: no NIC of the source is on network \"%.*s\"", opt,
                list[i], (int) (eq - list[i]), list[i]);
  }
}

/* Two domains (or two disks of one) on the same image would both write
 * to it and destroy it; a shared --disk-dir where two VMs have a disk
 * called disk1.vmdk does exactly that.  Sorted, so that 10,000 VMs cost
 * no more than their names. */
struct disk_ref {
  const char *path;
  const char *vm;
  size_t disk;
  size_t order;                 /* keeps equal paths in source order */
};

static int
compare_refs (const void *a, const void *b)
{
  const struct disk_ref *x = a, *y = b;
  int c = strcmp (x->path, y->path);
  if (c)
    return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

static int
check_shared_disks (const source_list *sources, const struct vd_map *map)
{
  size_t n = 0, k = 0;
  for (size_t a = 0; a < sources->len; a++)
    n += sources->ptr[a]->disks.len;
  CLEANUP_FREE struct disk_ref *refs = calloc (n + 1, sizeof *refs);
  if (refs == NULL)
    return h2k_seterr ("out of memory");
  for (size_t a = 0; a < sources->len; a++)
    for (size_t i = 0; i < sources->ptr[a]->disks.len; i++)
      if (sources->ptr[a]->disks.ptr[i].path) {
        refs[k].path = sources->ptr[a]->disks.ptr[i].path;
        refs[k].vm = map->name ? map->name : sources->ptr[a]->name;
        refs[k].disk = i + 1;
        refs[k].order = k;
        k++;
      }
  if (k > 1)
    qsort (refs, k, sizeof *refs, compare_refs);
  for (size_t i = 1; i < k; i++)
    if (strcmp (refs[i - 1].path, refs[i].path) == 0)
      return h2k_seterr ("%s: disk %zu and %s: disk %zu are both %s: give "
                         "each VM its own --disk-dir or --disk",
                         refs[i - 1].vm, refs[i - 1].disk, refs[i].vm,
                         refs[i].disk, refs[i].path);
  return 0;
}

static void
write_file (const char *dir, const char *name, const char *doc)
{
  CLEANUP_FREE char *path = NULL;
  struct h2k_outfile out;

  if (asprintf (&path, "%s/%s.xml", dir, name) == -1)
    h2k_die ("out of memory");
  if (h2k_outfile_open (&out, path) == -1)
    h2k_die ("%s", h2k_errmsg ());
  current_out = &out;
  if (h2k_write_full (out.fd, doc, strlen (doc)) == -1)
    h2k_die ("%s: %s", out.part, h2k_errmsg ());
  if (h2k_outfile_commit (&out) == -1)
    h2k_die ("%s", h2k_errmsg ());
  current_out = NULL;
}

/* The domain XML of every source, in memory: a failure stops before
 * anything is written. */
static char **
make_domains (source_list *sources, struct vd_map *map)
{
  char **docs = calloc (sources->len, sizeof *docs);
  if (docs == NULL)
    h2k_die ("out of memory");
  for (size_t i = 0; i < sources->len; i++) {
    struct vd_source *src = sources->ptr[i];
    const char *name = map->name ? map->name : src->name ? src->name : "(no name)";
    for (size_t k = 0; k < src->removables.len; k++)
      h2k_warn ("%s: %s %s dropped: CD-ROMs and floppies are not carried over",
                name, src->removables.ptr[k].type,
                src->removables.ptr[k].label ? src->removables.ptr[k].label : "");
    if (vd_map_disks (src, map) == -1)
      h2k_die ("%s", h2k_errmsg ());
    if ((docs[i] = vd_write_domain (src, map)) == NULL)
      h2k_die ("%s", h2k_errmsg ());
  }
  if (check_shared_disks (sources, map) == -1)
    h2k_die ("%s", h2k_errmsg ());
  return docs;
}

/* --out-dir: DOCS[i] as OUT_DIR/NAME.xml, NAME the source's sanitized
 * name; two VMs whose names sanitize alike never overwrite each other. */
static void
write_domains (const char *out_dir, source_list *sources,
               const struct vd_map *map, char **docs)
{
  if (mkdir (out_dir, 0777) == -1 && errno != EEXIST)
    h2k_die ("--out-dir: %s: %m", out_dir);
  string_list used = { 0 };
  for (size_t i = 0; i < sources->len; i++) {
    const char *name = map->name ? map->name : sources->ptr[i]->name;
    CLEANUP_FREE char *base = vd_sanitize_filename (name);
    if (base == NULL)
      h2k_die ("out of memory");
    char *file = strdup (base);
    for (unsigned n = 2; file; n++) {
      bool clash = false;
      for (size_t k = 0; k < used.len; k++)
        clash |= strcmp (used.ptr[k], file) == 0;
      if (!clash)
        break;
      free (file);
      if (asprintf (&file, "%s-%u", base, n) == -1)
        file = NULL;
    }
    if (file == NULL || string_list_append (&used, file) == -1)
      h2k_die ("out of memory");
    if (strcmp (file, base) != 0)
      h2k_warn ("%s: written as %s.xml: another VM here has a name that "
                "gives the same file name", name, file);
    write_file (out_dir, file, docs[i]);
  }
  for (size_t k = 0; k < used.len; k++)
    free (used.ptr[k]);
  string_list_reset (&used);
}

/* What goes into the XML from the command line must be text XML can hold,
 * like what comes from the sources. */
static void
check_map_text (const struct vd_map *map, const string_list *networks,
                const string_list *bridges)
{
  if (!vd_xml_text_ok (map->cpu, false))
    h2k_usage_error ("--cpu: not a CPU model name");
  for (size_t i = 0; i < networks->len; i++)
    if (!vd_xml_text_ok (networks->ptr[i], false))
      h2k_usage_error ("--network: not a network name");
  for (size_t i = 0; i < bridges->len; i++)
    if (!vd_xml_text_ok (bridges->ptr[i], false))
      h2k_usage_error ("--bridge: not a bridge name");
}

int
main (int argc, char *argv[])
{
  struct vd_map map = {
    .cpu = "host-model", .machine = "q35", .virt_type = "kvm",
    .bus = "virtio", .graphics = "vnc", .vcpus = -1, .memory_mib = -1,
  };
  string_list disks = { 0 }, networks = { 0 }, bridges = { 0 };
  const char *out_dir = NULL;
  bool print_source = false;
  int c;

  h2k_set_program (argv[0]);
  h2k_set_die_hook (abort_current_out);

  for (;;) {
    c = getopt_long (argc, argv, short_options, long_options, NULL);
    if (c == -1)
      break;
    switch (c) {
    case NAME_OPTION:
      if (*optarg == '\0')
        h2k_usage_error ("--name: empty name");
      map.name = optarg;
      break;
    case CPU_OPTION:
      if (*optarg == '\0')
        h2k_usage_error ("--cpu: empty CPU mode");
      map.cpu = optarg;
      break;
    case MACHINE_OPTION:
      if (strcmp (optarg, "q35") != 0 && strcmp (optarg, "pc") != 0
          && strncmp (optarg, "pc-q35-", 7) != 0
          && strncmp (optarg, "pc-i440fx-", 10) != 0)
        h2k_usage_error ("--machine: \"%s\" is not q35, pc, pc-q35-* or "
                     "pc-i440fx-*", optarg);
      map.machine = optarg;
      break;
    case VIRT_TYPE_OPTION:
      one_of ("--virt-type", optarg, (const char *[]) { "kvm", "qemu", NULL });
      map.virt_type = optarg;
      break;
    case FIRMWARE_OPTION:
      if (strcmp (optarg, "bios") == 0)
        map.firmware = VD_FW_BIOS;
      else if (strcmp (optarg, "efi") == 0 || strcmp (optarg, "uefi") == 0)
        map.firmware = VD_FW_EFI;
      else
        h2k_usage_error ("--firmware: \"%s\" is not bios or efi", optarg);
      break;
    case VCPUS_OPTION:
      map.vcpus = h2k_option_uint ("--vcpus", optarg, 1, INT32_MAX);
      break;
    case MEMORY_OPTION:
      map.memory_mib = parse_memory (optarg);
      break;
    case BUS_OPTION:
      one_of ("--bus", optarg, (const char *[]) { "virtio", "scsi", "sata", NULL });
      map.bus = optarg;
      break;
    case DISK_OPTION:
      if (*optarg == '\0')
        h2k_usage_error ("--disk: empty path");
      if (string_list_append (&disks, optarg) == -1)
        h2k_die ("%s", h2k_errmsg ());
      break;
    case DISK_DIR_OPTION:
      map.disk_dir = optarg;
      break;
    case NETWORK_OPTION:
    case BRIDGE_OPTION: {
      const char *opt = c == NETWORK_OPTION ? "--network" : "--bridge";
      const char *eq = strrchr (optarg, '=');
      if (*optarg == '\0' || (eq && (eq == optarg || eq[1] == '\0')))
        h2k_usage_error ("%s: \"%s\": give SRC=DST or DST", opt, optarg);
      if (string_list_append (c == NETWORK_OPTION ? &networks : &bridges,
                              optarg) == -1)
        h2k_die ("%s", h2k_errmsg ());
      break;
    }
    case GRAPHICS_OPTION:
      one_of ("--graphics", optarg, (const char *[]) { "vnc", "spice", "none", NULL });
      map.graphics = optarg;
      break;
    case OUT_DIR_OPTION:
      out_dir = optarg;
      break;
    case PRINT_SOURCE_OPTION:
      print_source = true;
      break;
    case STRICT_OPTION:
      map.strict = true;
      break;
    default:
      h2k_option_common (c, short_options, long_options, usage);
    }
  }
  if (argc - optind > 1)
    h2k_usage_error ("one input at most (FILE.ovf, FILE.ova, FILE.vmx, or VM "
                 "records on stdin)");
  check_map_text (&map, &networks, &bridges);
  map.disks = disks.ptr;
  map.ndisks = disks.len;
  map.networks = networks.ptr;
  map.nnetworks = networks.len;
  map.bridges = bridges.ptr;
  map.nbridges = bridges.len;
  CLEANUP_FREE char *disk_dir = NULL;
  if (map.disk_dir) {
    struct stat st;
    if (stat (map.disk_dir, &st) == -1 || !S_ISDIR (st.st_mode))
      h2k_die ("--disk-dir: %s: not a directory", map.disk_dir);
    /* Absolute, as libvirt wants the disk paths. */
    if ((disk_dir = realpath (map.disk_dir, NULL)) == NULL)
      h2k_die ("--disk-dir: %s: %m", map.disk_dir);
    map.disk_dir = disk_dir;
  }

  /* Read every source first. */
  source_list sources = { 0 };
  const char *input = optind < argc ? argv[optind] : NULL;
  if (input == NULL && isatty (STDIN_FILENO))
    h2k_usage_error ("no input: give a FILE or VM records on stdin");
  if ((input ? read_input (input, &sources)
       : read_records (stdin, "<stdin>", &sources)) == -1)
    h2k_die ("%s", h2k_errmsg ());

  if (print_source) {
    for (size_t i = 0; i < sources.len; i++) {
      CLEANUP_JSON json_object *o = vd_source_to_json (sources.ptr[i]);
      if (o == NULL || h2k_jsonl_write (stdout, o) == -1)
        h2k_die ("%s", h2k_errmsg ());
    }
    goto done;
  }

  if (sources.len > 1) {
    if (out_dir == NULL)
      h2k_die ("%zu VM records: one domain goes to stdout; use --out-dir DIR "
               "for several", sources.len);
    if (map.name || map.ndisks)
      h2k_usage_error ("--name and --disk describe one VM, but %zu records were "
                   "given", sources.len);
  }
  check_network_names (&sources, map.networks, map.nnetworks, "--network");
  check_network_names (&sources, map.bridges, map.nbridges, "--bridge");

  /* Write every domain into memory; nothing goes out until all are
   * complete. */
  char **docs = make_domains (&sources, &map);
  if (out_dir == NULL) {
    if (fputs (docs[0], stdout) == EOF)
      h2k_die ("<stdout>: %m");
  } else
    write_domains (out_dir, &sources, &map, docs);
  for (size_t i = 0; i < sources.len; i++)
    free (docs[i]);
  free (docs);

 done:
  for (size_t i = 0; i < sources.len; i++)
    vd_source_free (sources.ptr[i]);
  source_list_reset (&sources);
  string_list_reset (&disks);
  string_list_reset (&networks);
  string_list_reset (&bridges);
  xmlCleanupParser ();
  return h2k_close_stdout () == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
