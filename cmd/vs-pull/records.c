/* Records on stdin: VM records (vs-ls --chain) and extent records
 * (vmdk-flatten --map, or anything writing that format).
 *
 * A VM record's disks name their backing chain by descriptor; the bytes
 * live in the extent files each descriptor names (disk-flat.vmdk,
 * disk-000001-sesparse.vmdk, ...).  So the chain is pulled first, then the
 * descriptors that came down are read for their extent files, which are
 * pulled next, all into DIR/<VM name>/.  The record is then printed again
 * with disks[].local (the leaf descriptor, ready for vmdk-flatten) and
 * disks[].local_files (every file of the disk: datastore path, local path,
 * size and, with --sha256, the digest).  Fields vs-pull does not know pass
 * through unchanged.  With --skip-zero the data files vs-ls listed wait
 * until the descriptors are read, so that a flat disk with CBT on can be
 * fetched in the areas the server reports in use (cbt.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/h2k.h"
#include "pull.h"

DEFINE_VECTOR_TYPE (json_vector, json_object *);

struct vm_file {
  char *dspath;
  char *local;
  struct h2k_http_job job;
  bool have_job;
  string_vector extents;        /* files a descriptor names */
  bool one_flat;                /* it names one flat extent at offset 0 */
  uint64_t flat_bytes;          /* of that many bytes */
};
DEFINE_VECTOR_TYPE (file_vector, struct vm_file);

static void
files_free (file_vector *fv)
{
  for (size_t i = 0; i < fv->len; i++) {
    struct vm_file *f = &fv->ptr[i];
    free (f->dspath);
    free (f->local);
    if (f->have_job)
      h2k_http_job_free (&f->job);
    for (size_t k = 0; k < f->extents.len; k++)
      free (f->extents.ptr[k]);
    string_vector_reset (&f->extents);
  }
  file_vector_reset (fv);
}

/* The length of the UTF-8 character at P (at most N bytes): 1 for ASCII,
 * 2 to 4 for a valid multi-byte character, 0 for an invalid sequence
 * (a stray continuation byte, an overlong form, a surrogate, or beyond
 * U+10FFFF). */
static size_t
utf8_length (const unsigned char *p, size_t n)
{
  if (p[0] < 0x80)
    return 1;
  size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2
    : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
  if (len == 0 || len > n)
    return 0;
  for (size_t k = 1; k < len; k++)
    if ((p[k] & 0xc0) != 0x80)
      return 0;
  if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f)
      || (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
    return 0;
  return len;
}

/* A VM name made safe as one directory name: no '/', no control
 * characters, not starting with '.', so "../../x" stays inside DIR. */
static char *
sanitize_name (const char *name)
{
  size_t n = strlen (name);
  if (n > 200) {
    n = 200;
    while (n > 0 && ((unsigned char) name[n] & 0xc0) == 0x80)
      n--;    /* do not cut a UTF-8 character in two */
  }
  char *out = malloc (n + 2), *w = out;
  if (out == NULL)
    return NULL;
  if (n == 0 || name[0] == '.')
    *w++ = '_';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = name[i];
    size_t len = utf8_length ((const unsigned char *) name + i, n - i);
    if (len > 1) {
      memcpy (w, name + i, len);    /* a whole, valid UTF-8 character */
      w += len;
      i += len - 1;
      continue;
    }
    /* Invalid UTF-8 becomes '_' too: the path goes into a JSON record,
     * which must stay valid UTF-8. */
    *w++ = (len == 0 || c == '/' || c == '\\' || c < 0x20 || c == 0x7f) ? '_' : c;
  }
  *w = '\0';
  return out;
}

static ssize_t
find_file (file_vector *fv, const char *dspath)
{
  for (size_t i = 0; i < fv->len; i++)
    if (strcmp (fv->ptr[i].dspath, dspath) == 0)
      return i;
  return -1;
}

static int
add_file (file_vector *fv, const char *vmdir, const char *dspath)
{
  if (find_file (fv, dspath) >= 0)
    return 0;
  CLEANUP_FREE char *base = safe_base_name (dspath);
  if (base == NULL)
    return -1;
  struct vm_file f = { 0 };
  f.dspath = strdup (dspath);
  if (f.dspath == NULL || asprintf (&f.local, "%s/%s", vmdir, base) == -1) {
    free (f.dspath);
    return h2k_seterr ("out of memory");
  }
  for (size_t i = 0; i < fv->len; i++)
    if (strcmp (fv->ptr[i].local, f.local) == 0) {
      h2k_seterr ("%s and %s would both be %s", fv->ptr[i].dspath, dspath,
                  f.local);
      free (f.dspath);
      free (f.local);
      return -1;
    }
  if (file_vector_append (fv, f) == -1) {
    free (f.dspath);
    free (f.local);
    return -1;
  }
  return 0;
}

