/* vmdk-flatten: collapse a VMware snapshot chain into one raw disk.
 *
 * The chain is opened through lib/disk/bdev.h (the "vmdk" driver for the top,
 * parents detected from their content), so this file only tells the
 * story: options, open, then write, map or check. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy/convert.h"
#include "copy/source.h"
#include "disk/bdev.h"
#include "flatten.h"
#include "util/h2k.h"

/* The disk being written, so that a failure removes OUTPUT.part (the
 * signals are handled by the copy wing's output_register_signals). */
static struct output output;

static void
remove_partial (void)
{
  output_abort (&output);
}

static void
tick_progress (void *arg, uint64_t pos)
{
  h2k_progress_update (arg, pos);
}

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: %s [OPTIONS] INPUT [OUTPUT]\n"
"Collapse a VMDK and its snapshot chain into one raw disk.\n"
"\n"
"INPUT is a VMDK descriptor or a single-file sparse VMDK (monolithicSparse,\n"
"streamOptimized, a COWD or seSparse extent). Parents are followed through\n"
"parentFileNameHint down to the base. OUTPUT is a raw file, written sparse\n"
"as OUTPUT.part and renamed when complete, or - for standard output (the\n"
"default when it is not a terminal).\n"
"\n"
"Options:\n"
"  -m, --map            print the allocation as JSON extent lines, no data\n"
"  -c, --check          verify the chain (CIDs, sizes, every grain table\n"
"                       entry, every compressed grain) and write nothing\n"
"      --ignore-parent-id  read the chain even if a parent's identity does\n"
"                       not match its child's record of it (--ignore-cid)\n"
"  -p, --progress[=FD]  a progress bar on a terminal, or N/100 lines on FD\n"
"  -v, --verbose        describe the chain and what was written on stderr\n"
"      --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Examples:\n"
"  %s disk-000002.vmdk disk.raw\n"
"  %s disk.vmdk - | img-convert -O qcow2 - disk.qcow2\n"
"  %s --map disk-000001.vmdk | jq 'select(.data)'\n",
           h2k_program (), h2k_program (), h2k_program (), h2k_program ());
}

enum { OPT_IGNORE_PARENT_ID = H2K_OPT_PROGRAM };

static const char short_options[] = "mcp::v" H2K_SHORT_OPTIONS_COMMON;
static const struct option long_options[] = {
  { "map",              no_argument,       NULL, 'm' },
  { "check",            no_argument,       NULL, 'c' },
  { "ignore-parent-id", no_argument,       NULL, OPT_IGNORE_PARENT_ID },
  { "ignore-cid",       no_argument,       NULL, OPT_IGNORE_PARENT_ID },
  { "progress",         optional_argument, NULL, 'p' },
  { "verbose",          no_argument,       NULL, 'v' },
  H2K_LONG_OPTIONS_COMMON,
  { NULL, 0, NULL, 0 },
};

static void
describe_chain (struct h2k_bdev *bd)
{
  char size[H2K_SIZE_BUFLEN];
  unsigned n = 0;
  for (struct h2k_bdev *b = bd; b; b = b->parent, n++)
    h2k_warn ("layer %u: %s (%s, %s)%s", n, b->path, b->ops->name,
              h2k_format_size (b->size, size, sizeof size),
              b->parent ? "" : " base");
}

