/* img-convert --list-files: the files a disk's chain reads, through the
 * same chain layer the conversion uses, so that a caller (h2k-watch)
 * learns a qcow2's backing file, a differencing VHD's or VHDX's parent
 * and a VMDK's extents and parents without parsing any of them itself. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "disk/bdev.h"
#include "list.h"
#include "util/h2k.h"

static void
put (const char *path, bool zero)
{
  fputs (path, stdout);
  putchar (zero ? '\0' : '\n');
}

/* Is PATH one of the files of the layers of CHAIN? */
static bool
listed (struct h2k_bdev *chain, const char *path)
{
  struct stat a, b;
  if (stat (path, &a) == -1)
    return false;
  for (struct h2k_bdev *bd = chain; bd; bd = bd->parent) {
    const char *f;
    for (size_t i = 0; (f = h2k_bdev_file (bd, i)) != NULL; i++)
      if (stat (f, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return true;
  }
  return false;
}

int
list_files (const char *input, const char *format, unsigned flags, bool zero)
{
  struct h2k_bdev *chain, *bd, *last = NULL;
  int r = h2k_chain_open_partial (input, format, flags, &chain);

  for (bd = chain; bd; bd = bd->parent) {
    const char *f;
    for (size_t i = 0; (f = h2k_bdev_file (bd, i)) != NULL; i++)
      put (f, zero);
    last = bd;
  }
  if (r == -1 && last && last->parent == NULL && last->parent_path) {
    /* The parent that stopped the chain: where it was found, or, when it
     * is nowhere, the place beside its child (where a copied chain has
     * it), else the path its child names. */
    struct stat st;
    const char *p = last->parent_path;
    if (stat (p, &st) == -1)
      p = last->parent_alt ? last->parent_alt : last->parent_path;
    if (!listed (chain, p))
      put (p, zero);
  }
  if (r == -1)
    fprintf (stderr, "%s: %s%s\n", h2k_program (), h2k_errmsg (),
             h2k_errcode () == H2K_ERR_PARENT_ID
             ? " (--ignore-parent-id reads it anyway)" : "");
  h2k_bdev_close (chain);
  if (h2k_close_stdout () != 0)
    return 1;
  return r == -1 ? 1 : 0;
}
