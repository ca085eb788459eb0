/* The data plane's transfer engine: see http.h for the story.
 *
 * Everything runs on the caller's thread around one curl multi handle.
 * Chunks move PENDING -> ACTIVE (owned by one request) -> DONE, and back to
 * PENDING when their request fails; "got" counts the bytes of a chunk that
 * have arrived, so a retry asks only for the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/clock.h"
#include "util/die.h"
#include "util/options.h"
#include "http.h"
#include "http-private.h"
#include "util/version.h"
#include "util/xio.h"

#define WBUF_SIZE (256 * 1024)
#define ZERO_BLOCK (64 * 1024)
#define PROGRESS_BYTES (64 * 1024)   /* an attempt that brought this much
                                        made progress: its failure does not
                                        count against the retries */
#define HASH_BUF (1024 * 1024)
#define MAX_RENEW_STREAK 3

struct h2k_http {
  struct h2k_http_opts o;
  CURLM *multi;
  struct h2k_http_req *reqs;    /* o.connections of them */
  unsigned nactive;
  unsigned gen;                 /* bumped by each renewal */
  unsigned renew_streak;
  volatile sig_atomic_t interrupted;
  struct h2k_http_faults faults;
  uint64_t fetched;
  char *fatal;
  unsigned seed;
  unsigned char *scratch;       /* HASH_BUF, for reading back */
  double last_progress;

};

void
h2k_http_opts_init (struct h2k_http_opts *o)
{
  memset (o, 0, sizeof *o);
  o->connections = 4;
  o->retries = 10;
  o->retry_wait = 0.5;
  o->retry_wait_max = 30;
  o->stall_timeout = 60;
  o->connect_timeout = 30;
  o->checkpoint_interval = 1;
}

char *
h2k_http_range_str (uint64_t start, uint64_t end_excl, char *buf, size_t len)
{
  if (end_excl > start)
    snprintf (buf, len, "bytes %llu-%llu", (unsigned long long) start,
              (unsigned long long) end_excl - 1);
  else
    snprintf (buf, len, "bytes %llu-", (unsigned long long) start);
  return buf;
}

/* Set the fatal error once (the first one is the cause). */
static void
set_fatal (struct h2k_http *e, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
static void
set_fatal (struct h2k_http *e, const char *fmt, ...)
{
  if (e->fatal)
    return;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&e->fatal, fmt, ap) == -1)
    e->fatal = NULL;
  va_end (ap);
  if (e->fatal == NULL)
    e->fatal = strdup ("out of memory");
}

struct h2k_http *
h2k_http_new (const struct h2k_http_opts *opts)
{
  if (opts->connections == 0 || opts->connections > 256) {
    h2k_seterr ("connections: %u is out of range (1-256)", opts->connections);
    return NULL;
  }
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    h2k_seterr ("libcurl: initialisation failed");
    return NULL;
  }
  struct h2k_http *e = calloc (1, sizeof *e);
  if (e == NULL)
    goto oom;
  e->o = *opts;
  e->reqs = calloc (opts->connections, sizeof *e->reqs);
  e->scratch = malloc (HASH_BUF);
  e->multi = curl_multi_init ();
  if (e->reqs == NULL || e->scratch == NULL || e->multi == NULL)
    goto oom;
  for (unsigned i = 0; i < opts->connections; i++) {
    e->reqs[i].e = e;
    e->reqs[i].gen = (unsigned) -1;
  }
  curl_multi_setopt (e->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                     (long) opts->connections);
  curl_multi_setopt (e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                     (long) opts->connections);
  curl_multi_setopt (e->multi, CURLMOPT_MAXCONNECTS, (long) opts->connections);
  e->seed = (unsigned) (time (NULL) ^ getpid ());
  return e;

 oom:
  h2k_http_free (e);
  h2k_seterr ("out of memory");
  return NULL;
}

void
h2k_http_free (struct h2k_http *e)
{
  if (e == NULL)
    return;
  if (e->reqs) {
    for (unsigned i = 0; i < e->o.connections; i++) {
      if (e->reqs[i].h) {
        if (e->reqs[i].busy)
          curl_multi_remove_handle (e->multi, e->reqs[i].h);
        curl_easy_cleanup (e->reqs[i].h);
      }
      free (e->reqs[i].wbuf);
    }
  }
  if (e->multi)
    curl_multi_cleanup (e->multi);
  free (e->reqs);
  free (e->scratch);
  free (e->fatal);
  free (e);
}

void
h2k_http_interrupt (struct h2k_http *e)
{
  if (e)
    e->interrupted = 1;
}

const struct h2k_http_faults *
h2k_http_faults (const struct h2k_http *e)
{
  return &e->faults;
}

uint64_t
h2k_http_fetched (const struct h2k_http *e)
{
  return e->fetched;
}

/* --- Jobs ---------------------------------------------------------------- */

int
h2k_http_job_init (struct h2k_http_job *job, const char *url, const char *name)
{
  memset (job, 0, sizeof *job);
  job->fd = -1;
  job->size = UINT64_MAX;
  job->url = strdup (url);
  job->name = strdup (name ? name : url);
  if (job->url == NULL || job->name == NULL) {
    h2k_http_job_free (job);
    return h2k_seterr ("out of memory");
  }
  return 0;
}

