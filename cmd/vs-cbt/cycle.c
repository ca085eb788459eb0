/* vs-cbt --snapshot: freeze the VM, read each disk's new changeId from the
 * snapshot, ask what changed since the last one, print extent records.
 *
 * Everything that can be checked before the snapshot is checked before
 * it, so that a refusal leaves nothing behind.  Once the snapshot exists,
 * any failure (or SIGINT, SIGTERM, SIGHUP) removes it before exiting; a
 * kill -9 cannot be caught, which is why the snapshot carries h2k's mark
 * in its name and description from the moment it is created, for
 * --list-stale and --cleanup to find.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vs-cbt.h"

static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  interrupted = sig;
}

static void
catch_signals (void)
{
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
}

static int
check_interrupted (void)
{
  if (interrupted)
    return h2k_seterr ("interrupted by signal %d", (int) interrupted);
  return 0;
}

/* The changeId a disk's next query starts from. */
struct since {
  int64_t key;                  /* -1: every disk */
  char *change_id;
};
DEFINE_VECTOR_TYPE (since_vector, struct since);

static void
since_free (since_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    free (v->ptr[i].change_id);
  since_vector_reset (v);
}

/* --since FILE: JSON lines carrying "disk" and "change_id" (the records of
 * the previous cycle, or h2k-sync's state); a later line for the same
 * disk wins (they all carry the same one anyway). */
static int
read_since_file (const char *path, since_vector *out)
{
  FILE *fp = fopen (path, "r");
  if (!fp)
    return h2k_seterr ("--since %s: %m", path);
  struct h2k_jsonl_reader rd;
  json_object *o;
  int r;
  h2k_jsonl_reader_init (&rd, fp, path);
  while ((r = h2k_jsonl_read (&rd, &o)) == 1) {
    int64_t key;
    const char *id;
    if (!h2k_json_get_int64 (o, "disk", &key)
        || !h2k_json_get_string (o, "change_id", &id) || !*id) {
      json_object_put (o);
      continue;               /* not about a disk's changeId */
    }
    bool set = false;
    for (size_t i = 0; i < out->len; i++)
      if (out->ptr[i].key == key) {
        free (out->ptr[i].change_id);
        out->ptr[i].change_id = strdup (id);
        set = true;
      }
    if (!set && since_vector_append (out, (struct since) { key, strdup (id) }) == -1)
      r = -1;
    json_object_put (o);
    if (r == -1)
      break;
  }
  h2k_jsonl_reader_free (&rd);
  fclose (fp);
  if (r == -1)
    return h2k_seterr_prefix ("--since");
  if (out->len == 0)
    return h2k_seterr ("--since %s: no record in it has a \"disk\" and a "
                       "\"change_id\"", path);
  return 0;
}

static const char *
since_for (const since_vector *v, int64_t key)
{
  for (size_t i = 0; i < v->len; i++)
    if (v->ptr[i].key == key || v->ptr[i].key == -1)
      return v->ptr[i].change_id;
  return NULL;
}

/* The part of a changeId before its last '/': the tracking epoch of one
 * disk ("52 1f ... e2 01").  Two changeIds are comparable only when it is
 * the same. */
static size_t
epoch_len (const char *id)
{
  const char *slash = strrchr (id, '/');
  return slash ? (size_t) (slash - id) : strlen (id);
}

static bool
same_epoch (const char *a, const char *b)
{
  size_t n = epoch_len (a);
  return n == epoch_len (b) && strncmp (a, b, n) == 0;
}

static bool
disk_selected (const struct cbt_opts *o, const struct h2k_vs_disk *d)
{
  return o->disk == -1 || d->key == o->disk;
}

