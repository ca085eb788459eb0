#ifndef H2K_VERSION_H
#define H2K_VERSION_H

#ifndef H2K_VERSION
#define H2K_VERSION "0.0.0"
#endif

/* Print "PROGRAM (h2k) VERSION" to stdout, as --version does. */
void h2k_print_version (const char *program);

#endif
