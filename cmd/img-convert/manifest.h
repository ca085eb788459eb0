/* OVA manifests (.mf): one "ALG(name)= hex" line per member, ALG SHA1 or
 * SHA256, in OpenSSL's exact syntax (docs/formats.md 8.3). */
#ifndef IMGCONV_MANIFEST_H
#define IMGCONV_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vector.h"

enum mf_alg { MF_SHA1, MF_SHA256 };

struct mf_entry {
  enum mf_alg alg;
  char *name;
  unsigned char digest[32];
};
DEFINE_VECTOR_TYPE (mf_vector, struct mf_entry);

/* Parse TEXT (LEN bytes) into *OUT; -1 with h2k_seterr naming the line. */
int manifest_parse (const char *text, size_t len, const char *name,
                    mf_vector *out);
void manifest_free (mf_vector *v);
const char *mf_alg_name (enum mf_alg a);

#endif