void
h2k_http_job_free (struct h2k_http_job *job)
{
  if (job->chunks) {
    for (size_t i = 0; i < job->nchunks; i++)
      free (job->chunks[i].buf);
  }
  free (job->chunks);
  job->chunks = NULL;
  if (job->md)
    EVP_MD_CTX_free (job->md);
  job->md = NULL;
  h2k_http_segs_reset (&job->segs);
  h2k_http_dones_reset (&job->resumed);
  free (job->url);
  free (job->name);
  free (job->validator);
  free (job->path);
  free (job->part);
  free (job->state);
  job->url = job->name = job->validator = NULL;
  job->path = job->part = job->state = NULL;
}

int
h2k_http_job_add (struct h2k_http_job *job, uint64_t src, uint64_t len,
                  uint64_t dst)
{
  if (len == 0)
    return 0;
  if (src + len < src || dst + len < dst)
    return h2k_seterr ("%s: range at %llu overflows", job->name,
                       (unsigned long long) src);
  /* Merge with the previous segment when both sides continue it: CBT
   * reports neighbouring blocks as separate areas. */
  if (job->segs.len > 0) {
    struct h2k_http_seg *p = &job->segs.ptr[job->segs.len - 1];
    if (p->src + p->len == src && p->dst + p->len == dst) {
      p->len += len;
      return 0;
    }
  }
  return h2k_http_segs_append (&job->segs,
                               (struct h2k_http_seg) { src, len, dst });
}

int
h2k_http_job_whole (struct h2k_http_job *job)
{
  if (job->size == UINT64_MAX)
    return h2k_seterr ("%s: the server did not report the file's size",
                       job->name);
  job->segs.len = 0;
  return h2k_http_job_add (job, 0, job->size, 0);
}

/* A chunk the state file names (same offset and length) whose bytes in
 * the file still have the CRC it recorded is done; any other is fetched. */
static int
resume_chunk (struct h2k_http *e, struct h2k_http_job *job,
              struct h2k_http_chunk *ch)
{
  const struct h2k_http_done *d = NULL;
  /* The state lists chunks in order: look from where the last one was. */
  for (size_t n = 0; n < job->resumed.len; n++) {
    size_t j = (job->resume_hint + n) % job->resumed.len;
    if (job->resumed.ptr[j].off == ch->src && job->resumed.ptr[j].len == ch->len) {
      d = &job->resumed.ptr[j];
      job->resume_hint = j + 1;
      break;
    }
  }
  if (d == NULL)
    return 0;
  uint32_t crc = 0;
  for (uint64_t off = 0; off < ch->len; ) {
    size_t n = ch->len - off < HASH_BUF ? ch->len - off : HASH_BUF;
    if (h2k_pread_exact (job->fd, e->scratch, n, ch->dst + off,
                         job->part ? job->part : job->name) == -1)
      return -1;
    crc = h2k_http_crc32c (crc, e->scratch, n);
    off += n;
  }
  if (crc != d->crc) {
    job->resume_rejected += ch->len;
    return 0;
  }
  ch->state = CH_DONE;
  ch->got = ch->len;
  ch->crc = crc;
  job->done += ch->len;
  job->resumed_bytes += ch->len;
  return 0;
}

/* Cut the segments into chunks and mark those the state file names and
 * the file still holds as done. */
static int
build_chunks (struct h2k_http *e, struct h2k_http_job *job)
{
  uint64_t total = 0, c;
  for (size_t i = 0; i < job->segs.len; i++)
    total += job->segs.ptr[i].len;
  job->total = total;

  if (job->state_chunk)
    c = job->state_chunk;
  else if (e->o.chunk_size)
    c = e->o.chunk_size;
  else {
    /* Enough chunks that every connection has several to take (a slow one
     * then holds up little at the end), big enough that requests are
     * cheap, and never so many that the table grows large. */
    uint64_t lo = job->stream ? 256 * 1024 : 1024 * 1024;
    uint64_t hi = job->stream ? 4 * 1024 * 1024 : 64 * 1024 * 1024;
    c = total / (e->o.connections * 4);
    if (c < lo) c = lo;
    if (c > hi) c = hi;
    if (c < total / 65536) c = total / 65536;
    c = (c + 65535) & ~(uint64_t) 65535;
  }
  job->chunk_size = c;

  size_t n = 0;
  for (size_t i = 0; i < job->segs.len; i++)
    n += (job->segs.ptr[i].len + c - 1) / c;
  job->chunks = calloc (n ? n : 1, sizeof *job->chunks);
  if (job->chunks == NULL)
    return h2k_seterr ("%s: out of memory", job->name);
  job->nchunks = n;
  job->uniform = job->segs.len == 1 && job->segs.ptr[0].src == 0;

  size_t k = 0;
  for (size_t i = 0; i < job->segs.len; i++) {
    const struct h2k_http_seg *s = &job->segs.ptr[i];
    for (uint64_t off = 0; off < s->len; off += c, k++) {
      struct h2k_http_chunk *ch = &job->chunks[k];
      ch->src = s->src + off;
      ch->dst = s->dst + off;
      ch->len = s->len - off < c ? s->len - off : c;
      ch->state = CH_PENDING;
      if (job->resumed.len > 0 && resume_chunk (e, job, ch) == -1)
        return -1;
      if (ch->state == CH_PENDING)
        job->npending++;
    }
  }

  if (job->want_sha256) {
    job->md = EVP_MD_CTX_new ();
    if (job->md == NULL || !EVP_DigestInit_ex (job->md, EVP_sha256 (), NULL))
      return h2k_seterr ("%s: cannot start SHA-256", job->name);
  }
  return 0;
}

