/* The vim25 SOAP session: connect, RetrieveServiceContent, Login, calls
 * with fault parsing and re-login, Logout. */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "util/clock.h"
#include "util/cleanup.h"
#include "util/die.h"
#include "util/version.h"
#include "util/xmlread.h"
#include "vsphere-int.h"

#define SOAP_ENV_NS "http://schemas.xmlsoap.org/soap/envelope/"

/* The largest SOAP reply read: replies are held whole (a tree), so a
 * server that sends without end must not take the machine's memory.  vs-ls
 * asks for pages of objects; a page of 2,000 VMs from the simulator is
 * about 20 MiB. */
#define MAX_REPLY ((size_t) 256 << 20)

struct buf {
  char *ptr;
  size_t len, cap;
  bool too_big;                 /* refused at MAX_REPLY */
};

static size_t
write_cb (char *data, size_t size, size_t n, void *opaque)
{
  struct buf *b = opaque;
  size_t add = size * n;
  if (add > MAX_REPLY - b->len) {
    b->too_big = true;
    return 0;                   /* makes libcurl fail with a write error */
  }
  if (b->len + add + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + add + 1)
      cap *= 2;
    char *p = realloc (b->ptr, cap);
    if (!p)
      return 0;               /* makes libcurl fail with a write error */
    b->ptr = p;
    b->cap = cap;
  }
  memcpy (b->ptr + b->len, data, add);
  b->len += add;
  b->ptr[b->len] = '\0';
  return add;
}

const struct h2k_vs_content *
h2k_vs_content (const struct h2k_vs *vs)
{
  return &vs->sc;
}

const struct h2k_conn_opts *
h2k_vs_opts (const struct h2k_vs *vs)
{
  return vs->opts;
}

const char *
h2k_vs_name (const struct h2k_vs *vs)
{
  return vs->name;
}

bool
h2k_vs_is_vcenter (const struct h2k_vs *vs)
{
  return vs->sc.api_type && strcmp (vs->sc.api_type, "VirtualCenter") == 0;
}

unsigned
h2k_vs_generation (const struct h2k_vs *vs)
{
  return vs->generation;
}

unsigned long
h2k_vs_round_trips (const struct h2k_vs *vs)
{
  return vs->round_trips;
}

const char *
h2k_vs_last_fault (const struct h2k_vs *vs)
{
  return vs->last_fault;
}

static void
set_fault (struct h2k_vs *vs, const char *type)
{
  free (vs->last_fault);
  vs->last_fault = type ? strdup (type) : NULL;
}

/* Append the text of NODE and its descendants to B, a space between
 * pieces, so that "<title>A</title><h1>B</h1>" reads "A B". */
static void
html_text (xmlNode *node, struct buf *b)
{
  for (xmlNode *n = node; n; n = n->next) {
    if (n->type == XML_TEXT_NODE && n->content) {
      write_cb ((char *) n->content, 1, strlen ((char *) n->content), b);
      write_cb (" ", 1, 1, b);
    }
    else if (n->type == XML_ELEMENT_NODE
             && strcasecmp ((const char *) n->name, "script") != 0
             && strcasecmp ((const char *) n->name, "style") != 0)
      html_text (n->children, b);
  }
}

static bool
looks_html (const char *ctype, const char *data, size_t len)
{
  if (ctype && strncasecmp (ctype, "text/html", 9) == 0)
    return true;
  while (len > 0 && isspace ((unsigned char) *data))
    data++, len--;
  return (len >= 9 && strncasecmp (data, "<!doctype", 9) == 0)
    || (len >= 5 && strncasecmp (data, "<html", 5) == 0);
}

/* A short, printable excerpt of a body that is not SOAP: the text of an
 * HTML page, or the start of whatever it is. */
