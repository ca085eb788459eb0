/* CRC-32C for the resume state: every byte a transfer writes goes through
 * it, so it uses the SSE 4.2 instruction where the processor has one (about
 * 8 bytes a cycle) and lib/util/crc32c.c's table elsewhere.  Both give the same
 * values. */
#include <stdint.h>
#include <string.h>

#include "util/crc32c.h"
#include "http-private.h"

#if defined(__x86_64__)
__attribute__ ((target ("sse4.2")))
static uint32_t
crc32c_sse42 (uint32_t crc, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint64_t c = ~crc;
  while (len > 0 && ((uintptr_t) p & 7)) {
    c = __builtin_ia32_crc32qi ((uint32_t) c, *p++);
    len--;
  }
  while (len >= 8) {
    uint64_t v;
    memcpy (&v, p, 8);
    c = __builtin_ia32_crc32di (c, v);
    p += 8;
    len -= 8;
  }
  while (len > 0) {
    c = __builtin_ia32_crc32qi ((uint32_t) c, *p++);
    len--;
  }
  return ~(uint32_t) c;
}
#endif

uint32_t
h2k_http_crc32c (uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
  if (__builtin_cpu_supports ("sse4.2"))
    return crc32c_sse42 (crc, buf, len);
#endif
  return h2k_crc32c (crc, buf, len);
}
