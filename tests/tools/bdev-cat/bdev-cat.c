/* bdev-cat: a test tool that opens a disk through h2k_chain_open and
 * writes what the guest sees, so that the tests can compare the
 * block-device drivers with `qemu-img convert -O raw`.
 *
 *   bdev-cat [-f FORMAT] [--no-parent] [--ignore-parent-id] FILE [OUTPUT]
 *       the guest-visible bytes, raw, to OUTPUT (sparse) or stdout
 *   bdev-cat --info FILE      one line per layer: depth, format, size, path
 *   bdev-cat --map FILE       the extents: offset length data|zero|hole
 *   bdev-cat --check FILE     run the drivers' deep checks
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/bdev.h"
#include "util/h2k.h"

#define CHUNK (1024 * 1024)

static noreturn void
usage (int status)
{
  fprintf (status ? stderr : stdout,
           "usage: bdev-cat [-f FORMAT] [--no-parent] [--ignore-parent-id]\n"
           "                [--info | --map | --check] FILE [OUTPUT]\n");
  exit (status);
}

static const char *
type_name (enum h2k_extent_type t)
{
  switch (t) {
  case H2K_EXTENT_DATA: return "data";
  case H2K_EXTENT_ZERO: return "zero";
  case H2K_EXTENT_HOLE: return "hole";
  }
  return "?";
}

static void
print_map (struct h2k_bdev *bd)
{
  struct h2k_extent_iter it;
  struct h2k_extent e;
  int r;

  h2k_extent_iter_init (&it, bd, 0, bd->size, H2K_EXTENT_ITER_MERGE);
  while ((r = h2k_extent_iter_next (&it, &e)) > 0)
    printf ("%" PRIu64 " %" PRIu64 " %s\n", e.offset, e.length,
            type_name (e.type));
  if (r == -1)
    h2k_die ("%s", h2k_errmsg ());
  h2k_extent_iter_reset (&it);
}

/* The output, so that a failure removes OUTPUT.part (no partial output). */
static struct h2k_outfile out = { .fd = -1 };

static void
abort_output (void)
{
  if (out.fd != -1)
    h2k_outfile_abort (&out);
}

static void
copy_out (struct h2k_bdev *bd, const char *output)
{
  bool sparse = false;
  struct stat st;

  /* An existing device or pipe (/dev/null...) is written in place: the
   * NAME.part-and-rename of h2k_outfile would replace it with a file. */
  if (output && stat (output, &st) == 0 && !S_ISREG (st.st_mode)) {
    int fd = open (output, O_WRONLY | O_CLOEXEC);
    if (fd == -1)
      h2k_die ("%s: %m", output);
    if (dup2 (fd, STDOUT_FILENO) == -1)
      h2k_die ("%s: %m", output);
    close (fd);
    output = NULL;
  }
  if (h2k_outfile_open (&out, output ? output : "-") == -1)
    h2k_die ("%s", h2k_errmsg ());
  h2k_set_die_hook (abort_output);
  if (fstat (out.fd, &st) == 0 && S_ISREG (st.st_mode)
      && lseek (out.fd, 0, SEEK_CUR) == 0) {
    sparse = true;
    if (h2k_outfile_set_size (&out, bd->size) == -1)
      h2k_die ("%s", h2k_errmsg ());
  }

  char *buf = malloc (CHUNK);
  char *zeros = calloc (1, CHUNK);
  struct h2k_extent_iter it;
  struct h2k_extent e;
  int r;
  if (buf == NULL || zeros == NULL)
    h2k_die ("out of memory");

  h2k_extent_iter_init (&it, bd, 0, bd->size, 0);
  while ((r = h2k_extent_iter_next (&it, &e)) > 0) {
    for (uint64_t p = e.offset; p < e.offset + e.length; ) {
      size_t n = e.offset + e.length - p < CHUNK ? e.offset + e.length - p : CHUNK;
      const char *src = zeros;
      /* ZERO and HOLE (no layer has it) both read as zeros. */
      if (e.type == H2K_EXTENT_DATA) {
        if (h2k_bdev_pread (bd, buf, n, p) == -1)
          h2k_die ("%s", h2k_errmsg ());
        src = buf;
      }
      if (sparse) {
        if (src != zeros && !h2k_is_zero (src, n)
            && h2k_pwrite_full (out.fd, src, n, p) == -1)
          h2k_die ("%s: %m", output);
      }
      else if (h2k_write_full (out.fd, src, n) == -1)
        h2k_die ("%s: %m", output ? output : "stdout");
      p += n;
    }
  }
  if (r == -1)
    h2k_die ("%s", h2k_errmsg ());
  h2k_extent_iter_reset (&it);
  free (buf);
  free (zeros);
  if (h2k_outfile_commit (&out) == -1)
    h2k_die ("%s", h2k_errmsg ());
  out.fd = -1;
}

int
main (int argc, char *argv[])
{
  static const struct option long_options[] = {
    { "format", required_argument, NULL, 'f' },
    { "no-parent", no_argument, NULL, 'n' },
    { "ignore-parent-id", no_argument, NULL, 'I' },
    { "info", no_argument, NULL, 'i' },
    { "map", no_argument, NULL, 'm' },
    { "check", no_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { NULL },
  };
  const char *format = NULL;
  unsigned flags = 0;
  int mode = 0;
  int c;

  h2k_set_program (argv[0]);
  while ((c = getopt_long (argc, argv, "f:h", long_options, NULL)) != -1) {
    switch (c) {
    case 'f': format = optarg; break;
    case 'n': flags |= H2K_OPEN_NO_PARENT; break;
    case 'I': flags |= H2K_OPEN_IGNORE_PARENT_ID; break;
    case 'i': case 'm': case 'c': mode = c; break;
    case 'h': usage (0);
    default: usage (2);
    }
  }
  if (argc - optind < 1 || argc - optind > 2 || (mode && argc - optind != 1))
    usage (2);

  struct h2k_bdev *bd;
  if (h2k_chain_open (argv[optind], format, flags, &bd) == -1)
    h2k_die ("%s%s", h2k_errmsg (), h2k_errcode () == H2K_ERR_PARENT_ID
             ? " (--ignore-parent-id reads it anyway)" : "");

  switch (mode) {
  case 'i':
    for (struct h2k_bdev *b = bd; b; b = b->parent)
      printf ("%u %s %" PRIu64 " %s\n", b->depth, b->ops->name, b->size,
              b->path);
    break;
  case 'm':
    print_map (bd);
    break;
  case 'c':
    if (h2k_bdev_check (bd) == -1)
      h2k_die ("%s", h2k_errmsg ());
    break;
  default:
    copy_out (bd, argc - optind == 2 && strcmp (argv[optind + 1], "-") != 0
              ? argv[optind + 1] : NULL);
  }
  h2k_bdev_close (bd);
  return h2k_close_stdout () == 0 ? 0 : 1;
}
