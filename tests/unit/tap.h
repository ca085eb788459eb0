/* A tiny TAP producer for unit tests.
 *
 *   ok (x == 1, "x is one");
 *   is_int (got, 42, "the answer");
 *   return done_testing ();
 */
#ifndef H2K_TAP_H
#define H2K_TAP_H

#undef NDEBUG  /* keep asserts in tests, whatever the build flags */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline __attribute__ ((format (printf, 2, 3))) int
ok (int cond, const char *fmt, ...)
{
  va_list ap;
  printf ("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  if (!cond)
    tap_failed++;
  return cond;
}

#define is_int(got, want, ...)                                              \
  do {                                                                      \
    long long g_ = (long long) (got), w_ = (long long) (want);              \
    if (!ok (g_ == w_, __VA_ARGS__))                                        \
      printf ("#   got %lld, expected %lld\n", g_, w_);                     \
  } while (0)

#define is_str(got, want, ...)                                              \
  do {                                                                      \
    const char *g_ = (got), *w_ = (want);                                   \
    if (!ok (g_ && w_ && strcmp (g_, w_) == 0, __VA_ARGS__))                \
      printf ("#   got '%s', expected '%s'\n", g_ ? g_ : "(null)", w_);     \
  } while (0)

static inline int
done_testing (void)
{
  printf ("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif
