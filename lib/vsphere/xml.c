/* Building vim25 requests and reading replies with libxml2. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "vsphere.h"

/* Requests are built as an unattached element tree; the envelope
 * (vsphere-session.c) adopts it.  Every element is in urn:vim25, declared
 * once on the method element. */
xmlNode *
h2k_soap_method (const char *method, const char *this_type,
                 const char *this_value)
{
  xmlNode *m = xmlNewNode (NULL, BAD_CAST method);
  if (!m)
    return NULL;
  xmlNs *ns = xmlNewNs (m, BAD_CAST H2K_VIM25_NS, NULL);
  xmlSetNs (m, ns);
  if (this_type)
    h2k_soap_add_moref (m, "_this", this_type, this_value);
  return m;
}

xmlNode *
h2k_soap_add_text (xmlNode *parent, const char *name, const char *text)
{
  /* xmlNewTextChild escapes TEXT; xmlNewChild would not. */
  return xmlNewTextChild (parent, parent->ns, BAD_CAST name, BAD_CAST text);
}

xmlNode *
h2k_soap_add_moref (xmlNode *parent, const char *name, const char *type,
                    const char *value)
{
  xmlNode *n = h2k_soap_add_text (parent, name, value);
  if (n)
    xmlNewProp (n, BAD_CAST "type", BAD_CAST type);
  return n;
}

void
h2k_soap_set_type (xmlNode *node, const char *type)
{
  /* The envelope declares the xsi prefix; search up from NODE first in
   * case the tree is not attached yet. */
  xmlNs *ns = xmlSearchNsByHref (node->doc, node, BAD_CAST H2K_XSI_NS);
  if (!ns) {
    xmlNode *top = node;
    while (top->parent && top->parent->type == XML_ELEMENT_NODE)
      top = top->parent;
    ns = xmlNewNs (top, BAD_CAST H2K_XSI_NS, BAD_CAST "xsi");
  }
  xmlSetNsProp (node, ns, BAD_CAST "type", BAD_CAST type);
}

static bool
is_element (const xmlNode *n, const char *name)
{
  /* Reply elements are in urn:vim25 (or, for a few servers' inner
   * elements, no namespace at all); SOAP's own are in the envelope
   * namespace and are looked up by the session code. */
  return n->type == XML_ELEMENT_NODE
    && (!name || strcmp ((const char *) n->name, name) == 0);
}

xmlNode *
h2k_xml_child (const xmlNode *node, const char *name)
{
  if (!node)
    return NULL;
  for (xmlNode *c = node->children; c; c = c->next)
    if (is_element (c, name))
      return c;
  return NULL;
}

xmlNode *
h2k_xml_next (const xmlNode *node, const char *name)
{
  if (!node)
    return NULL;
  for (xmlNode *c = node->next; c; c = c->next)
    if (is_element (c, name))
      return c;
  return NULL;
}

char *
h2k_xml_text (const xmlNode *node)
{
  xmlChar *s = node ? xmlNodeGetContent (node) : NULL;
  char *out = strdup (s ? (const char *) s : "");
  xmlFree (s);
  return out;
}

char *
h2k_xml_child_text (const xmlNode *node, const char *name)
{
  xmlNode *c = h2k_xml_child (node, name);
  return c ? h2k_xml_text (c) : NULL;
}

char *
h2k_xml_type (const xmlNode *node)
{
  if (!node)
    return NULL;
  /* By namespace URI: "xsi:type" and "XMLSchema-instance:type" are the
   * same attribute. */
  xmlChar *t = xmlGetNsProp (node, BAD_CAST "type", BAD_CAST H2K_XSI_NS);
  if (!t)
    return NULL;
  const char *colon = strchr ((const char *) t, ':');
  char *out = strdup (colon ? colon + 1 : (const char *) t);
  xmlFree (t);
  return out;
}

bool
h2k_xml_child_int64 (const xmlNode *node, const char *name, int64_t *out)
{
  char *s = h2k_xml_child_text (node, name);
  if (!s)
    return false;
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  bool good = errno == 0 && end != s && *end == '\0';
  free (s);
  if (good)
    *out = v;
  return good;
}

bool
h2k_xml_child_bool (const xmlNode *node, const char *name, bool *out)
{
  char *s = h2k_xml_child_text (node, name);
  if (!s)
    return false;
  bool good = true;
  if (strcmp (s, "true") == 0 || strcmp (s, "1") == 0)
    *out = true;
  else if (strcmp (s, "false") == 0 || strcmp (s, "0") == 0)
    *out = false;
  else
    good = false;
  free (s);
  return good;
}
