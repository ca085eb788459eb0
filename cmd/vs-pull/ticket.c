/* --direct: a generic service ticket for every request, and the hosts'
 * certificates.
 *
 * A ticket (SessionManager.AcquireGenericServiceTicket) is single-use and
 * good only for the method and URL it was asked for, so every request to
 * a host, the HEAD and each ranged GET and each retry, gets its own, asked
 * for just before the request is sent (the data plane's "before" hook).
 * The SOAP call is one short round trip to vCenter per request, against
 * requests of megabytes, so the other connections hardly notice the pause;
 * a pool of tickets acquired ahead would save little and could go stale.
 *
 * The ticket travels as the cookie vmware_cgi_ticket=<id>; the vCenter
 * session cookie never goes to a host.
 *
 * The host's certificate: a known_hosts entry for the host (govc's file,
 * --known-hosts or GOVC_TLS_KNOWN_HOSTS) is the user's own pin and wins;
 * else the ticket's sslThumbprint, vCenter's record of the host's
 * certificate, is the pin, as govmomi does (ESXi certificates are
 * self-signed or from VMCA, and the host's inventory name is often not in
 * them).  A pin is checked whatever --insecure says, as for the vCenter
 * connection.  Only without any pin are the CAs and the host name checked
 * (or nothing, with --insecure).  The check runs inside the handshake, so
 * a host that fails it never receives the ticket.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/clock.h"
#include "util/h2k.h"
#include "direct.h"
#include "pull.h"
#include "vsphere/vsphere.h"

/* Replaces OpenSSL's chain verification for connections to a host. */
static int
host_verify_cb (X509_STORE_CTX *x, void *arg)
{
  struct host_tls *t = arg;
  h2k_cert_fingerprints (X509_STORE_CTX_get0_cert (x), t->seen_sha1,
                         t->seen_sha256);

  const char *pin = t->user_pin ? t->user_pin : t->ticket_pin;
  if (pin == NULL) {
    int ok = X509_verify_cert (x);
    t->untrusted = ok <= 0;
    return ok;
  }
  if (strcmp (pin, t->seen_sha1) == 0 || strcmp (pin, t->seen_sha256) == 0)
    return 1;
  t->mismatch = true;
  snprintf (t->failed_pin, sizeof t->failed_pin, "%s", pin);
  X509_STORE_CTX_set_error (x, X509_V_ERR_CERT_REJECTED);
  return 0;
}

static CURLcode
host_sslctx_cb (CURL *curl, void *sslctx, void *parm)
{
  struct host_tls *t = parm;
  SSL_CTX *ctx = sslctx;
  (void) curl;

  for (char **f = t->ca_files; f && *f; f++)
    if (SSL_CTX_load_verify_locations (ctx, *f, NULL) != 1)
      return CURLE_SSL_CACERT_BADFILE;
  SSL_CTX_set_cert_verify_callback (ctx, host_verify_cb, t);
  return CURLE_OK;
}

/* --ca-certs, split once for every host. */
static int
split_ca_files (struct pull *p, struct direct *d)
{
  if (d->ca_files || !p->conn.ca_certs)
    return 0;
  size_t n = 2;
  for (const char *c = p->conn.ca_certs; *c; c++)
    n += *c == ':';
  d->ca_files = calloc (n, sizeof *d->ca_files);
  CLEANUP_FREE char *list = strdup (p->conn.ca_certs);
  if (d->ca_files == NULL || list == NULL)
    return h2k_seterr ("out of memory");
  size_t i = 0;
  char *save = NULL;
  for (char *f = strtok_r (list, ":", &save); f; f = strtok_r (NULL, ":", &save))
    if ((d->ca_files[i++] = strdup (f)) == NULL)
      return h2k_seterr ("out of memory");
  return 0;
}

