/* vs-pull: download datastore files, parallel, resumable, verified.
 *
 * The story: find out what to fetch (sources on the command line, or VM
 * and extent records on stdin), turn each file into a job of byte ranges,
 * and hand the jobs to the data plane (lib/http/http.h), which fetches them
 * over N connections.  Whole files are written to NAME.part beside a state
 * file and renamed when complete; ranges go to stdout or a file; extents
 * are patched into a target in place.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/h2k.h"
#include "http/http.h"
#include "pull.h"
#include "vsphere/vsphere.h"

enum {
  RANGE_OPTION = H2K_CONNOPTS_OPTION_END, PATCH_OPTION, SHA256_OPTION, VERIFY_OPTION, SKIP_ZERO_OPTION,
  PROGRESS_OPTION, RETRIES_OPTION, RETRY_WAIT_OPTION,
  CHUNK_OPTION, DIRECT_OPTION, CONNECT_TO_OPTION,
};

static const char short_options[] = "o:d:j:np::v" H2K_SHORT_OPTIONS_COMMON;
static const struct option long_options[] = {
  H2K_CONNOPTS_LONG_OPTIONS,
  { "output", required_argument, NULL, 'o' },
  { "dir", required_argument, NULL, 'd' },
  { "jobs", required_argument, NULL, 'j' },
  { "range", required_argument, NULL, RANGE_OPTION },
  { "patch", required_argument, NULL, PATCH_OPTION },
  { "sha256", no_argument, NULL, SHA256_OPTION },
  { "verify", optional_argument, NULL, VERIFY_OPTION },
  { "skip-zero", no_argument, NULL, SKIP_ZERO_OPTION },
  { "progress", optional_argument, NULL, 'p' },
  { "retries", required_argument, NULL, RETRIES_OPTION },
  { "retry-wait", required_argument, NULL, RETRY_WAIT_OPTION },
  { "chunk-size", required_argument, NULL, CHUNK_OPTION },
  { "no-clobber", no_argument, NULL, 'n' },
  { "verbose", no_argument, NULL, 'v' },
  { "direct", no_argument, NULL, DIRECT_OPTION },
  { "connect-to", required_argument, NULL, CONNECT_TO_OPTION },
  H2K_LONG_OPTIONS_COMMON,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: vs-pull [OPTIONS] SOURCE... (-o FILE | -o - | --dir DIR)\n"
"       vs-pull [OPTIONS] --range OFFSET:LENGTH SOURCE (-o FILE | -o - | --patch TARGET)\n"
"       vs-ls --chain ... | vs-pull [OPTIONS] --dir DIR      (VM records)\n"
"       vs-pull [OPTIONS] --patch TARGET < EXTENT-RECORDS   (JSON lines)\n"
"\n"
"Download datastore files over /folder: parallel, resumable, verified.\n"
"SOURCE is a datastore path such as '[LocalDS_0] vm1/disk1-flat.vmdk' (through\n"
"a vSphere session) or an http(s) URL (no session).\n"
"\n"
"Output:\n"
"  -o, --output FILE       write the one SOURCE to FILE ('-' for stdout)\n"
"  -d, --dir DIR           write each file into DIR under its own name; VM\n"
"                          records: into DIR/<VM name>/, and print each record\n"
"                          again with disks[].local set\n"
"      --range OFF:LEN     only these bytes (repeatable; sizes like 4M work):\n"
"                          concatenated in order, or with --patch written at\n"
"                          their offsets\n"
"      --patch TARGET      write ranges or extent records into TARGET (a raw\n"
"                          file, created sparse if missing, or a block device)\n"
"  -n, --no-clobber        skip files that already exist\n"
"\n"
"Transfer:\n"
"  -j, --jobs N            connections at once (default 4)\n"
"      --retries N         attempts in a row without progress (default 10)\n"
"      --retry-wait SECS   first backoff, doubled each retry (default 0.5)\n"
"      --chunk-size SIZE   bytes per request (default: from the file size)\n"
"      --skip-zero         leave holes where the disk reads as zeros: for VM\n"
"                          records of powered-off VMs with CBT on, fetch only\n"
"                          the areas the server reports in use; else skip\n"
"                          all-zero 64 KiB blocks\n"
"      --direct            fetch datastore files from a host that mounts the\n"
"                          datastore, with a vCenter service ticket per\n"
"                          request (its certificate pinned to the ticket's\n"
"                          thumbprint), instead of through vCenter\n"
"      --connect-to H:P:H2:P2  connect to H2:P2 for requests to H:P, as curl's\n"
"                          (a host name that does not resolve here, NAT);\n"
"                          repeatable\n"
"\n"
"Integrity and progress:\n"
"      --sha256            print the SHA-256 of each file written\n"
"      --verify[=FILE]     compare with the SHA-256 in FILE (sha256sum or OVF\n"
"                          manifest lines), or in the records of an earlier pull\n"
"  -p, --progress[=FD]     bars on a terminal, or N/100 lines to FD\n"
"  -v, --verbose           report the bytes fetched and the faults survived\n"
"\n");
  h2k_connopts_usage (fp);
  fprintf (fp,
"\n"
"      --help              this help\n"
"  -V, --version           the version\n"
"\n"
"A killed or failed download resumes where it stopped when run again.\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* The transfer engine, for the signal handler (set before the handler). */
static struct h2k_http *running_engine;

