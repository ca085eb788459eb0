/* vs-pull: what the files of the program share. */
#ifndef VS_PULL_H
#define VS_PULL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vsphere/connopts.h"
#include "http/http.h"
#include "util/vector.h"

struct h2k_vs;

DEFINE_VECTOR_TYPE (string_vector, char *);

struct manifest_entry {
  char *name;
  char *sha256;                 /* lowercase hex */
};
DEFINE_VECTOR_TYPE (manifest, struct manifest_entry);

struct direct;

/* How --skip-zero finds the zeros of a file pulled whole: from the areas
 * the server says are in use (CBT), or by looking at the bytes. */
struct zero_plan {
  bool cbt;                     /* fetch only AREAS, holes elsewhere */
  h2k_http_segs areas;          /* in-use areas, src == dst */
  uint64_t size;                /* AREAS hold only if the file is this big */
  unsigned calls;               /* QueryChangedDiskAreas calls made */
  char *why;                    /* not CBT: why not, for -v */
};

struct pull {
  struct h2k_conn_opts conn;
  bool conn_used;               /* a vSphere session is needed */
  struct h2k_vs *vs;            /* connected on first need */
  bool url_insecure;            /* plain URLs: TLS settings */
  char *url_ca;

  bool direct;                  /* --direct: from the hosts, with tickets */
  struct direct *dt;            /* its state (direct.c) */
  struct curl_slist *connect_to;  /* --connect-to, for every data handle */

  struct h2k_http_opts hopts;
  struct h2k_http *http;

  const char *output;           /* -o */
  const char *dir;              /* --dir */
  const char *patch;            /* --patch */
  h2k_http_segs ranges;         /* --range, dst = running offset */
  bool sha256, verify, skip_zero, no_clobber, verbose;
  const char *verify_file;
  manifest sums;
  const char *progress;         /* NULL, "" or FD */
  bool url_used;                /* plain URLs were given */

  /* Progress drawing (show.c). */
  int prog_fd;                  /* --progress=FD, or -1 */
  bool prog_tty;                /* bars on stderr */
  int prog_last, prog_lines;
  double prog_start;
};

/* conn.c */
bool is_url (const char *s);
/* FILE for messages: a URL without its user and password. */
char *display_name (const char *file);
/* The URL to fetch FILE (a URL, or a "[ds] path" resolved through the
 * session, in datacenter DC_PATH or the default one). */
char *source_url (struct pull *p, const char *file, const char *dc_path);
int pull_setup_handle (void *opaque, CURL *h);
int pull_renew (void *opaque);
void conn_close (struct pull *p);

/* Check a --connect-to HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT value. */
int check_connect_to (const char *arg);

/* direct.c: --direct, transfers from the hosts with service tickets. */
/* The URL of datastore path FILE on a host that mounts its datastore:
 * https://HOST/folder/<path>?dsName=<ds>, no dcPath.  DC_PATH (may be
 * NULL) narrows the search for the datastore to one datacenter. */
char *direct_url (struct pull *p, const char *file, const char *dc_path);
/* The data plane's "before" hook: a fresh ticket for this very request,
 * sent as the vmware_cgi_ticket cookie, and the host's TLS checks. */
int direct_before (void *opaque, CURL *h, struct h2k_http_job *job, bool head);
/* After a failure: explain a host certificate that failed its pin.
 * Returns true if it did. */
bool direct_explain (struct pull *p);
/* -v: how many tickets for which hosts. */
void direct_report (struct pull *p);
void direct_free (struct pull *p);

/* show.c */
void show_progress (void *opaque, struct h2k_http_job **jobs, size_t njobs,
                    bool final);
void show_faults (struct pull *p);
void hex_digest (const unsigned char *d, char out[65]);
int manifest_load (manifest *m, const char *path);
/* The expected SHA-256 of a file known by any of NAMES (NULL-terminated):
 * NULL if the manifest does not know it. */
const char *manifest_find (const manifest *m, const char *const *names);
/* Compare the job's digest with EXPECTED (if not NULL). */
int check_digest (struct h2k_http_job *job, const char *expected);

/* records.c */
int pull_records (struct pull *p, FILE *in);

/* cbt.c */
struct json_object;
/* Plan how --skip-zero treats the data file of DISK (an element of the VM
 * record REC's "disks"), whose descriptor names that one file as a flat
 * extent of FLAT_BYTES bytes (ONE_FLAT false: anything else).  With CBT on
 * the VM and a flat base disk that is the disk's current backing, asks
 * the server for the areas in use; otherwise, or when the server faults,
 * PLAN says why not (a fault is also reported on stderr).  -1 only for
 * out of memory. */
int cbt_plan (struct pull *p, struct json_object *rec,
              struct json_object *disk, bool one_flat, uint64_t flat_bytes,
              struct zero_plan *plan);
void zero_plan_free (struct zero_plan *plan);

/* pull.c: the transfers main.c and records.c share */
/* Base name of a datastore path or URL, safe as a file name. */
char *safe_base_name (const char *file);
/* Whole files to PATHS (resumable), with digest and verify.  PLANS (NULL,
 * or one per job) may restrict a file to the areas in use. */
int pull_files (struct pull *p, struct h2k_http_job **jobs, size_t njobs,
                char **paths, const char **expect,
                const struct zero_plan *plans);
/* Fetch JOB's segments into TARGET at their offsets. */
int patch_target (struct pull *p, struct h2k_http_job *job, const char *target,
                  const h2k_http_segs *zeros);
int run_jobs (struct pull *p, struct h2k_http_job **jobs, size_t njobs);

#endif