/* The checks that need no snapshot: a refusal here leaves nothing. */
static int
precheck (const struct cbt_opts *o, const struct vm *vm, const since_vector *since)
{
  if (!vm->cbt)
    return h2k_seterr ("VM %s: Changed Block Tracking is off: run 'vs-cbt --vm "
                       "NAME --enable' first (tracking starts at the next "
                       "snapshot; changes made before it cannot be reported, "
                       "so the first cycle copies every allocated area)",
                       vm->name);

  size_t ours = 0, theirs = 0;
  const struct h2k_vs_snap *first_ours = NULL, *first_theirs = NULL;
  for (size_t i = 0; i < vm->snaps.len; i++) {
    if (snap_is_ours (&vm->snaps.ptr[i])) {
      ours++;
      first_ours = first_ours ? first_ours : &vm->snaps.ptr[i];
    }
    else {
      theirs++;
      first_theirs = first_theirs ? first_theirs : &vm->snaps.ptr[i];
    }
  }
  if (ours)
    return h2k_seterr ("VM %s: snapshot %s (\"%s\") is left from an earlier "
                       "cycle that was not released: run 'vs-cbt --vm NAME "
                       "--release < RECORDS' (or 'vs-cbt --cleanup --vm NAME') "
                       "first", vm->name, first_ours->moref, first_ours->name);
  if (theirs && !o->allow_existing)
    return h2k_seterr ("VM %s: it has %zu snapshot%s h2k did not create (%s "
                       "\"%s\"%s): vs-cbt does not snapshot on top of them "
                       "unless told to (--allow-existing-snapshots)",
                       vm->name, theirs, theirs > 1 ? "s" : "",
                       first_theirs->moref, first_theirs->name,
                       theirs > 1 ? ", ..." : "");

  size_t n = 0;
  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct h2k_vs_disk *d = &vm->disks.ptr[i];
    if (!disk_selected (o, d))
      continue;
    n++;
    const char *label = d->label ? d->label : "";
    if (d->mode && strncmp (d->mode, "independent", 11) == 0)
      return h2k_seterr ("VM %s: disk %" PRId64 " (%s) is %s: snapshots leave "
                         "independent disks out, so its changes can be neither "
                         "frozen nor tracked (make it dependent, or leave it "
                         "out with --disk)", vm->name, d->key, label, d->mode);
    if (!d->file || !d->backing || strcmp (d->backing, "FlatVer2BackingInfo") != 0
        || d->has_parent)
      return h2k_seterr ("VM %s: disk %" PRId64 " (%s): %s%s%s: vs-cbt reads the "
                         "frozen disk by range as a flat file, which only a "
                         "flat (FlatVer2) disk without a snapshot chain is",
                         vm->name, d->key, label,
                         d->file ? d->file : "no file",
                         d->has_parent ? " is a delta on a snapshot chain" : " has a ",
                         d->has_parent ? "" : (d->backing ? d->backing : "unknown backing"));
    if (d->capacity == 0)
      return h2k_seterr ("VM %s: disk %" PRId64 ": the server gave no capacity",
                         vm->name, d->key);
    if (since->len) {
      const char *id = since_for (since, d->key);
      if (!id)
        return h2k_seterr ("VM %s: disk %" PRId64 " (%s): --since %s has no "
                           "change_id for it: a full copy is needed (run "
                           "without --since, or select disks with --disk)",
                           vm->name, d->key, label, o->since);
      if (strcmp (id, "*") != 0
          && (!d->change_id || !same_epoch (id, d->change_id)))
        return h2k_seterr ("VM %s: disk %" PRId64 " (%s): change id '%s' is from "
                           "another disk or from before a CBT reset (the disk's "
                           "is now '%s'): what changed since cannot be known, "
                           "a full copy is needed (run without --since)",
                           vm->name, d->key, label, id,
                           d->change_id ? d->change_id : "(none)");
    }
  }
  if (n == 0)
    return o->disk == -1 ? h2k_seterr ("VM %s: it has no disk", vm->name)
      : h2k_seterr ("VM %s: no disk with key %" PRId64, vm->name, o->disk);
  return 0;
}

/* "[ds] dir/x.vmdk" -> "[ds] dir/x-flat.vmdk": where a flat disk's bytes
 * are. */
static char *
flat_name (const char *file)
{
  size_t n = strlen (file);
  char *out;
  if (n > 5 && strcmp (file + n - 5, ".vmdk") == 0) {
    if (n > 10 && strcmp (file + n - 10, "-flat.vmdk") == 0)
      return strdup (file);
    if (asprintf (&out, "%.*s-flat.vmdk", (int) (n - 5), file) == -1)
      return NULL;
    return out;
  }
  return strdup (file);
}

static char *
snapshot_name (void)
{
  char when[32], *name;
  time_t now = time (NULL);
  struct tm tm;
  gmtime_r (&now, &tm);
  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  unsigned r = (unsigned) getpid () ^ (unsigned) now;
  FILE *u = fopen ("/dev/urandom", "r");
  if (u) {
    if (fread (&r, sizeof r, 1, u) != 1)
      r ^= (unsigned) clock ();
    fclose (u);
  }
  if (asprintf (&name, CBT_SNAP_NAME "%s %08x", when, r) == -1)
    return NULL;
  return name;
}

struct cycle {
  struct h2k_vs *vs;
  const struct cbt_opts *o;
  struct vm vm;
  char *snap;                   /* the snapshot, once it exists */
  char *snap_name;
};

