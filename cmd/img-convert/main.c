/* img-convert: any source disk to qcow2 (or raw), streaming.
 *
 * The story: work out where the bytes come from (a file through the
 * block-device layer, a pipe, or an OVA read in one pass), open the
 * output as OUTPUT.part with the right writer, pump, and rename when
 * everything succeeded.  Any failure removes the .part.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "copy/compress.h"
#include "copy/convert.h"
#include "copy/source.h"
#include "disk/bdev.h"
#include "disk/qcow2-format.h"
#include "list.h"
#include "ova.h"
#include "util/h2k.h"

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: img-convert [OPTION]... INPUT OUTPUT\n"
"  or:  img-convert --list-files [-z] [-f FMT] INPUT\n"
"Convert a disk image to qcow2 (or raw), streaming, in bounded memory.\n"
"\n"
"INPUT is a disk file in any format h2k reads (raw, VMDK and its chains,\n"
"VHD, VHDX, qcow2; detected from the content), an OVA (converted from the\n"
"archive stream in one pass), or - for standard input (raw bytes, a\n"
"streamOptimized VMDK or an OVA, detected from the first bytes).\n"
"OUTPUT is written as OUTPUT.part and renamed when complete.\n"
"\n"
"  -O, --output-format=FMT   qcow2 (default) or raw (sparse; - is stdout)\n"
"  -f, --format=FMT          the input format, instead of detecting it\n"
"  -c, --compress            compress qcow2 clusters (zlib unless -o says)\n"
"  -o, --options=OPTS        qcow2 options, comma-separated:\n"
"                              cluster_size=SIZE (512 to 2M, default 64k)\n"
"                              compression_type=zlib|zstd (implies -c)\n"
"                              compression_level=N (zlib 1-9, zstd 1-%d)\n"
"  -j, --jobs=N              compression threads (default: number of CPUs)\n"
"      --disk=N              OVA: convert the Nth disk (from 1)\n"
"      --all                 OVA: convert every disk into the directory OUTPUT\n"
"      --sha256              print the SHA-256 of the guest-visible bytes\n"
"      --ignore-parent-id    read a chain even if a parent's identity does\n"
"                            not match its child's record of it\n"
"  -p, --progress[=FD]       a progress bar, or N/100 lines on FD\n"
"      --list-files          convert nothing: print every file INPUT's chain\n"
"                            reads (the image, its extents, its parents),\n"
"                            one a line; a missing parent last, exit 1\n"
"  -z, --zero                --list-files: end each name with NUL, not newline\n"
"      --help                this help\n"
"  -V, --version             the version\n"
"\n"
"Examples:\n"
"  img-convert disk.vmdk disk.qcow2\n"
"  img-convert -c -o compression_type=zstd disk.vhdx disk.qcow2\n"
"  vmdk-flatten web01.vmdk - | img-convert - web01.qcow2\n"
"  img-convert --all appliance.ova out/\n"
"  img-convert --list-files -z overlay.qcow2 | xargs -0 ls -l\n",
           ZSTD_maxCLevel ());
}

enum {
  OPT_DISK = H2K_OPT_PROGRAM, OPT_ALL, OPT_SHA256, OPT_IGNORE_PARENT_ID,
  OPT_LIST_FILES,
};

static const char short_options[] = "O:f:co:j:p::z" H2K_SHORT_OPTIONS_COMMON;
static const struct option long_options[] = {
  { "output-format", required_argument, NULL, 'O' },
  { "format", required_argument, NULL, 'f' },
  { "compress", no_argument, NULL, 'c' },
  { "options", required_argument, NULL, 'o' },
  { "jobs", required_argument, NULL, 'j' },
  { "disk", required_argument, NULL, OPT_DISK },
  { "all", no_argument, NULL, OPT_ALL },
  { "sha256", no_argument, NULL, OPT_SHA256 },
  { "ignore-parent-id", no_argument, NULL, OPT_IGNORE_PARENT_ID },
  { "ignore-cid", no_argument, NULL, OPT_IGNORE_PARENT_ID },
  { "progress", optional_argument, NULL, 'p' },
  { "list-files", no_argument, NULL, OPT_LIST_FILES },
  { "zero", no_argument, NULL, 'z' },
  H2K_LONG_OPTIONS_COMMON,
  { NULL, 0, NULL, 0 },
};

/* -o cluster_size=64k,compression_type=zstd,compression_level=3 */
static void
parse_o (char *opts, struct out_options *o, bool *compress_implied)
{
  char *save = NULL;
  for (char *kv = strtok_r (opts, ",", &save); kv;
       kv = strtok_r (NULL, ",", &save)) {
    char *val = strchr (kv, '=');
    if (val == NULL)
      h2k_die_status (2, "-o: '%s' is not KEY=VALUE", kv);
    *val++ = '\0';
    if (strcmp (kv, "cluster_size") == 0) {
      uint64_t cs;
      if (h2k_parse_size (val, &cs) == -1)
        h2k_die_status (2, "-o cluster_size: %s", h2k_errmsg ());
      unsigned bits = 0;
      while (bits < 63 && (1ULL << bits) < cs)
        bits++;
      if ((1ULL << bits) != cs || bits < QCOW2_MIN_CLUSTER_BITS
          || bits > QCOW2_MAX_CLUSTER_BITS)
        h2k_die_status (2, "-o cluster_size: '%s' must be a power of 2 from 512 to 2M", val);
      o->qcow2.cluster_bits = bits;
    }
    else if (strcmp (kv, "compression_type") == 0) {
      if (strcmp (val, "zlib") == 0)
        o->qcow2.compression_type = QCOW2_COMPRESSION_ZLIB;
      else if (strcmp (val, "zstd") == 0)
        o->qcow2.compression_type = QCOW2_COMPRESSION_ZSTD;
      else
        h2k_die_status (2, "-o compression_type: '%s' is not zlib or zstd", val);
      *compress_implied = true;
    }
    else if (strcmp (kv, "compression_level") == 0)
      o->qcow2.level = h2k_option_uint ("-o compression_level", val, 1, 99);
    else
      h2k_die_status (2, "-o: unknown option '%s' (cluster_size, compression_type, compression_level)", kv);
  }
}

