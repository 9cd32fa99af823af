#!/usr/bin/env python3
"""Build alias_rejected_kerberos.pcap: the seed article's CNAME case with the
Kerberos side real.

../lab/kerberos_ntlm_fallback.pcap is a real capture (Samba AD DC, smbclient):
the client reaches the DC by an alias, files.lab.test, that has no SPN; the KDC
answers KDC_ERR_S_PRINCIPAL_UNKNOWN (frames 27 and 39) and the client logs on
with NTLM to "cifs/files.lab.test", while the server's CHALLENGE names it LABDC
/ labdc.lab.test. Samba has no strict name checking, so it accepted the
session (frame 48). A Windows server with strict name checking refuses it with
STATUS_ACCESS_DENIED: this script writes that status (0xc0000022) into frame
48's SMB2 header and keeps frames 1-48 (a refused client goes no further).
Lengths are unchanged; the signature of that response and the TCP checksum no
longer match, which no dissector here checks. Run from this folder:

    python3 make-alias-kerberos-fixture.py
"""
import struct
import sys

SRC = "../lab/kerberos_ntlm_fallback.pcap"
DST = "alias_rejected_kerberos.pcap"
FRAME = 48
LAST = 48
ACCESS_DENIED = struct.pack("<I", 0xC0000022)

data = open(SRC, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
if magic not in (0xA1B2C3D4, 0xA1B23C4D):
    sys.exit("expected a little-endian pcap file")
out = bytearray(data[:24])
pos, n = 24, 0
while pos + 16 <= len(data) and n < LAST:
    incl = struct.unpack("<I", data[pos + 8:pos + 12])[0]
    rec = bytearray(data[pos:pos + 16 + incl])
    n += 1
    if n == FRAME:
        smb = rec.find(b"\xfeSMB", 16)
        if smb < 0 or rec[smb + 12] != 1 or not rec[smb + 16] & 1:
            sys.exit(f"frame {FRAME} is not the SESSION_SETUP response")
        if rec[smb + 8:smb + 12] != b"\0\0\0\0":
            sys.exit(f"frame {FRAME} is not a success")
        rec[smb + 8:smb + 12] = ACCESS_DENIED
    out += rec
    pos += 16 + incl
open(DST, "wb").write(out)
print(f"wrote {DST}: frames 1-{n}")
