/* vs-cbt: Changed Block Tracking for warm migration, without VDDK.
 *
 * One sync cycle of one VM is: --snapshot (freeze, read the new changeIds
 * from the snapshot, query what changed since the last cycle, print
 * extent records), vs-pull --patch (copy those bytes from the frozen base
 * disk), --release (remove the snapshot).  --enable turns CBT on;
 * --list-stale and --cleanup find and remove h2k's snapshots that a
 * killed cycle left behind.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

#include "util/options.h"
#include "util/xio.h"
#include "vs-cbt.h"

enum {
  SNAPSHOT_OPTION = H2K_CONNOPTS_OPTION_END,
  RELEASE_OPTION,
  ENABLE_OPTION,
  LIST_STALE_OPTION,
  CLEANUP_OPTION,
  POWER_OFF_OPTION,
  TIMEOUT_OPTION,
  VM_OPTION,
  SINCE_OPTION,
  DISK_OPTION,
  NO_QUIESCE_OPTION,
  ALLOW_EXISTING_OPTION,
};

static const struct option long_options[] = {
  H2K_CONNOPTS_LONG_OPTIONS,
  { "snapshot",                 no_argument,       NULL, SNAPSHOT_OPTION },
  { "release",                  no_argument,       NULL, RELEASE_OPTION },
  { "enable",                   no_argument,       NULL, ENABLE_OPTION },
  { "list-stale",               no_argument,       NULL, LIST_STALE_OPTION },
  { "cleanup",                  no_argument,       NULL, CLEANUP_OPTION },
  { "power-off",                no_argument,       NULL, POWER_OFF_OPTION },
  { "timeout",                  required_argument, NULL, TIMEOUT_OPTION },
  { "vm",                       required_argument, NULL, VM_OPTION },
  { "since",                    required_argument, NULL, SINCE_OPTION },
  { "disk",                     required_argument, NULL, DISK_OPTION },
  { "no-quiesce",               no_argument,       NULL, NO_QUIESCE_OPTION },
  { "allow-existing-snapshots", no_argument,       NULL, ALLOW_EXISTING_OPTION },
  { "progress",                 optional_argument, NULL, 'p' },
  { "verbose",                  no_argument,       NULL, 'v' },
  H2K_LONG_OPTIONS_COMMON,
  { NULL }
};
static const char short_options[] = "p::v" H2K_SHORT_OPTIONS_COMMON;

static void
usage (FILE *fp)
{
  fprintf (fp,
           "Usage: vs-cbt --vm NAME --snapshot [--since FILE|CHANGEID] [--disk KEY]\n"
           "       vs-cbt [--vm NAME] --release [< RECORDS]\n"
           "       vs-cbt --vm NAME --enable\n"
           "       vs-cbt --list-stale [--vm GLOB]\n"
           "       vs-cbt --cleanup [--vm GLOB]\n"
           "       vs-cbt --vm NAME --power-off [--timeout SECONDS]\n"
           "Changed Block Tracking for warm migration, without VDDK: one sync\n"
           "cycle is --snapshot (extent records of what changed, on stdout),\n"
           "vs-pull --patch (copy them), --release (drop the snapshot).\n"
           "\n"
           "What to do (one of):\n"
           "  --snapshot             snapshot the VM, query the areas changed since\n"
           "                         --since (every allocated area without it), print\n"
           "                         extent records\n"
           "  --release              remove the snapshot the records on stdin name\n"
           "                         (without records: the VM's h2k snapshots)\n"
           "  --enable               turn Changed Block Tracking on\n"
           "  --list-stale           list h2k's snapshots that were never released\n"
           "  --cleanup              remove them\n"
           "  --power-off            shut the guest down (ShutdownGuest with VMware\n"
           "                         Tools, else power it off), for the cut-over\n"
           "\n"
           "Options:\n"
           "  --vm NAME              the VM (a glob with --list-stale and --cleanup)\n"
           "  --since FILE|CHANGEID  the previous cycle's records (or h2k-sync's state),\n"
           "                         or one disk's change id\n"
           "  --disk KEY             only the disk with this device key\n"
           "  --no-quiesce           do not quiesce the guest (by default it is when\n"
           "                         VMware Tools run)\n"
           "  --allow-existing-snapshots\n"
           "                         snapshot a VM that has snapshots h2k did not take\n"
           "  --timeout SECONDS      how long --power-off waits for the guest (600)\n"
           "  -p, --progress[=FD]    task progress: a bar, or N/100 lines on FD\n"
           "  -v, --verbose          say what is done on stderr\n"
           "\n");
  h2k_connopts_usage (fp);
  fprintf (fp,
           "\n"
           "  --help                 this help\n"
           "  -V, --version          print the version\n"
           "\n"
           "Exit status: 0 done, 1 failed or refused (nothing left behind), 2 usage.\n"
           "For more information, see the manpage vs-cbt(1).\n");
}

int
main (int argc, char *argv[])
{
  struct h2k_conn_opts conn;
  struct cbt_opts o = { .disk = -1, .timeout = 600 };
  int mode = 0, nmodes = 0, c;

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
    case SNAPSHOT_OPTION: case RELEASE_OPTION: case ENABLE_OPTION:
    case LIST_STALE_OPTION: case CLEANUP_OPTION: case POWER_OFF_OPTION:
      if (mode != c)
        nmodes++;
      mode = c;
      break;
    case VM_OPTION: o.vm = optarg; break;
    case SINCE_OPTION: o.since = optarg; break;
    case DISK_OPTION:
      o.disk = (int64_t) h2k_option_uint ("--disk", optarg, 0, INT32_MAX);
      break;
    case TIMEOUT_OPTION:
      o.timeout = (unsigned) h2k_option_uint ("--timeout", optarg, 1, 86400);
      break;
    case NO_QUIESCE_OPTION: o.no_quiesce = true; break;
    case ALLOW_EXISTING_OPTION: o.allow_existing = true; break;
    case 'p': o.progress = optarg ? optarg : ""; break;
    case 'v': o.verbose = true; break;
    default:
      h2k_option_common (c, short_options, long_options, usage);
    }
  }
  if (optind != argc)
    h2k_usage_error ("unexpected argument '%s' (the VM is an option: --vm NAME)",
                     argv[optind]);
  if (nmodes != 1)
    h2k_usage_error ("say what to do: one of --snapshot, --release, --enable, "
                     "--list-stale, --cleanup, --power-off");
  if (!o.vm && (mode == SNAPSHOT_OPTION || mode == ENABLE_OPTION
                || mode == POWER_OFF_OPTION))
    h2k_usage_error ("--vm NAME: which VM?");
  if (mode != SNAPSHOT_OPTION && (o.since || o.no_quiesce || o.allow_existing))
    h2k_usage_error ("--since, --no-quiesce and --allow-existing-snapshots "
                     "go with --snapshot");
  if (mode != SNAPSHOT_OPTION && o.disk != -1)
    h2k_usage_error ("--disk goes with --snapshot");
  if (o.progress && *o.progress) {
    struct h2k_progress p;
    if (h2k_progress_init (&p, o.progress, "check", 100) == -1)
      h2k_usage_error ("--progress: %s", h2k_errmsg ());
  }
  if (h2k_connopts_finish (&conn) == -1)
    h2k_die_status (2, "%s", h2k_errmsg ());

  LIBXML_TEST_VERSION;
  curl_global_init (CURL_GLOBAL_DEFAULT);
  struct h2k_vs *vs = h2k_vs_connect (&conn);
  if (!vs)
    h2k_die ("%s", h2k_errmsg ());

  int r;
  switch (mode) {
  case SNAPSHOT_OPTION: r = cbt_snapshot (vs, &o); break;
  case RELEASE_OPTION: r = cbt_release (vs, &o, stdin); break;
  case ENABLE_OPTION: r = cbt_enable (vs, &o); break;
  case LIST_STALE_OPTION: r = cbt_stale (vs, &o, false); break;
  case POWER_OFF_OPTION: r = cbt_power_off (vs, &o); break;
  default: r = cbt_stale (vs, &o, true); break;
  }
  if (r == -1) {
    /* The message first: closing the session cannot change it. */
    h2k_warn ("%s", h2k_errmsg ());
    h2k_vs_close (vs);
    h2k_connopts_free (&conn);
    exit (1);
  }
  h2k_vs_close (vs);
  h2k_connopts_free (&conn);
  curl_global_cleanup ();
  xmlCleanupParser ();
  return h2k_close_stdout () == 0 ? 0 : 1;
}
