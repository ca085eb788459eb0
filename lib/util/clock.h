/* A monotonic clock in seconds, for rates, timeouts and progress. */
#ifndef H2K_CLOCK_H
#define H2K_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): only
 * differences mean anything, and they never go backwards when the wall
 * clock is set. */
double h2k_now (void);

#endif
