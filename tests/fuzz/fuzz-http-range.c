/* The header lines of an HTTP reply as lib/http's header callback reads
 * them (status line, Content-Range, Retry-After, Content-Type, ETag,
 * Last-Modified), one line per callback as libcurl calls it. */
#include <curl/curl.h>

#include "fuzz.h"
#include "http/http.h"
#include "http/http-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct h2k_http_req r;
  memset (&r, 0, sizeof r);
  /* libcurl hands over each line with its CRLF, not NUL-terminated: copy
   * each one to a buffer of its exact size so ASan sees any overread. */
  size_t pos = 0;
  while (pos < size) {
    const uint8_t *nl = memchr (data + pos, '\n', size - pos);
    size_t len = nl ? (size_t) (nl - (data + pos)) + 1 : size - pos;
    char *line = malloc (len ? len : 1);
    if (line == NULL)
      abort ();
    memcpy (line, data + pos, len);
    if (h2k_http_header_cb (line, 1, len, &r) != len)
      abort ();
    free (line);
    pos += len;
  }
  if (r.have_cr && !r.cr_star && r.cr_text[sizeof r.cr_text - 1] != '\0')
    abort ();
  return 0;
}
