/* Parsing XML that comes from someone else (SOAP replies, OVF
 * descriptors) with libxml2, one way everywhere.
 *
 * Neither a vSphere reply nor an OVF descriptor has any use for a document
 * type declaration, and a DTD is where every XML attack lives: entity
 * expansion ("billion laughs"), external entities that read local files or
 * reach the network, parameter entities.  So the parser is stopped at the
 * first "<!DOCTYPE", before any declaration in it is read, and the
 * document is refused.  On top of that: no network, no entity
 * substitution, libxml2's default size limits (no XML_PARSE_HUGE), and
 * errors kept for our own message instead of printed.
 *
 *   xmlDoc *doc = h2k_xml_read (buf, len, "reply.xml");
 *   if (doc == NULL) ... h2k_errmsg (): "reply.xml: line 3: ..." */
#ifndef H2K_XMLREAD_H
#define H2K_XMLREAD_H

#include <stddef.h>
#include <libxml/tree.h>

/* The document in BUF (LEN bytes), or NULL with h2k_seterr naming NAME. */
xmlDoc *h2k_xml_read (const char *buf, size_t len, const char *name);

#endif
