#!/usr/bin/env python3
"""Build alias_rejected.pcap, the fixture for session.alias_rejected.

No real capture of the seed article's case (a client connecting through a DNS
CNAME alias, Kerberos falling back to NTLM, the server's strict name checking
refusing the session with STATUS_ACCESS_DENIED) exists here: it needs Windows
on both ends. So this takes a real lab capture whose SESSION_SETUP is refused
with STATUS_ACCESS_DENIED (../lab/encryption_old_client.pcap) and rewrites, in
the client's NTLM AUTHENTICATE, the name the client addressed (MsvAvTargetName
"cifs/10.99.0.2", UTF-16LE) to an alias of the same length, "cifs/fileshare".
The server's own names (LABSRV, vm) in its CHALLENGE stay as captured. Every
length and offset is unchanged; the NTLM MIC and the TCP checksum no longer
match, which no dissector here checks. Run from this folder:

    python3 make-alias-fixture.py
"""
import sys

SRC = "../lab/encryption_old_client.pcap"
DST = "alias_rejected.pcap"
OLD = "cifs/10.99.0.2".encode("utf-16-le")
NEW = "cifs/fileshare".encode("utf-16-le")
assert len(OLD) == len(NEW)

data = open(SRC, "rb").read()
n = data.count(OLD)
if n != 1:
    sys.exit(f"expected the target name once in {SRC}, found it {n} times")
open(DST, "wb").write(data.replace(OLD, NEW))
print(f"wrote {DST}")
