/* The vsphere wing of lib/ (lib/vsphere/): the control plane, with the
 * connection options every vs-* program shares (connopts.h), the SOAP
 * session, the property collector, tasks, TLS pinning and CBT queries.  It
 * uses only lib/util/; the bytes move through lib/http/, which the
 * programs wire to the session.
 *
 * The vSphere control plane: a vim25 SOAP session over libcurl + libxml2.
 *
 * Connecting
 *
 *   struct h2k_conn_opts conn;              (connopts.h: flags + GOVC_*)
 *   ...parse options, h2k_connopts_finish (&conn)...
 *   struct h2k_vs *vs = h2k_vs_connect (&conn);
 *   if (!vs) h2k_die ("%s", h2k_errmsg ());
 *
 * The program calls curl_global_init first, and keeps CONN alive as long
 * as the session (h2k_vs_opts returns it).
 *
 * h2k_vs_connect sets up TLS, calls RetrieveServiceContent (no credentials
 * needed), then reads the password (connopts.h) and logs in.  TLS is
 * verified against the system CAs plus --ca-certs / GOVC_TLS_CA_CERTS.
 * With --insecure it is not verified.  With a pin (--thumbprint, or an
 * entry for host:port in the known_hosts file) the server's leaf
 * certificate must have that SHA-1 or SHA-256 fingerprint, and nothing
 * else is checked.  TLS checks happen in the handshake of the first request,
 * which carries no credentials, so a failed check never sends a password.
 * The session cookie (vmware_soap_session) is kept by libcurl's cookie
 * engine and sent back byte for byte.
 *
 * Errors: every function returning int gives 0 or -1, and a function
 * returning a pointer gives NULL on failure; either way h2k_errmsg () then
 * holds "host:port: Method: FaultType: the server's own message" (or a
 * transport / TLS / parse message).  No message ever contains a password.
 * h2k_vs_last_fault () gives the fault type of the last failed call
 * ("InvalidLogin", "NotAuthenticated", ...), or NULL when it failed without
 * a SOAP fault.
 *
 * Calling methods
 *
 * A request is the method element, built with libxml2 (never by pasting
 * strings), and h2k_vs_call takes ownership of it:
 *
 *   xmlNode *m = h2k_soap_method ("CreateContainerView",
 *                                 "ViewManager", sc->view_manager);
 *   h2k_soap_add_moref (m, "container", "Folder", sc->root_folder);
 *   h2k_soap_add_text (m, "type", "VirtualMachine");
 *   h2k_soap_add_text (m, "recursive", "true");
 *   xmlDoc *doc;
 *   xmlNode *res;                          the <...Response> element
 *   if (h2k_vs_call (vs, m, &doc, &res) == -1) ...
 *   xmlNode *rv = h2k_xml_child (res, "returnval");
 *   ...
 *   xmlFreeDoc (doc);
 *
 * When a call fails with NotAuthenticated on a session that was logged in
 * (it expired), h2k_vs_call logs in again and retries the call once.
 * h2k_vs_generation () counts logins, so a caller holding session-bound
 * state (a container view, a paging token) can tell that it was lost.
 *
 * Reading replies (namespace-aware; the simulator writes
 * "XMLSchema-instance:type", real servers "xsi:type", both work):
 *
 *   h2k_xml_child (node, "name")      first child element with that name
 *   h2k_xml_next (node, "name")       next sibling element with that name
 *   h2k_xml_text (node)               its text, malloc'd ("" if empty)
 *   h2k_xml_type (node)               its xsi:type without any prefix
 *
 * Inventory
 *
 *   h2k_vs_create_view / h2k_vs_destroy_view   ContainerView
 *   h2k_vs_retrieve                            RetrievePropertiesEx with
 *                                              ContinueRetrievePropertiesEx
 *                                              paging; calls a function per
 *                                              object, each read from the
 *                                              reply as a stream
 *   h2k_vs_prop (objects, "name")              the <val> of a property
 *   h2k_vs_wait_task                           poll a task to the end
 *
 * Data plane (lib/http/): fetching /folder URLs with the same TLS
 * settings and session:
 *
 *   CURL *h = curl_easy_init ();
 *   h2k_vs_curl_setup (vs, h);          TLS settings + pin + session cookie
 *   char *url = h2k_vs_folder_url (vs, "[LocalDS_0] vm/disk-flat.vmdk",
 *                                  "DC0");
 *   curl_easy_setopt (h, CURLOPT_URL, url); ...
 *
 * The session must outlive every handle set up from it (the pin check reads
 * the session's settings).  h2k_vs_curl_setup and h2k_vs_cookie only read
 * the session (the cookie under a lock), so several threads may each set up
 * and use their own handles while one thread makes SOAP calls; the SOAP
 * side (h2k_vs_call, h2k_vs_relogin and everything built on them) is for
 * one thread at a time.  After a re-login the cookie changes: set handles
 * up again (h2k_vs_relogin when /folder answers 401, then
 * h2k_vs_curl_setup or CURLOPT_COOKIE with h2k_vs_cookie).
 *
 * During long transfers the SOAP side is idle and real servers end idle
 * sessions after about 30 minutes: call h2k_vs_keepalive (vs, 600) from the
 * SOAP thread now and then (between files, say).
 *
 * h2k_vs_close logs out and frees everything, wiping the password.
 */
