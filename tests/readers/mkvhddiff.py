#!/usr/bin/env python3
"""Turn a dynamic VHD made by qemu-img into a differencing VHD.

    mkvhddiff.py CHILD.vhd PARENT.vhd CHILD.raw PARENT.raw EXPECTED.raw

qemu-img cannot write differencing VHDs, so the tests make one: CHILD's
footer type becomes 4 (differencing), its dynamic header names PARENT (its
UUID, its name, a relative W2ru locator), and the sector bitmap of every
allocated block is set to a pattern (4 KiB present, 4 KiB absent, ...).
CHILD.raw and PARENT.raw are qemu-img's raw conversions (qemu ignores the
bitmap and the parent); EXPECTED.raw gets what a correct reader sees: the
child's sectors where the bitmap says so, the parent's elsewhere.
"""
import os
import struct
import sys

child, parent, child_raw, parent_raw, expected = sys.argv[1:6]


def checksum(buf, off):
    b = bytearray(buf)
    b[off:off + 4] = b"\0\0\0\0"
    return (~sum(b)) & 0xffffffff


with open(parent, "rb") as f:
    f.seek(-512, os.SEEK_END)
    pfooter = f.read(512)
parent_uuid = pfooter[68:84]

data = bytearray(open(child, "rb").read())
footer = bytearray(data[-512:])
assert footer[:8] == b"conectix"
footer[60:64] = struct.pack(">I", 4)
footer[64:68] = struct.pack(">I", checksum(footer, 64))

dh_off = struct.unpack(">Q", footer[16:24])[0]
dh = bytearray(data[dh_off:dh_off + 1024])
bat_off = struct.unpack(">Q", dh[16:24])[0]
entries = struct.unpack(">I", dh[28:32])[0]
block = struct.unpack(">I", dh[32:36])[0]
bitmap_size = ((block // 512 + 7) // 8 + 511) // 512 * 512
size = struct.unpack(">Q", footer[48:56])[0]

name = os.path.basename(parent)
dh[40:56] = parent_uuid
dh[64:576] = name.encode("utf-16-be").ljust(512, b"\0")
# MKVHDDIFF_LOCATOR=macx: a Xen-style UTF-8 file URL instead of W2ru;
# =macx-abs: the same with an absolute path.
kind = os.environ.get("MKVHDDIFF_LOCATOR", "w2ru")
if kind == "macx":
    code, loc = b"MacX", ("file://./" + name.replace(" ", "%20")).encode()
elif kind == "macx-abs":
    code, loc = b"MacX", ("file://" + os.path.abspath(parent).replace(" ", "%20")).encode()
else:
    code, loc = b"W2ru", (".\\" + name).encode("utf-16-le")
loc_off = len(data) - 512
dh[576:600] = struct.pack(">4sIIIQ", code, 512, len(loc), 0, loc_off)
dh[36:40] = struct.pack(">I", checksum(dh, 36))
data[dh_off:dh_off + 1024] = dh

craw = open(child_raw, "rb").read()
praw = open(parent_raw, "rb").read()
out = bytearray(praw[:len(craw)].ljust(len(craw), b"\0"))
for b in range(entries):
    (e,) = struct.unpack(">I", data[bat_off + 4 * b:bat_off + 4 * b + 4])
    if e == 0xffffffff:
        continue
    bm = bytearray(bitmap_size)
    for s in range(block // 512):
        if (s // 8) % 2 == 0:
            bm[s // 8] |= 0x80 >> (s % 8)
            start = b * block + s * 512
            out[start:start + 512] = craw[start:start + 512]
    data[e * 512:e * 512 + bitmap_size] = bm

data[0:512] = footer
data = data[:-512] + loc.ljust(512, b"\0") + footer
open(child, "wb").write(data)
open(expected, "wb").write(out)