/* --- Writing ------------------------------------------------------------- */

/* Write LEN bytes at DST, leaving holes for zero blocks with skip_zero. */
static int
write_out (struct h2k_http *e, struct h2k_http_job *job,
           const unsigned char *buf, size_t len, uint64_t dst)
{
  if (!e->o.skip_zero) {
    if (h2k_pwrite_full (job->fd, buf, len, dst) == -1)
      return h2k_seterr ("%s: write at %llu: %m", job->part ? job->part : job->name,
                         (unsigned long long) dst);
    return 0;
  }

  size_t pos = 0, run = 0;      /* run: start of pending non-zero bytes */
  while (pos < len) {
    uint64_t here = dst + pos;
    size_t n = ZERO_BLOCK - here % ZERO_BLOCK;
    if (n > len - pos)
      n = len - pos;
    if (h2k_is_zero (buf + pos, n)) {
      if (pos > run
          && h2k_pwrite_full (job->fd, buf + run, pos - run, dst + run) == -1)
        goto err;
      if (!job->fresh) {
        /* Old bytes may be there: make them zeros, as a hole if we can. */
        if (fallocate (job->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       (off_t) here, (off_t) n) == -1
            && h2k_pwrite_full (job->fd, buf + pos, n, here) == -1)
          goto err;
      }
      run = pos + n;
    }
    pos += n;
  }
  if (len > run && h2k_pwrite_full (job->fd, buf + run, len - run, dst + run) == -1)
    goto err;
  return 0;
 err:
  return h2k_seterr ("%s: write: %m", job->part ? job->part : job->name);
}

static int
flush_wbuf (struct h2k_http_req *r)
{
  if (r->wlen == 0)
    return 0;
  int ret = write_out (r->e, r->wjob, r->wbuf, r->wlen, r->wdst);
  r->wlen = 0;
  return ret;
}

/* Take N bytes for chunk C at its current end. */
static int
put (struct h2k_http_req *r, struct h2k_http_chunk *c, const char *data,
     size_t n)
{
  struct h2k_http_job *job = r->job;

  if (job->stream)
    memcpy (c->buf + c->got, data, n);
  else {
    c->crc = h2k_http_crc32c (c->crc, data, n);
    uint64_t dst = c->dst + c->got;
    if (r->wlen > 0 && (r->wjob != job || r->wdst + r->wlen != dst))
      if (flush_wbuf (r) == -1)
        return -1;
    size_t done = 0;
    while (done < n) {
      if (r->wlen == 0) {
        r->wdst = dst + done;
        r->wjob = job;
      }
      size_t m = n - done;
      if (m > WBUF_SIZE - r->wlen)
        m = WBUF_SIZE - r->wlen;
      memcpy (r->wbuf + r->wlen, data + done, m);
      r->wlen += m;
      done += m;
      if (r->wlen == WBUF_SIZE && flush_wbuf (r) == -1)
        return -1;
    }
  }
  c->got += n;
  r->attempt_bytes += n;
  return 0;
}

static int
advance_hash (struct h2k_http *e, struct h2k_http_job *job)
{
  if (!job->md || job->stream)
    return 0;
  while (job->hash_idx < job->nchunks
         && job->chunks[job->hash_idx].state == CH_DONE) {
    struct h2k_http_chunk *c = &job->chunks[job->hash_idx];
    for (uint64_t off = 0; off < c->len; ) {
      size_t n = c->len - off < HASH_BUF ? c->len - off : HASH_BUF;
      if (h2k_pread_exact (job->fd, e->scratch, n, c->dst + off,
                           job->part ? job->part : job->name) == -1)
        return -1;
      EVP_DigestUpdate (job->md, e->scratch, n);
      off += n;
    }
    job->hash_idx++;
  }
  return 0;
}

/* Stream jobs: write out the chunks that are done, in order. */
static int
flush_stream (struct h2k_http_job *job)
{
  while (job->head < job->nchunks && job->chunks[job->head].state == CH_DONE) {
    struct h2k_http_chunk *c = &job->chunks[job->head];
    if (h2k_write_full (job->fd, c->buf, c->len) == -1)
      return h2k_seterr ("%s: write to output: %m", job->name);
    if (job->md)
      EVP_DigestUpdate (job->md, c->buf, c->len);
    free (c->buf);
    c->buf = NULL;
    job->head++;
  }
  return 0;
}

static int
chunk_complete (struct h2k_http_req *r, struct h2k_http_chunk *c)
{
  struct h2k_http *e = r->e;
  struct h2k_http_job *job = r->job;

  if (!job->stream && flush_wbuf (r) == -1)
    return -1;
  c->state = CH_DONE;
  c->owner = NULL;
  c->attempts = 0;
  r->nowned--;
  job->done += c->len;
  job->dirty = true;
  if (job->stream)
    return flush_stream (job);
  if (advance_hash (e, job) == -1)
    return -1;
  if (job->state) {
    double t = h2k_now ();
    if (t - job->last_checkpoint >= e->o.checkpoint_interval) {
      job->last_checkpoint = t;
      if (h2k_http_resume_checkpoint (job) == -1)
        return -1;
    }
  }
  return 0;
}

/* --- Callbacks ----------------------------------------------------------- */

