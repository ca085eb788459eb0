/* The vim25 SOAP session: connect, RetrieveServiceContent, Login, calls
 * with fault parsing and re-login, Logout. */

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xmlreader.h>

#include "util/clock.h"
#include "util/cleanup.h"
#include "util/die.h"
#include "util/options.h"
#include "util/version.h"
#include "util/xmlread.h"
#include "vsphere-int.h"

#define SOAP_ENV_NS "http://schemas.xmlsoap.org/soap/envelope/"

/* The largest SOAP reply held whole (a tree): a server that sends without
 * end must not take the machine's memory.  Only small replies are read
 * this way (service content, login, task info, faults); the property
 * collector's results are read as a stream (h2k_vs_call_objects), a window
 * of STREAM_WINDOW bytes at a time, one object expanded at a time (at most
 * MAX_OBJECT bytes of XML), MAX_STREAM bytes in all. */
#define MAX_REPLY ((size_t) 256 << 20)
#define STREAM_WINDOW ((size_t) 256 << 10)
#define MAX_OBJECT ((size_t) 64 << 20)
#define MAX_STREAM ((uint64_t) 16 << 30)

struct buf {
  char *ptr;
  size_t len, cap;
  size_t off;                   /* a stream: bytes already given to the parser */
  bool too_big;                 /* refused at MAX_REPLY */
  bool stream;                  /* pause the transfer at STREAM_WINDOW */
  bool paused;
};