/* The datastore path of NAME in the directory of DSPATH. */
static char *
sibling (const char *dspath, const char *name)
{
  const char *slash = strrchr (dspath, '/');
  const char *br = strchr (dspath, ']');
  char *out;
  int r;
  if (slash)
    r = asprintf (&out, "%.*s%s", (int) (slash + 1 - dspath), dspath, name);
  else if (br)
    r = asprintf (&out, "%.*s %s", (int) (br + 1 - dspath), dspath, name);
  else
    r = asprintf (&out, "%s", name);
  return r == -1 ? NULL : out;
}

/* If LOCAL is a VMDK text descriptor, the extent files it names. */
static int
descriptor_extents (struct vm_file *f)
{
  CLEANUP_FCLOSE FILE *fp = fopen (f->local, "r");
  if (fp == NULL)
    return h2k_seterr ("%s: %m", f->local);
  char head[32] = "";
  size_t n = fread (head, 1, sizeof head - 1, fp);
  head[n] = '\0';
  if (strncmp (head, "# Disk DescriptorFile", 21) != 0)
    return 0;   /* a binary VMDK (or not a VMDK): it holds its own data */
  rewind (fp);

  char line[4096];
  size_t nflat = 0, nother = 0;
  unsigned long long flat_sectors = 0;
  while (fgets (line, sizeof line, fp)) {
    char access[16], type[32], name[1024];
    unsigned long long sectors, offset = 0;
    int got = sscanf (line, "%15s %llu %31s \"%1023[^\"]\" %llu", access,
                      &sectors, type, name, &offset);
    if (got < 4)
      continue;
    if (strcmp (access, "RW") && strcmp (access, "RDONLY")
        && strcmp (access, "NOACCESS"))
      continue;
    if (name[0] == '\0' || strchr (name, '/') || strcmp (name, ".") == 0
        || strcmp (name, "..") == 0)
      return h2k_seterr ("%s: extent file \"%s\" is not a plain file name in "
                         "the descriptor's directory", f->dspath, name);
    char *ds = sibling (f->dspath, name);
    if (ds == NULL || string_vector_append (&f->extents, ds) == -1) {
      free (ds);
      return h2k_seterr ("out of memory");
    }
    /* A flat extent from the start of its file: disk offsets are file
     * offsets, which is what CBT areas need. */
    if ((strcmp (type, "VMFS") == 0 || strcmp (type, "FLAT") == 0)
        && offset == 0 && sectors <= UINT64_MAX / 512) {
      nflat++;
      flat_sectors = sectors;
    }
    else
      nother++;
  }
  f->one_flat = nflat == 1 && nother == 0;
  f->flat_bytes = f->one_flat ? flat_sectors * 512 : 0;
  return 0;
}

/* The SHA-256 an earlier pull put in the record for DSPATH, if any. */
static const char *
record_sha256 (json_object *disk, const char *dspath)
{
  json_object *lf;
  if (!json_object_object_get_ex (disk, "local_files", &lf)
      || !json_object_is_type (lf, json_type_array))
    return NULL;
  for (size_t i = 0; i < json_object_array_length (lf); i++) {
    json_object *e = json_object_array_get_idx (lf, i);
    const char *file, *sum;
    if (json_object_is_type (e, json_type_object)
        && h2k_json_get_string (e, "file", &file) && strcmp (file, dspath) == 0
        && h2k_json_get_string (e, "sha256", &sum))
      return sum;
  }
  return NULL;
}

