/* The OVF reader (ovf.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "ovf.h"
#include "util/die.h"
#include "util/xmlread.h"

static bool
ns_is (const xmlNode *n, const char *href)
{
  return n->ns && n->ns->href && strcmp ((const char *) n->ns->href, href) == 0;
}

static bool
is_elem (const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && strcmp ((const char *) n->name, name) == 0;
}

int
h2k_ovf_parse (const char *buf, size_t len, const char *name,
               struct h2k_ovf *o)
{
  memset (o, 0, sizeof *o);
  o->name = name;
  if (len > INT32_MAX)
    return h2k_seterr ("%s: too large for an OVF descriptor", name);
  /* No DTD, no network access, no entity expansion (util/xmlread.h). */
  o->doc = h2k_xml_read (buf, len, name);
  if (o->doc == NULL)
    return -1;
  o->envelope = xmlDocGetRootElement (o->doc);
  if (o->envelope == NULL || !is_elem (o->envelope, "Envelope")
      || !(ns_is (o->envelope, H2K_OVF_NS1) || ns_is (o->envelope, H2K_OVF_NS2))) {
    h2k_ovf_free (o);
    return h2k_seterr ("%s: not an OVF descriptor: the root element is not an "
                       "Envelope in the OVF 1.x or 2.x namespace", name);
  }
  o->ns = o->envelope->ns->href;
  return 0;
}

void
h2k_ovf_free (struct h2k_ovf *o)
{
  xmlFreeDoc (o->doc);
  o->doc = NULL;
  o->envelope = NULL;
  o->ns = NULL;
}

bool
h2k_ovf_is (const struct h2k_ovf *o, const xmlNode *n, const char *name)
{
  return is_elem (n, name) && ns_is (n, (const char *) o->ns);
}

xmlNode *
h2k_ovf_child (const struct h2k_ovf *o, const xmlNode *parent,
               const char *name)
{
  for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
    if (h2k_ovf_is (o, c, name))
      return c;
  return NULL;
}

char *
h2k_ovf_attr (const struct h2k_ovf *o, const xmlNode *n, const char *attr)
{
  xmlChar *v = xmlGetNsProp (n, BAD_CAST attr, o->ns);
  if (v == NULL)
    v = xmlGetNoNsProp (n, BAD_CAST attr);
  return (char *) v;
}

/* The child ELEM of the envelope's SECTION whose ATTR is ID. */
static xmlNode *
find_by_id (const struct h2k_ovf *o, const char *section, const char *elem,
            const char *attr, const char *id)
{
  xmlNode *s = h2k_ovf_child (o, o->envelope, section);
  for (xmlNode *c = s ? s->children : NULL; c; c = c->next) {
    if (!h2k_ovf_is (o, c, elem))
      continue;
    char *v = h2k_ovf_attr (o, c, attr);
    bool match = v && strcmp (v, id) == 0;
    xmlFree (v);
    if (match)
      return c;
  }
  return NULL;
}

xmlNode *
h2k_ovf_disk (const struct h2k_ovf *o, const char *id)
{
  return find_by_id (o, "DiskSection", "Disk", "diskId", id);
}

xmlNode *
h2k_ovf_file (const struct h2k_ovf *o, const char *id)
{
  return find_by_id (o, "References", "File", "id", id);
}

bool
h2k_ovf_name_is_plain (const char *name)
{
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return false;
  for (const unsigned char *p = (const unsigned char *) name; *p; p++)
    if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

/* A copy of an xmlChar string that free() releases; NULL stays NULL. */
static char *
take (char *v)
{
  if (v == NULL)
    return NULL;
  char *r = strdup (v);
  xmlFree (v);
  return r;
}

static void
disk_free (struct h2k_ovf_disk *d)
{
  free (d->disk_id);
  free (d->href);
  free (d->compression);
}

void
h2k_ovf_disks_free (h2k_ovf_disk_vector *disks)
{
  for (size_t i = 0; i < disks->len; i++)
    disk_free (&disks->ptr[i]);
  h2k_ovf_disk_vector_reset (disks);
}

/* One Disk element with a file into D; 1 when it has one, 0 when it is a
 * blank disk, -1 on error. */
static int
read_disk (const struct h2k_ovf *o, xmlNode *disk, struct h2k_ovf_disk *d)
{
  char *fileref = h2k_ovf_attr (o, disk, "fileRef");
  if (fileref == NULL)
    return 0;
  d->disk_id = take (h2k_ovf_attr (o, disk, "diskId"));
  xmlNode *f = h2k_ovf_file (o, fileref);
  if (f == NULL) {
    h2k_seterr ("%s: disk %s refers to file '%s', which References does not list",
                o->name, d->disk_id ? d->disk_id : "?", fileref);
    xmlFree (fileref);
    return -1;
  }
  xmlFree (fileref);
  d->href = take (h2k_ovf_attr (o, f, "href"));
  if (d->href == NULL || !h2k_ovf_name_is_plain (d->href))
    return h2k_seterr ("%s: disk file name '%s' is not a plain file name",
                       o->name, d->href ? d->href : "");
  char *size = h2k_ovf_attr (o, f, "size");
  if (size) {
    char *end;
    d->size = strtoull (size, &end, 10);
    if (*end || *size == '\0' || *size == '-')
      d->size = 0;
    xmlFree (size);
  }
  d->compression = take (h2k_ovf_attr (o, f, "compression"));
  char *chunk = h2k_ovf_attr (o, f, "chunkSize");
  d->chunked = chunk != NULL;
  xmlFree (chunk);
  return 1;
}

int
h2k_ovf_disks (const struct h2k_ovf *o, h2k_ovf_disk_vector *disks)
{
  xmlNode *dsec = h2k_ovf_child (o, o->envelope, "DiskSection");
  for (xmlNode *c = dsec ? dsec->children : NULL; c; c = c->next) {
    if (!h2k_ovf_is (o, c, "Disk"))
      continue;
    struct h2k_ovf_disk d = { 0 };
    int r = read_disk (o, c, &d);
    if (r == 1 && h2k_ovf_disk_vector_append (disks, d) == 0)
      continue;
    disk_free (&d);
    if (r == 0)
      continue;
    h2k_ovf_disks_free (disks);
    return -1;
  }
  return 0;
}
