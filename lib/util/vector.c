#include <stdint.h>
#include <stdlib.h>

#include "vector.h"

int
h2k_vector_reserve (void **ptr, size_t *cap, size_t len, size_t n,
                    size_t itemsize)
{
  size_t want, newcap;

  if (__builtin_add_overflow (len, n, &want))
    return h2k_seterr ("vector: size overflow");
  if (want <= *cap)
    return 0;
  /* Grow by half again each time: amortised constant appends. */
  newcap = *cap + *cap / 2;
  if (newcap < want)
    newcap = want;
  if (newcap < 8)
    newcap = 8;
  size_t bytes;
  if (__builtin_mul_overflow (newcap, itemsize, &bytes))
    return h2k_seterr ("vector: size overflow");
  void *p = realloc (*ptr, bytes);
  if (p == NULL)
    return h2k_seterr ("vector: out of memory");
  *ptr = p;
  *cap = newcap;
  return 0;
}
