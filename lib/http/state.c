/* Resumable downloads: NAME.part and its state file NAME.part.state.
 *
 * The state is JSON:
 *   {"h2k_pull_state":2,"name":"[ds] vm/disk-flat.vmdk","size":N,
 *    "validator":"...","chunk":C,"done":[[offset,length,crc32c],...]}
 * "done" lists the chunks of the remote file that were written to NAME.part,
 * each with the CRC-32C of its bytes.  Nothing is trusted on that word
 * alone: the next run reads each chunk back and keeps only those whose CRC
 * still matches (http.c, resume_chunk).  That is why the state needs no
 * fdatasync of the data: a crash that loses bytes it names costs a refetch
 * of those chunks, never a wrong byte.  It is replaced by rename, so it is
 * either the old or the new one; one that cannot be read means starting
 * afresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/cleanup.h"
#include "util/die.h"
#include "http.h"
#include "http-private.h"
#include "util/jsonl.h"

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

  if (!h2k_json_get_int64 (o, "h2k_pull_state", &ver) || ver != 2
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
    json_object *t = json_object_array_get_idx (done, i);
    if (!json_object_is_type (t, json_type_array)
        || json_object_array_length (t) != 3)
      goto out;
    int64_t off = json_object_get_int64 (json_object_array_get_idx (t, 0));
    int64_t len = json_object_get_int64 (json_object_array_get_idx (t, 1));
    int64_t crc = json_object_get_int64 (json_object_array_get_idx (t, 2));
    if (off < 0 || len <= 0 || (uint64_t) off + len > job->size
        || crc < 0 || crc > UINT32_MAX)
      goto out;
    if (h2k_http_dones_append (&job->resumed, (struct h2k_http_done)
                               { off, len, (uint32_t) crc }) == -1)
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

int
h2k_http_resume_checkpoint (struct h2k_http_job *job)
{
  if (job->state == NULL || job->fd < 0 || job->chunks == NULL)
    return 0;

  CLEANUP_JSON json_object *o = json_object_new_object ();
  json_object *arr = json_object_new_array ();
  if (o == NULL || arr == NULL
      || json_object_object_add (o, "done", arr) != 0) {
    json_object_put (arr);
    return h2k_seterr ("out of memory");
  }
  for (size_t i = 0; i < job->nchunks; i++) {
    const struct h2k_http_chunk *c = &job->chunks[i];
    if (c->state != CH_DONE)
      continue;
    json_object *t = json_object_new_array ();
    if (t == NULL
        || json_object_array_add (t, json_object_new_int64 (c->src))
        || json_object_array_add (t, json_object_new_int64 (c->len))
        || json_object_array_add (t, json_object_new_int64 (c->crc))
        || json_object_array_add (arr, t)) {
      json_object_put (t);
      return h2k_seterr ("out of memory");
    }
  }
  if (h2k_json_set_int64 (o, "h2k_pull_state", 2) == -1
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
  if (write (fd, s, len) != (ssize_t) len || write (fd, "\n", 1) != 1) {
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
  job->dirty = false;
  return 0;
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