struct host_tls *
direct_host (struct pull *p, const char *authority, const char *name)
{
  struct direct *d = p->dt;
  for (size_t i = 0; i < d->hosts.len; i++)
    if (strcmp (d->hosts.ptr[i]->authority, authority) == 0)
      return d->hosts.ptr[i];

  if (split_ca_files (p, d) == -1)
    return NULL;
  if (d->default_cainfo == NULL) {
    CURL *tmp = curl_easy_init ();
    char *ci = NULL;
    if (tmp && curl_easy_getinfo (tmp, CURLINFO_CAINFO, &ci) == CURLE_OK && ci)
      d->default_cainfo = strdup (ci);
    if (tmp)
      curl_easy_cleanup (tmp);
  }
  struct host_tls *t = calloc (1, sizeof *t);
  if (t == NULL || (t->authority = strdup (authority)) == NULL
      || (t->name = strdup (name)) == NULL
      || host_tls_vector_append (&d->hosts, t) == -1) {
    if (t) {
      free (t->authority);
      free (t->name);
    }
    free (t);
    h2k_seterr ("out of memory");
    return NULL;
  }
  t->ca_files = d->ca_files;
  t->insecure = p->conn.insecure;
  if (p->conn.known_hosts) {
    CLEANUP_FREE char *hostport = NULL;
    if (asprintf (&hostport, "%s:443", authority) == -1) {
      h2k_seterr ("out of memory");
      return NULL;
    }
    if (h2k_known_hosts_lookup (p->conn.known_hosts, authority, 443, hostport,
                                &t->user_pin, &t->user_pin_source) == -1)
      return NULL;
  }
  return t;
}

/* The host entry of a job's URL (https://AUTHORITY/folder/...). */
static struct host_tls *
host_of_url (struct pull *p, const char *url)
{
  if (p->dt == NULL || strncmp (url, "https://", 8) != 0)
    return NULL;
  const char *a = url + 8;
  size_t n = strcspn (a, "/?#");
  for (size_t i = 0; i < p->dt->hosts.len; i++) {
    struct host_tls *t = p->dt->hosts.ptr[i];
    if (strlen (t->authority) == n && strncmp (t->authority, a, n) == 0)
      return t;
  }
  return NULL;
}

/* AcquireGenericServiceTicket for METHOD on URL. */
static int
acquire (struct pull *p, const char *method, const char *url, char **id,
         char **thumbprint)
{
  const struct h2k_vs_content *sc = h2k_vs_content (p->vs);
  xmlNode *m = h2k_soap_method ("AcquireGenericServiceTicket", "SessionManager",
                                sc->session_manager);
  xmlNode *spec = h2k_soap_add_text (m, "spec", NULL);
  h2k_soap_set_type (spec, "SessionManagerHttpServiceRequestSpec");
  h2k_soap_add_text (spec, "method", method);
  h2k_soap_add_text (spec, "url", url);

  xmlDoc *doc;
  xmlNode *res;
  if (h2k_vs_call (p->vs, m, &doc, &res) == -1) {
    const char *fault = h2k_vs_last_fault (p->vs);
    if (fault && (strcmp (fault, "NotSupported") == 0
                  || strcmp (fault, "MethodNotFound") == 0
                  || strcmp (fault, "NotImplemented") == 0))
      return h2k_seterr ("--direct: %s does not offer generic service tickets "
                         "(%s): run without --direct to download through it",
                         h2k_vs_name (p->vs), fault);
    return h2k_seterr_prefix ("--direct: no service ticket");
  }
  xmlNode *rv = h2k_xml_child (res, "returnval");
  *id = h2k_xml_child_text (rv, "id");
  *thumbprint = h2k_xml_child_text (rv, "sslThumbprint");
  xmlFreeDoc (doc);
  if (*id == NULL || **id == '\0') {
    free (*id), free (*thumbprint);
    return h2k_seterr ("--direct: %s: AcquireGenericServiceTicket: the answer "
                       "has no ticket id", h2k_vs_name (p->vs));
  }
  /* It goes into a Cookie header: nothing that could end or split it. */
  for (const char *c = *id; *c; c++)
    if (!isgraph ((unsigned char) *c) || *c == ';' || *c == ',' || *c == '"') {
      free (*id), free (*thumbprint);
      return h2k_seterr ("--direct: %s: the service ticket has characters a "
                         "cookie cannot carry", h2k_vs_name (p->vs));
    }
  return 0;
}

