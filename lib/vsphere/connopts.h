/* Connection options shared by every vs-* program (vs-ls, vs-pull, vs-cbt).
 *
 * They read govc's environment so that existing setups just work, and
 * command-line flags override it:
 *
 *   --url URL             GOVC_URL        https://[user[:pass]@]host[:port][/sdk]
 *                                         (a bare "host" or "host:port" works)
 *   --username USER       GOVC_USERNAME
 *   --password-file FILE  GOVC_PASSWORD   first line of FILE; else the
 *                                         password in the URL, the variable,
 *                                         or a prompt on the terminal
 *   --insecure            GOVC_INSECURE   do not verify the certificate
 *   --ca-certs FILE[:F2]  GOVC_TLS_CA_CERTS   extra trusted CAs (PEM)
 *   --known-hosts FILE    GOVC_TLS_KNOWN_HOSTS  govc's "host thumbprint"
 *                                         file (~/.govmomi/known_hosts)
 *   --thumbprint HEX      (none)          pin the server certificate by its
 *                                         SHA-1 or SHA-256 fingerprint
 *   --datacenter NAME     GOVC_DATACENTER
 *   --stall-timeout S     H2K_STALL_TIMEOUT   a connection that delivers
 *                                         less than 1 KiB in S seconds
 *                                         (60) has stalled: cut it off
 *
 * A password is never required on the command line and never printed.
 *
 * Use from a program's option parsing:
 *
 *   enum { MY_OPTION = H2K_CONNOPTS_OPTION_END, ... };
 *   static const struct option long_options[] = {
 *     H2K_CONNOPTS_LONG_OPTIONS,
 *     { "help", no_argument, NULL, HELP_OPTION }, ...
 *   };
 *   struct h2k_conn_opts conn;
 *   h2k_connopts_init (&conn);
 *   while ((c = getopt_long (...)) != -1) {
 *     switch (h2k_connopts_option (&conn, c, optarg)) {
 *     case 1: continue;                                   (it was ours)
 *     case -1: h2k_die_status (2, "%s", h2k_errmsg ());   (bad value)
 *     }
 *     switch (c) { ... the program's own options ... }
 *   }
 *   if (h2k_connopts_finish (&conn) == -1)
 *     h2k_die_status (2, "%s", h2k_errmsg ());
 *   ... h2k_vs_connect (&conn) ...
 *   h2k_connopts_free (&conn);
 *
 * h2k_connopts_usage (stdout) prints the help text for these options.
 */
#ifndef H2K_CONNOPTS_H
#define H2K_CONNOPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

enum {
  H2K_CONNOPTS_URL = 0x1080,     /* after util/options.h's H2K_OPT_* */
  H2K_CONNOPTS_USERNAME,
  H2K_CONNOPTS_PASSWORD_FILE,
  H2K_CONNOPTS_INSECURE,
  H2K_CONNOPTS_CA_CERTS,
  H2K_CONNOPTS_KNOWN_HOSTS,
  H2K_CONNOPTS_THUMBPRINT,
  H2K_CONNOPTS_DATACENTER,
  H2K_CONNOPTS_STALL_TIMEOUT,
  H2K_CONNOPTS_OPTION_END         /* programs number their options from here */
};

#define H2K_CONNOPTS_LONG_OPTIONS                                           \
  { "url", required_argument, NULL, H2K_CONNOPTS_URL },                     \
  { "username", required_argument, NULL, H2K_CONNOPTS_USERNAME },           \
  { "password-file", required_argument, NULL, H2K_CONNOPTS_PASSWORD_FILE }, \
  { "insecure", no_argument, NULL, H2K_CONNOPTS_INSECURE },                 \
  { "ca-certs", required_argument, NULL, H2K_CONNOPTS_CA_CERTS },           \
  { "known-hosts", required_argument, NULL, H2K_CONNOPTS_KNOWN_HOSTS },     \
  { "thumbprint", required_argument, NULL, H2K_CONNOPTS_THUMBPRINT },       \
  { "datacenter", required_argument, NULL, H2K_CONNOPTS_DATACENTER },     \
  { "stall-timeout", required_argument, NULL, H2K_CONNOPTS_STALL_TIMEOUT }

struct h2k_conn_opts {
  /* As given (flag or environment); all malloc'd or NULL. */
  char *url_arg;
  char *username;
  char *password_file;
  char *ca_certs;             /* ':'-separated PEM files */
  char *known_hosts;          /* ':'-separated known_hosts files */
  char *thumbprint;           /* normalised: uppercase hex with colons */
  char *datacenter;
  bool insecure;
  unsigned stall_timeout;     /* seconds; 0 until h2k_connopts_finish */

  /* Filled by h2k_connopts_finish from url_arg. */
  char *url;                  /* https://host:port/sdk, no user or password */
  char *host;                 /* host as in the URL ([v6] bracketed) */
  int port;
  char *hostport;             /* "host:port", for messages and known_hosts */
  char *url_password;         /* a password given inside the URL, or NULL */

  /* Which settings came from flags, so that the environment does not
   * override them. */
  unsigned set_mask;
};

void h2k_connopts_init (struct h2k_conn_opts *o);
/* Handle option C if it is a connection option: 1 if it was, 0 if not,
 * -1 with h2k_seterr if its argument is bad. */
int h2k_connopts_option (struct h2k_conn_opts *o, int c, const char *arg);
/* Fill what flags left unset from the environment and parse the URL.
 * Returns -1 with h2k_seterr (a usage error) when no URL is known or it
 * cannot be parsed. */
int h2k_connopts_finish (struct h2k_conn_opts *o);
void h2k_connopts_free (struct h2k_conn_opts *o);
/* The stall timeout: --stall-timeout, else H2K_STALL_TIMEOUT, else 60
 * seconds (see util/options.h); stored in o->stall_timeout.  -1 with
 * h2k_seterr (a usage error) when the variable is not a number of seconds.
 * h2k_connopts_finish calls it; a program that talks HTTP without a
 * vSphere session (vs-pull with URLs) calls it itself. */
int h2k_connopts_stall_timeout (struct h2k_conn_opts *o);
void h2k_connopts_usage (FILE *fp);

/* The password to log in with: --password-file, else the URL's, else
 * GOVC_PASSWORD, else a prompt on /dev/tty.  Returns a malloc'd string
 * (wipe it with h2k_connopts_wipe before freeing) or NULL with h2k_seterr. */
char *h2k_connopts_password (const struct h2k_conn_opts *o);
void h2k_connopts_wipe (char *secret);

/* Normalise a SHA-1 or SHA-256 fingerprint ("aa:bb..", "AABB..", either
 * case) to uppercase hex with colons; NULL with h2k_seterr if it is
 * neither. */
char *h2k_normalise_thumbprint (const char *in);

#endif
