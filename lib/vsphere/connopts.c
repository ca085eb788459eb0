/* The vs-* programs' shared connection options: see connopts.h. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <curl/curl.h>

#include "util/cleanup.h"
#include "connopts.h"
#include "util/die.h"
#include "util/options.h"

enum {
  SET_URL = 1 << 0,
  SET_USERNAME = 1 << 1,
  SET_INSECURE = 1 << 2,
  SET_CA = 1 << 3,
  SET_KNOWN = 1 << 4,
  SET_DC = 1 << 5,
  SET_STALL = 1 << 6,
};

/* A number of seconds for --stall-timeout or H2K_STALL_TIMEOUT. */
static int
parse_seconds (const char *what, const char *arg, unsigned *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (arg, &end, 10);
  if (errno || end == arg || *end || arg[0] == '-' || v < 1 || v > 86400)
    return h2k_seterr ("%s: '%s' is not a number of seconds from 1 to 86400",
                       what, arg);
  *out = v;
  return 0;
}

void
h2k_connopts_init (struct h2k_conn_opts *o)
{
  memset (o, 0, sizeof *o);
}

void
h2k_connopts_wipe (char *secret)
{
  if (secret) {
    explicit_bzero (secret, strlen (secret));
    free (secret);
  }
}

void
h2k_connopts_free (struct h2k_conn_opts *o)
{
  free (o->url_arg);
  free (o->username);
  free (o->password_file);
  free (o->ca_certs);
  free (o->known_hosts);
  free (o->thumbprint);
  free (o->datacenter);
  free (o->url);
  free (o->host);
  free (o->hostport);
  h2k_connopts_wipe (o->url_password);
  memset (o, 0, sizeof *o);
}

static int
replace (char **field, const char *val)
{
  char *copy = strdup (val);
  if (!copy)
    return h2k_seterr ("out of memory");
  free (*field);
  *field = copy;
  return 0;
}

char *
h2k_normalise_thumbprint (const char *in)
{
  char hex[65];
  size_t n = 0;

  for (const char *p = in; *p; p++) {
    if (*p == ':' || *p == ' ')
      continue;
    if (!isxdigit ((unsigned char) *p) || n >= sizeof hex - 1) {
      h2k_seterr ("--thumbprint: not a SHA-1 or SHA-256 fingerprint: %s", in);
      return NULL;
    }
    hex[n++] = toupper ((unsigned char) *p);
  }
  if (n != 40 && n != 64) {
    h2k_seterr ("--thumbprint: not a SHA-1 or SHA-256 fingerprint "
                "(40 or 64 hex digits): %s", in);
    return NULL;
  }
  char *out = malloc (n / 2 * 3);
  if (!out) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  size_t j = 0;
  for (size_t i = 0; i < n; i += 2) {
    if (i)
      out[j++] = ':';
    out[j++] = hex[i];
    out[j++] = hex[i + 1];
  }
  out[j] = '\0';
  return out;
}

int
h2k_connopts_option (struct h2k_conn_opts *o, int c, const char *arg)
{
  switch (c) {
  case H2K_CONNOPTS_URL:
    o->set_mask |= SET_URL;
    return replace (&o->url_arg, arg) == 0 ? 1 : -1;
  case H2K_CONNOPTS_USERNAME:
    o->set_mask |= SET_USERNAME;
    return replace (&o->username, arg) == 0 ? 1 : -1;
  case H2K_CONNOPTS_PASSWORD_FILE:
    return replace (&o->password_file, arg) == 0 ? 1 : -1;
  case H2K_CONNOPTS_INSECURE:
    o->set_mask |= SET_INSECURE;
    o->insecure = true;
    return 1;
  case H2K_CONNOPTS_CA_CERTS:
    o->set_mask |= SET_CA;
    return replace (&o->ca_certs, arg) == 0 ? 1 : -1;
  case H2K_CONNOPTS_KNOWN_HOSTS:
    o->set_mask |= SET_KNOWN;
    return replace (&o->known_hosts, arg) == 0 ? 1 : -1;
  case H2K_CONNOPTS_THUMBPRINT: {
    char *t = h2k_normalise_thumbprint (arg);
    if (!t)
      return -1;
    free (o->thumbprint);
    o->thumbprint = t;
    return 1;
  }
  case H2K_CONNOPTS_DATACENTER:
    o->set_mask |= SET_DC;
    return replace (&o->datacenter, arg) == 0 ? 1 : -1;
  case H2K_CONNOPTS_STALL_TIMEOUT:
    o->set_mask |= SET_STALL;
    return parse_seconds ("--stall-timeout", arg, &o->stall_timeout) == 0 ? 1 : -1;
  default:
    return 0;
  }
}

