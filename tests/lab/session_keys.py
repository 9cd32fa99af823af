#!/usr/bin/env python3
"""smbclient's `debug encryption = yes` output (stdin) to Wireshark
smb2_seskey_list entries (stdout), one per session: session id as 16 hex
digits in wire order (smbclient prints the bytes in that order), session key,
server-to-client key (ServerOut), client-to-server key (ServerIn)."""
import re
import sys

LABELS = ("Session Id", "Session Key", "Signing Key", "App Key", "ServerIn Key", "ServerOut Key")
sessions = []
cur = None
label = None
for line in sys.stdin:
    if "dumping generated session keys" in line:
        cur = {}
        sessions.append(cur)
        label = None
        continue
    if cur is None:
        continue
    m = re.match(r"^(\S.*?)\s+\[([0-9A-F]{4})\]\s+((?:[0-9A-F]{2}\s+)+)", line)
    if m and m.group(1).strip() in LABELS:
        label = m.group(1).strip()
        cur[label] = m.group(3).split()
    elif m is None:
        m2 = re.match(r"^\s+\[([0-9A-F]{4})\]\s+((?:[0-9A-F]{2}\s+)+)", line)
        if m2 and label:
            cur[label] += m2.group(2).split()
        else:
            label = None
for s in sessions:
    if "Session Id" in s and "Session Key" in s:
        # Hex bytes unquoted, as Wireshark writes (and -o uat: takes) them; an absent key as "".
        h = lambda k: "".join(s.get(k, [])).lower() or '""'
        print(",".join(h(k) for k in ("Session Id", "Session Key", "ServerOut Key", "ServerIn Key")))
