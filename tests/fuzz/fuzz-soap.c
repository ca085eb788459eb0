/* A SOAP reply as lib/vsphere reads one, both ways: h2k_xml_read (the
 * parser small replies go through, which refuses DTDs), then the tree
 * walked with the accessors the callers use on property-collector
 * results, faults and task info: children by name, text, xsi:type,
 * numbers, booleans, and h2k_vs_prop over every objects element; and the
 * streamed reading of property-collector results (libxml2's xmlReader
 * behind the prolog check, h2k_vs_parse_objects), each object walked the
 * same way. */
#include "fuzz.h"
#include "util/xmlread.h"
#include "vsphere/vsphere.h"
#include "vsphere/vsphere-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *const names[] = {
  "Body", "Fault", "faultstring", "detail", "returnval", "objects", "obj",
  "propSet", "name", "val", "token", "info", "state", "error", "result",
  "changedArea", "start", "length", "key", "reason", "msg",
};

static void
walk (const xmlNode *n, int depth)
{
  for (; n && depth < 64; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      const xmlNode *c = h2k_xml_child (n, names[i]);
      if (c) {
        free (h2k_xml_text (c));
        h2k_xml_next (c, names[i]);
      }
      int64_t v;
      bool b;
      h2k_xml_child_int64 (n, names[i], &v);
      h2k_xml_child_bool (n, names[i], &b);
      free (h2k_xml_child_text (n, names[i]));
    }
    free (h2k_xml_type (n));
    h2k_vs_prop (n, "name");
    h2k_vs_prop (n, "config.hardware.device");
    walk (n->children, depth + 1);
  }
}

static int
object_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  (void) opaque; (void) type; (void) moref;
  walk (o, 0);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *token = NULL;
  h2k_vs_parse_objects ((const char *) data, size, object_cb, NULL, &token);
  free (token);

  xmlDoc *doc = h2k_xml_read ((const char *) data, size, "reply.xml");
  if (doc) {
    walk (xmlDocGetRootElement (doc), 0);
    xmlFreeDoc (doc);
  }
  return 0;
}