int
direct_before (void *opaque, CURL *h, struct h2k_http_job *job, bool head)
{
  struct pull *p = opaque;
  struct host_tls *t = p->dt && p->dt->vcenter ? host_of_url (p, job->url) : NULL;
  if (t == NULL)
    return 0;                   /* not a request to a host */

  CLEANUP_FREE char *id = NULL, *thumb = NULL;
  double t0 = h2k_now ();
  if (acquire (p, head ? "httpHead" : "httpGet", job->url, &id, &thumb) == -1)
    return -1;
  t->tickets++;
  t->ticket_seconds += h2k_now () - t0;

  free (t->ticket_pin);
  t->ticket_pin = NULL;
  if (thumb && *thumb) {
    t->ticket_pin = h2k_normalise_thumbprint (thumb);
    if (t->ticket_pin == NULL)
      return h2k_seterr ("--direct: host %s: the service ticket's sslThumbprint "
                         "is not a SHA-1 or SHA-256 fingerprint: %s", t->name,
                         thumb);
  }

  CLEANUP_FREE char *cookie = NULL;
  if (asprintf (&cookie, "vmware_cgi_ticket=%s", id) == -1)
    return h2k_seterr ("out of memory");

  /* With a pin, libcurl's peer verification stays on so that a rejected
   * certificate ends the transfer at once (a TLS "connection" error would
   * be retried), but the pin callback replaces the chain check and the
   * host name is not checked: the pin says more than both. */
  bool pinned = t->user_pin || t->ticket_pin;
  bool verify = pinned || !t->insecure;
  if (curl_easy_setopt (h, CURLOPT_COOKIE, cookie) != CURLE_OK
      || curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L) != CURLE_OK
      || curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST,
                           verify && !pinned ? 2L : 0L) != CURLE_OK)
    return h2k_seterr ("cannot set up the request");
  if (verify
      && (curl_easy_setopt (h, CURLOPT_SSL_CTX_FUNCTION, host_sslctx_cb) != CURLE_OK
          || curl_easy_setopt (h, CURLOPT_SSL_CTX_DATA, t) != CURLE_OK))
    return h2k_seterr ("libcurl cannot check certificates here "
                       "(CURLOPT_SSL_CTX_FUNCTION is not supported)");
  /* A pinned connection needs no CA: not loading the system bundle saves
   * some 25 ms per connection.  The others get libcurl's default back (the
   * handle may have served a pinned host before). */
  curl_easy_setopt (h, CURLOPT_CAINFO, pinned ? NULL : p->dt->default_cainfo);
  if (!verify)
    curl_easy_setopt (h, CURLOPT_SSL_CTX_FUNCTION, NULL);
  return 0;
}

bool
direct_explain (struct pull *p)
{
  bool said = false;
  for (size_t i = 0; p->dt && i < p->dt->hosts.len; i++) {
    struct host_tls *t = p->dt->hosts.ptr[i];
    if (!t->mismatch && !t->untrusted)
      continue;
    if (t->mismatch)
      h2k_warn ("host %s: its certificate does not match the thumbprint %s "
                "from %s; its SHA-1 thumbprint is %s and its SHA-256 is %s; "
                "nothing was sent to it", t->name, t->failed_pin,
                t->user_pin ? t->user_pin_source : "vCenter's service ticket",
                t->seen_sha1, t->seen_sha256);
    else
      h2k_warn ("host %s: its certificate (SHA-1 thumbprint %s) is not "
                "trusted, and the service ticket named no thumbprint: trust "
                "its CA with --ca-certs, pin it with a line \"%s %s\" in the "
                "known_hosts file, or use --insecure; nothing was sent to it",
                t->name, t->seen_sha1, t->authority, t->seen_sha1);
    said = true;
  }
  /* The hosts are known to vCenter by names that often resolve only
   * inside the data centre. */
  if (p->direct && strstr (h2k_errmsg (), "Could not resolve host")) {
    h2k_warn ("--direct: a host's name does not resolve here: give "
              "--connect-to NAME:443:ADDRESS:443 for each host (see --help)");
    said = true;
  }
  return said;
}

void
direct_report (struct pull *p)
{
  for (size_t i = 0; p->dt && i < p->dt->hosts.len; i++) {
    struct host_tls *t = p->dt->hosts.ptr[i];
    h2k_warn ("host %s: %lu service ticket%s, one per request (%.1f ms "
              "each on average to get from vCenter)", t->name, t->tickets,
              t->tickets == 1 ? "" : "s",
              t->tickets ? t->ticket_seconds * 1000 / t->tickets : 0.0);
  }
}