static void
print_digest (const unsigned char *d, const char *name, bool to_stderr)
{
  char hex[65];
  for (int i = 0; i < 32; i++)
    sprintf (hex + 2 * i, "%02x", d[i]);
  fprintf (to_stderr ? stderr : stdout, "%s  %s\n", hex, name);
}

static void
tick_progress (void *arg, uint64_t pos)
{
  h2k_progress_update (arg, pos);
}

/* Peek at the first bytes of a stream: an OVA, a VMDK or raw bytes. */
static const char *
sniff_stream (struct bstream *bs)
{
  unsigned char head[512];
  ssize_t n = bstream_read (bs, head, sizeof head);
  if (n < 0)
    h2k_die ("%s", h2k_errmsg ());
  if (bstream_unread (bs, head, n) == -1)
    h2k_die ("%s", h2k_errmsg ());
  if (n == 512 && memcmp (head + 257, "ustar", 5) == 0)
    return "ova";
  if (n >= 4 && memcmp (head, "KDMV", 4) == 0)
    return "vmdk";
  return "raw";
}

/* Is the file at PATH a tar archive (an OVA)?  The tar container is not a
 * disk format, so it is recognised here rather than by a bdev driver. */
static bool
is_tar_file (const char *path)
{
  unsigned char head[512];
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return false;
  ssize_t n = h2k_pread_full (fd, head, sizeof head, 0);
  close (fd);
  return n == 512 && memcmp (head + 257, "ustar", 5) == 0;
}

