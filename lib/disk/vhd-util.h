/* Helpers the VHD and VHDX drivers share: UTF-16 names and the Windows
 * paths their parent locators hold. */
#ifndef H2K_VHD_UTIL_H
#define H2K_VHD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Convert LEN bytes of UTF-16 (BIG_ENDIAN or little-endian) to a malloc'd
 * NUL-terminated UTF-8 string, stopping at the first NUL character.
 * Returns NULL with h2k_seterr on malformed input (unpaired surrogates,
 * embedded '/'-free checks are the caller's). */
char *h2k_utf16_to_utf8 (const unsigned char *s, size_t len, bool big_endian);

/* Turn a Windows path from a parent locator into one usable here:
 * backslashes become slashes, a leading ".\" is dropped.  Returns a
 * malloc'd string or NULL with h2k_seterr. */
char *h2k_windows_path (const char *winpath);

/* The last component of a Windows or POSIX path (a pointer into PATH). */
const char *h2k_windows_basename (const char *path);

/* True for paths that only make sense on Windows: "C:\...", "\\server\..." */
bool h2k_windows_path_is_absolute (const char *winpath);

/* A byte range of a file that one structure occupies; ID says which
 * (a block number, or a negative code the caller chooses). */
struct h2k_file_range {
  uint64_t start, end;
  int64_t id;
};

/* Sort RANGES by start and return the index of the first one that
 * overlaps the one before it, or -1 when none do. */
long h2k_find_overlap (struct h2k_file_range *ranges, size_t n);

/* Check that no two of RANGES overlap; otherwise set the error
 * "PATH: A and B overlap in the file", naming a block by its number and a
 * structure with a negative id -k by WHAT[k]. */
int h2k_check_no_overlap (const char *path, struct h2k_file_range *ranges,
                          size_t n, const char *const *what);

#endif
