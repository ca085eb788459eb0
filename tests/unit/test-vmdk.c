/* Unit tests of the reusable VMDK pieces (lib/disk/vmdk/vmdk.h): descriptor parsing,
 * header checks, markers and grain inflation. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/h2k.h"
#include "tap.h"
#include "disk/vmdk/vmdk.h"

static void
test_descriptor (void)
{
  /* CRLF, comments, spaces around '=', keys in any order (parentCID before
   * CID: a strstr parser would take the wrong one), names with spaces,
   * every access mode, ZERO without a file, an offset. */
  static const char text[] =
    "# Disk DescriptorFile\r\n"
    "version = 1\r\n"
    "encoding=\"windows-1252\"\r\n"
    "parentCID = 0a0b0c0d\r\n"
    "CID=fffffffe\r\n"
    "createType = \"vmfsSparse\"\r\n"
    "parentFileNameHint=\"my base\xe9.vmdk\"\r\n"
    "\r\n"
    "  # Extent description\r\n"
    "RW 100 VMFSSPARSE \"a b-delta.vmdk\"\r\n"
    "RDONLY 200 FLAT \"flat file.vmdk\" 50\r\n"
    "RW 300 ZERO\r\n"
    "NOACCESS 400 SESPARSE \"s.vmdk\"\r\n"
    "ddb.geometry.heads = \"255\"\r\n";
  struct h2k_vmdk_desc d;

  is_int (h2k_vmdk_desc_parse (text, sizeof text - 1, &d), 0, "descriptor parses");
  is_int (d.version, 1, "version");
  ok (d.has_cid && d.cid == 0xfffffffe, "CID");
  ok (d.has_parent_cid && d.parent_cid == 0x0a0b0c0d, "parentCID, given first");
  is_str (d.create_type, "vmfsSparse", "createType unquoted");
  is_str (d.parent_hint, "my base\xc3\xa9.vmdk", "hint converted from windows-1252");
  is_int (d.extents.len, 4, "four extents");
  is_int (d.total_sectors, 1000, "total sectors");
  is_str (d.extents.ptr[0].filename, "a b-delta.vmdk", "name with a space");
  is_int (d.extents.ptr[0].type, H2K_VMDK_EXT_SPARSE, "VMFSSPARSE is sparse");
  is_int (d.extents.ptr[1].access, H2K_VMDK_RDONLY, "RDONLY kept");
  is_int (d.extents.ptr[1].offset, 50, "flat offset");
  is_int (d.extents.ptr[2].type, H2K_VMDK_EXT_ZERO, "ZERO");
  ok (d.extents.ptr[2].filename == NULL, "ZERO has no file");
  is_int (d.extents.ptr[3].access, H2K_VMDK_NOACCESS, "NOACCESS kept");
  h2k_vmdk_desc_free (&d);

  /* An embedded descriptor ends at its NUL padding. */
  static const char padded[] = "version=1\nRW 8 SPARSE \"x.vmdk\"\n\0\0\0garbage";
  is_int (h2k_vmdk_desc_parse (padded, sizeof padded - 1, &d), 0, "NUL-padded text");
  is_int (d.extents.len, 1, "text after the NUL ignored");
  ok (!d.has_parent_cid && d.parent_cid == 0xffffffff, "no parentCID: no parent");
  h2k_vmdk_desc_free (&d);

  static const struct { const char *text, *msg; } bad[] = {
    { "RW 8 BOGUS \"x\"\n", "unknown extent type" },
    { "RW x FLAT \"x\"\n", "not a number" },
    { "RW 8 FLAT\n", "no file name" },
    { "RW 8 FLAT \"x\" 1 2\n", NULL },      /* device fields: accepted */
    { "RW 8 SPARSE \"x\" 9\n", "only valid on flat" },
    { "CID=12345678901\n", "8 hex digits" },
    { "version=1\n\001\n", "not text" },
    { "RW 8 VMFSRDM \"x\"\n", "raw device" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int r = h2k_vmdk_desc_parse (bad[i].text, strlen (bad[i].text), &d);
    if (bad[i].msg == NULL) {
      is_int (r, 0, "accepted: %s", bad[i].text);
      h2k_vmdk_desc_free (&d);
    }
    else
      ok (r == -1 && strstr (h2k_errmsg (), bad[i].msg),
          "rejected with '%s': %s", bad[i].msg, h2k_errmsg ());
  }
}

