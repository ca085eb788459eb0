/* The transfers both kinds of input share: whole files and ranges into
 * OUTPUT.part (pull_files), segments patched into an existing target
 * (patch_target), and the names they are written under.  main.c (sources
 * on the command line) and records.c (VM and extent records) both use
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "util/h2k.h"
#include "http/http.h"
#include "pull.h"
#include "vsphere/vsphere.h"

char *
safe_base_name (const char *file)
{
  const char *b = file;
  const char *end = file + strlen (file);
  if (is_url (file)) {
    end = file + strcspn (file, "?#");
    b = file;
  }
  for (const char *q = b; q < end; q++)
    if (*q == '/' || *q == ']')
      b = q + 1;
  while (*b == ' ')
    b++;
  char *name = strndup (b, end - b);
  if (name == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  if (is_url (file)) {
    /* Undo percent-encoding, then refuse what could leave the directory. */
    char *w = name;
    for (char *r = name; *r; r++) {
      unsigned hi, lo;
      if (r[0] == '%' && r[1] && r[2] && sscanf (r + 1, "%1x%1x", &hi, &lo) == 2) {
        *w++ = (char) (hi * 16 + lo);
        r += 2;
      }
      else
        *w++ = *r;
    }
    *w = '\0';
  }
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0
      || strchr (name, '/')) {
    h2k_seterr ("%s: no usable file name in it", file);
    free (name);
    return NULL;
  }
  return name;
}

int
run_jobs (struct pull *p, struct h2k_http_job **jobs, size_t njobs)
{
  return h2k_http_run (p->http, jobs, njobs);
}

/* Make LEN bytes at OFF of FD read as zeros: a hole where the file system
 * can punch one, else written zeros. */
static int
zero_range (int fd, uint64_t off, uint64_t len, const char *target)
{
  if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) off,
                 (off_t) len) == 0)
    return 0;
  static const char zeros[65536];
  while (len > 0) {
    size_t n = len < sizeof zeros ? len : sizeof zeros;
    if (h2k_pwrite_full (fd, zeros, n, off) == -1)
      return h2k_seterr ("%s: write zeros at %llu: %m", target,
                         (unsigned long long) off);
    off += n, len -= n;
  }
  return 0;
}

/* The SHA-256 of the first SIZE bytes of FD (holes read as zeros): for a
 * file fetched in areas, whose digest the data plane cannot take in
 * order. */
static int
file_sha256 (int fd, uint64_t size, const char *name, unsigned char out[32])
{
  enum { BUF = 1024 * 1024 };
  unsigned char *buf = malloc (BUF);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  int ret = -1;
  if (buf == NULL || md == NULL || !EVP_DigestInit_ex (md, EVP_sha256 (), NULL)) {
    h2k_seterr ("%s: cannot start SHA-256", name);
    goto out;
  }
  for (uint64_t off = 0; off < size; ) {
    size_t n = size - off < BUF ? size - off : BUF;
    if (h2k_pread_exact (fd, buf, n, off, name) == -1)
      goto out;
    EVP_DigestUpdate (md, buf, n);
    off += n;
  }
  unsigned len;
  EVP_DigestFinal_ex (md, out, &len);
  ret = 0;
 out:
  EVP_MD_CTX_free (md);
  free (buf);
  return ret;
}

/* Restrict JOB to the in-use areas of PLAN, and say so with -v.  The
 * areas are at the same offsets in the file; what lies between them
 * stays a hole of the sparse NAME.part. */
static int
job_areas (struct pull *p, struct h2k_http_job *job,
           const struct zero_plan *zp)
{
  uint64_t in_use = 0;
  job->segs.len = 0;
  for (size_t k = 0; k < zp->areas.len; k++) {
    const struct h2k_http_seg *a = &zp->areas.ptr[k];
    if (h2k_http_job_add (job, a->src, a->len, a->src) == -1)
      return -1;
    in_use += a->len;
  }
  if (p->verbose) {
    char used[H2K_SIZE_BUFLEN], all[H2K_SIZE_BUFLEN];
    h2k_warn ("%s: --skip-zero from CBT: %s in use in %zu areas of %s (%u "
              "QueryChangedDiskAreas calls); only those are fetched, the rest "
              "is left as holes", job->name,
              h2k_format_size (in_use, used, sizeof used), zp->areas.len,
              h2k_format_size (job->size, all, sizeof all), zp->calls);
  }
  return 0;
}

