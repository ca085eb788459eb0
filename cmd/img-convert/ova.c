/* OVA input (see ova.h). */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "util/cleanup.h"
#include "util/die.h"
#include "manifest.h"
#include "ova.h"
#include "ovf/ovf.h"
#include "util/progress.h"

/* The descriptor and the manifest are read into memory: bound them. */
#define MAX_TEXT_MEMBER (16u << 20)
#define ARCHIVE_BLOCK (1u << 20)

/* One member seen in the archive, with its digests. */
struct member {
  char *name;
  bool have[2];
  unsigned char digest[2][32];
};
DEFINE_VECTOR_TYPE (member_vector, struct member);

struct job {
  struct h2k_ovf_disk *disk;
  char *outpath;
  struct output out;
  bool converted;
  unsigned char sha[32];
};
DEFINE_VECTOR_TYPE (job_vector, struct job);

struct ova {
  const struct ova_options *opt;
  const char *name;             /* the OVA, for messages */
  const char *output;
  struct archive *a;
  struct bstream *in;           /* stream input, or NULL */
  h2k_ovf_disk_vector disks;
  bool have_ovf;
  mf_vector mf;
  bool have_mf;
  char *mf_name;
  member_vector members;
  job_vector jobs;
  struct h2k_progress prog;
};

/* A member's bytes as a stream, hashed on the way. */
struct mstream {
  struct bstream bs;
  struct ova *o;
  EVP_MD_CTX *md[2];            /* SHA1, SHA256 (NULL if not wanted) */
  uint64_t total;
  const char *member;           /* the member name */
  char *label;                  /* "OVA: member", for messages */
};

static ssize_t
member_read (struct bstream *bs, void *buf, size_t count)
{
  struct mstream *m = (struct mstream *) bs;
  size_t done = 0;
  while (done < count) {
    la_ssize_t r = archive_read_data (m->o->a, (char *) buf + done, count - done);
    if (r < 0)
      return h2k_seterr ("%s: %s", bs->name, archive_error_string (m->o->a));
    if (r == 0)
      break;
    for (int i = 0; i < 2; i++)
      if (m->md[i] && EVP_DigestUpdate (m->md[i], (char *) buf + done, r) != 1)
        return h2k_seterr ("%s: hashing failed", bs->name);
    done += r;
  }
  m->total += done;
  h2k_progress_update (&m->o->prog, archive_filter_bytes (m->o->a, -1));
  return done;
}

/* The digests the manifest will want for NAME: both while the manifest
 * is not known yet, otherwise only the one it lists (or none). */
static void
wanted_algs (struct ova *o, const char *name, bool want[2])
{
  want[0] = want[1] = !o->have_mf;
  if (!o->have_mf)
    return;
  for (size_t i = 0; i < o->mf.len; i++)
    if (strcmp (o->mf.ptr[i].name, name) == 0)
      want[o->mf.ptr[i].alg] = true;
}

static int
mstream_open (struct mstream *m, struct ova *o, const char *name)
{
  bool want[2];
  memset (m, 0, sizeof *m);
  m->bs.read = member_read;
  m->member = name;
  m->o = o;
  if (asprintf (&m->label, "%s: %s", o->name, name) == -1) {
    m->label = NULL;
    return h2k_seterr ("out of memory");
  }
  m->bs.name = m->label;
  wanted_algs (o, name, want);
  for (int i = 0; i < 2; i++)
    if (want[i]) {
      m->md[i] = EVP_MD_CTX_new ();
      if (m->md[i] == NULL
          || EVP_DigestInit_ex (m->md[i], i ? EVP_sha256 () : EVP_sha1 (), NULL) != 1)
        return h2k_seterr ("cannot initialise hashing");
    }
  return 0;
}

static void
mstream_free (struct mstream *m)
{
  for (int i = 0; i < 2; i++)
    EVP_MD_CTX_free (m->md[i]);
  bstream_free_pushback (&m->bs);
  free (m->label);
}