int
main (int argc, char **argv)
{
  struct out_options oopt = {
    .qcow2 = { .cluster_bits = 16, .compression_type = QCOW2_COMPRESSION_ZLIB },
  };
  const char *informat = NULL, *progress_opt = NULL;
  bool compress = false, compress_implied = false, want_sha = false;
  bool all = false, list = false, zero = false;
  unsigned disk = 0, open_flags = 0;
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  unsigned jobs = ncpu > 0 ? (ncpu > 256 ? 256 : ncpu) : 1;
  int c;

  h2k_set_program (argv[0]);
  while ((c = getopt_long (argc, argv, short_options, long_options, NULL)) != -1) {
    switch (c) {
    case 'O':
      if (strcmp (optarg, "qcow2") == 0)
        oopt.raw = false;
      else if (strcmp (optarg, "raw") == 0)
        oopt.raw = true;
      else
        h2k_die_status (2, "-O: '%s' is not qcow2 or raw", optarg);
      break;
    case 'f':
      informat = optarg;
      break;
    case 'c':
      compress = true;
      break;
    case 'o':
      parse_o (optarg, &oopt, &compress_implied);
      break;
    case 'j':
      jobs = h2k_option_uint ("-j", optarg, 1, 256);
      break;
    case OPT_DISK:
      disk = h2k_option_uint ("--disk", optarg, 1, 100000);
      break;
    case OPT_ALL:
      all = true;
      break;
    case OPT_SHA256:
      want_sha = true;
      break;
    case 'p':
      progress_opt = optarg ? optarg : "";
      break;
    case OPT_IGNORE_PARENT_ID:
      open_flags |= H2K_OPEN_IGNORE_PARENT_ID;
      break;
    case OPT_LIST_FILES:
      list = true;
      break;
    case 'z':
      zero = true;
      break;
    default:
      h2k_option_common (c, short_options, long_options, usage);
    }
  }
  if (zero && !list)
    h2k_die_status (2, "-z applies to --list-files only");
  if (list) {
    if (argc - optind != 1)
      h2k_usage_error ("--list-files: expected one INPUT");
    const char *in = argv[optind];
    if (strcmp (in, "-") == 0)
      h2k_die_status (2, "--list-files: standard input is no file to list");
    if (informat ? strcmp (informat, "ova") == 0 : is_tar_file (in)) {
      /* An OVA is one file: its disks are inside it. */
      printf ("%s%c", in, zero ? '\0' : '\n');
      return h2k_close_stdout () == 0 ? 0 : 1;
    }
    return list_files (in, informat, open_flags, zero);
  }
  if (argc - optind != 2)
    h2k_usage_error ("expected INPUT and OUTPUT");
  const char *input = argv[optind], *output = argv[optind + 1];
  oopt.qcow2.compress = compress || compress_implied;
  oopt.qcow2.threads = jobs;
  if (oopt.raw && oopt.qcow2.compress)
    h2k_die_status (2, "compression needs -O qcow2");
  if (oopt.qcow2.level
      && compress_check_level (oopt.qcow2.compression_type, oopt.qcow2.level) == -1)
    h2k_die_status (2, "-o compression_level: %s", h2k_errmsg ());
  if (disk && all)
    h2k_die_status (2, "--disk and --all exclude each other");
  if (!oopt.raw && strcmp (output, "-") == 0)
    h2k_die_status (2, "qcow2 cannot be written to standard output (it needs a seekable file): use -O raw, or name a file");

  output_register_signals ();

  /* Where the bytes come from. */
  struct bstream stdin_bs = { 0 };
  int stdin_fd = STDIN_FILENO;
  const char *kind = "file";
  if (strcmp (input, "-") == 0) {
    bstream_init_fd (&stdin_bs, &stdin_fd, "stdin");
    kind = informat ? informat : sniff_stream (&stdin_bs);
    if (strcmp (kind, "raw") != 0 && strcmp (kind, "vmdk") != 0
        && strcmp (kind, "ova") != 0)
      h2k_die_status (2, "-f %s: standard input can be read only as raw, vmdk (streamOptimized) or ova", kind);
  }
  else if (informat ? strcmp (informat, "ova") == 0 : is_tar_file (input))
    kind = "ova";

  if (strcmp (kind, "ova") == 0) {
    struct ova_options ov = {
      .out = &oopt, .disk = disk, .all = all, .sha256 = want_sha,
      .progress = progress_opt,
    };
    int r = strcmp (input, "-") == 0
      ? ova_convert_stream (&stdin_bs, output, &ov)
      : ova_convert_file (input, output, &ov);
    bstream_free_pushback (&stdin_bs);
    if (r == -1)
      h2k_die ("%s", h2k_errmsg ());
    return h2k_close_stdout () == 0 ? 0 : 1;
  }
  if (disk || all)
    h2k_die_status (2, "--disk and --all apply to OVA input only");

  struct source *src;
  if (strcmp (kind, "file") == 0)
    src = source_bdev_open (input, informat, open_flags);
  else if (strcmp (kind, "vmdk") == 0)
    src = source_vmdk_stream_open (&stdin_bs, "stdin");
  else
    src = source_raw_stream_open (&stdin_bs, "stdin");
  if (src == NULL)
    h2k_die ("%s%s", h2k_errmsg (), h2k_errcode () == H2K_ERR_PARENT_ID
             ? " (--ignore-parent-id reads it anyway)" : "");

  struct output out;
  if (output_open (&out, output, &oopt, src->size) == -1) {
    source_close (src);
    h2k_die ("%s", h2k_errmsg ());
  }

  struct h2k_progress prog;
  if (h2k_progress_init (&prog, progress_opt, input,
                         src->size == SOURCE_SIZE_UNKNOWN ? 0 : src->size) == -1) {
    output_abort (&out);
    source_close (src);
    h2k_die_status (2, "%s", h2k_errmsg ());
  }
  unsigned char digest[32];
  if (convert (src, &out, want_sha ? digest : NULL, tick_progress, &prog) == -1
      || output_commit (&out) == -1) {
    output_abort (&out);
    source_close (src);
    bstream_free_pushback (&stdin_bs);
    h2k_die ("%s", h2k_errmsg ());
  }
  h2k_progress_finish (&prog);
  source_close (src);
  if (strcmp (input, "-") == 0) {
    /* Read what follows the end of a VMDK stream, so that the writer of a
     * pipe sees it all consumed rather than a broken pipe. */
    char buf[65536];
    while (bstream_read (&stdin_bs, buf, sizeof buf) > 0)
      ;
    bstream_free_pushback (&stdin_bs);
  }
  if (want_sha)
    print_digest (digest, output, strcmp (output, "-") == 0);
  return h2k_close_stdout () == 0 ? 0 : 1;
}
