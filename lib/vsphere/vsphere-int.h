/* Internals of the vSphere session shared by the files of lib/vsphere/ (not for
 * programs: use vsphere.h). */
#ifndef H2K_VSPHERE_INT_H
#define H2K_VSPHERE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <curl/curl.h>

#include "vsphere.h"

/* TLS settings of a session, shared read-only by every curl handle set up
 * from it; only the record of the last mismatch is written, under LOCK. */
struct h2k_vs_tls {
  bool insecure;
  char *pin;                   /* normalised SHA-1 or SHA-256, or NULL */
  char *pin_source;            /* "--thumbprint" or the known_hosts file */
  char **ca_files;             /* NULL-terminated, or NULL */

  pthread_mutex_t lock;
  bool mismatch;               /* the last handshake failed the pin */
  char seen_sha1[64];          /* the leaf certificate last seen */
  char seen_sha256[100];
};

/* One SOAP connection.  Transfers run through its own multi handle, so
 * that a streamed reply can be read a piece at a time (the reader asks
 * for bytes, the transfer runs until it has some) and the connection is
 * kept alive from one call to the next. */
struct h2k_vs_conn {
  CURL *easy;
  CURLM *multi;
  bool running;                /* a transfer is in progress */
  CURLcode code;               /* how the last transfer ended */
  char errbuf[CURL_ERROR_SIZE];
};

/* How many SOAP calls may be in progress at once: a streamed reply is
 * read on conns[0] while the function handed each object makes its own
 * calls (the names of what it refers to) on conns[1], and so on. */
#define H2K_VS_DEPTH 4

struct h2k_vs {
  const struct h2k_conn_opts *opts;
  char *url;                   /* https://host:port/sdk */
  char *name;                  /* host:port */
  CURL *curl;                  /* conns[0].easy: the first SOAP connection */
  struct h2k_vs_conn conns[H2K_VS_DEPTH];
  unsigned depth;              /* streamed replies being read now */
  CURLSH *share;               /* the session cookie, for every conns[] */
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
  struct h2k_vs_tls tls;
  struct h2k_vs_content sc;

  /* The session cookie as of the last login, for data-plane handles that
   * other threads set up while this one makes SOAP calls. */
  pthread_mutex_t cookie_lock;
  char *cookie;                /* "vmware_soap_session=..." or NULL */

  char *username;
  char *password;              /* kept for re-login; wiped at close */
  bool logged_in;
  unsigned generation;
  unsigned long round_trips;
  double last_call;            /* monotonic seconds of the last SOAP call */
  char *last_fault;
};

int h2k_vs_tls_init (struct h2k_vs_tls *t, const struct h2k_conn_opts *o);
void h2k_vs_tls_free (struct h2k_vs_tls *t);
/* Apply the TLS settings to a curl handle. */
int h2k_vs_tls_setup (struct h2k_vs_tls *t, CURL *h);
/* After a failed transfer: set the error message for CODE, naming the pin
 * mismatch or the certificate problem when that is what happened. */
int h2k_vs_tls_error (struct h2k_vs *vs, CURLcode code);
/* Send METHOD (taken) and read its reply, a property collector's
 * RetrieveResult (RetrievePropertiesEx, ContinueRetrievePropertiesEx), as
 * a stream: FN gets each <objects> element as soon as it has been read,
 * and it is freed when FN returns, so memory does not grow with the
 * reply.  *TOKEN gets the paging token (malloc'd), or NULL when the reply
 * has none.  FN may make SOAP calls of its own (they go over another
 * connection).  -1 with h2k_seterr on failure, FN's -1 included; *TOKEN
 * is set even then, for a CancelRetrievePropertiesEx. */
int h2k_vs_call_objects (struct h2k_vs *vs, xmlNode *method,
                         h2k_vs_object_fn fn, void *opaque, char **token);

/* The same reading of a RetrieveResult from LEN bytes at BUF, for the
 * fuzz target and tests: FN gets each object as h2k_vs_call_objects
 * would hand it on. */
int h2k_vs_parse_objects (const char *buf, size_t len, h2k_vs_object_fn fn,
                          void *opaque, char **token);

/* Read the session cookie from the SOAP handle into vs->cookie. */
int h2k_vs_save_cookie (struct h2k_vs *vs);

#endif
