/* Unit tests of the vSphere control plane's pure parts: connection
 * options and URLs, thumbprints, datastore paths and /folder URLs, and the
 * namespace-aware XML helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/parser.h>

#include "util/h2k.h"
#include "vsphere/vsphere.h"
#include "tap.h"

static void
clear_env (void)
{
  static const char *const vars[] = {
    "GOVC_URL", "GOVC_USERNAME", "GOVC_PASSWORD", "GOVC_INSECURE",
    "GOVC_DATACENTER", "GOVC_TLS_CA_CERTS", "GOVC_TLS_KNOWN_HOSTS", NULL
  };
  for (const char *const *v = vars; *v; v++)
    unsetenv (*v);
}

/* Parse ARG as --url (or as GOVC_URL when FROM_ENV). */
static int
parse (struct h2k_conn_opts *o, const char *arg, int from_env)
{
  h2k_connopts_init (o);
  if (from_env)
    setenv ("GOVC_URL", arg, 1);
  else if (h2k_connopts_option (o, H2K_CONNOPTS_URL, arg) != 1)
    return -1;
  return h2k_connopts_finish (o);
}

static void
test_urls (void)
{
  struct h2k_conn_opts o;
  clear_env ();

  ok (parse (&o, "vc.example.com", 0) == 0, "a bare host");
  is_str (o.url, "https://vc.example.com:443/sdk", "... becomes https://host:443/sdk");
  is_str (o.hostport, "vc.example.com:443", "... host:port");
  ok (o.username == NULL && o.url_password == NULL, "... no credentials");
  h2k_connopts_free (&o);

  ok (parse (&o, "https://alice:p%40ss%3Aword@127.0.0.1:8989/sdk", 1) == 0,
      "GOVC_URL with credentials");
  is_str (o.url, "https://127.0.0.1:8989/sdk", "... the URL keeps no credentials");
  is_str (o.username, "alice", "... the user name comes from the URL");
  is_str (o.url_password, "p@ss:word", "... the password is percent-decoded");
  ok (strstr (o.url, "alice") == NULL && strstr (o.hostport, "ss") == NULL,
      "... neither appears in url or hostport");
  h2k_connopts_free (&o);
  clear_env ();

  ok (parse (&o, "http://[::1]:8080", 0) == 0, "http and IPv6");
  is_str (o.url, "http://[::1]:8080/sdk", "... keeps the brackets and adds /sdk");
  h2k_connopts_free (&o);

  ok (parse (&o, "esx01:444/custom", 0) == 0, "host:port/path");
  is_str (o.url, "https://esx01:444/custom", "... keeps its path");
  h2k_connopts_free (&o);

  ok (parse (&o, "ftp://x/", 0) == -1, "ftp is refused");
  ok (strstr (h2k_errmsg (), "scheme") != NULL, "... naming the scheme");
  h2k_connopts_free (&o);

  h2k_connopts_init (&o);
  ok (h2k_connopts_finish (&o) == -1 && strstr (h2k_errmsg (), "GOVC_URL"),
      "no URL at all is an error naming GOVC_URL");
  h2k_connopts_free (&o);

  /* Flags override the environment; the environment fills the rest. */
  setenv ("GOVC_URL", "env-host", 1);
  setenv ("GOVC_USERNAME", "env-user", 1);
  setenv ("GOVC_INSECURE", "true", 1);
  setenv ("GOVC_DATACENTER", "DC9", 1);
  h2k_connopts_init (&o);
  h2k_connopts_option (&o, H2K_CONNOPTS_URL, "flag-host");
  h2k_connopts_option (&o, H2K_CONNOPTS_DATACENTER, "DC1");
  ok (h2k_connopts_finish (&o) == 0, "flags and environment");
  is_str (o.host, "flag-host", "... --url wins over GOVC_URL");
  is_str (o.datacenter, "DC1", "... --datacenter wins over GOVC_DATACENTER");
  is_str (o.username, "env-user", "... GOVC_USERNAME fills the user name");
  ok (o.insecure, "... GOVC_INSECURE=true");
  h2k_connopts_free (&o);

  setenv ("GOVC_URL", "https://url-user@h", 1);
  h2k_connopts_init (&o);
  ok (h2k_connopts_finish (&o) == 0, "a user in GOVC_URL");
  is_str (o.username, "url-user", "... wins over GOVC_USERNAME");
  h2k_connopts_free (&o);

  h2k_connopts_init (&o);
  h2k_connopts_option (&o, H2K_CONNOPTS_USERNAME, "flag-user");
  ok (h2k_connopts_finish (&o) == 0 && strcmp (o.username, "flag-user") == 0,
      "--username wins over the URL's user");
  h2k_connopts_free (&o);

  setenv ("GOVC_PASSWORD", "from-env", 1);
  h2k_connopts_init (&o);
  h2k_connopts_finish (&o);
  char *pw = h2k_connopts_password (&o);
  is_str (pw, "from-env", "GOVC_PASSWORD");
  h2k_connopts_wipe (pw);
  h2k_connopts_free (&o);

  char pwfile[] = "/tmp/test-vsphere.XXXXXX";
  int fd = mkstemp (pwfile);
  FILE *fp = fdopen (fd, "w");
  fputs ("from-file\r\nsecond line\n", fp);
  fclose (fp);
  h2k_connopts_init (&o);
  h2k_connopts_option (&o, H2K_CONNOPTS_PASSWORD_FILE, pwfile);
  h2k_connopts_finish (&o);
  pw = h2k_connopts_password (&o);
  is_str (pw, "from-file", "--password-file: its first line, without CR LF");
  h2k_connopts_wipe (pw);
  h2k_connopts_free (&o);
  unlink (pwfile);
  clear_env ();
}

