/* JSON-lines records as vs-pull and virt-define read them: lines through
 * h2k_jsonl_read, each object through virt-define's record reader
 * (cmd/virt-define/record.c, program code: this target is built with it). */
#include "fuzz.h"
#include "util/jsonl.h"
#include "virt-define.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FILE *fp = fmemopen ((void *) data, size, "r");
  if (fp == NULL)
    return 0;
  struct h2k_jsonl_reader r;
  h2k_jsonl_reader_init (&r, fp, "<stdin>");
  json_object *o;
  int n = 0;
  while (n++ < 64 && h2k_jsonl_read (&r, &o) == 1) {
    struct vd_source *src = vd_read_record (o, "<stdin>: record 1");
    vd_source_free (src);
    json_object_put (o);
  }
  h2k_jsonl_reader_free (&r);
  fclose (fp);
  return 0;
}
