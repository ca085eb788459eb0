/* The http wing of lib/ (lib/http/): it uses only lib/util/ and never
 * reaches the disk wings or lib/vsphere/, which plugs into it through the
 * hooks below.
 *
 * The data plane: parallel, resumable, verified byte movement over HTTP(S).
 *
 * This is the half of the vSphere side that moves bytes (the SOAP control
 * plane is lib/vsphere/).  It knows nothing about vSphere: it fetches byte
 * ranges of URLs with libcurl's multi interface and writes them where a
 * job says.  The control plane plugs in through two hooks: "setup" puts
 * the session's TLS settings and cookie on each curl handle, "renew" logs
 * in again when the server answers 401.
 *
 *   struct h2k_http_opts o;
 *   h2k_http_opts_init (&o);             defaults: 4 connections, ...
 *   o.connections = 8; o.setup = ...; o.opaque = session;
 *   struct h2k_http *e = h2k_http_new (&o);
 *
 *   struct h2k_http_job job;
 *   h2k_http_job_init (&job, url, "[ds] vm/disk-flat.vmdk");
 *   h2k_http_head (e, &job);                      size and validator
 *   h2k_http_resume_open (&job, "out/disk-flat.vmdk");   .part + state
 *   h2k_http_job_whole (&job);                     the whole file
 *   if (h2k_http_run (e, &jobp, 1) == -1) die ("%s", h2k_errmsg ());
 *   h2k_http_resume_commit (&job);                 rename into place
 *
 * How a transfer works.  Each job is a list of segments (source offset,
 * length, destination offset) cut into chunks.  Up to N chunks are in
 * flight at once over N connections (HTTP/1.1, so N really is N TCP
 * streams).  Each reply is checked before its first byte is used: a 206
 * must carry a Content-Range naming exactly the bytes asked for and the
 * size the HEAD reported.  A 200 to a range request (a server that ignores
 * Range) is not trusted to be the range: its body is the whole file, so the
 * bytes before the range are skipped, and for a whole-file job the request
 * goes on to fill every pending chunk it passes, so a server that never
 * honours Range still costs one pass and not one pass per chunk.
 *
 * Failures (connection errors, timeouts, a stall longer than the stall
 * timeout, 5xx, 429, 408, a reply that fails the checks) put the chunk
 * back with what had arrived kept, and it is asked for again after an
 * exponential backoff with jitter (Retry-After is honoured).  A chunk fails
 * for good after "retries" attempts in a row that brought less than 64 KiB;
 * the error then names the file, the range and the server's answer.  A 401
 * calls "renew" once per session generation and the request is retried.
 * A "before" hook, if set, sees every request just before it is sent.
 *
 * Resumable files: h2k_http_resume_open keeps NAME.part and NAME.part.state
 * (JSON: the remote size and validator, and each completed chunk with the
 * CRC-32C of its bytes), rewritten at most once a second.  On the next run
 * every chunk the state names is read back from NAME.part and checked
 * against its CRC; those that match are not fetched again, the others are.
 * So a crash that lost data the state had already named, or a NAME.part
 * changed in between, cannot put a wrong byte into the result, and the
 * transfer never has to wait for the disk: the only fsync is the one
 * before NAME.part is renamed into place.
 *
 * Holes: with skip_zero, all-zero blocks (64 KiB, aligned on the
 * destination) are not written: skipped on a fresh sparse file, punched
 * (or written as zeros where punching is not possible) anywhere else.
 *
 * Memory is bounded: one 256 KiB buffer per connection, plus for stream
 * destinations (a pipe: bytes must leave in order) a window of chunk
 * buffers.  Nothing grows with the size of a file except the chunk table
 * (one small entry per chunk, and chunks grow with the file).
 *
 * Single-threaded: h2k_http_run drives everything from the calling thread.
 * h2k_http_interrupt may be called from a signal handler.
 */
#ifndef H2K_HTTP_H
#define H2K_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "util/vector.h"

struct h2k_http;
struct h2k_http_chunk;
struct h2k_http_job;

struct h2k_http_opts {
  unsigned connections;         /* in all, over every job (default 4) */
  unsigned retries;             /* attempts in a row without progress (10) */
  double retry_wait;            /* first backoff in seconds (0.5), doubled
                                   each time up to retry_wait_max */
  double retry_wait_max;        /* (30) */
  unsigned stall_timeout;       /* seconds without a byte (60) */
  unsigned connect_timeout;     /* seconds (30) */
  uint64_t chunk_size;          /* 0: chosen per job from its size */
  bool skip_zero;               /* leave holes for all-zero blocks */
  double checkpoint_interval;   /* seconds between state writes (1) */

  /* Set TLS options and the session cookie on a new handle (and again after
   * a renewal).  Returns 0, or -1 with h2k_seterr.  NULL: nothing to set. */
  int (*setup) (void *opaque, CURL *h);
  /* The server answered 401: log in again.  0 to retry, -1 with
   * h2k_seterr to fail.  NULL: a 401 is an error. */
  int (*renew) (void *opaque);
  /* Called before every request is sent (the HEAD, each ranged GET, each
   * retry), after "setup", with the handle and the job: the place for
   * per-request credentials such as single-use tickets.  HEAD tells which
   * method it is.  Returns 0, or -1 with h2k_seterr: the request is not
   * sent and the transfer fails.  It runs on the loop's thread, so it
   * holds up the other transfers while it works: keep it short.  NULL:
   * nothing to do. */
  int (*before) (void *opaque, CURL *h, struct h2k_http_job *job, bool head);
  /* Called from the loop about five times a second and once at the end
   * (FINAL), to draw progress. */
  void (*progress) (void *opaque, struct h2k_http_job **jobs, size_t njobs,
                    bool final);
  void *opaque;
};