/* A reply that fails the checks: remember why and abort the transfer. */
static size_t
cb_fail (struct h2k_http_req *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
static size_t
cb_fail (struct h2k_http_req *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (r->cberr, sizeof r->cberr, fmt, ap);
  va_end (ap);
  return 0;
}

static bool
header_is (const char *line, size_t len, const char *name, const char **val)
{
  size_t n = strlen (name);
  if (len <= n || strncasecmp (line, name, n) != 0 || line[n] != ':')
    return false;
  const char *v = line + n + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  *val = v;
  return true;
}

/* Copy a header value up to the end of the line. */
static void
copy_value (char *dst, size_t dstlen, const char *v, const char *end)
{
  size_t n = 0;
  while (v < end && *v != '\r' && *v != '\n' && n + 1 < dstlen)
    dst[n++] = *v++;
  dst[n] = '\0';
}

size_t
h2k_http_header_cb (char *raw, size_t size, size_t nitems, void *opaque)
{
  struct h2k_http_req *r = opaque;
  size_t rawlen = size * nitems;
  /* libcurl does not NUL-terminate a header line, and strtol, atof and
   * strncasecmp read to a NUL: parse a terminated copy (a line longer than
   * any header we read is cut; the fuzzer found the overread). */
  char buf[4096];
  size_t len = rawlen < sizeof buf - 1 ? rawlen : sizeof buf - 1;
  memcpy (buf, raw, len);
  buf[len] = '\0';
  const char *end = buf + len, *v;

  if (len > 5 && strncmp (buf, "HTTP/", 5) == 0) {
    /* A new reply (after 100 Continue, or a retry inside curl). */
    r->status = 0;
    r->have_cr = r->cr_star = r->multipart = false;
    r->retry_after = 0;
    r->etag[0] = r->lastmod[0] = r->reason[0] = '\0';
    const char *p = memchr (buf, ' ', len);
    if (p) {
      r->status = strtol (p + 1, (char **) &v, 10);
      while (v < end && *v == ' ')
        v++;
      copy_value (r->reason, sizeof r->reason, v, end);
    }
  }
  else if (header_is (buf, len, "Content-Range", &v)) {
    unsigned long long a, b, t;
    char tail[2];
    char val[128];
    copy_value (val, sizeof val, v, end);
    if (sscanf (val, "bytes %llu-%llu/%llu%1s", &a, &b, &t, tail) == 3) {
      r->have_cr = true;
      r->cr_a = a, r->cr_b = b, r->cr_total = t;
    }
    else if (sscanf (val, "bytes %llu-%llu/*%1s", &a, &b, tail) == 2) {
      r->have_cr = r->cr_star = true;
      r->cr_a = a, r->cr_b = b;
    }
    else
      r->have_cr = false, r->cr_star = true;   /* unparseable */
    snprintf (r->cr_text, sizeof r->cr_text, "%s", val);
  }
  else if (header_is (buf, len, "Retry-After", &v))
    r->retry_after = atof (v);
  else if (header_is (buf, len, "Content-Type", &v))
    r->multipart = strncasecmp (v, "multipart/", 10) == 0;
  else if (header_is (buf, len, "ETag", &v))
    copy_value (r->etag, sizeof r->etag, v, end);
  else if (header_is (buf, len, "Last-Modified", &v))
    copy_value (r->lastmod, sizeof r->lastmod, v, end);
  return rawlen;
}

static void
count_fault (struct h2k_http_req *r, unsigned long *(*which) (struct h2k_http_faults *))
{
  (*which (&r->e->faults))++;
  (*which (&r->job->faults))++;
}

static unsigned long *f_full (struct h2k_http_faults *f) { return &f->full_reply; }

/* Check a reply before its first byte is used. */
static size_t
check_reply (struct h2k_http_req *r)
{
  struct h2k_http_job *job = r->job;
  char want[64];

  r->checked = true;
  h2k_http_range_str (r->start, r->end, want, sizeof want);
  if (r->status == 206) {
    if (r->multipart)
      return cb_fail (r, "asked for %s, the server sent several ranges", want);
    if (!r->have_cr)
      return cb_fail (r, "asked for %s, the server sent 206 without Content-Range",
                      want);
    if (r->cr_a != r->start || r->cr_b < r->cr_a || r->cr_b >= r->end)
      return cb_fail (r, "asked for %s, the server sent Content-Range: %s",
                      want, r->cr_text);
    if (job->size != UINT64_MAX && !r->cr_star && r->cr_total != job->size)
      return cb_fail (r, "the file is now %llu bytes, not %llu (Content-Range: %s)",
                      (unsigned long long) r->cr_total,
                      (unsigned long long) job->size, r->cr_text);
    r->body_pos = r->start;
    r->end = r->cr_b + 1;
    return 1;
  }
  if (r->status == 200) {
    curl_off_t cl = -1;
    curl_easy_getinfo (r->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (job->size != UINT64_MAX && cl >= 0 && (uint64_t) cl != job->size)
      return cb_fail (r, "asked for %s, the server sent 200 with %lld bytes, "
                      "but the file has %llu", want, (long long) cl,
                      (unsigned long long) job->size);
    if (job->size == UINT64_MAX && cl < 0 && r->start > 0)
      return cb_fail (r, "asked for %s, the server sent 200 with the whole "
                      "file of unknown size", want);
    /* The body is the whole file.  Keep the range out of it; from now on
     * this file gets one request at a time, since each would start at 0. */
    r->full = true;
    r->body_pos = 0;
    job->no_range = true;
    count_fault (r, f_full);
    return 1;
  }
  return 1;
}

size_t
h2k_http_write_cb (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct h2k_http_req *r = opaque;
  struct h2k_http_job *job = r->job;
  size_t len = size * nmemb, total = len;

  if (r->head)
    return len;
  if (!r->checked && check_reply (r) == 0)
    return 0;
  if (r->status != 200 && r->status != 206) {
    /* An error page: keep its start for the message. */
    size_t room = sizeof r->body - 1 - r->bodylen;
    size_t n = len < room ? len : room;
    memcpy (r->body + r->bodylen, data, n);
    r->bodylen += n;
    r->body[r->bodylen] = '\0';
    return len;
  }
  if (r->finished)
    return 0;

  job->fetched += len;
  r->e->fetched += len;

  while (len > 0) {
    struct h2k_http_chunk *c;
    size_t n;

    if (!r->full) {
      c = &job->chunks[r->idx];
      if (r->body_pos >= r->end)
        return cb_fail (r, "the server sent more bytes than asked for");
      n = len < r->end - r->body_pos ? len : r->end - r->body_pos;
      if (put (r, c, data, n) == -1)
        goto disk_error;
      r->body_pos += n;
      data += n, len -= n;
      if (c->got == c->len) {
        if (chunk_complete (r, c) == -1)
          goto disk_error;
        if (len > 0)
          return cb_fail (r, "the server sent more bytes than asked for");
        r->finished = true;
      }
      continue;
    }

    /* A 200: the body is the file from byte 0. */
    size_t idx;
    if (job->uniform) {
      idx = r->body_pos / job->chunk_size;
      if (idx >= job->nchunks)
        return cb_fail (r, "the server sent more bytes than the file has");
    }
    else
      idx = r->idx;
    c = &job->chunks[idx];
    if (job->uniform && c->state == CH_PENDING
        && r->body_pos <= c->src + c->got
        && (!job->stream || idx < job->head + 2 * r->e->o.connections)) {
      /* Fill a pending chunk we are passing anyway. */
      if (job->stream && c->buf == NULL && (c->buf = malloc (c->len)) == NULL)
        return cb_fail (r, "out of memory");
      c->state = CH_ACTIVE;
      c->owner = r;
      job->npending--;
      r->nowned++;
    }
    if (c->owner == r) {
      uint64_t from = c->src + c->got;
      if (r->body_pos < from)
        n = len < from - r->body_pos ? len : from - r->body_pos;
      else {
        n = len < c->src + c->len - r->body_pos ? len : c->src + c->len - r->body_pos;
        if (put (r, c, data, n) == -1)
          goto disk_error;
        if (c->got == c->len && chunk_complete (r, c) == -1)
          goto disk_error;
      }
    }
    else {
      uint64_t to = r->body_pos < c->src ? c->src : c->src + c->len;
      n = len < to - r->body_pos ? len : to - r->body_pos;
    }
    r->body_pos += n;
    data += n, len -= n;
    if (r->nowned == 0 && (!job->uniform || job->npending == 0)) {
      /* Everything this reply could give us has arrived. */
      r->finished = true;
      return len == 0 ? total : 0;
    }
  }
  return total;

 disk_error:
  set_fatal (r->e, "%s", h2k_errmsg ());
  r->disk_error = true;
  return 0;
}

/* --- Requests ------------------------------------------------------------ */

int
h2k_http_setup_handle (struct h2k_http *e, CURL *h, struct h2k_http_req *r)
{
  if (e->o.setup && e->o.setup (e->o.opaque, h) == -1)
    return -1;
  curl_easy_setopt (h, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, (long) e->o.connect_timeout);
  /* A stall (util/options.h): a server that goes quiet or trickles. */
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, h2k_stall_rate (e->o.stall_timeout));
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, (long) e->o.stall_timeout);
  curl_easy_setopt (h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_USERAGENT, "h2k-vs-pull/" H2K_VERSION);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, h2k_http_write_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, h2k_http_header_cb);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, r);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt (h, CURLOPT_PRIVATE, r);
  return 0;
}

