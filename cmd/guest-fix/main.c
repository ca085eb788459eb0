/* guest-fix: make a VMware guest boot and network on KVM, offline.
 *
 * The story: check the disks, open them all in one libguestfs appliance,
 * inspect, mount, run every fix that applies (fixes.c), unmount and shut
 * the appliance down (which is when libguestfs reports a failed write),
 * then print the JSON report. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/h2k.h"
#include "guest-fix.h"

enum {
  SELECT_OPTION = H2K_OPT_PROGRAM,
  SKIP_OPTION,
  VIRTIO_WIN_OPTION,
  FORMAT_OPTION,
  LIST_FIXES_OPTION,
  SOURCE_OPTION,
};

static const char short_options[] = "nv" H2K_SHORT_OPTIONS_COMMON;
static const struct option long_options[] = {
  { "dry-run",     no_argument,       NULL, 'n' },
  { "select",      required_argument, NULL, SELECT_OPTION },
  { "skip",        required_argument, NULL, SKIP_OPTION },
  { "virtio-win",  required_argument, NULL, VIRTIO_WIN_OPTION },
  { "format",      required_argument, NULL, FORMAT_OPTION },
  { "source",      required_argument, NULL, SOURCE_OPTION },
  { "list-fixes",  no_argument,       NULL, LIST_FIXES_OPTION },
  { "verbose",     no_argument,       NULL, 'v' },
  H2K_LONG_OPTIONS_COMMON,
  { NULL, 0, NULL, 0 }
};

static void
usage (FILE *fp)
{
  fprintf (fp, "Usage: %s [OPTION]... DISK...\n"
          "Fix a VMware guest, offline, so that it boots and networks on KVM.\n"
          "DISK... are all the disks of one guest (converted copies: they are\n"
          "changed in place), in the order the guest had them.  A JSON report\n"
          "goes to standard output.\n"
          "\n"
          "  -n, --dry-run        inspect and report what would change; write nothing\n"
          "      --select=LIST    run only these fixes (comma-separated names)\n"
          "      --skip=LIST      do not run these fixes\n"
          "      --list-fixes     list the fixes and exit\n"
          "      --virtio-win=DIR VirtIO drivers for Windows guests (or $VIRTIO_WIN)\n"
          "      --format=FMT     disk format (default: qcow2 or raw, by magic)\n"
          "      --source=FILE    the VM record (vs-ls's JSON line, as virt-define\n"
          "                       reads it; - for stdin): NICs the guest names by\n"
          "                       PCI slot (ens192) get their MAC address from it\n"
          "  -v, --verbose        show libguestfs's messages\n"
          "      --help           display this help and exit\n"
          "  -V, --version        output version information and exit\n"
          "\n"
          "Exit status: 0 when every selected fix was applied or did not apply,\n"
          "1 when a fix failed or the guest could not be fixed, 2 usage error.\n"
          "\n"
          "For more information, see the manpage guest-fix(1).\n",
          h2k_program ());
}

static const struct fix *
find_fix (const char *name)
{
  for (size_t i = 0; i < nr_fixes; i++)
    if (strcmp (fixes[i].name, name) == 0)
      return &fixes[i];
  return NULL;
}

/* Parse a comma-separated list of fix names into FLAGS[]. */
static void
parse_fix_list (const char *opt, const char *list, bool *flags, bool value)
{
  CLEANUP_FREE char *copy = strdup (list);
  char *save = NULL;
  if (!copy)
    h2k_die ("out of memory");
  for (char *n = strtok_r (copy, ",", &save); n; n = strtok_r (NULL, ",", &save)) {
    const struct fix *f = find_fix (n);
    if (!f) {
      h2k_usage_error ("%s: %s: unknown fix (see --list-fixes)", opt, n);
    }
    flags[f - fixes] = value;
  }
}

static const char *
os_name (enum fix_os os)
{
  return os == FIX_LINUX ? "linux" : "windows";
}

static void
list_fixes (void)
{
  for (size_t i = 0; i < nr_fixes; i++)
    printf ("%-22s %-8s %s\n", fixes[i].name, os_name (fixes[i].os),
            fixes[i].summary);
}

static json_object *report;

static noreturn void fail_report (struct gf *gf, const char *msg);

static noreturn void fail_reportf (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

static noreturn void
fail_reportf (const char *fmt, ...)
{
  va_list ap;
  char *msg;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) == -1)
    h2k_die ("out of memory");
  va_end (ap);
  fail_report (NULL, msg);
}

/* --source: the one VM record in FILE (JSON lines; records of other
 * kinds, which vs-ls can also write, are skipped).  Its "nics" must be an
 * array of objects when present, or the lookups by PCI slot would
 * silently find nothing. */
