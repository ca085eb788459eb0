#!/usr/bin/env python3
"""Turn a dynamic VHDX made by qemu-img into a differencing VHDX.

    mkvhdxdiff.py CHILD.vhdx PARENT.vhdx CHILD.raw PARENT.raw EXPECTED.raw

qemu-img cannot write (or read) differencing VHDX files, so the tests make
one: the HasParent flag is set in CHILD's file parameters, a parent locator
(parent_linkage = PARENT's DataWriteGuid, relative_path = PARENT's name) is
added to its metadata, the first chunk's sector bitmap block is appended,
and every fully present payload block but the first becomes partially
present with a pattern (4 KiB present, 4 KiB absent, ...).  CHILD.raw and
PARENT.raw are qemu-img's raw conversions made before; EXPECTED.raw gets
what a correct reader sees.  Headers are untouched (the BAT and metadata
carry no checksums), so no CRC has to be recomputed.
"""
import os
import struct
import sys
import uuid

child, parent, child_raw, parent_raw, expected = sys.argv[1:6]
MiB = 1 << 20


def current_header(data):
    h1, h2 = data[64 * 1024:68 * 1024], data[128 * 1024:132 * 1024]
    s1, s2 = struct.unpack("<Q", h1[8:16])[0], struct.unpack("<Q", h2[8:16])[0]
    return h1 if s1 >= s2 else h2


def regions(data):
    r = data[192 * 1024:256 * 1024]
    out = {}
    for i in range(struct.unpack("<I", r[8:12])[0]):
        e = r[16 + 32 * i:48 + 32 * i]
        out[str(uuid.UUID(bytes_le=bytes(e[:16])))] = struct.unpack("<QI", e[16:28])
    return out


BAT = "2dc27766-f623-4200-9d64-115e9bfd4a08"
META = "8b7ca206-4790-4b9a-b8fe-575f050f886e"
FP = "caa16737-fa36-4d43-b3b6-33f0aa44e76b"
SIZE = "2fa54224-cd1b-4876-b211-5dbed83bf4b8"
LSS = "8141bf1d-a96f-4709-ba47-f233a8faab5f"
# MKVHDXDIFF_SECTOR=4096: the child gets 4 KiB logical sectors (one bitmap
# bit per 4 KiB, and a chunk ratio 8 times larger).
sector = int(os.environ.get("MKVHDXDIFF_SECTOR", "512"))
PL = "a8d35f2d-b30b-454d-abf7-d3d84834ab0c"
LOCTYPE = "b04aefb7-d19e-4a81-b789-25b8e9445913"

pdata = open(parent, "rb").read()
pguid = uuid.UUID(bytes_le=bytes(current_header(pdata)[32:48]))

data = bytearray(open(child, "rb").read())
reg = regions(data)
bat_off, bat_len = reg[BAT]
meta_off, meta_len = reg[META]

# Metadata: set HasParent, find the sizes, add the parent locator.
t = meta_off
count = struct.unpack("<H", data[t + 10:t + 12])[0]
items = {}
end = 64 * 1024
for i in range(count):
    e = t + 32 + 32 * i
    g = str(uuid.UUID(bytes_le=bytes(data[e:e + 16])))
    off, length = struct.unpack("<II", data[e + 16:e + 24])
    items[g] = off
    end = max(end, off + length)
fp = meta_off + items[FP]
block_size, flags = struct.unpack("<II", data[fp:fp + 8])
data[fp + 4:fp + 8] = struct.pack("<I", flags | 2)
size = struct.unpack("<Q", data[meta_off + items[SIZE]:meta_off + items[SIZE] + 8])[0]
data[meta_off + items[LSS]:meta_off + items[LSS] + 4] = struct.pack("<I", sector)
assert size % sector == 0

kv = [("parent_linkage", "{%s}" % pguid), ("relative_path", ".\\" + os.path.basename(parent))]
strings = b""
entries = b""
base = 20 + 12 * len(kv)
for k, v in kv:
    kb, vb = k.encode("utf-16-le"), v.encode("utf-16-le")
    entries += struct.pack("<IIHH", base + len(strings), base + len(strings) + len(kb), len(kb), len(vb))
    strings += kb + vb
loc = uuid.UUID(LOCTYPE).bytes_le + struct.pack("<HH", 0, len(kv)) + entries + strings
loc_off = (end + 4095) // 4096 * 4096
data[meta_off + loc_off:meta_off + loc_off + len(loc)] = loc
e = t + 32 + 32 * count
data[e:e + 32] = uuid.UUID(PL).bytes_le + struct.pack("<IIII", loc_off, len(loc), 4, 0)
data[t + 10:t + 12] = struct.pack("<H", count + 1)

# BAT: a bitmap block for chunk 0, partially present blocks.
chunk_ratio = (1 << 23) * sector // block_size
nblocks = (size + block_size - 1) // block_size
assert nblocks <= chunk_ratio, "one chunk only"
assert (chunk_ratio + 1) * 8 <= bat_len
bm_off = (len(data) + MiB - 1) // MiB * MiB
data += bytes(bm_off + MiB - len(data))
craw = open(child_raw, "rb").read()
praw = open(parent_raw, "rb").read()
out = bytearray(praw[:size].ljust(size, b"\0"))
spb = block_size // sector
for b in range(nblocks):
    (ent,) = struct.unpack("<Q", data[bat_off + 8 * b:bat_off + 8 * b + 8])
    state = ent & 7
    start, stop = b * block_size, min(size, (b + 1) * block_size)
    if state == 6 and b == 0:
        out[start:stop] = craw[start:stop]
    elif state == 6:
        data[bat_off + 8 * b:bat_off + 8 * b + 8] = struct.pack("<Q", (ent & ~7) | 7)
        for s in range(spb):
            if (s // 8) % 2 == 0:
                bit = b * spb + s
                data[bm_off + bit // 8] |= 1 << (bit % 8)
                p = start + s * sector
                if p < stop:
                    out[p:p + sector] = craw[p:p + sector]
    elif state in (1, 2, 3):
        out[start:stop] = bytes(stop - start)
data[bat_off + 8 * chunk_ratio:bat_off + 8 * chunk_ratio + 8] = struct.pack("<Q", bm_off | 6)
open(child, "wb").write(data)
open(expected, "wb").write(out)