#ifndef H2K_VSPHERE_H
#define H2K_VSPHERE_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>
#include <libxml/tree.h>

#include "connopts.h"
#include "util/progress.h"
#include "util/vector.h"

#define H2K_VIM25_NS "urn:vim25"
#define H2K_XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

struct h2k_vs;

/* What RetrieveServiceContent said; strings owned by the session. */
struct h2k_vs_content {
  char *root_folder;
  char *property_collector;
  char *view_manager;
  char *session_manager;
  char *search_index;
  char *file_manager;
  char *virtual_disk_manager;
  char *api_type;               /* "VirtualCenter" or "HostAgent" */
  char *api_version;            /* "7.0.3" ... */
  char *full_name;              /* "VMware vCenter Server 7.0.3 ..." */
  char *instance_uuid;
};

/* Connect and log in (see above).  NULL with h2k_seterr. */
struct h2k_vs *h2k_vs_connect (const struct h2k_conn_opts *opts);
/* Log out (errors ignored) and free. NULL is allowed. */
void h2k_vs_close (struct h2k_vs *vs);

const struct h2k_vs_content *h2k_vs_content (const struct h2k_vs *vs);
const struct h2k_conn_opts *h2k_vs_opts (const struct h2k_vs *vs);
/* "host:port" for messages. */
const char *h2k_vs_name (const struct h2k_vs *vs);
bool h2k_vs_is_vcenter (const struct h2k_vs *vs);

/* Log in again (drops the old session if the server still has it). */
int h2k_vs_relogin (struct h2k_vs *vs);
/* Keep the session from expiring while only the data plane is busy (real
 * servers end a session after about 30 idle minutes): a cheap call
 * (CurrentTime) when the last SOAP call is older than IDLE_SECONDS, and a
 * re-login if the session had expired anyway.  Returns 1 if it called, 0
 * if it did not need to, -1 on failure. */
int h2k_vs_keepalive (struct h2k_vs *vs, unsigned idle_seconds);
/* Number of successful logins so far (1 after h2k_vs_connect). */
unsigned h2k_vs_generation (const struct h2k_vs *vs);
/* Number of SOAP requests sent so far (for benchmarks and tests). */
unsigned long h2k_vs_round_trips (const struct h2k_vs *vs);
/* Fault type of the last failed call, or NULL. */
const char *h2k_vs_last_fault (const struct h2k_vs *vs);

/* --- Requests ------------------------------------------------------------ */

/* A new, unattached method element in urn:vim25 with its _this child. */
xmlNode *h2k_soap_method (const char *method, const char *this_type,
                          const char *this_value);
/* Add <name>text</name> (escaped) / <name type="T">value</name>; return the
 * new element. */