static json_object *
read_source (const char *file)
{
  bool is_stdin = strcmp (file, "-") == 0;
  const char *name = is_stdin ? "<stdin>" : file;
  FILE *fp = is_stdin ? stdin : fopen (file, "r");
  if (fp == NULL)
    fail_reportf ("--source: %s: %s", file, strerror (errno));

  struct h2k_jsonl_reader r;
  json_object *obj, *vm = NULL;
  int ret;
  h2k_jsonl_reader_init (&r, fp, name);
  while ((ret = h2k_jsonl_read (&r, &obj)) == 1) {
    const char *kind;
    if (h2k_json_get_string (obj, "kind", &kind) && strcmp (kind, "vm") != 0) {
      json_object_put (obj);
      continue;
    }
    if (vm) {
      json_object_put (obj);
      json_object_put (vm);
      fail_reportf ("--source: %s: more than one VM record: give the record "
                    "of this guest only", name);
    }
    vm = obj;
  }
  if (ret == -1)
    fail_reportf ("--source: %s", h2k_errmsg ());
  h2k_jsonl_reader_free (&r);
  if (!is_stdin)
    fclose (fp);
  if (vm == NULL)
    fail_reportf ("--source: %s: no VM record", name);

  json_object *nics;
  if (json_object_object_get_ex (vm, "nics", &nics)
      && !json_object_is_type (nics, json_type_null)) {
    bool good = json_object_is_type (nics, json_type_array);
    for (size_t i = 0; good && i < json_object_array_length (nics); i++)
      good = json_object_is_type (json_object_array_get_idx (nics, i),
                                  json_type_object);
    if (!good) {
      json_object_put (vm);
      fail_reportf ("--source: %s: \"nics\" is not an array of objects: not "
                    "a VM record", name);
    }
  }
  return vm;
}