/* Make the gaps between JOB's segments read as zeros in a NAME.part that
 * is being resumed (an earlier run may have written there). */
static int
zero_gaps (struct h2k_http_job *job)
{
  uint64_t pos = 0;
  for (size_t k = 0; k <= job->segs.len; k++) {
    uint64_t end = k < job->segs.len ? job->segs.ptr[k].dst : job->size;
    if (end > pos && zero_range (job->fd, pos, end - pos, job->part) == -1)
      return -1;
    if (k < job->segs.len)
      pos = job->segs.ptr[k].dst + job->segs.ptr[k].len;
  }
  return 0;
}

/* Create --dir DIR and the VM's directory under it when the first file is
 * about to be written there, not before: a pull that fails to connect or
 * to find its first file leaves nothing behind. */
static int
make_output_dirs (struct pull *p, const char *path)
{
  if (p->dir == NULL)
    return 0;
  size_t n = strlen (p->dir);
  if (strncmp (path, p->dir, n) != 0 || path[n] != '/')
    return 0;
  if (mkdir (p->dir, 0755) == -1 && errno != EEXIST)
    return h2k_seterr ("%s: %m", p->dir);
  const char *last = strrchr (path + n + 1, '/');
  if (last == NULL)
    return 0;
  CLEANUP_FREE char *sub = strndup (path, last - path);
  if (sub == NULL)
    return h2k_seterr ("out of memory");
  if (mkdir (sub, 0755) == -1 && errno != EEXIST)
    return h2k_seterr ("%s: %m", sub);
  return 0;
}

int
pull_files (struct pull *p, struct h2k_http_job **jobs, size_t njobs,
            char **paths, const char **expect, const struct zero_plan *plans)
{
  struct h2k_http_job **todo = calloc (njobs ? njobs : 1, sizeof *todo);
  bool *in_areas = calloc (njobs ? njobs : 1, sizeof *in_areas);
  size_t ntodo = 0;
  int ret = -1;

  if (todo == NULL || in_areas == NULL) {
    h2k_seterr ("out of memory");
    goto out;
  }
  for (size_t i = 0; i < njobs; i++) {
    struct h2k_http_job *job = jobs[i];
    const struct zero_plan *zp = plans ? &plans[i] : NULL;
    if (p->no_clobber && access (paths[i], F_OK) == 0) {
      if (p->verbose)
        h2k_warn ("%s: exists, skipped (--no-clobber)", paths[i]);
      job->complete = false;
      continue;
    }
    if (h2k_http_head (p->http, job) == -1)
      goto out;
    in_areas[i] = zp && zp->cbt;
    if (in_areas[i] && job->size != zp->size) {
      if (p->verbose)
        h2k_warn ("%s: --skip-zero by zero-block detection: the file has %llu "
                  "bytes, not the %llu of the disk the CBT areas describe",
                  job->name, (unsigned long long) job->size,
                  (unsigned long long) zp->size);
      in_areas[i] = false;
    }
    else if (p->verbose && p->skip_zero && !in_areas[i])
      h2k_warn ("%s: --skip-zero by zero-block detection (%s)", job->name,
                zp && zp->why ? zp->why
                : "CBT areas are only asked for the data files of VM records");
    if (in_areas[i] ? job_areas (p, job, zp) == -1
        : h2k_http_job_whole (job) == -1)
      goto out;
    /* The data plane hashes what it fetches, in order; a file fetched in
     * areas is hashed from the disk afterwards instead. */
    job->want_sha256 = (p->sha256 || (expect && expect[i])) && !in_areas[i];
    if (make_output_dirs (p, paths[i]) == -1
        || h2k_http_resume_open (job, paths[i]) == -1)
      goto out;
    if (in_areas[i] && !job->fresh && zero_gaps (job) == -1)
      goto out;
    if (p->verbose && job->resumed.len > 0)
      h2k_warn ("%s: resuming %s", job->name, job->part);
    if (in_areas[i] && job->segs.len == 0) {
      job->complete = true;     /* nothing in use: all holes */
      continue;
    }
    todo[ntodo++] = job;
  }
  if (run_jobs (p, todo, ntodo) == -1)
    goto out;
  for (size_t i = 0; i < njobs; i++) {
    struct h2k_http_job *job = jobs[i];
    if (!job->complete)
      continue;
    if (p->verbose && (job->resumed_bytes || job->resume_rejected))
      h2k_warn ("%s: resumed %llu bytes that passed their CRC check; %llu "
                "failed it and were fetched again", job->name,
                (unsigned long long) job->resumed_bytes,
                (unsigned long long) job->resume_rejected);
    if (in_areas[i] && (p->sha256 || (expect && expect[i]))
        && file_sha256 (job->fd, job->size, job->part, job->sha256) == -1)
      goto out;
    if (check_digest (job, expect ? expect[i] : NULL) == -1) {
      /* Some byte is wrong and we cannot tell which: start afresh next
       * time. */
      close (job->fd);
      job->fd = -1;
      unlink (job->part);
      unlink (job->state);
      goto out;
    }
    if (h2k_http_resume_commit (job) == -1)
      goto out;
  }
  ret = 0;
 out:
  free (todo);
  free (in_areas);
  return ret;
}

