/* The option skeleton every h2k program shares.
 *
 * Each program keeps its own getopt_long loop (its options are its story)
 * and hands everything that is not its own to h2k_option_common from the
 * loop's default branch:
 *
 *   static const char short_options[] = "mcp::v" H2K_SHORT_OPTIONS_COMMON;
 *   static const struct option long_options[] = {
 *     { "map", no_argument, NULL, 'm' },
 *     ...
 *     H2K_LONG_OPTIONS_COMMON,
 *     { NULL, 0, NULL, 0 },
 *   };
 *   ...
 *   default:
 *     h2k_option_common (c, short_options, long_options, usage);
 *
 * which gives every program the same behaviour:
 *
 *   --help            usage (stdout) to standard output, exit 0
 *   -V, --version     "PROGRAM (h2k) VERSION", exit 0
 *   --long-options    every long option, one "--name" a line, exit 0
 *   --short-options   every short option, one "-x" a line, exit 0
 *   anything else     getopt's one-line complaint, then
 *                     "Try 'PROGRAM --help' for more information.", exit 2
 *
 * The two listing options are hidden from --help: they exist for the
 * bash completion script (scripts/bash-completion/h2k) and for the test
 * that compares each program's options with its man page, as nbdcopy's
 * and nbdkit's do.  Every path that prints checks that standard output
 * was written and closed (a full disk, a closed pipe), and exits 1 if not.
 *
 * Number and size arguments are parsed by h2k_option_uint and
 * h2k_option_size, which name the option in their error:
 *
 *   img-convert: -j: 'x' is not a number
 */
#ifndef H2K_OPTIONS_H
#define H2K_OPTIONS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

/* Option values for the common long options, above every character and
 * below H2K_OPT_PROGRAM, where a program's own long-only options start. */
enum {
  H2K_OPT_HELP = 0x1000,
  H2K_OPT_LONG_OPTIONS,
  H2K_OPT_SHORT_OPTIONS,
  H2K_OPT_PROGRAM = 0x1100,
};

#define H2K_SHORT_OPTIONS_COMMON "V"
#define H2K_LONG_OPTIONS_COMMON                                         \
  { "help",          no_argument, NULL, H2K_OPT_HELP },                 \
  { "version",       no_argument, NULL, 'V' },                          \
  { "long-options",  no_argument, NULL, H2K_OPT_LONG_OPTIONS },         \
  { "short-options", no_argument, NULL, H2K_OPT_SHORT_OPTIONS }

/* Handle C, a value getopt_long returned that the program did not: one of
 * the common options or a usage error.  Never returns. */
noreturn void h2k_option_common (int c, const char *short_options,
                                 const struct option *long_options,
                                 void (*usage) (FILE *fp));

/* A usage error: "PROGRAM: MESSAGE" and the --help hint, exit 2. */
noreturn void h2k_usage_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* ARG as a whole number from MIN to MAX, for option OPT (as the user wrote
 * it: "-j" or "--connections"); a usage error otherwise. */
uint64_t h2k_option_uint (const char *opt, const char *arg,
                          uint64_t min, uint64_t max);

/* ARG as a size (h2k_parse_size: 4096, 64K, 1.5G...), for option OPT. */
uint64_t h2k_option_size (const char *opt, const char *arg);

/* Exit with the status of closing standard output: 0, or 1 when the
 * output could not be written.  For the end of a program that printed. */
noreturn void h2k_exit_closing_stdout (void);

/* What a stalled connection is, for every transfer (lib/http and
 * lib/vsphere's SOAP calls alike): fewer than H2K_STALL_BYTES bytes in the
 * stall timeout (--stall-timeout, H2K_STALL_TIMEOUT; 60 seconds unless
 * set), a server that has gone quiet or trickles its answer a byte at a
 * time (slow loris).  libcurl measures it as an average rate:
 * CURLOPT_LOW_SPEED_LIMIT h2k_stall_rate (S) over CURLOPT_LOW_SPEED_TIME
 * S. */
#define H2K_STALL_BYTES 1024
#define H2K_STALL_TIMEOUT_DEFAULT 60

static inline long
h2k_stall_rate (unsigned seconds)
{
  return seconds ? (H2K_STALL_BYTES + (long) seconds - 1) / (long) seconds : 1;
}

#endif
