/* Messages in the h2k form "program: subject: reason".
 *
 * Programs call h2k_set_program (argv[0]) first.  h2k_die prints and exits
 * 1; h2k_die_status chooses the status (2 for usage errors, which adds
 * "Try 'PROGRAM --help'"); h2k_warn only prints.  glibc's %m gives strerror (errno).
 *
 * Library functions never exit.  They return -1 and leave a message in a
 * per-thread buffer with h2k_seterr, which the caller prints with
 * h2k_errmsg () (the way errno works, but with the subject and the reason).
 */
#ifndef H2K_DIE_H
#define H2K_DIE_H

#include <stdarg.h>
#include <stdnoreturn.h>

void h2k_set_program (const char *argv0);
const char *h2k_program (void);

/* Called by h2k_die before exiting, for example to remove a half-written
 * OUTPUT.part.  One hook per program; NULL removes it. */
void h2k_set_die_hook (void (*hook) (void));

noreturn void h2k_die (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
noreturn void h2k_die_status (int status, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
void h2k_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Set the calling thread's error message; always returns -1 so that a
 * function can end with "return h2k_seterr (...);". */
int h2k_seterr (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Prefix the current message with "PREFIX: " (adds context on the way up). */
int h2k_seterr_prefix (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
const char *h2k_errmsg (void);

/* A code for the current message, for a caller that must act on one kind
 * of failure rather than print it (a wing defines its codes, such as
 * H2K_ERR_PARENT_ID in disk/bdev.h).  h2k_seterr clears it to 0;
 * h2k_seterr_code sets it after the message and returns -1. */
int h2k_seterr_code (int code);
int h2k_errcode (void);

#endif
