/* Resumable downloads: NAME.part and its state file NAME.part.state.
 *
 * The state is JSON:
 *   {"h2k_pull_state":1,"name":"[ds] vm/disk-flat.vmdk","size":N,
 *    "validator":"...","chunk":C,"done":[[offset,length],...]}
 * "done" lists byte ranges of the remote file that are on disk.  It is only
 * ever written after fdatasync of NAME.part, and replaced by rename, so it
 * never names bytes that a crash could lose.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "die.h"
#include "http.h"
#include "http-private.h"
#include "jsonl.h"

/* Read the state file; 1 if it is valid for this job (ranges loaded), 0 if
 * not (or missing). */
static int
load_state (struct h2k_http_job *job)
{
  json_object *o = json_object_from_file (job->state);
  if (o == NULL)
    return 0;
  int64_t ver, size, chunk;
  const char *validator = NULL;
  json_object *done;
  int ok = 0;

  if (!h2k_json_get_int64 (o, "h2k_pull_state", &ver) || ver != 1
      || !h2k_json_get_int64 (o, "size", &size) || (uint64_t) size != job->size
      || !h2k_json_get_int64 (o, "chunk", &chunk) || chunk <= 0
      || !json_object_object_get_ex (o, "done", &done)
      || !json_object_is_type (done, json_type_array))
    goto out;
  h2k_json_get_string (o, "validator", &validator);
  if ((validator == NULL) != (job->validator == NULL)
      || (validator && strcmp (validator, job->validator) != 0))
    goto out;

  job->resumed.len = 0;
  size_t n = json_object_array_length (done);
  for (size_t i = 0; i < n; i++) {
    json_object *pair = json_object_array_get_idx (done, i);
    if (!json_object_is_type (pair, json_type_array)
        || json_object_array_length (pair) != 2)
      goto out;
    int64_t off = json_object_get_int64 (json_object_array_get_idx (pair, 0));
    int64_t len = json_object_get_int64 (json_object_array_get_idx (pair, 1));
    if (off < 0 || len <= 0 || (uint64_t) off + len > job->size)
      goto out;
    if (h2k_http_segs_append (&job->resumed, (struct h2k_http_seg)
                              { off, len, off }) == -1)
      goto out;
  }
  job->state_chunk = chunk;
  ok = 1;
 out:
  if (!ok)
    job->resumed.len = 0;
  json_object_put (o);
  return ok;
}