/* Read the rest of the member (hashing it) and record its digests. */
static int
mstream_finish (struct mstream *m)
{
  char buf[65536];
  ssize_t r;
  while ((r = bstream_read (&m->bs, buf, sizeof buf)) > 0)
    ;
  if (r < 0)
    return -1;
  struct member mem = { .name = strdup (m->member) };
  if (mem.name == NULL)
    return h2k_seterr ("out of memory");
  for (int i = 0; i < 2; i++)
    if (m->md[i]) {
      unsigned len;
      if (EVP_DigestFinal_ex (m->md[i], mem.digest[i], &len) != 1) {
        free (mem.name);
        return h2k_seterr ("%s: hashing failed", m->bs.name);
      }
      mem.have[i] = true;
    }
  if (member_vector_append (&m->o->members, mem) == -1) {
    free (mem.name);
    return -1;
  }
  return 0;
}

/* A gunzipping stream over a member (ovf:compression="gzip"). */
struct gzstream {
  struct bstream bs;
  struct bstream *under;
  z_stream zs;
  unsigned char in[65536];
  bool end;
};

static ssize_t
gz_read (struct bstream *bs, void *buf, size_t count)
{
  struct gzstream *g = (struct gzstream *) bs;
  g->zs.next_out = buf;
  g->zs.avail_out = count;
  while (g->zs.avail_out > 0 && !g->end) {
    if (g->zs.avail_in == 0) {
      ssize_t n = bstream_read (g->under, g->in, sizeof g->in);
      if (n < 0)
        return -1;
      if (n == 0)
        return h2k_seterr ("%s: truncated gzip data", bs->name);
      g->zs.next_in = g->in;
      g->zs.avail_in = n;
    }
    int r = inflate (&g->zs, Z_NO_FLUSH);
    if (r == Z_STREAM_END)
      g->end = true;
    else if (r != Z_OK && r != Z_BUF_ERROR)
      return h2k_seterr ("%s: corrupt gzip data (%s)", bs->name,
                         g->zs.msg ? g->zs.msg : "zlib error");
  }
  return count - g->zs.avail_out;
}

static const char *
output_ext (const struct ova *o)
{
  return o->opt->out->raw ? ".raw" : ".qcow2";
}

static bool
is_dir (const char *p)
{
  struct stat st;
  return stat (p, &st) == 0 && S_ISDIR (st.st_mode);
}

/* OUTPUT/<href without extension, unsafe characters replaced>.qcow2 */
static char *
output_in_dir (struct ova *o, const char *href)
{
  char *base = strdup (href), *r;
  if (base == NULL)
    return NULL;
  char *dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  for (char *p = base; *p; p++)
    if (!(isalnum ((unsigned char) *p) || *p == '-' || *p == '_' || *p == '.'))
      *p = '_';
  if (base[0] == '.')
    base[0] = '_';
  if (asprintf (&r, "%s/%s%s", o->output, base, output_ext (o)) == -1)
    r = NULL;
  free (base);
  return r;
}