xmlNode *h2k_soap_add_text (xmlNode *parent, const char *name, const char *text);
xmlNode *h2k_soap_add_moref (xmlNode *parent, const char *name,
                             const char *type, const char *value);
/* Set xsi:type="TYPE" on an element of a request. */
void h2k_soap_set_type (xmlNode *node, const char *type);

/* Send METHOD (taken, freed in all cases).  On success *DOC is the reply
 * (free with xmlFreeDoc) and *RESPONSE its <MethodResponse> element. */
int h2k_vs_call (struct h2k_vs *vs, xmlNode *method, xmlDoc **doc,
                 xmlNode **response);

/* --- Reading replies ----------------------------------------------------- */

xmlNode *h2k_xml_child (const xmlNode *node, const char *name);
xmlNode *h2k_xml_next (const xmlNode *node, const char *name);
char *h2k_xml_text (const xmlNode *node);
/* The text of child NAME, malloc'd, or NULL when there is no such child. */
char *h2k_xml_child_text (const xmlNode *node, const char *name);
/* The xsi:type's local part ("VirtualDisk"), malloc'd, or NULL. */
char *h2k_xml_type (const xmlNode *node);
/* The text of child NAME as a number / boolean; false if missing or bad. */
bool h2k_xml_child_int64 (const xmlNode *node, const char *name, int64_t *out);
bool h2k_xml_child_bool (const xmlNode *node, const char *name, bool *out);

/* --- Inventory ----------------------------------------------------------- */

/* CreateContainerView over CONTAINER (type, moref) for the NULL-terminated
 * TYPES, recursive.  Returns the view's moref (malloc'd) or NULL. */
/* SearchIndex.FindByInventoryPath: the moref of the object at PATH
 * ("DC0/vm/folder/name"), "" when nothing is there, NULL with h2k_seterr
 * when the call fails. */
char *h2k_vs_find_by_path (struct h2k_vs *vs, const char *path);

char *h2k_vs_create_view (struct h2k_vs *vs, const char *container_type,
                          const char *container, const char *const *types);
int h2k_vs_destroy_view (struct h2k_vs *vs, const char *view);

/* A moref. */
struct h2k_moref {
  const char *type;
  const char *value;
};

/* Called for each <objects> element (an ObjectContent): its obj's type
 * and value, and the element (use h2k_vs_prop on it).  Return 0 to go on,
 * -1 (with h2k_seterr) to stop; h2k_vs_retrieve then cancels the paging
 * and returns -1.
 *
 * The replies are read as a stream (libxml2's xmlReader): each object is
 * parsed when its end tag arrives, handed to the function, and freed when
 * the function returns, so the element and everything under it are valid
 * only during the call (copy what you keep), and memory does not grow
 * with the reply, whatever page size the server chooses.  The function
 * may make SOAP calls of its own (name lookups, say): they go over a
 * second connection of the session while the first waits.  A reply that
 * breaks off or turns malformed half way fails the call after the objects
 * before it were handed on ("... after N objects: ..."): callers that
 * must not show a partial result hold what they build until the call
 * returns. */
typedef int (*h2k_vs_object_fn) (void *opaque, const char *type,
                                 const char *moref, xmlNode *objects);

/* RetrievePropertiesEx for objects of TYPE with the NULL-terminated PATHS:
 * either every such object in VIEW (a ContainerView moref, OBJS NULL), or
 * the NOBJS objects OBJS (VIEW NULL).  Pages of at most MAX_OBJECTS
 * (0: the server's choice) are fetched with ContinueRetrievePropertiesEx
 * until the server has no more.  A session that expires between pages
 * loses the paging state on the server: that is an error. */
int h2k_vs_retrieve (struct h2k_vs *vs, const char *view,
                     const struct h2k_moref *objs, size_t nobjs,
                     const char *type, const char *const *paths,
                     int max_objects, h2k_vs_object_fn fn, void *opaque);

/* The <val> of property NAME in an <objects> element, or NULL when the
 * server left it out (unset). */
xmlNode *h2k_vs_prop (const xmlNode *objects, const char *name);

