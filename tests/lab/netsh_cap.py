#!/usr/bin/env python3
"""Rewrite an Ethernet pcap as a `netsh trace` capture saved in Network Monitor
format, for an end-to-end test of smbdiag's NDIS event decoding where no
Windows machine can make a real one.

    tests/lab/netsh_cap.py IN.pcap OUT.cap [--no-extended] [--other-after N]

OUT.cap is a Network Monitor 2.3 file (the format's last version, with a UTC
time per frame): the 128-byte "GMBU" header, one record
per frame (time offset, lengths, data, then the 2.3 trailer: media type, process
index, UTC time, time zone index), and the frame table. Every frame's media type
is 0xFFE0 (NETEVENT): the data is an ETW event record as Network Monitor stores
it -- EVENT_HEADER (80 bytes), ETW_BUFFER_CONTEXT, ExtendedDataCount,
UserDataLength, one "Reassembled" byte, the extended data items (8-byte header,
data inline), the user data.

Each Ethernet frame becomes event 1001 (EventPacketFragment) of
Microsoft-Windows-NDIS-PacketCapture: MiniportIfIndex, LowerIfIndex,
FragmentSize, the frame, keyword 802.3 | packet start | packet end, plus the
send or receive path bit (frames from the first frame's source MAC are sent).
Every other packet event carries an extended data item (a terminal session id)
unless --no-extended. Events that hold no packet, as real traces have them,
are added: NDIS-PacketCapture's EventDriverLoad (1012) and EventLayerLoad (1014)
first, and an event of another provider (Microsoft-Windows-TCPIP) after packet
N (--other-after, default: the middle packet). Their frames hold no packet.

Layout as Wireshark reads it: wiretap/netmon.c (file, records, trailers),
epan/dissectors/packet-netmon.c (the event record) and
packet-messageanalyzer.c (the NDIS-PacketCapture events). Standard library only.
"""

import argparse
import datetime
import struct
import sys
import uuid

NDIS_PACKET_CAPTURE = uuid.UUID("2ED6006E-4729-4609-B423-3EE7BCD678EF")
TCPIP = uuid.UUID("2F07E2EE-15DB-40F1-90EF-9D7BA282188A")

KW_802_3 = 0x1
KW_PACKET_START = 0x4000_0000
KW_PACKET_END = 0x8000_0000
KW_SEND_PATH = 0x1_0000_0000
KW_RECV_PATH = 0x2_0000_0000

EVENT_HEADER_FLAG_EXTENDED_INFO = 0x0001
EVENT_HEADER_FLAG_64_BIT_HEADER = 0x0040
EVENT_HEADER_PROPERTY_XML = 0x0001  # manifest-based provider
EXT_TYPE_TS_ID = 3

NETMON_NET_NETEVENT = 0xFFE0
HEADER_SIZE = 128
# Seconds between 1601-01-01 (FILETIME) and 1970-01-01.
FILETIME_EPOCH = 11644473600
# Plausible values for what the converted capture cannot know.
MINIPORT_IF_INDEX = 7
SYSTEM_PID = 4
THREAD_ID = 0x1F4
# The capture filter's unique name in EventDriverLoad: a made-up id, not Windows'.
LAB_FILTER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "smbdiag:netsh_cap.py")).upper()


def read_pcap(path):
    """(link type, [(seconds, nanoseconds, frame bytes)]) of a classic pcap file."""
    data = open(path, "rb").read()
    if len(data) < 24:
        sys.exit(f"{path}: not a pcap file")
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1000),
        b"\xa1\xb2\xc3\xd4": (">", 1000),
        b"\x4d\x3c\xb2\xa1": ("<", 1),
        b"\xa1\xb2\x3c\x4d": (">", 1),
    }
    if magic not in formats:
        sys.exit(f"{path}: not a classic pcap file (pcapng? convert it with editcap -F pcap)")
    end, to_ns = formats[magic]
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFF_FFFF
    frames, at = [], 24
    while at + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[at:at + 16])
        at += 16
        frames.append((sec, frac * to_ns, data[at:at + incl]))
        at += incl
    return linktype, frames


def filetime(sec, ns):
    return (sec + FILETIME_EPOCH) * 10_000_000 + ns // 100


def event(provider, event_id, keyword, ts, user, ext=(), opcode=0, level=4, channel=0x10, task=0):
    """One ETW event record as Network Monitor stores it."""
    flags = EVENT_HEADER_FLAG_64_BIT_HEADER | (EVENT_HEADER_FLAG_EXTENDED_INFO if ext else 0)
    ext_bytes = b"".join(struct.pack("<HHHH", 0, t, 0, len(d)) + d for t, d in ext)
    size = 80 + 4 + 2 + 2 + 1 + len(ext_bytes) + len(user)
    header = struct.pack(
        "<HHHHIIq16sHBBBBHQII16s",
        min(size, 0xFFFF),  # Size of the whole record
        0,  # HeaderType
        flags,
        EVENT_HEADER_PROPERTY_XML,
        THREAD_ID,
        SYSTEM_PID,
        ts,  # FILETIME, as the record's own
        provider.bytes_le,
        event_id, 0, channel, level, opcode, task, keyword,  # EVENT_DESCRIPTOR
        0, 0,  # KernelTime, UserTime (ProcessorTime for Wireshark: same 8 bytes)
        bytes(16),  # ActivityId
    )
    assert len(header) == 80
    # ETW_BUFFER_CONTEXT (processor 0, alignment 8, logger id), counts, Reassembled.
    tail = struct.pack("<BBHHHB", 0, 8, 0x21, len(ext), min(len(user), 0xFFFF), 0)
    return header + tail + ext_bytes + user