/* After the descriptor: decide which disks to convert and where. */
static int
plan_jobs (struct ova *o)
{
  size_t n = o->disks.len;
  if (n == 0)
    return h2k_seterr ("%s: the OVF lists no disks", o->name);
  if (o->opt->disk > n)
    return h2k_seterr ("%s: --disk %u: the OVF lists %zu disk%s", o->name,
                       o->opt->disk, n, n == 1 ? "" : "s");
  if (!o->opt->all && !o->opt->disk && n > 1)
    return h2k_seterr ("%s: the OVF lists %zu disks: choose one with --disk N, or convert them all with --all into a directory",
                       o->name, n);
  if (o->opt->all) {
    if (!is_dir (o->output) && mkdir (o->output, 0755) == -1)
      return h2k_seterr ("%s: %m", o->output);
  }
  for (size_t i = 0; i < n; i++) {
    if (!o->opt->all && !(o->opt->disk ? o->opt->disk - 1 == i : true))
      continue;
    struct job j = { .disk = &o->disks.ptr[i] };
    if (j.disk->chunked)
      return h2k_seterr ("%s: %s: disks split into chunks (ovf:chunkSize) are not supported",
                         o->name, j.disk->href);
    if (j.disk->compression && strcmp (j.disk->compression, "identity") != 0
        && strcmp (j.disk->compression, "gzip") != 0)
      return h2k_seterr ("%s: %s: unknown ovf:compression '%s'", o->name,
                         j.disk->href, j.disk->compression);
    for (size_t k = 0; k < o->jobs.len; k++)
      if (strcmp (o->jobs.ptr[k].disk->href, j.disk->href) == 0)
        return h2k_seterr ("%s: the OVF lists the file %s for two disks",
                           o->name, j.disk->href);
    j.outpath = o->opt->all || is_dir (o->output)
      ? output_in_dir (o, j.disk->href) : strdup (o->output);
    if (j.outpath == NULL)
      return h2k_seterr ("out of memory");
    for (size_t k = 0; k < o->jobs.len; k++)
      if (strcmp (o->jobs.ptr[k].outpath, j.outpath) == 0) {
        h2k_seterr ("%s: two disks would be written to %s", o->name, j.outpath);
        free (j.outpath);
        return -1;
      }
    if (job_vector_append (&o->jobs, j) == -1) {
      free (j.outpath);
      return -1;
    }
  }
  return 0;
}

/* Read a small member whole (the descriptor, the manifest). */
static int
read_text (struct mstream *m, char **out, size_t *len)
{
  size_t cap = 65536, n = 0;
  char *buf = malloc (cap + 1);
  if (buf == NULL)
    return h2k_seterr ("out of memory");
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_TEXT_MEMBER) {
        free (buf);
        return h2k_seterr ("%s: larger than %u MiB", m->bs.name,
                           MAX_TEXT_MEMBER >> 20);
      }
      cap *= 2;
      char *p = realloc (buf, cap + 1);
      if (p == NULL) {
        free (buf);
        return h2k_seterr ("out of memory");
      }
      buf = p;
    }
    ssize_t r = bstream_read (&m->bs, buf + n, cap - n);
    if (r < 0) {
      free (buf);
      return -1;
    }
    if (r == 0)
      break;
    n += r;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static bool
has_suffix (const char *s, const char *suf)
{
  size_t a = strlen (s), b = strlen (suf);
  return a >= b && strcasecmp (s + a - b, suf) == 0;
}

static void
tick_none (void *arg, uint64_t pos)
{
}

static int
convert_member (struct ova *o, struct job *j, struct mstream *m)
{
  struct gzstream gz;
  struct bstream *bs = &m->bs;
  int ret = -1;

  if (j->converted)
    return h2k_seterr ("%s: the member %s appears twice", o->name, m->member);
  if (j->disk->compression && strcmp (j->disk->compression, "gzip") == 0) {
    memset (&gz, 0, sizeof gz);
    gz.bs.read = gz_read;
    gz.bs.name = m->bs.name;
    gz.under = &m->bs;
    if (inflateInit2 (&gz.zs, 15 + 16) != Z_OK)
      return h2k_seterr ("cannot set up zlib");
    bs = &gz.bs;
  }
  struct source *src = source_vmdk_stream_open (bs, m->bs.name);
  if (src == NULL)
    goto out;
  if (output_open (&j->out, j->outpath, o->opt->out, src->size) == -1)
    goto out;
  if (convert (src, &j->out, o->opt->sha256 ? j->sha : NULL, tick_none, NULL) == -1)
    goto out;
  j->converted = true;
  ret = 0;
 out:
  source_close (src);
  if (bs == &gz.bs) {
    inflateEnd (&gz.zs);
    bstream_free_pushback (&gz.bs);
  }
  return ret;
}

