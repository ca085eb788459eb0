/* vs-ls: list vSphere inventory as JSON lines. */

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/parser.h>

#include "vs-ls.h"

enum {
  TYPE_OPTION = H2K_CONNOPTS_OPTION_END,
  VM_OPTION,
  FOLDER_OPTION,
  CLUSTER_OPTION,
  HOST_OPTION,
  DATASTORE_OPTION,
  POWER_OPTION,
  CHAIN_OPTION,
  PAGE_OPTION,
  STATS_OPTION,
};

static const struct option long_options[] = {
  H2K_CONNOPTS_LONG_OPTIONS,
  { "type",        required_argument, NULL, TYPE_OPTION },
  { "vm",          required_argument, NULL, VM_OPTION },
  { "folder",      required_argument, NULL, FOLDER_OPTION },
  { "cluster",     required_argument, NULL, CLUSTER_OPTION },
  { "host",        required_argument, NULL, HOST_OPTION },
  { "datastore",   required_argument, NULL, DATASTORE_OPTION },
  { "power-state", required_argument, NULL, POWER_OPTION },
  { "chain",       no_argument,       NULL, CHAIN_OPTION },
  { "page-size",   required_argument, NULL, PAGE_OPTION },
  { "stats",       no_argument,       NULL, STATS_OPTION },
  H2K_LONG_OPTIONS_COMMON,
  { NULL }
};
static const char short_options[] = H2K_SHORT_OPTIONS_COMMON;

static void
usage (FILE *fp)
{
  fprintf (fp,
           "Usage: vs-ls [OPTIONS]\n"
           "List vCenter or ESXi inventory as JSON lines: one VM per line by\n"
           "default, or datastores, hosts, datacenters or networks.\n"
           "\n"
           "What to list:\n"
           "  --type TYPE            vm (default), datastore, host, datacenter, network\n"
           "  --vm GLOB              only VMs whose name matches (repeatable)\n"
           "  --folder PATH          only VMs under this VM folder (\"sub/dir\" inside\n"
           "                         the datacenter's vm folder, or \"/DC0/vm/sub\")\n"
           "  --cluster GLOB         only VMs on (or hosts in) matching clusters\n"
           "  --host GLOB            only VMs on matching hosts (or those hosts)\n"
           "  --datastore GLOB       only VMs with files on matching datastores\n"
           "                         (or those datastores)\n"
           "  --power-state STATE    poweredOn, poweredOff or suspended\n"
           "  --chain                add each disk's backing chain and its files\n"
           "  --page-size N          objects per RetrievePropertiesEx page (100)\n"
           "  --stats                print the number of SOAP round trips on stderr\n"
           "\n");
  h2k_connopts_usage (fp);
  fprintf (fp,
           "\n"
           "  --help                 this help\n"
           "  -V, --version          print the version\n"
           "\n"
           "For more information, see the manpage vs-ls(1).\n");
}

/* An unlinked temporary file in TMPDIR (else /tmp) for the listing;
 * glibc's tmpfile would ignore TMPDIR. */
static FILE *
listing_file (void)
{
  const char *dir = getenv ("TMPDIR");
  if (!dir || !*dir)
    dir = "/tmp";
  int fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd == -1) {
    /* A file system without O_TMPFILE: a named file, unlinked at once. */
    char *path;
    if (asprintf (&path, "%s/vs-ls.XXXXXX", dir) == -1)
      h2k_die ("out of memory");
    fd = mkostemp (path, O_CLOEXEC);
    if (fd != -1)
      unlink (path);
    free (path);
  }
  FILE *fp = fd == -1 ? NULL : fdopen (fd, "w+");
  if (!fp)
    h2k_die ("%s: cannot create a temporary file for the listing: %m", dir);
  return fp;
}

static const char *const types[] = {
  "vm", "datastore", "host", "datacenter", "network", NULL
};

