/* vs-cbt --release, --enable, --list-stale and --cleanup.
 *
 * Only snapshots carrying h2k's mark (snap_is_ours: name and description)
 * are ever removed; a snapshot named in records that is not ours, or that
 * belongs to another VM, is refused, whatever the records say.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vs-cbt.h"

/* The snapshots the records on IN name, for the VM they name. */
static int
read_release_records (FILE *in, string_vector *snaps, const char **vm_name,
                      json_object **keep)
{
  struct h2k_jsonl_reader rd;
  json_object *o;
  int r;
  json_object *all = json_object_new_array ();
  h2k_jsonl_reader_init (&rd, in, "<stdin>");
  while ((r = h2k_jsonl_read (&rd, &o)) == 1) {
    const char *snap, *vm;
    json_object_array_add (all, o);
    if (h2k_json_get_string (o, "vm", &vm)) {
      if (*vm_name && strcmp (*vm_name, vm) != 0) {
        r = h2k_seterr ("<stdin>: line %lu: records of two VMs ('%s' and '%s'): "
                        "release one VM at a time", rd.lineno, *vm_name, vm);
        break;
      }
      *vm_name = vm;
    }
    if (!h2k_json_get_string (o, "snapshot", &snap) || !*snap)
      continue;
    bool seen = false;
    for (size_t i = 0; i < snaps->len; i++)
      seen |= strcmp (snaps->ptr[i], snap) == 0;
    if (!seen) {
      char *s = strdup (snap);
      if (!s || string_vector_append (snaps, s) == -1) {
        free (s);
        r = h2k_seterr ("out of memory");
        break;
      }
    }
  }
  h2k_jsonl_reader_free (&rd);
  *keep = all;                  /* the strings above live in these */
  return r == -1 ? -1 : 0;
}

static const struct h2k_vs_snap *
find_snap (const struct vm *vm, const char *moref)
{
  for (size_t i = 0; i < vm->snaps.len; i++)
    if (strcmp (vm->snaps.ptr[i].moref, moref) == 0)
      return &vm->snaps.ptr[i];
  return NULL;
}

struct h2k_progress *
task_progress (const struct cbt_opts *o, struct h2k_progress *p,
               const char *label)
{
  if (!o->progress)
    return NULL;
  if (h2k_progress_init (p, o->progress, label, 100) == -1)
    return NULL;
  return p;
}

static int
remove_one (struct h2k_vs *vs, const struct cbt_opts *o, const struct vm *vm,
            const struct h2k_vs_snap *s)
{
  struct h2k_progress prog;
  struct h2k_progress *p = task_progress (o, &prog, "release");
  if (h2k_vs_remove_snapshot (vs, s->moref, p) == -1)
    return h2k_seterr_prefix ("VM %s: snapshot %s", vm->name, s->moref);
  if (p)
    h2k_progress_finish (p);
  return 0;
}

int
cbt_release (struct h2k_vs *vs, const struct cbt_opts *o, FILE *in)
{
  string_vector want = { 0 };
  json_object *recs = NULL;
  const char *vm_name = o->vm;
  struct vm vm = { 0 };
  int r = -1;

  /* Records come on stdin; a terminal there means there are none. */
  if (in && !isatty (fileno (in))
      && read_release_records (in, &want, &vm_name, &recs) == -1)
    goto out;
  if (!vm_name) {
    h2k_seterr ("--release: which VM? (--vm NAME, or records naming it on stdin)");
    goto out;
  }
  if (o->vm && strcmp (o->vm, vm_name) != 0) {
    h2k_seterr ("--vm %s, but the records are about VM '%s'", o->vm, vm_name);
    goto out;
  }
  if (find_vm (vs, vm_name, &vm) == -1)
    goto out;

  if (want.len == 0) {
    /* No records: every snapshot of the VM that h2k took (normally the
     * one this tool created last, or none). */
    for (size_t i = 0; i < vm.snaps.len; i++)
      if (snap_is_ours (&vm.snaps.ptr[i])) {
        char *s = strdup (vm.snaps.ptr[i].moref);
        if (!s || string_vector_append (&want, s) == -1) {
          free (s);
          h2k_seterr ("out of memory");
          goto out;
        }
      }
    if (want.len == 0 && o->verbose)
      fprintf (stderr, "%s: VM %s: no h2k snapshot to release\n",
               h2k_program (), vm.name);
  }

  /* Refuse first, remove after: nothing is half done on a refusal. */
  for (size_t i = 0; i < want.len; i++) {
    const struct h2k_vs_snap *s = find_snap (&vm, want.ptr[i]);
    if (s && !snap_is_ours (s)) {
      h2k_seterr ("VM %s: snapshot %s (\"%s\") was not created by h2k: vs-cbt "
                  "does not remove it", vm.name, s->moref, s->name);
      goto out;
    }
  }
  r = 0;
  for (size_t i = 0; i < want.len; i++) {
    const struct h2k_vs_snap *s = find_snap (&vm, want.ptr[i]);
    if (!s) {
      /* Released already (a second run, or --cleanup): nothing to do. */
      if (o->verbose)
        fprintf (stderr, "%s: VM %s: snapshot %s is already gone\n",
                 h2k_program (), vm.name, want.ptr[i]);
      continue;
    }
    if (remove_one (vs, o, &vm, s) == -1) {
      h2k_warn ("%s", h2k_errmsg ());
      r = -1;
      continue;
    }
    if (o->verbose)
      fprintf (stderr, "%s: VM %s: released snapshot %s\n", h2k_program (),
               vm.name, want.ptr[i]);
  }
  if (r == -1)
    h2k_seterr ("VM %s: a snapshot could not be released ('vs-cbt --list-stale' "
                "lists it; run --release again)", vm.name);
 out:
  for (size_t i = 0; i < want.len; i++)
    free (want.ptr[i]);
  string_vector_reset (&want);
  vm_free (&vm);
  if (recs)
    json_object_put (recs);
  return r;
}

