/* The util wing of lib/ (lib/util/): the basics every h2k program uses,
 * and which know nothing of disks or of the network: errors and die(),
 * cleanup attributes, growable vectors, size parsing, whole-buffer I/O,
 * OUTPUT.part files committed by rename, progress reports, JSON-lines
 * records, the monotonic clock, CRC-32C, the version, and the option
 * skeleton.  It depends on nothing else in lib/; every other wing may use
 * it.  Programs include this header for the common set. */
#ifndef H2K_H
#define H2K_H

#include "cleanup.h"
#include "die.h"
#include "jsonl.h"
#include "options.h"
#include "outfile.h"
#include "progress.h"
#include "size.h"
#include "vector.h"
#include "version.h"
#include "xio.h"

#endif
