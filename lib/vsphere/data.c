/* What the data plane needs from the session: curl handles with the same
 * TLS settings and cookie, and /folder URLs for datastore paths. */

#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/die.h"
#include "util/version.h"
#include "vsphere-int.h"

int
h2k_vs_save_cookie (struct h2k_vs *vs)
{
  struct curl_slist *list = NULL;
  char *found = NULL;

  if (curl_easy_getinfo (vs->curl, CURLINFO_COOKIELIST, &list) != CURLE_OK)
    return h2k_seterr ("%s: cannot read the session cookie", vs->name);
  /* Netscape cookie lines: domain, tailmatch, path, secure, expires, name,
   * value, separated by tabs.  The value is passed back as it came (real
   * vCenters quote it). */
  for (struct curl_slist *l = list; l && !found; l = l->next) {
    const char *f = l->data;
    for (int i = 0; i < 5 && f; i++) {
      f = strchr (f, '\t');
      if (f)
        f++;
    }
    if (f && strncmp (f, "vmware_soap_session\t", 20) == 0
        && asprintf (&found, "vmware_soap_session=%s", f + 20) == -1)
      found = NULL;
  }
  curl_slist_free_all (list);
  if (!found)
    return h2k_seterr ("%s: the server set no session cookie at login", vs->name);

  pthread_mutex_lock (&vs->cookie_lock);
  free (vs->cookie);
  vs->cookie = found;
  pthread_mutex_unlock (&vs->cookie_lock);
  return 0;
}

char *
h2k_vs_cookie (struct h2k_vs *vs)
{
  pthread_mutex_lock (&vs->cookie_lock);
  char *out = vs->cookie ? strdup (vs->cookie) : NULL;
  pthread_mutex_unlock (&vs->cookie_lock);
  if (!out)
    h2k_seterr ("%s: no session cookie (not logged in?)", vs->name);
  return out;
}

int
h2k_vs_curl_setup (struct h2k_vs *vs, CURL *h)
{
  CLEANUP_FREE char *cookie = h2k_vs_cookie (vs);
  if (!cookie)
    return -1;
  if (h2k_vs_tls_setup (&vs->tls, h) == -1)
    return -1;
  if (curl_easy_setopt (h, CURLOPT_COOKIE, cookie) != CURLE_OK
      || curl_easy_setopt (h, CURLOPT_USERAGENT, "h2k/" H2K_VERSION) != CURLE_OK
      || curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK)
    return h2k_seterr ("%s: cannot set up the HTTP handle", vs->name);
  return 0;
}

int
h2k_vs_parse_dspath (const char *dspath, char **datastore, char **path)
{
  const char *close = dspath[0] == '[' ? strchr (dspath, ']') : NULL;
  if (!close)
    return h2k_seterr ("%s: not a datastore path (\"[datastore] path\")", dspath);
  const char *p = close + 1;
  while (*p == ' ')
    p++;
  *datastore = strndup (dspath + 1, close - dspath - 1);
  *path = strdup (p);
  if (!*datastore || !*path) {
    free (*datastore);
    free (*path);
    return h2k_seterr ("out of memory");
  }
  return 0;
}

/* Percent-encode S; '/' is kept when KEEP_SLASH (path segments). */
static char *
encode (const char *s, bool keep_slash)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen (s);
  char *out = malloc (n * 3 + 1), *o = out;
  if (!out)
    return NULL;
  for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
        || (*p >= '0' && *p <= '9') || strchr ("-._~", *p)
        || (keep_slash && *p == '/'))
      *o++ = *p;
    else {
      *o++ = '%';
      *o++ = hex[*p >> 4];
      *o++ = hex[*p & 15];
    }
  }
  *o = '\0';
  return out;
}

char *
h2k_folder_url (const char *sdk_url, const char *dspath, const char *dc_path)
{
  CLEANUP_FREE char *ds = NULL, *path = NULL;
  if (h2k_vs_parse_dspath (dspath, &ds, &path) == -1)
    return NULL;
  CLEANUP_FREE char *epath = encode (path, true);
  CLEANUP_FREE char *eds = encode (ds, false);
  CLEANUP_FREE char *edc = dc_path ? encode (dc_path, false) : NULL;
  if (!epath || !eds || (dc_path && !edc)) {
    h2k_seterr ("out of memory");
    return NULL;
  }

  /* The base is the SOAP URL without its path. */
  const char *slash = strstr (sdk_url, "://");
  slash = slash ? strchr (slash + 3, '/') : NULL;
  int base = slash ? (int) (slash - sdk_url) : (int) strlen (sdk_url);

  char *out;
  int r = edc
    ? asprintf (&out, "%.*s/folder/%s?dcPath=%s&dsName=%s", base, sdk_url, epath, edc, eds)
    : asprintf (&out, "%.*s/folder/%s?dsName=%s", base, sdk_url, epath, eds);
  if (r == -1) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  return out;
}

char *
h2k_vs_folder_url (struct h2k_vs *vs, const char *dspath, const char *dc_path)
{
  return h2k_folder_url (vs->url, dspath, dc_path);
}