int
h2k_http_resume_open (struct h2k_http_job *job, const char *path)
{
  struct stat st;

  if (job->size == UINT64_MAX)
    return h2k_seterr ("%s: the server did not report the file's size",
                       job->name);
  free (job->path);
  free (job->part);
  free (job->state);
  job->path = strdup (path);
  if (job->path == NULL || asprintf (&job->part, "%s.part", path) == -1
      || asprintf (&job->state, "%s.part.state", path) == -1)
    return h2k_seterr ("%s: out of memory", path);

  if (stat (job->part, &st) == 0 && S_ISREG (st.st_mode)
      && (uint64_t) st.st_size == job->size && load_state (job)) {
    job->fd = open (job->part, O_RDWR | O_CLOEXEC);
    if (job->fd == -1)
      return h2k_seterr ("%s: %m", job->part);
    job->fresh = false;
    return 0;
  }

  /* Nothing to resume from: a new sparse file. */
  unlink (job->state);
  job->resumed.len = 0;
  job->state_chunk = 0;
  job->fd = open (job->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (job->fd == -1)
    return h2k_seterr ("%s: %m", job->part);
  if (ftruncate (job->fd, (off_t) job->size) == -1)
    return h2k_seterr ("%s: cannot set size to %llu: %m", job->part,
                       (unsigned long long) job->size);
  job->fresh = true;
  return 0;
}

static int
add_range (json_object *arr, uint64_t off, uint64_t len)
{
  json_object *pair = json_object_new_array ();
  if (pair == NULL
      || json_object_array_add (pair, json_object_new_int64 (off))
      || json_object_array_add (pair, json_object_new_int64 (len))
      || json_object_array_add (arr, pair)) {
    json_object_put (pair);
    return -1;
  }
  return 0;
}

int
h2k_http_state_snapshot (const struct h2k_http_job *job, h2k_http_segs *out)
{
  uint64_t run_off = 0, run_len = 0;
  out->len = 0;
  for (size_t i = 0; i < job->nchunks; i++) {
    const struct h2k_http_chunk *c = &job->chunks[i];
    if (c->state != CH_DONE)
      continue;
    if (run_len && run_off + run_len == c->src)
      run_len += c->len;
    else {
      if (run_len && h2k_http_segs_append (out, (struct h2k_http_seg)
                                           { run_off, run_len, run_off }) == -1)
        return -1;
      run_off = c->src, run_len = c->len;
    }
  }
  if (run_len && h2k_http_segs_append (out, (struct h2k_http_seg)
                                       { run_off, run_len, run_off }) == -1)
    return -1;
  return 0;
}

int
h2k_http_state_write (const struct h2k_http_job *job, const h2k_http_segs *done)
{
  /* The data first: the state must never name bytes a crash could lose. */
  if (fdatasync (job->fd) == -1 && errno != EINVAL)
    return h2k_seterr ("%s: fdatasync: %m", job->part);

  CLEANUP_JSON json_object *o = json_object_new_object ();
  json_object *arr = json_object_new_array ();
  if (o == NULL || arr == NULL
      || json_object_object_add (o, "done", arr) != 0) {
    json_object_put (arr);
    return h2k_seterr ("out of memory");
  }
  for (size_t i = 0; i < done->len; i++)
    if (add_range (arr, done->ptr[i].src, done->ptr[i].len) == -1)
      return h2k_seterr ("out of memory");
  if (h2k_json_set_int64 (o, "h2k_pull_state", 1) == -1
      || h2k_json_set_string (o, "name", job->name) == -1
      || h2k_json_set_int64 (o, "size", job->size) == -1
      || h2k_json_set_int64 (o, "chunk", job->chunk_size) == -1
      || (job->validator
          && h2k_json_set_string (o, "validator", job->validator) == -1))
    return -1;

  CLEANUP_FREE char *tmp = NULL;
  if (asprintf (&tmp, "%s.tmp", job->state) == -1)
    return h2k_seterr ("out of memory");
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1)
    return h2k_seterr ("%s: %m", tmp);
  const char *s = json_object_to_json_string_ext (o, JSON_C_TO_STRING_PLAIN
                                                  | JSON_C_TO_STRING_NOSLASHESCAPE);
  size_t len = strlen (s);
  if (write (fd, s, len) != (ssize_t) len || write (fd, "\n", 1) != 1
      || fsync (fd) == -1) {
    h2k_seterr ("%s: write: %m", tmp);
    close (fd);
    unlink (tmp);
    return -1;
  }
  close (fd);
  if (rename (tmp, job->state) == -1) {
    h2k_seterr ("rename %s: %m", tmp);
    unlink (tmp);
    return -1;
  }
  return 0;
}

int
h2k_http_resume_checkpoint (struct h2k_http_job *job)
{
  if (job->state == NULL || job->fd < 0 || job->chunks == NULL)
    return 0;
  h2k_http_segs done = { 0 };
  int r = h2k_http_state_snapshot (job, &done) == -1 ? -1
    : h2k_http_state_write (job, &done);
  h2k_http_segs_reset (&done);
  if (r == 0)
    job->dirty = false;
  return r;
}

int
h2k_http_resume_commit (struct h2k_http_job *job)
{
  if (fsync (job->fd) == -1 && errno != EINVAL)
    return h2k_seterr ("%s: fsync: %m", job->part);
  if (close (job->fd) == -1) {
    job->fd = -1;
    return h2k_seterr ("%s: close: %m", job->part);
  }
  job->fd = -1;
  if (rename (job->part, job->path) == -1)
    return h2k_seterr ("rename %s to %s: %m", job->part, job->path);
  unlink (job->state);
  return 0;
}
