#!/usr/bin/python3
"""Lab helper: an open that stays unanswered while the same connection
carries on. Another client holds FILE with a batch oplock and never answers
the break (tests/lab/oplock_holder.py), so the server holds this client's
CREATE of FILE until its break timeout (about 35 s; Samba answers it at once
with an interim STATUS_PENDING). Meanwhile the client keeps working on the
same connection: every 3 s it asks for the attributes of OTHER (QUERY_INFO on
a handle it holds), which the server answers at once. Then it waits for the
open's final answer. Uses impacket (python3-impacket), which can send a
request and collect its answer later (sendSMB/recvSMB by message id).

    unanswered_open.py SERVER SHARE FILE OTHER USER PASSWORD
"""
import sys
import time

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection

server, share, name, other, user, password = sys.argv[1:7]
conn = SMBConnection(server, server, preferredDialect=s.SMB2_DIALECT_30)
smb = conn.getSMBServer()  # the impacket.smb3.SMB3 object underneath
# impacket encrypts every session it can; a plain one, like smbclient's.
smb._Connection['SupportsEncryption'] = False
conn.login(user, password)
tid = conn.connectTree(share)
other_fid = conn.openFile(tid, other)

# The open of FILE, sent without waiting for its answer.
create = s.SMB2Create()
create['RequestedOplockLevel'] = s.SMB2_OPLOCK_LEVEL_NONE
create['ImpersonationLevel'] = s.SMB2_IL_IMPERSONATION
create['DesiredAccess'] = s.FILE_READ_DATA | s.FILE_READ_ATTRIBUTES | s.SYNCHRONIZE
create['FileAttributes'] = 0
create['ShareAccess'] = s.FILE_SHARE_READ | s.FILE_SHARE_WRITE
create['CreateDisposition'] = s.FILE_OPEN
create['CreateOptions'] = s.FILE_NON_DIRECTORY_FILE
create['NameLength'] = len(name) * 2
create['Buffer'] = name.encode('utf-16le')
create['CreateContextsOffset'] = 0
create['CreateContextsLength'] = 0
packet = smb.SMB_PACKET()
packet['Command'] = s.SMB2_CREATE
packet['TreeID'] = tid
packet['Data'] = create
open_id = smb.sendSMB(packet)
start = time.monotonic()
print("open of", name, "sent (message id %d)" % open_id, flush=True)

# The connection carries on: QUERY_INFO of OTHER every 3 s for 12 s.
for i in range(1, 5):
    time.sleep(max(0.0, start + 3 * i - time.monotonic()))
    smb.queryInfo(tid, other_fid)
    print("QUERY_INFO of %s answered at %.1f s" % (other, time.monotonic() - start), flush=True)

answer = smb.recvSMB(open_id)  # recvSMB skips the interim STATUS_PENDING
print("open of %s answered 0x%08x after %.1f s" % (name, answer['Status'], time.monotonic() - start), flush=True)
if answer['Status'] == 0:
    close = s.SMB2Close()
    close['Flags'] = 0
    close['FileID'] = s.SMB2Create_Response(answer['Data'])['FileID'].getData()
    packet = smb.SMB_PACKET()
    packet['Command'] = s.SMB2_CLOSE
    packet['TreeID'] = tid
    packet['Data'] = close
    smb.recvSMB(smb.sendSMB(packet))
conn.closeFile(tid, other_fid)
conn.disconnectTree(tid)
conn.close()
