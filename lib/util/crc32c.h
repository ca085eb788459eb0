/* CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected), as VHDX uses it
 * for its headers, region table, metadata and log entries. */
#ifndef H2K_CRC32C_H
#define H2K_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; the result of one call can be
 * passed to the next to checksum a buffer in pieces. */
uint32_t h2k_crc32c (uint32_t crc, const void *buf, size_t len);

#endif