/* Remove the cycle's snapshot after a failure; the first message stays. */
static void
undo (struct cycle *c)
{
  CLEANUP_FREE char *why = strdup (h2k_errmsg ());
  if (!c->snap) {
    /* The task failed or was not waited for: the snapshot may exist all
     * the same; find it by its unique name. */
    if (reload_snapshots (c->vs, &c->vm) == 0)
      for (size_t i = 0; i < c->vm.snaps.len; i++)
        if (strcmp (c->vm.snaps.ptr[i].name, c->snap_name) == 0)
          c->snap = strdup (c->vm.snaps.ptr[i].moref);
  }
  if (c->snap) {
    if (h2k_vs_remove_snapshot (c->vs, c->snap, NULL) == -1)
      h2k_warn ("VM %s: could not remove snapshot %s after the failure: %s "
                "('vs-cbt --list-stale' finds it, 'vs-cbt --cleanup' removes it)",
                c->vm.name, c->snap, h2k_errmsg ());
    else
      h2k_warn ("VM %s: snapshot %s removed after the failure", c->vm.name, c->snap);
  }
  h2k_seterr ("%s", why ? why : "failed");
}

static int
print_disk (struct cycle *c, FILE *out, const struct h2k_vs_disk *d,
            const char *since)
{
  h2k_vs_areas areas = { 0 };
  unsigned calls = 0;
  CLEANUP_FREE char *file = flat_name (d->file);
  uint64_t bytes = 0;

  if (!file)
    return h2k_seterr ("out of memory");
  if (h2k_vs_changed_areas (c->vs, c->vm.moref, c->snap, d->key, since,
                            d->capacity, &areas, &calls) == -1)
    return h2k_seterr_prefix ("VM %s", c->vm.name);

  for (size_t i = 0; i <= areas.len; i++) {
    if (i == areas.len && areas.len > 0)
      break;
    /* A disk without changes still gets a record, of length 0, so that
     * the next cycle learns its changeId. */
    uint64_t off = areas.len ? areas.ptr[i].start : 0;
    uint64_t len = areas.len ? areas.ptr[i].length : 0;
    bytes += len;
    json_object *r = json_object_new_object ();
    h2k_json_set_string (r, "kind", "extent");
    h2k_json_set_string (r, "vm", c->vm.name);
    h2k_json_set_string (r, "moref", c->vm.moref);
    if (c->vm.dc_path)
      h2k_json_set_string (r, "dc_path", c->vm.dc_path);
    h2k_json_set_int64 (r, "disk", d->key);
    h2k_json_set_string (r, "file", file);
    h2k_json_set_int64 (r, "offset", (int64_t) off);
    h2k_json_set_int64 (r, "length", (int64_t) len);
    h2k_json_set_string (r, "change_id", d->change_id);
    h2k_json_set_string (r, "since", since);
    h2k_json_set_string (r, "snapshot", c->snap);
    h2k_json_set_int64 (r, "capacity", (int64_t) d->capacity);
    int w = h2k_jsonl_write (out, r);
    json_object_put (r);
    if (w == -1) {
      h2k_vs_areas_reset (&areas);
      return h2k_seterr ("cannot collect the output: %m");
    }
  }
  if (c->o->verbose)
    fprintf (stderr, "%s: VM %s: disk %" PRId64 ": %" PRIu64 " bytes in %zu "
             "areas changed since '%s' (%u QueryChangedDiskAreas calls)\n",
             h2k_program (), c->vm.name, d->key, bytes, areas.len, since, calls);
  h2k_vs_areas_reset (&areas);
  return 0;
}

/* After the snapshot: read its disks, query, print into OUT. */
static int
frozen (struct cycle *c, FILE *out, const since_vector *since)
{
  h2k_vs_disks disks = { 0 };
  int r = -1;

  if (h2k_vs_snapshot_disks (c->vs, c->snap, &disks) == -1)
    goto out;
  for (size_t i = 0; i < c->vm.disks.len; i++) {
    const struct h2k_vs_disk *want = &c->vm.disks.ptr[i];
    if (!disk_selected (c->o, want))
      continue;
    const struct h2k_vs_disk *d = NULL;
    for (size_t j = 0; j < disks.len; j++)
      if (disks.ptr[j].key == want->key)
        d = &disks.ptr[j];
    if (!d || !d->file) {
      h2k_seterr ("VM %s: snapshot %s has no disk %" PRId64, c->vm.name,
                  c->snap, want->key);
      goto out;
    }
    if (!d->change_id) {
      h2k_seterr ("VM %s: disk %" PRId64 ": the snapshot's backing has no "
                  "changeId: CBT is not active on it yet (it starts at a stun: "
                  "release this snapshot and take another)", c->vm.name, d->key);
      goto out;
    }
    const char *s = since->len ? since_for (since, d->key) : "*";
    if (check_interrupted () == -1 || print_disk (c, out, d, s) == -1)
      goto out;
  }
  r = check_interrupted ();
 out:
  h2k_vs_disks_free (&disks);
  return r;
}