def utf16z(s):
    return s.encode("utf-16-le") + b"\0\0"


def packet_event(frame, ts, sent, with_ext):
    keyword = KW_802_3 | KW_PACKET_START | KW_PACKET_END | (KW_SEND_PATH if sent else KW_RECV_PATH)
    user = struct.pack("<III", MINIPORT_IF_INDEX, MINIPORT_IF_INDEX, len(frame)) + frame
    ext = [(EXT_TYPE_TS_ID, struct.pack("<I", 1))] if with_ext else []
    return event(NDIS_PACKET_CAPTURE, 1001, keyword, ts, user, ext)


def write_netmon(path, records):
    """records: [(seconds, nanoseconds, event bytes)] in time order."""
    first_sec, first_ns, _ = records[0]
    # The header's start time is a SYSTEMTIME (milliseconds); 2.3 trailers carry the exact UTC time.
    start = datetime.datetime.fromtimestamp(first_sec, datetime.timezone.utc)
    start_ms = first_ns // 1_000_000
    body, table = bytearray(), []
    for sec, ns, ev in records:
        table.append(HEADER_SIZE + len(body))
        delta_us = ((sec - first_sec) * 1_000_000_000 + ns - start_ms * 1_000_000) // 1000
        # Signed: a frame may come before the header's millisecond (Wireshark allows it).
        body += struct.pack("<qII", delta_us, len(ev), len(ev)) + ev
        # 2.3 trailer: media type, process info index, UTC FILETIME, time zone index.
        body += struct.pack("<HIQB", NETMON_NET_NETEVENT, 0, filetime(sec, ns), 0)
    table_offset = HEADER_SIZE + len(body)
    header = b"GMBU" + struct.pack(
        "<BBH8H10I",
        3, 2,  # version 2.3
        1,  # Ethernet: NetMon 3 writes it for older readers; frames carry their own type
        start.year, start.month, (start.weekday() + 1) % 7, start.day,
        start.hour, start.minute, start.second, start_ms,
        table_offset, 4 * len(table),
        0, 0,  # user data
        0, 0,  # comments
        0, 0,  # process info
        0, 0,  # network info
    )
    header = header.ljust(HEADER_SIZE, b"\0")
    with open(path, "wb") as f:
        f.write(header + body + struct.pack(f"<{len(table)}I", *table))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("out")
    ap.add_argument("--no-extended", action="store_true", help="no extended data item on packet events")
    ap.add_argument("--other-after", type=int, help="packet after which the other provider's event comes")
    a = ap.parse_args()
    linktype, frames = read_pcap(a.pcap)
    if linktype != 1:
        sys.exit(f"{a.pcap}: link type {linktype}, not Ethernet (1)")
    if not frames:
        sys.exit(f"{a.pcap}: no frames")
    other_after = len(frames) // 2 if a.other_after is None else a.other_after
    local_mac = frames[0][2][6:12]
    sec0, ns0, _ = frames[0]
    ts0 = filetime(sec0, ns0)
    records = [
        (sec0, ns0, event(NDIS_PACKET_CAPTURE, 1012, 0, ts0, b"".join(
            utf16z(s) for s in ("Microsoft-Windows-NDIS-PacketCapture", "{%s}" % LAB_FILTER_ID, "NdisCap", "6.1")),
            )),
        (sec0, ns0, event(NDIS_PACKET_CAPTURE, 1014, 0, ts0, struct.pack("<IIII", MINIPORT_IF_INDEX, MINIPORT_IF_INDEX, 0, 1),
                          ext=[(EXT_TYPE_TS_ID, struct.pack("<I", 0))])),
    ]
    def other(sec, ns):
        # An opaque event of another provider (TCP/IP's), at the instant of the packet before it.
        records.append((sec, ns, event(TCPIP, 1033, 0x8000_0000_0000_0000, filetime(sec, ns), bytes(range(24)), level=5)))

    if other_after <= 0:
        other(sec0, ns0)
    for i, (sec, ns, frame) in enumerate(frames, 1):
        records.append((sec, ns, packet_event(frame, filetime(sec, ns), frame[6:12] == local_mac, not a.no_extended and i % 2 == 0)))
        if i == min(other_after, len(frames)):
            other(sec, ns)
    write_netmon(a.out, records)
    print(f"{a.out}: {len(frames)} packets as NDIS-PacketCapture events, {len(records) - len(frames)} other events", file=sys.stderr)


if __name__ == "__main__":
    main()
