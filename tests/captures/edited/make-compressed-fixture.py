#!/usr/bin/env python3
"""Compressed twin of ../lab/share_not_found.pcap: no lab here can compress
(Samba 4.17 does not negotiate SMB 3.1.1 compression; the kernel cifs client
has no module on this machine), so the TREE_CONNECT request and its
STATUS_BAD_NETWORK_NAME response are rewritten as compressed messages:

- frame 18 (request): unchained COMPRESSION_TRANSFORM_HEADER, LZ77, the
  64-byte SMB2 header left uncompressed (Offset 64) and the body as a plain
  LZ77 stream of literals;
- frame 19 (response): chained, a NONE payload (header and first body byte)
  and a Pattern_V1 payload (the eight zero bytes that end the error body).

With --corrupt, two messages that do not decompress, for the
decode.not_decompressed note: the request's LZ77 stream loses its last 8
bytes (it ends before the size its header claims), and the response's second
payload is marked LZ4 (an algorithm smbdiag does not decompress).

Sequence and acknowledgement numbers of the later frames are shifted by the
growth, so the TCP stream stays whole.
Usage: make-compressed-fixture.py IN OUT [--corrupt]
"""
import struct
import sys

REQUEST, RESPONSE = 18, 19


def lz77_literals(data):
    out = b""
    for i in range(0, len(data), 32):
        c = data[i:i + 32]
        flags = 0 if len(c) == 32 else (1 << (32 - len(c))) - 1
        out += struct.pack("<I", flags) + c
    return out


CORRUPT = False


def unchained(msg):
    body = msg[64:]
    data = lz77_literals(body)
    if CORRUPT:
        data = data[:-8]
    return b"\xfcSMB" + struct.pack("<IHHI", len(body), 2, 0, 64) + msg[:64] + data


def chained(msg):
    assert msg[65:] == b"\0" * 8, "the error body ends in eight zeros"
    out = b"\xfcSMB" + struct.pack("<I", len(msg))
    out += struct.pack("<HHI", 0, 1, 65) + msg[:65]
    out += struct.pack("<HHI", 5 if CORRUPT else 4, 0, 8) + struct.pack("<BBHI", 0, 0, 0, 8)
    return out


def main(src, dst):
    d = open(src, "rb").read()
    assert d[:4] == b"\xd4\xc3\xb2\xa1", "classic little-endian pcap"
    out, off, n = [d[:24]], 24, 0
    shift = {}  # (src port) -> bytes added to that direction so far
    while off + 16 <= len(d):
        ts_s, ts_us, incl, orig = struct.unpack("<IIII", d[off:off + 16])
        frame = bytearray(d[off + 16:off + 16 + incl])
        off += 16 + incl
        n += 1
        ihl = (frame[14] & 0x0f) * 4
        tcp = 14 + ihl
        sport, dport = struct.unpack(">HH", frame[tcp:tcp + 4])
        thl = (frame[tcp + 12] >> 4) * 4
        payload = bytes(frame[tcp + thl:])
        seq, ack = struct.unpack(">II", frame[tcp + 4:tcp + 12])
        seq = (seq + shift.get(sport, 0)) & 0xffffffff
        ack = (ack + shift.get(dport, 0)) & 0xffffffff
        frame[tcp + 4:tcp + 12] = struct.pack(">II", seq, ack)
        if n in (REQUEST, RESPONSE):
            assert struct.unpack(">I", payload[:4])[0] == len(payload) - 4, "one whole PDU in the frame"
            msg = payload[4:]
            new = unchained(msg) if n == REQUEST else chained(msg)
            new = struct.pack(">I", len(new)) + new
            shift[sport] = shift.get(sport, 0) + len(new) - len(payload)
            frame = frame[:tcp + thl] + new
            struct.pack_into(">H", frame, 16, len(frame) - 14)
        out.append(struct.pack("<IIII", ts_s, ts_us, len(frame), len(frame)) + bytes(frame))
    open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
    CORRUPT = "--corrupt" in sys.argv[3:]
    main(sys.argv[1], sys.argv[2])
