/* OVF descriptor parsing with libxml2 (see ovf.h).  Entities are not
 * expanded and the network is never used: the descriptor is untrusted. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "ovf.h"

#define OVF_NS "http://schemas.dmtf.org/ovf/envelope/1"

bool
ovf_name_is_plain (const char *name)
{
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return false;
  for (const unsigned char *p = (const unsigned char *) name; *p; p++)
    if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

static bool
is (xmlNode *n, const char *local)
{
  return n->type == XML_ELEMENT_NODE && strcmp ((const char *) n->name, local) == 0;
}

/* An ovf: attribute, or the same name without a namespace. */
static char *
attr (xmlNode *n, const char *name)
{
  xmlChar *v = xmlGetNsProp (n, (const xmlChar *) name, (const xmlChar *) OVF_NS);
  if (v == NULL)
    v = xmlGetNoNsProp (n, (const xmlChar *) name);
  if (v == NULL)
    return NULL;
  char *r = strdup ((const char *) v);
  xmlFree (v);
  return r;
}

static xmlNode *
child (xmlNode *n, const char *local)
{
  for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
    if (is (c, local))
      return c;
  return NULL;
}

static void
disk_free (struct ovf_disk *d)
{
  free (d->disk_id);
  free (d->href);
  free (d->compression);
}

void
ovf_free (ovf_disk_vector *disks)
{
  for (size_t i = 0; i < disks->len; i++)
    disk_free (&disks->ptr[i]);
  ovf_disk_vector_reset (disks);
}

int
ovf_parse (const char *xml, size_t len, const char *name,
           ovf_disk_vector *disks)
{
  int ret = -1;
  xmlDoc *doc = xmlReadMemory (xml, len, name, NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR
                               | XML_PARSE_NOWARNING);
  if (doc == NULL) {
    const xmlError *e = xmlGetLastError ();
    const char *msg = e && e->message ? e->message : "";
    return h2k_seterr ("%s: not well-formed XML%s%.*s", name,
                       *msg ? ": " : "", (int) strcspn (msg, "\n"), msg);
  }
  xmlNode *env = xmlDocGetRootElement (doc);
  if (env == NULL || !is (env, "Envelope")) {
    h2k_seterr ("%s: not an OVF descriptor (no Envelope element)", name);
    goto out;
  }
  xmlNode *refs = child (env, "References");
  xmlNode *dsec = child (env, "DiskSection");
  for (xmlNode *d = dsec ? dsec->children : NULL; d; d = d->next) {
    if (!is (d, "Disk"))
      continue;
    struct ovf_disk od = { 0 };
    od.disk_id = attr (d, "diskId");
    char *fileref = attr (d, "fileRef");
    if (fileref == NULL) {
      /* A disk without a file is a blank disk to create: nothing to
       * convert. */
      disk_free (&od);
      continue;
    }
    xmlNode *f = NULL;
    for (xmlNode *c = refs ? refs->children : NULL; c; c = c->next) {
      if (!is (c, "File"))
        continue;
      char *id = attr (c, "id");
      bool match = id && strcmp (id, fileref) == 0;
      free (id);
      if (match) {
        f = c;
        break;
      }
    }
    if (f == NULL) {
      h2k_seterr ("%s: disk %s refers to file '%s', which References does not list",
                  name, od.disk_id ? od.disk_id : "?", fileref);
      free (fileref);
      disk_free (&od);
      goto out;
    }
    free (fileref);
    od.href = attr (f, "href");
    if (od.href == NULL || !ovf_name_is_plain (od.href)) {
      h2k_seterr ("%s: disk file name '%s' is not a plain file name",
                  name, od.href ? od.href : "");
      disk_free (&od);
      goto out;
    }
    char *size = attr (f, "size");
    if (size) {
      char *end;
      od.size = strtoull (size, &end, 10);
      if (*end || *size == '\0' || *size == '-')
        od.size = 0;
      free (size);
    }
    od.compression = attr (f, "compression");
    char *chunk = attr (f, "chunkSize");
    od.chunked = chunk != NULL;
    free (chunk);
    if (ovf_disk_vector_append (disks, od) == -1) {
      disk_free (&od);
      goto out;
    }
  }
  ret = 0;
 out:
  if (ret == -1)
    ovf_free (disks);
  xmlFreeDoc (doc);
  return ret;
}