static int
print_report (void)
{
  const char *s = json_object_to_json_string_ext (
    report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (puts (s) == EOF)
    return -1;
  return h2k_close_stdout ();
}

/* Stop with MSG: on stderr, and in the report, which is still printed so
 * that a script sees why.  Nothing has been written when this is called
 * before the fixes run. */
static noreturn void
fail_report (struct gf *gf, const char *msg)
{
  json_object_object_add (report, "status", json_object_new_string ("failed"));
  json_object_object_add (report, "error", json_object_new_string (msg));
  h2k_warn ("%s", msg);
  if (gf && gf->g) {
    guestfs_umount_all (gf->g);
    guestfs_shutdown (gf->g);
    guestfs_close (gf->g);
    gf->g = NULL;
  }
  print_report ();
  exit (1);
}

int
main (int argc, char *argv[])
{
  struct gf gf = { .dry_run = false };
  bool selected[64];
  bool any_select = false;
  const char *format = NULL;
  bool verbose = false;

  h2k_set_program (argv[0]);
  for (size_t i = 0; i < nr_fixes; i++)
    selected[i] = true;
  gf.virtio_win = getenv ("VIRTIO_WIN");
  if (gf.virtio_win && !*gf.virtio_win)
    gf.virtio_win = NULL;

  /* --select starts from nothing, --skip from everything; apply them in
   * that order whatever their order on the command line. */
  const char *select_list = NULL, *skip_list = NULL;
  for (;;) {
    int c = getopt_long (argc, argv, short_options, long_options, NULL);
    if (c == -1)
      break;
    switch (c) {
    case 'n': gf.dry_run = true; break;
    case 'v': verbose = true; break;
    case SELECT_OPTION: select_list = optarg; any_select = true; break;
    case SKIP_OPTION: skip_list = optarg; break;
    case VIRTIO_WIN_OPTION: gf.virtio_win = optarg; break;
    case FORMAT_OPTION: format = optarg; break;
    case SOURCE_OPTION:
      if (*optarg == '\0')
        h2k_usage_error ("--source: empty file name");
      gf.source_name = optarg;
      break;
    case LIST_FIXES_OPTION: list_fixes (); return h2k_close_stdout () ? 1 : 0;
    default: h2k_option_common (c, short_options, long_options, usage);
    }
  }
  if (any_select) {
    for (size_t i = 0; i < nr_fixes; i++)
      selected[i] = false;
    parse_fix_list ("--select", select_list, selected, true);
  }
  if (skip_list)
    parse_fix_list ("--skip", skip_list, selected, false);
  if (optind >= argc) {
    h2k_usage_error ("no disk given");
  }
  if (format && strcmp (format, "raw") != 0 && strcmp (format, "qcow2") != 0
      && strcmp (format, "vmdk") != 0 && strcmp (format, "vdi") != 0
      && strcmp (format, "vhdx") != 0 && strcmp (format, "vpc") != 0) {
    h2k_usage_error ("--format: %s: not a disk format qemu reads", format);
  }

  report = json_object_new_object ();
  json_object_object_add (report, "program", json_object_new_string ("guest-fix"));
  json_object_object_add (report, "version", json_object_new_string (H2K_VERSION));
  json_object_object_add (report, "dry_run", json_object_new_boolean (gf.dry_run));
  json_object *disks = json_object_new_array ();
  json_object_object_add (report, "disks", disks);
  gf.guest = json_object_new_object ();
  json_object_object_add (report, "guest", gf.guest);
  json_object *fixlist = json_object_new_array ();
  json_object_object_add (report, "fixes", fixlist);
  gf.warnings = json_object_new_array ();
  json_object_object_add (report, "warnings", gf.warnings);
  if (gf.source_name) {
    json_object_object_add (report, "source",
                            json_object_new_string (gf.source_name));
    gf.source = read_source (gf.source_name);
  }

  /* The disks: all readable (and writable unless --dry-run), none in use. */
  gf.ndisks = argc - optind;
  for (int i = optind; i < argc; i++) {
    json_object_array_add (disks, json_object_new_string (argv[i]));
    char *msg;
    if (access (argv[i], gf.dry_run ? R_OK : R_OK | W_OK) == -1) {
      if (asprintf (&msg, "%s: %s", argv[i], strerror (errno)) == -1)
        h2k_die ("out of memory");
      fail_report (NULL, msg);
    }
    if (disk_check_not_in_use (argv[i]) == -1)
      fail_report (NULL, h2k_errmsg ());
  }

  gf.g = guestfs_create ();
  if (!gf.g)
    h2k_die ("cannot create the libguestfs handle: %m");
  /* Errors are reported by this program, with context. */
  guestfs_set_error_handler (gf.g, NULL, NULL);
  if (verbose) {
    guestfs_set_verbose (gf.g, 1);
    guestfs_set_trace (gf.g, 1);
  }
  for (int i = optind; i < argc; i++) {
    const char *fmt = format ? format : disk_format (argv[i]);
    if (guestfs_add_drive_opts (gf.g, argv[i],
                                GUESTFS_ADD_DRIVE_OPTS_FORMAT, fmt,
                                GUESTFS_ADD_DRIVE_OPTS_READONLY, gf.dry_run,
                                -1) == -1) {
      char *msg;
      if (asprintf (&msg, "%s: %s", argv[i], gerr (&gf)) == -1)
        h2k_die ("out of memory");
      fail_report (&gf, msg);
    }
  }
  if (guestfs_launch (gf.g) == -1) {
    char *msg;
    if (asprintf (&msg, "cannot start the libguestfs appliance: %s",
                  gerr (&gf)) == -1)
      h2k_die ("out of memory");
    fail_report (&gf, msg);
  }
  if (gf_inspect (&gf) == -1 || gf_mount (&gf) == -1)
    fail_report (&gf, h2k_errmsg ());

  enum fix_os os = strcmp (gf.type, "windows") == 0 ? FIX_WINDOWS : FIX_LINUX;
  bool failed = false;
  for (size_t i = 0; i < nr_fixes; i++) {
    if (fixes[i].os != os)
      continue;
    struct fixrun fx = { .obj = json_object_new_object (),
                         .changes = json_object_new_array () };
    json_object_object_add (fx.obj, "name",
                            json_object_new_string (fixes[i].name));
    json_object_array_add (fixlist, fx.obj);
    if (!selected[i])
      fx_skip (&fx, "not selected (--select, --skip)");
    else
      fixes[i].run (&gf, &fx);

    const char *status;
    if (fx.failed)
      status = "failed";
    else if (fx.skipped)
      status = "skipped";
    else if (json_object_array_length (fx.changes) > 0)
      status = gf.dry_run ? "would-apply" : "applied";
    else
      status = "not-needed";
    json_object_object_add (fx.obj, "status", json_object_new_string (status));
    json_object_object_add (fx.obj, "changes", fx.changes);
    if (fx.failed) {
      failed = true;
      h2k_warn ("%s: %s", fixes[i].name,
                json_object_get_string (json_object_object_get (fx.obj,
                                                                "reason")));
    }
  }

  /* Only a clean shutdown proves that every write reached the disks. */
  if (guestfs_umount_all (gf.g) == -1 || guestfs_shutdown (gf.g) == -1) {
    char *msg;
    if (asprintf (&msg, "closing the disks failed, changes may be lost: %s",
                  gerr (&gf)) == -1)
      h2k_die ("out of memory");
    fail_report (&gf, msg);
  }
  guestfs_close (gf.g);
  gf.g = NULL;

  json_object_object_add (report, "status",
                          json_object_new_string (failed ? "failed" : "ok"));
  int r = print_report ();
  json_object_put (report);
  json_object_put (gf.source);
  free (gf.root); free (gf.type); free (gf.distro); free (gf.product);
  free (gf.arch); free (gf.pkgfmt);
  return r == 0 && !failed ? 0 : 1;
}