int
main (int argc, char *argv[])
{
  bool map = false, check = false, verbose = false;
  unsigned flags = 0;
  const char *progress = NULL;
  int c;

  h2k_set_program (argv[0]);
  while ((c = getopt_long (argc, argv, short_options, long_options, NULL)) != -1) {
    switch (c) {
    case 'm': map = true; break;
    case 'c': check = true; break;
    case 'v': verbose = true; break;
    case 'p': progress = optarg ? optarg : ""; break;
    case OPT_IGNORE_PARENT_ID: flags |= H2K_OPEN_IGNORE_PARENT_ID; break;
    default: h2k_option_common (c, short_options, long_options, usage);
    }
  }
  int nargs = argc - optind;
  if (nargs < 1 || nargs > 2)
    h2k_usage_error ("expected INPUT [OUTPUT]");
  if (map && check)
    h2k_die_status (2, "--map and --check cannot be used together");
  if ((map || check) && nargs == 2)
    h2k_die_status (2, "--%s writes no disk: OUTPUT is not used",
                    map ? "map" : "check");
  const char *input = argv[optind];
  const char *outpath = nargs == 2 ? argv[optind + 1] : "-";
  if (!map && !check && strcmp (outpath, "-") == 0 && isatty (STDOUT_FILENO))
    h2k_die_status (2, "refusing to write a disk to a terminal: give OUTPUT "
                    "or redirect standard output");

  /* Every extent file of every layer stays open: a Workstation chain of
   * split ("twoGbMaxExtent") disks holds hundreds of files per layer, more
   * than the usual soft limit of 1024 descriptors. */
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }

  struct h2k_bdev *bd;
  if (h2k_chain_open (input, "vmdk", flags, &bd) == -1)
    h2k_die ("%s%s", h2k_errmsg (), h2k_errcode () == H2K_ERR_PARENT_ID
             ? " (--ignore-parent-id reads it anyway)" : "");
  if (verbose)
    describe_chain (bd);

  struct h2k_progress pr;
  if (h2k_progress_init (&pr, progress, input, bd->size) == -1)
    h2k_die_status (2, "%s", h2k_errmsg ());

  if (check) {
    if (h2k_bdev_check (bd) == -1)
      h2k_die ("%s", h2k_errmsg ());
    unsigned layers = 0;
    for (struct h2k_bdev *b = bd; b; b = b->parent)
      layers++;
    char size[H2K_SIZE_BUFLEN];
    printf ("%s: ok: %u layer%s, %s\n", input, layers, layers == 1 ? "" : "s",
            h2k_format_size (bd->size, size, sizeof size));
    h2k_bdev_close (bd);
    return h2k_close_stdout () == 0 ? 0 : 1;
  }

  if (map) {
    int r = flatten_map (bd, input, &pr);
    h2k_bdev_close (bd);
    if (r == -1)
      h2k_die ("%s", h2k_errmsg ());
    h2k_progress_finish (&pr);
    return h2k_close_stdout () == 0 ? 0 : 1;
  }

  /* Never replace a source: OUTPUT may not be a layer of the chain. */
  struct stat ost, lst;
  if (strcmp (outpath, "-") != 0 && stat (outpath, &ost) == 0
      && S_ISREG (ost.st_mode))
    for (struct h2k_bdev *b = bd; b; b = b->parent)
      if (stat (b->path, &lst) == 0 && lst.st_dev == ost.st_dev
          && lst.st_ino == ost.st_ino)
        h2k_die ("%s: OUTPUT is a file of the chain being read (%s)",
                 outpath, b->path);

  /* The same path as img-convert -O raw: the chain as a source, the raw
   * writer as the sink (zero blocks become holes in a file; a stream or a
   * device gets every byte), fsync, then the rename. */
  const struct out_options raw = { .raw = true };
  output_register_signals ();
  if (output_open (&output, outpath, &raw, bd->size) == -1)
    h2k_die ("%s", h2k_errmsg ());
  h2k_set_die_hook (remove_partial);
  uint64_t size = bd->size;
  struct source *src = source_bdev_new (bd);
  if (src == NULL || convert (src, &output, NULL, tick_progress, &pr) == -1) {
    /* Closed before dying, as on success: h2k_die does not return, so
     * nothing keeps SRC alive, and LeakSanitizer then reports what it
     * holds as leaked. */
    CLEANUP_FREE char *why = strdup (h2k_errmsg ());
    source_close (src);
    h2k_die ("%s", why ? why : "out of memory");
  }
  source_close (src);
  uint64_t data_bytes = output.data_bytes;
  bool to_stdout = strcmp (outpath, "-") == 0;
  if (output_commit (&output) == -1)
    h2k_die ("%s", h2k_errmsg ());
  h2k_set_die_hook (NULL);
  h2k_progress_finish (&pr);
  if (verbose) {
    char a[H2K_SIZE_BUFLEN], b[H2K_SIZE_BUFLEN], d[H2K_SIZE_BUFLEN];
    struct stat st;
    if (!to_stdout && stat (outpath, &st) == 0 && S_ISREG (st.st_mode))
      h2k_warn ("%s: %s disk, %s of data, %s allocated in %s", input,
                h2k_format_size (size, a, sizeof a),
                h2k_format_size (data_bytes, b, sizeof b),
                h2k_format_size ((uint64_t) st.st_blocks * 512, d, sizeof d),
                outpath);
    else
      h2k_warn ("%s: %s disk, %s of data, written to %s", input,
                h2k_format_size (size, a, sizeof a),
                h2k_format_size (data_bytes, b, sizeof b), outpath);
  }
  return to_stdout && h2k_close_stdout () == -1 ? 1 : 0;
}