void h2k_http_opts_init (struct h2k_http_opts *o);

struct h2k_http_seg {
  uint64_t src, len, dst;
};
DEFINE_VECTOR_TYPE (h2k_http_segs, struct h2k_http_seg);

/* A completed chunk named by a state file. */
struct h2k_http_done {
  uint64_t off, len;
  uint32_t crc;                 /* CRC-32C of its bytes */
};
DEFINE_VECTOR_TYPE (h2k_http_dones, struct h2k_http_done);

/* Why transfers were retried; counted per job and in the engine. */
struct h2k_http_faults {
  unsigned long connection;     /* connection refused, reset, closed */
  unsigned long timeout;        /* stalls and timeouts */
  unsigned long truncated;      /* a body shorter than announced */
  unsigned long http_5xx;
  unsigned long http_429;
  unsigned long full_reply;     /* a 200 to a range request */
  unsigned long bad_reply;      /* a wrong Content-Range, too many bytes */
  unsigned long renewals;       /* 401: session renewed */
};

struct h2k_http_job {
  /* Set by the caller (h2k_http_job_init). */
  char *url;
  char *name;                   /* for messages: the datastore path */
  int fd;                       /* destination, -1 until opened */
  bool stream;                  /* fd takes bytes in order only (a pipe) */
  bool fresh;                   /* fd is new and sparse: holes are zeros */
  bool want_sha256;             /* digest of the destination, in order */
  h2k_http_segs segs;

  /* From h2k_http_head. */
  uint64_t size;                /* remote size; UINT64_MAX if unknown */
  char *validator;              /* ETag or Last-Modified, or NULL */

  /* Resume (h2k_http_resume_open). */
  char *path, *part, *state;    /* final name, NAME.part, NAME.part.state */
  h2k_http_dones resumed;       /* chunks the state names */
  uint64_t state_chunk;         /* chunk size the state was written with */
  uint64_t resume_rejected;     /* bytes it named that failed their CRC */

  /* Results and progress. */
  uint64_t total;               /* bytes the segments cover */
  uint64_t done;                /* bytes of them complete */
  uint64_t resumed_bytes;       /* complete before this run */
  uint64_t fetched;             /* body bytes received (wasted ones too) */
  struct h2k_http_faults faults;
  bool complete;
  double started;               /* monotonic time of its first request */
  unsigned char sha256[32];

  /* Private to the engine. */
  struct h2k_http_chunk *chunks;
  size_t nchunks, scan, head, hash_idx, npending, nactive, resume_hint;
  uint64_t chunk_size;
  bool uniform, no_range, dirty;
  double last_checkpoint;
  void *md;                     /* EVP_MD_CTX */
};

struct h2k_http *h2k_http_new (const struct h2k_http_opts *opts);
void h2k_http_free (struct h2k_http *e);

/* Async-signal-safe: make h2k_http_run stop, checkpoint and fail with
 * "interrupted". */
void h2k_http_interrupt (struct h2k_http *e);

/* All faults survived so far, and body bytes received. */
const struct h2k_http_faults *h2k_http_faults (const struct h2k_http *e);
uint64_t h2k_http_fetched (const struct h2k_http *e);

int h2k_http_job_init (struct h2k_http_job *job, const char *url,
                       const char *name);
void h2k_http_job_free (struct h2k_http_job *job);
/* Add a segment: SRC..SRC+LEN of the remote file goes to DST. */
int h2k_http_job_add (struct h2k_http_job *job, uint64_t src, uint64_t len,
                      uint64_t dst);
/* The whole file (job->size must be known) at the same offsets. */
int h2k_http_job_whole (struct h2k_http_job *job);

/* HEAD the job's URL: size (Content-Length) and validator.  Retried like
 * transfers.  -1 with h2k_seterr naming the file and the server's answer. */
int h2k_http_head (struct h2k_http *e, struct h2k_http_job *job);

/* Run every job to completion.  On failure the transfers stop, state files
 * are written, and -1 is returned with h2k_seterr. */
int h2k_http_run (struct h2k_http *e, struct h2k_http_job **jobs,
                  size_t njobs);

/* Open PATH.part for the job (job->size known), resuming from
 * PATH.part.state when it matches the remote file (same size and
 * validator), else starting afresh with a sparse file of the right size. */
int h2k_http_resume_open (struct h2k_http_job *job, const char *path);
/* Write the state now. */
int h2k_http_resume_checkpoint (struct h2k_http_job *job);
/* fsync, rename PATH.part to PATH, remove the state file. */
int h2k_http_resume_commit (struct h2k_http_job *job);

/* "bytes=A-B" style text for messages: "bytes 0-1048575". */
char *h2k_http_range_str (uint64_t start, uint64_t end_excl, char *buf,
                          size_t len);

#endif