static void
reset_req (struct h2k_http_req *r)
{
  r->status = 0;
  r->reason[0] = r->cberr[0] = r->errbuf[0] = r->body[0] = '\0';
  r->bodylen = 0;
  r->have_cr = r->cr_star = r->multipart = false;
  r->checked = r->full = r->finished = r->disk_error = false;
  r->retry_after = 0;
  r->attempt_bytes = 0;
  r->nowned = 0;
}

static int
start_request (struct h2k_http *e, struct h2k_http_req *r,
               struct h2k_http_job *job, size_t idx)
{
  struct h2k_http_chunk *c = &job->chunks[idx];

  if (r->h == NULL) {
    r->h = curl_easy_init ();
    if (r->h == NULL)
      return h2k_seterr ("libcurl: cannot create a handle");
  }
  if (r->wbuf == NULL && (r->wbuf = malloc (WBUF_SIZE)) == NULL)
    return h2k_seterr ("out of memory");
  if (r->gen != e->gen) {
    if (h2k_http_setup_handle (e, r->h, r) == -1)
      return -1;
    r->gen = e->gen;
  }
  if (job->stream && c->buf == NULL && (c->buf = malloc (c->len)) == NULL)
    return h2k_seterr ("out of memory");

  reset_req (r);
  if (job->started == 0)
    job->started = h2k_now ();
  r->job = job;
  r->idx = idx;
  r->start = c->src + c->got;
  r->end = c->src + c->len;
  snprintf (r->range, sizeof r->range, "%llu-%llu",
            (unsigned long long) r->start, (unsigned long long) r->end - 1);
  curl_easy_setopt (r->h, CURLOPT_URL, job->url);
  curl_easy_setopt (r->h, CURLOPT_RANGE, r->range);
  if (e->o.before && e->o.before (e->o.opaque, r->h, job, false) == -1)
    return -1;

