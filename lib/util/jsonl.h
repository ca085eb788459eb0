/* JSON lines (one object per line) on json-c.
 *
 * Records flow through several tools: a tool reads a record, adds or sets
 * its own fields and writes the same object back, so fields it does not
 * know pass through unchanged.
 */
#ifndef H2K_JSONL_H
#define H2K_JSONL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

struct h2k_jsonl_reader {
  FILE *fp;
  const char *name;       /* for messages: "<stdin>" or the file name */
  unsigned long lineno;
  char *line;
  size_t linecap;
};

void h2k_jsonl_reader_init (struct h2k_jsonl_reader *r, FILE *fp,
                            const char *name);
/* Read the next non-empty line into *OBJ (a JSON object, owned by the
 * caller).  Returns 1, 0 at end of input, or -1 with h2k_seterr
 * ("<stdin>: line 3: not a JSON object: ...").  */
int h2k_jsonl_read (struct h2k_jsonl_reader *r, json_object **obj);
void h2k_jsonl_reader_free (struct h2k_jsonl_reader *r);

/* Write OBJ as one line (no pretty-printing, '/' not escaped). */
int h2k_jsonl_write (FILE *fp, json_object *obj);

/* Typed getters; they return false when the key is missing or of another
 * type.  The string stays owned by OBJ. */
bool h2k_json_get_string (json_object *obj, const char *key, const char **out);
bool h2k_json_get_int64 (json_object *obj, const char *key, int64_t *out);
bool h2k_json_get_bool (json_object *obj, const char *key, bool *out);

/* Setters that take ownership of nothing and return -1 on failure. */
int h2k_json_set_string (json_object *obj, const char *key, const char *val);
int h2k_json_set_int64 (json_object *obj, const char *key, int64_t val);
int h2k_json_set_bool (json_object *obj, const char *key, bool val);

#endif