static char *
body_excerpt (const char *ctype, const char *data, size_t len)
{
  struct buf b = { 0 };

  if (looks_html (ctype, data, len)) {
    htmlDocPtr html = htmlReadMemory (data, len, NULL, NULL,
                                      HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                                      | HTML_PARSE_NONET);
    xmlNode *root = html ? xmlDocGetRootElement (html) : NULL;
    if (root)
      html_text (root, &b);
    xmlFreeDoc (html);
  }
  if (!b.ptr)
    write_cb ((char *) data, 1, len < 400 ? len : 400, &b);
  if (!b.ptr)
    return strdup ("");

  /* Collapse white space, replace control bytes, keep it short. */
  char *text = b.ptr;
  size_t j = 0;
  bool space = true;
  for (size_t i = 0; i < b.len && j < 200; i++) {
    unsigned char ch = text[i];
    if (isspace (ch)) {
      if (!space)
        text[j++] = ' ';
      space = true;
      continue;
    }
    text[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : ch;
    space = false;
  }
  while (j > 0 && text[j - 1] == ' ')
    j--;
  text[j] = '\0';
  return text;
}

static xmlNode *
soap_child (xmlNode *node, const char *name)
{
  for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp ((char *) c->name, name) == 0
        && c->ns && strcmp ((char *) c->ns->href, SOAP_ENV_NS) == 0)
      return c;
  return NULL;
}

static xmlNode *
first_element (xmlNode *node)
{
  for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      return c;
  return NULL;
}

/* Turn a SOAP Fault into the error message: "host: Method: Type: text". */
static int
fault_error (struct h2k_vs *vs, const char *method, xmlNode *fault)
{
  CLEANUP_FREE char *text = h2k_xml_child_text (fault, "faultstring");
  xmlNode *detail = first_element (h2k_xml_child (fault, "detail"));
  CLEANUP_FREE char *type = h2k_xml_type (detail);

  if (!type && detail) {
    /* <InvalidLoginFault> without a type: the element names it. */
    type = strdup ((char *) detail->name);
    size_t n = type ? strlen (type) : 0;
    if (n > 5 && strcmp (type + n - 5, "Fault") == 0)
      type[n - 5] = '\0';
  }
  set_fault (vs, type ? type : "SOAPFault");

  /* The server's own message; some faults carry it only in the detail
   * (a "msg" or "reason" element). */
  CLEANUP_FREE char *extra = NULL;
  if (detail && (!text || !*text)) {
    extra = h2k_xml_child_text (detail, "reason");
    if (!extra)
      extra = h2k_xml_child_text (detail, "msg");
  }
  const char *words = text && *text ? text : extra && *extra ? extra : "(no message)";
  return h2k_seterr ("%s: %s: %s: %s", vs->name, method,
                     type ? type : "fault", words);
}

/* Overwrite the text of a request (Login's holds the password) before
 * libxml2 frees it. */
static void
wipe_text (xmlNode *node)
{
  for (xmlNode *n = node; n; n = n->next) {
    if (n->type == XML_TEXT_NODE && n->content)
      explicit_bzero (n->content, strlen ((char *) n->content));
    wipe_text (n->children);
  }
}

/* Serialise METHOD in an envelope; the result is the request body. */
static int
build_request (xmlNode *method, xmlChar **body, int *len)
{
  xmlDoc *doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNode *env = xmlNewNode (NULL, BAD_CAST "Envelope");
  xmlNs *soapenv = xmlNewNs (env, BAD_CAST SOAP_ENV_NS, BAD_CAST "soapenv");
  xmlSetNs (env, soapenv);
  xmlNewNs (env, BAD_CAST "http://www.w3.org/2001/XMLSchema", BAD_CAST "xsd");
  xmlDocSetRootElement (doc, env);
  xmlNode *body_el = xmlNewChild (env, soapenv, BAD_CAST "Body", NULL);
  xmlAddChild (body_el, method);
  /* Declarations made on the unattached method tree (xsi) are fine where
   * they are; reconcile in case a child refers to one of the envelope's. */
  xmlReconciliateNs (doc, method);
  xmlDocDumpMemoryEnc (doc, body, len, "UTF-8");
  wipe_text (method);
  xmlFreeDoc (doc);
  if (!*body)
    return h2k_seterr ("cannot serialise the SOAP request");
  return 0;
}

/* The server's words go into messages unchanged, except the password: a
 * server (or a proxy's error page) that quotes the request it refused
 * must not make us print it. */
