/* vs-ls: declarations shared by its files. */
#ifndef VS_LS_H
#define VS_LS_H

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

#include "util/h2k.h"
#include "vsphere/vsphere.h"

DEFINE_VECTOR_TYPE (string_vector, char *);

/* What the user asked for. */
struct ls_opts {
  const char *type;              /* vm, datastore, host, datacenter, network */
  string_vector vm_globs;
  const char *folder;
  const char *cluster;
  const char *host;
  const char *datastore;
  const char *power_state;
  bool chain;
  int page_size;
  bool stats;                    /* --stats: round trips on stderr */
};

/* A datacenter and where its trees start. */
struct dc {
  char *moref;
  char *name;
  char *path;                    /* inventory path: "DC0", "F0/DC0" */
  char *vm_folder;
  char *host_folder;
  char *datastore_folder;
  char *network_folder;
};
DEFINE_VECTOR_TYPE (dc_vector, struct dc);

/* A moref -> name cache, so that hosts, datastores and networks named by
 * many VMs are asked for once. */
struct name_entry {
  char *type;
  char *moref;
  char *name;                    /* NULL when the server does not know it */
};
DEFINE_VECTOR_TYPE (name_vector, struct name_entry);

struct ls {
  struct h2k_vs *vs;
  struct ls_opts *o;
  FILE *out;                     /* records, written to stdout at the end */
  name_vector names;
  unsigned long printed;
  bool folder_found;             /* --folder named a folder somewhere */
  bool *glob_seen;               /* per --vm: some VM's name matched it */
};

/* inventory.c */
int list_datacenters (struct ls *ls, dc_vector *dcs);
void free_datacenters (dc_vector *dcs);
const char *name_of (struct ls *ls, const char *type, const char *moref);
bool name_cached (struct ls *ls, const char *type, const char *moref);
int prefetch_names (struct ls *ls, const char *type, const string_vector *morefs);
void free_names (struct ls *ls);
bool glob_match (const char *pattern, const char *name);
int emit (struct ls *ls, json_object *rec);
void destroy_view (struct ls *ls, char *view, int status);
char *vm_folder_path (struct ls *ls, const struct dc *dc, const char *parent);

/* vms.c */
int list_vms (struct ls *ls, const struct dc *dc);

/* others.c */
int list_datastores (struct ls *ls, const struct dc *dc);
int list_hosts (struct ls *ls, const struct dc *dc);
int list_networks (struct ls *ls, const struct dc *dc);
int print_datacenter (struct ls *ls, const struct dc *dc);

/* record.c: the VM record from a VirtualMachine's properties. */
void vm_paths (struct ls *ls, const char *paths[static 40]);
json_object *vm_record (struct ls *ls, const struct dc *dc, const char *moref,
                        xmlNode *objects);
/* Whether the names of everything object O refers to are known already;
 * prefetch_objects asks for those of N objects, one call per kind. */
bool names_known (struct ls *ls, xmlNode *o);
int prefetch_objects (struct ls *ls, xmlNode *const *objs, size_t n);

#endif