static int
handle_entry (struct ova *o, struct archive_entry *e)
{
  const char *raw = archive_entry_pathname (e);
  if (raw == NULL)
    return 0;
  while (raw[0] == '.' && raw[1] == '/')
    raw += 2;
  if (archive_entry_filetype (e) != AE_IFREG)
    return 0;   /* directories, links: never disk data */
  if (!h2k_ovf_name_is_plain (raw)) {
    /* Never used as a path; but it cannot be a disk either. */
    h2k_warn ("%s: ignoring the member '%s': not a plain file name",
              o->name, raw);
    return 0;
  }

  struct mstream m;
  CLEANUP_FREE char *name = strdup (raw);
  if (name == NULL)
    return h2k_seterr ("out of memory");
  if (mstream_open (&m, o, name) == -1) {
    mstream_free (&m);
    return -1;
  }
  int r = -1;

  if (!o->have_ovf) {
    /* VMware's tools insist on the descriptor first, and so do we: the
     * disks that follow can then be converted as they stream by. */
    if (!has_suffix (name, ".ovf")) {
      h2k_seterr ("%s: the first member is %s, not the OVF descriptor (.ovf)",
                  o->name, name);
      goto out;
    }
    char *xml;
    size_t len;
    if (read_text (&m, &xml, &len) == -1)
      goto out;
    struct h2k_ovf ovf;
    int pr = h2k_ovf_parse (xml, len, m.label, &ovf);
    free (xml);
    if (pr == 0) {
      pr = h2k_ovf_disks (&ovf, &o->disks);
      h2k_ovf_free (&ovf);
    }
    if (pr == -1)
      goto out;
    o->have_ovf = true;
    if (plan_jobs (o) == -1)
      goto out;
  }
  else if (has_suffix (name, ".mf")) {
    if (o->have_mf) {
      h2k_seterr ("%s: two manifests (%s and %s)", o->name, o->mf_name, name);
      goto out;
    }
    char *text;
    size_t len;
    if (read_text (&m, &text, &len) == -1)
      goto out;
    int pr = manifest_parse (text, len, m.label, &o->mf);
    free (text);
    if (pr == -1)
      goto out;
    o->have_mf = true;
    o->mf_name = strdup (name);
  }
  else {
    for (size_t i = 0; i < o->jobs.len; i++)
      if (strcmp (o->jobs.ptr[i].disk->href, name) == 0) {
        if (convert_member (o, &o->jobs.ptr[i], &m) == -1)
          goto out;
        break;
      }
  }
  for (size_t i = 0; i < o->members.len; i++)
    if (strcmp (o->members.ptr[i].name, name) == 0) {
      h2k_seterr ("%s: the member %s appears twice", o->name, name);
      goto out;
    }
  r = mstream_finish (&m);
 out:
  mstream_free (&m);
  return r;
}

static void
hex (const unsigned char *d, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++)
    sprintf (out + 2 * i, "%02x", d[i]);
}

/* Everything has streamed by: check the manifest and the disks. */
static int
verify (struct ova *o)
{
  if (!o->have_ovf)
    return h2k_seterr ("%s: no OVF descriptor in the archive (is it an OVA?)",
                       o->name);
  for (size_t i = 0; i < o->mf.len; i++) {
    struct mf_entry *e = &o->mf.ptr[i];
    struct member *mem = NULL;
    for (size_t k = 0; k < o->members.len; k++)
      if (strcmp (o->members.ptr[k].name, e->name) == 0)
        mem = &o->members.ptr[k];
    if (mem == NULL)
      return h2k_seterr ("%s: the manifest lists %s, which is not in the archive",
                         o->name, e->name);
    if (!mem->have[e->alg])
      return h2k_seterr ("%s: internal error: no %s digest for %s", o->name,
                         mf_alg_name (e->alg), e->name);
    size_t dl = e->alg == MF_SHA1 ? 20 : 32;
    if (memcmp (mem->digest[e->alg], e->digest, dl) != 0) {
      char want[65], got[65];
      hex (e->digest, dl, want);
      hex (mem->digest[e->alg], dl, got);
      return h2k_seterr ("%s: %s: %s checksum mismatch: the manifest says %s, the member has %s",
                         o->name, e->name, mf_alg_name (e->alg), want, got);
    }
  }
  for (size_t i = 0; i < o->jobs.len; i++)
    if (!o->jobs.ptr[i].converted)
      return h2k_seterr ("%s: the disk member %s (named by the OVF) is missing from the archive",
                         o->name, o->jobs.ptr[i].disk->href);
  return 0;
}