static void
test_thumbprints (void)
{
  char *t = h2k_normalise_thumbprint ("2c11edd713877db57418b81c42c2561f0db95bb9");
  is_str (t, "2C:11:ED:D7:13:87:7D:B5:74:18:B8:1C:42:C2:56:1F:0D:B9:5B:B9",
          "SHA-1 without colons, lowercase");
  free (t);
  t = h2k_normalise_thumbprint ("44:8f:62:8a:8a:65:aa:18:56:0e:53:a8:0c:53:ac:b3:"
                                "8c:51:b4:27:df:03:34:08:23:49:14:11:47:dc:9b:f6");
  ok (t && strlen (t) == 95 && strncmp (t, "44:8F:62", 8) == 0, "SHA-256 with colons");
  free (t);
  ok (h2k_normalise_thumbprint ("12:34") == NULL, "too short");
  ok (h2k_normalise_thumbprint ("zz11edd713877db57418b81c42c2561f0db95bb9") == NULL,
      "not hex");
}

static void
test_paths (void)
{
  char *ds, *path;
  ok (h2k_vs_parse_dspath ("[ds 1] a b/c.vmdk", &ds, &path) == 0, "a datastore path");
  is_str (ds, "ds 1", "... its datastore");
  is_str (path, "a b/c.vmdk", "... its path");
  free (ds);
  free (path);
  ok (h2k_vs_parse_dspath ("ds/c.vmdk", &ds, &path) == -1, "no brackets is an error");

  char *u = h2k_folder_url ("https://vc:443/sdk", "[ds & 1] dir/a b+c.vmdk", "F0/DC 0");
  is_str (u, "https://vc:443/folder/dir/a%20b%2Bc.vmdk?dcPath=F0%2FDC%200&dsName=ds%20%26%201",
          "a /folder URL, each part encoded");
  free (u);
  u = h2k_folder_url ("https://esx:443/sdk", "[LocalDS_0] vm/vm-flat.vmdk", NULL);
  is_str (u, "https://esx:443/folder/vm/vm-flat.vmdk?dsName=LocalDS_0",
          "a /folder URL without a datacenter");
  free (u);
}

static void
test_xml (void)
{
  /* The simulator's spelling and a real server's, side by side. */
  static const char reply[] =
    "<?xml version=\"1.0\"?>"
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
    "<R xmlns=\"urn:vim25\"><returnval>"
    "<a xmlns:XMLSchema-instance=\"http://www.w3.org/2001/XMLSchema-instance\""
    " XMLSchema-instance:type=\"VirtualDisk\" type=\"moref-type\"><key>2000</key>"
    "<flag>true</flag><name>x &amp; &lt;y&gt;</name></a>"
    "<a xsi:type=\"xsd:VirtualDisk\"><key>bad</key><flag>maybe</flag></a>"
    "</returnval></R></soapenv:Body></soapenv:Envelope>";
  xmlDoc *doc = xmlReadMemory (reply, sizeof reply - 1, "t.xml", NULL, XML_PARSE_NONET);
  xmlNode *body = xmlDocGetRootElement (doc)->children;
  xmlNode *rv = h2k_xml_child (h2k_xml_child (body, "R"), "returnval");
  xmlNode *a1 = h2k_xml_child (rv, "a");
  xmlNode *a2 = h2k_xml_next (a1, "a");
  char *t1 = h2k_xml_type (a1), *t2 = h2k_xml_type (a2);
  is_str (t1, "VirtualDisk", "XMLSchema-instance:type, found by namespace");
  is_str (t2, "VirtualDisk", "xsi:type with a prefixed value");
  free (t1);
  free (t2);
  int64_t k = 0;
  bool b = false;
  ok (h2k_xml_child_int64 (a1, "key", &k) && k == 2000, "child_int64");
  ok (!h2k_xml_child_int64 (a2, "key", &k), "child_int64 refuses 'bad'");
  ok (h2k_xml_child_bool (a1, "flag", &b) && b, "child_bool");
  ok (!h2k_xml_child_bool (a2, "flag", &b), "child_bool refuses 'maybe'");
  char *n = h2k_xml_child_text (a1, "name");
  is_str (n, "x & <y>", "text is unescaped");
  free (n);
  ok (h2k_xml_child_text (a1, "missing") == NULL, "a missing child is NULL");
  ok (h2k_xml_next (a2, "a") == NULL, "no third element");
  xmlFreeDoc (doc);

  /* Requests escape what they are given. */
  xmlNode *m = h2k_soap_method ("FindByInventoryPath", "SearchIndex", "si<1>");
  xmlNode *sel = h2k_soap_add_text (m, "inventoryPath", "a & <b> \"c\"");
  h2k_soap_set_type (sel, "TraversalSpec");
  xmlDoc *rd = xmlNewDoc (BAD_CAST "1.0");
  xmlDocSetRootElement (rd, m);
  xmlChar *out;
  int len;
  xmlDocDumpMemory (rd, &out, &len);
  ok (strstr ((char *) out, ">a &amp; &lt;b&gt; \"c\"</inventoryPath>") != NULL,
      "text is escaped");
  ok (strstr ((char *) out, "si&lt;1&gt;") != NULL, "_this is escaped");
  ok (strstr ((char *) out, "xsi:type=\"TraversalSpec\"") != NULL, "xsi:type is set");
  ok (strstr ((char *) out, "xmlns=\"urn:vim25\"") != NULL, "the method is in urn:vim25");
  xmlFree (out);
  xmlFreeDoc (rd);
}

int
main (void)
{
  test_urls ();
  test_thumbprints ();
  test_paths ();
  test_xml ();
  xmlCleanupParser ();
  return done_testing ();
}
