/* TLS for the vSphere session and its data-plane handles: CA files,
 * --insecure, and certificate pinning in govc's manner (--thumbprint or a
 * known_hosts entry, SHA-1 or SHA-256 of the DER certificate).
 *
 * libcurl's CURLOPT_PINNEDPUBLICKEY pins the public key, not the
 * certificate fingerprint users copy from govc or the vSphere client, so
 * the pin is checked in an OpenSSL certificate-verify callback installed
 * through CURLOPT_SSL_CTX_FUNCTION.  It runs inside the handshake, before
 * any HTTP request (and so any credential) is sent. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/cleanup.h"
#include "util/die.h"
#include "vsphere-int.h"

static void
colon_hex (const unsigned char *md, unsigned n, char *out, size_t outsz)
{
  size_t j = 0;
  for (unsigned i = 0; i < n && j + 3 < outsz; i++)
    j += snprintf (out + j, outsz - j, i ? ":%02X" : "%02X", md[i]);
  out[j] = '\0';
}

void
h2k_cert_fingerprints (X509 *cert, char sha1[64], char sha256[100])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n;

  sha1[0] = sha256[0] = '\0';
  if (cert && X509_digest (cert, EVP_sha1 (), md, &n))
    colon_hex (md, n, sha1, 64);
  if (cert && X509_digest (cert, EVP_sha256 (), md, &n))
    colon_hex (md, n, sha256, 100);
}

/* Record the leaf's fingerprints; true if they match the pin. */
static bool
check_leaf (struct h2k_vs_tls *t, X509 *cert)
{
  char s1[64], s256[100];

  h2k_cert_fingerprints (cert, s1, s256);

  bool match = t->pin && (strcmp (t->pin, s1) == 0 || strcmp (t->pin, s256) == 0);
  pthread_mutex_lock (&t->lock);
  memcpy (t->seen_sha1, s1, sizeof s1);
  memcpy (t->seen_sha256, s256, sizeof s256);
  if (t->pin)
    t->mismatch = !match;
  pthread_mutex_unlock (&t->lock);
  return match;
}

/* OpenSSL's whole-chain verification step, replaced.  With a pin only the
 * leaf's fingerprint counts (a pinned vCenter usually has a self-signed or
 * private-CA certificate); without one, OpenSSL's own verification runs
 * and the leaf is recorded so that a failure can name its fingerprint. */
