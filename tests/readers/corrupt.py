#!/usr/bin/env python3
"""Damage disk images in precise ways for the malformed-input tests.

    corrupt.py FILE OPERATION ARGS...

Integers may be given in any Python notation (0x..).  Checksums are
recomputed after a change unless the operation is about the checksum, so
that each case exercises one check only.

  vhd-footer OFF FMT VALUE      patch both footer copies (struct format FMT)
  vhd-footer-raw OFF BYTE       patch the footers without fixing the checksum
  vhd-dyn OFF FMT VALUE         patch the dynamic header
  vhd-dyn-raw OFF BYTE          ... without fixing its checksum
  vhd-bat INDEX VALUE           set a BAT entry
  qcow2 OFF FMT VALUE           patch the qcow2 header
  qcow2-l1 INDEX VALUE          set an L1 entry
  qcow2-l2 VALUE                set the first non-zero L2 entry
  qcow2-l2-word INDEX VALUE     set 64-bit word INDEX of the first L2 table
  vhdx-header OFF FMT VALUE     patch both headers (CRC fixed)
  vhdx-header-raw OFF BYTE      ... without fixing the CRC
  vhdx-region-raw OFF BYTE      damage both region tables
  vhdx-region-add GUID REQUIRED add a region table entry (CRC fixed)
  vhdx-region-len GUID VALUE    change a region's length (CRC fixed)
  vhdx-meta-add GUID FLAGS      add a metadata table entry
  vhdx-meta-item GUID OFF FMT VALUE   patch a metadata item
  vhdx-bat INDEX VALUE          set a BAT entry
"""
import struct
import sys
import uuid

T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)


def crc32c(b):
    c = 0xffffffff
    for x in b:
        c = T[(c ^ x) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff


def num(s):
    return int(s, 0)


path, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
d = bytearray(open(path, "rb").read())


def put(off, fmt, value):
    d[off:off + struct.calcsize(fmt)] = struct.pack(fmt, value)


def vhd_sum(off, length, csum):
    b = bytearray(d[off:off + length])
    b[csum:csum + 4] = b"\0\0\0\0"
    d[off + csum:off + csum + 4] = struct.pack(">I", (~sum(b)) & 0xffffffff)


def vhd_footers():
    offs = [len(d) - 512]
    if d[0:8] == b"conectix" and len(d) > 512:
        offs.append(0)
    return offs


def vhd_dyn_off():
    return struct.unpack(">Q", d[len(d) - 512 + 16:len(d) - 512 + 24])[0]


def vhdx_crc(off, length):
    d[off + 4:off + 8] = b"\0\0\0\0"
    d[off + 4:off + 8] = struct.pack("<I", crc32c(d[off:off + length]))


def vhdx_regions():
    out = {}
    r = 192 * 1024
    for i in range(struct.unpack("<I", d[r + 8:r + 12])[0]):
        e = r + 16 + 32 * i
        out[str(uuid.UUID(bytes_le=bytes(d[e:e + 16])))] = (e, struct.unpack("<QI", d[e + 16:e + 28]))
    return out


META = "8b7ca206-4790-4b9a-b8fe-575f050f886e"
BAT = "2dc27766-f623-4200-9d64-115e9bfd4a08"

if op == "vhd-footer":
    for f in vhd_footers():
        put(f + num(args[0]), args[1], num(args[2]))
        vhd_sum(f, 512, 64)
elif op == "vhd-footer-raw":
    for f in vhd_footers():
        d[f + num(args[0])] ^= num(args[1])
elif op == "vhd-dyn":
    o = vhd_dyn_off()
    put(o + num(args[0]), args[1], num(args[2]))
    vhd_sum(o, 1024, 36)
elif op == "vhd-dyn-raw":
    d[vhd_dyn_off() + num(args[0])] ^= num(args[1])
elif op == "vhd-bat":
    o = vhd_dyn_off()
    bat = struct.unpack(">Q", d[o + 16:o + 24])[0]
    put(bat + 4 * num(args[0]), ">I", num(args[1]))
elif op == "qcow2":
    put(num(args[0]), args[1], num(args[2]))
elif op == "qcow2-l1":
    l1 = struct.unpack(">Q", d[40:48])[0]
    put(l1 + 8 * num(args[0]), ">Q", num(args[1]))
elif op == "qcow2-l2":
    l1 = struct.unpack(">Q", d[40:48])[0]
    l2 = struct.unpack(">Q", d[l1:l1 + 8])[0] & 0x00fffffffffffe00
    cs = 1 << struct.unpack(">I", d[20:24])[0]
    for i in range(cs // 8):
        if struct.unpack(">Q", d[l2 + 8 * i:l2 + 8 * i + 8])[0]:
            put(l2 + 8 * i, ">Q", num(args[0]))
            break
elif op == "qcow2-l2-word":
    l1 = struct.unpack(">Q", d[40:48])[0]
    l2 = struct.unpack(">Q", d[l1:l1 + 8])[0] & 0x00fffffffffffe00
    put(l2 + 8 * num(args[0]), ">Q", num(args[1]))
elif op == "vhdx-header":
    for h in (64 * 1024, 128 * 1024):
        put(h + num(args[0]), args[1], num(args[2]))
        vhdx_crc(h, 4096)
elif op == "vhdx-header-raw":
    for h in (64 * 1024, 128 * 1024):
        d[h + num(args[0])] ^= num(args[1])
elif op == "vhdx-region-raw":
    for r in (192 * 1024, 256 * 1024):
        d[r + num(args[0])] ^= num(args[1])
elif op in ("vhdx-region-add", "vhdx-region-len"):
    for r in (192 * 1024, 256 * 1024):
        n = struct.unpack("<I", d[r + 8:r + 12])[0]
        if op == "vhdx-region-add":
            e = r + 16 + 32 * n
            d[e:e + 32] = uuid.UUID(args[0]).bytes_le + struct.pack("<QII", 1 << 20, 1 << 20, num(args[1]))
            put(r + 8, "<I", n + 1)
        else:
            for i in range(n):
                e = r + 16 + 32 * i
                if str(uuid.UUID(bytes_le=bytes(d[e:e + 16]))) == args[0]:
                    put(e + 24, "<I", num(args[1]))
        vhdx_crc(r, 64 * 1024)
elif op == "vhdx-meta-add":
    m = vhdx_regions()[META][1][0]
    n = struct.unpack("<H", d[m + 10:m + 12])[0]
    e = m + 32 + 32 * n
    d[e:e + 32] = uuid.UUID(args[0]).bytes_le + struct.pack("<IIII", 0, 0, num(args[1]), 0)
    put(m + 10, "<H", n + 1)
elif op == "vhdx-meta-item":
    m = vhdx_regions()[META][1][0]
    n = struct.unpack("<H", d[m + 10:m + 12])[0]
    for i in range(n):
        e = m + 32 + 32 * i
        if str(uuid.UUID(bytes_le=bytes(d[e:e + 16]))) == args[0]:
            off = struct.unpack("<I", d[e + 16:e + 20])[0]
            put(m + off + num(args[1]), args[2], num(args[3]))
elif op == "vhdx-bat":
    b = vhdx_regions()[BAT][1][0]
    put(b + 8 * num(args[0]), "<Q", num(args[1]))
else:
    sys.exit("corrupt.py: unknown operation " + op)
open(path, "wb").write(d)