  c->state = CH_ACTIVE;
  c->owner = r;
  job->npending--;
  job->nactive++;
  r->nowned = 1;
  if (curl_multi_add_handle (e->multi, r->h) != CURLM_OK) {
    c->state = CH_PENDING;
    c->owner = NULL;
    job->npending++;
    job->nactive--;
    return h2k_seterr ("libcurl: cannot add a transfer");
  }
  r->busy = true;
  e->nactive++;
  return 0;
}

double
h2k_http_backoff (struct h2k_http *e, unsigned attempts)
{
  double d = e->o.retry_wait * pow (2, attempts > 0 ? attempts - 1 : 0);
  if (d > e->o.retry_wait_max)
    d = e->o.retry_wait_max;
  /* Full jitter over the upper half: connections that failed together do
   * not come back together. */
  return d * (0.5 + 0.5 * (rand_r (&e->seed) / (double) RAND_MAX));
}

/* Put chunk C back after a failure of R (or after a short reply). */
static void
release_chunk (struct h2k_http_req *r, size_t idx, const char *why,
               bool counts)
{
  struct h2k_http *e = r->e;
  struct h2k_http_job *job = r->job;
  struct h2k_http_chunk *c = &job->chunks[idx];

  c->state = CH_PENDING;
  c->owner = NULL;
  job->npending++;
  if (idx < job->scan)
    job->scan = idx;
  if (!counts)
    return;
  if (r->attempt_bytes >= PROGRESS_BYTES)
    c->attempts = 1;
  else
    c->attempts++;
  if (c->attempts > e->o.retries) {
    char range[64];
    h2k_http_range_str (c->src + c->got, c->src + c->len, range, sizeof range);
    set_fatal (e, "%s: %s: %s (gave up after %u attempts)", job->name, range,
               why, c->attempts);
    return;
  }
  double wait = h2k_http_backoff (e, c->attempts);
  if (r->retry_after > wait)
    wait = r->retry_after < 300 ? r->retry_after : 300;
  c->not_before = h2k_now () + wait;
}