static la_ssize_t
ar_read (struct archive *a, void *arg, const void **buf)
{
  static _Thread_local unsigned char block[65536];
  struct bstream *bs = arg;
  ssize_t n = bstream_read (bs, block, sizeof block);
  if (n < 0) {
    archive_set_error (a, EIO, "%s", h2k_errmsg ());
    return -1;
  }
  *buf = block;
  return n;
}

static int
run (struct ova *o)
{
  struct archive_entry *e;
  int r;

  while ((r = archive_read_next_header (o->a, &e)) == ARCHIVE_OK
         || r == ARCHIVE_WARN) {
    if (handle_entry (o, e) == -1)
      return -1;
  }
  if (r != ARCHIVE_EOF)
    return h2k_seterr ("%s: %s", o->name, archive_error_string (o->a));
  return verify (o);
}

static int
ova_convert (struct ova *o, const char *path, struct bstream *in,
             uint64_t total)
{
  int ret = -1;

  if (h2k_progress_init (&o->prog, o->opt->progress, o->name, total) == -1)
    return -1;
  o->a = archive_read_new ();
  if (o->a == NULL)
    return h2k_seterr ("out of memory");
  archive_read_support_format_tar (o->a);
  archive_read_support_filter_all (o->a);
  int r = path ? archive_read_open_filename (o->a, path, ARCHIVE_BLOCK)
    : archive_read_open (o->a, in, NULL, ar_read, NULL);
  if (r != ARCHIVE_OK) {
    h2k_seterr ("%s: %s", o->name, archive_error_string (o->a));
    goto out;
  }
  if (run (o) == -1)
    goto out;
  for (size_t i = 0; i < o->jobs.len; i++)
    if (output_commit (&o->jobs.ptr[i].out) == -1)
      goto out;
  h2k_progress_finish (&o->prog);
  if (o->opt->sha256)
    for (size_t i = 0; i < o->jobs.len; i++) {
      char h[65];
      hex (o->jobs.ptr[i].sha, 32, h);
      /* On stderr when the disk itself went to stdout. */
      fprintf (strcmp (o->jobs.ptr[i].outpath, "-") == 0 ? stderr : stdout,
               "%s  %s\n", h, o->jobs.ptr[i].outpath);
    }
  ret = 0;
 out:
  for (size_t i = 0; i < o->jobs.len; i++) {
    output_abort (&o->jobs.ptr[i].out);
    free (o->jobs.ptr[i].outpath);
  }
  job_vector_reset (&o->jobs);
  for (size_t i = 0; i < o->members.len; i++)
    free (o->members.ptr[i].name);
  member_vector_reset (&o->members);
  manifest_free (&o->mf);
  free (o->mf_name);
  h2k_ovf_disks_free (&o->disks);
  archive_read_free (o->a);
  return ret;
}

int
ova_convert_file (const char *path, const char *output,
                  const struct ova_options *opt)
{
  struct ova o = { .opt = opt, .name = path, .output = output };
  struct stat st;
  if (stat (path, &st) == -1)
    return h2k_seterr ("%s: %m", path);
  return ova_convert (&o, path, NULL, st.st_size);
}

int
ova_convert_stream (struct bstream *bs, const char *output,
                    const struct ova_options *opt)
{
  struct ova o = { .opt = opt, .name = bs->name, .output = output };
  return ova_convert (&o, NULL, bs, 0);
}