static void
redact_password (struct h2k_vs *vs)
{
  const char *pw = vs->password;
  const char *msg = h2k_errmsg ();
  if (pw == NULL || *pw == '\0' || strstr (msg, pw) == NULL)
    return;
  char out[1024];
  size_t o = 0, pwlen = strlen (pw);
  for (const char *p = msg; *p && o + 1 < sizeof out; ) {
    if (strncmp (p, pw, pwlen) == 0) {
      o += snprintf (out + o, sizeof out - o, "%s", "(password)");
      if (o >= sizeof out)
        o = sizeof out - 1;
      p += pwlen;
    }
    else
      out[o++] = *p++;
  }
  out[o] = '\0';
  h2k_seterr ("%s", out);
  explicit_bzero (out, sizeof out);
}

/* One POST; on success *DOC and *RESPONSE are set. */
static int
post (struct h2k_vs *vs, const char *method, const xmlChar *body, int len,
      xmlDoc **docp, xmlNode **response)
{
  struct buf b = { 0 };
  long status = 0;
  char *ctype = NULL;
  xmlDoc *doc = NULL;
  int r = -1;
  CLEANUP_FREE char *why = NULL;      /* the XML parser's reason, if it failed */

  set_fault (vs, NULL);
  vs->errbuf[0] = '\0';
  curl_easy_setopt (vs->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt (vs->curl, CURLOPT_POSTFIELDSIZE, (long) len);
  curl_easy_setopt (vs->curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (vs->curl, CURLOPT_WRITEDATA, &b);
  vs->round_trips++;
  vs->last_call = h2k_now ();
  CURLcode code = curl_easy_perform (vs->curl);
  if (code != CURLE_OK && b.too_big) {
    h2k_seterr ("%s: %s: the server's reply is larger than %zu MiB: refused",
                vs->name, method, MAX_REPLY >> 20);
    goto out;
  }
  if (code != CURLE_OK) {
    h2k_vs_tls_error (vs, code);
    goto out;
  }
  curl_easy_getinfo (vs->curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo (vs->curl, CURLINFO_CONTENT_TYPE, &ctype);

  bool html = ctype && strncasecmp (ctype, "text/html", 9) == 0;
  if (!html && b.len > 0) {
    doc = h2k_xml_read (b.ptr, b.len, "reply.xml");   /* no DTD (util/xmlread.h) */
    if (doc == NULL)
      why = strdup (h2k_errmsg ());
  }
  xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;
  xmlNode *sbody = NULL;
  if (root && strcmp ((char *) root->name, "Envelope") == 0 && root->ns
      && strcmp ((char *) root->ns->href, SOAP_ENV_NS) == 0)
    sbody = soap_child (root, "Body");

  if (!sbody) {
    CLEANUP_FREE char *excerpt = body_excerpt (ctype, b.ptr ? b.ptr : "", b.len);
    if (status != 200 && status != 500)
      h2k_seterr ("%s: %s: HTTP %ld from %s, not a SOAP answer: %s",
                  vs->name, method, status, vs->url,
                  excerpt && *excerpt ? excerpt : "(empty)");
    else
      h2k_seterr ("%s: %s: the server's answer is not SOAP%s%s%s%s%s",
                  vs->name, method, excerpt && *excerpt ? ": " : " (empty)",
                  excerpt ? excerpt : "", why ? " (" : "", why ? why : "",
                  why ? ")" : "");
    goto out;
  }

  xmlNode *fault = soap_child (sbody, "Fault");
  if (fault) {
    fault_error (vs, method, fault);
    goto out;
  }
  if (status != 200) {
    h2k_seterr ("%s: %s: HTTP %ld without a SOAP fault", vs->name, method, status);
    goto out;
  }
  xmlNode *res = first_element (sbody);
  if (!res) {
    h2k_seterr ("%s: %s: empty SOAP body", vs->name, method);
    goto out;
  }
  *docp = doc;
  *response = res;
  doc = NULL;
  r = 0;

 out:
  if (r == -1)
    redact_password (vs);
  xmlFreeDoc (doc);
  free (b.ptr);
  return r;
}

static int login (struct h2k_vs *vs);

int
h2k_vs_call (struct h2k_vs *vs, xmlNode *method, xmlDoc **doc,
             xmlNode **response)
{
  CLEANUP_FREE char *name = strdup ((const char *) method->name);
  xmlChar *body = NULL;
  int len = 0;

  if (!name) {
    xmlFreeNode (method);
    return h2k_seterr ("out of memory");
  }
  if (build_request (method, &body, &len) == -1)
    return -1;

  int r = post (vs, name, body, len, doc, response);

  /* An expired session: log in again and repeat the call once. */
  if (r == -1 && vs->logged_in && vs->last_fault
      && strcmp (vs->last_fault, "NotAuthenticated") == 0
      && strcmp (name, "Login") != 0 && strcmp (name, "Logout") != 0) {
    CLEANUP_FREE char *why = strdup (h2k_errmsg ());
    vs->logged_in = false;
    if (login (vs) == -1)
      h2k_seterr_prefix ("%s (re-login after: %s)", vs->name, why ? why : "");
    else
      r = post (vs, name, body, len, doc, response);
  }
  explicit_bzero (body, len);
  xmlFree (body);
  return r;
}

static int
retrieve_service_content (struct h2k_vs *vs)
{
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = h2k_soap_method ("RetrieveServiceContent", "ServiceInstance",
                                "ServiceInstance");
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return -1;

  xmlNode *rv = h2k_xml_child (res, "returnval");
  xmlNode *about = h2k_xml_child (rv, "about");
  struct h2k_vs_content *sc = &vs->sc;
  sc->root_folder = h2k_xml_child_text (rv, "rootFolder");
  sc->property_collector = h2k_xml_child_text (rv, "propertyCollector");
  sc->view_manager = h2k_xml_child_text (rv, "viewManager");
  sc->session_manager = h2k_xml_child_text (rv, "sessionManager");
  sc->search_index = h2k_xml_child_text (rv, "searchIndex");
  sc->file_manager = h2k_xml_child_text (rv, "fileManager");
  sc->virtual_disk_manager = h2k_xml_child_text (rv, "virtualDiskManager");
  sc->api_type = h2k_xml_child_text (about, "apiType");
  sc->api_version = h2k_xml_child_text (about, "apiVersion");
  sc->full_name = h2k_xml_child_text (about, "fullName");
  sc->instance_uuid = h2k_xml_child_text (about, "instanceUuid");
  xmlFreeDoc (doc);

  if (!sc->root_folder || !sc->property_collector || !sc->session_manager
      || !sc->view_manager)
    return h2k_seterr ("%s: RetrieveServiceContent: the answer lacks the "
                       "root folder, property collector, view manager or "
                       "session manager", vs->name);

  /* Speak the server's own API version, so that it leaves out nothing it
   * knows; but never less than 6.5 (firmware, capacityInBytes, secure
   * boot all need it). */
  if (sc->api_version && strtod (sc->api_version, NULL) >= 6.5) {
    char action[96];
    snprintf (action, sizeof action, "SOAPAction: \"urn:vim25/%s\"", sc->api_version);
    struct curl_slist *h = NULL;
    h = curl_slist_append (h, "Content-Type: text/xml; charset=utf-8");
    h = curl_slist_append (h, action);
    h = curl_slist_append (h, "Expect:");
    if (!h)
      return h2k_seterr ("out of memory");
    curl_slist_free_all (vs->headers);
    vs->headers = h;
    curl_easy_setopt (vs->curl, CURLOPT_HTTPHEADER, vs->headers);
  }
  return 0;
}

static int
login (struct h2k_vs *vs)
{
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = h2k_soap_method ("Login", "SessionManager", vs->sc.session_manager);
  h2k_soap_add_text (m, "userName", vs->username);
  h2k_soap_add_text (m, "password", vs->password);
  h2k_soap_add_text (m, "locale", "en_US");
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return -1;
  xmlFreeDoc (doc);
  vs->logged_in = true;
  vs->generation++;
  return h2k_vs_save_cookie (vs);
}

int
h2k_vs_relogin (struct h2k_vs *vs)
{
  if (vs->logged_in) {
    /* The old session may still be alive: end it, ignoring errors. */
    xmlDoc *doc;
    xmlNode *res;
    xmlNode *m = h2k_soap_method ("Logout", "SessionManager", vs->sc.session_manager);
    vs->logged_in = false;
    if (h2k_vs_call (vs, m, &doc, &res) == 0)
      xmlFreeDoc (doc);
  }
  return login (vs);
}

int
h2k_vs_keepalive (struct h2k_vs *vs, unsigned idle_seconds)
{
  if (h2k_now () - vs->last_call < idle_seconds)
    return 0;
  /* h2k_vs_call logs in again if the session has expired meanwhile. */
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = h2k_soap_method ("CurrentTime", "ServiceInstance", "ServiceInstance");
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return -1;
  xmlFreeDoc (doc);
  return 1;
}

struct h2k_vs *
h2k_vs_connect (const struct h2k_conn_opts *opts)
{
  struct h2k_vs *vs = calloc (1, sizeof *vs);
  if (!vs) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  vs->opts = opts;
  pthread_mutex_init (&vs->cookie_lock, NULL);
  vs->url = strdup (opts->url);
  vs->name = strdup (opts->hostport);
  vs->curl = curl_easy_init ();
  if (!vs->url || !vs->name || !vs->curl) {
    h2k_seterr ("out of memory");
    goto fail;
  }
  if (h2k_vs_tls_init (&vs->tls, opts) == -1)
    goto fail;

  CURL *h = vs->curl;
  vs->headers = curl_slist_append (NULL, "Content-Type: text/xml; charset=utf-8");
  vs->headers = curl_slist_append (vs->headers, "SOAPAction: \"urn:vim25/6.5\"");
  /* ESX never sends "100 Continue": without this each POST stalls. */
  vs->headers = curl_slist_append (vs->headers, "Expect:");
  if (!vs->headers) {
    h2k_seterr ("out of memory");
    goto fail;
  }
  curl_easy_setopt (h, CURLOPT_URL, vs->url);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, vs->headers);
  curl_easy_setopt (h, CURLOPT_POST, 1L);
  curl_easy_setopt (h, CURLOPT_COOKIEFILE, "");   /* the cookie engine */
  curl_easy_setopt (h, CURLOPT_USERAGENT, "h2k/" H2K_VERSION);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, vs->errbuf);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, 300L);
  curl_easy_setopt (h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt (h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (h2k_vs_tls_setup (&vs->tls, h) == -1)
    goto fail;

  /* First a call without credentials: it does the TLS handshake, so a
   * certificate that fails verification or the pin stops us before the
   * password is even read. */
  if (retrieve_service_content (vs) == -1)
    goto fail;

  if (!opts->username) {
    h2k_seterr ("%s: no user name: give --username or set GOVC_USERNAME", vs->name);
    goto fail;
  }
  vs->username = strdup (opts->username);
  vs->password = h2k_connopts_password (opts);
  if (!vs->username || !vs->password)
    goto fail;
  if (login (vs) == -1)
    goto fail;
  return vs;

 fail:
  {
    /* Keep the message across the cleanup. */
    CLEANUP_FREE char *msg = strdup (h2k_errmsg ());
    h2k_vs_close (vs);
    h2k_seterr ("%s", msg ? msg : "out of memory");
  }
  return NULL;
}

static void
free_content (struct h2k_vs_content *sc)
{
  free (sc->root_folder);
  free (sc->property_collector);
  free (sc->view_manager);
  free (sc->session_manager);
  free (sc->search_index);
  free (sc->file_manager);
  free (sc->virtual_disk_manager);
  free (sc->api_type);
  free (sc->api_version);
  free (sc->full_name);
  free (sc->instance_uuid);
}

void
h2k_vs_close (struct h2k_vs *vs)
{
  if (!vs)
    return;
  if (vs->logged_in) {
    xmlDoc *doc;
    xmlNode *res;
    xmlNode *m = h2k_soap_method ("Logout", "SessionManager", vs->sc.session_manager);
    vs->logged_in = false;
    if (h2k_vs_call (vs, m, &doc, &res) == 0)
      xmlFreeDoc (doc);
  }
  if (vs->curl)
    curl_easy_cleanup (vs->curl);
  curl_slist_free_all (vs->headers);
  if (vs->url)                 /* tls was initialised after url */
    h2k_vs_tls_free (&vs->tls);
  free_content (&vs->sc);
  free (vs->url);
  free (vs->name);
  free (vs->username);
  h2k_connopts_wipe (vs->password);
  free (vs->last_fault);
  free (vs->cookie);
  pthread_mutex_destroy (&vs->cookie_lock);
  free (vs);
}
