#!/usr/bin/env python3
"""Rewrite a VHDX image (from qemu-img) into the smallest file that still
has every structure: the 1 MiB header area, the metadata region at 1 MiB,
the BAT at 2 MiB and the payload blocks from 3 MiB on, with no log.
Every region of a VHDX starts on a MiB boundary, so a qemu-img image
(log, BAT and metadata 1 MiB each, then the blocks) is at least 5 MiB;
the fuzz targets' inputs are a few MiB at most.  Only the present blocks
are kept, each cut to the disk's size (the last block may be short).

Usage: vhdx-compact.py IN OUT"""
import struct
import sys
import uuid


MiB = 1 << 20
BAT = "2dc27766-f623-4200-9d64-115e9bfd4a08"
META = "8b7ca206-4790-4b9a-b8fe-575f050f886e"
FILE_PARAMS = "caa16737-fa36-4d43-b3b6-33f0aa44e76b"
DISK_SIZE = "2fa54224-cd1b-4876-b211-5dbed83bf4b8"
LOGICAL_SECTOR = "8141bf1d-a96f-4709-ba47-f233a8faab5f"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def fix_crc(buf, off, length):
    buf[off + 4:off + 8] = b"\0\0\0\0"
    buf[off + 4:off + 8] = struct.pack("<I", crc32c(bytes(buf[off:off + length])))


def main():
    src = open(sys.argv[1], "rb").read()
    regions = {}
    rt = src[192 * 1024:256 * 1024]
    for i in range(struct.unpack("<I", rt[8:12])[0]):
        e = rt[16 + 32 * i:48 + 32 * i]
        off, length, _ = struct.unpack("<QII", e[16:32])
        regions[str(uuid.UUID(bytes_le=e[:16]))] = (off, length)
    moff, _ = regions[META]
    boff, _ = regions[BAT]

    # The metadata: the table, then each item, in the order they come.
    items = {}
    mt = src[moff:moff + 64 * 1024]
    count = struct.unpack("<H", mt[10:12])[0]
    end = 64 * 1024
    for i in range(count):
        e = mt[32 + 32 * i:64 + 32 * i]
        ioff, ilen = struct.unpack("<II", e[16:24])
        items[str(uuid.UUID(bytes_le=e[:16]))] = (ioff, ilen)
        end = max(end, ioff + ilen)
    meta = src[moff:moff + (end + 4095) // 4096 * 4096]
    block = struct.unpack("<I", src[moff + items[FILE_PARAMS][0]:][:4])[0]
    size = struct.unpack("<Q", src[moff + items[DISK_SIZE][0]:][:8])[0]
    sector = struct.unpack("<I", src[moff + items[LOGICAL_SECTOR][0]:][:4])[0]
    chunk = (1 << 23) * sector // block
    nblocks = (size + block - 1) // block
    entries = nblocks + (nblocks - 1) // chunk if nblocks else 0

    out = bytearray(src[:MiB])
    out += meta
    out += b"\0" * (2 * MiB - len(out))
    bat = bytearray(src[boff:boff + entries * 8])
    bat += b"\0" * ((len(bat) + 4095) // 4096 * 4096 - len(bat))
    payload = bytearray()
    pos = 3 * MiB
    for b in range(nblocks):
        k = b + b // chunk
        e = struct.unpack("<Q", bat[8 * k:8 * k + 8])[0]
        if e & 7 in (6, 7):
            blen = min(block, size - b * block)
            data = src[e & ~(MiB - 1):(e & ~(MiB - 1)) + blen]
            if payload:
                payload += b"\0" * (pos - 3 * MiB - len(payload))
            bat[8 * k:8 * k + 8] = struct.pack("<Q", pos | (e & 7))
            payload += data
            pos += (blen + MiB - 1) // MiB * MiB
    out += bat
    if payload:
        out += b"\0" * (3 * MiB - len(out))
        out += payload

    # The region tables: metadata at 1 MiB, the BAT at 2 MiB.
    for rt_off in (192 * 1024, 256 * 1024):
        n = struct.unpack("<I", out[rt_off + 8:rt_off + 12])[0]
        for i in range(n):
            e = rt_off + 16 + 32 * i
            g = str(uuid.UUID(bytes_le=bytes(out[e:e + 16])))
            if g == META:
                out[e + 16:e + 28] = struct.pack("<QI", MiB, len(meta))
            elif g == BAT:
                out[e + 16:e + 28] = struct.pack("<QI", 2 * MiB, len(bat))
        fix_crc(out, rt_off, 64 * 1024)
    # The headers: no log.
    for h in (64 * 1024, 128 * 1024):
        out[h + 48:h + 64] = b"\0" * 16
        out[h + 68:h + 80] = b"\0" * 12
        fix_crc(out, h, 4096)
    open(sys.argv[2], "wb").write(out)


main()