static bool
env_true (const char *v)
{
  return v && (strcmp (v, "1") == 0 || strcasecmp (v, "true") == 0
               || strcasecmp (v, "yes") == 0);
}

static int
from_env (char **field, const char *var)
{
  const char *v = getenv (var);
  if (v && *v)
    return replace (field, v);
  return 0;
}

/* Parse URL_ARG into the canonical https://host:port/path form, keeping the
 * user name and password out of it. */
static int
parse_url (struct h2k_conn_opts *o)
{
  const char *arg = o->url_arg;
  CLEANUP_FREE char *withscheme = NULL;
  CURLU *u = curl_url ();
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
  char *user = NULL, *pass = NULL;
  int r = -1;

  if (!u)
    return h2k_seterr ("out of memory");

  /* govc accepts a bare host name; so does curl, but then guesses http. */
  if (!strstr (arg, "://")) {
    if (asprintf (&withscheme, "https://%s", arg) == -1) {
      withscheme = NULL;
      h2k_seterr ("out of memory");
      goto out;
    }
    arg = withscheme;
  }

  if (curl_url_set (u, CURLUPART_URL, arg, 0) != CURLUE_OK) {
    /* Not the URL itself: it may hold a password. */
    h2k_seterr ("--url: cannot parse the URL");
    goto out;
  }
  curl_url_get (u, CURLUPART_SCHEME, &scheme, 0);
  if (!scheme || (strcmp (scheme, "https") != 0 && strcmp (scheme, "http") != 0)) {
    h2k_seterr ("--url: the scheme must be https (or http), not %s",
                scheme ? scheme : "(none)");
    goto out;
  }
  if (curl_url_get (u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
    h2k_seterr ("--url: no host in the URL");
    goto out;
  }
  curl_url_get (u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
  curl_url_get (u, CURLUPART_PATH, &path, 0);
  if (curl_url_get (u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK
      && *user && !(o->set_mask & SET_USERNAME) && replace (&o->username, user) == -1)
    goto out;
  if (curl_url_get (u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) == CURLUE_OK
      && *pass) {
    h2k_connopts_wipe (o->url_password);
    o->url_password = strdup (pass);
    if (!o->url_password) {
      h2k_seterr ("out of memory");
      goto out;
    }
  }

  o->port = port ? atoi (port) : 443;
  free (o->host);
  o->host = strdup (host);
  free (o->hostport);
  free (o->url);
  if (!o->host
      || asprintf (&o->hostport, "%s:%d", host, o->port) == -1
      || asprintf (&o->url, "%s://%s:%d%s", scheme, host, o->port,
                   path && strcmp (path, "/") != 0 ? path : "/sdk") == -1) {
    o->hostport = o->url = NULL;
    h2k_seterr ("out of memory");
    goto out;
  }
  r = 0;

 out:
  if (pass) {
    explicit_bzero (pass, strlen (pass));
    curl_free (pass);
  }
  curl_free (user);
  curl_free (scheme);
  curl_free (host);
  curl_free (port);
  curl_free (path);
  curl_url_cleanup (u);
  return r;
}

int
h2k_connopts_stall_timeout (struct h2k_conn_opts *o)
{
  const char *env = getenv ("H2K_STALL_TIMEOUT");
  if (o->set_mask & SET_STALL)
    return 0;
  o->stall_timeout = H2K_STALL_TIMEOUT_DEFAULT;
  if (env && *env)
    return parse_seconds ("H2K_STALL_TIMEOUT", env, &o->stall_timeout);
  return 0;
}

int
h2k_connopts_finish (struct h2k_conn_opts *o)
{
  if (h2k_connopts_stall_timeout (o) == -1)
    return -1;
  if (!(o->set_mask & SET_URL) && from_env (&o->url_arg, "GOVC_URL") == -1)
    return -1;
  if (!(o->set_mask & SET_INSECURE))
    o->insecure = env_true (getenv ("GOVC_INSECURE"));
  if (!(o->set_mask & SET_CA) && from_env (&o->ca_certs, "GOVC_TLS_CA_CERTS") == -1)
    return -1;
  if (!(o->set_mask & SET_KNOWN)
      && from_env (&o->known_hosts, "GOVC_TLS_KNOWN_HOSTS") == -1)
    return -1;
  if (!(o->set_mask & SET_DC) && from_env (&o->datacenter, "GOVC_DATACENTER") == -1)
    return -1;

  if (!o->url_arg)
    return h2k_seterr ("no server: give --url or set GOVC_URL");
  if (parse_url (o) == -1)
    return -1;

  /* A user name inside the URL counts as given; the variable comes last. */
  if (!o->username && from_env (&o->username, "GOVC_USERNAME") == -1)
    return -1;
  return 0;
}

/* Read a line from the terminal without echo. */
static char *
prompt_password (const char *hostport)
{
  int fd = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd == -1) {
    h2k_seterr ("no password: give --password-file or set GOVC_PASSWORD "
                "(there is no terminal to ask on)");
    return NULL;
  }
  struct termios old, quiet;
  bool restore = tcgetattr (fd, &old) == 0;
  if (restore) {
    quiet = old;
    quiet.c_lflag &= ~(ECHO | ECHONL);
    tcsetattr (fd, TCSAFLUSH, &quiet);
  }
  dprintf (fd, "Password for %s: ", hostport);

  char buf[1024];
  size_t n = 0;
  char ch;
  ssize_t r;
  while ((r = read (fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r') {
    if (n < sizeof buf - 1)
      buf[n++] = ch;
  }
  buf[n] = '\0';
  if (restore)
    tcsetattr (fd, TCSAFLUSH, &old);
  dprintf (fd, "\n");
  close (fd);

  char *out = (r == -1 || n == 0) ? NULL : strdup (buf);
  explicit_bzero (buf, sizeof buf);
  if (!out)
    h2k_seterr ("no password given");
  return out;
}

char *
h2k_connopts_password (const struct h2k_conn_opts *o)
{
  if (o->password_file) {
    CLEANUP_FCLOSE FILE *fp = fopen (o->password_file, "re");
    if (!fp) {
      h2k_seterr ("%s: %m", o->password_file);
      return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline (&line, &cap, fp);
    if (n <= 0) {
      free (line);
      h2k_seterr ("%s: the password file is empty", o->password_file);
      return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    return line;
  }
  if (o->url_password)
    return strdup (o->url_password);
  const char *env = getenv ("GOVC_PASSWORD");
  if (env && *env)
    return strdup (env);
  return prompt_password (o->hostport ? o->hostport : "the server");
}

void
h2k_connopts_usage (FILE *fp)
{
  fputs ("Connection options (flags override govc's environment variables):\n"
         "  --url URL              server, https://host[:port][/sdk] (GOVC_URL)\n"
         "  --username USER        user name (GOVC_USERNAME, or the URL's)\n"
         "  --password-file FILE   read the password from FILE's first line;\n"
         "                         else GOVC_PASSWORD, the URL's, or a prompt\n"
         "  --insecure             do not verify the server certificate (GOVC_INSECURE)\n"
         "  --ca-certs FILE[:FILE] trust these PEM CA files too (GOVC_TLS_CA_CERTS)\n"
         "  --known-hosts FILE     pin by govc's known_hosts file (GOVC_TLS_KNOWN_HOSTS)\n"
         "  --thumbprint HEX       pin the certificate's SHA-1 or SHA-256 fingerprint\n"
         "  --datacenter NAME      datacenter to work in (GOVC_DATACENTER)\n"
         "  --stall-timeout S      cut off a server that sends less than 1 KiB in\n"
         "                         S seconds (H2K_STALL_TIMEOUT; default 60)\n",
         fp);
}
