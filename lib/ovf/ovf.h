/* The ovf wing of lib/ (lib/ovf/): the one reader of OVF descriptors, for
 * img-convert (which disks an OVA holds) and virt-define (the whole
 * machine).  It uses only lib/util/ and libxml2.
 *
 * Elements are matched by namespace and local name with libxml2's tree
 * API, never by prefix or string search: producers choose their own
 * prefixes.  The descriptor is untrusted: it is parsed without network
 * access and without expanding entities, and the root must be an
 * Envelope in the OVF 1.x or 2.x namespace.
 *
 *   struct h2k_ovf o;
 *   if (h2k_ovf_parse (buf, len, "x.ovf", &o) == -1) die (h2k_errmsg ());
 *   xmlNode *refs = h2k_ovf_child (&o, o.envelope, "References");
 *   h2k_ovf_disks (&o, &disks);        the DiskSection's disks and files
 *   h2k_ovf_free (&o);
 */
#ifndef H2K_OVF_H
#define H2K_OVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "util/vector.h"

#define H2K_OVF_NS1 "http://schemas.dmtf.org/ovf/envelope/1"
#define H2K_OVF_NS2 "http://schemas.dmtf.org/ovf/envelope/2"

struct h2k_ovf {
  const char *name;             /* for messages */
  xmlDoc *doc;
  xmlNode *envelope;            /* the root element */
  const xmlChar *ns;            /* its namespace: 1.x or 2.x */
};

/* Parse BUF (LEN bytes) named NAME; 0, or -1 with h2k_seterr. */
int h2k_ovf_parse (const char *buf, size_t len, const char *name,
                   struct h2k_ovf *o);
void h2k_ovf_free (struct h2k_ovf *o);

/* Is N the element NAME of the envelope's namespace? */
bool h2k_ovf_is (const struct h2k_ovf *o, const xmlNode *n, const char *name);
/* The first child of PARENT that is the envelope's element NAME, or NULL. */
xmlNode *h2k_ovf_child (const struct h2k_ovf *o, const xmlNode *parent,
                        const char *name);
/* ovf:ATTR of N, or ATTR without a namespace, which some hand-written OVFs
 * use; free it with xmlFree.  NULL when absent. */
char *h2k_ovf_attr (const struct h2k_ovf *o, const xmlNode *n,
                    const char *attr);
/* DiskSection/Disk with ovf:diskId ID, or References/File with ovf:id ID;
 * NULL when there is none. */
xmlNode *h2k_ovf_disk (const struct h2k_ovf *o, const char *id);
xmlNode *h2k_ovf_file (const struct h2k_ovf *o, const char *id);

/* A disk of the DiskSection that has a file (a Disk without ovf:fileRef is
 * a blank disk to create on import, and is not listed). */
struct h2k_ovf_disk {
  char *disk_id;
  char *href;               /* the file's name, checked to be a plain name */
  uint64_t size;            /* the File's ovf:size, 0 if absent */
  char *compression;        /* NULL, "identity" or "gzip" */
  bool chunked;             /* ovf:chunkSize given */
};
DEFINE_VECTOR_TYPE (h2k_ovf_disk_vector, struct h2k_ovf_disk);

/* The disks, in DiskSection order; -1 with h2k_seterr when a Disk names a
 * File that References does not list, or a file name is not plain. */
int h2k_ovf_disks (const struct h2k_ovf *o, h2k_ovf_disk_vector *disks);
void h2k_ovf_disks_free (h2k_ovf_disk_vector *disks);

/* A member or file name that is safe to use: not empty, no '/' or '\',
 * not "." or "..", no control characters. */
bool h2k_ovf_name_is_plain (const char *name);

#endif
