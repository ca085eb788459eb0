#include <limits.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "die.h"
#include "xmlread.h"

/* SAX hook called at "<!DOCTYPE name", before the internal subset: stop
 * the parser there (see the header). */
static void
refuse_dtd (void *ctx, const xmlChar *name, const xmlChar *external_id,
            const xmlChar *system_id)
{
  xmlParserCtxtPtr ctxt = ctx;
  int *saw = ctxt->_private;
  *saw = 1;
  xmlStopParser (ctxt);
}

xmlDoc *
h2k_xml_read (const char *buf, size_t len, const char *name)
{
  if (len > INT_MAX) {
    h2k_seterr ("%s: %zu bytes is too large for an XML document", name, len);
    return NULL;
  }
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
  if (ctxt == NULL) {
    h2k_seterr ("%s: out of memory", name);
    return NULL;
  }
  int saw_dtd = 0;
  ctxt->_private = &saw_dtd;
  ctxt->sax->internalSubset = refuse_dtd;
  xmlDoc *doc = xmlCtxtReadMemory (ctxt, buf, (int) len, name, NULL,
                                   XML_PARSE_NONET | XML_PARSE_NOERROR
                                   | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  if (saw_dtd) {
    xmlFreeDoc (doc);
    xmlFreeParserCtxt (ctxt);
    h2k_seterr ("%s: refused: the document has a DOCTYPE (a DTD, where "
                "entity expansion and external entities live)", name);
    return NULL;
  }
  if (doc == NULL || !ctxt->wellFormed) {
    const xmlError *e = xmlCtxtGetLastError (ctxt);
    const char *msg = e && e->message ? e->message : "cannot parse";
    size_t l = strlen (msg);
    while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
      l--;
    h2k_seterr ("%s: malformed XML: line %d: %.*s", name, e ? e->line : 0,
                (int) l, msg);
    xmlFreeDoc (doc);
    xmlFreeParserCtxt (ctxt);
    return NULL;
  }
  xmlFreeParserCtxt (ctxt);
  return doc;
}