static void
on_signal (int sig)
{
  /* The transfer stops at its next turn and saves its state; a second
   * signal stops at once. */
  h2k_http_interrupt (running_engine);
  signal (sig, SIG_DFL);
}

/* Sources given on the command line. */
static int
pull_sources (struct pull *p, char **srcs, size_t n)
{
  struct h2k_http_job *jobs = calloc (n, sizeof *jobs);
  struct h2k_http_job **jp = calloc (n, sizeof *jp);
  char **paths = calloc (n, sizeof *paths);
  const char **expect = calloc (n, sizeof *expect);
  int ret = -1;

  if (!jobs || !jp || !paths || !expect) {
    h2k_seterr ("out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    CLEANUP_FREE char *url = source_url (p, srcs[i], NULL);
    CLEANUP_FREE char *name = display_name (srcs[i]);
    if (url == NULL || name == NULL
        || h2k_http_job_init (&jobs[i], url, name) == -1)
      goto out;
    jp[i] = &jobs[i];
    if (p->verify) {
      const char *names[] = { srcs[i], NULL };
      expect[i] = manifest_find (&p->sums, names);
      if (expect[i] == NULL) {
        h2k_seterr ("%s: --verify: no checksum known for it", srcs[i]);
        goto out;
      }
    }
  }

  if (p->patch) {
    struct h2k_http_job *job = &jobs[0];
    if (h2k_http_head (p->http, job) == -1)
      goto out;
    for (size_t i = 0; i < p->ranges.len; i++) {
      const struct h2k_http_seg *s = &p->ranges.ptr[i];
      if (h2k_http_job_add (job, s->src, s->len, s->src) == -1)
        goto out;
    }
    ret = patch_target (p, job, p->patch, NULL);
    goto out;
  }

  if (p->ranges.len > 0 || (p->output && strcmp (p->output, "-") == 0)) {
    /* To stdout (whole files one after the other, like cat), or ranges to
     * stdout or a file. */
    bool to_stdout = strcmp (p->output, "-") == 0;
    struct h2k_outfile out;
    if (!to_stdout && h2k_outfile_open (&out, p->output) == -1)
      goto out;
    for (size_t i = 0; i < n; i++) {
      struct h2k_http_job *job = &jobs[i];
      if (h2k_http_head (p->http, job) == -1)
        goto fail_out;
      if (p->ranges.len == 0) {
        if (h2k_http_job_whole (job) == -1)
          goto fail_out;
      }
      else
        for (size_t k = 0; k < p->ranges.len; k++) {
          const struct h2k_http_seg *s = &p->ranges.ptr[k];
          if (job->size != UINT64_MAX && s->src + s->len > job->size) {
            h2k_seterr ("%s: range %llu+%llu is beyond the end of the file "
                        "(%llu bytes)", job->name, (unsigned long long) s->src,
                        (unsigned long long) s->len,
                        (unsigned long long) job->size);
            goto fail_out;
          }
          if (h2k_http_job_add (job, s->src, s->len, s->dst) == -1)
            goto fail_out;
        }
      job->fd = to_stdout ? STDOUT_FILENO : out.fd;
      job->stream = to_stdout;
      job->fresh = !to_stdout;
      job->want_sha256 = p->sha256 || expect[i];
      if (run_jobs (p, &job, 1) == -1 || check_digest (job, expect[i]) == -1)
        goto fail_out;
      if (p->sha256) {
        char hex[65];
        hex_digest (job->sha256, hex);
        /* Stdout carries the data: the digest goes to stderr. */
        fprintf (to_stdout ? stderr : stdout, "%s  %s\n", hex,
                 to_stdout ? "-" : p->output);
      }
    }
    if (!to_stdout && h2k_outfile_commit (&out) == -1)
      goto out;
    ret = 0;
    goto out;
  fail_out:
    if (!to_stdout)
      h2k_outfile_abort (&out);
    goto out;
  }

  for (size_t i = 0; i < n; i++) {
    if (p->output)
      paths[i] = strdup (p->output);
    else {
      CLEANUP_FREE char *base = safe_base_name (srcs[i]);
      if (base == NULL)
        goto out;
      if (asprintf (&paths[i], "%s/%s", p->dir, base) == -1)
        paths[i] = NULL;
    }
    if (paths[i] == NULL) {
      h2k_seterr ("out of memory");
      goto out;
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp (paths[k], paths[i]) == 0) {
        h2k_seterr ("%s and %s would both be written to %s", jobs[k].name,
                    jobs[i].name, paths[i]);
        goto out;
      }
  }
  if (pull_files (p, jp, n, paths, expect, NULL) == -1)
    goto out;
  if (p->sha256)
    for (size_t i = 0; i < n; i++)
      if (jobs[i].complete) {
        char hex[65];
        hex_digest (jobs[i].sha256, hex);
        printf ("%s  %s\n", hex, paths[i]);
      }
  ret = 0;
 out:
  for (size_t i = 0; jobs && i < n; i++) {
    if (jobs[i].url)
      h2k_http_job_free (&jobs[i]);
    if (paths)
      free (paths[i]);
  }
  free (jobs);
  free (jp);
  free (paths);
  free (expect);
  return ret;
}

static int
parse_range (const char *arg, uint64_t *off, uint64_t *len)
{
  const char *colon = strchr (arg, ':');
  if (colon == NULL)
    return h2k_seterr ("--range %s: expected OFFSET:LENGTH", arg);
  CLEANUP_FREE char *a = strndup (arg, colon - arg);
  if (a == NULL || h2k_parse_size (a, off) == -1 || h2k_parse_size (colon + 1, len) == -1)
    return h2k_seterr_prefix ("--range %s", arg);
  if (*len == 0)
    return h2k_seterr ("--range %s: the length is zero", arg);
  if (*off + *len < *off)
    return h2k_seterr ("--range %s: overflows", arg);
  return 0;
}

static double
parse_secs (const char *opt, const char *arg)
{
  char *end;
  errno = 0;
  double v = strtod (arg, &end);
  if (errno || end == arg || *end || !(v >= 0) || v > 86400)
    h2k_die_status (2, "%s: '%s' is not a number of seconds", opt, arg);
  return v;
}

/* What was asked must make sense before anything is fetched: usage
 * errors (exit 2) for the combinations that do not. */
static void
check_request (struct pull *p, char **srcs, size_t nsrc)
{
  if (p->output && p->dir)
    h2k_die_status (2, "-o and --dir cannot be used together");
  if (p->patch && (p->output || p->dir))
    h2k_die_status (2, "--patch writes into TARGET: no -o or --dir with it");
  if (nsrc == 0) {
    if (isatty (STDIN_FILENO))
      h2k_die_status (2, "no SOURCE given and no records on stdin");
    if (p->ranges.len)
      h2k_die_status (2, "--range needs a SOURCE");
    if (p->output)
      h2k_die_status (2, "records on stdin: use --dir (VM records) or --patch "
                      "(extent records), not -o");
    if (!p->dir && !p->patch)
      h2k_die_status (2, "records on stdin need --dir DIR (VM records) or "
                      "--patch TARGET (extent records)");
  }
  else {
    if (p->patch && (nsrc != 1 || p->ranges.len == 0))
      h2k_die_status (2, "--patch with a SOURCE needs exactly one SOURCE and --range");
    if (p->ranges.len && nsrc != 1)
      h2k_die_status (2, "--range takes exactly one SOURCE");
    if (p->ranges.len && !p->output && !p->patch)
      h2k_die_status (2, "--range: say where the bytes go: -o FILE, -o - or --patch TARGET");
    if (p->dir && p->ranges.len)
      h2k_die_status (2, "--range cannot be used with --dir");
    if (!p->output && !p->dir && !p->patch)
      h2k_die_status (2, "say where to write: -o FILE, -o - (stdout) or --dir DIR");
    if (p->output && strcmp (p->output, "-") != 0 && nsrc > 1)
      h2k_die_status (2, "-o FILE takes one SOURCE (use --dir for several)");
  }
  for (size_t i = 0; p->direct && i < nsrc; i++)
    if (is_url (srcs[i]))
      h2k_die_status (2, "--direct applies to datastore paths (\"[datastore] "
                      "path\"), not to URLs");
  if (p->patch && (p->sha256 || p->verify))
    h2k_die_status (2, "--sha256 and --verify apply to whole files, not to --patch");
  if (p->ranges.len && p->verify)
    h2k_die_status (2, "--verify applies to whole files, not to --range");
  if (p->verify && nsrc > 0 && !p->verify_file)
    h2k_die_status (2, "--verify: give the checksum file (--verify=FILE)");
  if (p->verify_file && manifest_load (&p->sums, p->verify_file) == -1)
    h2k_die_status (2, "--verify: %s", h2k_errmsg ());
  if (p->progress) {
    if (*p->progress == '\0')
      p->prog_tty = isatty (STDERR_FILENO);
    else {
      char *end;
      long fd = strtol (p->progress, &end, 10);
      if (*end || fd < 0 || fd > 65535)
        h2k_die_status (2, "--progress: '%s' is not a file descriptor", p->progress);
      p->prog_fd = (int) fd;
    }
  }
}

/* The transfer engine, wired to the session, and the signals that stop
 * it cleanly. */
static void
start_engine (struct pull *p)
{
  /* Plain URLs get govc's TLS variables too. */
  const char *ins = getenv ("GOVC_INSECURE");
  p->url_insecure = ins && *ins && strcmp (ins, "0") != 0 && strcasecmp (ins, "false") != 0;
  p->url_ca = getenv ("GOVC_TLS_CA_CERTS");

  p->hopts.skip_zero = p->skip_zero;
  p->hopts.setup = pull_setup_handle;
  p->hopts.renew = pull_renew;
  p->hopts.before = p->direct ? direct_before : NULL;
  p->hopts.progress = (p->prog_tty || p->prog_fd >= 0) ? show_progress : NULL;
  p->hopts.opaque = p;
  p->http = h2k_http_new (&p->hopts);
  if (p->http == NULL)
    h2k_die ("%s", h2k_errmsg ());

  running_engine = p->http;
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGHUP, on_signal);
}