/* Wait for TASK to end, polling info.state and info.progress (reported to
 * PROGRESS if not NULL).  On success, if RESULT_DOC is not NULL, it gets the
 * document holding info.result and *RESULT the <val> node (NULL if the task
 * has no result).  A failed task gives -1 with its fault type and message. */
int h2k_vs_wait_task (struct h2k_vs *vs, const char *task,
                      struct h2k_progress *progress,
                      xmlDoc **result_doc, xmlNode **result);

/* --- Data plane ---------------------------------------------------------- */

/* The pin for HOSTPORT ("host:port") in govc known_hosts FILES (':'
 * separated; "host[:port] thumbprint" per line, a bare host matching port
 * 443; missing files are skipped, as govc does).  Sets *PIN (normalised)
 * and *SOURCE (the file) when found, leaves them alone otherwise; -1 with
 * h2k_seterr for a malformed thumbprint.  vs-pull --direct checks hosts'
 * certificates against it too. */
int h2k_known_hosts_lookup (const char *files, const char *host, int port,
                            const char *hostport, char **pin, char **source);

/* CERT's SHA-1 and SHA-256 fingerprints as colon-separated upper-case hex,
 * the form govc's known_hosts and vSphere's sslThumbprint use (empty
 * strings when CERT is NULL or cannot be hashed).  CERT is an OpenSSL
 * X509. */
struct x509_st;
void h2k_cert_fingerprints (struct x509_st *cert, char sha1[64],
                            char sha256[100]);

/* Set H's TLS options (verify, CA files, pin) and session cookie the way
 * the SOAP connection has them. */
int h2k_vs_curl_setup (struct h2k_vs *vs, CURL *h);
/* The current session cookie, "vmware_soap_session=...", malloc'd, or NULL
 * with h2k_seterr. */
char *h2k_vs_cookie (struct h2k_vs *vs);

/* Split "[datastore] path/in/it" (the form of backing file names).  Both
 * outputs malloc'd; -1 with h2k_seterr if DSPATH is not of that form. */
int h2k_vs_parse_dspath (const char *dspath, char **datastore, char **path);
/* https://host:port/folder/<path>?dcPath=<dc>&dsName=<ds> for a datastore
 * path, each part percent-encoded.  DC_PATH is the datacenter's inventory
 * path ("DC0", "F0/DC0"), or NULL for a standalone ESXi host. */
char *h2k_vs_folder_url (struct h2k_vs *vs, const char *dspath,
                         const char *dc_path);
/* The same from a SOAP URL ("https://host:port/sdk"), without a session. */
char *h2k_folder_url (const char *sdk_url, const char *dspath,
                      const char *dc_path);

/* --- Changed Block Tracking --------------------------------------------- */

/* A byte range of a virtual disk. */
struct h2k_vs_area {
  uint64_t start, length;
};
DEFINE_VECTOR_TYPE (h2k_vs_areas, struct h2k_vs_area);

/* QueryChangedDiskAreas on virtual machine VM (a moref) for the disk with
 * DEVICE_KEY and CAPACITY bytes: the areas changed since CHANGE_ID, or
 * with "*" every area in use.  SNAPSHOT (a VirtualMachineSnapshot moref)
 * asks about the disk as that snapshot froze it; NULL asks about the
 * running disk, which real servers only answer for a powered-off VM.
 * Each reply covers only a span of the disk, so the query is repeated
 * from the reply's startOffset + length until the capacity is reached.
 * The areas are appended to *OUT in order, adjacent ones merged, clipped
 * to the capacity; *CALLS (if not NULL) gets the number of calls made.
 * A reply that does not move forward, or whose areas lie outside its own
 * span or go backwards, is an error, as is any fault (CBT off gives
 * FileFault, an unknown disk InvalidArgument: h2k_vs_last_fault tells
 * which). */
int h2k_vs_changed_areas (struct h2k_vs *vs, const char *vm,
                          const char *snapshot, int64_t device_key,
                          const char *change_id, uint64_t capacity,
                          h2k_vs_areas *out, unsigned *calls);

#endif
