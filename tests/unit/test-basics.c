/* Unit tests of the lib/ basics: sizes, vectors, JSON lines, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/h2k.h"
#include "tap.h"

DEFINE_VECTOR_TYPE (int_vector, int);

static void
test_sizes (void)
{
  static const struct { const char *in; uint64_t want; } good[] = {
    { "0", 0 }, { "512", 512 }, { "4k", 4096 }, { "4K", 4096 },
    { "10G", 10ULL << 30 }, { "1.5 GiB", 3ULL << 29 }, { "64KiB", 65536 },
    { "2T", 2ULL << 40 }, { "1M", 1 << 20 }, { "3MB", 3 << 20 },
    { "16E", 0 },
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t v = 1;
    int r = h2k_parse_size (good[i].in, &v);
    if (strcmp (good[i].in, "16E") == 0)
      ok (r == -1, "parse_size '16E' overflows");
    else
      ok (r == 0 && v == good[i].want, "parse_size '%s'", good[i].in);
  }
  static const char *const bad[] = { "", "-1", "abc", "10X", "1.G", "5 GiBs", "1e3" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v;
    ok (h2k_parse_size (bad[i], &v) == -1, "parse_size rejects '%s' (%s)",
        bad[i], h2k_errmsg ());
  }
  char buf[H2K_SIZE_BUFLEN];
  is_str (h2k_format_size (512, buf, sizeof buf), "512 B", "format 512");
  is_str (h2k_format_size (3ULL << 29, buf, sizeof buf), "1.5 GiB", "format 1.5G");
  is_str (h2k_format_size (4096, buf, sizeof buf), "4 KiB", "format 4k");
}

static void
test_vector (void)
{
  int_vector v = { 0 };
  for (int i = 0; i < 1000; i++)
    if (int_vector_append (&v, i) == -1)
      break;
  is_int (v.len, 1000, "vector holds 1000 items");
  int sum = 0;
  for (size_t i = 0; i < v.len; i++)
    sum += v.ptr[i];
  is_int (sum, 499500, "vector keeps the items in order");
  int_vector_reset (&v);
  ok (v.ptr == NULL && v.len == 0, "vector reset");
}

static void
test_jsonl (void)
{
  const char *text =
    "{\"kind\":\"vm\",\"name\":\"a/b <&>\",\"x\":{\"y\":[1,2]}}\n"
    "\n"
    "  {\"n\": 5}  \r\n"
    "[1,2]\n"
    "{\"a\":1} {\"b\":2}\n"
    "{\"broken\": \n";
  FILE *fp = fmemopen ((void *) text, strlen (text), "r");
  struct h2k_jsonl_reader r;
  json_object *o = NULL;
  h2k_jsonl_reader_init (&r, fp, "<test>");

  is_int (h2k_jsonl_read (&r, &o), 1, "first record read");
  const char *name;
  ok (h2k_json_get_string (o, "name", &name) && strcmp (name, "a/b <&>") == 0,
      "string field round-trips");
  char *out = NULL;
  size_t outlen = 0;
  FILE *w = open_memstream (&out, &outlen);
  h2k_json_set_string (o, "local", "x.vmdk");
  h2k_jsonl_write (w, o);
  fclose (w);
  is_str (out, "{\"kind\":\"vm\",\"name\":\"a/b <&>\",\"x\":{\"y\":[1,2]},\"local\":\"x.vmdk\"}\n",
          "unknown fields pass through, new field added, one line");
  free (out);
  json_object_put (o);

  is_int (h2k_jsonl_read (&r, &o), 1, "blank line skipped, CRLF accepted");
  int64_t n;
  ok (h2k_json_get_int64 (o, "n", &n) && n == 5, "int field");
  json_object_put (o);
  is_int (h2k_jsonl_read (&r, &o), -1, "array refused: %s", h2k_errmsg ());
  ok (strstr (h2k_errmsg (), "line 4") != NULL, "message names the line");
  is_int (h2k_jsonl_read (&r, &o), -1, "two objects on a line refused");
  is_int (h2k_jsonl_read (&r, &o), -1, "truncated object refused: %s", h2k_errmsg ());
  is_int (h2k_jsonl_read (&r, &o), 0, "end of input");
  h2k_jsonl_reader_free (&r);
  fclose (fp);
}

static void
test_errors (void)
{
  ok (h2k_seterr ("disk.vmdk: %s", "bad magic") == -1, "seterr returns -1");
  h2k_seterr_prefix ("open");
  is_str (h2k_errmsg (), "open: disk.vmdk: bad magic", "prefix added");
  /* The current message as an argument of the next one: formatted aside
   * first, so the old text is read whole before it is replaced. */
  h2k_seterr ("disk 0: %s", "a \"chain\" entry is not a file name");
  h2k_seterr ("%s: VM w: %s", "<stdin>: record 1", h2k_errmsg ());
  is_str (h2k_errmsg (), "<stdin>: record 1: VM w: disk 0: a \"chain\" entry "
          "is not a file name", "seterr reading the current message");
  char big[2000];
  memset (big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  h2k_seterr ("%s", big);
  h2k_seterr ("p: %s", h2k_errmsg ());
  ok (strncmp (h2k_errmsg (), "p: xxx", 6) == 0 && strlen (h2k_errmsg ()) == 1023,
      "an overlong message is cut, not overrun");
  h2k_seterr_prefix ("q");
  ok (strncmp (h2k_errmsg (), "q: p: xxx", 9) == 0, "prefix of a long message");
  /* A message quoting a 4 KiB name keeps its reason, at the end. */
  char name[4097];
  memset (name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  name[296] = (char) 0xc3;    /* a two-byte UTF-8 character across the cut */
  name[297] = (char) 0xbc;    /* (bytes 299 and 300 of the message) */
  h2k_seterr ("VM %s: Changed Block Tracking is off", name);
  const char *m = h2k_errmsg ();
  size_t ml = strlen (m);
  ok (ml < 1024 && ml > 1000 && strncmp (m, "VM nnn", 6) == 0
      && strstr (m, "...") != NULL
      && strcmp (m + ml - 31, ": Changed Block Tracking is off") == 0,
      "an overlong message keeps its start and its end (the reason)");
  ok (strchr (m, (char) 0xc3) == NULL && strchr (m, (char) 0xbc) == NULL,
      "... cut between UTF-8 characters");
  ok (h2k_is_zero ((char[40]) { 0 }, 40), "is_zero on zeros");
  char b[40] = { 0 };
  b[39] = 1;
  ok (!h2k_is_zero (b, 40), "is_zero sees the last byte");
  b[39] = 0;
  b[3] = 1;
  ok (!h2k_is_zero (b, 40), "is_zero sees an early byte");
}

int
main (void)
{
  test_sizes ();
  test_vector ();
  test_jsonl ();
  test_errors ();
  return done_testing ();
}