static int
verify_cb (X509_STORE_CTX *x, void *arg)
{
  struct h2k_vs_tls *t = arg;
  X509 *leaf = X509_STORE_CTX_get0_cert (x);

  if (t->pin) {
    if (check_leaf (t, leaf))
      return 1;
    X509_STORE_CTX_set_error (x, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  check_leaf (t, leaf);
  return X509_verify_cert (x);
}

static CURLcode
sslctx_cb (CURL *curl, void *sslctx, void *parm)
{
  struct h2k_vs_tls *t = parm;
  SSL_CTX *ctx = sslctx;

  for (char **f = t->ca_files; f && *f; f++)
    if (SSL_CTX_load_verify_locations (ctx, *f, NULL) != 1)
      return CURLE_SSL_CACERT_BADFILE;
  if (!t->insecure) {
    /* With a pin, libcurl's own verification is off (see
     * h2k_vs_tls_setup), so ask OpenSSL to fail the handshake itself. */
    if (t->pin)
      SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback (ctx, verify_cb, t);
  }
  return CURLE_OK;
}

int
h2k_known_hosts_lookup (const char *files, const char *host, int port,
                    const char *hostport, char **pin, char **source)
{
  CLEANUP_FREE char *list = strdup (files);
  if (!list)
    return h2k_seterr ("out of memory");
  char *save = NULL;
  for (char *file = strtok_r (list, ":", &save); file;
       file = strtok_r (NULL, ":", &save)) {
    CLEANUP_FCLOSE FILE *fp = fopen (file, "re");
    if (!fp)
      continue;           /* govc ignores a missing known_hosts file too */
    CLEANUP_FREE char *line = NULL;
    size_t cap = 0;
    while (getline (&line, &cap, fp) > 0) {
      char name[512], print[200];
      if (sscanf (line, "%511s %199s", name, print) != 2 || name[0] == '#')
        continue;
      if (strcmp (name, hostport) == 0
          || (port == 443 && strcmp (name, host) == 0)) {
        char *p = h2k_normalise_thumbprint (print);
        if (!p)
          return h2k_seterr ("%s: bad thumbprint for %s: %s", file, name, print);
        free (*pin);
        *pin = p;
        free (*source);
        *source = strdup (file);
        return 0;
      }
    }
  }
  return 0;
}

int
h2k_vs_tls_init (struct h2k_vs_tls *t, const struct h2k_conn_opts *o)
{
  memset (t, 0, sizeof *t);
  pthread_mutex_init (&t->lock, NULL);
  t->insecure = o->insecure;

  if (o->thumbprint) {
    t->pin = strdup (o->thumbprint);
    t->pin_source = strdup ("--thumbprint");
  }
  else if (o->known_hosts
           && h2k_known_hosts_lookup (o->known_hosts, o->host, o->port,
                                  o->hostport, &t->pin, &t->pin_source) == -1)
    return -1;

  if (o->ca_certs) {
    size_t n = 1;
    for (const char *p = o->ca_certs; *p; p++)
      n += *p == ':';
    t->ca_files = calloc (n + 1, sizeof *t->ca_files);
    CLEANUP_FREE char *list = strdup (o->ca_certs);
    if (!t->ca_files || !list)
      return h2k_seterr ("out of memory");
    size_t i = 0;
    char *save = NULL;
    for (char *f = strtok_r (list, ":", &save); f; f = strtok_r (NULL, ":", &save)) {
      if (access (f, R_OK) == -1)
        return h2k_seterr ("%s: %m", f);
      t->ca_files[i++] = strdup (f);
    }
  }

  /* A pin is a stronger statement than --insecure (GOVC_INSECURE may be
   * set for every server in the environment): it is always checked. */
  if (t->pin)
    t->insecure = false;

  if (t->pin || t->ca_files) {
    const curl_version_info_data *v = curl_version_info (CURLVERSION_NOW);
    if (!v->ssl_version || strncmp (v->ssl_version, "OpenSSL", 7) != 0)
      return h2k_seterr ("certificate pinning and extra CA files need libcurl "
                         "built with OpenSSL, not %s",
                         v->ssl_version ? v->ssl_version : "no TLS");
  }
  return 0;
}

void
h2k_vs_tls_free (struct h2k_vs_tls *t)
{
  free (t->pin);
  free (t->pin_source);
  for (char **f = t->ca_files; f && *f; f++)
    free (*f);
  free (t->ca_files);
  pthread_mutex_destroy (&t->lock);
}

int
h2k_vs_tls_setup (struct h2k_vs_tls *t, CURL *h)
{
  bool verify = !t->insecure && !t->pin;
  if (curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L) != CURLE_OK
      || curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L) != CURLE_OK)
    return h2k_seterr ("cannot set TLS options");
  if (!t->insecure || t->ca_files) {
    if (curl_easy_setopt (h, CURLOPT_SSL_CTX_FUNCTION, sslctx_cb) != CURLE_OK
        || curl_easy_setopt (h, CURLOPT_SSL_CTX_DATA, t) != CURLE_OK)
      return h2k_seterr ("libcurl cannot check certificates here "
                         "(CURLOPT_SSL_CTX_FUNCTION is not supported)");
  }
  return 0;
}

int
h2k_vs_tls_error (struct h2k_vs *vs, CURLcode code)
{
  struct h2k_vs_tls *t = &vs->tls;
  const char *why = vs->errbuf[0] ? vs->errbuf : curl_easy_strerror (code);
  char s1[64], s256[100];
  bool mismatch;

  pthread_mutex_lock (&t->lock);
  mismatch = t->mismatch;
  memcpy (s1, t->seen_sha1, sizeof s1);
  memcpy (s256, t->seen_sha256, sizeof s256);
  pthread_mutex_unlock (&t->lock);

  if (t->pin && mismatch)
    return h2k_seterr ("%s: the server's certificate does not match the "
                       "thumbprint from %s (%s); its SHA-1 thumbprint is %s "
                       "and its SHA-256 is %s; nothing was sent",
                       vs->name, t->pin_source, t->pin, s1, s256);

  switch (code) {
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_ISSUER_ERROR:
    if (s1[0])
      return h2k_seterr ("%s: TLS: %s (the server's certificate has SHA-1 "
                         "thumbprint %s; trust it with --ca-certs, pin it "
                         "with --thumbprint, or use --insecure)",
                         vs->name, why, s1);
    return h2k_seterr ("%s: TLS: %s", vs->name, why);
  default:
    return h2k_seterr ("%s: %s", vs->name, why);
  }
}