int
cbt_enable (struct h2k_vs *vs, const struct cbt_opts *o)
{
  struct vm vm = { 0 };
  int r = -1;
  if (find_vm (vs, o->vm, &vm) == -1)
    return -1;
  if (vm.cbt) {
    fprintf (stderr, "%s: VM %s: Changed Block Tracking is already on\n",
             h2k_program (), vm.name);
    r = 0;
    goto out;
  }
  struct h2k_progress prog;
  struct h2k_progress *p = task_progress (o, &prog, "enable");
  if (h2k_vs_set_change_tracking (vs, vm.moref, true, p) == -1) {
    h2k_seterr_prefix ("VM %s", vm.name);
    goto out;
  }
  if (p)
    h2k_progress_finish (p);
  fprintf (stderr, "%s: VM %s: Changed Block Tracking is on. Tracking starts at "
           "the next stun of the VM (the next snapshot gives one, so the first "
           "'vs-cbt --snapshot' starts it); changes made before that cannot be "
           "reported, so the first cycle copies every allocated area.\n",
           h2k_program (), vm.name);
  r = 0;
 out:
  vm_free (&vm);
  return r;
}

int
cbt_stale (struct h2k_vs *vs, const struct cbt_opts *o, bool cleanup)
{
  vm_vector vms = { 0 };
  int r = 0;
  if (list_vms (vs, o->vm, &vms) == -1)
    return -1;
  for (size_t i = 0; i < vms.len; i++) {
    const struct vm *vm = &vms.ptr[i];
    for (size_t j = 0; j < vm->snaps.len; j++) {
      const struct h2k_vs_snap *s = &vm->snaps.ptr[j];
      if (!snap_is_ours (s))
        continue;
      bool removed = false;
      if (cleanup) {
        if (remove_one (vs, o, vm, s) == -1) {
          h2k_warn ("%s", h2k_errmsg ());
          r = -1;
        }
        else
          removed = true;
      }
      json_object *rec = json_object_new_object ();
      h2k_json_set_string (rec, "kind", "snapshot");
      h2k_json_set_string (rec, "vm", vm->name);
      h2k_json_set_string (rec, "moref", vm->moref);
      h2k_json_set_string (rec, "snapshot", s->moref);
      h2k_json_set_string (rec, "name", s->name);
      h2k_json_set_string (rec, "description", s->description);
      if (s->created)
        h2k_json_set_string (rec, "created", s->created);
      if (cleanup)
        h2k_json_set_bool (rec, "removed", removed);
      int w = h2k_jsonl_write (stdout, rec);
      json_object_put (rec);
      if (w == -1 || fflush (stdout) == EOF) {
        vms_free (&vms);
        return h2k_seterr ("stdout: %m");
      }
    }
  }
  vms_free (&vms);
  if (r == -1)
    h2k_seterr ("some snapshots could not be removed (see above)");
  return r;
}
