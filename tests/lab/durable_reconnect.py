#!/usr/bin/python3
"""Lab helper: a client whose durable handle does not survive a server
restart. In the "open" step it opens a document with a durable handle (an
SMB 3 DH2Q create context and a batch oplock), writes to it and loses its
connection without closing anything, as a laptop whose network drops would;
the handle's FileId and CreateGuid go to STATE. The lab then restarts smbd,
which forgets its disconnected handles. In the "reconnect" step the client
comes back on a new connection and tries to reclaim the handle (a CREATE
with a DH2C context): the server answers STATUS_OBJECT_NAME_NOT_FOUND, and
the client falls back to a fresh open. Uses impacket (python3-impacket),
which can send any create context; Samba's own client library cannot ask
for durable handles.

    durable_reconnect.py open|reconnect SERVER SHARE FILE USER PASSWORD STATE
"""
import os
import struct
import sys

from impacket import smb3, smb3structs as s
from impacket.smbconnection import SMBConnection

step, server, share, name, user, password, state = sys.argv[1:8]


class Context:
    """One SMB2 create context (MS-SMB2 2.2.13.2): a 4-byte tag and its data."""

    def __init__(self, tag, data):
        self.tag, self.data = tag, data

    def getData(self):
        # Next, NameOffset, NameLength, Reserved, DataOffset, DataLength; the
        # name padded to 8 bytes, then the data.
        return struct.pack('<LHHHHL', 0, 16, 4, 0, 24, len(self.data)) + self.tag + b'\0' * 4 + self.data


def connect():
    conn = SMBConnection(server, server, preferredDialect=s.SMB2_DIALECT_30)
    # impacket encrypts every session it can; a plain one, like smbclient's.
    conn.getSMBServer()._Connection['SupportsEncryption'] = False
    conn.login(user, password)
    return conn, conn.getSMBServer(), conn.connectTree(share)


ACCESS = s.FILE_READ_DATA | s.FILE_WRITE_DATA | s.FILE_READ_ATTRIBUTES | s.FILE_WRITE_ATTRIBUTES | s.READ_CONTROL | s.SYNCHRONIZE
SHARE = s.FILE_SHARE_READ | s.FILE_SHARE_WRITE

conn, smb, tid = connect()
if step == 'open':
    create_guid = os.urandom(16)
    # DH2Q: Timeout 0 (the server's default), Flags 0 (not persistent), Reserved, CreateGuid.
    dh2q = Context(b'DH2Q', struct.pack('<LL8s16s', 0, 0, b'\0' * 8, create_guid))
    fid = smb.create(tid, name, ACCESS, SHARE, s.FILE_NON_DIRECTORY_FILE, s.FILE_OPEN_IF, s.FILE_ATTRIBUTE_NORMAL,
                     oplockLevel=s.SMB2_OPLOCK_LEVEL_BATCH, createContexts=[dh2q])
    smb.write(tid, fid, b'quarterly figures, draft 2\n', 0, 27)
    with open(state, 'wb') as f:
        f.write(fid + create_guid)
    print("durable open of", name, "held; dropping the connection", flush=True)
    # The connection drops: no CLOSE, no LOGOFF, the socket just goes.
    smb._NetBIOSSession.get_socket().close()
else:
    with open(state, 'rb') as f:
        blob = f.read()
    fid, create_guid = blob[:16], blob[16:32]
    # DH2C: the FileId of the lost open, its CreateGuid, Flags 0.
    dh2c = Context(b'DH2C', fid + create_guid + struct.pack('<L', 0))
    try:
        smb.create(tid, name, ACCESS, SHARE, s.FILE_NON_DIRECTORY_FILE, s.FILE_OPEN, s.FILE_ATTRIBUTE_NORMAL,
                   oplockLevel=s.SMB2_OPLOCK_LEVEL_BATCH, createContexts=[dh2c])
        print("durable handle reconnected (unexpected)", flush=True)
    except smb3.SessionError as e:
        print("durable reconnect refused: 0x%08x" % e.get_error_code(), flush=True)
    # The fallback: a fresh open (what was written through the lost handle is on disk or lost with it).
    fid = conn.openFile(tid, name)
    print("reopened; %d bytes" % len(conn.readFile(tid, fid)), flush=True)
    conn.closeFile(tid, fid)
    conn.disconnectTree(tid)
    conn.close()
