#!/usr/bin/python3
"""Lab helper: an upload into a server that stops reading. The client opens
FILE for writing, prints "opened" and waits for a line on stdin; meanwhile
the lab freezes the smbd process serving this connection. Then the client
sends one WRITE of SIZE bytes: the frozen server's receive buffer fills and
its TCP advertises a zero window until the lab lets smbd run again. Uses
impacket (python3-impacket), whose writeFile sends one WRITE request per
chunk of the server's MaxWriteSize (8 MiB on Samba).

    stalled_upload.py SERVER SHARE FILE SIZE USER PASSWORD
"""
import os
import sys

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection

server, share, name, size, user, password = sys.argv[1:7]
conn = SMBConnection(server, server, preferredDialect=s.SMB2_DIALECT_30)
# impacket encrypts every session it can; a plain one, like smbclient's.
conn.getSMBServer()._Connection['SupportsEncryption'] = False
conn.login(user, password)
tid = conn.connectTree(share)
fid = conn.createFile(tid, name)
print("opened", flush=True)
sys.stdin.readline()
conn.writeFile(tid, fid, os.urandom(int(size)))
conn.closeFile(tid, fid)
conn.logoff()
print("written", flush=True)
