/* A streamOptimized VMDK read sequentially from a pipe, as img-convert
 * reads "-" and the disks inside an OVA: source_vmdk_stream_open and
 * every chunk it hands out. */
#include "fuzz.h"
#include "membs.h"
#include "copy/source.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct membs m;
  membs_init (&m, data, size, "stdin");
  struct source *src = source_vmdk_stream_open (&m.bs, "stdin");
  if (src) {
    struct chunk c;
    uint64_t last = 0;
    int r;
    while ((r = src->ops->next (src, &c)) > 0) {
      /* Chunks come in ascending order and never overlap. */
      if (c.offset < last)
        abort ();
      last = c.offset + c.length;
      if (c.data && c.length) {
        volatile unsigned char x = ((const unsigned char *) c.data)[c.length - 1];
        (void) x;
      }
    }
    source_close (src);
  }
  bstream_free_pushback (&m.bs);
  return 0;
}