static void
put64 (unsigned char *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = v >> (8 * i);
}

static void
test_header (void)
{
  unsigned char h[512] = { 0 };
  struct h2k_vmdk_header hd;

  memcpy (h, "KDMV", 4);
  h[4] = 3;
  h[8] = 1; h[10] = 3;                 /* 0x30001 */
  put64 (h + 12, 2048);
  put64 (h + 20, 128);
  put64 (h + 28, 1);
  put64 (h + 36, 20);
  h[44] = 0; h[45] = 2;                /* 512 */
  put64 (h + 56, UINT64_MAX);
  memcpy (h + 73, "\n \r\n", 4);
  h[77] = 1;
  is_int (h2k_vmdk_parse_header (h, &hd), 0, "stream header parses");
  ok (hd.compressed && hd.markers, "compressed with markers");
  ok (hd.gd_offset == H2K_VMDK_GD_AT_END, "GD at end");
  is_int (h2k_vmdk_gd_entries (&hd), 1, "one GD entry");

  h[77] = 0;
  ok (h2k_vmdk_parse_header (h, &hd) == -1
      && strstr (h2k_errmsg (), "markers but grains are not compressed"),
      "markers without compression refused");
  h[77] = 1;
  h[11] = 0x80;
  ok (h2k_vmdk_parse_header (h, &hd) == -1
      && strstr (h2k_errmsg (), "incompatible"), "unknown incompatible flag");
  h[11] = 0;
  put64 (h + 20, 96);
  ok (h2k_vmdk_parse_header (h, &hd) == -1
      && strstr (h2k_errmsg (), "grain size 96"), "grain size 96 refused");
}

static void
test_markers_and_grains (void)
{
  unsigned char m[512] = { 0 };
  struct h2k_vmdk_marker mk;

  put64 (m, 128);
  m[8] = 100;
  is_int (h2k_vmdk_parse_marker (m, sizeof m, &mk), 0, "grain marker");
  ok (mk.type == H2K_VMDK_MARKER_GRAIN && mk.val == 128 && mk.size == 100,
      "grain marker fields");
  is_int (h2k_vmdk_grain_record_bytes (&mk), 512, "record padded to 512");
  memset (m, 0, sizeof m);
  put64 (m, 4);
  m[12] = 4;
  is_int (h2k_vmdk_parse_marker (m, sizeof m, &mk), 0, "progress marker");
  is_int (mk.type, H2K_VMDK_MARKER_PROGRESS, "type 4 is progress");
  m[12] = 9;
  is_int (h2k_vmdk_parse_marker (m, sizeof m, &mk), -1, "type 9 refused");

  unsigned char data[65536], z[70000], out[65536];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = i * 7 / 3;
  uLongf zlen = sizeof z;
  compress2 (z, &zlen, data, sizeof data, 6);
  size_t got;
  is_int (h2k_vmdk_inflate_grain (z, zlen, out, sizeof out, &got), 0, "inflate");
  ok (got == sizeof data && memcmp (out, data, got) == 0, "inflated bytes");
  is_int (h2k_vmdk_inflate_grain (z, zlen / 2, out, sizeof out, &got), -1,
          "truncated stream refused");
  is_int (h2k_vmdk_inflate_grain (z, zlen, out, 1000, &got), -1,
          "too large for the grain refused");
  z[zlen / 2] ^= 0xff;
  is_int (h2k_vmdk_inflate_grain (z, zlen, out, sizeof out, &got), -1,
          "corrupt stream refused");
}

int
main (void)
{
  test_descriptor ();
  test_header ();
  test_markers_and_grains ();
  return done_testing ();
}
