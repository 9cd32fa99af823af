#!/usr/bin/python3
"""Lab helper: a client that keeps using a session the server has torn down.
It logs on, connects a share, logs the session off (the server forgets the
session), then sends a TREE_CONNECT with the old SessionId on the same
connection, as a client would after the server dropped its session (restart,
Close-SmbSession, idle autodisconnect) without the client noticing: the
server answers STATUS_USER_SESSION_DELETED. The client then logs on again
and lists the share, as a client recovering from that would. Uses impacket
(python3-impacket), whose SMB3 layer can send a request with any SessionId;
Samba's own client library cannot be made to reuse a logged-off session.

    session_deleted.py SERVER SHARE USER PASSWORD
"""
import sys

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection

server, share, user, password = sys.argv[1:5]
conn = SMBConnection(server, server, preferredDialect=s.SMB2_DIALECT_30)
smb = conn.getSMBServer()  # the impacket.smb3.SMB3 object underneath
# impacket encrypts every session it can; a plain one, like smbclient's, so
# the capture shows the requests and the server's answers.
smb._Connection['SupportsEncryption'] = False
conn.login(user, password)
tid = conn.connectTree(share)
old_session = smb._Session['SessionID']
smb.logoff()  # the server drops the session; impacket zeroes its copy of the id

# Use the old session anyway: a TREE_CONNECT for the share, unsigned (the
# session's signing key is gone with the session).
path = '\\\\%s\\%s' % (server, share)
tc = s.SMB2TreeConnect()
tc['Buffer'] = path.encode('utf-16le')
tc['PathLength'] = len(path) * 2
packet = smb.SMB_PACKET()
packet['Command'] = s.SMB2_TREE_CONNECT
packet['Data'] = tc
smb._Session['SessionID'] = old_session
msg_id = smb.sendSMB(packet)
answer = smb.recvSMB(msg_id)
print("TREE_CONNECT with the logged-off session 0x%x answered 0x%08x" % (old_session, answer['Status']), flush=True)

# What a client does next: log on again (a new session) and carry on.
smb._Session['SessionID'] = 0
smb._Session['TreeConnectTable'] = {}
conn.login(user, password)
tid = conn.connectTree(share)
print("new session 0x%x, %d names in the share" % (smb._Session['SessionID'], len(conn.listPath(share, '*'))), flush=True)
conn.close()
