/* Internals shared by the files of lib/http/; not for programs. */
#ifndef H2K_HTTP_PRIVATE_H
#define H2K_HTTP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>

#include "http.h"

enum { CH_PENDING, CH_ACTIVE, CH_DONE };

struct h2k_http_chunk {
  uint64_t src, len, dst;
  uint64_t got;                 /* bytes from src that have arrived */
  uint32_t crc;                 /* CRC-32C of those bytes (file jobs) */
  double not_before;            /* backoff: not asked for again before */
  unsigned attempts;            /* failures in a row without progress */
  int state;
  struct h2k_http_req *owner;
  unsigned char *buf;           /* stream jobs: the bytes until flushed */
};

/* One connection's current request. */
struct h2k_http_req {
  struct h2k_http *e;
  CURL *h;
  unsigned gen;                 /* session generation it was set up for */
  bool busy, head;
  struct h2k_http_job *job;
  size_t idx;                   /* the chunk asked for */
  uint64_t start, end;          /* source bytes asked for, [start, end) */
  uint64_t body_pos;            /* source offset of the next body byte */
  uint64_t attempt_bytes;       /* useful bytes this attempt */
  size_t nowned;                /* chunks this request is filling */
  long status;
  char reason[128];
  bool have_cr, cr_star, multipart;
  uint64_t cr_a, cr_b, cr_total;
  char cr_text[128];
  char etag[128], lastmod[128];
  double retry_after;
  bool checked, full, finished, disk_error;
  char cberr[256];              /* why a callback aborted the transfer */
  char body[256];               /* start of an error page */
  size_t bodylen;
  unsigned char *wbuf;          /* pending file writes */
  size_t wlen;
  uint64_t wdst;
  struct h2k_http_job *wjob;
  char errbuf[CURL_ERROR_SIZE];
  char range[64];
};

/* CRC-32C (as lib/crc32c.h), fast where the processor helps. */
uint32_t h2k_http_crc32c (uint32_t crc, const void *buf, size_t len);
double h2k_http_backoff (struct h2k_http *e, unsigned attempts);
size_t h2k_http_header_cb (char *buf, size_t size, size_t nitems, void *opaque);
size_t h2k_http_write_cb (char *data, size_t size, size_t nmemb, void *opaque);
int h2k_http_setup_handle (struct h2k_http *e, CURL *h, struct h2k_http_req *r);
void h2k_http_describe (struct h2k_http_req *r, CURLcode res, char *buf,
                        size_t len);

#endif