static void
pull_free (struct pull *p)
{
  h2k_http_free (p->http);
  conn_close (p);
  h2k_connopts_free (&p->conn);
  curl_slist_free_all (p->connect_to);
  h2k_http_segs_reset (&p->ranges);
  for (size_t i = 0; i < p->sums.len; i++) {
    free (p->sums.ptr[i].name);
    free (p->sums.ptr[i].sha256);
  }
  manifest_reset (&p->sums);
}

int
main (int argc, char *argv[])
{
  struct pull p = { 0 };
  int c;
  uint64_t dst = 0;

  h2k_set_program (argv[0]);
  h2k_connopts_init (&p.conn);
  h2k_http_opts_init (&p.hopts);
  p.prog_fd = -1;
  p.prog_last = -1;

  while ((c = getopt_long (argc, argv, short_options, long_options, NULL)) != -1) {
    switch (h2k_connopts_option (&p.conn, c, optarg)) {
    case 1: continue;
    case -1: h2k_die_status (2, "%s", h2k_errmsg ());
    }
    switch (c) {
    case 'o': p.output = optarg; break;
    case 'd': p.dir = optarg; break;
    case 'j':
      p.hopts.connections = h2k_option_uint ("-j", optarg, 1, 64);
      break;
    case 'n': p.no_clobber = true; break;
    case 'v': p.verbose = true; break;
    case RANGE_OPTION: {
      uint64_t off, len;
      if (parse_range (optarg, &off, &len) == -1)
        h2k_die_status (2, "%s", h2k_errmsg ());
      if (h2k_http_segs_append (&p.ranges, (struct h2k_http_seg) { off, len, dst }) == -1)
        h2k_die ("%s", h2k_errmsg ());
      dst += len;
      break;
    }
    case PATCH_OPTION: p.patch = optarg; break;
    case SHA256_OPTION: p.sha256 = true; break;
    case VERIFY_OPTION: p.verify = true; p.verify_file = optarg; break;
    case SKIP_ZERO_OPTION: p.skip_zero = true; break;
    case 'p': p.progress = optarg ? optarg : ""; break;
    case RETRIES_OPTION: p.hopts.retries = h2k_option_uint ("--retries", optarg, 0, 1000); break;
    case RETRY_WAIT_OPTION: p.hopts.retry_wait = parse_secs ("--retry-wait", optarg); break;
    case CHUNK_OPTION:
      p.hopts.chunk_size = h2k_option_size ("--chunk-size", optarg);
      if (p.hopts.chunk_size < 4096 || p.hopts.chunk_size > (1ULL << 30))
        h2k_die_status (2, "--chunk-size: from 4 KiB to 1 GiB");
      break;
    case DIRECT_OPTION: p.direct = true; break;
    case CONNECT_TO_OPTION: {
      if (check_connect_to (optarg) == -1)
        h2k_die_status (2, "%s", h2k_errmsg ());
      struct curl_slist *l = curl_slist_append (p.connect_to, optarg);
      if (l == NULL)
        h2k_die ("out of memory");
      p.connect_to = l;
      break;
    }
    default:
      h2k_option_common (c, short_options, long_options, usage);
    }
  }

  /* --stall-timeout is a connection option: the same limit for the
   * SOAP calls and the data plane, with or without a session. */
  if (h2k_connopts_stall_timeout (&p.conn) == -1)
    h2k_die_status (2, "%s", h2k_errmsg ());
  p.hopts.stall_timeout = p.conn.stall_timeout;

  size_t nsrc = argc - optind;
  char **srcs = argv + optind;

  check_request (&p, srcs, nsrc);

  start_engine (&p);

  int r = nsrc > 0 ? pull_sources (&p, srcs, nsrc) : pull_records (&p, stdin);
  if (r == -1) {
    h2k_warn ("%s", h2k_errmsg ());
    direct_explain (&p);
  }
  if (p.verbose) {
    show_faults (&p);
    direct_report (&p);
  }

  pull_free (&p);
  if (h2k_close_stdout () == -1)
    r = -1;
  return r == 0 ? 0 : 1;
}