/* Describe what the server said, for messages. */
void
h2k_http_describe (struct h2k_http_req *r, CURLcode res, char *buf, size_t len)
{
  curl_off_t sent = 0;
  if (res == CURLE_OPERATION_TIMEDOUT && r->h)
    curl_easy_getinfo (r->h, CURLINFO_PRETRANSFER_TIME_T, &sent);
  if (r->cberr[0])
    snprintf (buf, len, "%s", r->cberr);
  else if (res == CURLE_OPERATION_TIMEDOUT && sent > 0) {
    /* Connected and asked, then (next to) nothing: name the server. */
    char *url = NULL, *host = NULL, *port = NULL;
    CURLU *u = curl_url ();
    curl_easy_getinfo (r->h, CURLINFO_EFFECTIVE_URL, &url);
    if (u && url && curl_url_set (u, CURLUPART_URL, url, 0) == CURLUE_OK) {
      curl_url_get (u, CURLUPART_HOST, &host, 0);
      curl_url_get (u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    }
    snprintf (buf, len, "%s%s%s: the server stalled: less than %d bytes in %u "
              "seconds (--stall-timeout)", host ? host : "the server",
              port ? ":" : "", port ? port : "", H2K_STALL_BYTES,
              r->e->o.stall_timeout);
    curl_free (host);
    curl_free (port);
    curl_url_cleanup (u);
  }
  else if (res != CURLE_OK)
    snprintf (buf, len, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror (res));
  else {
    /* Keep the first line of the server's error page: it often says why. */
    char excerpt[128] = "";
    size_t n = 0;
    for (const char *p = r->body; *p && n + 1 < sizeof excerpt; p++)
      if (*p != '\r' && *p != '\n')
        excerpt[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
      else if (n > 0)
        break;
    excerpt[n] = '\0';
    snprintf (buf, len, "server answered %ld%s%s%s%s", r->status,
              r->reason[0] ? " " : "", r->reason,
              excerpt[0] ? ": " : "", excerpt);
  }
}

static unsigned long *f_conn (struct h2k_http_faults *f) { return &f->connection; }
static unsigned long *f_timeout (struct h2k_http_faults *f) { return &f->timeout; }
static unsigned long *f_trunc (struct h2k_http_faults *f) { return &f->truncated; }
static unsigned long *f_5xx (struct h2k_http_faults *f) { return &f->http_5xx; }
static unsigned long *f_429 (struct h2k_http_faults *f) { return &f->http_429; }
static unsigned long *f_bad (struct h2k_http_faults *f) { return &f->bad_reply; }
static unsigned long *f_renew (struct h2k_http_faults *f) { return &f->renewals; }

/* Is this failure worth retrying?  Counts it and sets *COUNTS. */
static bool
retryable (struct h2k_http_req *r, CURLcode res)
{
  if (r->cberr[0]) {
    count_fault (r, f_bad);
    return true;
  }
  switch (res) {
  case CURLE_OK:
    break;
  case CURLE_OPERATION_TIMEDOUT:
    count_fault (r, f_timeout);
    return true;
  case CURLE_PARTIAL_FILE:
    count_fault (r, f_trunc);
    return true;
  case CURLE_COULDNT_CONNECT: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING: case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: case CURLE_WEIRD_SERVER_REPLY:
    count_fault (r, f_conn);
    return true;
  default:
    /* Including CURLE_COULDNT_RESOLVE_HOST: a name that does not resolve
     * here (an ESXi host's, with --direct) does not start resolving after
     * ten backoffs; the caller says what to do instead. */
    return false;
  }
  if (r->status == 429) {
    count_fault (r, f_429);
    return true;
  }
  if (r->status >= 500 || r->status == 408) {
    count_fault (r, r->status == 408 ? f_timeout : f_5xx);
    return true;
  }
  return false;
}

static void
finish_request (struct h2k_http *e, struct h2k_http_req *r, CURLcode res)
{
  struct h2k_http_job *job = r->job;
  char why[512];

  curl_multi_remove_handle (e->multi, r->h);
  r->busy = false;
  e->nactive--;
  job->nactive--;
  if (!job->stream && flush_wbuf (r) == -1)
    set_fatal (e, "%s", h2k_errmsg ());
  if (r->disk_error)
    r->nowned = 0;      /* the run stops; state is written from DONE chunks */

  bool ok = r->finished
    || (res == CURLE_OK && !r->cberr[0] && (r->status == 206 || r->status == 200));
  if (ok) {
    if (r->attempt_bytes > 0)
      e->renew_streak = 0;
    /* A reply shorter than asked for (a smaller Content-Range, or a 200
     * that ended early) leaves chunks to ask for again, at once. */
    if (r->nowned > 0) {
      for (size_t i = job->scan; i < job->nchunks && r->nowned > 0; i++)
        if (job->chunks[i].owner == r) {
          r->nowned--;
          release_chunk (r, i, "the server sent less than asked for",
                         r->attempt_bytes == 0);
        }
    }
    return;
  }

  h2k_http_describe (r, res, why, sizeof why);
  if (res == CURLE_OK && !r->cberr[0] && r->status == 401 && e->o.renew) {
    /* The session expired: log in again (once for all the requests that
     * fail with it), then ask again. */
    if (r->gen == e->gen) {
      if (++e->renew_streak > MAX_RENEW_STREAK)
        set_fatal (e, "%s: %s (the session was renewed %u times in a row)",
                   job->name, why, MAX_RENEW_STREAK);
      else if (e->o.renew (e->o.opaque) == -1)
        set_fatal (e, "%s: renewing the session: %s", job->name, h2k_errmsg ());
      else {
        e->gen++;
        count_fault (r, f_renew);
      }
    }
    for (size_t i = job->scan; i < job->nchunks && r->nowned > 0; i++)
      if (job->chunks[i].owner == r) {
        r->nowned--;
        release_chunk (r, i, why, false);
      }
    return;
  }

  bool again = retryable (r, res);
  if (!again) {
    char range[64];
    h2k_http_range_str (r->start, r->end, range, sizeof range);
    set_fatal (e, "%s: %s: %s", job->name, range, why);
  }
  for (size_t i = job->scan; i < job->nchunks && r->nowned > 0; i++)
    if (job->chunks[i].owner == r) {
      r->nowned--;
      release_chunk (r, i, why, true);
    }
}

/* Start requests on free connections.  Returns the earliest time a chunk
 * waiting out its backoff may go (INFINITY if none). */
static double
schedule (struct h2k_http *e, struct h2k_http_job **jobs, size_t njobs)
{
  double t = h2k_now (), next = INFINITY;
  unsigned slot = 0;

  for (size_t j = 0; j < njobs && e->nactive < e->o.connections; j++) {
    struct h2k_http_job *job = jobs[j];
    while (job->scan < job->nchunks && job->chunks[job->scan].state == CH_DONE)
      job->scan++;
    for (size_t i = job->scan;
         i < job->nchunks && job->npending > 0 && e->nactive < e->o.connections;
         i++) {
      struct h2k_http_chunk *c = &job->chunks[i];
      if (job->no_range && job->nactive > 0)
        break;
      if (job->stream && i >= job->head + 2 * e->o.connections)
        break;
      if (c->state != CH_PENDING)
        continue;
      if (c->not_before > t) {
        if (c->not_before < next)
          next = c->not_before;
        continue;
      }
      while (e->reqs[slot].busy)
        slot++;
      if (start_request (e, &e->reqs[slot], job, i) == -1) {
        set_fatal (e, "%s: %s", job->name, h2k_errmsg ());
        return next;
      }
    }
  }
  return next;
}

static void
stop_all (struct h2k_http *e)
{
  for (unsigned i = 0; i < e->o.connections; i++) {
    struct h2k_http_req *r = &e->reqs[i];
    if (!r->busy)
      continue;
    curl_multi_remove_handle (e->multi, r->h);
    r->busy = false;
    e->nactive--;
    r->job->nactive--;
    if (!r->job->stream && !r->disk_error && flush_wbuf (r) == -1)
      set_fatal (e, "%s", h2k_errmsg ());
    for (size_t k = 0; k < r->job->nchunks; k++)
      if (r->job->chunks[k].owner == r) {
        r->job->chunks[k].owner = NULL;
        r->job->chunks[k].state = CH_PENDING;
        r->job->npending++;
      }
  }
}

int
h2k_http_run (struct h2k_http *e, struct h2k_http_job **jobs, size_t njobs)
{
  free (e->fatal);
  e->fatal = NULL;

  for (size_t j = 0; j < njobs; j++) {
    struct h2k_http_job *job = jobs[j];
    if (job->chunks == NULL && build_chunks (e, job) == -1)
      return -1;
    job->last_checkpoint = h2k_now ();
    if (advance_hash (e, job) == -1)
      return -1;
  }

  for (;;) {
    if (e->interrupted)
      set_fatal (e, "interrupted");
    if (e->fatal)
      break;
    double next = schedule (e, jobs, njobs);
    if (e->fatal)
      break;
    bool all_done = true;
    for (size_t j = 0; j < njobs; j++)
      if (jobs[j]->npending > 0 || jobs[j]->nactive > 0)
        all_done = false;
    if (all_done)
      break;

    int running;
    curl_multi_perform (e->multi, &running);
    CURLMsg *msg;
    int left;
    bool finished = false;
    while ((msg = curl_multi_info_read (e->multi, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      finished = true;
      struct h2k_http_req *r;
      curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
      finish_request (e, r, msg->data.result);
    }
    if (e->fatal)
      break;
    double t = h2k_now ();
    if (e->o.progress && t - e->last_progress >= 0.2) {
      e->last_progress = t;
      e->o.progress (e->o.opaque, jobs, njobs, false);
    }
    if (finished)
      continue;     /* connections are free: start the next requests now */
    int timeout = 200;
    if (next != INFINITY) {
      double ms = (next - t) * 1000;
      if (ms < timeout)
        timeout = ms < 1 ? 1 : (int) ms;
    }
    if (e->nactive == 0) {
      /* Only backoffs to wait out. */
      struct timespec ts = { timeout / 1000, (timeout % 1000) * 1000000L };
      nanosleep (&ts, NULL);
    }
    else
      curl_multi_poll (e->multi, NULL, 0, timeout, NULL);
  }

  if (e->fatal) {
    stop_all (e);
    for (size_t j = 0; j < njobs; j++)
      if (jobs[j]->state && jobs[j]->dirty && jobs[j]->fd >= 0)
        h2k_http_resume_checkpoint (jobs[j]);
    if (e->o.progress)
      e->o.progress (e->o.opaque, jobs, njobs, true);
    return h2k_seterr ("%s", e->fatal);
  }

  for (size_t j = 0; j < njobs; j++) {
    struct h2k_http_job *job = jobs[j];
    if (job->stream && flush_stream (job) == -1)
      return -1;
    if (advance_hash (e, job) == -1)
      return -1;
    if (job->md) {
      unsigned int n = sizeof job->sha256;
      EVP_DigestFinal_ex (job->md, job->sha256, &n);
    }
    job->complete = true;
  }
  if (e->o.progress)
    e->o.progress (e->o.opaque, jobs, njobs, true);
  return 0;
}

/* --- HEAD ---------------------------------------------------------------- */

int
h2k_http_head (struct h2k_http *e, struct h2k_http_job *job)
{
  struct h2k_http_req r;
  unsigned attempts = 0, renewals = 0;
  char why[512];

  for (;;) {
    if (e->interrupted)
      return h2k_seterr ("%s: interrupted", job->name);
    memset (&r, 0, sizeof r);
    r.e = e;
    r.job = job;
    r.head = true;
    CURL *h = curl_easy_init ();
    if (h == NULL)
      return h2k_seterr ("libcurl: cannot create a handle");
    r.h = h;
    if (h2k_http_setup_handle (e, h, &r) == -1) {
      curl_easy_cleanup (h);
      return h2k_seterr_prefix ("%s", job->name);
    }
    curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt (h, CURLOPT_URL, job->url);
    curl_easy_setopt (h, CURLOPT_TIMEOUT, (long) e->o.stall_timeout + e->o.connect_timeout);
    if (e->o.before && e->o.before (e->o.opaque, h, job, true) == -1) {
      curl_easy_cleanup (h);
      return h2k_seterr_prefix ("%s", job->name);
    }
    CURLcode res = curl_easy_perform (h);
    curl_off_t cl = -1;
    if (res == CURLE_OK)
      curl_easy_getinfo (h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    h2k_http_describe (&r, res, why, sizeof why);    /* it asks the handle */
    curl_easy_cleanup (h);
    r.h = NULL;

    if (res == CURLE_OK && r.status == 200) {
      job->size = cl >= 0 ? (uint64_t) cl : UINT64_MAX;
      free (job->validator);
      job->validator = NULL;
      if (r.etag[0] || r.lastmod[0])
        job->validator = strdup (r.etag[0] ? r.etag : r.lastmod);
      return 0;
    }
    if (res == CURLE_OK && r.status == 401 && e->o.renew && renewals < 2) {
      renewals++;
      if (e->o.renew (e->o.opaque) == -1)
        return h2k_seterr_prefix ("%s: renewing the session", job->name);
      e->gen++;
      count_fault (&r, f_renew);
      continue;
    }
    if (!retryable (&r, res))
      return h2k_seterr ("%s: %s", job->name, why);
    if (++attempts > e->o.retries)
      return h2k_seterr ("%s: %s (gave up after %u attempts)", job->name, why,
                         attempts);
    double wait = h2k_http_backoff (e, attempts);
    if (r.retry_after > wait)
      wait = r.retry_after < 300 ? r.retry_after : 300;
    double until = h2k_now () + wait;
    while (h2k_now () < until) {
      if (e->interrupted)
        return h2k_seterr ("%s: interrupted", job->name);
      struct timespec ts = { 0, 50 * 1000000L };
      nanosleep (&ts, NULL);
    }
  }
}