/* Fetch the job's segments into TARGET at their own offsets, and make the
 * ZEROS ranges (if any) read as zeros. */
int
patch_target (struct pull *p, struct h2k_http_job *job, const char *target,
              const h2k_http_segs *zeros)
{
  struct stat st;
  bool created = false;
  int fd;

  if (stat (target, &st) == -1) {
    if (errno != ENOENT)
      return h2k_seterr ("%s: %m", target);
    created = true;
  }
  fd = open (target, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd == -1)
    return h2k_seterr ("%s: %m", target);
  if (fstat (fd, &st) == -1)
    goto err;

  uint64_t need = 0;
  for (size_t i = 0; i < job->segs.len; i++) {
    const struct h2k_http_seg *s = &job->segs.ptr[i];
    if (job->size != UINT64_MAX && s->src + s->len > job->size) {
      close (fd);
      return h2k_seterr ("%s: range %llu+%llu is beyond the end of the file "
                         "(%llu bytes)", job->name, (unsigned long long) s->src,
                         (unsigned long long) s->len,
                         (unsigned long long) job->size);
    }
    if (s->dst + s->len > need)
      need = s->dst + s->len;
  }
  if (S_ISBLK (st.st_mode)) {
    uint64_t dev = 0;
    if (ioctl (fd, BLKGETSIZE64, &dev) == -1)
      goto err;
    if (dev < need) {
      close (fd);
      return h2k_seterr ("%s: the device has %llu bytes, the ranges need %llu",
                         target, (unsigned long long) dev,
                         (unsigned long long) need);
    }
  }
  else if (S_ISREG (st.st_mode)) {
    /* The target is the disk: make it as long as the remote file. */
    if (job->size != UINT64_MAX && job->size > need)
      need = job->size;
    if ((uint64_t) st.st_size < need && ftruncate (fd, (off_t) need) == -1)
      goto err;
  }
  else {
    close (fd);
    return h2k_seterr ("%s: not a regular file or a block device", target);
  }

  /* Areas the records say are zeros: nothing to fetch, but old bytes of an
   * existing target must go. */
  for (size_t i = 0; zeros && i < zeros->len; i++) {
    const struct h2k_http_seg *z = &zeros->ptr[i];
    if (!S_ISBLK (st.st_mode) && (uint64_t) st.st_size < need
        && z->dst >= (uint64_t) st.st_size)
      continue;           /* beyond the old end: already a hole */
    if (!created && zero_range (fd, z->dst, z->len, target) == -1) {
      close (fd);
      return -1;
    }
  }

  job->fd = fd;
  job->fresh = created;
  job->part = strdup (target);
  int r = job->segs.len ? run_jobs (p, &job, 1) : 0;
  if (r == 0 && fsync (fd) == -1 && errno != EINVAL)
    r = h2k_seterr ("%s: fsync: %m", target);
  if (close (fd) == -1 && r == 0)
    r = h2k_seterr ("%s: close: %m", target);
  job->fd = -1;
  return r;
 err:
  h2k_seterr ("%s: %m", target);
  close (fd);
  return -1;
}

