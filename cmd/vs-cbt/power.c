/* vs-cbt --power-off: the cut-over's last step on the source, so that
 * nothing changes after the final cycle.  A guest with VMware Tools is
 * shut down cleanly (ShutdownGuest, then the power state is polled until
 * it is off or the timeout passes); without Tools the only way is
 * PowerOffVM_Task, which is pulling the plug, and vs-cbt says so.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "vs-cbt.h"

static int
power_state_cb (void *opaque, const char *t, const char *m, xmlNode *o)
{
  char **state = opaque;
  (void) t; (void) m;
  xmlNode *v = h2k_vs_prop (o, "runtime.powerState");
  free (*state);
  *state = v ? h2k_xml_text (v) : NULL;
  return 0;
}

static char *
power_state (struct h2k_vs *vs, const char *vm)
{
  static const char *const paths[] = { "runtime.powerState", NULL };
  struct h2k_moref obj = { "VirtualMachine", vm };
  char *state = NULL;
  if (h2k_vs_retrieve (vs, NULL, &obj, 1, "VirtualMachine", paths, 0,
                       power_state_cb, &state) == -1) {
    free (state);
    return NULL;
  }
  if (!state)
    h2k_seterr ("%s: %s: no runtime.powerState", h2k_vs_name (vs), vm);
  return state;
}

int
cbt_power_off (struct h2k_vs *vs, const struct cbt_opts *o)
{
  struct vm vm = { 0 };
  int r = -1;
  if (find_vm (vs, o->vm, &vm) == -1)
    return -1;
  if (vm.power_state && strcmp (vm.power_state, "poweredOff") == 0) {
    if (o->verbose)
      fprintf (stderr, "%s: VM %s: already powered off\n", h2k_program (), vm.name);
    r = 0;
    goto out;
  }
  xmlDoc *doc;
  xmlNode *res;
  if (vm.tools && strcmp (vm.tools, "guestToolsRunning") == 0) {
    xmlNode *m = h2k_soap_method ("ShutdownGuest", "VirtualMachine", vm.moref);
    if (h2k_vs_call (vs, m, &doc, &res) == -1) {
      h2k_seterr_prefix ("VM %s: ShutdownGuest", vm.name);
      goto out;
    }
    xmlFreeDoc (doc);
    double end = h2k_now () + o->timeout;
    for (;;) {
      CLEANUP_FREE char *st = power_state (vs, vm.moref);
      if (!st)
        goto out;
      if (strcmp (st, "poweredOff") == 0)
        break;
      if (h2k_now () > end) {
        h2k_seterr ("VM %s: the guest did not shut down within %u seconds "
                    "(it is %s)", vm.name, o->timeout, st);
        goto out;
      }
      struct timespec ts = { 1, 0 };
      nanosleep (&ts, NULL);
    }
  }
  else {
    fprintf (stderr, "%s: VM %s: VMware Tools are not running, so the guest "
             "cannot be asked to shut down: powering it off (as pulling the "
             "plug would)\n", h2k_program (), vm.name);
    xmlNode *m = h2k_soap_method ("PowerOffVM_Task", "VirtualMachine", vm.moref);
    if (h2k_vs_call (vs, m, &doc, &res) == -1) {
      h2k_seterr_prefix ("VM %s: PowerOffVM_Task", vm.name);
      goto out;
    }
    CLEANUP_FREE char *task = h2k_xml_child_text (res, "returnval");
    xmlFreeDoc (doc);
    if (!task || h2k_vs_wait_task (vs, task, NULL, NULL, NULL) == -1) {
      if (!task)
        h2k_seterr ("no task in the answer");
      h2k_seterr_prefix ("VM %s: PowerOffVM_Task", vm.name);
      goto out;
    }
  }
  if (o->verbose)
    fprintf (stderr, "%s: VM %s: powered off\n", h2k_program (), vm.name);
  r = 0;
 out:
  vm_free (&vm);
  return r;
}
