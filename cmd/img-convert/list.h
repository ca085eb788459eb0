/* img-convert --list-files: the files a disk's chain reads. */
#ifndef IMGCONV_LIST_H
#define IMGCONV_LIST_H

#include <stdbool.h>

/* Print every file of the chain of INPUT (format FORMAT or detected), one
 * per line or NUL-terminated with ZERO: each layer's own file, then its
 * other files (a VMDK's extents), then its parent, down to the base.  A
 * parent that is not there is printed where it was looked for, last.
 * Returns the exit status: 0, or 1 (with the message on stderr) when the
 * chain could not be followed to its base. */
int list_files (const char *input, const char *format, unsigned flags,
                bool zero);

#endif
