#include <stdio.h>

#include "version.h"

void
h2k_print_version (const char *program)
{
  printf ("%s (h2k) %s\n", program, H2K_VERSION);
}