int
main (int argc, char *argv[])
{
  struct h2k_conn_opts conn;
  struct ls_opts o = { .type = "vm", .page_size = 100 };
  int c;

  h2k_set_program (argv[0]);
  h2k_connopts_init (&conn);

  while ((c = getopt_long (argc, argv, short_options, long_options, NULL)) != -1) {
    switch (h2k_connopts_option (&conn, c, optarg)) {
    case 1:
      continue;
    case -1:
      h2k_die_status (2, "%s", h2k_errmsg ());
    }
    switch (c) {
    case TYPE_OPTION: {
      bool known = false;
      for (const char *const *t = types; *t; t++)
        known |= strcmp (optarg, *t) == 0;
      if (!known)
        h2k_die_status (2, "--type: unknown type '%s' (vm, datastore, host, "
                        "datacenter or network)", optarg);
      o.type = optarg;
      break;
    }
    case VM_OPTION:
      if (string_vector_append (&o.vm_globs, optarg) == -1)
        h2k_die ("%s", h2k_errmsg ());
      break;
    case FOLDER_OPTION: o.folder = optarg; break;
    case CLUSTER_OPTION: o.cluster = optarg; break;
    case HOST_OPTION: o.host = optarg; break;
    case DATASTORE_OPTION: o.datastore = optarg; break;
    case POWER_OPTION:
      if (strcmp (optarg, "poweredOn") != 0 && strcmp (optarg, "poweredOff") != 0
          && strcmp (optarg, "suspended") != 0)
        h2k_die_status (2, "--power-state: '%s' is not poweredOn, poweredOff "
                        "or suspended", optarg);
      o.power_state = optarg;
      break;
    case CHAIN_OPTION: o.chain = true; break;
    case PAGE_OPTION:
      o.page_size = h2k_option_uint ("--page-size", optarg, 1, 100000);
      break;
    case STATS_OPTION: o.stats = true; break;
    default:
      h2k_option_common (c, short_options, long_options, usage);
    }
  }
  if (optind != argc)
    h2k_die_status (2, "unexpected argument '%s' (filters are options: --vm NAME)",
                    argv[optind]);

  bool is_vm = strcmp (o.type, "vm") == 0;
  if (!is_vm && (o.vm_globs.len || o.folder || o.power_state || o.chain))
    h2k_die_status (2, "--vm, --folder, --power-state and --chain only apply "
                    "to --type vm");
  if (!is_vm && o.cluster && strcmp (o.type, "host") != 0)
    h2k_die_status (2, "--cluster applies to --type vm or host");
  if (!is_vm && o.host && strcmp (o.type, "host") != 0)
    h2k_die_status (2, "--host applies to --type vm or host");
  if (!is_vm && o.datastore && strcmp (o.type, "datastore") != 0)
    h2k_die_status (2, "--datastore applies to --type vm or datastore");

  if (h2k_connopts_finish (&conn) == -1)
    h2k_die_status (2, "%s", h2k_errmsg ());

  LIBXML_TEST_VERSION;
  curl_global_init (CURL_GLOBAL_DEFAULT);

  /* Records are collected and written at the end, so that a failure half
   * way leaves no partial listing on stdout; in an unlinked temporary file
   * (in TMPDIR), not in memory, so that memory does not grow with the
   * listing either. */
  struct ls ls = { .o = &o };
  ls.out = listing_file ();

  ls.glob_seen = calloc (o.vm_globs.len + 1, sizeof *ls.glob_seen);
  if (!ls.glob_seen)
    h2k_die ("out of memory");
  ls.vs = h2k_vs_connect (&conn);
  if (!ls.vs)
    h2k_die ("%s", h2k_errmsg ());

  dc_vector dcs = { 0 };
  if (list_datacenters (&ls, &dcs) == -1)
    h2k_die ("%s", h2k_errmsg ());

  for (size_t i = 0; i < dcs.len; i++) {
    const struct dc *dc = &dcs.ptr[i];
    int r;
    if (is_vm)
      r = list_vms (&ls, dc);
    else if (strcmp (o.type, "datastore") == 0)
      r = list_datastores (&ls, dc);
    else if (strcmp (o.type, "host") == 0)
      r = list_hosts (&ls, dc);
    else if (strcmp (o.type, "network") == 0)
      r = list_networks (&ls, dc);
    else
      r = print_datacenter (&ls, dc);
    if (r == -1)
      h2k_die ("%s", h2k_errmsg ());
  }

  if (is_vm && o.folder && !ls.folder_found)
    h2k_die ("%s: no VM folder '%s'%s", h2k_vs_name (ls.vs), o.folder,
             conn.datacenter ? " in that datacenter" : "");

  /* A --vm NAME (no glob characters) that no VM is called is an error,
   * whatever else was asked for and found: the user named a VM that is
   * not there (a typo in a list of names must not pass unnoticed). */
  for (size_t i = 0; is_vm && i < o.vm_globs.len; i++)
    if (!ls.glob_seen[i] && strpbrk (o.vm_globs.ptr[i], "*?[") == NULL)
      h2k_die ("%s: no VM named '%s'", h2k_vs_name (ls.vs), o.vm_globs.ptr[i]);

  if (o.stats)
    fprintf (stderr, "%s: %lu objects, %lu SOAP round trips\n", h2k_program (),
             ls.printed, h2k_vs_round_trips (ls.vs) + 1 /* the Logout */);

  free_datacenters (&dcs);
  free_names (&ls);
  free (ls.glob_seen);
  h2k_vs_close (ls.vs);
  h2k_connopts_free (&conn);
  string_vector_reset (&o.vm_globs);

  if (fflush (ls.out) != 0 || ferror (ls.out) || fseek (ls.out, 0, SEEK_SET) != 0)
    h2k_die ("cannot collect the output in a temporary file: %m");
  char buf[65536];
  size_t n;
  while ((n = fread (buf, 1, sizeof buf, ls.out)) > 0)
    if (fwrite (buf, 1, n, stdout) != n) {
      fclose (ls.out);
      h2k_close_stdout ();
      return 1;
    }
  if (ferror (ls.out))
    h2k_die ("cannot read the listing back from its temporary file: %m");
  fclose (ls.out);
  curl_global_cleanup ();
  xmlCleanupParser ();
  return h2k_close_stdout () == 0 ? 0 : 1;
}