int
cbt_snapshot (struct h2k_vs *vs, const struct cbt_opts *o)
{
  struct cycle c = { .vs = vs, .o = o };
  since_vector since = { 0 };
  /* Declared here, not where they are set: the gotos below jump over
   * those points, and the cleanup must not free garbage. */
  CLEANUP_FREE char *desc = NULL;
  CLEANUP_FREE char *task = NULL;
  char *buf = NULL;
  size_t buflen = 0;
  FILE *out = NULL;
  int r = -1;

  if (o->since) {
    struct stat st;
    if (stat (o->since, &st) == 0) {
      if (read_since_file (o->since, &since) == -1)
        return -1;
    }
    else if (strcmp (o->since, "*") == 0 || strchr (o->since, '/')) {
      if (since_vector_append (&since, (struct since) { -1, strdup (o->since) }) == -1)
        return -1;
    }
    else
      return h2k_seterr ("--since %s: neither a file nor a change id "
                         "(\"52 ... /N\")", o->since);
  }
  if (find_vm (vs, o->vm, &c.vm) == -1)
    goto out;
  if (since.len && since.ptr[0].key == -1 && o->disk == -1) {
    size_t n = c.vm.disks.len;
    if (n > 1) {
      h2k_seterr ("VM %s: --since CHANGEID names one disk's change id and the "
                  "VM has %zu disks: say which with --disk KEY (or pass the "
                  "previous cycle's records as --since FILE)", c.vm.name, n);
      goto out;
    }
  }
  if (precheck (o, &c.vm, &since) == -1)
    goto out;

  out = open_memstream (&buf, &buflen);
  c.snap_name = snapshot_name ();
  if (!out || !c.snap_name) {
    h2k_seterr ("out of memory");
    goto out;
  }
  char host[256] = "";
  gethostname (host, sizeof host - 1);
  if (asprintf (&desc, CBT_SNAP_DESC " Taken by vs-cbt on %s (pid %ld) for a "
                "warm-migration cycle; it is removed by 'vs-cbt --release', "
                "and found by 'vs-cbt --list-stale' if that never ran.",
                host, (long) getpid ()) == -1) {
    desc = NULL;
    h2k_seterr ("out of memory");
    goto out;
  }
  bool quiesce = !o->no_quiesce && c.vm.tools
    && strcmp (c.vm.tools, "guestToolsRunning") == 0;

  catch_signals ();
  task = h2k_vs_create_snapshot (vs, c.vm.moref, c.snap_name, desc, false,
                                 quiesce);
  if (!task) {
    h2k_seterr_prefix ("VM %s: CreateSnapshot_Task", c.vm.name);
    undo (&c);
    goto out;
  }
  struct h2k_progress prog;
  c.snap = h2k_vs_task_moref (vs, task, task_progress (o, &prog, "snapshot"));
  if (!c.snap || check_interrupted () == -1) {
    h2k_seterr_prefix ("VM %s: snapshot", c.vm.name);
    undo (&c);
    goto out;
  }
  if (o->progress)
    h2k_progress_finish (&prog);
  if (o->verbose)
    fprintf (stderr, "%s: VM %s: snapshot %s \"%s\"%s\n", h2k_program (),
             c.vm.name, c.snap, c.snap_name, quiesce ? " (quiesced)" : "");

  if (frozen (&c, out, &since) == -1) {
    undo (&c);
    goto out;
  }
  if (fclose (out) != 0) {
    out = NULL;
    h2k_seterr ("cannot collect the output: %m");
    undo (&c);
    goto out;
  }
  out = NULL;
  if (buflen && fwrite (buf, 1, buflen, stdout) != buflen) {
    h2k_seterr ("stdout: %m");
    undo (&c);
    goto out;
  }
  if (fflush (stdout) == EOF) {
    h2k_seterr ("stdout: %m");
    undo (&c);
    goto out;
  }
  r = 0;
 out:
  if (out)
    fclose (out);
  free (buf);
  free (c.snap);
  free (c.snap_name);
  vm_free (&c.vm);
  since_free (&since);
  return r;
}
