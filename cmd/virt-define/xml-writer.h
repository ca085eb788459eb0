/* Block macros over libxml2's xmlTextWriter, in the manner of
 * libguestfs-common's libxml2-writer-macros.h: the C nests the way the
 * XML does, every element is closed by construction, and every string
 * goes through the writer's escaping.
 *
 *   start_element ("disk") {
 *     attribute ("type", "file");
 *     empty_element ("source") { attribute ("file", path); }
 *     single_element ("serial", serial);
 *   }
 *
 * The macros expect an `xmlTextWriterPtr xo` in scope.  The writer only
 * fails when memory runs out (it writes to a memory buffer), so a failure
 * ends the program through xml_fail; nothing has been written anywhere
 * at that point.  Do not `break` or `return` out of an element's block:
 * the element would not be closed.
 */
#ifndef VIRT_DEFINE_XML_WRITER_H
#define VIRT_DEFINE_XML_WRITER_H

#include <libxml/xmlwriter.h>

#include "util/die.h"

#define xml_fail(fn) h2k_die ("cannot write the domain XML: %s failed", (fn))

static inline void
xw_end_element (xmlTextWriterPtr xo)
{
  if (xmlTextWriterEndElement (xo) == -1)
    xml_fail ("xmlTextWriterEndElement");
}

#define XW_CAT_(a, b) a##b
#define XW_CAT(a, b) XW_CAT_ (a, b)

#define start_element(name) \
  start_element_ ((name), XW_CAT (xw_once_, __COUNTER__))
#define start_element_(name, once)                                      \
  if (xmlTextWriterStartElement (xo, BAD_CAST (name)) == -1)            \
    xml_fail ("xmlTextWriterStartElement");                             \
  else                                                                  \
    for (int once = 1; once; once = 0, xw_end_element (xo))

#define end_element() xw_end_element (xo)

/* An element with attributes only: <source file='...'/>. */
#define empty_element(name) start_element (name)

#define attribute(key, value)                                           \
  do {                                                                  \
    if (xmlTextWriterWriteAttribute (xo, BAD_CAST (key),                \
                                     BAD_CAST (value)) == -1)           \
      xml_fail ("xmlTextWriterWriteAttribute");                         \
  } while (0)

#define attribute_format(key, fs, ...)                                  \
  do {                                                                  \
    if (xmlTextWriterWriteFormatAttribute (xo, BAD_CAST (key), fs,      \
                                           ##__VA_ARGS__) == -1)        \
      xml_fail ("xmlTextWriterWriteFormatAttribute");                   \
  } while (0)

/* An attribute in a namespace, for <metadata>. */
#define attribute_ns(prefix, key, uri, value)                           \
  do {                                                                  \
    if (xmlTextWriterWriteAttributeNS (xo, BAD_CAST (prefix),           \
                                       BAD_CAST (key), BAD_CAST (uri),  \
                                       BAD_CAST (value)) == -1)         \
      xml_fail ("xmlTextWriterWriteAttributeNS");                       \
  } while (0)

#define string(str)                                                     \
  do {                                                                  \
    if (xmlTextWriterWriteString (xo, BAD_CAST (str)) == -1)            \
      xml_fail ("xmlTextWriterWriteString");                            \
  } while (0)

#define string_format(fs, ...)                                          \
  do {                                                                  \
    if (xmlTextWriterWriteFormatString (xo, fs, ##__VA_ARGS__) == -1)   \
      xml_fail ("xmlTextWriterWriteFormatString");                      \
  } while (0)

/* <name>text</name> */
#define single_element(name, str)                                       \
  do {                                                                  \
    start_element (name) { string (str); }                              \
  } while (0)

#define single_element_format(name, fs, ...)                            \
  do {                                                                  \
    start_element (name) { string_format (fs, ##__VA_ARGS__); }         \
  } while (0)

#endif
