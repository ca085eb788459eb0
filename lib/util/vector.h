/* Growable arrays with types, in the manner of nbdkit's vector.h.
 *
 *   DEFINE_VECTOR_TYPE (string_vector, char *);
 *   string_vector v = { 0 };
 *   if (string_vector_append (&v, s) == -1) ... (out of memory)
 *   for (size_t i = 0; i < v.len; i++) use (v.ptr[i]);
 *   string_vector_reset (&v);            frees the array, not the elements
 *
 * Functions return 0 on success and -1 (with h2k_seterr) when memory runs
 * out.
 */
#ifndef H2K_VECTOR_H
#define H2K_VECTOR_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"

int h2k_vector_reserve (void **ptr, size_t *cap, size_t len, size_t n,
                        size_t itemsize);

#define DEFINE_VECTOR_TYPE(name, type)                                      \
  typedef struct name {                                                     \
    type *ptr;                                                              \
    size_t len;                                                             \
    size_t cap;                                                             \
  } name;                                                                   \
  static inline __attribute__ ((unused)) int                               \
  name##_reserve (name *v, size_t n)                                        \
  {                                                                         \
    return h2k_vector_reserve ((void **) &v->ptr, &v->cap, v->len, n,       \
                               sizeof (type));                             \
  }                                                                         \
  static inline __attribute__ ((unused)) int                               \
  name##_append (name *v, type elem)                                        \
  {                                                                         \
    if (v->len >= v->cap && name##_reserve (v, 1) == -1)                    \
      return -1;                                                            \
    v->ptr[v->len++] = elem;                                                \
    return 0;                                                               \
  }                                                                         \
  static inline __attribute__ ((unused)) void                              \
  name##_reset (name *v)                                                    \
  {                                                                         \
    free (v->ptr);                                                          \
    v->ptr = NULL;                                                          \
    v->len = v->cap = 0;                                                    \
  }

#endif
