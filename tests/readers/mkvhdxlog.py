#!/usr/bin/env python3
"""Give a dynamic VHDX made by qemu-img a log that must be replayed.

    mkvhdxlog.py DISK.vhdx DISK.raw EXPECTED.raw [corrupt|truncated]

DISK.raw is qemu-img's raw conversion made before (guest block 0 must be
allocated).  The log gets: an old, valid but stale entry (sequence 3, which
must not be replayed), then the active sequence: entry 10 writes 'A' over
guest bytes 8 KiB-12 KiB, entry 11 (tail: entry 10) writes 'B' over the
same bytes and zeroes 16 KiB-20 KiB.  EXPECTED.raw is what a reader that
replays the log sees.  "corrupt" damages entry 10's data and drops the
stale entry (no valid sequence is left: the file must be refused);
"truncated" makes the log claim a larger file than there is.
"""
import struct
import sys
import uuid

disk, raw, expected = sys.argv[1:4]
mode = sys.argv[4] if len(sys.argv) > 4 else ""

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


data = bytearray(open(disk, "rb").read())
log_guid = uuid.UUID("e6fc743c-81ed-4fe8-bf54-698ed57ba0b8").bytes_le
hdr_offs = (64 * 1024, 128 * 1024)
log_off, log_len = None, None
for h in hdr_offs:
    hd = data[h:h + 4096]
    assert hd[:4] == b"head"
    hd[48:64] = log_guid
    log_len, log_off = struct.unpack("<IQ", hd[68:80])
    hd[4:8] = b"\0\0\0\0"
    hd[4:8] = struct.pack("<I", crc32c(hd))
    data[h:h + 4096] = hd

# Guest block 0's file offset, from the BAT (first region entry named BAT).
r = data[192 * 1024:256 * 1024]
bat = None
for i in range(struct.unpack("<I", r[8:12])[0]):
    e = r[16 + 32 * i:48 + 32 * i]
    if str(uuid.UUID(bytes_le=bytes(e[:16]))) == "2dc27766-f623-4200-9d64-115e9bfd4a08":
        bat = struct.unpack("<Q", e[16:24])[0]
(ent,) = struct.unpack("<Q", data[bat:bat + 8])
assert ent & 7 == 6, "guest block 0 must be allocated"
block0 = ent & 0xfffffffffff00000

size = len(data)
flushed = size + (1 << 20) if mode == "truncated" else size // (1 << 20) * (1 << 20)


def entry(seq, tail, writes, zeros):
    """writes: [(file offset, 4096 bytes)], zeros: [(file offset, length)]"""
    n = len(writes) + len(zeros)
    nsect = 1 + len(writes)
    e = bytearray(4096 * nsect)
    e[0:64] = struct.pack("<4sIIIQII16sQQ", b"loge", 0, len(e), tail, seq, n, 0,
                          log_guid, flushed, size)
    d = 64
    for i, (off, buf) in enumerate(writes):
        e[d:d + 32] = struct.pack("<4s4s8sQQ", b"desc", buf[4092:4096], buf[0:8], off, seq)
        s = 4096 * (1 + i)
        e[s:s + 4096] = struct.pack("<4sI", b"data", seq >> 32) + buf[8:4092] + struct.pack("<I", seq & 0xffffffff)
        d += 32
    for off, length in zeros:
        e[d:d + 32] = struct.pack("<4sIQQQ", b"zero", 0, length, off, seq)
        d += 32
    e[4:8] = struct.pack("<I", crc32c(e))
    return e


a = entry(10, 0, [(block0 + 8192, b"A" * 4096)], [])
b = entry(11, 0, [(block0 + 8192, b"B" * 4096)], [(block0 + 16384, 4096)])
stale = entry(3, 64 * 1024, [(block0 + 8192, b"S" * 4096)], [])
if mode == "corrupt":
    a[5000] ^= 0xff
log = bytearray(log_len)
log[0:len(a)] = a
log[len(a):len(a) + len(b)] = b
if mode != "corrupt":
    log[64 * 1024:64 * 1024 + len(stale)] = stale
data[log_off:log_off + log_len] = log
open(disk, "wb").write(data)

out = bytearray(open(raw, "rb").read())
out[8192:12288] = b"B" * 4096
out[16384:20480] = bytes(4096)
open(expected, "wb").write(out)
