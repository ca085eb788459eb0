/* The basics every h2k program uses. */
#ifndef H2K_H
#define H2K_H

#include "cleanup.h"
#include "die.h"
#include "jsonl.h"
#include "outfile.h"
#include "progress.h"
#include "size.h"
#include "vector.h"
#include "version.h"
#include "xio.h"

#endif