/* Pull files FROM..FROM+N. */
static int
pull_some_n (struct pull *p, file_vector *fv, size_t from, size_t n,
             const char *dc, json_object **file_disk,
             const struct zero_plan *plans)
{
  if (n == 0)
    return 0;
  struct h2k_http_job **jobs = calloc (n, sizeof *jobs);
  char **paths = calloc (n, sizeof *paths);
  const char **expect = calloc (n, sizeof *expect);
  int ret = -1;
  if (!jobs || !paths || !expect) {
    h2k_seterr ("out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    struct vm_file *f = &fv->ptr[from + i];
    CLEANUP_FREE char *url = source_url (p, f->dspath, dc);
    if (url == NULL || h2k_http_job_init (&f->job, url, f->dspath) == -1)
      goto out;
    f->have_job = true;
    jobs[i] = &f->job;
    paths[i] = f->local;
    if (p->verify) {
      if (p->verify_file) {
        const char *names[] = { f->dspath, f->local, NULL };
        expect[i] = manifest_find (&p->sums, names);
      }
      else if (file_disk[from + i])
        expect[i] = record_sha256 (file_disk[from + i], f->dspath);
      if (expect[i] == NULL) {
        h2k_seterr ("%s: --verify: no checksum known for it", f->dspath);
        goto out;
      }
    }
  }
  ret = pull_files (p, jobs, n, paths, expect, plans ? plans + from : NULL);
 out:
  free (jobs);
  free (paths);
  free (expect);
  return ret;
}

static int
add_local_file (json_object *arr, struct vm_file *f, bool sha)
{
  json_object *o = json_object_new_object ();
  if (o == NULL)
    return h2k_seterr ("out of memory");
  struct stat st;
  if (h2k_json_set_string (o, "file", f->dspath) == -1
      || h2k_json_set_string (o, "local", f->local) == -1
      || (stat (f->local, &st) == 0
          && h2k_json_set_int64 (o, "size", st.st_size) == -1)
      || json_object_array_add (arr, o) != 0) {
    json_object_put (o);
    return h2k_seterr ("out of memory");
  }
  if (sha && f->job.complete) {
    char hex[65];
    hex_digest (f->job.sha256, hex);
    if (h2k_json_set_string (o, "sha256", hex) == -1)
      return -1;
  }
  return 0;
}

/* The files a disk names: its "chain" (strings, or objects with "file"),
 * then "chain_files" (vs-ls --chain: objects with "name", the extent files
 * of layoutEx), then its own "file".  Returns -1 if an entry is malformed. */
static int
disk_files (json_object *disk, string_vector *out)
{
  json_object *arr;
  const char *file;
  /* A present field of the wrong type is a broken record, not an absent
   * field: ignoring it would pull a disk without its parents. */
  static const char *const lists[] = { "chain", "chain_files" };
  for (size_t k = 0; k < 2; k++)
    if (json_object_object_get_ex (disk, lists[k], &arr)
        && !json_object_is_type (arr, json_type_array)
        && !json_object_is_type (arr, json_type_null))
      return h2k_seterr ("\"%s\" is not an array", lists[k]);
  if (json_object_object_get_ex (disk, "chain", &arr)
      && json_object_is_type (arr, json_type_array))
    for (size_t k = 0; k < json_object_array_length (arr); k++) {
      json_object *c = json_object_array_get_idx (arr, k);
      const char *cf = NULL;
      if (json_object_is_type (c, json_type_string))
        cf = json_object_get_string (c);
      else if (json_object_is_type (c, json_type_object))
        h2k_json_get_string (c, "file", &cf);
      if (cf == NULL)
        return h2k_seterr ("a \"chain\" entry is not a file name");
      if (string_vector_append (out, (char *) cf) == -1)
        return -1;
    }
  if (json_object_object_get_ex (disk, "chain_files", &arr)
      && json_object_is_type (arr, json_type_array))
    for (size_t k = 0; k < json_object_array_length (arr); k++) {
      json_object *c = json_object_array_get_idx (arr, k);
      const char *cf = NULL;
      if (json_object_is_type (c, json_type_object))
        h2k_json_get_string (c, "name", &cf);
      if (cf == NULL)
        return h2k_seterr ("a \"chain_files\" entry has no \"name\"");
      if (string_vector_append (out, (char *) cf) == -1)
        return -1;
    }
  if (!h2k_json_get_string (disk, "file", &file))
    return h2k_seterr ("no \"file\"");
  return string_vector_append (out, (char *) file);
}

/* Whether some disk's chain_files (vs-ls --chain) name DSPATH as a disk
 * extent. */
static bool
is_disk_extent (json_object *disks, size_t ndisks, const char *dspath)
{
  for (size_t d = 0; d < ndisks; d++) {
    json_object *arr, *disk = json_object_array_get_idx (disks, d);
    if (!json_object_is_type (disk, json_type_object)
        || !json_object_object_get_ex (disk, "chain_files", &arr)
        || !json_object_is_type (arr, json_type_array))
      continue;
    for (size_t k = 0; k < json_object_array_length (arr); k++) {
      json_object *c = json_object_array_get_idx (arr, k);
      const char *name, *type;
      if (json_object_is_type (c, json_type_object)
          && h2k_json_get_string (c, "name", &name)
          && h2k_json_get_string (c, "type", &type)
          && strcmp (name, dspath) == 0 && strcmp (type, "diskExtent") == 0)
        return true;
    }
  }
  return false;
}

/* The files of every disk of DISKS, base first, into FV (under VMDIR). */
static int
collect_files (json_object *disks, size_t ndisks, const char *vmdir,
               file_vector *fv)
{
  for (size_t d = 0; d < ndisks; d++) {
    json_object *disk = json_object_array_get_idx (disks, d);
    string_vector names = { 0 };
    int r = 0;
    if (!json_object_is_type (disk, json_type_object))
      r = h2k_seterr ("disk %zu: not an object", d);
    else if (disk_files (disk, &names) == -1)
      r = h2k_seterr_prefix ("disk %zu", d);
    for (size_t k = 0; r == 0 && k < names.len; k++)
      r = add_file (fv, vmdir, names.ptr[k]);
    string_vector_reset (&names);
    if (r == -1)
      return -1;
  }
  return 0;
}

/* --skip-zero: the data files vs-ls found in layoutEx (chain_files of type
 * diskExtent) wait for the second round, after the descriptors, which say
 * whether a file is a flat extent whose CBT areas apply.  Moves them to
 * the end of FV and returns how many files come before them. */
static ssize_t
defer_data_files (file_vector *fv, json_object *disks, size_t ndisks)
{
  file_vector later = { 0 };
  size_t w = 0;
  for (size_t i = 0; i < fv->len; i++) {
    if (!is_disk_extent (disks, ndisks, fv->ptr[i].dspath))
      fv->ptr[w++] = fv->ptr[i];
    else if (file_vector_append (&later, fv->ptr[i]) == -1) {
      /* Keep every file in FV so that it is freed. */
      for (size_t k = i; k < fv->len; k++)
        fv->ptr[w++] = fv->ptr[k];
      fv->len = w + later.len;
      memcpy (fv->ptr + w, later.ptr, later.len * sizeof *later.ptr);
      file_vector_reset (&later);
      return -1;
    }
  }
  memcpy (fv->ptr + w, later.ptr, later.len * sizeof *later.ptr);
  file_vector_reset (&later);
  return w;
}

/* Which disk each file from FROM on belongs to, for checksums from an
 * earlier pull: FILE_DISK (grown to FV's length) gets the disk or NULL. */
static int
files_to_disks (const file_vector *fv, size_t from, json_object *disks,
                size_t ndisks, json_object ***file_disk)
{
  json_object **grown = realloc (*file_disk,
                                 (fv->len ? fv->len : 1) * sizeof *grown);
  if (grown == NULL)
    return h2k_seterr ("out of memory");
  *file_disk = grown;
  for (size_t i = from; i < fv->len; i++) {
    grown[i] = NULL;
    for (size_t d = 0; d < ndisks; d++) {
      json_object *disk = json_object_array_get_idx (disks, d);
      if (record_sha256 (disk, fv->ptr[i].dspath))
        grown[i] = disk;
    }
  }
  return 0;
}

/* The extent files the descriptors among the first N files of FV name,
 * added to FV. */
static int
add_descriptor_extents (file_vector *fv, size_t n, const char *vmdir)
{
  for (size_t i = 0; i < n; i++) {
    if (descriptor_extents (&fv->ptr[i]) == -1)
      return -1;
    for (size_t k = 0; k < fv->ptr[i].extents.len; k++)
      if (add_file (fv, vmdir, fv->ptr[i].extents.ptr[k]) == -1)
        return -1;
  }
  return 0;
}

/* --skip-zero: the data file of a disk with CBT may be fetched in the
 * areas the server says are in use.  PLANS gets one plan per file of FV
 * (files before NCHAIN are descriptors and keep an empty plan). */
static int
plan_data_files (struct pull *p, json_object *rec, json_object *disks,
                 size_t ndisks, const file_vector *fv, size_t nchain,
                 struct zero_plan *plans)
{
  for (size_t d = 0; d < ndisks; d++) {
    json_object *disk = json_object_array_get_idx (disks, d);
    const char *file;
    if (!h2k_json_get_string (disk, "file", &file))
      continue;
    ssize_t leaf = find_file ((file_vector *) fv, file);
    if (leaf < 0 || fv->ptr[leaf].extents.len != 1)
      continue;
    ssize_t e = find_file ((file_vector *) fv, fv->ptr[leaf].extents.ptr[0]);
    if (e < (ssize_t) nchain || plans[e].cbt || plans[e].why)
      continue;
    if (cbt_plan (p, rec, disk, fv->ptr[leaf].one_flat,
                  fv->ptr[leaf].flat_bytes, &plans[e]) == -1)
      return -1;
  }
  return 0;
}

/* Add F to ARR (the disk's "local_files") unless SEEN has it already. */
static int
add_local_once (json_object *arr, string_vector *seen, struct vm_file *f,
                bool sha)
{
  for (size_t s = 0; s < seen->len; s++)
    if (seen->ptr[s] == f->dspath)
      return 0;
  if (string_vector_append (seen, f->dspath) == -1)
    return -1;
  return add_local_file (arr, f, sha);
}

/* DISK again, with its local files: "local" (the leaf) and "local_files"
 * (every file of its chain and the extents their descriptors name). */
static int
record_local_files (struct pull *p, json_object *disk, file_vector *fv)
{
  const char *file;
  h2k_json_get_string (disk, "file", &file);
  ssize_t leaf = find_file (fv, file);
  if (h2k_json_set_string (disk, "local", fv->ptr[leaf].local) == -1)
    return -1;
  json_object *arr = json_object_new_array ();
  if (arr == NULL || json_object_object_add (disk, "local_files", arr) != 0) {
    json_object_put (arr);
    return h2k_seterr ("out of memory");
  }
  string_vector mine = { 0 }, seen = { 0 };
  int r = disk_files (disk, &mine);
  for (size_t k = 0; r == 0 && k < mine.len; k++) {
    struct vm_file *f = &fv->ptr[find_file (fv, mine.ptr[k])];
    r = add_local_once (arr, &seen, f, p->sha256);
    for (size_t x = 0; r == 0 && x < f->extents.len; x++)
      r = add_local_once (arr, &seen, &fv->ptr[find_file (fv, f->extents.ptr[x])],
                          p->sha256);
  }
  string_vector_reset (&mine);
  string_vector_reset (&seen);
  return r;
}

/* One VM record: its chain files first (descriptors and sparse files),
 * then the extent files the descriptors name (with --skip-zero, in the
 * areas CBT says are in use), then the record with the local paths. */
static int
pull_vm (struct pull *p, json_object *rec, const char *vmdir,
         const char *where)
{
  const char *name, *dc = NULL;
  if (!h2k_json_get_string (rec, "name", &name))
    return h2k_seterr ("%s: VM record without a \"name\"", where);
  if (!h2k_json_get_string (rec, "dc_path", &dc))
    h2k_json_get_string (rec, "datacenter", &dc);

  json_object *disks = NULL;
  if (json_object_object_get_ex (rec, "disks", &disks)
      && !json_object_is_type (disks, json_type_array))
    return h2k_seterr ("%s: VM %s: \"disks\" is not an array", where, name);
  size_t ndisks = disks ? json_object_array_length (disks) : 0;
  if (ndisks == 0)
    return 0;

  file_vector fv = { 0 };
  json_object **file_disk = NULL;
  struct zero_plan *plans = NULL;
  size_t nplans = 0;
  int ret = -1;

  /* A bad record is the record's fault: say where it is. */
  if (collect_files (disks, ndisks, vmdir, &fv) == -1) {
    h2k_seterr_prefix ("%s: VM %s", where, name);
    files_free (&fv);
    return -1;
  }
  ssize_t nchain = p->skip_zero ? defer_data_files (&fv, disks, ndisks)
    : (ssize_t) fv.len;
  if (nchain == -1 || files_to_disks (&fv, 0, disks, ndisks, &file_disk) == -1
      || pull_some_n (p, &fv, 0, nchain, dc, file_disk, NULL) == -1
      || add_descriptor_extents (&fv, nchain, vmdir) == -1
      || files_to_disks (&fv, nchain, disks, ndisks, &file_disk) == -1)
    goto out;
  if (p->skip_zero && fv.len > (size_t) nchain) {
    nplans = fv.len;
    plans = calloc (nplans, sizeof *plans);
    if (plans == NULL) {
      h2k_seterr ("out of memory");
      goto out;
    }
    if (plan_data_files (p, rec, disks, ndisks, &fv, nchain, plans) == -1)
      goto out;
  }
  if (pull_some_n (p, &fv, nchain, fv.len - nchain, dc, file_disk, plans) == -1)
    goto out;
  for (size_t d = 0; d < ndisks; d++)
    if (record_local_files (p, json_object_array_get_idx (disks, d), &fv) == -1)
      goto out;
  ret = 0;
 out:
  if (ret == -1)
    h2k_seterr_prefix ("VM %s", name);
  free (file_disk);
  for (size_t i = 0; i < nplans; i++)
    zero_plan_free (&plans[i]);
  free (plans);
  files_free (&fv);
  return ret;
}

static int
pull_extents (struct pull *p, json_vector *recs)
{
  struct h2k_http_job job;
  h2k_http_segs zeros = { 0 };
  const char *file0 = NULL;
  int ret = -1;
  bool have = false;

  for (size_t i = 0; i < recs->len; i++) {
    json_object *rec = recs->ptr[i];
    const char *file, *dc = NULL;
    int64_t off, len;
    if (!h2k_json_get_string (rec, "file", &file)
        || !h2k_json_get_int64 (rec, "offset", &off)
        || !h2k_json_get_int64 (rec, "length", &len) || off < 0 || len < 0) {
      h2k_seterr ("<stdin>: extent record %zu: needs \"file\" and non-negative "
                  "\"offset\" and \"length\"", i + 1);
      goto out;
    }
    h2k_json_get_string (rec, "dc_path", &dc);
    if (file0 == NULL) {
      file0 = file;
      CLEANUP_FREE char *url = source_url (p, file, dc);
      CLEANUP_FREE char *name = display_name (file);
      if (url == NULL || name == NULL || h2k_http_job_init (&job, url, name) == -1)
        goto out;
      have = true;
      if (h2k_http_head (p->http, &job) == -1)
        goto out;
    }
    else if (strcmp (file, file0) != 0) {
      h2k_seterr ("<stdin>: extent records name two files (%s and %s): "
                  "--patch takes the extents of one disk (select them with jq)",
                  file0, file);
      goto out;
    }
    /* vmdk-flatten --map says where the disk reads as zeros: those bytes
     * are not fetched, the target is zeroed there. */
    bool data = true, zero = false;
    h2k_json_get_bool (rec, "data", &data);
    h2k_json_get_bool (rec, "zero", &zero);
    if (!data || zero) {
      if (len > 0 && h2k_http_segs_append (&zeros, (struct h2k_http_seg)
                                           { off, len, off }) == -1)
        goto out;
      continue;
    }
    if (h2k_http_job_add (&job, off, len, off) == -1)
      goto out;
  }
  if (!have)
    return 0;     /* no extents: nothing changed */
  ret = patch_target (p, &job, p->patch, &zeros);
 out:
  if (have)
    h2k_http_job_free (&job);
  h2k_http_segs_reset (&zeros);
  return ret;
}

/* The identity of a VM record: its moref when it has one (two VMs may
 * share a name, in two folders or datacenters), its name otherwise. */
static const char *
vm_identity (json_object *rec)
{
  const char *id = NULL;
  if (!h2k_json_get_string (rec, "moref", &id))
    h2k_json_get_string (rec, "name", &id);
  return id ? id : "";
}

/* Each VM record's directory under --dir, decided before anything is
 * fetched.  Names that differ can be made safe alike ("a/b" and "a_b"),
 * and vCenter lets two VMs share a name: the first VM of the stream gets
 * the plain safe name, a later different VM whose safe name is taken gets
 * its moref (or its record number) added, so that two VMs never write
 * into one directory.  The same record stream gives the same directories
 * on every run, which is what a rerun after a failure relies on; records
 * of one VM given twice share one directory. */
static int
vm_dirs (struct pull *p, const json_vector *recs, string_vector *dirs)
{
  string_vector owners = { 0 };         /* identity of each dirs entry */
  int ret = -1;
  for (size_t i = 0; i < recs->len; i++) {
    const char *name = NULL, *moref = NULL;
    h2k_json_get_string (recs->ptr[i], "name", &name);
    h2k_json_get_string (recs->ptr[i], "moref", &moref);
    const char *id = vm_identity (recs->ptr[i]);
    CLEANUP_FREE char *safe = sanitize_name (name ? name : "");
    CLEANUP_FREE char *tag = moref ? sanitize_name (moref) : NULL;
    char *dir = NULL;
    /* Try the plain name, then the name with the tag, then with a
     * number after the tag, until no other VM holds it. */
    for (unsigned try = 0; ; try++) {
      CLEANUP_FREE char *suffix = NULL;
      int n = try == 0 ? asprintf (&suffix, "%s", "")
        : tag && try == 1 ? asprintf (&suffix, "-%s", tag)
        : tag ? asprintf (&suffix, "-%s-%u", tag, try)
        : try == 1 ? asprintf (&suffix, "-%zu", i + 1)
        : asprintf (&suffix, "-%zu-%u", i + 1, try);
      if (n != -1)
        n = asprintf (&dir, "%s/%s%s", p->dir, safe ? safe : "", suffix);
      if (safe == NULL || n == -1) {
        h2k_seterr ("out of memory");
        goto out;
      }
      size_t j;
      for (j = 0; j < dirs->len; j++)
        if (strcmp (dirs->ptr[j], dir) == 0)
          break;
      if (j == dirs->len || strcmp (owners.ptr[j], id) == 0)
        break;                    /* free, or this same VM's */
      free (dir);
      dir = NULL;
    }
    if (strcmp (dir + strlen (p->dir) + 1, safe) != 0)
      h2k_warn ("<stdin>: record %zu: VM %s: another VM of the stream has "
                "the directory %s/%s; this one goes to %s", i + 1,
                name ? name : "", p->dir, safe, dir);
    if (string_vector_append (dirs, dir) == -1) {
      free (dir);
      h2k_seterr ("out of memory");
      goto out;
    }
    if (string_vector_append (&owners, (char *) id) == -1) {
      h2k_seterr ("out of memory");
      goto out;
    }
  }
  ret = 0;
 out:
  string_vector_reset (&owners);
  return ret;
}

int
pull_records (struct pull *p, FILE *in)
{
  struct h2k_jsonl_reader rd;
  json_vector recs = { 0 };
  string_vector dirs = { 0 };
  json_object *o;
  int r, ret = -1;
  size_t nvm = 0, next = 0;

  h2k_jsonl_reader_init (&rd, in, "<stdin>");
  while ((r = h2k_jsonl_read (&rd, &o)) == 1) {
    const char *kind;
    if (!h2k_json_get_string (o, "kind", &kind)
        || (strcmp (kind, "vm") && strcmp (kind, "extent"))) {
      json_object_put (o);
      h2k_seterr ("<stdin>: line %lu: not a VM or extent record (\"kind\" "
                  "must be \"vm\" or \"extent\")", rd.lineno);
      goto out;
    }
    if (strcmp (kind, "vm") == 0)
      nvm++;
    else
      next++;
    if (json_vector_append (&recs, o) == -1) {
      json_object_put (o);
      goto out;
    }
  }
  if (r == -1)
    goto out;
  if (nvm && next) {
    h2k_seterr ("<stdin>: VM records and extent records cannot be mixed");
    goto out;
  }
  if (next && !p->patch) {
    h2k_seterr ("<stdin>: extent records need --patch TARGET");
    goto out;
  }
  if (nvm && !p->dir) {
    h2k_seterr ("<stdin>: VM records need --dir DIR");
    goto out;
  }
  if (next) {
    ret = pull_extents (p, &recs);
    goto out;
  }
  if (vm_dirs (p, &recs, &dirs) == -1)
    goto out;
  for (size_t i = 0; i < recs.len; i++) {
    char where[64];
    snprintf (where, sizeof where, "<stdin>: record %zu", i + 1);
    if (pull_vm (p, recs.ptr[i], dirs.ptr[i], where) == -1)
      goto out;
    /* Print as each VM is done, so the next step can start on it. */
    if (h2k_jsonl_write (stdout, recs.ptr[i]) == -1 || fflush (stdout) == EOF) {
      h2k_seterr ("stdout: %m");
      goto out;
    }
  }
  ret = 0;
 out:
  for (size_t i = 0; i < recs.len; i++)
    json_object_put (recs.ptr[i]);
  json_vector_reset (&recs);
  for (size_t i = 0; i < dirs.len; i++)
    free (dirs.ptr[i]);
  string_vector_reset (&dirs);
  h2k_jsonl_reader_free (&rd);
  return ret;
}
