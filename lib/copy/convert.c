/* The pump and the outputs (see convert.h). */
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "util/die.h"

#define MAX_OUTPUTS 64
#define ZEROS_LEN (1u << 20)

/* Hash LEN zero bytes. */
static int
hash_zeros (EVP_MD_CTX *md, uint64_t len)
{
  static const unsigned char zeros[ZEROS_LEN];
  while (len > 0) {
    size_t n = len < ZEROS_LEN ? len : ZEROS_LEN;
    if (EVP_DigestUpdate (md, zeros, n) != 1)
      return h2k_seterr ("sha256 failed");
    len -= n;
  }
  return 0;
}

int
convert (struct source *src, struct output *out, unsigned char *sha256,
         tick_fn tick, void *tick_arg)
{
  EVP_MD_CTX *md = NULL;
  struct chunk c;
  uint64_t pos = 0;
  int r, ret = -1;

  if (sha256) {
    md = EVP_MD_CTX_new ();
    if (md == NULL || EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1) {
      h2k_seterr ("sha256: cannot initialise");
      goto done;
    }
  }
  while ((r = src->ops->next (src, &c)) > 0) {
    if (c.offset < pos || (src->size != SOURCE_SIZE_UNKNOWN
                           && c.length > src->size - c.offset)) {
      h2k_seterr ("%s: internal error: chunk out of order or out of range",
                  src->name);
      goto done;
    }
    if (c.data == NULL)
      continue;
    if (md && (hash_zeros (md, c.offset - pos) == -1
               || EVP_DigestUpdate (md, c.data, c.length) != 1))
      goto done;
    if (out->sink->ops->write (out->sink, c.offset, c.data, c.length) == -1)
      goto done;
    out->data_bytes += c.length;
    pos = c.offset + c.length;
    if (tick)
      tick (tick_arg, pos);
  }
  if (r < 0)
    goto done;
  if (md) {
    unsigned len;
    if (hash_zeros (md, src->size - pos) == -1
        || EVP_DigestFinal_ex (md, sha256, &len) != 1) {
      h2k_seterr ("sha256 failed");
      goto done;
    }
  }
  if (out->sink->ops->finish (out->sink, src->size) == -1)
    goto done;
  ret = 0;
 done:
  EVP_MD_CTX_free (md);
  return ret;
}

/* The .part files open now, so that an interrupt removes them too.  Only
 * async-signal-safe calls in the handler: unlink and _exit. */
static char *parts[MAX_OUTPUTS];

static void
on_signal (int sig)
{
  for (int i = 0; i < MAX_OUTPUTS; i++)
    if (parts[i])
      unlink (parts[i]);
  _exit (128 + sig);
}

void
output_register_signals (void)
{
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
}

static void
parts_set (const char *part, bool add)
{
  sigset_t all, old;
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &old);
  for (int i = 0; i < MAX_OUTPUTS; i++) {
    if (add && parts[i] == NULL) {
      parts[i] = (char *) part;
      break;
    }
    if (!add && parts[i] == part) {
      parts[i] = NULL;
      break;
    }
  }
  sigprocmask (SIG_SETMASK, &old, NULL);
}

int
output_open (struct output *o, const char *path,
             const struct out_options *opt, uint64_t size_hint)
{
  struct stat st;

  memset (o, 0, sizeof *o);
  /* qcow2 needs to seek.  Checked before opening: opening a FIFO for
   * writing waits for a reader. */
  if (!opt->raw && (strcmp (path, "-") == 0
                    || (stat (path, &st) == 0 && S_ISFIFO (st.st_mode))))
    return h2k_seterr ("%s: qcow2 needs a seekable file: use -O raw, or name a regular file", path);
  o->path = strdup (path);
  if (o->path == NULL)
    return h2k_seterr ("out of memory");
  /* Devices are written in place and FIFOs as streams (outfile.h): never
   * renamed over. */
  if (h2k_outfile_open (&o->of, path) == -1) {
    free (o->path);
    return -1;
  }
  o->open = true;
  if (!opt->raw && o->of.is_stdout) {
    output_abort (o);
    return h2k_seterr ("%s: qcow2 needs a seekable file: use -O raw, or name a regular file", path);
  }
  if (o->of.part)
    parts_set (o->of.part, true);
  if (opt->raw)
    o->sink = raw_sink_new (o->of.fd, path, !o->of.is_stdout,
                            !o->of.is_stdout && !o->of.is_blockdev);
  else
    o->sink = qcow2_sink_new (o->of.fd, path, &opt->qcow2, size_hint);
  if (o->sink == NULL) {
    output_abort (o);
    return -1;
  }
  return 0;
}

int
output_commit (struct output *o)
{
  if (o->of.part)
    parts_set (o->of.part, false);
  int r = h2k_outfile_commit (&o->of);
  o->open = false;
  o->sink->ops->free (o->sink);
  o->sink = NULL;
  free (o->path);
  o->path = NULL;
  return r;
}

void
output_abort (struct output *o)
{
  if (!o->open)
    return;
  if (o->of.part)
    parts_set (o->of.part, false);
  h2k_outfile_abort (&o->of);
  o->open = false;
  if (o->sink)
    o->sink->ops->free (o->sink);
  o->sink = NULL;
  free (o->path);
  o->path = NULL;
}
