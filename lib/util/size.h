/* Human sizes: "10G", "1.5 GiB", "512", "4k", "64KiB" (all binary units:
 * k = 1024) and back. */
#ifndef H2K_SIZE_H
#define H2K_SIZE_H

#include <stdint.h>
#include <stddef.h>

/* Parse STR into *OUT (bytes).  Returns 0, or -1 with h2k_seterr on a
 * malformed string, a negative number or an overflow. */
int h2k_parse_size (const char *str, uint64_t *out);

/* Format SIZE as "1.5 GiB", "512 B", "4 KiB" into BUF; returns BUF. */
#define H2K_SIZE_BUFLEN 32
char *h2k_format_size (uint64_t size, char *buf, size_t len);

#endif