static size_t
write_cb (char *data, size_t size, size_t n, void *opaque)
{
  struct buf *b = opaque;
  size_t add = size * n;
  if (b->stream) {
    /* What the parser has had is dropped; a full window pauses the
     * transfer until the parser has had it (libcurl hands the same bytes
     * again then). */
    if (b->off > 0) {
      memmove (b->ptr, b->ptr + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    if (b->len >= STREAM_WINDOW) {
      b->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
  }
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

/* The connection for a call made now: the first one, or, while streamed
 * replies are being read, the next one (made from the first on first
 * use, sharing its cookie). */
static struct h2k_vs_conn *
conn_get (struct h2k_vs *vs)
{
  if (vs->depth >= H2K_VS_DEPTH) {
    h2k_seterr ("%s: more than %d SOAP calls in progress at once", vs->name,
                H2K_VS_DEPTH);
    return NULL;
  }
  struct h2k_vs_conn *c = &vs->conns[vs->depth];
  if (!c->easy) {
    c->easy = curl_easy_duphandle (vs->conns[0].easy);
    if (!c->easy
        || curl_easy_setopt (c->easy, CURLOPT_SHARE, vs->share) != CURLE_OK
        || curl_easy_setopt (c->easy, CURLOPT_COOKIEFILE, "") != CURLE_OK
        || curl_easy_setopt (c->easy, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK) {
      h2k_seterr ("%s: cannot set up another SOAP connection", vs->name);
      return NULL;
    }
    if (h2k_vs_tls_setup (&vs->tls, c->easy) == -1)
      return NULL;
  }
  if (!c->multi && !(c->multi = curl_multi_init ())) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  return c;
}

static void
conn_end (struct h2k_vs_conn *c)
{
  /* Removing a transfer that has not finished closes its connection. */
  if (c->running)
    curl_multi_remove_handle (c->multi, c->easy);
  c->running = false;
}

static void
conn_start (struct h2k_vs_conn *c, const xmlChar *body, int len, struct buf *b)
{
  c->errbuf[0] = '\0';
  c->code = CURLE_OK;
  curl_easy_setopt (c->easy, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt (c->easy, CURLOPT_POSTFIELDSIZE, (long) len);
  curl_easy_setopt (c->easy, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (c->easy, CURLOPT_WRITEDATA, b);
  if (curl_multi_add_handle (c->multi, c->easy) != CURLM_OK)
    c->code = CURLE_OUT_OF_MEMORY;
  else
    c->running = true;
}

/* Run C's transfer until B holds bytes the parser has not had, or (ALL)
 * until it ends; c->code then says how. */
static void
conn_pump (struct h2k_vs_conn *c, struct buf *b, bool all)
{
  while (c->running && (all || b->off == b->len)) {
    if (b->paused && (all || b->off == b->len)) {
      b->paused = false;
      curl_easy_pause (c->easy, CURLPAUSE_CONT);
      continue;
    }
    int still;
    CURLMcode mc = curl_multi_perform (c->multi, &still);
    CURLMsg *m;
    int queued;
    while ((m = curl_multi_info_read (c->multi, &queued)) != NULL)
      if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy) {
        c->code = m->data.result;
        conn_end (c);
      }
    if (mc != CURLM_OK && c->running) {
      c->code = CURLE_RECV_ERROR;
      snprintf (c->errbuf, sizeof c->errbuf, "%s", curl_multi_strerror (mc));
      conn_end (c);
    }
    if (c->running && (all || b->off == b->len))
      curl_multi_poll (c->multi, NULL, 0, 1000, NULL);
  }
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

/* The message for a transfer that failed: the reply too large, the
 * server stalled (--stall-timeout), or libcurl's words (TLS problems
 * explained by h2k_vs_tls_error). */
static int
transport_error (struct h2k_vs *vs, struct h2k_vs_conn *c, const char *method,
                 const struct buf *b)
{
  if (b->too_big)
    return h2k_seterr ("%s: %s: the server's reply is larger than %zu MiB: refused",
                       vs->name, method, MAX_REPLY >> 20);
  curl_off_t sent = 0;
  curl_easy_getinfo (c->easy, CURLINFO_PRETRANSFER_TIME_T, &sent);
  if (c->code == CURLE_OPERATION_TIMEDOUT && sent > 0)
    return h2k_seterr ("%s: %s: the server stalled: less than %u bytes in "
                       "%u seconds (--stall-timeout)", vs->name, method,
                       H2K_STALL_BYTES, vs->opts->stall_timeout);
  memcpy (vs->errbuf, c->errbuf, sizeof vs->errbuf);
  return h2k_vs_tls_error (vs, c->code);
}

/* A whole reply in B, read on C: on success *DOC and *RESPONSE are set. */
static int
reply_tree (struct h2k_vs *vs, struct h2k_vs_conn *c, const char *method,
            struct buf *b, xmlDoc **docp, xmlNode **response)
{
  long status = 0;
  char *ctype = NULL;
  xmlDoc *doc = NULL;
  int r = -1;
  CLEANUP_FREE char *why = NULL;      /* the XML parser's reason, if it failed */

  if (c->code != CURLE_OK)
    return transport_error (vs, c, method, b);
  curl_easy_getinfo (c->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo (c->easy, CURLINFO_CONTENT_TYPE, &ctype);

  bool html = ctype && strncasecmp (ctype, "text/html", 9) == 0;
  if (!html && b->len > 0) {
    doc = h2k_xml_read (b->ptr, b->len, "reply.xml");   /* no DTD (util/xmlread.h) */
    if (doc == NULL)
      why = strdup (h2k_errmsg ());
  }
  xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;
  xmlNode *sbody = NULL;
  if (root && strcmp ((char *) root->name, "Envelope") == 0 && root->ns
      && strcmp ((char *) root->ns->href, SOAP_ENV_NS) == 0)
    sbody = soap_child (root, "Body");

  if (!sbody) {
    CLEANUP_FREE char *excerpt = body_excerpt (ctype, b->ptr ? b->ptr : "", b->len);
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
  xmlFreeDoc (doc);
  return r;
}

/* One POST whose reply is held whole; on success *DOC and *RESPONSE are
 * set. */
static int
post (struct h2k_vs *vs, const char *method, const xmlChar *body, int len,
      xmlDoc **docp, xmlNode **response)
{
  struct buf b = { 0 };
  set_fault (vs, NULL);
  struct h2k_vs_conn *c = conn_get (vs);
  if (!c)
    return -1;
  vs->round_trips++;
  vs->last_call = h2k_now ();
  conn_start (c, body, len, &b);
  conn_pump (c, &b, true);
  int r = reply_tree (vs, c, method, &b, docp, response);
  if (r == -1)
    redact_password (vs);
  free (b.ptr);
  return r;
}

/* --- Streamed replies ----------------------------------------------------
 *
 * libxml2's xmlReader reads the reply through stream_read, which runs the
 * transfer until it has bytes; each <objects> element is expanded (the
 * reader builds that subtree only), handed to the caller, and freed by the
 * reader as it moves on. */

/* Where the lexical check of the prolog is (see prolog_scan). */
enum { P_TEXT, P_LT, P_PI, P_PI_Q, P_BANG, P_BANG_DASH, P_COMMENT, P_DONE };

struct rstream {
  struct h2k_vs_conn *c;        /* the bytes come from this transfer, */
  struct buf *b;
  const char *mem;              /* or (C NULL) from memory */
  size_t memlen;
  int prolog;
  int dashes;
  bool refused_dtd;             /* a DOCTYPE, or an entity reference */
  bool refused_enc;             /* not UTF-8 */
  bool expanding;               /* an object is being expanded */
  bool object_too_big;
  bool stream_too_big;
  bool eof;                     /* the transfer ended well */
  uint64_t fed;                 /* bytes given to the parser */
  uint64_t object_start;        /* FED when the object began */
  char *why;                    /* the parser's first error */
  int line;
};

/* libxml2 reads a document type declaration, entity declarations and
 * all, before its reader reports it, and the reader has no hook to stop
 * at "<!DOCTYPE" as util/xmlread.c does.  So the bytes before the root
 * element are checked here before the parser sees them: only white space,
 * the XML declaration, processing instructions and comments may come
 * there; "<!" other than a comment is a DOCTYPE and refused.  UTF-16 and
 * UTF-32 (which would hide it from this check) are refused too, and the
 * parser ignores any encoding the document declares (XML_PARSE_IGNORE_ENC):
 * vSphere speaks UTF-8. */
static int
prolog_scan (struct rstream *r, const unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n && r->prolog != P_DONE; i++) {
    unsigned char ch = p[i];
    if (r->fed + i == 0 && (ch == 0 || ch == 0xfe || ch == 0xff)) {
      r->refused_enc = true;
      return -1;
    }
    switch (r->prolog) {
    case P_TEXT:
      if (ch == '<')
        r->prolog = P_LT;
      break;
    case P_LT:
      r->prolog = ch == '?' ? P_PI : ch == '!' ? P_BANG : P_DONE;
      break;
    case P_PI:
      if (ch == '?')
        r->prolog = P_PI_Q;
      break;
    case P_PI_Q:
      r->prolog = ch == '>' ? P_TEXT : ch == '?' ? P_PI_Q : P_PI;
      break;
    case P_BANG:
    case P_BANG_DASH:
      if (ch != '-') {
        r->refused_dtd = true;
        return -1;
      }
      r->prolog = r->prolog == P_BANG ? P_BANG_DASH : P_COMMENT;
      r->dashes = 0;
      break;
    case P_COMMENT:
      if (ch == '-')
        r->dashes++;
      else if (ch == '>' && r->dashes >= 2)
        r->prolog = P_TEXT;
      else
        r->dashes = 0;
      break;
    }
  }
  return 0;
}

/* libxml2's read callback: the next bytes of the reply, from the
 * transfer (running it until it has some) or from memory. */
static int
stream_read (void *opaque, char *out, int len)
{
  struct rstream *r = opaque;
  struct buf *b = r->b;
  const char *p;
  size_t n;
  if (r->c) {
    conn_pump (r->c, b, false);
    p = b->ptr + b->off;
    n = b->len - b->off;
  }
  else {
    p = r->mem + r->fed;
    n = r->memlen - r->fed;
  }
  if (n == 0) {
    r->eof = !r->c || r->c->code == CURLE_OK;
    return r->eof ? 0 : -1;
  }
  if (n > (size_t) len)
    n = len;
  if (r->fed + n > MAX_STREAM) {
    r->stream_too_big = true;
    return -1;
  }
  if (r->expanding && r->fed + n - r->object_start > MAX_OBJECT) {
    r->object_too_big = true;
    return -1;
  }
  if (prolog_scan (r, (const unsigned char *) p, n) == -1)
    return -1;
  memcpy (out, p, n);
  if (r->c)
    b->off += n;
  r->fed += n;
  return (int) n;
}

static void
stream_error_cb (void *opaque, xmlErrorPtr e)
{
  struct rstream *r = opaque;
  if (r->why || !e)
    return;
  const char *msg = e->message ? e->message : "cannot parse";
  size_t l = strlen (msg);
  while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
    l--;
  r->why = strndup (msg, l);
  r->line = e->line;
}

/* Why reading a stream failed after NOBJ objects. */
static int
stream_error (struct h2k_vs *vs, const char *method, struct rstream *r,
              size_t nobj)
{
  if (r->refused_dtd)
    return h2k_seterr ("%s: %s: the server's answer is not SOAP (reply.xml: "
                       "refused: the document has a DOCTYPE (a DTD, where "
                       "entity expansion and external entities live))",
                       vs->name, method);
  if (r->refused_enc)
    return h2k_seterr ("%s: %s: the server's answer is not SOAP (reply.xml: "
                       "refused: not UTF-8)", vs->name, method);
  if (r->object_too_big)
    return h2k_seterr ("%s: %s: object %zu of the reply is larger than %zu "
                       "MiB: refused", vs->name, method, nobj + 1, MAX_OBJECT >> 20);
  if (r->stream_too_big)
    return h2k_seterr ("%s: %s: the server's reply is larger than %u GiB: refused",
                       vs->name, method, (unsigned) (MAX_STREAM >> 30));
  if (r->c && r->c->code != CURLE_OK) {
    curl_off_t sent = 0;
    curl_easy_getinfo (r->c->easy, CURLINFO_PRETRANSFER_TIME_T, &sent);
    if (r->c->code == CURLE_OPERATION_TIMEDOUT && sent > 0)
      return h2k_seterr ("%s: %s: the server stalled after %zu objects: less "
                         "than %u bytes in %u seconds (--stall-timeout)",
                         vs->name, method, nobj, H2K_STALL_BYTES,
                         vs->opts->stall_timeout);
    return h2k_seterr ("%s: %s: the reply broke off after %zu objects: %s",
                       vs->name, method, nobj, r->c->errbuf[0] ? r->c->errbuf
                       : curl_easy_strerror (r->c->code));
  }
  if (r->eof)
    return h2k_seterr ("%s: %s: the reply ends half way, after %zu objects "
                       "(reply.xml: line %d: %s)", vs->name, method, nobj,
                       r->line, r->why ? r->why : "cannot parse");
  return h2k_seterr ("%s: %s: malformed reply after %zu objects: reply.xml: "
                     "line %d: %s", vs->name, method, nobj, r->line,
                     r->why ? r->why : "cannot parse");
}

static bool
is_soap (xmlTextReaderPtr rd, const char *name)
{
  const char *ns = (const char *) xmlTextReaderConstNamespaceUri (rd);
  const char *local = (const char *) xmlTextReaderConstLocalName (rd);
  return ns && local && strcmp (ns, SOAP_ENV_NS) == 0 && strcmp (local, name) == 0;
}

/* Walk the reply: Envelope, Body, the response (or a Fault), returnval,
 * and in it token and each objects. */
static int
read_objects (struct h2k_vs *vs, const char *method, xmlTextReaderPtr rd,
              struct rstream *r, h2k_vs_object_fn fn, void *opaque,
              char **token, size_t *nobj)
{
  bool env = false, body = false, resp = false;
  CLEANUP_FREE char *stopped = NULL;   /* FN's message, when it stopped */
  int ret = xmlTextReaderRead (rd);

  while (ret == 1) {
    int type = xmlTextReaderNodeType (rd);
    if (type == XML_READER_TYPE_DOCUMENT_TYPE
        || type == XML_READER_TYPE_ENTITY_REFERENCE
        || type == XML_READER_TYPE_ENTITY) {
      r->refused_dtd = true;
      return stream_error (vs, method, r, *nobj);
    }
    if (type != XML_READER_TYPE_ELEMENT) {
      ret = xmlTextReaderRead (rd);
      continue;
    }
    int depth = xmlTextReaderDepth (rd);
    const char *name = (const char *) xmlTextReaderConstLocalName (rd);
    bool descend = false;
    if (depth == 0) {
      if (!is_soap (rd, "Envelope"))
        return h2k_seterr ("%s: %s: the server's answer is not SOAP (its "
                           "root element is <%s>)", vs->name, method, name);
      env = descend = true;
    }
    else if (depth == 1)
      descend = body = body || is_soap (rd, "Body");
    else if (depth == 2 && body && !resp) {
      if (is_soap (rd, "Fault")) {
        xmlNode *f = xmlTextReaderExpand (rd);
        if (!f)
          return stream_error (vs, method, r, *nobj);
        return fault_error (vs, method, f);
      }
      resp = descend = true;
    }
    else if (depth == 3 && resp)
      descend = strcmp (name, "returnval") == 0;
    else if (depth == 4 && resp && strcmp (name, "token") == 0) {
      xmlNode *t = xmlTextReaderExpand (rd);
      if (!t)
        return stream_error (vs, method, r, *nobj);
      free (*token);
      *token = h2k_xml_text (t);
    }
    else if (depth == 4 && resp && !stopped && strcmp (name, "objects") == 0) {
      r->expanding = true;
      r->object_start = r->fed;
      xmlNode *o = xmlTextReaderExpand (rd);
      r->expanding = false;
      if (!o)
        return stream_error (vs, method, r, *nobj);
      xmlNode *obj = h2k_xml_child (o, "obj");
      xmlChar *otype = obj ? xmlGetNoNsProp (obj, BAD_CAST "type") : NULL;
      CLEANUP_FREE char *value = obj ? h2k_xml_text (obj) : NULL;
      (*nobj)++;
      int fr = fn (opaque, otype ? (char *) otype : "", value ? value : "", o);
      xmlFree (otype);
      if (fr == -1) {
        /* The caller has had enough.  A paging token is worth the rest
         * of the reply (a server may send it after the objects): with it
         * the server can let go of what is left. */
        if (*token && **token)
          return -1;
        stopped = strdup (h2k_errmsg ());
        if (!stopped)
          return -1;
      }
    }
    ret = descend ? xmlTextReaderRead (rd) : xmlTextReaderNext (rd);
  }
  if (stopped)
    return h2k_seterr ("%s", stopped);
  if (ret == -1 || r->refused_dtd || r->refused_enc)
    return env ? stream_error (vs, method, r, *nobj)
      : (r->refused_dtd || r->refused_enc || (r->c && r->c->code != CURLE_OK))
      ? stream_error (vs, method, r, *nobj)
      : h2k_seterr ("%s: %s: the server's answer is not SOAP (reply.xml: "
                    "malformed XML: line %d: %s)", vs->name, method, r->line,
                    r->why ? r->why : "cannot parse");
  if (!env)
    return h2k_seterr ("%s: %s: the server's answer is not SOAP (empty)",
                       vs->name, method);
  if (!body || !resp)
    return h2k_seterr ("%s: %s: empty SOAP body", vs->name, method);
  return 0;
}

/* Read the reply R delivers with libxml2's reader. */
static int
read_stream (struct h2k_vs *vs, const char *method, struct rstream *r,
             h2k_vs_object_fn fn, void *opaque, char **token, size_t *nobj)
{
  xmlTextReaderPtr rd = xmlReaderForIO (stream_read, NULL, r, "reply.xml", "UTF-8",
                                        XML_PARSE_NONET | XML_PARSE_NOERROR
                                        | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA
                                        | XML_PARSE_IGNORE_ENC);
  int ret;
  if (!rd)
    /* It reads the first bytes at once: the prolog check may refuse them. */
    ret = r->refused_dtd || r->refused_enc || r->eof || (r->c && r->c->code)
      ? stream_error (vs, method, r, 0)
      : h2k_seterr ("%s: %s: cannot read the reply: out of memory", vs->name, method);
  else {
    xmlTextReaderSetStructuredErrorHandler (rd, stream_error_cb, r);
    ret = read_objects (vs, method, rd, r, fn, opaque, token, nobj);
    xmlFreeTextReader (rd);
  }
  free (r->why);
  r->why = NULL;
  return ret;
}

int
h2k_vs_parse_objects (const char *buf, size_t len, h2k_vs_object_fn fn,
                      void *opaque, char **token)
{
  struct h2k_vs vs = { .name = (char *) "memory" };
  struct rstream r = { .mem = buf, .memlen = len };
  size_t nobj = 0;
  *token = NULL;
  int ret = read_stream (&vs, "RetrievePropertiesEx", &r, fn, opaque, token, &nobj);
  free (vs.last_fault);
  return ret;
}

/* One POST whose reply is read as a stream of objects. */
static int
post_objects (struct h2k_vs *vs, const char *method, const xmlChar *body,
              int len, h2k_vs_object_fn fn, void *opaque, char **token,
              size_t *nobj)
{
  struct buf b = { .stream = true };
  int r = -1;

  set_fault (vs, NULL);
  struct h2k_vs_conn *c = conn_get (vs);
  if (!c)
    return -1;
  vs->round_trips++;
  vs->last_call = h2k_now ();
  conn_start (c, body, len, &b);
  conn_pump (c, &b, false);

  /* Anything but XML with 200 (a fault has 500, an error page is HTML) is
   * small: read it whole and say what it is. */
  long status = 0;
  char *ctype = NULL;
  curl_easy_getinfo (c->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo (c->easy, CURLINFO_CONTENT_TYPE, &ctype);
  if (b.len == 0 || status != 200 || looks_html (ctype, b.ptr, b.len)) {
    xmlDoc *doc = NULL;
    xmlNode *res;
    b.stream = false;
    conn_pump (c, &b, true);
    r = reply_tree (vs, c, method, &b, &doc, &res);
    if (r == 0) {
      /* A SOAP answer without a fault after all: read it as a result. */
      xmlNode *rv = h2k_xml_child (res, "returnval");
      free (*token);
      *token = h2k_xml_child_text (rv, "token");
      for (xmlNode *o = h2k_xml_child (rv, "objects"); o && r == 0;
           o = h2k_xml_next (o, "objects")) {
        xmlNode *obj = h2k_xml_child (o, "obj");
        xmlChar *otype = obj ? xmlGetNoNsProp (obj, BAD_CAST "type") : NULL;
        CLEANUP_FREE char *value = obj ? h2k_xml_text (obj) : NULL;
        (*nobj)++;
        vs->depth++;
        r = fn (opaque, otype ? (char *) otype : "", value ? value : "", o);
        vs->depth--;
        xmlFree (otype);
      }
      xmlFreeDoc (doc);
    }
    goto out;
  }

  struct rstream rs = { .c = c, .b = &b };
  /* Calls FN makes go over the next connection. */
  vs->depth++;
  r = read_stream (vs, method, &rs, fn, opaque, token, nobj);
  vs->depth--;

 out:
  conn_end (c);
  if (r == -1)
    redact_password (vs);
  free (b.ptr);
  return r;
}

static int login (struct h2k_vs *vs);

/* After a failed call of NAME: if it failed because the session expired
 * (NotAuthenticated on a session that was logged in), log in again and
 * return 0, so the caller repeats the call once; else -1, the error kept. */
static int
relogin_for (struct h2k_vs *vs, const char *name)
{
  if (!vs->logged_in || !vs->last_fault
      || strcmp (vs->last_fault, "NotAuthenticated") != 0
      || strcmp (name, "Login") == 0 || strcmp (name, "Logout") == 0)
    return -1;
  CLEANUP_FREE char *why = strdup (h2k_errmsg ());
  vs->logged_in = false;
  if (login (vs) == -1)
    return h2k_seterr_prefix ("%s (re-login after: %s)", vs->name, why ? why : "");
  return 0;
}

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
  if (r == -1 && relogin_for (vs, name) == 0)
    r = post (vs, name, body, len, doc, response);
  explicit_bzero (body, len);
  xmlFree (body);
  return r;
}

int
h2k_vs_call_objects (struct h2k_vs *vs, xmlNode *method, h2k_vs_object_fn fn,
                     void *opaque, char **token)
{
  CLEANUP_FREE char *name = strdup ((const char *) method->name);
  xmlChar *body = NULL;
  int len = 0;
  size_t nobj = 0;

  *token = NULL;
  if (!name) {
    xmlFreeNode (method);
    return h2k_seterr ("out of memory");
  }
  if (build_request (method, &body, &len) == -1)
    return -1;

  int r = post_objects (vs, name, body, len, fn, opaque, token, &nobj);
  /* An expired session, before any object was handed on: log in again
   * and repeat the call once. */
  if (r == -1 && nobj == 0 && relogin_for (vs, name) == 0)
    r = post_objects (vs, name, body, len, fn, opaque, token, &nobj);
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
  vs->curl = vs->conns[0].easy = curl_easy_init ();
  vs->conns[0].multi = curl_multi_init ();
  vs->share = curl_share_init ();
  if (!vs->url || !vs->name || !vs->curl || !vs->conns[0].multi || !vs->share
      || curl_share_setopt (vs->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) != CURLSHE_OK) {
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
  /* The cookie engine, its cookies in the share so that every SOAP
   * connection of the session sends them. */
  curl_easy_setopt (h, CURLOPT_SHARE, vs->share);
  curl_easy_setopt (h, CURLOPT_COOKIEFILE, "");
  curl_easy_setopt (h, CURLOPT_USERAGENT, "h2k/" H2K_VERSION);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, vs->conns[0].errbuf);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A server that trickles its reply (slow loris) is cut off: less than
   * H2K_STALL_BYTES in --stall-timeout seconds is a stall. */
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT,
                    h2k_stall_rate (opts->stall_timeout));
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, (long) opts->stall_timeout);
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
  for (size_t i = 0; i < H2K_VS_DEPTH; i++) {
    struct h2k_vs_conn *c = &vs->conns[i];
    if (c->easy)
      conn_end (c);
    if (c->easy)
      curl_easy_cleanup (c->easy);
    if (c->multi)
      curl_multi_cleanup (c->multi);
  }
  if (vs->share)
    curl_share_cleanup (vs->share);
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
