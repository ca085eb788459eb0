/* An OVA read from a pipe, as "img-convert - OUT" reads one: the tar
 * member walk, the OVF descriptor, the manifest and every disk decoded
 * into raw outputs under a scratch directory (cmd/img-convert/ova.c is
 * program code: this target is built with it). */
#include <ftw.h>

#include "fuzz.h"
#include "membs.h"
#include "ova.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char dir[64];

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (dir[0] == '\0') {
    /* On tmpfs when there is one: on ext4, making and removing the
     * directory and its files for every input was half of the run (the
     * inode allocator's search for a recently deleted inode). */
    const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf (dir, sizeof dir, "%s/h2k-fuzz-ova.%d", base, (int) getpid ());
  }
  nftw (dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  if (mkdir (dir, 0700) == -1)
    abort ();
  struct out_options oo = { .raw = true };
  struct ova_options opt = { .out = &oo, .all = true };
  struct membs m;
  membs_init (&m, data, size, "stdin");
  ova_convert_stream (&m.bs, dir, &opt);
  bstream_free_pushback (&m.bs);
  nftw (dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}
