#!/usr/bin/env python3
"""A userspace tunnel end for the encapsulations this lab's kernel has no
device for (no 8021q, ip_gre or erspan modules): the SMB traffic of a real
smbd and smbclient goes through a TAP device; this program wraps each frame
it reads there the way the kernel device would (802.1Q tag, Q-in-Q tags,
GRE with Ethernet inside, ERSPAN type II or III in GRE) and sends it on the
veth underlay, and unwraps what arrives from the peer into the TAP.

    encap_bridge.py KIND TAP UNDERLAY LOCAL_IP REMOTE_IP PEER_MAC

KIND: vlan, qinq, gretap, erspan2, erspan3. Runs until killed.
"""
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
GRE_SEQ = 0x1000


def ip_checksum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Bridge:
    def __init__(self, kind, tap, underlay, local_ip, remote_ip, peer_mac):
        self.kind = kind
        self.tap = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.tap, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((underlay, 0))
        self.my_mac = self.sock.getsockname()[4]
        self.peer_mac = bytes.fromhex(peer_mac.replace(":", ""))
        self.local, self.remote = socket.inet_aton(local_ip), socket.inet_aton(remote_ip)
        self.seq = 0
        self.ip_id = 0

    def ipv4_gre(self, gre):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(gre), self.ip_id, 0x4000, 64, 47, 0, self.local, self.remote)
        h = h[:10] + struct.pack("!H", ip_checksum(h)) + h[12:]
        return self.peer_mac + self.my_mac + b"\x08\x00" + h + gre

    def wrap(self, frame):
        macs, rest = frame[:12], frame[12:]
        if self.kind == "vlan":
            return macs + struct.pack("!HH", 0x8100, 10) + rest
        if self.kind == "qinq":
            return macs + struct.pack("!HHHH", 0x88A8, 100, 0x8100, 10) + rest
        if self.kind == "gretap":
            return self.ipv4_gre(struct.pack("!HH", 0, 0x6558) + frame)
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        if self.kind == "erspan2":
            # Ver 1, VLAN 0 | COS 0, En 0, T 0, session 123 | reserved, index 0.
            span = struct.pack("!HHI", 0x1000, 123, 0)
            return self.ipv4_gre(struct.pack("!HHI", GRE_SEQ, 0x88BE, self.seq) + span + frame)
        # erspan3: Ver 2, VLAN 0 | COS, BSO, T, session 123 | timestamp | SGT, P, FT 0 (Ethernet), HW ID 7, D, Gra, O 0.
        span = struct.pack("!HHIHH", 0x2000, 123, self.seq, 0, 7 << 4)
        return self.ipv4_gre(struct.pack("!HHI", GRE_SEQ, 0x22EB, self.seq) + span + frame)

    def unwrap(self, frame):
        if self.kind in ("vlan", "qinq"):
            # The kernel may already have taken the outer tag into metadata.
            macs, rest = frame[:12], frame[12:]
            while rest[:2] in (b"\x81\x00", b"\x88\xa8"):
                rest = rest[4:]
            return macs + rest
        if frame[12:14] != b"\x08\x00" or frame[23] != 47 or frame[26:30] != self.remote:
            return None
        gre = frame[14 + (frame[14] & 0x0F) * 4:]
        flags, proto = struct.unpack("!HH", gre[:4])
        body = gre[8:] if flags & GRE_SEQ else gre[4:]
        if proto == 0x6558:
            return body
        if proto == 0x88BE:
            return body[8:]
        if proto == 0x22EB:
            return body[12:]
        return None

    def run(self):
        while True:
            ready, _, _ = select.select([self.tap, self.sock], [], [])
            if self.tap in ready:
                self.sock.send(self.wrap(os.read(self.tap, 65536)))
            if self.sock in ready:
                data, addr = self.sock.recvfrom(65536)
                if addr[2] == PACKET_OUTGOING:
                    continue
                inner = self.unwrap(data)
                if inner and len(inner) >= 14:
                    os.write(self.tap, inner)


if __name__ == "__main__":
    Bridge(*sys.argv[1:7]).run()
