/* vs-pull --direct: the state direct.c (which host, which URL) and
 * ticket.c (tickets and the hosts' TLS) share. */
#ifndef VS_PULL_DIRECT_H
#define VS_PULL_DIRECT_H

#include <stdbool.h>

#include "pull.h"
#include "util/vector.h"

/* The host chosen for a datastore (in a datacenter, or in any: ""). */
struct ds_choice {
  char *dc, *ds, *host;
};
DEFINE_VECTOR_TYPE (ds_choices, struct ds_choice);

/* One host files are fetched from, and how its certificate is checked.
 * The TLS callbacks get a pointer to it, so it never moves. */
struct host_tls {
  char *authority;              /* as in the URLs: "esx1", "[fd00::1]" */
  char *name;                   /* the inventory name, for messages */
  char *user_pin;               /* from a known_hosts entry, or NULL */
  char *user_pin_source;
  char *ticket_pin;             /* sslThumbprint of the last ticket, or NULL */
  char **ca_files;              /* the session's, not owned */
  bool insecure;
  unsigned long tickets;
  double ticket_seconds;        /* spent waiting for them */

  /* What the last handshake saw (the loop is single-threaded). */
  bool mismatch;                /* it failed the pin */
  bool untrusted;               /* it failed the CA check (no pin) */
  char failed_pin[100];
  char seen_sha1[64], seen_sha256[100];
};
DEFINE_VECTOR_TYPE (host_tls_vector, struct host_tls *);

struct direct {
  bool vcenter;                 /* tickets are used (not a standalone host) */
  bool warned_host;             /* said that --url is a host already */
  ds_choices choices;
  host_tls_vector hosts;
  char **ca_files;              /* --ca-certs, split; NULL-terminated */
  char *default_cainfo;         /* libcurl's own CA bundle, or NULL */
};

/* ticket.c: the host entry for AUTHORITY, made on first use. */
struct host_tls *direct_host (struct pull *p, const char *authority,
                              const char *name);

#endif
