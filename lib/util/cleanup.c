#include <stdlib.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cleanup.h"

void
h2k_cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}

void
h2k_cleanup_fclose (void *ptr)
{
  FILE *fp = *(FILE **) ptr;
  if (fp)
    fclose (fp);
}

void
h2k_cleanup_close (void *ptr)
{
  int fd = *(int *) ptr;
  if (fd >= 0)
    close (fd);
}

void
h2k_cleanup_json_put (void *ptr)
{
  json_object *obj = *(json_object **) ptr;
  if (obj)
    json_object_put (obj);
}
