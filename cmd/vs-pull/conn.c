/* Where bytes come from: datastore paths through a vSphere session, or
 * plain http(s) URLs.
 *
 * The session is opened on first need, so that "vs-pull URL" works without
 * any vCenter.  The two are never mixed in one run: curl handles are shared
 * between files, and the session cookie must not be sent to another host.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/h2k.h"
#include "direct.h"
#include "pull.h"
#include "vsphere/vsphere.h"

bool
is_url (const char *s)
{
  return strncasecmp (s, "http://", 7) == 0 || strncasecmp (s, "https://", 8) == 0;
}

char *
display_name (const char *file)
{
  char *out;
  if (is_url (file)) {
    /* Never show "user:password@" from a URL: not in messages, not in
     * state files. */
    const char *auth = strstr (file, "://") + 3;
    size_t alen = strcspn (auth, "/?#");
    const char *at = memrchr (auth, '@', alen);
    if (at) {
      if (asprintf (&out, "%.*s%s", (int) (auth - file), file, at + 1) == -1)
        out = NULL;
      goto done;
    }
  }
  out = strdup (file);
 done:
  if (out == NULL)
    h2k_seterr ("out of memory");
  return out;
}

static int
connect_session (struct pull *p)
{
  if (p->vs)
    return 0;
  if (h2k_connopts_finish (&p->conn) == -1)
    return -1;
  p->vs = h2k_vs_connect (&p->conn);
  return p->vs ? 0 : -1;
}

char *
source_url (struct pull *p, const char *file, const char *dc_path)
{
  if (is_url (file)) {
    if (p->direct) {
      CLEANUP_FREE char *name = display_name (file);
      h2k_seterr ("%s: --direct applies to datastore paths (\"[datastore] "
                  "path\"), not to URLs", name ? name : "a URL");
      return NULL;
    }
    if (p->vs)
      goto mixed;
    p->url_used = true;
    char *u = strdup (file);
    if (u == NULL)
      h2k_seterr ("out of memory");
    return u;
  }
  if (file[0] != '[') {
    h2k_seterr ("%s: neither a datastore path (\"[datastore] dir/file\") nor "
                "an http(s) URL", file);
    return NULL;
  }
  if (p->url_used)
    goto mixed;
  if (connect_session (p) == -1)
    return NULL;
  const char *dc = dc_path && *dc_path ? dc_path : p->conn.datacenter;
  if (p->direct)
    return direct_url (p, file, dc);
  return h2k_vs_folder_url (p->vs, file, dc);

 mixed:
  h2k_seterr ("%s: datastore paths and URLs cannot be pulled in the same run "
              "(the session cookie must not go to another server)", file);
  return NULL;
}

/* HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT, as curl's --connect-to:
 * either host may be empty (any host / the same host) or an IPv6 address
 * in brackets, either port empty (any port / the same port). */
int
check_connect_to (const char *arg)
{
  const char *s = arg;
  for (int field = 0; field < 4; field++) {
    if (field % 2 == 0) {
      if (*s == '[') {
        const char *close = strchr (s, ']');
        if (close == NULL)
          goto bad;
        s = close + 1;
      }
      else
        s += strcspn (s, ":[]");
    }
    else {
      size_t n = strspn (s, "0123456789");
      if (n > 5 || (n > 0 && atoi (s) > 65535) || (n > 0 && atoi (s) == 0))
        goto bad;
      s += n;
    }
    if (field < 3) {
      if (*s != ':')
        goto bad;
      s++;
    }
  }
  if (*s == '\0')
    return 0;
 bad:
  return h2k_seterr ("--connect-to %s: expected HOST:PORT:CONNECT-TO-HOST:"
                     "CONNECT-TO-PORT (as curl's), e.g. esx1:443:10.0.0.5:443",
                     arg);
}

int
pull_setup_handle (void *opaque, CURL *h)
{
  struct pull *p = opaque;

  if (p->connect_to
      && curl_easy_setopt (h, CURLOPT_CONNECT_TO, p->connect_to) != CURLE_OK)
    return h2k_seterr ("libcurl does not support --connect-to");

  /* Requests to hosts get their ticket and TLS settings per request
   * (direct_before); the vCenter session cookie must never reach them. */
  if (p->dt && p->dt->vcenter)
    return 0;
  if (p->vs)
    return h2k_vs_curl_setup (p->vs, h);

  /* A plain URL: the TLS settings of the connection options, nothing else
   * (there is no session, so no cookie). */
  if (p->conn.insecure || p->url_insecure) {
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const char *ca = p->conn.ca_certs ? p->conn.ca_certs : p->url_ca;
  if (ca && *ca) {
    /* libcurl takes one CA file; the first of a ':' list. */
    char *first = strndup (ca, strcspn (ca, ":"));
    if (first == NULL)
      return h2k_seterr ("out of memory");
    curl_easy_setopt (h, CURLOPT_CAINFO, first);
    free (first);
  }
  return 0;
}

int
pull_renew (void *opaque)
{
  struct pull *p = opaque;

  if (p->vs == NULL)
    return h2k_seterr ("the server answered 401 Unauthorized and there is no "
                       "vSphere session to renew");
  /* A host refused a ticket: the retry brings a new one, and the session
   * it comes through renews itself if it has expired. */
  if (p->dt && p->dt->vcenter)
    return 0;
  return h2k_vs_relogin (p->vs);
}

void
conn_close (struct pull *p)
{
  direct_free (p);
  h2k_vs_close (p->vs);
  p->vs = NULL;
}
